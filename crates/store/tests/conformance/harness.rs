//! What the suite needs of a store, and the stores it knows: [`StoreUnderTest`] is all a topic's
//! test may do to a store — apply a batch at a time, look at everything it shows, restart it —
//! and [`Run`] wraps one with the helpers the topics share. [`check`] runs one topic test on a
//! store, then asserts the audit's invariants on what it shows, and that it shows what the
//! in-memory store (the reference) shows after the same test.

use crate::invariants;
use allot_core::{Capacity, HoldLine, LimitPct, PoolId, Quantity, TtlSeconds, UnixMillis, Warning};
use allot_store::command::{HoldExtras, NewPool};
use allot_store::database_url::PostgresUrl;
use allot_store::jobs::{JobItem, JobView};
use allot_store::memory::MemoryStore;
use allot_store::observe::Observed;
use allot_store::postgres::{self, PostgresStore, PostgresWriter};
use allot_store::sqlite::{self, SqliteStore, SqliteWriter};
use allot_store::*;
use tempfile::TempDir;

/// A store the suite runs on.
pub trait StoreUnderTest {
    /// How failures name the store.
    const NAME: &'static str;

    /// One batch through the store's [`BatchWriter`], committed at `now`.
    fn apply(&mut self, batch: Vec<Envelope>, now: UnixMillis) -> Result<Vec<Reply>, StoreError>;

    /// Everything the store shows as of `now`: pools, holds, the ledger, plans and their
    /// members, jobs and their items.
    fn observe(&self, now: UnixMillis) -> Observed;

    /// A crash and a restart: the memory store drops what its writer kept between batches; a
    /// store on disk is opened again from its files.
    fn restart(&mut self);

    /// The store's own audit (`allot verify`), where it has one.
    fn audit(&self) -> Option<VerifyReport>;
}

/// The in-memory store: the reference every other store is compared with.
#[derive(Default)]
pub struct Memory(MemoryStore);

impl Memory {
    pub fn new() -> Self {
        Memory::default()
    }
}

impl StoreUnderTest for Memory {
    const NAME: &'static str = "the in-memory store";

    fn apply(&mut self, batch: Vec<Envelope>, now: UnixMillis) -> Result<Vec<Reply>, StoreError> {
        self.0.apply(batch, now)
    }

    fn observe(&self, now: UnixMillis) -> Observed {
        self.0.state().observe(now)
    }

    fn restart(&mut self) {
        self.0.restart();
    }

    fn audit(&self) -> Option<VerifyReport> {
        None
    }
}

/// SQLite in a temporary directory, as a server opens it.
pub struct Sqlite {
    dir: TempDir,
    store: SqliteStore,
    writer: SqliteWriter,
}

impl Sqlite {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (store, writer) = sqlite::open(dir.path()).expect("the store opens");
        Sqlite {
            dir,
            store,
            // Counted ids, as the in-memory store makes them, so failures read alike.
            writer: writer.with_sequential_ids_for_tests(),
        }
    }
}

impl StoreUnderTest for Sqlite {
    const NAME: &'static str = "SQLite";

    fn apply(&mut self, batch: Vec<Envelope>, now: UnixMillis) -> Result<Vec<Reply>, StoreError> {
        self.writer.apply(batch, now)
    }

    fn observe(&self, now: UnixMillis) -> Observed {
        self.store.observe(now).expect("SQLite shows what it holds")
    }

    fn restart(&mut self) {
        let (store, writer) = sqlite::open(self.dir.path()).expect("the store opens again");
        // Counted ids would start again from one and collide with those on disk: a reopened
        // store makes time-ordered ones, as in production.
        self.store = store;
        self.writer = writer;
    }

    fn audit(&self) -> Option<VerifyReport> {
        Some(sqlite::verify(self.dir.path()).expect("allot verify runs"))
    }
}

/// PostgreSQL: a fresh database on the test process's throwaway cluster (`allot-pgtest`, which
/// fails the test, saying how to install the server, when it has none).
pub struct Postgres {
    url: PostgresUrl,
    store: PostgresStore,
    writer: PostgresWriter,
}

