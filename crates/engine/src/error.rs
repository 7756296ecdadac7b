//! What can go wrong inside a batch that is not a refusal: the store failed (unavailable, or
//! another writer changed what this one expected), or stored data contradicts itself. A refused
//! command is a [`crate::command::Failure`], never one of these; one of these fails the whole
//! batch, and the store rolls it back.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The store is busy, locked, full or gone: retrying later may work.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// Stored data does not read back as allot wrote it, or contradicts itself.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The caller passed something the store cannot use.
    #[error("{0}")]
    InvalidInput(String),
    /// A change found its row not in the state it expected (`from`): another writer got there
    /// first. Retrying the batch decides again on what is there now.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Anything else the store reported.
    #[error("store error: {0}")]
    Other(String),
}

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Error::Corrupt(error.to_string())
    }
}
