//! `allot backup`: a consistent copy of the database while the server runs. `VACUUM INTO` reads
//! one snapshot (a reader in WAL mode: the writer never waits for it) and writes it compacted to a
//! new file, which is then checked before it is called a backup.

use super::{Access, DATABASE_FILE, open_connection};
use crate::StoreError;
use crate::maintenance::BackupReport;
use std::path::Path;

/// Copies the database in `data_dir` to `to` (a file that must not exist yet) and checks the copy
/// with `PRAGMA quick_check`.
pub fn backup(data_dir: &Path, to: &Path) -> Result<BackupReport, StoreError> {
    backup_file(&data_dir.join(DATABASE_FILE), to)
}

/// Copies the database file at `path` (which must exist) to `to`, as [`backup`] does.
pub fn backup_file(path: &Path, to: &Path) -> Result<BackupReport, StoreError> {
    super::require_database(path)?;
    if to.exists() {
        return Err(StoreError::InvalidInput(format!(
            "{} already exists: a backup never overwrites",
            to.display()
        )));
    }
    let target = to
        .to_str()
        .ok_or_else(|| StoreError::InvalidInput(format!("{} is not a UTF-8 path", to.display())))?;
    // Not a read connection: those are `query_only`, which refuses VACUUM INTO even though it
    // writes only the new file. It reads one snapshot and never takes the write lock.
    let conn = open_connection(path, Access::Write)?;
    // Rebuilding the copy's indexes sorts: on disk, not in memory, for a large database.
    conn.pragma_update(None, "temp_store", "FILE")?;
    conn.execute("VACUUM INTO ?1", [target])?;
    drop(conn);
    // SQLite makes the copy 0644; it holds what the database holds, so it is the owner's only.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
            StoreError::Unavailable(format!("cannot restrict {}: {e}", to.display()))
        })?;
    }

    let copy = rusqlite::Connection::open_with_flags(
        to,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let check: String = copy.query_row("PRAGMA quick_check", [], |row| row.get(0))?;
    if check != "ok" {
        return Err(StoreError::Corrupt(format!(
            "the copy at {} failed its check: {check}",
            to.display()
        )));
    }
    let schema_version = copy.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    drop(copy);
    let bytes = std::fs::metadata(to)
        .map_err(|e| StoreError::Unavailable(format!("cannot read {}: {e}", to.display())))?
        .len();
    Ok(BackupReport {
        bytes,
        schema_version,
    })
}
