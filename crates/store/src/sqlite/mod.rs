//! The embedded SQLite backend: one database file (by default `allot.db` in the data directory),
//! one writer connection (owned by [`SqliteWriter`]) and a small pool of read connections (owned
//! by [`SqliteStore`]).
//!
//! - `schema`: migrations.
//! - `rows`: mapping rows to records, shared by reads and the writer.
//! - `reads`: the [`crate::Store`] implementation.
//! - `batch`: the [`crate::BatchWriter`] implementation: one transaction per batch.
//! - `verify`: recomputing counters from the ledger and from live holds.
//! - `backup`: a checked, consistent copy while a server writes.
//! - [`SqliteMaintenance`]: both of those behind [`crate::Maintenance`].

mod backup;
mod batch;
mod ledger_runs;
mod observe;
mod outbox;
mod plans;
mod reads;
mod rows;
pub mod schema;
mod ticket_reads;
mod verify;
mod waitlist;

pub use crate::maintenance::{BackupReport, Mismatch, VerifyReport};
pub use backup::{backup, backup_file};
pub use batch::SqliteWriter;
pub use verify::{verify, verify_file};

use crate::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};

/// The database file inside a data directory.
pub const DATABASE_FILE: &str = "allot.db";

/// Most idle read connections kept open; more are opened under load and closed after use.
const MAX_IDLE_READERS: usize = 16;

/// Reads, through a small pool of connections.
pub struct SqliteStore {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// The connection that checkpoints the WAL, off the writer's thread.
    checkpointer: Mutex<Option<Connection>>,
    /// The earliest deadline of any held hold, as of the writer's last commit (`i64::MAX`: none;
    /// `i64::MIN`: not known yet). Reads before it skip looking for due holds. See
    /// `SqliteWriter::apply` for why a reader never misses a due hold by trusting it.
    next_due: Arc<AtomicI64>,
}

/// WAL pages after which the writer checkpoints by itself. The maintenance task normally keeps
/// the WAL far below this; it is a backstop should that task stop.
const WRITER_AUTOCHECKPOINT_PAGES: i64 = 50_000;

/// Opens (creating if needed) the database in `data_dir`, migrates it, and returns the read side
/// and the single writer.
pub fn open(data_dir: &Path) -> Result<(SqliteStore, SqliteWriter), StoreError> {
    open_file(&data_dir.join(DATABASE_FILE))
}

/// Opens (creating it and its directory if needed) the database file at `path`, migrates it,
/// and returns the read side and the single writer.
pub fn open_file(path: &Path) -> Result<(SqliteStore, SqliteWriter), StoreError> {
    refuse_directory(path)?;
    create_private(path)?;
    let path = path.to_path_buf();
    let mut writer = open_connection(&path, Access::Write)?;
    schema::migrate(&mut writer)?;
    writer.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES)?;
    // Once a checkpoint lets the WAL restart, truncate its file to 64 MiB rather than keep the
    // high-water mark of a rush on disk forever.
    writer.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    let next_due = Arc::new(AtomicI64::new(i64::MIN));
    let store = SqliteStore {
        path,
        idle: Mutex::new(Vec::new()),
        checkpointer: Mutex::new(None),
        next_due: next_due.clone(),
    };
    Ok((store, SqliteWriter::new(writer, next_due)))
}

/// The database holds attendees' names and e-mail addresses, so only its owner may read it: a
/// directory made for it is 0700 and the file 0600. SQLite gives the `-wal` and `-shm` files it
/// makes the database file's mode, so they are 0600 too. A file from an older release (0644) is
/// tightened, with its `-wal` and `-shm`.
fn create_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(directory) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        // Only the directories made here get the mode: an existing one is the operator's.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(directory)
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", directory.display()))
            })?;
    }
    // An empty file is an empty SQLite database; made here, it is never readable by others.
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", path.display())))?;
    for file in [
        path.to_path_buf(),
        sidecar(path, "-wal"),
        sidecar(path, "-shm"),
    ] {
        let Ok(metadata) = std::fs::metadata(&file) else {
            continue;
        };
        if metadata.permissions().mode() & 0o077 != 0
            && let Err(error) =
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
        {
            tracing::warn!(file = %file.display(), %error, "cannot make the database file private");
        }
    }
    Ok(())
}

