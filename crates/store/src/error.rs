//! The store's errors, neutral of any driver. The server maps them to HTTP; it never sees a
//! driver's message, which stays in the logs.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database is busy, locked, full or gone: retrying later may work.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// Stored data does not read back as allot wrote it.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The caller passed something the store cannot use, such as a cursor it never gave out.
    #[error("{0}")]
    InvalidInput(String),
    /// A write found its row not in the state it expected: another writer got there first.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Anything else the driver reported.
    #[error("store error: {0}")]
    Other(String),
}

impl StoreError {
    /// What was stored cannot be what this store writes.
    pub fn corrupt(what: impl Into<String>) -> Self {
        StoreError::Corrupt(what.into())
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Conflict(_))
    }
}

/// The engine reports the store's own failures back in its neutral form; nothing is lost either way.
impl From<allot_engine::Error> for StoreError {
    fn from(error: allot_engine::Error) -> Self {
        use allot_engine::Error as E;
        match error {
            E::Unavailable(text) => StoreError::Unavailable(text),
            E::Corrupt(text) => StoreError::Corrupt(text),
            E::InvalidInput(text) => StoreError::InvalidInput(text),
            E::Conflict(text) => StoreError::Conflict(text),
            E::Other(text) => StoreError::Other(text),
        }
    }
}

impl From<StoreError> for allot_engine::Error {
    fn from(error: StoreError) -> Self {
        use allot_engine::Error as E;
        match error {
            StoreError::Unavailable(text) => E::Unavailable(text),
            StoreError::Corrupt(text) => E::Corrupt(text),
            StoreError::InvalidInput(text) => E::InvalidInput(text),
            StoreError::Conflict(text) => E::Conflict(text),
            StoreError::Other(text) => E::Other(text),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(error: serde_json::Error) -> Self {
        StoreError::Corrupt(error.to_string())
    }
}
