//! Integration tests: the real server on a random loopback port with a temporary data directory,
//! driven over HTTP. One test binary, so linking happens once.

mod helpers;
mod smoke;
