//! The `allot` command-line tool: `serve` runs the server, `verify` audits a store (by default the
//! one in the data directory), `backup` copies it, `bench` drives a running server and checks it
//! oversold nothing.
//!
//! - `cli`: the clap definitions (flags, environment variables, help text).
//! - `serve`, `verify`, `backup`: one module per subcommand.
//! - `telemetry`: logging set-up.

pub mod backup;
pub mod bench;
pub mod cli;
pub mod serve;
pub mod simulate;
pub mod telemetry;
pub mod tickets;
pub mod verify;
