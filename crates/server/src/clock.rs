//! The time the server decides with. Production reads the system clock; tests set it by hand so
//! that expiry is tested without sleeping.

use allot_core::UnixMillis;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Clone, Debug)]
pub enum Clock {
    System,
    /// A clock that only moves when told to.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    pub fn manual(start: UnixMillis) -> Self {
        Clock::Manual(Arc::new(AtomicI64::new(start.0)))
    }

    pub fn now(&self) -> UnixMillis {
        match self {
            Clock::System => {
                let since_epoch = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                UnixMillis(since_epoch.as_millis() as i64)
            }
            Clock::Manual(millis) => UnixMillis(millis.load(Ordering::SeqCst)),
        }
    }

    /// Moves a manual clock forward; a system clock ignores it.
    pub fn advance_ms(&self, millis: i64) {
        if let Clock::Manual(now) = self {
            now.fetch_add(millis, Ordering::SeqCst);
        }
    }
}
