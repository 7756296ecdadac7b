//! The PostgreSQL schema, as numbered migrations applied in order and recorded in
//! `allot_schema`. A migration is never edited once released: add a new one.
//!
//! The tables are SQLite's (`crate::sqlite::schema`) in PostgreSQL's types, without what only
//! SQLite needs (the ledger's runs, the `allot_meta` counters: numbers come from sequences here).
//! Times are BIGINT milliseconds since the Unix epoch (UTC), counters and quantities BIGINT,
//! ids TEXT. Every table that holds tenant data carries `tenant_id`, and every key starts with
//! it, so that the schema can be distributed by tenant.
//!
//! Text that is ordered or compared (ids, dates, names, subjects) is `COLLATE "C"`: byte order,
//! as SQLite and the in-memory store sort, whatever locale the database was made with. JSON
//! (hold lines, thresholds, event data) is TEXT: it is read whole, never queried inside.

use crate::StoreError;
use postgres::Client;

const MIGRATIONS: &[&str] = &[
    // 1: everything SQLite has at its version 8.
    r#"
    CREATE TABLE tenants (
        id         TEXT COLLATE "C" PRIMARY KEY,
        name       TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );

    CREATE TABLE api_keys (
        id         TEXT COLLATE "C" PRIMARY KEY,
        tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
        role       TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        key_hash   TEXT NOT NULL UNIQUE,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT
    );
    CREATE INDEX api_keys_by_tenant ON api_keys(tenant_id, id);

    -- held and committed are rolled up: they include every pool below this one. The last
    -- CHECK is the last line of defence against overselling: whatever a writer decides, no
    -- pool's use passes its hard limit (the core's `LimitPct::of`: capacity × pct / 100,
    -- rounded down; at most 10^12 × 1000, so BIGINT arithmetic cannot overflow).
    CREATE TABLE pools (
        tenant_id          TEXT COLLATE "C" NOT NULL,
        id                 TEXT COLLATE "C" NOT NULL,
        parent_id          TEXT COLLATE "C",
        name               TEXT COLLATE "C" NOT NULL,
        unit               TEXT NOT NULL,
        capacity           BIGINT NOT NULL CHECK (capacity >= 0),
        hard_limit_pct     BIGINT NOT NULL,
        soft_limit_pct     BIGINT NOT NULL,
        held               BIGINT NOT NULL CHECK (held >= 0),
        committed          BIGINT NOT NULL CHECK (committed >= 0),
        price_amount_minor BIGINT,
        price_currency     TEXT,
        metadata           TEXT,
        active             BOOLEAN NOT NULL,
        created_at         BIGINT NOT NULL,
        updated_at         BIGINT NOT NULL,
        -- A per_date pool is a session template; each date it serves is an instance pool
        -- whose session_id and date are set.
        per_date           BOOLEAN NOT NULL DEFAULT false,
        session_id         TEXT COLLATE "C",
        date               TEXT COLLATE "C",
        time_zone          TEXT,
        waitlist_policy    TEXT NOT NULL DEFAULT 'strict' CHECK (waitlist_policy IN ('strict', 'skip')),
        waitlist_mode      TEXT NOT NULL DEFAULT 'offer' CHECK (waitlist_mode IN ('offer', 'confirm')),
        offer_ttl_seconds  BIGINT NOT NULL DEFAULT 900,
        -- waiting counts this pool's waiting entries, waiting_below those of this pool and
        -- every pool below it (promotion looks only where it is above zero).
        waiting            BIGINT NOT NULL DEFAULT 0 CHECK (waiting >= 0),
        waiting_below      BIGINT NOT NULL DEFAULT 0 CHECK (waiting_below >= 0),
        -- thresholds: JSON, NULL for the default table; alert_marks: when each last fired.
        thresholds         TEXT,
        alert_marks        TEXT,
        -- A member's quota is a pool made from a plan: one per plan and subject.
        plan_id            TEXT COLLATE "C",
        subject            TEXT COLLATE "C",
        PRIMARY KEY (tenant_id, id),
        CONSTRAINT pools_within_hard_limit CHECK (held + committed <= capacity * hard_limit_pct / 100)
    );
    CREATE INDEX pools_by_parent ON pools(tenant_id, parent_id, id);
    CREATE INDEX pools_by_session ON pools(tenant_id, session_id, date) WHERE session_id IS NOT NULL;
    CREATE INDEX pools_dates_waiting ON pools(date) WHERE date IS NOT NULL AND waiting > 0;
    CREATE UNIQUE INDEX pools_by_member ON pools(tenant_id, plan_id, subject) WHERE plan_id IS NOT NULL;
    CREATE INDEX pools_by_subject ON pools(tenant_id, subject) WHERE subject IS NOT NULL;

    -- lines is a JSON array of {pool_id, quantity, unit_price}.
    CREATE TABLE holds (
        tenant_id         TEXT COLLATE "C" NOT NULL,
        id                TEXT COLLATE "C" NOT NULL,
        status            TEXT NOT NULL CHECK (status IN ('held', 'confirmed', 'released', 'expired')),
        holder            TEXT COLLATE "C",
        expires_at        BIGINT NOT NULL,
        lines             TEXT NOT NULL,
        created_at        BIGINT NOT NULL,
        updated_at        BIGINT NOT NULL,
        -- The entry whose promotion made the hold, so its confirm, release or expiry moves it on.
        waitlist_entry_id TEXT COLLATE "C",
        subject           TEXT COLLATE "C",
        PRIMARY KEY (tenant_id, id)
    );
    -- Every batch looks for due holds: only held ones are ever due.
    CREATE INDEX holds_due ON holds(expires_at) WHERE status = 'held';
    CREATE INDEX holds_by_holder ON holds(tenant_id, holder, id) WHERE holder IS NOT NULL;

    -- Append-only. Counters are recomputable from it. seq comes from the database, in the
    -- order entries are written; a batch rolled back leaves a gap, which nothing relies on.
    CREATE TABLE ledger (
        seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant_id       TEXT COLLATE "C" NOT NULL,
        pool_id         TEXT COLLATE "C" NOT NULL,
        hold_id         TEXT COLLATE "C",
        kind            TEXT NOT NULL CHECK (kind IN ('hold', 'confirm', 'release', 'expire', 'adjust')),
        held_delta      BIGINT NOT NULL,
        committed_delta BIGINT NOT NULL,
        capacity_after  BIGINT NOT NULL,
        actor           TEXT,
        reason          TEXT,
        at              BIGINT NOT NULL
    );
    CREATE INDEX ledger_by_pool ON ledger(tenant_id, pool_id, seq);

    CREATE TABLE idempotency (
        tenant_id    TEXT COLLATE "C" NOT NULL,
        key          TEXT COLLATE "C" NOT NULL,
        request_hash TEXT NOT NULL,
        status       BIGINT NOT NULL,
        body         BYTEA NOT NULL,
        created_at   BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, key)
    );
    CREATE INDEX idempotency_by_age ON idempotency(created_at);

    -- Consumption for one subject counts once per pool: the hold that counted it.
    CREATE TABLE consumptions (
        tenant_id TEXT COLLATE "C" NOT NULL,
        pool_id   TEXT COLLATE "C" NOT NULL,
        subject   TEXT COLLATE "C" NOT NULL,
        hold_id   TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (tenant_id, pool_id, subject)
    );

    -- Arrival order of waiting-list entries, across tenants.
    CREATE SEQUENCE waitlist_seq;
    CREATE TABLE waitlist_entries (
        tenant_id        TEXT COLLATE "C" NOT NULL,
        id               TEXT COLLATE "C" NOT NULL,
        pool_id          TEXT COLLATE "C" NOT NULL,
        holder           TEXT COLLATE "C" NOT NULL,
        quantity         BIGINT NOT NULL CHECK (quantity > 0),
        priority         BIGINT NOT NULL,
        priority_classes TEXT,
        seq              BIGINT NOT NULL,
        status           TEXT NOT NULL CHECK (status IN ('waiting', 'offered', 'accepted', 'confirmed',
                             'declined', 'lapsed', 'expired', 'cancelled')),
        hold_id          TEXT COLLATE "C",
        expires_at       BIGINT NOT NULL,
        offer_expires_at BIGINT,
        promoted_at      BIGINT,
        created_at       BIGINT NOT NULL,
        updated_at       BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    -- Queue order: the next entry served is the first row of its pool here.
    CREATE INDEX waitlist_queue ON waitlist_entries(tenant_id, pool_id, priority DESC, seq)
        WHERE status = 'waiting';
    CREATE INDEX waitlist_due ON waitlist_entries(expires_at) WHERE status = 'waiting';
    CREATE INDEX waitlist_by_holder ON waitlist_entries(tenant_id, holder, seq);
    CREATE INDEX waitlist_promotions ON waitlist_entries(tenant_id, pool_id, promoted_at)
        WHERE promoted_at IS NOT NULL;

    -- Per-tenant settings: priority classes as a JSON object of name → bonus over the base.
    CREATE TABLE tenant_settings (
        tenant_id        TEXT COLLATE "C" PRIMARY KEY,
        priority_base    BIGINT NOT NULL,
        priority_classes TEXT NOT NULL
    );

    -- The outbox: written in the transaction of the change that caused the event. seq is
    -- global, so one order serves every tenant's feed and delivery.
    CREATE TABLE events (
        tenant_id  TEXT COLLATE "C" NOT NULL,
        seq        BIGINT GENERATED ALWAYS AS IDENTITY,
        id         TEXT COLLATE "C" NOT NULL,
        type       TEXT NOT NULL,
        data       TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, seq)
    );

    CREATE TABLE alerts (
        tenant_id     TEXT COLLATE "C" NOT NULL,
        seq           BIGINT GENERATED ALWAYS AS IDENTITY,
        id            TEXT COLLATE "C" NOT NULL,
        pool_id       TEXT COLLATE "C" NOT NULL,
        kind          TEXT NOT NULL CHECK (kind IN ('threshold', 'queue_long', 'shortage')),
        threshold_pct BIGINT,
        severity      TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'critical')),
        recipients    TEXT NOT NULL,
        used          BIGINT NOT NULL,
        capacity      BIGINT NOT NULL,
        waiting       BIGINT NOT NULL,
        created_at    BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, seq)
    );
    CREATE INDEX alerts_by_pool ON alerts(tenant_id, pool_id, seq);

    -- Named groups of channels that alerts go to: a JSON array of {"email"} or {"webhook_id"}.
    CREATE TABLE recipient_groups (
        tenant_id TEXT COLLATE "C" NOT NULL,
        name      TEXT COLLATE "C" NOT NULL,
        channels  TEXT NOT NULL,
        PRIMARY KEY (tenant_id, name)
    );

    CREATE TABLE webhooks (
        tenant_id  TEXT COLLATE "C" NOT NULL,
        id         TEXT COLLATE "C" NOT NULL,
        url        TEXT NOT NULL,
        -- A JSON array of event types; ["*"] for all.
        events     TEXT NOT NULL,
        secret     TEXT NOT NULL,
        active     BOOLEAN NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );

    -- One row per event and destination, written in the transaction of the event itself.
    CREATE TABLE deliveries (
        tenant_id       TEXT COLLATE "C" NOT NULL,
        id              TEXT COLLATE "C" NOT NULL,
        channel         TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
        webhook_id      TEXT COLLATE "C",
        email           TEXT,
        event_id        TEXT COLLATE "C" NOT NULL,
        event_type      TEXT NOT NULL,
        payload         TEXT NOT NULL,
        status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts        BIGINT NOT NULL,
        next_attempt_at BIGINT NOT NULL,
        last_status     BIGINT,
        last_error      TEXT,
        created_at      BIGINT NOT NULL,
        updated_at      BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    -- The delivery worker serves every tenant, and names a delivery by its id alone.
    CREATE UNIQUE INDEX deliveries_by_id ON deliveries(id);
    CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE status = 'pending';
    CREATE INDEX deliveries_by_webhook ON deliveries(tenant_id, webhook_id, created_at);

    CREATE TABLE delivery_attempts (
        delivery_id TEXT COLLATE "C" NOT NULL,
        attempt     BIGINT NOT NULL,
        at          BIGINT NOT NULL,
        status      BIGINT,
        error       TEXT,
        duration_ms BIGINT NOT NULL,
        PRIMARY KEY (delivery_id, attempt)
    );

    CREATE TABLE plans (
        tenant_id      TEXT COLLATE "C" NOT NULL,
        id             TEXT COLLATE "C" NOT NULL,
        name           TEXT COLLATE "C" NOT NULL,
        unit           TEXT NOT NULL,
        capacity       BIGINT NOT NULL CHECK (capacity >= 0),
        hard_limit_pct BIGINT NOT NULL,
        soft_limit_pct BIGINT NOT NULL,
        thresholds     TEXT,
        created_at     BIGINT NOT NULL,
        updated_at     BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );

    -- An attendee of an event (a pool), upserted on external_id; section_id is a child pool.
    CREATE TABLE attendees (
        tenant_id   TEXT COLLATE "C" NOT NULL,
        id          TEXT COLLATE "C" NOT NULL,
        event_id    TEXT COLLATE "C" NOT NULL,
        external_id TEXT COLLATE "C" NOT NULL,
        name        TEXT NOT NULL,
        email       TEXT,
        section_id  TEXT COLLATE "C",
        created_at  BIGINT NOT NULL,
        updated_at  BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE UNIQUE INDEX attendees_by_external_id ON attendees(tenant_id, event_id, external_id);
    CREATE INDEX attendees_by_event ON attendees(tenant_id, event_id, id);

    -- A ticket owns one confirmed hold of one unit (hold_id) on pool_id. The token is not
    -- stored: token_hash (SHA-256) confirms it at check-in; token_seed derives it again.
    CREATE TABLE tickets (
        tenant_id   TEXT COLLATE "C" NOT NULL,
        id          TEXT COLLATE "C" NOT NULL,
        event_id    TEXT COLLATE "C" NOT NULL,
        pool_id     TEXT COLLATE "C" NOT NULL,
        attendee_id TEXT COLLATE "C" NOT NULL,
        hold_id     TEXT COLLATE "C" NOT NULL,
        code        TEXT NOT NULL,
        token_seed  TEXT NOT NULL,
        token_hash  TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('valid', 'used', 'void')),
        issued_at   BIGINT NOT NULL,
        used_at     BIGINT,
        voided_at   BIGINT,
        job_id      TEXT COLLATE "C",
        PRIMARY KEY (tenant_id, id)
    );
    -- "One ticket per attendee": however often generation runs, a second live ticket is refused.
    CREATE UNIQUE INDEX tickets_one_per_attendee ON tickets(tenant_id, attendee_id) WHERE status <> 'void';
    CREATE INDEX tickets_void_by_token ON tickets(tenant_id, token_hash) WHERE status = 'void';
    CREATE INDEX tickets_by_event ON tickets(tenant_id, event_id, id);

    -- Every scan at a door: admitted, already_used or void.
    CREATE TABLE checkins (
        tenant_id TEXT COLLATE "C" NOT NULL,
        id        TEXT COLLATE "C" NOT NULL,
        ticket_id TEXT COLLATE "C" NOT NULL,
        result    TEXT NOT NULL CHECK (result IN ('admitted', 'already_used', 'void')),
        actor     TEXT,
        at        BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX checkins_by_ticket ON checkins(tenant_id, ticket_id, at);

    -- Background jobs, advanced chunk by chunk through the writer.
    CREATE TABLE jobs (
        tenant_id   TEXT COLLATE "C" NOT NULL,
        id          TEXT COLLATE "C" NOT NULL,
        kind        TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
        params      TEXT NOT NULL,
        cursor      TEXT COLLATE "C",
        total       BIGINT NOT NULL,
        done        BIGINT NOT NULL DEFAULT 0,
        created     BIGINT NOT NULL DEFAULT 0,
        skipped     BIGINT NOT NULL DEFAULT 0,
        failed      BIGINT NOT NULL DEFAULT 0,
        error       TEXT,
        created_at  BIGINT NOT NULL,
        started_at  BIGINT,
        updated_at  BIGINT NOT NULL,
        finished_at BIGINT,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX jobs_active ON jobs(created_at) WHERE status IN ('queued', 'running');

    -- The items a job skipped or failed, by their position in the job.
    CREATE TABLE job_failures (
        tenant_id TEXT COLLATE "C" NOT NULL,
        job_id    TEXT COLLATE "C" NOT NULL,
        seq       BIGINT NOT NULL,
        item      TEXT NOT NULL,
        outcome   TEXT NOT NULL CHECK (outcome IN ('skipped', 'failed')),
        reason    TEXT NOT NULL,
        at        BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, job_id, seq)
    );
    "#,
];

/// The schema version this build writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Any number, fixed for allot: the transaction-level advisory lock that lets one node at a
/// time migrate, so two nodes starting together apply each migration once.
const MIGRATION_LOCK: i64 = 0x616c_6c6f_7400; // "allot\0"

/// Brings the database up to the latest version, each migration in its own transaction. A
/// database newer than this build is refused rather than misread.
pub fn migrate(client: &mut Client) -> Result<(), StoreError> {
    loop {
        let mut tx = client.transaction()?;
        // Held until this transaction ends; a transaction-level lock, so it cannot outlive a
        // node that dies mid-migration (nor linger behind a connection pooler).
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS allot_schema (
                 version    BIGINT PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )?;
        let current: i64 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM allot_schema", &[])?
            .get(0);
        if current > latest_version() {
            return Err(StoreError::Other(format!(
                "the database is at schema version {current}, newer than this build ({}); upgrade allot",
                latest_version()
            )));
        }
        let Some(sql) = MIGRATIONS.get(current as usize) else {
            tx.commit()?;
            return Ok(());
        };
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO allot_schema (version) VALUES ($1)",
            &[&(current + 1)],
        )?;
        tx.commit()?;
        tracing::info!(version = current + 1, "applied PostgreSQL migration");
    }
}
