//! Properties of threshold alerts over random walks of use: a threshold fires only on the step
//! that crosses it upward, never twice within its throttle interval, and every upward crossing
//! outside the interval fires.

use allot_core::UnixMillis;
use allot_core::thresholds::{Usage, default_thresholds, firing};
use proptest::prelude::*;

proptest! {
    #[test]
    fn thresholds_fire_exactly_on_unthrottled_upward_crossings(
        capacity in 1i64..1_000,
        steps in proptest::collection::vec((0i64..1_300, 0i64..4 * 3_600_000), 1..80),
    ) {
        let thresholds = default_thresholds();
        let mut last_fired = vec![None; thresholds.len()];
        let mut now = UnixMillis(1_790_000_000_000);
        let mut used = 0i64;
        for (pct_of_capacity_x10, elapsed_ms) in steps {
            now = UnixMillis(now.0 + elapsed_ms);
            let next = capacity * pct_of_capacity_x10 / 1_000;
            let fired = firing(
                &thresholds,
                Usage { used, capacity },
                Usage { used: next, capacity },
                &last_fired,
                now,
            );
            for (i, threshold) in thresholds.iter().enumerate() {
                let crossed = used * 100 < capacity * i64::from(threshold.pct)
                    && next * 100 >= capacity * i64::from(threshold.pct);
                let throttled = last_fired[i]
                    .is_some_and(|at: UnixMillis| now.0 - at.0 < threshold.throttle_seconds * 1000);
                prop_assert_eq!(fired.contains(&i), crossed && !throttled, "threshold {}%", threshold.pct);
            }
            for i in fired {
                last_fired[i] = Some(now);
            }
            used = next;
        }
    }
}
