//! PostgreSQL's reads answer what SQLite's answer. One scenario — keys, an event with priced
//! sections, carts held, confirmed, released and one past its deadline (due, not yet expired by
//! any batch), a waiting list served by an offer, a dated tour, a plan with a member, a webhook
//! with a delivery attempted, alerts, graduation tickets issued and scanned — runs through both
//! writers with counted ids, so both stores hold the same rows under the same ids; then every
//! read of the `Store` traits is asked of both, with pages small enough to need their cursors,
//! and must answer alike. SQLite's reads are the ones the HTTP tests check.

use allot_core::{Capacity, HoldLine, LimitPct, PoolId, Quantity, TtlSeconds, UnixMillis};
use allot_store::command::{NewPlan, NewPool, NewWaitlistEntry, PriorityAsk};
use allot_store::jobs::{JobCommand, JobProgress};
use allot_store::tickets::{NewAttendee, PreparedTicket, TicketCommand, TicketSuccess};
use allot_store::*;
use std::collections::BTreeMap;
use std::fmt::Debug;

/// 2026-12-07T10:00:00Z.
const T0: UnixMillis = UnixMillis(1_796_637_600_000);

fn at(millis: i64) -> UnixMillis {
    UnixMillis(T0.0 + millis)
}

fn acme() -> TenantId {
    TenantId("acme".into())
}

