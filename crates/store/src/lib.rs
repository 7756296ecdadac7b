//! allot's persistence. The server talks to a [`Store`] for reads and to one [`BatchWriter`] for
//! every mutation; neither trait mentions a driver, so a PostgreSQL backend can sit beside SQLite.
//!
//! - [`model`]: the neutral records (tenants, keys, pools, holds, ledger entries) and pages.
//! - [`command`]: the mutations a writer applies, and what each one answers.
//! - [`ids`]: how a store names what it creates (time-ordered, or counted for simulations).
//! - [`error`]: the small error enum every backend maps its driver's errors into.
//! - [`memory`]: the in-memory store, decided by the same engine: the reference other stores
//!   are compared with, and the simulation's store.
//! - [`observe`]: all a store shows in one value, to compare two stores.
//! - [`database_url`]: which backend and where, written as a URL; [`open`] and
//!   [`open_for_maintenance`] turn one into a store.
//! - [`maintenance`]: the audit and the backup an operator runs beside a server.
//! - [`sqlite`]: the embedded default backend: schema and migrations, reads, the batch writer,
//!   and the ledger audit behind `allot verify`.
//! - [`postgres`]: the backend for several nodes over one database: schema and migrations, the
//!   batch writer and the reads.
//!
//! A writer applies a whole batch in one transaction: it expires due holds, loads the pools the
//! batch touches, lets the core decide each command in arrival order, writes holds, counters,
//! ledger entries and idempotency records, and commits once.

pub use allot_engine::{command, model};
pub mod database_url;
pub mod error;
pub mod ids;
pub mod jobs;
pub mod maintenance;
pub mod memory;
pub mod observe;
pub mod postgres;
pub mod sqlite;
pub mod tickets;

pub use command::{
    BatchTally, Command, Envelope, Failure, Idempotency, Outcome, PriorityAsk, Reply,
    StoredResponse, Success,
};
pub use database_url::{DatabaseUrl, DatabaseUrlError};
pub use error::StoreError;
pub use jobs::JobStore;
pub use maintenance::{BackupReport, Maintenance, Mismatch, VerifyReport};
pub use model::*;
pub use tickets::TicketStore;

use allot_core::UnixMillis;
use allot_core::waitlist::PriorityClasses;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Deliveries not yet sent or given up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryBacklog {
    pub pending: u64,
    /// When the oldest pending delivery was made; `None` when none is pending.
    pub oldest_created_at: Option<UnixMillis>,
}

/// What opening a store for a server gives: the reads, shared by every handler, and the one
/// writer, moved onto the writer's thread.
pub struct OpenedStore {
    pub store: Arc<dyn Store>,
    pub writer: Box<dyn BatchWriter>,
}

/// Opens (creating and migrating it if needed) the store `url` names.
pub fn open(url: &DatabaseUrl) -> Result<OpenedStore, StoreError> {
    match url {
        DatabaseUrl::Sqlite(path) => {
            let (store, writer) = sqlite::open_file(path)?;
            Ok(OpenedStore {
                store: Arc::new(store),
                writer: Box::new(writer),
            })
        }
        DatabaseUrl::Postgres(url) => {
            let (store, writer) = postgres::open(url)?;
            Ok(OpenedStore {
                store: Arc::new(store),
                writer: Box::new(writer),
            })
        }
    }
}

/// The operator's tools on the existing store `url` names; never creates one.
pub fn open_for_maintenance(url: &DatabaseUrl) -> Result<Box<dyn Maintenance>, StoreError> {
    match url {
        DatabaseUrl::Sqlite(path) => Ok(Box::new(sqlite::SqliteMaintenance::open(path)?)),
        DatabaseUrl::Postgres(url) => Ok(Box::new(postgres::PostgresMaintenance::open(url)?)),
    }
}

