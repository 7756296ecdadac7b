//! The writer's decisions that need no store: each takes what was loaded and answers what to
//! do. One copy each; the stores call them, and the tests below pin each case.
//!
//! - [`idempotency`]: whether a repeated key replays, is refused, or acts afresh.
//! - [`pools`]: a new pool's parent and limits, a patch's new limits, a session-wide change
//!   over its dates (all or none).
//! - [`holds`]: a line's unit, and which line a refusal names.
//! - [`waitlist`]: how a settled offer leaves its entry, and a new entry's priority.
//! - [`routing`]: which webhooks and channels an event or an alert goes to.
//! - [`jobs`]: whether a chunk may apply to its job, and how a job moves as chunks land.
//! - [`plans`]: a member's pool made from its plan, a plan's changed terms.
//! - [`quotas`]: a bulk adjustment's set-or-add.
//! - [`tickets`]: issuing, re-issuing, voiding and checking in.

pub mod holds;
pub mod idempotency;
pub mod jobs;
pub mod plans;
pub mod pools;
pub mod quotas;
pub mod routing;
pub mod tickets;
pub mod waitlist;
