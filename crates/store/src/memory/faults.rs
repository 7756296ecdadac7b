//! Failures a simulation injects into the in-memory store, to see that a failed batch leaves
//! nothing behind.

use allot_engine::Error;

#[derive(Debug, Default)]
pub struct Faults {
    /// The persist that fails, counted from now (0: the next one); `None`: none fails.
    failing_persist: Option<usize>,
}

impl Faults {
    /// Makes the persist `after` changes from now fail, failing its batch.
    pub fn fail_persist(&mut self, after: usize) {
        self.failing_persist = Some(after);
    }

    /// Whether a fault is still waiting to happen.
    pub fn pending(&self) -> bool {
        self.failing_persist.is_some()
    }

    /// Clears a fault the batch never reached.
    pub fn clear(&mut self) {
        self.failing_persist = None;
    }

    /// Called before each persist.
    pub(super) fn before_persist(&mut self) -> Result<(), Error> {
        match self.failing_persist {
            Some(0) => {
                self.failing_persist = None;
                Err(Error::Unavailable(
                    "an injected fault: the persist failed".into(),
                ))
            }
            Some(left) => {
                self.failing_persist = Some(left - 1);
                Ok(())
            }
            None => Ok(()),
        }
    }
}
