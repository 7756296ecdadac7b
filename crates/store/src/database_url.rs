//! Which database a server, `allot verify` or `allot backup` uses, written as a URL:
//! `sqlite://PATH` for the embedded store, `postgres://…` (or `postgresql://…`) for PostgreSQL.
//! Parsing only recognises the backend and keeps what it needs to connect; whether this build can
//! open that backend is decided by [`crate::open`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The forms a database URL may take, named in every refusal so the reader can fix theirs.
pub const ACCEPTED_FORMS: &str = "sqlite://PATH (a file, relative like sqlite://./allot-data/allot.db \
     or absolute like sqlite:///var/lib/allot/allot.db) or postgres://USER:PASSWORD@HOST:PORT/DATABASE";

/// A parsed database URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// The SQLite database file at this path; a relative path is taken from the working directory.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL, kept as written for the driver.
    Postgres(PostgresUrl),
}

/// A PostgreSQL URL. It may carry a password, so it shows (in `Display` and `Debug`) with the
/// password replaced by `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

impl PostgresUrl {
    /// The URL as written, password included: for the driver only, never for logs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_password(&self.0))
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

/// `scheme://user:secret@host/db` becomes `scheme://user:***@host/db`; a URL without a password
/// is unchanged.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    // The last `@` ends the user information: a password may itself contain `@` unescaped.
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_owned(),
    }
}

impl DatabaseUrl {
    /// The embedded database inside a data directory: what allot uses when no URL is given.
    pub fn sqlite_in_data_dir(data_dir: &Path) -> DatabaseUrl {
        DatabaseUrl::Sqlite(data_dir.join(crate::sqlite::DATABASE_FILE))
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => url.fmt(f),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Why a string is not a database URL. The messages quote no more of the input than the reader
/// needs to find the mistake, since a URL may carry a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("the database URL is empty: give {ACCEPTED_FORMS}")]
    Empty,
    #[error(
        "{input:?} is a path, not a database URL: write sqlite://{input} (accepted: {ACCEPTED_FORMS})"
    )]
    BarePath { input: String },
    #[error("the database URL's scheme {scheme:?} is not one allot knows: give {ACCEPTED_FORMS}")]
    UnknownScheme { scheme: String },
    #[error("the sqlite:// URL names no file: give {ACCEPTED_FORMS}")]
    SqliteWithoutPath,
}

/// Longest scheme quoted back in a refusal; past it the input is likely not a URL at all.
const MAX_QUOTED_SCHEME_CHARS: usize = 32;

impl FromStr for DatabaseUrl {
    type Err = DatabaseUrlError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        if input.trim().is_empty() {
            return Err(DatabaseUrlError::Empty);
        }
        let Some((scheme, rest)) = input.split_once("://") else {
            return Err(refuse_without_separator(input));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" if rest.is_empty() => Err(DatabaseUrlError::SqliteWithoutPath),
            "sqlite" => Ok(DatabaseUrl::Sqlite(PathBuf::from(rest))),
            "postgres" | "postgresql" => Ok(DatabaseUrl::Postgres(PostgresUrl(input.to_owned()))),
            _ => Err(DatabaseUrlError::UnknownScheme {
                scheme: quoted_scheme(scheme),
            }),
        }
    }
}

/// An input without `://`: a bare path (the likeliest mistake, so the refusal shows the fix), or
/// something like `sqlite:x.db` or `mysql:…` that has a scheme but not the URL's form.
fn refuse_without_separator(input: &str) -> DatabaseUrlError {
    match input.split_once(':') {
        // `sqlite:x.db`: the path is what follows the colon.
        Some((scheme, path)) if scheme.eq_ignore_ascii_case("sqlite") => {
            if path.is_empty() {
                DatabaseUrlError::SqliteWithoutPath
            } else {
                DatabaseUrlError::BarePath {
                    input: path.to_owned(),
                }
            }
        }
        Some((scheme, _)) if looks_like_scheme(scheme) => DatabaseUrlError::UnknownScheme {
            scheme: quoted_scheme(scheme),
        },
        _ => DatabaseUrlError::BarePath {
            input: input.to_owned(),
        },
    }
}