impl Postgres {
    pub fn new() -> Self {
        let database = allot_pgtest::database();
        let url = match database.url.parse() {
            Ok(DatabaseUrl::Postgres(url)) => url,
            other => panic!("the test database's URL is not PostgreSQL's: {other:?}"),
        };
        let (store, writer) = postgres::open(&url).expect("the store opens");
        Postgres {
            url,
            store,
            // Counted ids, as the in-memory store makes them, so failures read alike.
            writer: writer.with_sequential_ids_for_tests(),
        }
    }
}

impl StoreUnderTest for Postgres {
    const NAME: &'static str = "PostgreSQL";

    fn apply(&mut self, batch: Vec<Envelope>, now: UnixMillis) -> Result<Vec<Reply>, StoreError> {
        self.writer.apply(batch, now)
    }

    fn observe(&self, now: UnixMillis) -> Observed {
        self.store
            .observe(now)
            .expect("PostgreSQL shows what it holds")
    }

    fn restart(&mut self) {
        // New connections, as a node restarted: nothing but the database carries over. Counted
        // ids would start again from one and collide with those stored.
        let (store, writer) = postgres::open(&self.url).expect("the store opens again");
        self.store = store;
        self.writer = writer;
    }

    fn audit(&self) -> Option<VerifyReport> {
        let maintenance = allot_store::postgres::PostgresMaintenance::open(&self.url)
            .expect("opens for maintenance");
        Some(maintenance.verify().expect("allot verify runs"))
    }
}

/// Runs `test` on `store`; then the audit's invariants hold on what the store shows, its own
/// audit (if it has one) finds nothing, and the in-memory store given the same test (`on_memory`,
/// the same test function) shows the same, ids aside.
pub fn check<S, F, G>(store: S, test: F, on_memory: G)
where
    S: StoreUnderTest,
    F: FnOnce(&mut Run<S>),
    G: FnOnce(&mut Run<Memory>),
{
    let mut run = Run::new(store);
    test(&mut run);
    let observed = run.observe();
    if let Err(violation) = invariants::check(&observed) {
        panic!("{}: {violation}", S::NAME);
    }
    if let Some(report) = run.store.audit() {
        assert_eq!(report.mismatches, [], "{}: allot verify disagrees", S::NAME);
        assert_eq!(
            report.pools,
            observed.pools.len(),
            "{}: pools audited",
            S::NAME
        );
        assert_eq!(
            report.ledger_entries,
            observed.ledger.len() as i64,
            "{}: ledger entries audited",
            S::NAME
        );
    }
    // The same test on the reference: a failure there is the reference's, and says so.
    let reference = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut reference = Run::new(Memory::new());
        on_memory(&mut reference);
        reference
    }))
    .unwrap_or_else(|_| {
        panic!(
            "{} passed, but the in-memory reference failed the same test (its panic is above)",
            S::NAME
        )
    });
    invariants::agree(&observed, &reference.observe()).unwrap_or_else(|difference| {
        panic!(
            "{} and the in-memory store differ after the same commands: {difference}",
            S::NAME
        )
    });
}

/// A store with the time of its last batch: what the store shows is read as of then, and time
/// only moves forward.
pub struct Run<S> {
    pub store: S,
    last: UnixMillis,
}

/// When every test starts: 2026-12-07T10:00:00Z, a Monday.
pub const T0: UnixMillis = UnixMillis(1_796_637_600_000);

pub const SECOND: i64 = 1_000;
pub const HOUR: i64 = 3_600 * SECOND;

/// `millis` after [`T0`].
pub fn at(millis: i64) -> UnixMillis {
    UnixMillis(T0.0 + millis)
}

pub fn acme() -> TenantId {
    TenantId("acme".into())
}

pub fn globex() -> TenantId {
    TenantId("globex".into())
}

pub fn envelope(tenant: &TenantId, command: impl Into<Command>) -> Envelope {
    Envelope {
        tenant: tenant.clone(),
        actor: Some("key_ops".into()),
        command: command.into(),
        idempotency: None,
    }
}

impl<S: StoreUnderTest> Run<S> {
    pub fn new(store: S) -> Self {
        Run { store, last: T0 }
    }

