//! allot's pure domain: every capacity rule lives here once, and the HTTP layer only turns the
//! refusals into answers.
//!
//! No I/O, no async, no SQL, no clock: callers pass `now` in as a value, so every
//! decision is deterministic and testable.
//!
//! - [`units`]: validated newtypes (`Quantity`, `Capacity`, `LimitPct`, `TtlSeconds`, `UnixMillis`)
//!   whose constructors refuse bad values, so the rest of the code cannot hold them.
//! - [`pool`]: one pool's settings and counters, its limit and its headroom.
//! - [`limits`]: limits as a client asks for them ([`PoolLimits::from_request`]: the defaults,
//!   soft never above hard), utilisation percentages, and whether a hold could be placed now.
//! - [`pools`]: a working set of pools with their ancestors; places holds, moves counters through
//!   a hold's lifecycle and adjusts capacity, asserting the invariants after every change.
//! - [`hold`]: a hold's lifecycle (held → confirmed / released / expired) as pure transitions.
//! - [`thresholds`]: which utilisation thresholds a change crossed and may alert on.
//! - [`totals`]: sums over a pool's children, capped by the pool itself.
//! - [`dates`]: dated sessions: calendar dates and the ids of a session's per-date instances.
//! - [`waitlist`]: waiting lists: queue order, priority classes, promotion when capacity frees,
//!   the priority a join asks for, waits estimated from the measured promotion rate, and the
//!   waiting list's defaults.
//! - [`quotas`]: a bulk quota adjustment: set every quota to a capacity or move it by a delta.
//! - [`jobs`]: how a bulk job walks its items: chunk sizes, the next chunk after a cursor, the
//!   last chunk, the announced total, the rate and the retry backoff.
//! - [`page`]: how many items one page of a list holds.
//! - [`audit`]: recomputing counters from the ledger and from live holds, for `allot verify`.

pub mod audit;
pub mod dates;
pub mod hold;
pub mod jobs;
pub mod limits;
pub mod page;
pub mod pool;
pub mod pools;
pub mod quotas;
pub mod thresholds;
pub mod totals;
pub mod units;
pub mod waitlist;

pub use dates::{DateError, SessionDate, SessionZone, UnknownZone};
pub use hold::{Hold, HoldStatus, LineEffect, TransitionError};
pub use limits::PoolLimits;
pub use pool::{AdjustRefusal, Pool, PoolId};
pub use pools::{HoldLine, Placement, PoolSet, Refusal, Warning};
pub use totals::{ChildFigures, Totals};
pub use units::{Capacity, LimitPct, Quantity, TtlSeconds, UnitError, UnixMillis};

/// Deepest pool hierarchy allowed: at most this many levels, counting the pool itself.
/// Every decision walks a pool's ancestor chain, so the chain must be short and bounded.
pub const MAX_POOL_DEPTH: usize = 8;

/// Most lines one hold may carry: a hold is one atomic decision over all of them.
pub const MAX_LINES_PER_HOLD: usize = 64;
