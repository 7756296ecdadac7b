//! Idempotency keys: a checkout retried under its key is answered exactly as the first time and
//! acts once; another request under a key still in its window is refused; past the window the
//! key is used afresh.

use crate::harness::*;
use allot_core::UnixMillis;
use allot_store::*;

/// The window a key is honoured for (24 h).
const WINDOW_MS: i64 = 24 * HOUR;

/// `command` under `key`, its request summed up as `request`. The answer kept is the outcome
/// as text, hold id included, so a replay shows whose answer it is.
pub fn keyed(tenant: &TenantId, command: impl Into<Command>, key: &str, request: &str) -> Envelope {
    Envelope {
        idempotency: Some(Idempotency {
            key: key.to_owned(),
            request_hash: request.to_owned(),
            render: Box::new(|outcome: &Outcome| StoredResponse {
                status: if outcome.is_ok() { 201 } else { 409 },
                body: format!("{outcome:?}").into_bytes(),
            }),
        }),
        ..envelope(tenant, command)
    }
}

/// The response a reply rendered, and whether it was replayed.
pub fn rendered(reply: Reply) -> (StoredResponse, bool) {
    match reply {
        Reply::Rendered { response, replayed } => (response, replayed),
        Reply::Outcome(outcome) => panic!("not rendered: {outcome:?}"),
    }
}

fn one<S: StoreUnderTest>(run: &mut Run<S>, envelope: Envelope, now: UnixMillis) -> Reply {
    run.apply(vec![envelope], now).pop().expect("one reply")
}

/// A buyer's checkout is sent again after a lost answer: the second answer is the first one,
/// word for word, and only one cart holds seats.
pub fn a_repeated_checkout_is_answered_as_the_first_time_and_holds_once<S: StoreUnderTest>(
    run: &mut Run<S>,
) {
    let event = run.create(&acme(), pool("Concert", 10), T0);
    let checkout = || {
        keyed(
            &acme(),
            order(&event.id, 4),
            "checkout-ana",
            "POST /holds 4",
        )
    };
    let (first, replayed) = rendered(one(run, checkout(), at(SECOND)));
    assert!(!replayed);
    assert_eq!(first.status, 201);
    let (again, replayed) = rendered(one(run, checkout(), at(5 * SECOND)));
    assert!(replayed, "answered from the key");
    assert_eq!(again, first);
    assert_eq!(run.figures(&acme(), &event.id), (4, 0, 6));
    assert_eq!(run.observe().holds.len(), 1, "one cart");
}

/// The same key sent with another request is refused as a mismatch and writes nothing; the
/// first request under it still replays.
pub fn another_request_under_a_used_key_is_refused_and_writes_nothing<S: StoreUnderTest>(
    run: &mut Run<S>,
) {
    let event = run.create(&acme(), pool("Concert", 10), T0);
    let (first, _) = rendered(one(
        run,
        keyed(
            &acme(),
            order(&event.id, 4),
            "checkout-ana",
            "POST /holds 4",
        ),
        at(SECOND),
    ));
    let before = run.observe();
    let reply = one(
        run,
        keyed(
            &acme(),
            order(&event.id, 6),
            "checkout-ana",
            "POST /holds 6",
        ),
        at(2 * SECOND),
    );
    assert!(
        matches!(reply, Reply::Outcome(Err(Failure::IdempotencyMismatch))),
        "{reply:?}"
    );
    assert_eq!(run.observe(), before, "a mismatch writes nothing");
    let (again, replayed) = rendered(one(
        run,
        keyed(
            &acme(),
            order(&event.id, 4),
            "checkout-ana",
            "POST /holds 4",
        ),
        at(3 * SECOND),
    ));
    assert!(replayed);
    assert_eq!(again, first);
}

/// A client that sends one checkout twice into the same batch gets one cart: the second copy
/// replays the first's answer, and a different request under that key in the batch is refused.
pub fn one_key_twice_in_one_batch_acts_once<S: StoreUnderTest>(run: &mut Run<S>) {
    let event = run.create(&acme(), pool("Concert", 10), T0);
    let checkout = || keyed(&acme(), order(&event.id, 3), "checkout-bo", "POST /holds 3");
    let mut replies = run
        .apply(
            vec![
                checkout(),
                checkout(),
                keyed(&acme(), order(&event.id, 1), "checkout-bo", "POST /holds 1"),
            ],
            at(SECOND),
        )
        .into_iter();
    let (first, replayed) = rendered(replies.next().expect("three replies"));
    assert!(!replayed);
    let (second, replayed) = rendered(replies.next().expect("three replies"));
    assert!(replayed);
    assert_eq!(second, first);
    let third = replies.next().expect("three replies");
    assert!(
        matches!(third, Reply::Outcome(Err(Failure::IdempotencyMismatch))),
        "{third:?}"
    );
    assert_eq!(run.figures(&acme(), &event.id), (3, 0, 7));
    assert_eq!(run.observe().holds.len(), 1);
}

/// A key is honoured for 24 hours: a day later the same key and request act again.
pub fn a_key_past_its_window_acts_afresh<S: StoreUnderTest>(run: &mut Run<S>) {
    let event = run.create(&acme(), pool("Weekly class", 10), T0);
    let booking = || {
        keyed(
            &acme(),
            order(&event.id, 2).confirmed(),
            "class-ana",
            "POST /holds 2",
        )
    };
    let (first, _) = rendered(one(run, booking(), at(SECOND)));
    let (within, replayed) = rendered(one(run, booking(), at(WINDOW_MS)));
    assert!(replayed, "still within the window");
    assert_eq!(within, first);
    let (later, replayed) = rendered(one(run, booking(), at(SECOND + WINDOW_MS)));
    assert!(!replayed, "past the window the key is fresh");
    assert_ne!(later, first, "a new booking, a new answer");
    assert_eq!(run.figures(&acme(), &event.id), (0, 4, 6));
}

/// A checkout refused for want of seats is answered the same refusal when retried under its
/// key, even once seats have freed: the key replays the answer, it does not try again.
pub fn a_refused_checkout_replays_its_refusal_even_after_seats_free<S: StoreUnderTest>(
    run: &mut Run<S>,
) {
    let event = run.create(&acme(), pool("Concert", 4), T0);
    let cart = run.hold(&acme(), order(&event.id, 4), T0);
    let checkout = || keyed(&acme(), order(&event.id, 2), "checkout-bo", "POST /holds 2");
    let (first, replayed) = rendered(one(run, checkout(), at(SECOND)));
    assert_eq!((first.status, replayed), (409, false));
    placed(run.send(&acme(), release(&cart), at(2 * SECOND)));
    let (again, replayed) = rendered(one(run, checkout(), at(3 * SECOND)));
    assert!(replayed);
    assert_eq!(again, first);
    assert_eq!(
        run.figures(&acme(), &event.id),
        (0, 0, 4),
        "nothing was held"
    );
}