    /// One batch, which must commit and leave the audit's invariants holding.
    pub fn apply(&mut self, batch: Vec<Envelope>, now: UnixMillis) -> Vec<Reply> {
        assert!(now >= self.last, "time runs forward in a test");
        self.last = now;
        let size = batch.len();
        let replies = self
            .store
            .apply(batch, now)
            .unwrap_or_else(|error| panic!("{}: the batch did not commit: {error}", S::NAME));
        assert_eq!(replies.len(), size, "one reply per command");
        // After every batch, not only at the end: a broken invariant is caught where it broke.
        if let Err(violation) = invariants::check(&self.store.observe(now)) {
            panic!("{}: after the batch at {now}: {violation}", S::NAME);
        }
        replies
    }

    /// One tenant's commands in one batch, without idempotency keys.
    pub fn batch(
        &mut self,
        tenant: &TenantId,
        commands: Vec<Command>,
        now: UnixMillis,
    ) -> Vec<Outcome> {
        let batch = commands.into_iter().map(|c| envelope(tenant, c)).collect();
        self.apply(batch, now).into_iter().map(outcome).collect()
    }

    /// One command alone in its batch.
    pub fn send(
        &mut self,
        tenant: &TenantId,
        command: impl Into<Command>,
        now: UnixMillis,
    ) -> Outcome {
        self.batch(tenant, vec![command.into()], now)
            .pop()
            .expect("one reply")
    }

    /// A pool that must be made.
    pub fn create(&mut self, tenant: &TenantId, pool: NewPool, now: UnixMillis) -> PoolView {
        match self.send(tenant, Command::CreatePool(pool), now) {
            Ok(Success::Pool(pool)) => pool,
            other => panic!("{}: no pool: {other:?}", S::NAME),
        }
    }

    /// A hold that must be placed.
    pub fn hold(&mut self, tenant: &TenantId, order: Order, now: UnixMillis) -> HoldView {
        placed(self.send(tenant, order, now)).0
    }

    /// Everything the store shows as of its last batch.
    pub fn observe(&self) -> Observed {
        self.store.observe(self.last)
    }

    /// What the store shows at `now`, later than its last batch, before any batch runs then.
    pub fn observe_at(&self, now: UnixMillis) -> Observed {
        assert!(now >= self.last, "time runs forward in a test");
        self.store.observe(now)
    }

    pub fn pool(&self, tenant: &TenantId, id: &str) -> PoolView {
        self.store
            .observe(self.last)
            .pools
            .into_iter()
            .find(|(owner, pool)| owner == tenant && pool.id == id)
            .map(|(_, pool)| pool)
            .unwrap_or_else(|| panic!("{}: no pool {id} of {tenant:?}", S::NAME))
    }

    /// (held, committed, available) of a pool.
    pub fn figures(&self, tenant: &TenantId, id: &str) -> (i64, i64, i64) {
        let pool = self.pool(tenant, id);
        (pool.held, pool.committed, pool.available)
    }

    pub fn hold_view(&self, tenant: &TenantId, id: &str) -> HoldView {
        self.store
            .observe(self.last)
            .holds
            .into_iter()
            .find(|(owner, hold)| owner == tenant && hold.id == id)
            .map(|(_, hold)| hold)
            .unwrap_or_else(|| panic!("{}: no hold {id} of {tenant:?}", S::NAME))
    }

    pub fn restart(&mut self) {
        self.store.restart();
    }

    pub fn plan(&self, tenant: &TenantId, id: &str) -> Option<PlanView> {
        self.observe()
            .plans
            .into_iter()
            .find(|(owner, plan)| owner == tenant && plan.id == id)
            .map(|(_, plan)| plan)
    }

    /// The quota pool `subject` has from the plan.
    pub fn member_pool(&self, tenant: &TenantId, plan_id: &str, subject: &str) -> Option<String> {
        self.observe()
            .members
            .into_iter()
            .find(|m| m.tenant == *tenant && m.plan_id == plan_id && m.subject == subject)
            .map(|member| member.pool_id)
    }

    pub fn job(&self, tenant: &TenantId, id: &str) -> Option<JobView> {
        self.observe()
            .jobs
            .into_iter()
            .find(|(owner, job)| owner == tenant && job.id == id)
            .map(|(_, job)| job)
    }

    /// A job's skipped and failed items, in order.
    pub fn job_items(&self, tenant: &TenantId, job_id: &str) -> Vec<JobItem> {
        self.observe()
            .job_items
            .into_iter()
            .filter(|(owner, job, _)| owner == tenant && job == job_id)
            .map(|(_, _, item)| item)
            .collect()
    }
}

