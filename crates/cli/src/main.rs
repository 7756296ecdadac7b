//! The `allot` command. Parses, runs one subcommand, maps the result to an exit code.

use allot::cli::{Cli, Command};
use clap::Parser;
use std::process::ExitCode;

// mimalloc, not glibc's malloc: the writer and the HTTP path allocate and free many small
// strings per request, where glibc's free-list upkeep (malloc_consolidate) showed in profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => allot::serve::run(args),
        Command::Verify(args) => allot::verify::run(args),
        Command::Backup(args) => allot::backup::run(args),
        Command::Bench(args) => allot::bench::run(args),
        Command::Tickets(command) => allot::tickets::run_tickets(command),
        Command::Attendees(command) => allot::tickets::run_attendees(command),
        Command::Simulate(args) => allot::simulate::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("allot: {error:#}");
            ExitCode::from(1)
        }
    }
}