/// SQLite's file beside the database: `allot.db-wal`, `allot.db-shm`.
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A directory given where a database file belongs would surface as SQLite's "unable to open
/// database file": say what is wrong instead.
fn refuse_directory(path: &Path) -> Result<(), StoreError> {
    if path.is_dir() {
        return Err(StoreError::InvalidInput(format!(
            "{} is a directory: name the database file, such as {}",
            path.display(),
            path.join(DATABASE_FILE).display()
        )));
    }
    Ok(())
}

/// An audit or a backup reads a database that exists; opening one would create an empty file.
fn require_database(path: &Path) -> Result<(), StoreError> {
    refuse_directory(path)?;
    if !path.exists() {
        return Err(StoreError::InvalidInput(format!(
            "no allot database at {}",
            path.display()
        )));
    }
    Ok(())
}

/// `allot verify` and `allot backup` on one SQLite file. Each call opens its own connection, so
/// holding one of these costs nothing while a server runs.
pub struct SqliteMaintenance {
    path: PathBuf,
}

impl SqliteMaintenance {
    /// The database file at `path`, which must exist.
    pub fn open(path: &Path) -> Result<SqliteMaintenance, StoreError> {
        require_database(path)?;
        Ok(SqliteMaintenance {
            path: path.to_path_buf(),
        })
    }
}

impl crate::Maintenance for SqliteMaintenance {
    fn verify(&self) -> Result<VerifyReport, StoreError> {
        verify_file(&self.path)
    }

    fn backup_to(&self, dest: &Path) -> Result<BackupReport, StoreError> {
        backup_file(&self.path, dest)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

fn open_connection(path: &Path, access: Access) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    // WAL: readers never block the writer and the writer never blocks readers.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: in WAL mode every commit is fsynced before the writer answers, so an answered
    // request survives a power loss, not only a killed process (NORMAL would survive only that).
    conn.pragma_update(None, "synchronous", "FULL")?;
    // A reader that meets a checkpoint waits instead of failing at once.
    conn.pragma_update(None, "busy_timeout", 5_000)?;
    // Negative: KiB. The writer keeps 64 MiB of hot pool and index pages; each reader 16 MiB,
    // which bounds memory however many readers a burst opens (see MAX_IDLE_READERS).
    let cache_kib = if access == Access::Write {
        65_536
    } else {
        16_384
    };
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    if access == Access::Read {
        // A read connection that tried to write would be a bug: make SQLite refuse it.
        conn.pragma_update(None, "query_only", true)?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

impl SqliteStore {
    /// Copies committed WAL frames into the database file (PASSIVE: never waits for, nor blocks,
    /// the writer or readers). Done here so the writer's commits do not pay for it.
    pub(crate) fn checkpoint(&self) -> Result<(), StoreError> {
        let mut slot = self
            .checkpointer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if slot.is_none() {
            *slot = Some(open_connection(&self.path, Access::Write)?);
        }
        let conn = slot.as_ref().expect("opened above");
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Runs `f` on a pooled read connection.
    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        let conn = match conn {
            Some(conn) => conn,
            None => open_connection(&self.path, Access::Read)?,
        };
        // One read transaction per call: every query in it sees one snapshot, and SQLite takes
        // its file locks once instead of once per statement (measured: a third of a read's cost).
        let result = conn
            .prepare_cached("BEGIN")
            .and_then(|mut begin| begin.execute([]))
            .map_err(StoreError::from)
            .and_then(|_| f(&conn));
        if let Err(error) = conn
            .prepare_cached("COMMIT")
            .and_then(|mut commit| commit.execute([]))
        {
            // A read transaction that cannot end leaves the connection unusable: drop it.
            tracing::warn!(%error, "ending a read transaction failed; closing its connection");
            return result;
        }
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

/// SQLite's errors in the store's neutral terms: the driver stays inside this module.
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
