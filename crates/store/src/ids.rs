//! How a store names what it creates. In production ids are time-ordered and unique without
//! coordination (UUIDv7); a simulation, and a test that compares two stores, count them instead,
//! so the same commands give the same ids in every store and every run.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ids {
    /// `hold_0190…`: a UUIDv7, time-ordered and unique across nodes.
    TimeOrdered,
    /// `hold_000000000000002a`: one more than the last id made, in any prefix.
    Sequential { last: u64 },
}

impl Ids {
    pub fn sequential() -> Self {
        Ids::Sequential { last: 0 }
    }

    pub fn next(&mut self, prefix: &str) -> String {
        match self {
            Ids::TimeOrdered => format!("{prefix}_{}", uuid::Uuid::now_v7().simple()),
            Ids::Sequential { last } => {
                *last += 1;
                format!("{prefix}_{:016x}", *last)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_ids_follow_each_other_across_prefixes() {
        let mut ids = Ids::sequential();
        assert_eq!(ids.next("pool"), "pool_0000000000000001");
        assert_eq!(ids.next("hold"), "hold_0000000000000002");
    }

    #[test]
    fn time_ordered_ids_are_unique_and_sort_by_time() {
        let mut ids = Ids::TimeOrdered;
        let (first, second) = (ids.next("hold"), ids.next("hold"));
        assert_ne!(first, second);
        assert!(first < second, "{first} sorts before {second}");
    }
}
