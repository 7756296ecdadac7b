//! `allot backup`: a data directory another server can start from, taken while this one runs —
//! the database as one consistent snapshot, and the files beside it that the database needs:
//! `ticket-key` (every ticket's QR code and magic link derive from it) and `admin-token`.
//!
//! The database is read through the store `--database` names (by default the one in the data
//! directory); the other files always come from the data directory.
//!
//! The copy is made in a hidden directory next to the target and renamed into place only once
//! it is complete and checked, so a failed backup leaves nothing that looks like one.

use crate::cli::BackupArgs;
use allot_server::ADMIN_TOKEN_FILE;
use allot_server::tickets::TICKET_KEY_FILE;
use allot_store::sqlite::DATABASE_FILE;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn run(args: BackupArgs) -> anyhow::Result<ExitCode> {
    let database = crate::cli::database_url(args.database.as_deref(), &args.data_dir)?;
    let to = &args.to;
    if to.exists() {
        bail!("{} already exists: give a new directory", to.display());
    }
    let Some(name) = to.file_name() else {
        bail!("{} is not a directory name", to.display());
    };
    let parent = match to.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        bail!("{} does not exist: create it first", parent.display());
    }
    // Opened before anything is written, so a missing or unsupported store leaves nothing behind.
    let store = allot_store::open_for_maintenance(&database)?;
    let partial = Partial::create(parent.join(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        std::process::id()
    )))?;
    // Named as a data directory names its database, so a server starts from the backup as is.
    let report = store.backup_to(&partial.path.join(DATABASE_FILE))?;
    let mut files = vec![DATABASE_FILE];
    for file in [TICKET_KEY_FILE, ADMIN_TOKEN_FILE] {
        let source = args.data_dir.join(file);
        if source.exists() {
            copy_private(&source, &partial.path.join(file))?;
            files.push(file);
        }
    }
    if !files.contains(&TICKET_KEY_FILE) {
        eprintln!(
            "warning: {} has no {TICKET_KEY_FILE}: if the server takes its key from \
             ALLOT_TICKET_KEY, keep that value with this backup — without it, the tickets issued so \
             far cannot be checked in after a restore",
            args.data_dir.display()
        );
    }
    partial.finish(to)?;
    // The data directory when the database is in it (as by default); else the database, and
    // the data directory too when files came from it.
    let source = match &args.database {
        None => args.data_dir.display().to_string(),
        Some(_) if files.len() > 1 => format!("{database} and {}", args.data_dir.display()),
        Some(_) => database.to_string(),
    };
    println!(
        "backed up {source} to {}: {} ({:.1} MiB, schema version {})",
        to.display(),
        files.join(", "),
        report.bytes as f64 / (1024.0 * 1024.0),
        report.schema_version
    );
    let restore_hint = if args.database.is_some() {
        " and no --database"
    } else {
        ""
    };
    println!(
        "to restore: stop the server and start it with --data-dir {}{restore_hint}",
        to.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Copies a secret file, readable by its owner only.
fn copy_private(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::copy(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    set_owner_only(to, 0o600)
}

#[cfg(unix)]
fn set_owner_only(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot restrict {}", path.display()))
}

#[cfg(not(unix))]
fn set_owner_only(_path: &Path, _mode: u32) -> anyhow::Result<()> {
    Ok(())
}

/// The hidden directory a backup is made in; removed unless [`Partial::finish`] moves it into
/// place.
struct Partial {
    path: PathBuf,
    done: bool,
}

impl Partial {
    fn create(path: PathBuf) -> anyhow::Result<Partial> {
        std::fs::create_dir(&path).with_context(|| format!("cannot create {}", path.display()))?;
        set_owner_only(&path, 0o700)?;
        Ok(Partial { path, done: false })
    }

    fn finish(mut self, to: &Path) -> anyhow::Result<()> {
        std::fs::rename(&self.path, to)
            .with_context(|| format!("cannot move the backup into {}", to.display()))?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
