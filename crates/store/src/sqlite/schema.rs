//! The SQLite schema, as numbered migrations applied in order and tracked in `user_version`.
//! A migration is never edited once released: add a new one.
//!
//! Times are INTEGER milliseconds since the Unix epoch (UTC). Ids are TEXT. Every table that holds
//! tenant data carries `tenant_id`, and every query filters by it.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: tenants, keys, pools, holds, the ledger and idempotency records.
    r#"
    CREATE TABLE tenants (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        created_at INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE api_keys (
        id         TEXT PRIMARY KEY,
        tenant_id  TEXT NOT NULL REFERENCES tenants(id),
        role       TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        key_hash   TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    ) STRICT;
    CREATE INDEX api_keys_by_tenant ON api_keys(tenant_id, id);

    -- held and committed are rolled up: they include every pool below this one.
    CREATE TABLE pools (
        id                 TEXT PRIMARY KEY,
        tenant_id          TEXT NOT NULL,
        parent_id          TEXT,
        name               TEXT NOT NULL,
        unit               TEXT NOT NULL,
        capacity           INTEGER NOT NULL CHECK (capacity >= 0),
        hard_limit_pct     INTEGER NOT NULL,
        soft_limit_pct     INTEGER NOT NULL,
        held               INTEGER NOT NULL CHECK (held >= 0),
        committed          INTEGER NOT NULL CHECK (committed >= 0),
        price_amount_minor INTEGER,
        price_currency     TEXT,
        metadata           TEXT,
        active             INTEGER NOT NULL,
        created_at         INTEGER NOT NULL,
        updated_at         INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX pools_by_tenant ON pools(tenant_id, id);
    CREATE INDEX pools_by_parent ON pools(tenant_id, parent_id, id);

    -- lines is a JSON array of {pool_id, quantity, unit_price}: read whole, never queried inside.
    -- Keyed by (tenant_id, id) without a rowid: every lookup names both, listing is a key scan,
    -- and each new hold costs one b-tree insert fewer.
    CREATE TABLE holds (
        tenant_id  TEXT NOT NULL,
        id         TEXT NOT NULL,
        status     TEXT NOT NULL CHECK (status IN ('held', 'confirmed', 'released', 'expired')),
        holder     TEXT,
        expires_at INTEGER NOT NULL,
        lines      TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, id)
    ) STRICT, WITHOUT ROWID;
    -- The sweeper and every batch look for due holds: only held ones are ever due.
    CREATE INDEX holds_due ON holds(expires_at) WHERE status = 'held';
    CREATE INDEX holds_by_holder ON holds(tenant_id, holder, id) WHERE holder IS NOT NULL;

    -- Append-only. Counters are recomputable from it (allot verify). Keyed by (pool_id, seq)
    -- without a rowid so an entry is one b-tree insert; seq is global and comes from allot_meta.
    CREATE TABLE ledger (
        pool_id         TEXT NOT NULL,
        seq             INTEGER NOT NULL,
        tenant_id       TEXT NOT NULL,
        hold_id         TEXT,
        kind            TEXT NOT NULL CHECK (kind IN ('hold', 'confirm', 'release', 'expire', 'adjust')),
        held_delta      INTEGER NOT NULL,
        committed_delta INTEGER NOT NULL,
        capacity_after  INTEGER NOT NULL,
        actor           TEXT,
        reason          TEXT,
        at              INTEGER NOT NULL,
        PRIMARY KEY (pool_id, seq)
    ) STRICT, WITHOUT ROWID;

    -- Small named counters owned by the writer, such as the last ledger sequence number.
    CREATE TABLE allot_meta (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    INSERT INTO allot_meta (name, value) VALUES ('ledger_seq', 0);

    CREATE TABLE idempotency (
        tenant_id    TEXT NOT NULL,
        key          TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        status       INTEGER NOT NULL,
        body         BLOB NOT NULL,
        created_at   INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, key)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX idempotency_by_age ON idempotency(created_at);
    "#,
    // 2: dated sessions, waiting lists, priority classes and the event outbox.
    r#"
    -- A per_date pool is a session template; each date it serves is an instance pool whose
    -- session_id and date are set. waiting counts this pool's waiting entries, waiting_below
    -- those of this pool and every pool below it (promotion looks only where it is above zero).
    ALTER TABLE pools ADD COLUMN per_date INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE pools ADD COLUMN session_id TEXT;
    ALTER TABLE pools ADD COLUMN date TEXT;
    ALTER TABLE pools ADD COLUMN waitlist_policy TEXT NOT NULL DEFAULT 'strict'
        CHECK (waitlist_policy IN ('strict', 'skip'));
    ALTER TABLE pools ADD COLUMN waitlist_mode TEXT NOT NULL DEFAULT 'offer'
        CHECK (waitlist_mode IN ('offer', 'confirm'));
    ALTER TABLE pools ADD COLUMN offer_ttl_seconds INTEGER NOT NULL DEFAULT 900;
    ALTER TABLE pools ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0 CHECK (waiting >= 0);
    ALTER TABLE pools ADD COLUMN waiting_below INTEGER NOT NULL DEFAULT 0 CHECK (waiting_below >= 0);
    CREATE INDEX pools_by_session ON pools(tenant_id, session_id, date) WHERE session_id IS NOT NULL;

    -- The entry whose promotion made the hold, so the hold's confirm, release or expiry moves it on.
    ALTER TABLE holds ADD COLUMN waitlist_entry_id TEXT;

    CREATE TABLE waitlist_entries (
        tenant_id        TEXT NOT NULL,
        id               TEXT NOT NULL,
        pool_id          TEXT NOT NULL,
        holder           TEXT NOT NULL,
        quantity         INTEGER NOT NULL CHECK (quantity > 0),
        priority         INTEGER NOT NULL,
        priority_classes TEXT,
        -- Arrival order, from allot_meta.waitlist_seq.
        seq              INTEGER NOT NULL,
        status           TEXT NOT NULL CHECK (status IN ('waiting', 'offered', 'accepted', 'confirmed',
                             'declined', 'lapsed', 'expired', 'cancelled')),
        hold_id          TEXT,
        expires_at       INTEGER NOT NULL,
        offer_expires_at INTEGER,
        promoted_at      INTEGER,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, id)
    ) STRICT, WITHOUT ROWID;
    -- Queue order: the next entry served is the first row of its pool here.
    CREATE INDEX waitlist_queue ON waitlist_entries(tenant_id, pool_id, priority DESC, seq)
        WHERE status = 'waiting';
    CREATE INDEX waitlist_due ON waitlist_entries(expires_at) WHERE status = 'waiting';
    CREATE INDEX waitlist_by_holder ON waitlist_entries(tenant_id, holder, seq);
    -- The measured promotion rate behind estimated waits.
    CREATE INDEX waitlist_promotions ON waitlist_entries(tenant_id, pool_id, promoted_at)
        WHERE promoted_at IS NOT NULL;

    -- Per-tenant settings: priority classes as a JSON object of name → bonus over the base.
    CREATE TABLE tenant_settings (
        tenant_id        TEXT PRIMARY KEY,
        priority_base    INTEGER NOT NULL,
        priority_classes TEXT NOT NULL
    ) STRICT;

    -- The outbox: written in the transaction of the change that caused the event. seq is global
    -- (allot_meta.event_seq), so one order serves every tenant's feed and delivery.
    CREATE TABLE events (
        tenant_id  TEXT NOT NULL,
        seq        INTEGER NOT NULL,
        id         TEXT NOT NULL,
        type       TEXT NOT NULL,
        data       TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, seq)
    ) STRICT, WITHOUT ROWID;

    INSERT INTO allot_meta (name, value) VALUES ('waitlist_seq', 0), ('event_seq', 0);
    "#,
    // 3: thresholds and the alert log, recipient groups, webhooks and their deliveries.
    r#"
    -- thresholds: a JSON array of {pct, severity, recipients, throttle_seconds}; NULL means
    -- the default table. alert_marks: when each threshold (or queue alert) last fired.
    ALTER TABLE pools ADD COLUMN thresholds TEXT;
    ALTER TABLE pools ADD COLUMN alert_marks TEXT;

    CREATE TABLE alerts (
        tenant_id     TEXT NOT NULL,
        seq           INTEGER NOT NULL,
        id            TEXT NOT NULL,
        pool_id       TEXT NOT NULL,
        kind          TEXT NOT NULL CHECK (kind IN ('threshold', 'queue_long', 'shortage')),
        threshold_pct INTEGER,
        severity      TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'critical')),
        recipients    TEXT NOT NULL,
        used          INTEGER NOT NULL,
        capacity      INTEGER NOT NULL,
        waiting       INTEGER NOT NULL,
        created_at    INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, seq)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX alerts_by_pool ON alerts(tenant_id, pool_id, seq);

    -- Named groups of channels that alerts go to: a JSON array of {"email"} or {"webhook_id"}.
    CREATE TABLE recipient_groups (
        tenant_id TEXT NOT NULL,
        name      TEXT NOT NULL,
        channels  TEXT NOT NULL,
        PRIMARY KEY (tenant_id, name)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE webhooks (
        tenant_id  TEXT NOT NULL,
        id         TEXT NOT NULL,
        url        TEXT NOT NULL,
        -- A JSON array of event types; ["*"] for all.
        events     TEXT NOT NULL,
        secret     TEXT NOT NULL,
        active     INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, id)
    ) STRICT, WITHOUT ROWID;

    -- One row per event and destination, written in the transaction of the event itself, so a
    -- crash can delay a delivery but never lose it. The worker retries until delivered or given up.
    CREATE TABLE deliveries (
        id              TEXT PRIMARY KEY,
        tenant_id       TEXT NOT NULL,
        channel         TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
        webhook_id      TEXT,
        email           TEXT,
        event_id        TEXT NOT NULL,
        event_type      TEXT NOT NULL,
        payload         TEXT NOT NULL,
        status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts        INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        last_status     INTEGER,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE status = 'pending';
    CREATE INDEX deliveries_by_webhook ON deliveries(tenant_id, webhook_id, created_at);

    CREATE TABLE delivery_attempts (
        delivery_id TEXT NOT NULL,
        attempt     INTEGER NOT NULL,
        at          INTEGER NOT NULL,
        status      INTEGER,
        error       TEXT,
        duration_ms INTEGER NOT NULL,
        PRIMARY KEY (delivery_id, attempt)
    ) STRICT, WITHOUT ROWID;

    INSERT INTO allot_meta (name, value) VALUES ('alert_seq', 0);
    "#,
    // 4: plans and member quotas, consumption counted once per subject.
    r#"
    CREATE TABLE plans (
        tenant_id      TEXT NOT NULL,
        id             TEXT NOT NULL,
        name           TEXT NOT NULL,
        unit           TEXT NOT NULL,
        capacity       INTEGER NOT NULL CHECK (capacity >= 0),
        hard_limit_pct INTEGER NOT NULL,
        soft_limit_pct INTEGER NOT NULL,
        thresholds     TEXT,
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, id)
    ) STRICT, WITHOUT ROWID;

    -- A member's quota is a pool made from a plan: one per plan and subject.
    ALTER TABLE pools ADD COLUMN plan_id TEXT;
    ALTER TABLE pools ADD COLUMN subject TEXT;
    CREATE UNIQUE INDEX pools_by_member ON pools(tenant_id, plan_id, subject) WHERE plan_id IS NOT NULL;
    CREATE INDEX pools_by_subject ON pools(tenant_id, subject) WHERE subject IS NOT NULL;

    -- Consumption for one subject (a learner, a volunteer) counts once per pool: the hold that
    -- counted it. A released hold frees the subject to be counted again.
    ALTER TABLE holds ADD COLUMN subject TEXT;
    CREATE TABLE consumptions (
        tenant_id TEXT NOT NULL,
        pool_id   TEXT NOT NULL,
        subject   TEXT NOT NULL,
        hold_id   TEXT NOT NULL,
        PRIMARY KEY (tenant_id, pool_id, subject)
    ) STRICT, WITHOUT ROWID;
    "#,
    // 5 (tickets): attendees, tickets, check-ins, jobs
    r#"
    -- An attendee of an event (a pool), upserted on external_id; section_id is a child pool.
    CREATE TABLE attendees (
        tenant_id   TEXT NOT NULL,
        id          TEXT NOT NULL,
        event_id    TEXT NOT NULL,
        external_id TEXT NOT NULL,
        name        TEXT NOT NULL,
        email       TEXT,
        section_id  TEXT,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, id)
    ) STRICT, WITHOUT ROWID;
    CREATE UNIQUE INDEX attendees_by_external_id ON attendees(tenant_id, event_id, external_id);
    CREATE INDEX attendees_by_event ON attendees(tenant_id, event_id, id);

    -- A ticket owns one confirmed hold of one unit (hold_id) on pool_id. The token is not
    -- stored: token_hash (SHA-256) confirms it at check-in, and token_seed lets the server, with
    -- a key kept outside the database, derive the token again for its QR code. A token names its
    -- attendee, so check-in finds the live ticket through tickets_one_per_attendee; an index of
    -- every token's hash would take a random b-tree insert per ticket (a third of bulk issuance).
    CREATE TABLE tickets (
        tenant_id   TEXT NOT NULL,
        id          TEXT NOT NULL,
        event_id    TEXT NOT NULL,
        pool_id     TEXT NOT NULL,
        attendee_id TEXT NOT NULL,
        hold_id     TEXT NOT NULL,
        code        TEXT NOT NULL,
        token_seed  TEXT NOT NULL,
        token_hash  TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('valid', 'used', 'void')),
        issued_at   INTEGER NOT NULL,
        used_at     INTEGER,
        voided_at   INTEGER,
        job_id      TEXT,
        PRIMARY KEY (tenant_id, id)
    ) STRICT, WITHOUT ROWID;
    -- The rule behind "one ticket per attendee": however often generation runs, the store
    -- refuses a second ticket that is not void.
    CREATE UNIQUE INDEX tickets_one_per_attendee ON tickets(tenant_id, attendee_id) WHERE status != 'void';
    -- Only void tickets, so that their tokens are answered "void" rather than "unknown".
    CREATE INDEX tickets_void_by_token ON tickets(tenant_id, token_hash) WHERE status = 'void';
    CREATE INDEX tickets_by_event ON tickets(tenant_id, event_id, id);

    -- Every scan at a door: admitted, already_used or void.
    CREATE TABLE checkins (
        tenant_id TEXT NOT NULL,
        id        TEXT NOT NULL,
        ticket_id TEXT NOT NULL,
        result    TEXT NOT NULL CHECK (result IN ('admitted', 'already_used', 'void')),
        actor     TEXT,
        at        INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX checkins_by_ticket ON checkins(tenant_id, ticket_id, at);

    -- Background jobs, advanced chunk by chunk through the writer (see crate::jobs).
    CREATE TABLE jobs (
        tenant_id   TEXT NOT NULL,
        id          TEXT NOT NULL,
        kind        TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
        params      TEXT NOT NULL,
        cursor      TEXT,
        total       INTEGER NOT NULL,
        done        INTEGER NOT NULL DEFAULT 0,
        created     INTEGER NOT NULL DEFAULT 0,
        skipped     INTEGER NOT NULL DEFAULT 0,
        failed      INTEGER NOT NULL DEFAULT 0,
        error       TEXT,
        created_at  INTEGER NOT NULL,
        started_at  INTEGER,
        updated_at  INTEGER NOT NULL,
        finished_at INTEGER,
        PRIMARY KEY (tenant_id, id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX jobs_active ON jobs(created_at) WHERE status IN ('queued', 'running');

    -- The items a job skipped or failed, by their position in the job.
    CREATE TABLE job_failures (
        tenant_id TEXT NOT NULL,
        job_id    TEXT NOT NULL,
        seq       INTEGER NOT NULL,
        item      TEXT NOT NULL,
        outcome   TEXT NOT NULL CHECK (outcome IN ('skipped', 'failed')),
        reason    TEXT NOT NULL,
        at        INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, job_id, seq)
    ) STRICT, WITHOUT ROWID;
    "#,
    // 6: the ledger in write order, each pool's entries found through its runs (ledger_runs.rs).
    r#"
    -- Keyed by seq alone: a new entry is an append at the end, whichever pool it is for.
    CREATE TABLE ledger_in_order (
        seq             INTEGER PRIMARY KEY,
        pool_id         TEXT NOT NULL,
        tenant_id       TEXT NOT NULL,
        hold_id         TEXT,
        kind            TEXT NOT NULL CHECK (kind IN ('hold', 'confirm', 'release', 'expire', 'adjust')),
        held_delta      INTEGER NOT NULL,
        committed_delta INTEGER NOT NULL,
        capacity_after  INTEGER NOT NULL,
        actor           TEXT,
        reason          TEXT,
        at              INTEGER NOT NULL
    ) STRICT;
    INSERT INTO ledger_in_order (seq, pool_id, tenant_id, hold_id, kind, held_delta,
            committed_delta, capacity_after, actor, reason, at)
        SELECT seq, pool_id, tenant_id, hold_id, kind, held_delta, committed_delta,
            capacity_after, actor, reason, at
        FROM ledger ORDER BY seq;
    -- A run: the sequence numbers (a JSON array, ascending) of a pool's entries written since
    -- its previous run. Entries after allot_meta.ledger_runs_through and after their pool's
    -- last run are in no run yet.
    CREATE TABLE ledger_runs (
        pool_id  TEXT NOT NULL,
        last_seq INTEGER NOT NULL,
        seqs     TEXT NOT NULL,
        PRIMARY KEY (pool_id, last_seq)
    ) STRICT, WITHOUT ROWID;
    -- Entries from before this version: each pool's in runs of 100 (RUN_ENTRIES).
    INSERT INTO ledger_runs (pool_id, last_seq, seqs)
        SELECT pool_id, MAX(seq), json_group_array(seq ORDER BY seq)
        FROM (SELECT pool_id, seq,
                  (row_number() OVER (PARTITION BY pool_id ORDER BY seq) - 1) / 100 AS run
              FROM ledger)
        GROUP BY pool_id, run;
    INSERT INTO allot_meta (name, value)
        SELECT 'ledger_runs_through', value FROM allot_meta WHERE name = 'ledger_seq';
    DROP TABLE ledger;
    ALTER TABLE ledger_in_order RENAME TO ledger;
    "#,
    // 7: a session's time zone (IANA name; NULL is UTC), copied to each of its dates.
    r#"
    ALTER TABLE pools ADD COLUMN time_zone TEXT;
    "#,
    // 8: the sweeper finds the dates with people waiting that may be over.
    r#"
    CREATE INDEX pools_dates_waiting ON pools(date) WHERE date IS NOT NULL AND waiting > 0;
    "#,
];

/// The schema version this build writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the database up to the latest version, each migration in its own transaction.
/// A database newer than this build is refused rather than misread.
pub fn migrate(conn: &mut Connection) -> Result<(), crate::StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current > latest_version() {
        return Err(crate::StoreError::Other(format!(
            "the database is at schema version {current}, newer than this build ({}); upgrade allot",
            latest_version()
        )));
    }
    // A migration may copy a whole table (6 rewrites the ledger in another order): let SQLite's
    // sorter spill to a temporary file rather than hold it in memory, whatever the connection
    // uses otherwise.
    let temp_store: i64 = conn.query_row("PRAGMA temp_store", [], |row| row.get(0))?;
    conn.pragma_update(None, "temp_store", "FILE")?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
        tracing::info!(version = index + 1, "applied migration");
    }
    conn.pragma_update(None, "temp_store", temp_store)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::ledger_runs::{check_runs, pool_entry_seqs, runs_through};
    use allot_core::PoolId;

    #[test]
    fn version_6_keeps_every_ledger_entry_in_write_order_and_lists_each_pools_in_runs() {
        let mut conn = Connection::open_in_memory().expect("an in-memory database");
        for sql in &MIGRATIONS[..5] {
            conn.execute_batch(sql).expect("an earlier version applies");
        }
        conn.pragma_update(None, "user_version", 5)
            .expect("the test database answers");
        // The version-5 ledger, clustered by pool: two pools' entries interleaved in time.
        let entries = [
            (1, "pool_b", "adjust", 0, 0, 10, None),
            (2, "pool_a", "adjust", 0, 0, 5, None),
            (3, "pool_b", "hold", 2, 0, 10, Some("hold_1")),
            (4, "pool_a", "hold", 1, 0, 5, Some("hold_2")),
            (5, "pool_b", "confirm", -2, 2, 10, Some("hold_1")),
        ];
        for (seq, pool, kind, held, committed, capacity, hold) in entries {
            conn.execute(
                "INSERT INTO ledger (pool_id, seq, tenant_id, hold_id, kind, held_delta,
                     committed_delta, capacity_after, actor, reason, at)
                 VALUES (?1, ?2, 'ten_a', ?3, ?4, ?5, ?6, ?7, 'key_a', 'why', ?2 * 1000)",
                rusqlite::params![pool, seq, hold, kind, held, committed, capacity],
            )
            .expect("the test database answers");
        }
        // A busy pool: 250 holds after those, 6 to 255.
        conn.execute_batch(
            "WITH RECURSIVE n(seq) AS (SELECT 6 UNION ALL SELECT seq + 1 FROM n WHERE seq < 255)
             INSERT INTO ledger (pool_id, seq, tenant_id, kind, held_delta, committed_delta,
                 capacity_after, at)
             SELECT 'pool_c', seq, 'ten_a', 'hold', 1, 0, 1000, seq * 1000 FROM n;
             UPDATE allot_meta SET value = 255 WHERE name = 'ledger_seq';",
        )
        .expect("the test database answers");

        migrate(&mut conn).expect("migrates");

        // Each entry as one line, in the new table's own (rowid) order.
        let moved: Vec<String> = conn
            .prepare(
                "SELECT seq || ' ' || pool_id || ' ' || kind || ' ' || held_delta || ' ' ||
                     committed_delta || ' ' || capacity_after || ' ' || COALESCE(hold_id, '-') ||
                     ' ' || at
                 FROM ledger ORDER BY rowid",
            )
            .expect("the test database answers")
            .query_map([], |row| row.get(0))
            .expect("the test database answers")
            .collect::<Result<_, _>>()
            .expect("the test database answers");
        let expected: Vec<String> = entries
            .iter()
            .map(|(seq, pool, kind, held, committed, capacity, hold)| {
                let hold = hold.unwrap_or("-");
                let at = seq * 1000;
                format!("{seq} {pool} {kind} {held} {committed} {capacity} {hold} {at}")
            })
            .collect();
        assert_eq!(moved[..5], expected);
        assert_eq!(moved.len(), 255);

        assert_eq!(
            pool_entry_seqs(&conn, "pool_a", 0, 10).expect("the test database answers"),
            [2, 4]
        );
        assert_eq!(
            pool_entry_seqs(&conn, "pool_b", 1, 10).expect("the test database answers"),
            [3, 5]
        );
        let busy: Vec<i64> = (6..=255).collect();
        assert_eq!(
            pool_entry_seqs(&conn, "pool_c", 0, 1000).expect("the test database answers"),
            busy
        );
        // The busy pool's entries are in runs of 100 at most.
        let run_sizes: Vec<i64> = conn
            .prepare("SELECT json_array_length(seqs) FROM ledger_runs WHERE pool_id = 'pool_c' ORDER BY last_seq")
            .expect("the test database answers")
            .query_map([], |row| row.get(0))
            .expect("the test database answers")
            .collect::<Result<_, _>>()
            .expect("the test database answers");
        assert_eq!(run_sizes, [100, 100, 50]);
        assert_eq!(runs_through(&conn).expect("the test database answers"), 255);
        let truth = [
            (PoolId("pool_a".into()), vec![2, 4]),
            (PoolId("pool_b".into()), vec![1, 3, 5]),
            (PoolId("pool_c".into()), busy),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            check_runs(&conn, &truth).expect("the test database answers"),
            vec![]
        );
    }
}