fn pool(name: &str, parent: Option<&str>, capacity: i64) -> NewPool {
    NewPool {
        name: name.into(),
        unit: "seats".into(),
        parent_id: parent.map(str::to_owned),
        capacity: Capacity::new(capacity).expect("valid"),
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

fn hold(pool: &str, quantity: i64, ttl_seconds: i64, holder: &str, confirm: bool) -> Command {
    Command::PlaceHold {
        lines: vec![HoldLine {
            pool_id: PoolId(pool.to_owned()),
            quantity: Quantity::new(quantity).expect("valid"),
        }],
        ttl: TtlSeconds::new(ttl_seconds).expect("valid"),
        holder: Some(holder.to_owned()),
        confirm,
        extras: Default::default(),
    }
}

/// One batch of acme's commands, which must commit.
fn batch(writer: &mut dyn BatchWriter, commands: Vec<Command>, now: UnixMillis) -> Vec<Outcome> {
    batch_of(writer, &acme(), commands, now)
}

fn batch_of(
    writer: &mut dyn BatchWriter,
    tenant: &TenantId,
    commands: Vec<Command>,
    now: UnixMillis,
) -> Vec<Outcome> {
    let envelopes = commands
        .into_iter()
        .map(|command| Envelope {
            tenant: tenant.clone(),
            actor: Some("key_ops".into()),
            command,
            idempotency: None,
        })
        .collect();
    writer
        .apply(envelopes, now)
        .expect("the batch commits")
        .into_iter()
        .map(|reply| match reply {
            Reply::Outcome(outcome) => outcome,
            Reply::Rendered { .. } => panic!("no idempotency key was sent"),
        })
        .collect()
}

fn one(writer: &mut dyn BatchWriter, command: Command, now: UnixMillis) -> Success {
    match batch(writer, vec![command], now).pop() {
        Some(Ok(success)) => success,
        other => panic!("refused: {other:?}"),
    }
}

fn pool_id(success: Success) -> String {
    match success {
        Success::Pool(pool) => pool.id,
        other => panic!("no pool: {other:?}"),
    }
}

fn hold_id(success: Success) -> String {
    match success {
        Success::Hold { hold, .. } => hold.id,
        other => panic!("no hold: {other:?}"),
    }
}

/// What the scenario made that the reads are asked about.
struct Made {
    event: String,
    graduation: String,
    session: String,
    webhook: String,
    entry: String,
    plan: String,
    job: String,
}

/// The scenario, the same on any writer; the last batch is at `at(3_000)`.
fn scenario(writer: &mut dyn BatchWriter) -> Made {
    // A tenant made by the super-admin, with keys of its own; one of them revoked.
    let globex = match one(
        writer,
        Command::CreateTenant {
            name: "Globex".into(),
            key_id: "key_globex".into(),
            key_hash: "hash_globex".into(),
        },
        T0,
    ) {
        Success::TenantCreated { tenant, .. } => tenant.id,
        other => panic!("no tenant: {other:?}"),
    };
    for (key_id, role) in [("key_ops", Role::Operator), ("key_view", Role::Viewer)] {
        let command = Command::CreateApiKey {
            key_id: key_id.into(),
            key_hash: format!("hash_{key_id}"),
            role,
        };
        assert!(batch_of(writer, &globex, vec![command], T0)[0].is_ok());
    }
    let revoke = Command::RevokeApiKey {
        key_id: "key_view".into(),
    };
    assert!(batch_of(writer, &globex, vec![revoke], T0)[0].is_ok());

    let event = pool_id(one(
        writer,
        Command::CreatePool(pool("Concert", None, 10)),
        T0,
    ));
    let stalls = pool_id(one(
        writer,
        Command::CreatePool(NewPool {
            price: Some(Price {
                amount_minor: 4_500,
                currency: "EUR".into(),
            }),
            metadata: Some(serde_json::json!({"floor": "ground"})),
            ..pool("Stalls", Some(&event), 6)
        }),
        T0,
    ));
    let balcony = pool_id(one(
        writer,
        Command::CreatePool(pool("Balcony", Some(&event), 4)),
        T0,
    ));
    let mut tour = pool("Tour", None, 8);
    tour.per_date = true;
    let session = pool_id(one(writer, Command::CreatePool(tour), T0));

    // Carts: held, confirmed, released, and one that lapses at 4 s, after the last batch.
    batch(
        writer,
        vec![
            hold(&stalls, 2, 600, "ana", false),
            hold(&balcony, 1, 600, "bo", true),
            hold(&stalls, 1, 4, "ana", false),
            hold(&format!("{session}-2026-12-08"), 2, 600, "cy", false),
        ],
        T0,
    );
    let dropped = hold_id(one(writer, hold(&stalls, 1, 600, "bo", false), T0));
    one(writer, Command::ReleaseHold { hold_id: dropped }, T0);
    // The balcony full, cy waits for a seat, and a released cart offers it to her.
    let filler = hold_id(one(writer, hold(&balcony, 3, 600, "dee", false), T0));
    let entry = match one(
        writer,
        Command::JoinWaitlist(NewWaitlistEntry {
            pool_id: balcony.clone(),
            holder: "cy".into(),
            quantity: Quantity::new(1).expect("valid"),
            priority: PriorityAsk::Base,
            expires_in: TtlSeconds::new(3_600).expect("valid"),
        }),
        T0,
    ) {
        Success::WaitlistEntry(entry) => entry.id,
        other => panic!("no entry: {other:?}"),
    };
    one(writer, Command::ReleaseHold { hold_id: filler }, at(100));

    let plan = match one(
        writer,
        Command::CreatePlan(NewPlan {
            name: "Gold".into(),
            unit: "credits".into(),
            capacity: Capacity::new(5).expect("valid"),
            hard_limit_pct: LimitPct::HUNDRED,
            soft_limit_pct: LimitPct::HUNDRED,
            thresholds: None,
        }),
        at(200),
    ) {
        Success::Plan(plan) => plan.id,
        other => panic!("no plan: {other:?}"),
    };
    one(
        writer,
        Command::PutMember {
            plan_id: plan.clone(),
            subject: "ana".into(),
            parent_id: None,
        },
        at(200),
    );

    let webhook = match one(
        writer,
        Command::CreateWebhook {
            url: "https://hooks.example.com/allot".into(),
            events: vec!["*".into()],
            secret: "whsec_test".into(),
        },
        at(300),
    ) {
        Success::Webhook(webhook) => webhook.id,
        other => panic!("no webhook: {other:?}"),
    };
    one(
        writer,
        Command::SetRecipients(BTreeMap::from([(
            "sales".to_owned(),
            vec![Channel {
                email: Some("sales@example.com".into()),
                webhook_id: None,
            }],
        )])),
        at(300),
    );
    // Sold out: alerts at the thresholds, each an event delivered to the webhook.
    one(writer, hold(&stalls, 2, 600, "eve", true), at(400));
    let delivery = match one(
        writer,
        Command::TestWebhook {
            webhook_id: webhook.clone(),
        },
        at(500),
    ) {
        Success::DeliveryQueued { delivery_id, .. } => delivery_id,
        other => panic!("no delivery: {other:?}"),
    };
    one(
        writer,
        Command::RecordDeliveryAttempts(vec![DeliveryAttempt {
            delivery_id: delivery,
            at: at(600),
            status: Some(503),
            error: Some("unavailable".into()),
            duration_ms: 12,
            delivered: false,
            retry_at: Some(at(60_600)),
        }]),
        at(600),
    );

    // Graduation tickets: two graduates in a section of one, issued, one scanned.
    let graduation = pool_id(one(
        writer,
        Command::CreatePool(pool("Graduation", None, 3)),
        at(700),
    ));
    pool_id(one(
        writer,
        Command::CreatePool(pool("Hall", Some(&graduation), 1)),
        at(700),
    ));
    let imported = one(
        writer,
        Command::Tickets(TicketCommand::UpsertAttendees {
            event_id: graduation.clone(),
            rows: ["ana", "bo"]
                .iter()
                .enumerate()
                .map(|(line, name)| NewAttendee {
                    line: line as u64 + 1,
                    external_id: (*name).into(),
                    name: format!("Graduate {name}"),
                    email: None,
                    section: Some("Hall".into()),
                })
                .collect(),
            rejected: Vec::new(),
            list: true,
        }),
        at(700),
    );
    let attendees: Vec<String> = match imported {
        Success::Tickets(TicketSuccess::Imported(summary)) => {
            summary.attendees.into_iter().map(|(id, _)| id).collect()
        }
        other => panic!("not imported: {other:?}"),
    };
    let job = match one(
        writer,
        Command::Job(JobCommand::Create {
            kind: "tickets.generate".into(),
            params: serde_json::json!({}),
            total: 2,
        }),
        at(800),
    ) {
        Success::Job(job) => job.id,
        other => panic!("no job: {other:?}"),
    };
    let items: Vec<PreparedTicket> = attendees
        .iter()
        .map(|id| PreparedTicket {
            attendee_id: id.clone(),
            code: format!("C-{id}"),
            token_seed: format!("seed-{id}"),
            token_hash: format!("hash-{id}"),
        })
        .collect();
    one(
        writer,
        Command::Tickets(TicketCommand::IssueChunk {
            event_id: graduation.clone(),
            progress: JobProgress {
                job_id: job.clone(),
                expected_cursor: None,
                next_cursor: attendees.last().cloned(),
                last: true,
            },
            skip_existing: false,
            items,
        }),
        at(900),
    );
    let scanned = attendees[0].clone();
    one(
        writer,
        Command::Tickets(TicketCommand::CheckIn {
            attendee_id: scanned.clone(),
            token_hash: format!("hash-{scanned}"),
        }),
        at(3_000),
    );
    Made {
        event,
        graduation,
        session,
        webhook,
        entry,
        plan,
        job,
    }
}

/// The same read of both stores, which must answer alike; the answer.
fn same<T: PartialEq + Debug>(
    stores: (&dyn Store, &dyn Store),
    what: &str,
    read: impl Fn(&dyn Store) -> Result<T, StoreError>,
) -> T {
    let sqlite = read(stores.0).unwrap_or_else(|e| panic!("SQLite: {what}: {e}"));
    let postgres = read(stores.1).unwrap_or_else(|e| panic!("PostgreSQL: {what}: {e}"));
    assert_eq!(
        postgres, sqlite,
        "{what}: PostgreSQL (left) and SQLite differ"
    );
    sqlite
}

/// Every page of a paged read, both stores walking their own cursors.
fn every_page<T: PartialEq + Debug>(
    stores: (&dyn Store, &dyn Store),
    what: &str,
    read: impl Fn(&dyn Store, PageRequest) -> Result<Page<T>, StoreError>,
) -> Vec<T> {
    let mut items = Vec::new();
    let mut after = None;
    loop {
        let page = same(stores, what, |store| {
            read(
                store,
                PageRequest {
                    limit: 2,
                    after: after.clone(),
                },
            )
        });
        items.extend(page.items);
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => return items,
        }
    }
}

#[test]
fn every_read_answers_what_sqlite_answers() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (sqlite, sqlite_writer) = allot_store::sqlite::open(dir.path()).expect("SQLite opens");
    let url = match allot_pgtest::database().url.parse() {
        Ok(DatabaseUrl::Postgres(url)) => url,
        other => panic!("not a PostgreSQL URL: {other:?}"),
    };
    let (postgres, postgres_writer) = allot_store::postgres::open(&url).expect("PostgreSQL opens");
    let mut sqlite_writer = sqlite_writer.with_sequential_ids_for_tests();
    let mut postgres_writer = postgres_writer.with_sequential_ids_for_tests();
    let made = scenario(&mut sqlite_writer);
    let also = scenario(&mut postgres_writer);
    assert_eq!(made.event, also.event, "counted ids alike");
    let stores: (&dyn Store, &dyn Store) = (&sqlite, &postgres);
    // The short cart lapsed at 4 s and no batch since expired it: reads count it expired.
    let now = at(5_000);
    let tenant = acme();
    let t = &tenant;

    same(stores, "ping", |s| s.ping());
    same(stores, "find_api_key", |s| s.find_api_key("hash_key_ops"));
    same(stores, "a revoked key", |s| s.find_api_key("hash_key_view"));
    let globex = same(stores, "the new tenant's key", |s| {
        s.find_api_key("hash_globex")
    })
    .expect("the new tenant's key is live")
    .tenant_id;
    for tenant in [&tenant, &globex] {
        same(stores, "list_api_keys", |s| s.list_api_keys(tenant));
    }

    let pools = every_page(stores, "list_pools", |s, page| {
        s.list_pools(t, None, page, now)
    });
    assert!(pools.len() >= 7, "{pools:?}");
    every_page(stores, "list_pools under the event", |s, page| {
        s.list_pools(t, Some(&made.event), page, now)
    });
    let date = format!("{}-2026-12-08", made.session);
    let unused_date = format!("{}-2026-12-09", made.session);
    let mut ids: Vec<String> = pools.iter().map(|pool| pool.id.clone()).collect();
    ids.extend([unused_date.clone(), "pool_missing".into()]);
    for id in &ids {
        same(stores, "get_pool", |s| s.get_pool(t, id, now));
        same(stores, "availability", |s| s.availability(t, id, now));
        same(stores, "pool_children", |s| s.pool_children(t, id, now));
        same(stores, "list_ledger's first page", |s| {
            s.list_ledger(
                t,
                id,
                PageRequest {
                    limit: 2,
                    after: None,
                },
            )
        });
        same(stores, "pool_waitlist", |s| {
            s.pool_waitlist(
                t,
                id,
                PageRequest {
                    limit: 1,
                    after: None,
                },
                now,
            )
        });
        same(stores, "ticket_counts", |s| s.ticket_counts(t, id));
        same(stores, "session_dates", |s| {
            s.session_dates(
                t,
                id,
                PageRequest {
                    limit: 2,
                    after: None,
                },
                now,
            )
        });
    }
    for id in pools.iter().map(|pool| &pool.id).chain([&date]) {
        every_page(stores, "list_ledger", |s, page| {
            Ok(s.list_ledger(t, id, page)?.expect("a pool"))
        });
    }
    assert!(
        same(stores, "the dated tour's dates", |s| {
            s.session_dates(
                t,
                &made.session,
                PageRequest {
                    limit: 10,
                    after: None,
                },
                now,
            )
        })
        .is_some_and(|dates| dates.items.len() == 1)
    );

    let filters = [
        HoldFilter::default(),
        HoldFilter {
            holder: Some("ana".into()),
            status: None,
        },
    ]
    .into_iter()
    .chain(
        [
            allot_core::HoldStatus::Held,
            allot_core::HoldStatus::Expired,
            allot_core::HoldStatus::Confirmed,
            allot_core::HoldStatus::Released,
        ]
        .map(|status| HoldFilter {
            holder: None,
            status: Some(status),
        }),
    );
    for filter in filters {
        let holds = every_page(stores, "list_holds", |s, page| {
            s.list_holds(t, &filter, page, now)
        });
        for hold in &holds {
            same(stores, "get_hold", |s| s.get_hold(t, &hold.id, now));
        }
    }

    same(stores, "get_waitlist_entry", |s| {
        s.get_waitlist_entry(t, &made.entry, now)
    });
    every_page(stores, "holder_waitlist", |s, page| {
        s.holder_waitlist(t, "cy", page, now)
    });
    let events = every_page(stores, "list_events", |s, page| {
        s.list_events(t, None, page)
    });
    assert!(!events.is_empty());
    every_page(stores, "list_events of one type", |s, page| {
        s.list_events(t, Some(&events[0].kind), page)
    });
    same(stores, "priority_classes", |s| s.priority_classes(t));
    let alerts = every_page(stores, "list_alerts", |s, page| {
        s.list_alerts(t, &AlertFilter::default(), page)
    });
    assert!(!alerts.is_empty(), "selling out alerts");
    let filter = AlertFilter {
        pool_id: Some(alerts[0].pool_id.clone()),
        severity: Some(alerts[0].severity.clone()),
        since: Some(T0),
    };
    every_page(stores, "list_alerts filtered", |s, page| {
        s.list_alerts(t, &filter, page)
    });
    same(stores, "recipients", |s| s.recipients(t));
    same(stores, "list_webhooks", |s| s.list_webhooks(t));
    every_page(stores, "list_deliveries", |s, page| {
        Ok(s.list_deliveries(t, &made.webhook, page)?
            .expect("a webhook"))
    });
    for when in [now, at(61_000)] {
        same(stores, "due_deliveries", |s| s.due_deliveries(when, 10));
    }
    same(stores, "delivery_backlog", |s| s.delivery_backlog());

    same(stores, "get_plan", |s| s.get_plan(t, &made.plan));
    every_page(stores, "list_plans", |s, page| s.list_plans(t, page));
    same(stores, "subject_quotas", |s| {
        s.subject_quotas(t, "ana", now)
    });
    same(stores, "plan_members_after", |s| {
        s.plan_members_after(t, &made.plan, None, 10)
    });
    same(stores, "subject_pools", |s| s.subject_pools(t, "ana", None));
    same(stores, "subject_pools of a plan", |s| {
        s.subject_pools(t, "ana", Some(&made.plan))
    });

    for has_ticket in [None, Some(true), Some(false)] {
        let attendees = every_page(stores, "list_attendees", |s, page| {
            Ok(s.list_attendees(t, &made.graduation, has_ticket, page)?
                .expect("an event"))
        });
        same(stores, "count_attendees", |s| {
            s.count_attendees(t, &made.graduation, has_ticket)
        });
        for attendee in &attendees {
            same(stores, "get_attendee", |s| s.get_attendee(t, &attendee.id));
        }
    }
    same(stores, "attendee_ids_after", |s| {
        s.attendee_ids_after(t, &made.graduation, None, 10)
    });
    let tickets = every_page(stores, "list_tickets", |s, page| {
        Ok(s.list_tickets(t, &made.graduation, None, None, page)?
            .expect("an event"))
    });
    assert!(!tickets.is_empty(), "tickets were issued");
    every_page(stores, "list_tickets used, of the job", |s, page| {
        Ok(s.list_tickets(
            t,
            &made.graduation,
            Some(allot_store::tickets::TicketStatus::Used),
            Some(&made.job),
            page,
        )?
        .expect("an event"))
    });
    for ticket in &tickets {
        same(stores, "get_ticket", |s| s.get_ticket(t, &ticket.ticket.id));
    }

    same(stores, "get_job", |s| s.get_job(t, &made.job));
    every_page(stores, "list_jobs", |s, page| s.list_jobs(t, None, page));
    same(stores, "active_jobs", |s| s.active_jobs());
    same(stores, "job_items", |s| {
        s.job_items(t, &made.job, None, -1, 10)
    });
}
