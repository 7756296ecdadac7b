//! Integration tests: the real server on a random loopback port with a temporary data directory,
//! driven over HTTP. One test binary, so linking happens once.

mod alerts;
mod api_auth;
mod api_holds;
mod api_input;
mod api_pools;
mod backup;
mod concurrency;
mod contract;
mod database_url;
mod durability;
mod helpers;
mod operations;
mod plans;
mod postgres;
mod process;
mod smoke;
mod tickets;
mod utilization;
mod waitlist;
mod waitlist_concurrency;