/// A URL scheme: a letter, then letters, digits, `+`, `-` or `.` (RFC 3986, section 3.1).
fn looks_like_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn quoted_scheme(scheme: &str) -> String {
    scheme.chars().take(MAX_QUOTED_SCHEME_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Result<DatabaseUrl, DatabaseUrlError> {
        input.parse()
    }

    #[test]
    fn sqlite_urls_name_a_relative_or_absolute_file() {
        assert_eq!(
            parse("sqlite://./allot-data/allot.db"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("./allot-data/allot.db")))
        );
        assert_eq!(
            parse("sqlite://data/allot.db"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("data/allot.db")))
        );
        assert_eq!(
            parse("sqlite:///var/lib/allot/allot.db"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from(
                "/var/lib/allot/allot.db"
            )))
        );
        assert_eq!(
            parse("SQLite:///tmp/a.db"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("/tmp/a.db")))
        );
        let absolute = parse("sqlite:///var/lib/allot/allot.db").expect("parses");
        assert_eq!(absolute.to_string(), "sqlite:///var/lib/allot/allot.db");
        assert_eq!(parse("sqlite://"), Err(DatabaseUrlError::SqliteWithoutPath));
    }

    #[test]
    fn the_data_dir_default_is_the_file_inside_it() {
        assert_eq!(
            DatabaseUrl::sqlite_in_data_dir(Path::new("./allot-data")),
            DatabaseUrl::Sqlite(PathBuf::from("./allot-data/allot.db"))
        );
    }

    #[test]
    fn postgres_urls_are_recognised_and_shown_without_their_password() {
        for input in [
            "postgres://allot:s3cret@db.internal:5432/allot",
            "postgresql://allot:s3cret@db.internal/allot?sslmode=require",
        ] {
            let url = parse(input).expect("a PostgreSQL URL parses");
            let DatabaseUrl::Postgres(postgres) = &url else {
                panic!("{input} is not PostgreSQL: {url:?}");
            };
            assert_eq!(postgres.expose(), input);
            assert!(!url.to_string().contains("s3cret"), "{url}");
            assert!(!format!("{url:?}").contains("s3cret"), "{url:?}");
            assert!(url.to_string().contains("allot:***@db.internal"), "{url}");
        }
        let without_password = parse("postgres://db.internal/allot").expect("parses");
        assert_eq!(without_password.to_string(), "postgres://db.internal/allot");
        assert_eq!(
            redact_password("postgres://u:p@ss@host/db"),
            "postgres://u:***@host/db"
        );
    }

    #[test]
    fn a_bare_path_is_refused_with_the_url_to_write_instead() {
        for (input, path) in [
            ("./allot-data/allot.db", "./allot-data/allot.db"),
            ("/var/lib/allot/allot.db", "/var/lib/allot/allot.db"),
            ("allot.db", "allot.db"),
            ("sqlite:allot.db", "allot.db"),
            ("./data:old/allot.db", "./data:old/allot.db"),
        ] {
            let refused = parse(input).expect_err("a path is not a URL");
            assert_eq!(
                refused,
                DatabaseUrlError::BarePath {
                    input: path.to_owned()
                }
            );
            let message = refused.to_string();
            assert!(
                message.contains(&format!("write sqlite://{path}")),
                "{message}"
            );
            assert!(message.contains("postgres://"), "{message}");
        }
    }

    #[test]
    fn unknown_schemes_and_garbage_are_refused_naming_the_accepted_forms() {
        for (input, scheme) in [
            ("mysql://root:pw@localhost/allot", "mysql"),
            ("redis:localhost", "redis"),
            ("http://example.com", "http"),
            ("::://", "::"),
            ("💥://x", "💥"),
        ] {
            let refused = parse(input).expect_err("refused");
            assert_eq!(
                refused,
                DatabaseUrlError::UnknownScheme {
                    scheme: scheme.to_owned()
                },
                "{input}"
            );
            let message = refused.to_string();
            assert!(message.contains("sqlite://PATH"), "{message}");
            assert!(
                !message.contains("pw@"),
                "a refusal never echoes a password: {message}"
            );
        }
        let long = format!("{}://x", "a".repeat(500));
        let message = parse(&long).expect_err("refused").to_string();
        assert!(message.len() < 500, "{message}");
        assert!(matches!(
            parse("not a url at all"),
            Err(DatabaseUrlError::BarePath { .. })
        ));
    }

    #[test]
    fn an_empty_url_is_refused() {
        for input in ["", "   ", "\n"] {
            let refused = parse(input).expect_err("refused");
            assert_eq!(refused, DatabaseUrlError::Empty);
            assert!(refused.to_string().contains("sqlite://"), "{refused}");
        }
    }
}
