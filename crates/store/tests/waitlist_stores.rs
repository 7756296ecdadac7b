//! Waiting lists run through the in-memory store and through SQLite: both are decided by the
//! same engine, so they must answer alike and keep the same entries, holds, ledger and events.
//! Both make ids by counting, so replies compare as they are.
//!
//! The scenario: a concert whose two sections share the event's capacity (one strict, one that
//! lets smaller requests pass), with priority classes; offers confirmed, lapsing and cancelled;
//! and a dated tour that books at once (confirm mode), is promoted on two dates by one
//! session-wide raise, and whose waiting entries expire once their date is over.

use allot_core::waitlist::{EntryStatus, PriorityClasses, PromotionMode, WaitlistPolicy};
use allot_core::{Capacity, HoldLine, LimitPct, PoolId, Quantity, TtlSeconds, UnixMillis};
use allot_store::command::{NewPool, NewWaitlistEntry, PoolPatch, PriorityAsk};
use allot_store::memory::MemoryStore;
use allot_store::*;
use std::collections::BTreeMap;

/// 2026-09-21, 14:13:20 UTC.
const T0: UnixMillis = UnixMillis(1_790_000_000_000);
const OFFER_TTL_SECONDS: i64 = 600;

fn at_seconds(seconds: i64) -> UnixMillis {
    UnixMillis(T0.0 + seconds * 1_000)
}

fn tenant() -> TenantId {
    TenantId("acme".into())
}

fn envelope(command: Command) -> Envelope {
    Envelope {
        tenant: tenant(),
        actor: Some("key_ops".into()),
        command,
        idempotency: None,
    }
}

fn pool(
    name: &str,
    parent: Option<&str>,
    capacity: i64,
    per_date: bool,
    policy: WaitlistPolicy,
    mode: PromotionMode,
) -> Command {
    Command::CreatePool(NewPool {
        name: name.into(),
        unit: "seats".into(),
        parent_id: parent.map(str::to_owned),
        capacity: Capacity::new(capacity).expect("valid capacity"),
        hard_limit_pct: LimitPct::HUNDRED,
        soft_limit_pct: LimitPct::HUNDRED,
        price: None,
        metadata: None,
        per_date,
        time_zone: None,
        waitlist: WaitlistSettings {
            policy,
            mode,
            offer_ttl: TtlSeconds::new(OFFER_TTL_SECONDS).expect("valid ttl"),
        },
        thresholds: None,
    })
}

fn hold(pool_id: &str, quantity: i64) -> Command {
    Command::PlaceHold {
        lines: vec![HoldLine {
            pool_id: PoolId(pool_id.into()),
            quantity: Quantity::new(quantity).expect("valid quantity"),
        }],
        ttl: TtlSeconds::new(24 * 3600).expect("valid ttl"),
        holder: Some("box office".into()),
        confirm: false,
        extras: Default::default(),
    }
}

fn join(pool_id: &str, holder: &str, quantity: i64, priority: PriorityAsk) -> Command {
    Command::JoinWaitlist(NewWaitlistEntry {
        pool_id: pool_id.into(),
        holder: holder.into(),
        quantity: Quantity::new(quantity).expect("valid quantity"),
        priority,
        // Long enough to outlive the first date, short enough to lapse in the scenario.
        expires_in: TtlSeconds::new(20 * 3600).expect("valid ttl"),
    })
}

fn pool_id(outcome: &Outcome) -> String {
    match outcome {
        Ok(Success::Pool(pool)) => pool.id.clone(),
        other => panic!("no pool: {other:?}"),
    }
}

fn hold_id(outcome: &Outcome) -> String {
    match outcome {
        Ok(Success::Hold { hold, .. }) => hold.id.clone(),
        other => panic!("no hold: {other:?}"),
    }
}

fn entry(outcome: &Outcome) -> &WaitlistEntryView {
    match outcome {
        Ok(Success::WaitlistEntry(entry)) => entry,
        other => panic!("no entry: {other:?}"),
    }
}

/// A store under the scenario: its writer, and what it keeps of an entry.
trait Subject {
    fn apply(&mut self, batch: Vec<Envelope>, now: UnixMillis) -> Vec<Reply>;
    /// The entry as kept, as of `now`.
    fn entry(&self, id: &str, now: UnixMillis) -> WaitlistEntryView;
}

impl Subject for MemoryStore {
    fn apply(&mut self, batch: Vec<Envelope>, now: UnixMillis) -> Vec<Reply> {
        BatchWriter::apply(self, batch, now).expect("the batch commits")
    }

    fn entry(&self, id: &str, now: UnixMillis) -> WaitlistEntryView {
        let stored = &self.state().entries[&(tenant(), id.to_owned())];
        stored.record.view(now)
    }
}

