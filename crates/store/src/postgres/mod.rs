//! The PostgreSQL backend, for several allot nodes over one database: its schema, the batch
//! writer, and the read side.
//!
//! - `schema`: migrations, applied once however many nodes start together.
//! - `rows`: the column lists the writer and the reads select, and rows → records.
//! - `batch`: the [`crate::BatchWriter`]: one transaction per batch, decided by the engine
//!   over a port that reads in that transaction and writes each change as it is decided.
//! - `reads`, `ticket_reads`: the [`crate::Store`], [`crate::TicketStore`] and
//!   [`crate::JobStore`] reads on a small pool of connections ([`PostgresStore`]).
//! - `observe`: everything the store shows, in one value and one snapshot
//!   ([`PostgresStore::observe`]).
//! - `verify`: `allot verify` ([`PostgresMaintenance`]), the same audit as SQLite's.
//!
//! The driver is the synchronous `postgres` client: the writer owns its thread and its one
//! connection, and the server calls reads from its blocking threads, so nothing here needs an
//! async runtime of its own.

mod batch;
mod observe;
mod reads;
mod rows;
pub mod schema;
mod ticket_reads;
mod verify;

pub use batch::PostgresWriter;
pub use verify::PostgresMaintenance;

use crate::StoreError;
use crate::database_url::PostgresUrl;
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, GenericClient, NoTls, Row, Statement};
use std::collections::HashMap;
use std::sync::Mutex;

/// Connects to the database `url` names, migrates it, and returns the read side and the writer.
pub fn open(url: &PostgresUrl) -> Result<(PostgresStore, PostgresWriter), StoreError> {
    let mut client = connect(url)?;
    schema::migrate(&mut client)?;
    let store = PostgresStore {
        url: url.clone(),
        idle: Mutex::new(Vec::new()),
    };
    // The store answers at once, or opening fails now rather than at the first read.
    store.read(|sql| sql.query_one("SELECT 1", &[]).map(drop))?;
    Ok((store, PostgresWriter::new(url.clone(), client)))
}

/// One connection. TLS is not offered yet: the URL's `sslmode` must allow a plain connection.
fn connect(url: &PostgresUrl) -> Result<Client, StoreError> {
    Client::connect(url.expose(), NoTls).map_err(|error| {
        // The driver's message may quote the URL: show the redacted one instead.
        StoreError::Unavailable(format!("cannot connect to {url}: {}", cause(&error)))
    })
}

/// The read side: the [`crate::Store`] traits (`reads`, `ticket_reads`) and the whole-store
/// observation, on connections of its own, never the writer's.
pub struct PostgresStore {
    url: PostgresUrl,
    /// Connections not in use, each with its prepared statements. A read takes one (or opens
    /// one when none is idle) and gives it back if it still works.
    idle: Mutex<Vec<Reader>>,
}

/// Each connection owns a small runtime of its own (the synchronous client drives an async
/// one), and a runtime must not be dropped on an async worker — where the last handle to the
/// store is usually dropped. The idle connections are closed on a thread of their own.
impl Drop for PostgresStore {
    fn drop(&mut self) {
        let idle = std::mem::take(
            self.idle
                .get_mut()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        if idle.is_empty() {
            return;
        }
        if let Ok(closing) = std::thread::Builder::new()
            .name("allot-pg-close".into())
            .spawn(move || drop(idle))
        {
            let _ = closing.join();
        }
    }
}

/// Most idle read connections kept open; more are opened under load and closed after use.
const MAX_IDLE_READERS: usize = 16;

struct Reader {
    client: Client,
    statements: Statements,
}

impl PostgresStore {
    fn take_reader(&self) -> Result<Reader, StoreError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        match idle {
            Some(reader) => Ok(reader),
            None => Ok(Reader {
                client: connect(&self.url)?,
                statements: Statements::default(),
            }),
        }
    }

    fn give_back(&self, reader: Reader) {
        if reader.client.is_closed() {
            return;
        }
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(reader);
        }
    }

    /// Runs `read` on a connection of the pool. Blocking: the server calls reads from its
    /// blocking threads, never from the async runtime's.
    fn read<T>(
        &self,
        read: impl FnOnce(&mut Sql<'_, Client>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut reader = self.take_reader()?;
        let result = read(&mut Sql {
            client: &mut reader.client,
            statements: &mut reader.statements,
        });
        self.give_back(reader);
        result
    }
}

/// Prepared statements of one connection, by their text: each is parsed by the server once.
/// Statements outlive transactions (a rolled-back batch keeps them) but not their connection.
#[derive(Default)]
pub(super) struct Statements(HashMap<String, Statement>);

/// A connection or a transaction with its connection's prepared statements: where every
/// statement of this backend runs.
pub(super) struct Sql<'a, C> {
    pub client: &'a mut C,
    pub statements: &'a mut Statements,
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl<C: GenericClient> Sql<'_, C> {
    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.statements.0.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.0.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    pub fn query(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.client.query(&statement, params)?)
    }

    pub fn query_opt(&mut self, sql: &str, params: Params<'_>) -> Result<Option<Row>, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.client.query_opt(&statement, params)?)
    }

    pub fn query_one(&mut self, sql: &str, params: Params<'_>) -> Result<Row, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.client.query_one(&statement, params)?)
    }

    /// How many rows the statement changed.
    pub fn execute(&mut self, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.client.execute(&statement, params)?)
    }
}

/// The driver's error with its server-side detail, which `Display` alone leaves out.
fn cause(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => error.to_string(),
    }
}

/// PostgreSQL's errors in the store's neutral terms: the driver stays inside this module.
impl From<postgres::Error> for StoreError {
    fn from(error: postgres::Error) -> Self {
        if error.is_closed() {
            return StoreError::Unavailable(cause(&error));
        }
        let Some(code) = error.code() else {
            // No SQLSTATE: the connection failed (an I/O error underneath), or this side did
            // (a value that does not fit its column's type: a bug, not an outage).
            let io = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<std::io::Error>());
            return if io {
                StoreError::Unavailable(cause(&error))
            } else {
                StoreError::Other(cause(&error))
            };
        };
        let text = cause(&error);
        // Another writer got there first: retrying the batch may well succeed.
        if *code == SqlState::UNIQUE_VIOLATION
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::LOCK_NOT_AVAILABLE
        {
            return StoreError::Conflict(text);
        }
        // The server is starting, stopping, overloaded or gone.
        if code.code().starts_with("08")
            || code.code().starts_with("53")
            || code.code().starts_with("57P")
        {
            return StoreError::Unavailable(text);
        }
        StoreError::Other(text)
    }
}
