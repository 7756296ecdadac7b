//! Waiting lists: a new entry's priority, whether it may be cancelled, what serving it makes,
//! and what a settled offer does to its entry.

use crate::command::{Failure, PriorityAsk};
use crate::model::LedgerKind;
use allot_core::HoldStatus;
use allot_core::waitlist::{self, EntryStatus, PriorityClasses, PromotionMode};

/// A new entry's priority: explicit, the tenant's base, or the base plus each named class's
/// bonus. `classes` is asked for only when the request needs the tenant's classes.
pub fn priority_of(
    request: &PriorityAsk,
    classes: impl FnOnce() -> PriorityClasses,
) -> Result<i64, Failure> {
    let (priority, field) = match request {
        PriorityAsk::Explicit(priority) => (waitlist::check_priority(*priority), "priority"),
        PriorityAsk::Base => (Ok(classes().base), "priority"),
        PriorityAsk::Classes(names) => (classes().priority_of(names), "priority_class"),
    };
    priority.map_err(|error| Failure::Invalid {
        field: field.to_owned(),
        message: error.to_string(),
    })
}

/// An offer's hold was confirmed, released or expired: the entry is accepted, declined or
/// lapsed, with the event that says so. Other ledger kinds do not settle an offer.
pub fn offer_settlement(kind: LedgerKind) -> Option<(EntryStatus, &'static str)> {
    match kind {
        LedgerKind::Confirm => Some((EntryStatus::Accepted, "waitlist.offer_accepted")),
        LedgerKind::Release => Some((EntryStatus::Declined, "waitlist.offer_declined")),
        LedgerKind::Expire => Some((EntryStatus::Lapsed, "waitlist.offer_lapsed")),
        LedgerKind::Hold | LedgerKind::Adjust => None,
    }
}

/// Whether an entry, stored as `stored` with its deadline at `expires_at`, may be cancelled at
/// `now`; the refusal names the status it has then (a waiting entry past its deadline reads as
/// expired, even before the sweeper writes it down).
pub fn check_cancel(
    stored: EntryStatus,
    expires_at: allot_core::UnixMillis,
    now: allot_core::UnixMillis,
) -> Result<EntryStatus, Failure> {
    let status = stored.at(expires_at, now);
    if status.can_cancel() {
        Ok(status)
    } else {
        Err(Failure::Conflict {
            kind: "waitlist entry",
            status: status.as_str(),
        })
    }
}

/// What serving an entry makes in each mode: the hold's status, the entry's, and the event.
/// An offer holds the capacity until the holder confirms it; confirm mode books it at once.
pub fn served_as(mode: PromotionMode) -> (HoldStatus, EntryStatus, &'static str) {
    match mode {
        PromotionMode::Offer => (HoldStatus::Held, EntryStatus::Offered, "waitlist.offered"),
        PromotionMode::Confirm => (
            HoldStatus::Confirmed,
            EntryStatus::Confirmed,
            "waitlist.confirmed",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn tour_classes() -> PriorityClasses {
        PriorityClasses {
            base: 1,
            classes: BTreeMap::from([("registered".into(), 2), ("private_gold".into(), 3)]),
        }
    }

    #[test]
    fn classes_add_their_bonuses_to_the_base() {
        let request = PriorityAsk::Classes(vec!["registered".into(), "private_gold".into()]);
        assert_eq!(priority_of(&request, tour_classes), Ok(6));
        assert_eq!(priority_of(&PriorityAsk::Base, tour_classes), Ok(1));
    }

    #[test]
    fn an_unknown_class_names_the_class_field_and_explicit_needs_no_classes() {
        let unknown = priority_of(&PriorityAsk::Classes(vec!["vip".into()]), tour_classes);
        assert!(
            matches!(unknown, Err(Failure::Invalid { field, .. }) if field == "priority_class")
        );
        let explicit = priority_of(&PriorityAsk::Explicit(4), || {
            panic!("explicit priorities read no classes")
        });
        assert_eq!(explicit, Ok(4));
    }

    #[test]
    fn each_end_of_an_offer_settles_its_entry_once() {
        assert_eq!(
            offer_settlement(LedgerKind::Confirm),
            Some((EntryStatus::Accepted, "waitlist.offer_accepted"))
        );
        assert_eq!(
            offer_settlement(LedgerKind::Release).map(|s| s.0),
            Some(EntryStatus::Declined)
        );
        assert_eq!(
            offer_settlement(LedgerKind::Expire).map(|s| s.0),
            Some(EntryStatus::Lapsed)
        );
        assert_eq!(offer_settlement(LedgerKind::Hold), None);
        assert_eq!(offer_settlement(LedgerKind::Adjust), None);
    }

    #[test]
    fn an_entry_past_its_deadline_cannot_be_cancelled_even_before_the_sweep() {
        use allot_core::UnixMillis;
        let (deadline, before, after) = (UnixMillis(1_000), UnixMillis(999), UnixMillis(1_000));
        assert_eq!(
            check_cancel(EntryStatus::Waiting, deadline, before),
            Ok(EntryStatus::Waiting)
        );
        assert_eq!(
            check_cancel(EntryStatus::Waiting, deadline, after),
            Err(Failure::Conflict {
                kind: "waitlist entry",
                status: "expired"
            })
        );
        // An offer's own deadline is its hold's: the entry's does not end it.
        assert_eq!(
            check_cancel(EntryStatus::Offered, deadline, after),
            Ok(EntryStatus::Offered)
        );
        assert!(check_cancel(EntryStatus::Accepted, deadline, before).is_err());
    }

    #[test]
    fn an_offer_holds_and_confirm_mode_books_at_once() {
        assert_eq!(
            served_as(PromotionMode::Offer),
            (HoldStatus::Held, EntryStatus::Offered, "waitlist.offered")
        );
        assert_eq!(
            served_as(PromotionMode::Confirm),
            (
                HoldStatus::Confirmed,
                EntryStatus::Confirmed,
                "waitlist.confirmed"
            )
        );
    }
}
