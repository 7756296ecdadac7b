//! The PostgreSQL backend, for several allot nodes over one database. So far it has its
//! schema, the batch writer and a whole-store observation; the read side (the [`crate::Store`]
//! traits) is still to come, so [`crate::open`] does not offer it yet.
//!
//! - `schema`: migrations, applied once however many nodes start together.
//! - `rows`: the column lists the writer and the observation select, and rows → records.
//! - `batch`: the [`crate::BatchWriter`]: one transaction per batch, decided by the engine
//!   over a port that reads in that transaction and writes each change as it is decided.
//! - `observe`: everything the store shows, in one value ([`PostgresStore::observe`]).
//!
//! The driver is the synchronous `postgres` client: the writer owns its thread and its one
//! connection, so nothing here needs an async runtime of its own.

mod batch;
mod observe;
mod rows;
pub mod schema;

pub use batch::PostgresWriter;

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
        client: Mutex::new(connect(url)?),
    };
    Ok((store, PostgresWriter::new(url.clone(), client)))
}

/// One connection. TLS is not offered yet: the URL's `sslmode` must allow a plain connection.
fn connect(url: &PostgresUrl) -> Result<Client, StoreError> {
    Client::connect(url.expose(), NoTls).map_err(|error| {
        // The driver's message may quote the URL: show the redacted one instead.
        StoreError::Unavailable(format!("cannot connect to {url}: {}", cause(&error)))
    })
}

/// The read side. For now it only observes the whole store, for the conformance suite.
pub struct PostgresStore {
    /// One connection, one reader at a time: enough for observing; the read side proper
    /// will read through a pool.
    client: Mutex<Client>,
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

/// Stored text that does not parse back (what SQLite's store calls corrupt).
fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}
