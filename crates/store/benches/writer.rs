//! The writer alone, in process, durable (WAL, synchronous = FULL): how many holds per second one
//! `BatchWriter` applies on one hot pool and spread over 10,000 pools, at several batch sizes.
//!
//! Run: `cargo bench -p allot-store --bench writer` (add `-- --quick` for a short run, and
//! `--pools=N --batch=N` for one configuration).

use allot_core::{Capacity, HoldLine, LimitPct, PoolId, Quantity, TtlSeconds, UnixMillis};
use allot_store::command::NewPool;
use allot_store::{BatchWriter, Command, Envelope, Reply, Success, TenantId};
use std::time::Instant;

// The allocator `allot serve` runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn envelope(tenant: &TenantId, command: Command) -> Envelope {
    Envelope {
        tenant: tenant.clone(),
        actor: Some("key_bench".into()),
        command,
        idempotency: None,
    }
}

fn create_pools(
    writer: &mut dyn BatchWriter,
    tenant: &TenantId,
    count: usize,
    now: UnixMillis,
) -> Vec<PoolId> {
    let mut ids = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(4096) {
        let batch = chunk
            .iter()
            .map(|index| {
                envelope(
                    tenant,
                    Command::CreatePool(NewPool {
                        name: format!("pool {index}"),
                        unit: "units".into(),
                        parent_id: None,
                        capacity: Capacity::new(1_000_000_000_000).expect("valid capacity"),
                        hard_limit_pct: LimitPct::HUNDRED,
                        soft_limit_pct: LimitPct::HUNDRED,
                        price: None,
                        metadata: None,
                        per_date: false,
                        time_zone: None,
                        waitlist: Default::default(),
                        thresholds: None,
                    }),
                )
            })
            .collect();
        for reply in writer.apply(batch, now).expect("pools are created") {
            match reply {
                Reply::Outcome(Ok(Success::Pool(pool))) => ids.push(PoolId(pool.id)),
                other => panic!("unexpected reply {other:?}"),
            }
        }
    }
    ids
}

/// Applies `total` single-unit holds in batches of `batch_size`, picking pools round-robin.
fn run(
    writer: &mut dyn BatchWriter,
    tenant: &TenantId,
    pools: &[PoolId],
    batch_size: usize,
    total: usize,
    now: UnixMillis,
) -> f64 {
    let started = Instant::now();
    let mut done = 0;
    let mut next_pool = 0;
    while done < total {
        let size = batch_size.min(total - done);
        let batch = (0..size)
            .map(|_| {
                let pool = pools[next_pool % pools.len()].clone();
                next_pool += 1;
                envelope(
                    tenant,
                    Command::PlaceHold {
                        lines: vec![HoldLine {
                            pool_id: pool,
                            quantity: Quantity::new(1).expect("valid quantity"),
                        }],
                        ttl: TtlSeconds::DEFAULT,
                        holder: None,
                        confirm: false,
                        extras: Default::default(),
                    },
                )
            })
            .collect();
        let replies = writer.apply(batch, now).expect("the batch commits");
        assert!(
            replies
                .iter()
                .all(|r| matches!(r, Reply::Outcome(Ok(Success::Hold { .. })))),
            "every hold fits"
        );
        done += size;
    }
    total as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|arg| arg == "--quick");
    // `--pools=N` and `--batch=N` run one configuration only (for profiling).
    let only = |name: &str| -> Option<usize> {
        args.iter()
            .find_map(|arg| arg.strip_prefix(&format!("--{name}="))?.parse().ok())
    };
    let total = if quick { 20_000 } else { 200_000 };
    let rounds = if quick { 1 } else { 3 };
    let now = UnixMillis(1_790_000_000_000);
    let tenant = TenantId("ten_bench".into());
    println!(
        "writer benchmark: {total} holds per run, median of {rounds} runs, WAL + synchronous=FULL"
    );
    println!("{:<8} {:>10} {:>14}", "pools", "batch", "holds/s");
    let pool_counts = only("pools").map_or(vec![1usize, 10_000], |n| vec![n]);
    let batch_sizes = only("batch").map_or(vec![1usize, 64, 512, 4096], |n| vec![n]);
    for &pool_count in &pool_counts {
        for &batch_size in &batch_sizes {
            // Batches of 1 fsync per hold: fewer of them, or the run takes minutes.
            let total = if batch_size == 1 { total / 20 } else { total };
            let mut rates = Vec::new();
            for _ in 0..rounds {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let (_store, mut writer) =
                    allot_store::sqlite::open(dir.path()).expect("the store opens");
                let pools = create_pools(&mut writer, &tenant, pool_count, now);
                rates.push(run(&mut writer, &tenant, &pools, batch_size, total, now));
            }
            rates.sort_by(f64::total_cmp);
            println!(
                "{:<8} {:>10} {:>14.0}",
                pool_count,
                batch_size,
                rates[rates.len() / 2]
            );
        }
    }
}