pub fn outcome(reply: Reply) -> Outcome {
    match reply {
        Reply::Outcome(outcome) => outcome,
        Reply::Rendered { .. } => panic!("no idempotency key was sent"),
    }
}

/// The hold an outcome placed, with its warnings.
pub fn placed(outcome: Outcome) -> (HoldView, Vec<Warning>) {
    match outcome {
        Ok(Success::Hold { hold, warnings }) => (hold, warnings),
        other => panic!("no hold: {other:?}"),
    }
}

/// Why an outcome was refused.
pub fn refused(outcome: Outcome) -> Failure {
    match outcome {
        Err(failure) => failure,
        Ok(success) => panic!("expected a refusal, got {success:?}"),
    }
}

pub fn capacity(n: i64) -> Capacity {
    Capacity::new(n).expect("a valid capacity")
}

pub fn pct(n: i64) -> LimitPct {
    LimitPct::new(n).expect("a valid percentage")
}

/// A pool of seats at the top of its tenant, limits at 100%.
pub fn pool(name: &str, seats: i64) -> NewPool {
    NewPool {
        name: name.into(),
        unit: "seats".into(),
        parent_id: None,
        capacity: capacity(seats),
        hard_limit_pct: LimitPct::HUNDRED,
        soft_limit_pct: LimitPct::HUNDRED,
        price: None,
        metadata: None,
        per_date: false,
        time_zone: None,
        waitlist: Default::default(),
        thresholds: None,
    }
}

/// A pool of seats under `parent`.
pub fn section(name: &str, seats: i64, parent: &PoolView) -> NewPool {
    NewPool {
        parent_id: Some(parent.id.clone()),
        ..pool(name, seats)
    }
}

/// A hold to place: lines, a deadline, and what it may carry.
#[derive(Debug, Clone)]
pub struct Order {
    lines: Vec<HoldLine>,
    ttl_seconds: i64,
    confirm: bool,
    holder: Option<String>,
    extras: HoldExtras,
}

/// A hold of `quantity` from `pool`, for ten minutes.
pub fn order(pool: &str, quantity: i64) -> Order {
    Order {
        lines: Vec::new(),
        ttl_seconds: 600,
        confirm: false,
        holder: None,
        extras: HoldExtras::default(),
    }
    .and(pool, quantity)
}

impl Order {
    /// Another line.
    pub fn and(mut self, pool: &str, quantity: i64) -> Self {
        self.lines.push(HoldLine {
            pool_id: PoolId(pool.to_owned()),
            quantity: Quantity::new(quantity).expect("a valid quantity"),
        });
        self
    }

    pub fn for_seconds(mut self, ttl_seconds: i64) -> Self {
        self.ttl_seconds = ttl_seconds;
        self
    }

    /// Committed at once instead of held.
    pub fn confirmed(mut self) -> Self {
        self.confirm = true;
        self
    }

    pub fn by(mut self, holder: &str) -> Self {
        self.holder = Some(holder.to_owned());
        self
    }

    /// The unit each line expects, in line order.
    pub fn in_units(mut self, units: &[&str]) -> Self {
        self.extras.units = units.iter().map(|unit| Some((*unit).to_owned())).collect();
        self
    }

    /// Who the hold consumes, counted once per pool.
    pub fn of_subject(mut self, subject: &str) -> Self {
        self.extras.subject = Some(subject.to_owned());
        self
    }
}

impl From<Order> for Command {
    fn from(order: Order) -> Self {
        Command::PlaceHold {
            lines: order.lines,
            ttl: TtlSeconds::new(order.ttl_seconds).expect("a valid ttl"),
            holder: order.holder,
            confirm: order.confirm,
            extras: order.extras,
        }
    }
}

pub fn confirm(hold: &HoldView) -> Command {
    Command::ConfirmHold {
        hold_id: hold.id.clone(),
    }
}

pub fn release(hold: &HoldView) -> Command {
    Command::ReleaseHold {
        hold_id: hold.id.clone(),
    }
}

pub fn extend(hold: &HoldView, ttl_seconds: i64) -> Command {
    Command::ExtendHold {
        hold_id: hold.id.clone(),
        ttl: TtlSeconds::new(ttl_seconds).expect("a valid ttl"),
    }
}
