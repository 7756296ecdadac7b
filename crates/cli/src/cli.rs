//! Flags and environment variables. Every setting of `serve` can also come from `ALLOT_*`.

use allot_store::DatabaseUrl;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Parser)]
#[command(
    name = "allot",
    version,
    about = "allot: capacity, quota and reservation server",
    long_about = "allot answers \"may this person have N of that, and hold it while they pay?\" \
                  correctly under a rush, durably, for many tenants at once."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API, on the embedded SQLite store unless --database names another.
    #[command(
        after_help = "Examples:\n  allot serve\n  allot serve --listen 0.0.0.0:7878 --data-dir /var/lib/allot\n  allot serve --database sqlite:///var/lib/allot/allot.db --data-dir /etc/allot\n  ALLOT_ADMIN_TOKEN=secret allot serve --log-format json"
    )]
    Serve(ServeArgs),
    /// Recompute every pool's counters from the ledger and the live holds; exit 1 on any mismatch.
    #[command(
        after_help = "Examples:\n  allot verify --data-dir ./allot-data\n  allot verify --database sqlite:///var/lib/allot/allot.db"
    )]
    Verify(VerifyArgs),
    /// Copy a data directory, while its server runs, into a new one a server can start from:
    /// the database as one consistent snapshot, checked, with the ticket key and admin token.
    #[command(
        after_help = "Examples:\n  allot backup --data-dir /var/lib/allot --to /backups/allot-2026-12-02\n  allot backup --database sqlite:///srv/allot.db --data-dir /etc/allot --to /backups/allot-2026-12-02\n\nTo restore: stop the server and start it with --data-dir pointing at the backup (and no --database)."
    )]
    Backup(BackupArgs),
    /// Drive a running server with load, then check nothing was oversold or lost; exit 2 if so.
    #[command(
        after_help = "Examples:\n  allot bench --admin-token $TOKEN --scenario hot --concurrency 256 --duration 10\n  allot bench --admin-token $TOKEN --scenario rush --units 10000 --concurrency 256\n  allot bench --api-key $KEY --scenario spread --pools 10000 --json"
    )]
    Bench(BenchArgs),
    /// Tickets of an event on a running server: bulk generation with a live progress bar.
    #[command(
        subcommand,
        after_help = "Examples:\n  ALLOT_URL=http://127.0.0.1:7878 ALLOT_API_KEY=$KEY allot tickets generate --event pool_0193...\n  allot tickets generate --help"
    )]
    Tickets(crate::tickets::TicketsCommand),
    /// Attendees of an event on a running server: CSV import with a progress bar.
    #[command(
        subcommand,
        after_help = "Examples:\n  ALLOT_URL=http://127.0.0.1:7878 ALLOT_API_KEY=$KEY allot attendees import --event pool_0193... students.csv\n  allot attendees import --help"
    )]
    Attendees(crate::tickets::AttendeesCommand),
    /// Run the decision engine against the in-memory store on random, seeded workloads — with
    /// failing persists and crashes — checking its invariants after every batch; exit 1 on the
    /// first broken one, naming the command that replays it.
    #[command(
        after_help = "Examples:\n  allot simulate --seed 42 --ops 1000000\n  allot simulate --seeds 20 --ops 100000\n  allot simulate --seed 7 --ops 5000 --no-faults"
    )]
    Simulate(SimulateArgs),
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The seed of the first run; the same seed gives the same history.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How many runs, with seeds from --seed upwards.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub seeds: u64,
    /// Commands each run sends.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub ops: u64,
    /// Inject no failing persists and no crashes.
    #[arg(long)]
    pub no_faults: bool,
    /// Check every pool, hold and ledger entry every this many batches (and at the end).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    pub full_check_every: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ALLOT_LISTEN", default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,
    /// Directory for the generated admin token and ticket key, and for the SQLite database
    /// (`allot.db`) unless --database names another.
    #[arg(long, env = "ALLOT_DATA_DIR", default_value = "./allot-data")]
    pub data_dir: PathBuf,
    /// The store, as a URL: `sqlite://PATH` names a database file, relative
    /// (sqlite://./allot-data/allot.db) or absolute (sqlite:///var/lib/allot/allot.db);
    /// `postgres://USER:PASSWORD@HOST/DATABASE` names a PostgreSQL database (`serve` only:
    /// verify and backup do not read it yet). Unset: `allot.db` inside --data-dir. Given with
    /// --data-dir, this names the database and the data directory still keeps the admin token
    /// and ticket key.
    #[arg(long, value_name = "URL", env = DATABASE_URL_ENV, hide_env_values = true)]
    pub database: Option<String>,
    /// Super-admin token for POST /v1/tenants. Unset: generated on first start and kept in the
    /// data directory (mode 0600). Only from the environment, so it never shows in `ps`.
    #[arg(skip)]
    pub admin_token: Option<String>,
    /// How often the sweeper expires due holds, in milliseconds; 0 turns it off (expired holds
    /// still never block anyone).
    #[arg(long, env = "ALLOT_SWEEP_INTERVAL_MS", default_value_t = 250)]
    pub sweep_interval_ms: u64,
    /// Most commands the writer applies in one transaction.
    #[arg(long, env = "ALLOT_MAX_BATCH", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub max_batch: u64,
    /// Most write requests that may wait for the writer. A write that finds the queue full is
    /// answered at once with 503 and Retry-After (nothing applied) instead of waiting longer and
    /// longer; the server's own workers wait for room instead.
    #[arg(long, env = "ALLOT_WRITER_QUEUE", default_value_t = allot_server::writer::DEFAULT_QUEUE_CAPACITY as u64, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub writer_queue: u64,
    /// Longest a write request may wait in the writer's queue, in milliseconds; one that waited
    /// longer is answered 503 with Retry-After and not applied.
    #[arg(long, env = "ALLOT_WRITER_QUEUE_TIMEOUT_MS", default_value_t = allot_server::writer::DEFAULT_QUEUE_TIMEOUT.as_millis() as u64, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub writer_queue_timeout_ms: u64,
    /// Seconds per place in line for waiting-list estimates when a pool has promoted no one in
    /// the last 24 h (after that, estimates come from the measured promotion rate).
    #[arg(long, env = "ALLOT_WAITLIST_FALLBACK_WAIT_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub waitlist_fallback_wait_seconds: u64,
    /// SMTP server for alert e-mail: `smtp://user:pass@host:587?tls=required` (STARTTLS),
    /// `smtps://user:pass@host:465` (TLS), or `smtp://host:25` (a local relay). Unset: no e-mail.
    #[arg(long, env = "ALLOT_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Let webhooks go to private and local addresses (localhost, 10.0.0.0/8, 192.168.0.0/16,
    /// 169.254.0.0/16, …). Off by default, so a tenant cannot make the server call into the
    /// network it runs in; turn it on when your receivers are on that network.
    #[arg(long, env = "ALLOT_WEBHOOK_ALLOW_PRIVATE", default_value_t = false)]
    pub webhook_allow_private: bool,
    /// An origin browsers may call the API from, such as https://app.example.com (repeat it, or
    /// separate several with commas; `*` for any). Unset: no CORS headers, same-origin only.
    #[arg(
        long = "cors-origin",
        env = "ALLOT_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Requests per second each API key may make, in bursts of as many; over it a request gets
    /// 429 with Retry-After. 0: no limit. The super-admin token is never limited.
    #[arg(long, env = "ALLOT_RATE_LIMIT", default_value_t = 0)]
    pub rate_limit: u32,
    /// The From address of alert e-mail.
    #[arg(
        long,
        env = "ALLOT_SMTP_FROM",
        default_value = "allot <allot@localhost>"
    )]
    pub smtp_from: String,
    /// Log format.
    #[arg(long, env = "ALLOT_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// The base of tickets' magic links (your door or ticket page): a link is this, `/`, and
    /// the ticket's token. The key tokens are derived with comes from ALLOT_TICKET_KEY, else the
    /// data directory's `ticket-key` file (generated on first start, mode 0600).
    #[arg(long, env = "ALLOT_TICKET_LINK_BASE", default_value = allot_server::tickets::DEFAULT_LINK_BASE)]
    pub ticket_link_base: String,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The data directory a server uses (it may be running): its database, unless --database
    /// names another, and its ticket key and admin token, which the backup copies.
    #[arg(long, env = "ALLOT_DATA_DIR", default_value = "./allot-data")]
    pub data_dir: PathBuf,
    /// The store to copy, as a URL (`sqlite://PATH`; see `allot serve --help`). Unset:
    /// `allot.db` inside --data-dir. Given with --data-dir, the database comes from here and
    /// the ticket key and admin token still from the data directory.
    #[arg(long, value_name = "URL", env = DATABASE_URL_ENV, hide_env_values = true)]
    pub database: Option<String>,
    /// The new directory to write the backup to; it must not exist yet.
    #[arg(long)]
    pub to: PathBuf,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The data directory a server uses (it may be running); its `allot.db` is checked unless
    /// --database names another.
    #[arg(long, env = "ALLOT_DATA_DIR", default_value = "./allot-data")]
    pub data_dir: PathBuf,
    /// The store to check, as a URL (`sqlite://PATH`; see `allot serve --help`). Unset:
    /// `allot.db` inside --data-dir; given, it wins over --data-dir.
    #[arg(long, value_name = "URL", env = DATABASE_URL_ENV, hide_env_values = true)]
    pub database: Option<String>,
}

