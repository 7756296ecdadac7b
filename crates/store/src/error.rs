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
    /// Anything else the driver reported.
    #[error("store error: {0}")]
    Other(String),
}

impl StoreError {
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match error.sqlite_error_code() {
            Some(
                ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::DiskFull
                | ErrorCode::CannotOpen
                | ErrorCode::SystemIoFailure,
            ) => StoreError::Unavailable(error.to_string()),
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                StoreError::Corrupt(error.to_string())
            }
            _ => match error {
                rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::InvalidColumnType(..) => StoreError::Corrupt(error.to_string()),
                other => StoreError::Other(other.to_string()),
            },
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(error: serde_json::Error) -> Self {
        StoreError::Corrupt(error.to_string())
    }
}
