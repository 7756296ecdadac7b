//! The `allot` command. Parses, runs one subcommand, maps the result to an exit code.

use allot::cli::{Cli, Command};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => allot::serve::run(args),
        Command::Verify(args) => allot::verify::run(args),
        Command::Bench(args) => allot::bench::run(args),
        Command::Tickets(command) => allot::tickets::run_tickets(command),
        Command::Attendees(command) => allot::tickets::run_attendees(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("allot: {error:#}");
            ExitCode::from(1)
        }
    }
}
