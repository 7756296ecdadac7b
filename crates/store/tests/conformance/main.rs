//! One conformance suite, written once and run on every store: each topic's tests are generic
//! over [`harness::StoreUnderTest`], and [`conformance_tests!`] instantiates all of them for one
//! store. After each test the invariants `allot verify` checks are asserted on what the store
//! shows, its own audit (if it has one) must find nothing, and it must show what the in-memory
//! store — the reference — shows after the same commands.
//!
//! - [`harness`]: what the suite needs of a store, the stores it knows, and shared helpers.
//! - [`invariants`]: the audit's facts over what a store shows, and how two stores are compared.
//! - [`hierarchy`]: holds and limits over an event's sections, soft and hard limits, units,
//!   subjects counted once.
//! - [`lifecycle`]: confirm, release, extend; a lapsed hold expires before any decision.
//! - [`idempotency`]: a request repeated under its key, another request under a used key.
//! - [`dates`]: dated sessions — a date made on first use, dates over in their zone.
//! - [`quotas`]: plans, member quotas, bulk quota adjustments as jobs.
//! - [`tenants`]: one tenant never finds another's pools, holds, plans or jobs.
//! - [`tickets`]: attendees imported into sections, tickets issued, regenerated, voided and
//!   scanned at the door.
//! - [`reopen`]: a store restarted (or reopened from disk) keeps every committed change.
//! - [`alerts`]: thresholds alerting once within their throttle, events routed to webhooks and
//!   recipient groups, delivery attempts.
//! - [`waitlists`]: buyers in line for a full event, offers confirmed or lapsing, priority
//!   classes.
//!
//! A new store gets the whole suite with one line: an implementation of `StoreUnderTest` in
//! [`harness`] and `conformance_tests!(name, expression making it);` below. A store that needs
//! a server starts one for the tests (PostgreSQL: `allot-pgtest`) and fails, saying how to
//! install it, when it cannot: a skipped store is an untested one.

mod alerts;
mod dates;
mod harness;
mod hierarchy;
mod idempotency;
mod invariants;
mod lifecycle;
mod quotas;
mod reopen;
mod tenants;
mod tickets;
mod waitlists;

/// `conformance_tests!(store, expression)`: a module `store` with one `#[test]` per topic test,
/// each on a fresh store made by `expression`.
macro_rules! conformance_tests {
    (@topics $($topic:ident { $($test:ident),* $(,)? })*) => {
        $(
            mod $topic {
                $(
                    #[test]
                    fn $test() {
                        crate::harness::check(
                            super::open(),
                            crate::$topic::$test,
                            crate::$topic::$test,
                        );
                    }
                )*
            }
        )*
    };
    ($store:ident, $make:expr) => {
        mod $store {
            #[allow(unused_imports)]
            use crate::harness::*;

            fn open() -> impl crate::harness::StoreUnderTest {
                $make
            }

            conformance_tests!(@topics
                hierarchy {
                    an_events_section_cannot_sell_past_the_events_own_limit,
                    a_hold_across_sections_counts_every_line_against_the_event,
                    the_refusal_names_the_line_that_does_not_fit,
                    a_campaign_quota_sells_into_its_overage_band_with_a_warning,
                    credits_are_not_taken_from_a_seats_pool,
                    a_learner_is_counted_once_per_campaign_pool,
                    a_learner_in_a_two_line_enrolment_counts_once_in_each_pool,
                    a_paused_event_sells_none_of_its_sections,
                    capacity_cannot_be_cut_below_what_is_sold,
                    a_learner_whose_enrolment_lapsed_is_counted_anew,
                    two_lines_on_one_section_count_together,
                }
                lifecycle {
                    a_confirmed_hold_is_sold_and_a_release_gives_it_back,
                    a_cart_past_its_deadline_frees_its_seats_for_the_next_batch_without_a_sweep,
                    an_extended_cart_keeps_its_seats_past_its_first_deadline,
                    a_lapsed_cart_cannot_be_confirmed_extended_or_released,
                    a_sweep_reports_the_carts_it_expired,
                    commands_in_one_batch_are_decided_in_arrival_order,
                    a_cart_keeps_the_price_it_was_placed_at,
                    a_cart_past_its_deadline_reads_as_expired_and_its_seats_free_before_any_batch,
                }
                idempotency {
                    a_repeated_checkout_is_answered_as_the_first_time_and_holds_once,
                    another_request_under_a_used_key_is_refused_and_writes_nothing,
                    one_key_twice_in_one_batch_acts_once,
                    a_key_past_its_window_acts_afresh,
                    a_refused_checkout_replays_its_refusal_even_after_seats_free,
                }
                dates {
                    a_dated_tour_makes_its_date_on_first_use_with_the_sessions_limits,
                    a_session_itself_takes_no_holds,
                    a_date_is_booked_until_it_is_over_in_the_sessions_zone,
                    a_date_already_made_refuses_new_holds_once_it_is_over,
                    a_session_wide_change_reaches_its_dates_only_when_asked,
                    a_pool_without_dates_is_not_addressed_by_date,
                    a_dates_capacity_can_be_changed_before_its_first_booking,
                }
                quotas {
                    a_member_gets_one_quota_from_its_plan,
                    a_member_quota_sells_to_its_plans_hard_limit,
                    a_plan_change_moves_its_members_chunk_by_chunk_and_resumes_after_a_chunk,
                    a_plan_change_without_followers_applies_to_new_members_only,
                    a_bulk_credit_top_up_adds_to_each_quota,
                    a_job_ends_once,
                    an_organisations_commitment_binds_its_members_quotas,
                }
                tenants {
                    another_tenants_pool_is_not_found,
                    another_tenants_hold_is_not_found,
                    another_tenants_plan_and_job_are_not_found,
                    idempotency_keys_belong_to_their_tenant,
                }
                tickets {
                    an_import_fails_bad_rows_alone_and_an_update_keeps_what_a_row_lacks,
                    a_full_section_answers_no_capacity_and_is_never_oversold,
                    a_regenerated_ticket_keeps_its_seat_and_admits_once_with_its_new_token,
                    a_voided_ticket_gives_its_seat_back_and_answers_void_at_the_door,
                }
                waitlists {
                    a_full_event_puts_buyers_in_line_and_a_released_cart_offers_them_seats,
                    an_offer_that_lapses_goes_to_the_next_in_line,
                    priority_classes_put_registered_buyers_first,
                }
                alerts {
                    a_section_filling_up_alerts_once_per_threshold_and_is_quiet_within_its_throttle,
                    alerts_reach_the_webhooks_that_subscribed_and_attempts_move_each_delivery,
                }
                reopen {
                    every_committed_change_survives_a_restart,
                    a_restarted_store_decides_from_what_it_committed,
                    a_cart_placed_before_a_restart_expires_after_it,
                    a_sessions_dates_survive_a_restart_with_their_bookings,
                }
            );
        }
    };
}

conformance_tests!(memory, Memory::new());
conformance_tests!(sqlite, Sqlite::new());
conformance_tests!(postgres, Postgres::new());
