//! Short seeds of the simulation, as CI runs them: each must keep every invariant, and a seed
//! must give the same history twice.

use allot_sim::{Config, run};

fn short(seed: u64) -> Config {
    Config {
        full_check_every: 8,
        ..Config::new(seed, 6_000)
    }
}

#[test]
fn short_seeds_keep_every_invariant_with_faults() {
    for seed in 1..=8 {
        let report = run(&short(seed)).unwrap_or_else(|failure| panic!("{failure}"));
        assert!(
            report.holds_placed > 100,
            "seed {seed} placed holds: {report:?}"
        );
    }
}

#[test]
fn a_seed_with_failing_persists_leaves_nothing_of_the_failed_batches() {
    let report = run(&short(11)).unwrap_or_else(|failure| panic!("{failure}"));
    assert!(
        report.failed_batches > 0,
        "the seed injected persist failures: {report:?}"
    );
}

#[test]
fn a_seed_with_crashes_restarts_from_what_was_committed() {
    let report = run(&short(12)).unwrap_or_else(|failure| panic!("{failure}"));
    assert!(
        report.crashes > 0,
        "the seed crashed the writer: {report:?}"
    );
}

#[test]
fn holds_expire_when_the_clock_jumps() {
    let report = run(&short(13)).unwrap_or_else(|failure| panic!("{failure}"));
    assert!(
        report.holds_expired > 0,
        "holds expired in sweeps: {report:?}"
    );
}

#[test]
fn without_faults_nothing_fails_and_nothing_crashes() {
    let config = Config {
        faults: false,
        ..short(14)
    };
    let report = run(&config).unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!((report.failed_batches, report.crashes), (0, 0));
}

#[test]
fn the_same_seed_gives_the_same_history_and_another_seed_another() {
    let first = run(&short(21)).expect("seed 21 passes");
    let again = run(&short(21)).expect("seed 21 passes again");
    let other = run(&short(22)).expect("seed 22 passes");
    assert_eq!(first.history, again.history);
    assert_eq!(
        (first.batches, first.failed_batches, first.crashes),
        (again.batches, again.failed_batches, again.crashes)
    );
    assert_ne!(first.history, other.history);
}

#[test]
fn a_failing_run_names_the_command_that_replays_it() {
    let config = Config::new(7, 500);
    assert_eq!(config.replay_command(), "allot simulate --seed 7 --ops 500");
    let quiet = Config {
        faults: false,
        ..config
    };
    assert_eq!(
        quiet.replay_command(),
        "allot simulate --seed 7 --ops 500 --no-faults"
    );
}

#[test]
fn seeds_reach_dated_sessions_members_and_bulk_quota_jobs() {
    let report = run(&short(15)).unwrap_or_else(|failure| panic!("{failure}"));
    assert!(
        report.holds_on_dates > 0,
        "holds on a tour's dates: {report:?}"
    );
    assert!(report.members > 0, "members given a quota: {report:?}");
    assert!(report.quota_chunks > 0, "quota chunks landed: {report:?}");
}

#[test]
fn seeds_issue_graduation_tickets_and_scan_them() {
    // A ticket must be issued and its latest token scanned: rare enough in one short seed that
    // three are summed.
    let (mut tickets, mut admitted) = (0, 0);
    for seed in 16..=18 {
        let report = run(&short(seed)).unwrap_or_else(|failure| panic!("{failure}"));
        tickets += report.tickets;
        admitted += report.admitted;
    }
    assert!(tickets > 0, "tickets issued: {tickets}");
    assert!(admitted > 0, "scans that admitted: {admitted}");
}

#[test]
fn seeds_put_buyers_in_line_and_serve_them_as_seats_free() {
    let report = run(&short(17)).unwrap_or_else(|failure| panic!("{failure}"));
    assert!(report.joined > 0, "buyers joined waiting lists: {report:?}");
    assert!(report.served > 0, "entries served by promotion: {report:?}");
}
