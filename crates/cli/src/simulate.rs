//! `allot simulate`: seeded runs of the decision engine against the in-memory store, each
//! checked after every batch; prints each run's figures and its speed.

use crate::cli::SimulateArgs;
use allot_sim::{Config, run as simulate};
use std::process::ExitCode;

pub fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let last = args.seed.checked_add(args.seeds - 1).ok_or_else(|| {
        anyhow::anyhow!(
            "--seed {} with --seeds {} runs past the largest seed",
            args.seed,
            args.seeds
        )
    })?;
    let (mut ops, mut seconds) = (0u64, 0f64);
    for seed in args.seed..=last {
        let config = Config {
            faults: !args.no_faults,
            full_check_every: args.full_check_every,
            ..Config::new(seed, args.ops)
        };
        match simulate(&config) {
            Ok(report) => {
                let elapsed = report.elapsed.as_secs_f64();
                println!(
                    "seed {seed}: {} ops in {} batches, {} holds placed ({} on tour dates), \
                     {} expired by sweeps, {} members, {} quota chunks, {} tickets ({} admitted), \
                     {} joined waiting lists ({} served), {} batches failed on purpose, {} crashes, history {:016x}; {:.0} ops/s",
                    report.ops,
                    report.batches,
                    report.holds_placed,
                    report.holds_on_dates,
                    report.holds_expired,
                    report.members,
                    report.quota_chunks,
                    report.tickets,
                    report.admitted,
                    report.joined,
                    report.served,
                    report.failed_batches,
                    report.crashes,
                    report.history,
                    report.ops as f64 / elapsed.max(f64::EPSILON),
                );
                ops += report.ops;
                seconds += elapsed;
            }
            Err(failure) => {
                eprintln!("{failure}");
                return Ok(ExitCode::from(1));
            }
        }
    }
    if args.seeds > 1 {
        println!(
            "{} seeds passed: {ops} ops in {seconds:.1} s, {:.0} ops/s",
            args.seeds,
            ops as f64 / seconds.max(f64::EPSILON)
        );
    }
    Ok(ExitCode::SUCCESS)
}
