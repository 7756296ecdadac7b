//! Waiting lists: a new entry's priority, and what a settled offer does to its entry.

use crate::command::{Failure, PriorityRequest};
use crate::model::LedgerKind;
use allot_core::waitlist::{self, EntryStatus, PriorityClasses};

/// A new entry's priority: explicit, the tenant's base, or the base plus each named class's
/// bonus. `classes` is asked for only when the request needs the tenant's classes.
pub fn priority_of(
    request: &PriorityRequest,
    classes: impl FnOnce() -> PriorityClasses,
) -> Result<i64, Failure> {
    let (priority, field) = match request {
        PriorityRequest::Explicit(priority) => (waitlist::check_priority(*priority), "priority"),
        PriorityRequest::Base => (Ok(classes().base), "priority"),
        PriorityRequest::Classes(names) => (classes().priority_of(names), "priority_class"),
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
        let request = PriorityRequest::Classes(vec!["registered".into(), "private_gold".into()]);
        assert_eq!(priority_of(&request, tour_classes), Ok(6));
        assert_eq!(priority_of(&PriorityRequest::Base, tour_classes), Ok(1));
    }

    #[test]
    fn an_unknown_class_names_the_class_field_and_explicit_needs_no_classes() {
        let unknown = priority_of(&PriorityRequest::Classes(vec!["vip".into()]), tour_classes);
        assert!(
            matches!(unknown, Err(Failure::Invalid { field, .. }) if field == "priority_class")
        );
        let explicit = priority_of(&PriorityRequest::Explicit(4), || {
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
}