struct Sqlite {
    store: allot_store::sqlite::SqliteStore,
    writer: allot_store::sqlite::SqliteWriter,
}

impl Subject for Sqlite {
    fn apply(&mut self, batch: Vec<Envelope>, now: UnixMillis) -> Vec<Reply> {
        self.writer.apply(batch, now).expect("the batch commits")
    }

    fn entry(&self, id: &str, now: UnixMillis) -> WaitlistEntryView {
        self.store
            .get_waitlist_entry(&tenant(), id, now)
            .expect("read")
            .expect("the entry is kept")
    }
}

/// A store running the scenario, keeping every outcome.
struct Run<'s, S> {
    subject: &'s mut S,
    outcomes: Vec<Outcome>,
}

impl<S: Subject> Run<'_, S> {
    fn batch(&mut self, commands: Vec<Command>, now: UnixMillis) -> Vec<Outcome> {
        let replies = self
            .subject
            .apply(commands.into_iter().map(envelope).collect(), now);
        let outcomes: Vec<Outcome> = replies
            .into_iter()
            .map(|reply| match reply {
                Reply::Outcome(outcome) => outcome,
                Reply::Rendered { .. } => panic!("no idempotency key was sent"),
            })
            .collect();
        self.outcomes.extend(outcomes.iter().cloned());
        outcomes
    }

    /// One command whose outcome is only compared, with the others, at the end.
    fn step(&mut self, command: Command, now: UnixMillis) {
        self.batch(vec![command], now);
    }

    /// The hold promotion made for an entry.
    fn offer_of(&self, entry_id: &str, now: UnixMillis) -> String {
        self.subject
            .entry(entry_id, now)
            .hold_id
            .expect("the entry was served")
    }
}

/// What the scenario did: every outcome, and each entry joined by its holder.
struct Seen {
    outcomes: Vec<Outcome>,
    entries: BTreeMap<&'static str, String>,
}

/// When the scenario ends: past the first tour date and the concert's waiting deadlines.
const END: UnixMillis = UnixMillis(T0.0 + 21 * 3600 * 1000);

