//! `allot bench`: a load generator that checks correctness. It creates its own pools, drives a
//! running server over HTTP with keep-alive connections, reports throughput and latency, then
//! reads the pools back: held + committed must equal what it was granted, and never exceed the
//! limit. Any oversell, lost grant or 5xx makes it exit 2.

use crate::cli::{BenchArgs, Scenario};
use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Capacity of pools that should never run out during a timed run.
const UNLIMITED: i64 = 1_000_000_000_000;

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(drive(&args))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(if report.check.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// The pools a scenario uses, and which pools each request takes from.
struct Layout {
    /// Every pool, with its parent (for rolling grants up) and its limit.
    pools: Vec<(String, Option<String>, i64)>,
    /// Lines a hold request takes, by worker: `lines[i % lines.len()]` (spread picks at random).
    lines: Vec<Vec<String>>,
}

#[derive(Default, Serialize)]
pub struct Check {
    pub passed: bool,
    pub oversold_pools: usize,
    pub lost_grants: usize,
    pub server_errors: u64,
    pub problems: Vec<String>,
}

#[derive(Serialize)]
pub struct Report {
    pub scenario: String,
    pub concurrency: usize,
    pub duration_seconds: f64,
    pub requests: u64,
    pub requests_per_second: f64,
    pub successful_holds: u64,
    pub successful_holds_per_second: f64,
    pub units_granted: i64,
    pub latency_ms: BTreeMap<String, f64>,
    pub status_counts: BTreeMap<String, u64>,
    /// CPU the load generator itself used, as a share of one core.
    pub client_cpu_cores: f64,
    pub check: Check,
}

struct Shared {
    client: reqwest::Client,
    url: String,
    key: String,
    /// `host:port` of the server, for the load connections.
    authority: String,
    /// `Bearer KEY`, ready to send.
    authorization: hyper::header::HeaderValue,
    /// The JSON body of a hold for each entry of `layout.lines`, serialised once.
    bodies: Vec<Bytes>,
    scenario: Scenario,
    layout: Layout,
    stop: AtomicBool,
    sent: AtomicU64,
    max_requests: Option<u64>,
    deadline: Option<Instant>,
    holds_ok: AtomicU64,
    statuses: Mutex<BTreeMap<u16, u64>>,
    transport_errors: AtomicU64,
    /// Units granted per pool the request named (not rolled up).
    granted: Mutex<HashMap<String, i64>>,
}

async fn drive(args: &BenchArgs) -> anyhow::Result<Report> {
    let concurrency = args.concurrency as usize;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?;
    let url = args.url.trim_end_matches('/').to_owned();
    let key = resolve_key(&client, &url, args).await?;
    let layout = create_pools(&client, &url, &key, args).await?;
    let (max_requests, deadline) = match (args.requests, args.scenario) {
        (Some(n), _) => (Some(n), None),
        (None, Scenario::Rush) => (None, None),
        (None, _) => (
            None,
            Some(Instant::now() + Duration::from_secs_f64(args.duration)),
        ),
    };
    let authority = url
        .parse::<hyper::Uri>()
        .ok()
        .and_then(|uri| uri.authority().map(|a| a.to_string()))
        .with_context(|| format!("--url {url} has no host:port"))?;
    let authorization = hyper::header::HeaderValue::from_str(&format!("Bearer {key}"))
        .context("the API key is not a valid header value")?;
    let bodies = layout
        .lines
        .iter()
        .map(|lines| {
            let lines: Vec<Value> = lines
                .iter()
                .map(|id| json!({"pool_id": id, "quantity": 1}))
                .collect();
            Bytes::from(json!({ "lines": lines }).to_string())
        })
        .collect();
    let shared = Arc::new(Shared {
        client,
        url,
        key,
        authority,
        authorization,
        bodies,
        scenario: args.scenario,
        layout,
        stop: AtomicBool::new(false),
        sent: AtomicU64::new(0),
        max_requests,
        deadline,
        holds_ok: AtomicU64::new(0),
        statuses: Mutex::new(BTreeMap::new()),
        transport_errors: AtomicU64::new(0),
        granted: Mutex::new(HashMap::new()),
    });

    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        workers.spawn(work(shared.clone(), worker));
    }
    let progress = (!args.json).then(|| tokio::spawn(progress_line(shared.clone(), started)));
    let mut histogram =
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds");
    while let Some(result) = workers.join_next().await {
        histogram.add(result?).expect("histograms share bounds");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu_before;
    if let Some(progress) = progress {
        progress.abort();
        eprintln!();
    }

    let check = check_pools(&shared).await?;
    let statuses = shared.statuses.lock().expect("not poisoned").clone();
    let requests: u64 =
        statuses.values().sum::<u64>() + shared.transport_errors.load(Ordering::Relaxed);
    let holds = shared.holds_ok.load(Ordering::Relaxed);
    let mut status_counts: BTreeMap<String, u64> =
        statuses.iter().map(|(s, n)| (s.to_string(), *n)).collect();
    let transport = shared.transport_errors.load(Ordering::Relaxed);
    if transport > 0 {
        status_counts.insert("transport_error".into(), transport);
    }
    let latency_ms = [("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("p999", 0.999)]
        .into_iter()
        .map(|(name, q)| {
            (
                name.to_owned(),
                histogram.value_at_quantile(q) as f64 / 1000.0,
            )
        })
        .chain([("max".to_owned(), histogram.max() as f64 / 1000.0)])
        .collect();
    let units_granted = shared.granted.lock().expect("not poisoned").values().sum();
    Ok(Report {
        scenario: format!("{:?}", args.scenario).to_lowercase(),
        concurrency,
        duration_seconds: elapsed,
        requests,
        requests_per_second: requests as f64 / elapsed,
        successful_holds: holds,
        successful_holds_per_second: holds as f64 / elapsed,
        units_granted,
        latency_ms,
        status_counts,
        client_cpu_cores: cpu / elapsed,
        check,
    })
}

async fn resolve_key(
    client: &reqwest::Client,
    url: &str,
    args: &BenchArgs,
) -> anyhow::Result<String> {
    if let Some(key) = &args.api_key {
        return Ok(key.clone());
    }
    let Some(admin) = &args.admin_token else {
        bail!("pass --api-key (a tenant admin key) or --admin-token (to create a bench tenant)");
    };
    let answer = client
        .post(format!("{url}/v1/tenants"))
        .bearer_auth(admin)
        .json(&json!({"name": format!("bench {}", std::process::id())}))
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = answer.status();
    let body: Value = answer.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("creating the bench tenant failed with {status}: {body}");
    }
    body["api_key"]
        .as_str()
        .map(str::to_owned)
        .context("the tenant answer had no api_key")
}

async fn create_pool(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    name: &str,
    capacity: i64,
    parent: Option<&str>,
) -> anyhow::Result<String> {
    let answer = client
        .post(format!("{url}/v1/pools"))
        .bearer_auth(key)
        .json(&json!({"name": name, "capacity": capacity, "parent_id": parent}))
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = answer.status();
    let body: Value = answer.json().await.unwrap_or(Value::Null);
    if status.as_u16() != 201 {
        bail!("creating pool {name} failed with {status}: {body}");
    }
    body["id"]
        .as_str()
        .map(str::to_owned)
        .context("the pool answer had no id")
}

async fn create_pools(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    args: &BenchArgs,
) -> anyhow::Result<Layout> {
    let mut pools = Vec::new();
    let mut lines = Vec::new();
    match args.scenario {
        Scenario::Hot | Scenario::HoldConfirm | Scenario::Availability => {
            let id = create_pool(client, url, key, "bench hot", UNLIMITED, None).await?;
            pools.push((id.clone(), None, UNLIMITED));
            lines.push(vec![id]);
        }
        Scenario::Rush => {
            let id = create_pool(client, url, key, "bench rush", args.units, None).await?;
            pools.push((id.clone(), None, args.units));
            lines.push(vec![id]);
        }
        Scenario::Spread => {
            for index in 0..args.pools {
                let id = create_pool(
                    client,
                    url,
                    key,
                    &format!("bench spread {index}"),
                    UNLIMITED,
                    None,
                )
                .await?;
                pools.push((id.clone(), None, UNLIMITED));
                lines.push(vec![id]);
            }
        }
        Scenario::Cart => {
            let event = create_pool(client, url, key, "bench event", UNLIMITED, None).await?;
            let a =
                create_pool(client, url, key, "bench section A", UNLIMITED, Some(&event)).await?;
            let b =
                create_pool(client, url, key, "bench section B", UNLIMITED, Some(&event)).await?;
            pools.push((event.clone(), None, UNLIMITED));
            pools.push((a.clone(), Some(event.clone()), UNLIMITED));
            pools.push((b.clone(), Some(event), UNLIMITED));
            lines.push(vec![a, b]);
        }
    }
    Ok(Layout { pools, lines })
}

/// One keep-alive HTTP/1.1 connection, driven directly through hyper: the load generator shares
/// the machine with the server, so every microsecond it spends is one the server does not get.
struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl Connection {
    async fn open(authority: &str) -> Option<Connection> {
        let stream = tokio::net::TcpStream::connect(authority).await.ok()?;
        stream.set_nodelay(true).ok()?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .ok()?;
        tokio::spawn(connection);
        Some(Connection { sender })
    }

    /// Sends one request and reads the whole answer.
    async fn send(&mut self, request: hyper::Request<Full<Bytes>>) -> Option<(u16, Bytes)> {
        self.sender.ready().await.ok()?;
        let response = self.sender.send_request(request).await.ok()?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.ok()?.to_bytes();
        Some((status, body))
    }
}

fn request(
    shared: &Shared,
    method: hyper::Method,
    path: &str,
    body: Bytes,
) -> hyper::Request<Full<Bytes>> {
    let mut request = hyper::Request::new(Full::new(body));
    *request.method_mut() = method;
    *request.uri_mut() = path.parse().expect("paths built here are valid URIs");
    let headers = request.headers_mut();
    headers.insert(
        hyper::header::HOST,
        hyper::header::HeaderValue::from_str(&shared.authority).expect("a valid authority"),
    );
    headers.insert(hyper::header::AUTHORIZATION, shared.authorization.clone());
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    request
}

/// One worker: sends requests back to back on its own keep-alive connection until told to stop.
/// Returns its latency histogram (microseconds).
async fn work(shared: Arc<Shared>, worker: usize) -> Histogram<u64> {
    let mut histogram =
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds");
    // A small xorshift per worker: spread picks pools without a shared RNG.
    let mut seed = (worker as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut connection: Option<Connection> = None;
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        if let Some(deadline) = shared.deadline
            && Instant::now() >= deadline
        {
            break;
        }
        let sent = shared.sent.fetch_add(1, Ordering::Relaxed);
        if let Some(max) = shared.max_requests
            && sent >= max
        {
            break;
        }
        if connection.is_none() {
            connection = Connection::open(&shared.authority).await;
            if connection.is_none() {
                shared.transport_errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        }
        let conn = connection.as_mut().expect("opened above");
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let choice = (seed as usize) % shared.layout.lines.len();
        let lines = &shared.layout.lines[choice];
        let ok = match shared.scenario {
            Scenario::Availability => {
                let path = format!("/v1/pools/{}/availability?quantity=1", lines[0]);
                let request = request(&shared, hyper::Method::GET, &path, Bytes::new());
                timed(&shared, &mut histogram, conn, request)
                    .await
                    .is_some()
            }
            _ => {
                let hold = request(
                    &shared,
                    hyper::Method::POST,
                    "/v1/holds",
                    shared.bodies[choice].clone(),
                );
                match timed(&shared, &mut histogram, conn, hold).await {
                    Some((201, body)) => {
                        shared.holds_ok.fetch_add(1, Ordering::Relaxed);
                        {
                            let mut granted = shared.granted.lock().expect("not poisoned");
                            for id in lines {
                                *granted.entry(id.clone()).or_default() += 1;
                            }
                        }
                        if shared.scenario == Scenario::HoldConfirm {
                            let id = serde_json::from_slice::<Value>(&body)
                                .ok()
                                .and_then(|body| body["id"].as_str().map(str::to_owned));
                            match id {
                                Some(id) => {
                                    let path = format!("/v1/holds/{id}/confirm");
                                    let confirm =
                                        request(&shared, hyper::Method::POST, &path, Bytes::new());
                                    timed(&shared, &mut histogram, conn, confirm)
                                        .await
                                        .is_some()
                                }
                                None => true,
                            }
                        } else {
                            true
                        }
                    }
                    Some((409, _))
                        if shared.scenario == Scenario::Rush && shared.max_requests.is_none() =>
                    {
                        shared.stop.store(true, Ordering::Relaxed);
                        true
                    }
                    Some(_) => true,
                    None => false,
                }
            }
        };
        if !ok {
            // The connection broke: count it (done in `timed`) and open a new one.
            connection = None;
        }
    }
    histogram
}

/// Sends one request, records its latency and status; returns the status and body, or `None`
/// when the connection failed.
async fn timed(
    shared: &Shared,
    histogram: &mut Histogram<u64>,
    connection: &mut Connection,
    request: hyper::Request<Full<Bytes>>,
) -> Option<(u16, Bytes)> {
    let started = Instant::now();
    let answer = connection.send(request).await;
    let micros = started.elapsed().as_micros().max(1) as u64;
    let _ = histogram.record(micros.min(60_000_000));
    match &answer {
        Some((status, _)) => {
            *shared
                .statuses
                .lock()
                .expect("not poisoned")
                .entry(*status)
                .or_default() += 1
        }
        None => {
            shared.transport_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    answer
}

async fn progress_line(shared: Arc<Shared>, started: Instant) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let done: u64 = shared.statuses.lock().expect("not poisoned").values().sum();
        let holds = shared.holds_ok.load(Ordering::Relaxed);
        let elapsed = started.elapsed().as_secs_f64();
        eprint!(
            "\r{elapsed:6.1} s  {done:>10} requests  {:>9.0} req/s  {holds:>10} holds  {:>9.0} holds/s ",
            done as f64 / elapsed,
            holds as f64 / elapsed
        );
        let _ = std::io::stderr().flush();
    }
}

/// Reads every pool back and compares with what this run was granted, rolled up to ancestors.
async fn check_pools(shared: &Shared) -> anyhow::Result<Check> {
    let granted = shared.granted.lock().expect("not poisoned").clone();
    let mut expected: HashMap<String, i64> = HashMap::new();
    let parents: HashMap<&str, Option<&str>> = shared
        .layout
        .pools
        .iter()
        .map(|(id, parent, _)| (id.as_str(), parent.as_deref()))
        .collect();
    for (pool, units) in &granted {
        let mut next = Some(pool.as_str());
        while let Some(id) = next {
            *expected.entry(id.to_owned()).or_default() += units;
            next = parents.get(id).copied().flatten();
        }
    }
    let mut check = Check::default();
    let statuses = shared.statuses.lock().expect("not poisoned").clone();
    check.server_errors = statuses
        .iter()
        .filter(|(s, _)| **s >= 500)
        .map(|(_, n)| *n)
        .sum();
    if check.server_errors > 0 {
        check
            .problems
            .push(format!("{} responses were 5xx", check.server_errors));
    }
    for (id, _, limit) in &shared.layout.pools {
        let answer = shared
            .client
            .get(format!("{}/v1/pools/{id}", shared.url))
            .bearer_auth(&shared.key)
            .send()
            .await?;
        let pool: Value = answer.json().await?;
        let used = pool["held"].as_i64().unwrap_or(-1) + pool["committed"].as_i64().unwrap_or(-1);
        let want = expected.get(id).copied().unwrap_or(0);
        if used > *limit {
            check.oversold_pools += 1;
            check
                .problems
                .push(format!("pool {id} oversold: {used} used, limit {limit}"));
        }
        if used != want {
            check.lost_grants += 1;
            check.problems.push(format!(
                "pool {id}: held + committed = {used}, but {want} were granted"
            ));
        }
    }
    if shared.scenario == Scenario::Rush {
        let (_, _, units) = &shared.layout.pools[0];
        let got = expected.values().sum::<i64>();
        if got != *units {
            check.problems.push(format!(
                "rush granted {got} units of {units}: not sold out exactly"
            ));
        }
    }
    check.passed = check.problems.is_empty();
    Ok(check)
}

/// User + system CPU seconds this process has used (Linux /proc; 0 elsewhere).
fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the ')'.
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    // Linux reports in USER_HZ, which is 100 on every mainstream configuration.
    ticks / 100.0
}

fn print_report(report: &Report) {
    println!("scenario            {}", report.scenario);
    println!("concurrency         {}", report.concurrency);
    println!("duration            {:.2} s", report.duration_seconds);
    println!(
        "requests            {} ({:.0}/s)",
        report.requests, report.requests_per_second
    );
    println!(
        "successful holds    {} ({:.0}/s)",
        report.successful_holds, report.successful_holds_per_second
    );
    println!("units granted       {}", report.units_granted);
    let latency: Vec<String> = report
        .latency_ms
        .iter()
        .map(|(k, v)| format!("{k} {v:.2}"))
        .collect();
    println!("latency (ms)        {}", latency.join("  "));
    let statuses: Vec<String> = report
        .status_counts
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    println!("statuses            {}", statuses.join("  "));
    println!("load generator CPU  {:.2} cores", report.client_cpu_cores);
    if report.check.passed {
        println!(
            "check               ok: held + committed equal the grants; nothing oversold; no 5xx"
        );
    } else {
        println!("check               FAILED");
        for problem in &report.check.problems {
            println!("  {problem}");
        }
    }
}
