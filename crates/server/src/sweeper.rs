//! The expiry sweeper. Correctness does not depend on it — every batch expires due holds before
//! deciding, and reads correct for them — but it writes expiries down promptly so that counters,
//! lists and the ledger show them.

use crate::state::AppState;
use allot_store::{Command, Envelope, Reply, Success, TenantId};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// One sweep: the writer expires every due hold. Returns how many expired.
pub async fn sweep_once(state: &AppState) -> Result<usize, crate::writer::WriteError> {
    let envelope = Envelope {
        tenant: TenantId(String::new()),
        actor: None,
        command: Command::SweepExpired,
        idempotency: None,
    };
    match state.writer.submit(envelope).await? {
        Reply::Outcome(Ok(Success::Swept { expired })) => Ok(expired),
        _ => Ok(0),
    }
}

/// Sweeps every `interval` until `shutdown` fires.
pub async fn run(state: AppState, interval: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
        }
        match sweep_once(&state).await {
            Ok(0) => {}
            Ok(expired) => tracing::debug!(expired, "swept expired holds"),
            Err(error) => tracing::warn!(%error, "sweep failed; retrying next interval"),
        }
    }
}