fn scenario(subject: &mut impl Subject) -> Seen {
    let mut run = Run {
        subject,
        outcomes: Vec::new(),
    };
    let mut entries = BTreeMap::new();
    let (strict, skip) = (WaitlistPolicy::Strict, WaitlistPolicy::Skip);
    let (offer, confirm) = (PromotionMode::Offer, PromotionMode::Confirm);

    // A concert of 4 seats: the floor (strict) and the balcony (skip) draw on it. A tour of one
    // seat a day, booked at once when someone's turn comes.
    let made = run.batch(
        vec![
            pool("Concert", None, 4, false, strict, offer),
            pool("Tour", None, 1, true, strict, confirm),
        ],
        T0,
    );
    let (concert, tour) = (pool_id(&made[0]), pool_id(&made[1]));
    let sections = run.batch(
        vec![
            pool("Floor", Some(&concert), 3, false, strict, offer),
            pool("Balcony", Some(&concert), 4, false, skip, offer),
        ],
        T0,
    );
    let (floor, balcony) = (pool_id(&sections[0]), pool_id(&sections[1]));
    let classes = PriorityClasses {
        base: 1,
        classes: BTreeMap::from([("registered".into(), 2), ("private_gold".into(), 3)]),
    };
    run.step(Command::SetPriorityClasses(classes), T0);

    // The concert sells out: 3 held on the floor, 1 on the balcony.
    let sold = run.batch(vec![hold(&floor, 3), hold(&balcony, 1)], at_seconds(1));
    let floor_hold = hold_id(&sold[0]);

    // Four wait: a large balcony request first in line, which cannot fit while the balcony has
    // a seat held; a registered pair; two singles. An unknown class is refused.
    let joined = run.batch(
        vec![
            join(&balcony, "eve", 4, PriorityAsk::Explicit(5)),
            join(&floor, "ana", 1, PriorityAsk::Base),
            join(
                &balcony,
                "bo",
                2,
                PriorityAsk::Classes(vec!["registered".into()]),
            ),
            join(&balcony, "cy", 1, PriorityAsk::Explicit(1)),
            join(&floor, "dee", 1, PriorityAsk::Classes(vec!["vip".into()])),
        ],
        at_seconds(2),
    );
    for (holder, outcome) in ["eve", "ana", "bo", "cy"].into_iter().zip(&joined) {
        entries.insert(holder, entry(outcome).id.clone());
    }

    // The floor's hold goes back: 3 seats of the concert are free, offered across both
    // sections in one order. eve does not fit and the balcony lets bo pass her; bo, then ana
    // get offers; cy finds the concert full again.
    run.step(
        Command::ReleaseHold {
            hold_id: floor_hold,
        },
        at_seconds(10),
    );
    // bo confirms the offer: the entry is accepted, and can no longer be cancelled.
    let bo_offer = run.offer_of(&entries["bo"], at_seconds(11));
    run.step(Command::ConfirmHold { hold_id: bo_offer }, at_seconds(11));
    run.step(
        Command::CancelWaitlistEntry {
            entry_id: entries["bo"].clone(),
        },
        at_seconds(12),
    );

    // ana lets her offer lapse: the sweep expires its hold, and the seat goes to cy.
    run.step(
        Command::SweepExpired,
        at_seconds(10 + OFFER_TTL_SECONDS + 1),
    );
    // cy cancels her offer; its seat is free again, and fin, joining the floor just after,
    // is served at once (eve still fits nowhere).
    let late = at_seconds(10 + OFFER_TTL_SECONDS + 2);
    let cancelled = run.batch(
        vec![
            Command::CancelWaitlistEntry {
                entry_id: entries["cy"].clone(),
            },
            join(&floor, "fin", 1, PriorityAsk::Base),
            Command::CancelWaitlistEntry {
                entry_id: "wait_unknown".into(),
            },
        ],
        late,
    );
    entries.insert("fin", entry(&cancelled[1]).id.clone());

    // The tour's first two dates sell out; fay and gus wait for them. One raise of the session
    // applied to its dates serves both.
    let day = |date: &str| format!("{tour}-{date}");
    let (today, tomorrow, after) = (day("2026-09-21"), day("2026-09-22"), day("2026-09-23"));
    run.batch(vec![hold(&today, 1), hold(&tomorrow, 1)], at_seconds(20));
    let waiting = run.batch(
        vec![
            join(&today, "fay", 1, PriorityAsk::Base),
            join(&tomorrow, "gus", 1, PriorityAsk::Base),
        ],
        at_seconds(21),
    );
    entries.insert("fay", entry(&waiting[0]).id.clone());
    entries.insert("gus", entry(&waiting[1]).id.clone());
    let raise = PoolPatch {
        capacity: Some(Capacity::new(2).expect("valid capacity")),
        apply_to_dates: true,
        ..PoolPatch::default()
    };
    run.step(
        Command::UpdatePool {
            pool_id: tour.clone(),
            patch: raise,
        },
        at_seconds(22),
    );
    // A free date serves at once; a full one puts hal in line.
    let more = run.batch(
        vec![
            join(&after, "ivy", 1, PriorityAsk::Base),
            join(&today, "hal", 1, PriorityAsk::Base),
        ],
        at_seconds(23),
    );
    entries.insert("ivy", entry(&more[0]).id.clone());
    entries.insert("hal", entry(&more[1]).id.clone());

    // The first date ends at midnight: the sweep hands it over and hal's entry expires, long
    // before its own deadline. Later eve's deadline passes.
    run.step(Command::SweepExpired, at_seconds(12 * 3600));
    run.step(Command::SweepExpired, END);
    Seen {
        outcomes: run.outcomes,
        entries,
    }
}

/// Every event as (type, data), in order: the waiting list's own and the alerts the
/// sections' use raised on the way.
fn sqlite_events(store: &allot_store::sqlite::SqliteStore) -> Vec<(String, serde_json::Value)> {
    let page = PageRequest {
        limit: 1_000,
        after: None,
    };
    let events = store.list_events(&tenant(), None, page).expect("read");
    events
        .items
        .into_iter()
        .map(|event| (event.kind, event.data))
        .collect()
}

fn memory_events(memory: &MemoryStore) -> Vec<(String, serde_json::Value)> {
    memory
        .state()
        .events
        .iter()
        .map(|(_, event)| (event.kind.clone(), event.data.clone()))
        .collect()
}

fn open_sqlite(dir: &std::path::Path) -> Sqlite {
    let (store, writer) = allot_store::sqlite::open(dir).expect("the store opens");
    Sqlite {
        store,
        writer: writer.with_sequential_ids_for_tests(),
    }
}

