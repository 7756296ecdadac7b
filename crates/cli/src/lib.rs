//! The `allot` command-line tool: `serve` runs the server, `verify` audits a store (by default the
//! one in the data directory), `backup` copies it, `bench` drives a running server and checks it
//! oversold nothing.
//!
//! - `cli`: the clap definitions (flags, environment variables, help text).
//! - `serve`, `verify`, `backup`, `bench`, `tickets`: one module per subcommand (`tickets` also
//!   imports attendees and follows a generation job with a progress bar).
//! - `telemetry`: logging set-up.
//!
//! The integration tests (`tests/integration/`) start the real server on a random port with a
//! temporary data directory and speak HTTP to it, as users do.

pub mod backup;
pub mod bench;
pub mod cli;
pub mod serve;
pub mod simulate;
pub mod telemetry;
pub mod tickets;
pub mod verify;
