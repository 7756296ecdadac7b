//! What starting the server needs before it serves: its error, and the secrets it keeps in the
//! data directory (the super-admin token; the tickets' key is `tickets`' own) in files only its
//! user may read.

use std::path::Path;

/// The file in the data directory that keeps a generated admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    // Not a `#[source]`: the message already carries the store's, and an error reporter that
    // also walks the chain would print it twice.
    #[error("cannot open the store: {0}")]
    Store(allot_store::StoreError),
    #[error("{0}")]
    Io(String),
}

impl From<allot_store::StoreError> for ServeError {
    fn from(error: allot_store::StoreError) -> Self {
        ServeError::Store(error)
    }
}

/// Finds the admin token: the configured one, else the one kept in the data directory, else a
/// new one written there with mode 0600 and printed once.
pub(crate) fn resolve_admin_token(
    configured: Option<&str>,
    data_dir: &Path,
) -> Result<String, ServeError> {
    if let Some(token) = configured {
        return Ok(token.to_owned());
    }
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_owned()),
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(ServeError::Io(format!(
                "cannot read {}: {error}",
                path.display()
            )));
        }
    }
    let token = crate::auth::generate_secret();
    write_private(&path, &token)?;
    eprintln!(
        "\nallot: generated a super-admin token (shown once; kept in {} with mode 0600):\n\n    {token}\n",
        path.display()
    );
    Ok(token)
}

pub(crate) fn write_private(path: &Path, contents: &str) -> Result<(), ServeError> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    // With the database elsewhere (`--database`), nothing else has made the data directory yet.
    // Made here, it is its owner's only, as the store makes it.
    if let Some(directory) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(directory)
            .map_err(|error| {
                ServeError::Io(format!("cannot create {}: {error}", directory.display()))
            })?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|error| ServeError::Io(format!("cannot create {}: {error}", path.display())))?;
    file.write_all(contents.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|error| ServeError::Io(format!("cannot write {}: {error}", path.display())))
}
