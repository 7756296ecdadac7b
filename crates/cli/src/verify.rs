//! `allot verify`: recomputes counters from the ledger and live holds, prints mismatches.

use crate::cli::VerifyArgs;
use std::process::ExitCode;

pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let database = crate::cli::database_url(args.database.as_deref(), &args.data_dir)?;
    let report = allot_store::open_for_maintenance(&database)?.verify()?;
    println!(
        "checked {} pools, {} ledger entries, {} live holds",
        report.pools, report.ledger_entries, report.live_holds
    );
    if report.mismatches.is_empty() {
        println!("ok: every pool's counters match its ledger and its holds");
        return Ok(ExitCode::SUCCESS);
    }
    for mismatch in &report.mismatches {
        println!(
            "MISMATCH pool {}: {} stored {} but recomputed {}",
            mismatch.pool_id, mismatch.what, mismatch.stored, mismatch.recomputed
        );
    }
    println!("{} mismatches", report.mismatches.len());
    Ok(ExitCode::from(1))
}