/// Reads. They never wait behind the writer.
pub trait Store: TicketStore + JobStore + Send + Sync + 'static {
    /// Answers when the database answers: the readiness probe.
    fn ping(&self) -> Result<(), StoreError>;

    /// Periodic housekeeping off the write path (SQLite: checkpointing the WAL). Blocking: call it
    /// from a blocking thread, every second or so.
    fn maintain(&self) -> Result<(), StoreError>;

    /// The key whose SHA-256 hash is `key_hash`, if it exists and is not revoked.
    fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError>;

    fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError>;

    /// A pool with its counters and availability as of `now`: holds past their deadline count
    /// as expired even when the sweeper has not run yet.
    fn get_pool(
        &self,
        tenant: &TenantId,
        id: &str,
        now: UnixMillis,
    ) -> Result<Option<PoolView>, StoreError>;

    fn list_pools(
        &self,
        tenant: &TenantId,
        parent_id: Option<&str>,
        page: PageRequest,
        now: UnixMillis,
    ) -> Result<Page<PoolView>, StoreError>;

    /// The pool itself and its direct children, for totals over an event's sections.
    /// What a new hold could get from a pool as of `now`: the hot read behind
    /// `GET /v1/pools/{id}/availability`, reading only what the answer needs.
    fn availability(
        &self,
        tenant: &TenantId,
        id: &str,
        now: UnixMillis,
    ) -> Result<Option<Availability>, StoreError>;

    fn pool_children(
        &self,
        tenant: &TenantId,
        id: &str,
        now: UnixMillis,
    ) -> Result<Option<(PoolView, Vec<PoolView>)>, StoreError>;

    /// A hold with its status as of `now`.
    fn get_hold(
        &self,
        tenant: &TenantId,
        id: &str,
        now: UnixMillis,
    ) -> Result<Option<HoldView>, StoreError>;

    fn list_holds(
        &self,
        tenant: &TenantId,
        filter: &HoldFilter,
        page: PageRequest,
        now: UnixMillis,
    ) -> Result<Page<HoldView>, StoreError>;

    fn list_ledger(
        &self,
        tenant: &TenantId,
        pool_id: &str,
        page: PageRequest,
    ) -> Result<Option<Page<LedgerEntry>>, StoreError>;

    /// A waiting-list entry as of `now`, with its position while it waits.
    fn get_waitlist_entry(
        &self,
        tenant: &TenantId,
        id: &str,
        now: UnixMillis,
    ) -> Result<Option<WaitlistEntryView>, StoreError>;

    /// A pool's waiting list: figures and one page of entries in queue order (the cursor is a
    /// position). A session's date not used yet has an empty list; `None` for an unknown pool.
    fn pool_waitlist(
        &self,
        tenant: &TenantId,
        pool_id: &str,
        page: PageRequest,
        now: UnixMillis,
    ) -> Result<Option<WaitlistStatus>, StoreError>;

    /// One holder's entries, newest first.
    fn holder_waitlist(
        &self,
        tenant: &TenantId,
        holder: &str,
        page: PageRequest,
        now: UnixMillis,
    ) -> Result<Page<WaitlistEntryView>, StoreError>;

    /// The tenant's events in the order they happened, optionally of one type.
    fn list_events(
        &self,
        tenant: &TenantId,
        kind: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<EventView>, StoreError>;

    fn priority_classes(&self, tenant: &TenantId) -> Result<PriorityClasses, StoreError>;

    /// A session's dates already made, in date order (the cursor is a date); `None` when `session`
    /// is not a per-date pool of the tenant.
    /// The alert log, oldest first, filtered.
    fn list_alerts(
        &self,
        tenant: &TenantId,
        filter: &AlertFilter,
        page: PageRequest,
    ) -> Result<Page<AlertView>, StoreError>;

    fn recipients(&self, tenant: &TenantId) -> Result<BTreeMap<String, Vec<Channel>>, StoreError>;

    /// The tenant's active webhooks.
    fn list_webhooks(&self, tenant: &TenantId) -> Result<Vec<WebhookView>, StoreError>;

    /// One webhook's deliveries, newest first, each with its attempts; `None` for an unknown webhook.
    fn list_deliveries(
        &self,
        tenant: &TenantId,
        webhook_id: &str,
        page: PageRequest,
    ) -> Result<Option<Page<DeliveryWithAttempts>>, StoreError>;

    /// Deliveries due at `now`, oldest first, across tenants: the delivery worker's queue.
    fn due_deliveries(&self, now: UnixMillis, limit: usize)
    -> Result<Vec<DueDelivery>, StoreError>;

    /// How many deliveries are pending across tenants, and when the oldest of them was made:
    /// the delivery backlog an operator watches.
    fn delivery_backlog(&self) -> Result<DeliveryBacklog, StoreError>;

    fn get_plan(&self, tenant: &TenantId, id: &str) -> Result<Option<PlanView>, StoreError>;

    fn list_plans(
        &self,
        tenant: &TenantId,
        page: PageRequest,
    ) -> Result<Page<PlanView>, StoreError>;

    /// A subject's quotas, one per plan, with their use as of `now`.
    fn subject_quotas(
        &self,
        tenant: &TenantId,
        subject: &str,
        now: UnixMillis,
    ) -> Result<Vec<QuotaView>, StoreError>;

    /// A plan's members after `after` (a pool id), in pool id order: (pool id, subject).
    fn plan_members_after(
        &self,
        tenant: &TenantId,
        plan_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// A subject's quota pools: (pool id, plan id), optionally of one plan.
    fn subject_pools(
        &self,
        tenant: &TenantId,
        subject: &str,
        plan_id: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError>;

    fn session_dates(
        &self,
        tenant: &TenantId,
        session: &str,
        page: PageRequest,
        now: UnixMillis,
    ) -> Result<Option<Page<PoolView>>, StoreError>;
}

/// The one writer of a store. It is used from a single thread; the server feeds it batches.
pub trait BatchWriter: Send + 'static {
    /// Applies every envelope in arrival order inside one transaction and returns one reply per
    /// envelope, in the same order. A refused command is a reply, not an error; an `Err` means
    /// the transaction did not commit and nothing in the batch happened.
    fn apply(&mut self, batch: Vec<Envelope>, now: UnixMillis) -> Result<Vec<Reply>, StoreError>;

    /// What the batches committed since the last call did besides answering (expiries, offers,
    /// lapses, alerts), for metrics. A store that does not count answers zeros.
    fn take_tally(&mut self) -> BatchTally {
        BatchTally::default()
    }
}

#[cfg(test)]
mod open_tests {
    use super::*;

    fn refusal<T>(result: Result<T, StoreError>) -> String {
        match result {
            Ok(_) => panic!("expected a refusal"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn postgres_opens_from_its_url_verifies_and_leaves_backups_to_pg_dump() {
        let database = allot_pgtest::database();
        let url: DatabaseUrl = database.url.parse().expect("parses");
        let mut opened = open(&url).expect("the store opens");
        opened.store.ping().expect("it answers");
        let tenant = TenantId("acme".into());
        let replies = opened
            .writer
            .apply(
                vec![Envelope {
                    tenant: tenant.clone(),
                    actor: None,
                    command: Command::CreatePool(command::NewPool {
                        name: "Concert".into(),
                        unit: "seats".into(),
                        parent_id: None,
                        capacity: allot_core::Capacity::new(10).expect("valid"),
                        hard_limit_pct: allot_core::LimitPct::HUNDRED,
                        soft_limit_pct: allot_core::LimitPct::HUNDRED,
                        price: None,
                        metadata: None,
                        per_date: false,
                        time_zone: None,
                        waitlist: Default::default(),
                        thresholds: None,
                    }),
                    idempotency: None,
                }],
                UnixMillis(1_796_637_600_000),
            )
            .expect("commits");
        let Some(Reply::Outcome(Ok(Success::Pool(pool)))) = replies.into_iter().next() else {
            panic!("no pool");
        };
        let read = opened
            .store
            .get_pool(&tenant, &pool.id, UnixMillis(1_796_637_600_000))
            .expect("reads");
        assert_eq!(read, Some(pool));

        let maintenance = open_for_maintenance(&url).expect("opens for maintenance");
        let report = maintenance.verify().expect("verifies");
        assert_eq!(
            (report.pools, report.mismatches.len()),
            (1, 0),
            "{report:?}"
        );
        let dest = tempfile::tempdir().expect("a directory");
        let refused = maintenance
            .backup_to(&dest.path().join("copy.db"))
            .expect_err("refused");
        assert!(refused.to_string().contains("pg_dump"), "{refused}");
    }

    #[test]
    fn an_unreachable_postgres_is_unavailable_and_its_password_is_not_shown() {
        // Port 1 on loopback: nothing listens there.
        let url: DatabaseUrl = "postgres://allot:s3cret@127.0.0.1:1/allot"
            .parse()
            .expect("parses");
        let Err(error) = open(&url) else {
            panic!("opened a database that is not there");
        };
        assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("allot:***@127.0.0.1:1"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }

    #[test]
    fn sqlite_opens_the_named_file_and_maintenance_needs_it_to_exist() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = dir.path().join("nested").join("custom.db");
        let url = DatabaseUrl::Sqlite(file.clone());
        let message = refusal(open_for_maintenance(&url));
        assert!(message.contains("no allot database at"), "{message}");
        assert!(!file.exists(), "maintenance never creates a database");

        let opened = open(&url).expect("the store opens");
        opened.store.ping().expect("it answers");
        assert!(file.is_file());
        drop(opened);
        let report = open_for_maintenance(&url)
            .expect("it exists now")
            .verify()
            .expect("verify runs");
        assert_eq!(report, VerifyReport::default());

        let on_directory = DatabaseUrl::Sqlite(dir.path().to_path_buf());
        assert!(refusal(open(&on_directory)).contains("is a directory"));
        assert!(refusal(open_for_maintenance(&on_directory)).contains("is a directory"));
    }
}