#[test]
fn memory_and_sqlite_keep_waiting_lists_alike() {
    let mut memory = MemoryStore::new();
    let in_memory = scenario(&mut memory);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut sqlite = open_sqlite(dir.path());
    let in_sqlite = scenario(&mut sqlite);

    assert_eq!(in_memory.outcomes.len(), in_sqlite.outcomes.len());
    for (place, (memory, sqlite)) in in_memory
        .outcomes
        .iter()
        .zip(&in_sqlite.outcomes)
        .enumerate()
    {
        assert_eq!(
            format!("{memory:?}"),
            format!("{sqlite:?}"),
            "reply {place} differs"
        );
    }
    assert_eq!(in_memory.entries, in_sqlite.entries);
    assert_eq!(
        memory.state().observe(END),
        sqlite.store.observe(END).expect("observe")
    );
    for id in in_sqlite.entries.values() {
        assert_eq!(memory.entry(id, END), sqlite.entry(id, END), "entry {id}");
    }
    assert_eq!(memory_events(&memory), sqlite_events(&sqlite.store));

    // The scenario did what it says, so that agreeing means something.
    let status = |holder: &str| sqlite.entry(&in_sqlite.entries[holder], END).status;
    let expected = [
        ("eve", EntryStatus::Expired),
        ("ana", EntryStatus::Lapsed),
        ("bo", EntryStatus::Accepted),
        ("cy", EntryStatus::Cancelled),
        ("fin", EntryStatus::Lapsed),
        ("fay", EntryStatus::Confirmed),
        ("gus", EntryStatus::Confirmed),
        ("ivy", EntryStatus::Confirmed),
        ("hal", EntryStatus::Expired),
    ];
    for (holder, expected) in expected {
        assert_eq!(status(holder), expected, "{holder}'s entry");
    }
    let shapes: Vec<String> = in_sqlite
        .outcomes
        .iter()
        .map(|outcome| format!("{outcome:?}"))
        .collect();
    let refused = |fragment: &str| shapes.iter().any(|shape| shape.contains(fragment));
    assert!(refused("field: \"priority_class\""), "an unknown class");
    assert!(
        refused("status: \"accepted\""),
        "cancelling an accepted entry"
    );
    assert!(
        refused("NotFound { kind: \"waitlist entry\""),
        "an unknown entry"
    );
    // Joining answers each waiting entry's place: eve (priority 5) ahead of bo (3) and cy (1).
    let place_of = |holder: &str| {
        shapes
            .iter()
            .find(|shape| shape.contains(&format!("holder: \"{holder}\"")))
            .and_then(|shape| shape.split("position: ").nth(1))
            .map(|rest| rest.split(',').next().unwrap_or_default().to_owned())
    };
    assert_eq!(place_of("eve").as_deref(), Some("Some(1)"));
    assert_eq!(place_of("bo").as_deref(), Some("Some(2)"));
    assert_eq!(place_of("cy").as_deref(), Some("Some(3)"));
    assert_eq!(place_of("ivy").as_deref(), Some("None"), "served at once");
    let kinds: Vec<String> = sqlite_events(&sqlite.store)
        .into_iter()
        .map(|(kind, _)| kind)
        .filter(|kind| kind.starts_with("waitlist."))
        .collect();
    for kind in [
        "waitlist.joined",
        "waitlist.offered",
        "waitlist.offer_accepted",
        "waitlist.offer_lapsed",
        "waitlist.cancelled",
        "waitlist.confirmed",
        "waitlist.expired",
    ] {
        assert!(kinds.iter().any(|seen| seen == kind), "{kind} in {kinds:?}");
    }
}

#[test]
fn a_waiting_list_batch_failing_at_any_change_leaves_the_memory_store_as_it_was() {
    let mut memory = MemoryStore::new();
    let seen = scenario(&mut memory);
    let floor = memory.entry(&seen.entries["fin"], END).pool_id;
    let balcony = memory.entry(&seen.entries["eve"], END).pool_id;
    // kim asks for more of the balcony than it can give while its seats are taken, and waits.
    let kim = BatchWriter::apply(
        &mut memory,
        vec![envelope(join(&balcony, "kim", 4, PriorityAsk::Base))],
        END,
    )
    .expect("committed");
    let kim = match &kim[0] {
        Reply::Outcome(Ok(Success::WaitlistEntry(entry))) => entry.id.clone(),
        other => panic!("no entry: {other:?}"),
    };
    // jo takes the concert's last seat at once; kim gives up; the classes change too.
    let batch = || {
        vec![
            envelope(join(&floor, "jo", 1, PriorityAsk::Base)),
            envelope(Command::CancelWaitlistEntry {
                entry_id: kim.clone(),
            }),
            envelope(Command::SetPriorityClasses(PriorityClasses::default())),
        ]
    };
    let later = UnixMillis(END.0 + 1_000);
    let (failed, replies) = memory
        .fail_at_every_change(batch, later)
        .unwrap_or_else(|problem| panic!("{problem}"));
    let statuses: Vec<String> = replies.iter().map(|reply| format!("{reply:?}")).collect();
    assert!(statuses[0].contains("status: Offered"), "{}", statuses[0]);
    assert!(statuses[1].contains("status: Cancelled"), "{}", statuses[1]);
    assert!(failed >= 8, "every change was tried: {failed}");
}
