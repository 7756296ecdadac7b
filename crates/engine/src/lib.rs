//! allot's decision engine: the batch writer's rules, without a database.
//!
//! - [`model`]: the neutral records every store loads and every answer shows.
//! - [`records`]: what a store loads for a decision — a pool, a hold, a waiting-list entry —
//!   with the rules that read them.
//! - [`rules`]: the writer's decisions that need no store (idempotency, pool limits, units,
//!   offers, routing, job claims and progress, members' pools, quota changes, ticket outcomes),
//!   one copy each.
//! - [`command`]: the mutations a batch carries, and what each one answers.
//! - [`jobs`], [`tickets`]: the records and commands of background jobs and of attendees,
//!   tickets and check-ins.
//! - [`working`]: the working set of a batch — each tenant's pools, loaded through a port — and
//!   the rules of a pool's use.
//! - [`port`]: what the engine reads from a store during a batch, and [`change`]: what it
//!   hands the store to persist — new rows, transitions from → to, ledger entries.
//! - [`apply`]: the commands decided through a port: holds, pools, keys, idempotency, plans
//!   and member quotas, bulk quota adjustments, jobs, tickets, waiting lists, alerts and the
//!   outbox.
//! - [`batch`]: one batch in arrival order — due holds expire first, each command inside its
//!   idempotency key, freed capacity offered to those waiting, alerts, and last each changed
//!   pool's counters, written once per batch.
//! - [`views`]: a pool as every store's reads show it as of a moment (due holds counted as
//!   expired, availability through its ancestors).
//! - [`error`]: what fails a batch (as opposed to a refusal, which is an answer).

pub mod apply;
pub mod batch;
pub mod change;
pub mod command;
pub mod error;
pub mod jobs;
pub mod model;
pub mod port;
pub mod records;
pub mod rules;
pub mod tickets;
pub mod views;
pub mod working;

pub use error::Error;