/// The environment variable `--database` may come from.
pub const DATABASE_URL_ENV: &str = "ALLOT_DATABASE_URL";

/// The store a command uses: the URL given with `--database` (or its environment variable),
/// else the SQLite database inside the data directory.
pub fn database_url(database: Option<&str>, data_dir: &Path) -> anyhow::Result<DatabaseUrl> {
    match database {
        None => Ok(DatabaseUrl::sqlite_in_data_dir(data_dir)),
        Some(text) => text
            .parse()
            .map_err(|error| anyhow::anyhow!("--database (or {DATABASE_URL_ENV}): {error}")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Every request holds 1 unit of one pool.
    Hot,
    /// Every request holds 1 unit of a random one of --pools pools.
    Spread,
    /// 2-line holds: one unit in each of two sections under one event total.
    Cart,
    /// Hold, then confirm.
    HoldConfirm,
    /// Availability reads only.
    Availability,
    /// A pool of --units units and far more requests: runs until sold out (or, with --requests,
    /// keeps asking after the sell-out until that many requests were sent).
    Rush,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The server to drive.
    #[arg(long, env = "ALLOT_URL", default_value = "http://127.0.0.1:7878")]
    pub url: String,
    /// A tenant admin key (the bench creates its own pools).
    #[arg(long, env = "ALLOT_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// The super-admin token: the bench creates a tenant of its own.
    #[arg(long, env = "ALLOT_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    #[arg(long, value_enum, default_value = "hot")]
    pub scenario: Scenario,
    /// Requests in flight at once, each on its own keep-alive connection.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub concurrency: u64,
    /// Seconds to run (ignored with --requests, and by rush, which runs until sold out).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Stop after this many requests instead of after --duration.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Pools for the spread scenario.
    #[arg(long, default_value_t = 1000)]
    pub pools: usize,
    /// Units in the rush pool.
    #[arg(long, default_value_t = 10_000)]
    pub units: i64,
    /// Threads the load generator uses.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}
