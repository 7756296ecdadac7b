//! `allot tickets generate` and `allot attendees import`: operators' bulk work against a running
//! server, with a live progress bar, a summary, and an exit status that tells a script whether
//! anything failed (0 none, 2 some, 1 an error).

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How to reach the server.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The server's base URL.
    #[arg(long, env = "ALLOT_URL", default_value = "http://127.0.0.1:7878")]
    pub url: String,
    /// An operator (or admin) API key of the tenant that owns the event.
    #[arg(long, env = "ALLOT_API_KEY", hide_env_values = true)]
    pub api_key: String,
}

#[derive(Debug, Subcommand)]
pub enum TicketsCommand {
    /// Issue tickets to an event's attendees, as a job on the server, and follow it.
    ///
    /// Each ticket commits one seat of its section (or of the event): when the event is full the
    /// rest fail with "no capacity". Exit status: 0 when nothing failed, 2 when some attendees
    /// failed, 1 on an error.
    #[command(after_help = "Examples:\n  \
        allot tickets generate --event pool_0193... --url http://127.0.0.1:7878 --api-key $KEY\n  \
        allot tickets generate --event pool_0193... --limit 500 --chunk 200\n  \
        ALLOT_URL=http://10.0.0.5:7878 ALLOT_API_KEY=$KEY allot tickets generate --event pool_0193... --regenerate")]
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The event: a pool id.
    #[arg(long)]
    pub event: String,
    /// Look at no more than this many attendees, in import order.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub limit: Option<u64>,
    /// Attendees per transaction on the server.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub chunk: u64,
    /// Give attendees who already have a valid ticket a new code and token (the old QR code
    /// stops working) instead of skipping them.
    #[arg(long)]
    pub regenerate: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Subcommand)]
pub enum AttendeesCommand {
    /// Import attendees from a CSV file (header: external_id,name[,email][,section]); rows are
    /// upserted on external_id. Bad rows are listed with their line; good rows still land.
    ///
    /// Exit status: 0 when every row landed, 2 when some rows failed, 1 on an error.
    #[command(after_help = "Examples:\n  \
        allot attendees import --event pool_0193... students.csv\n  \
        ALLOT_URL=http://127.0.0.1:7878 ALLOT_API_KEY=$KEY allot attendees import --event pool_0193... --batch 5000 students.csv")]
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The event: a pool id.
    #[arg(long)]
    pub event: String,
    /// Rows per request.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=200_000))]
    pub batch: u64,
    /// The CSV file.
    pub file: PathBuf,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Most failures printed after a run; the job's report has all of them.
const SHOWN_FAILURES: usize = 10;
const POLL_INTERVAL: Duration = Duration::from_millis(200);

struct Api {
    client: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    fn new(server: &ServerArgs) -> anyhow::Result<Api> {
        Ok(Api {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .context("cannot build the HTTP client")?,
            base: server.url.trim_end_matches('/').to_owned(),
            key: server.api_key.clone(),
        })
    }

    /// Sends a request and returns the JSON body of a 2xx answer; otherwise the problem's detail.
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = request
            .bearer_auth(&self.key)
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        let status = response.status();
        let bytes = response.bytes().await.context("the answer was cut off")?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            let detail = body["detail"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            bail!("the server answered {status}: {detail}");
        }
        Ok(body)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn bar(total: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let template = format!(
        "{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {unit} {{rate}} ETA {{eta}} {{msg}}"
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.with_key(
            "rate",
            |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = write!(out, "{:.0}/s", state.per_sec());
            },
        ));
    }
    bar
}

fn count(job: &Value, field: &str) -> i64 {
    job[field].as_i64().unwrap_or(0)
}

fn table(rows: &[(&str, i64)]) -> String {
    let mut out = String::new();
    out.push_str("┌────────────┬────────────┐\n");
    out.push_str("│ Status     │      Count │\n");
    out.push_str("├────────────┼────────────┤\n");
    for (label, value) in rows {
        out.push_str(&format!("│ {label:<10} │ {value:>10} │\n"));
    }
    out.push_str("└────────────┴────────────┘\n");
    out
}

pub fn run_tickets(command: TicketsCommand) -> anyhow::Result<ExitCode> {
    match command {
        TicketsCommand::Generate(args) => runtime()?.block_on(generate(args)),
    }
}

pub fn run_attendees(command: AttendeesCommand) -> anyhow::Result<ExitCode> {
    match command {
        AttendeesCommand::Import(args) => runtime()?.block_on(import(args)),
    }
}

async fn generate(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let api = Api::new(&args.server)?;
    let started = Instant::now();
    let mut body = json!({ "chunk": args.chunk, "skip_existing": !args.regenerate });
    if let Some(limit) = args.limit {
        body["limit"] = json!(limit);
    }
    let job = api
        .send(
            api.client
                .post(format!(
                    "{}/v1/pools/{}/tickets/generate",
                    api.base, args.event
                ))
                .json(&body),
        )
        .await
        .context("cannot start ticket generation")?;
    let id = job["id"]
        .as_str()
        .context("the server answered no job id")?
        .to_owned();
    eprintln!("Generating tickets for event {} (job {id})", args.event);
    let progress = bar(count(&job, "total").max(0) as u64, "tickets");
    let job = loop {
        let job = api.get(&format!("/v1/jobs/{id}")).await?;
        progress.set_length(count(&job, "total").max(count(&job, "done")).max(0) as u64);
        progress.set_position(count(&job, "done").max(0) as u64);
        progress.set_message(format!(
            "created {} skipped {} failed {}",
            count(&job, "created"),
            count(&job, "skipped"),
            count(&job, "failed")
        ));
        if matches!(job["status"].as_str(), Some("done" | "failed")) {
            break job;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    };
    progress.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let (created, skipped, failed) = (
        count(&job, "created"),
        count(&job, "skipped"),
        count(&job, "failed"),
    );
    println!("Job {id}: {}", job["status"].as_str().unwrap_or("?"));
    print!(
        "{}",
        table(&[
            ("Created", created),
            ("Skipped", skipped),
            ("Failed", failed)
        ])
    );
    println!("created {created}, skipped {skipped}, failed {failed}");
    println!("Total time: {elapsed:.2} s");
    println!(
        "Throughput: {:.0} tickets/s (server: {} /s)",
        count(&job, "done") as f64 / elapsed.max(0.001),
        job["rate_per_sec"]
    );
    if let Some(failures) = job["failures"].as_array()
        && !failures.is_empty()
    {
        println!("First failures:");
        for failure in failures.iter().take(SHOWN_FAILURES) {
            println!(
                "  attendee {}: {}",
                failure["item"].as_str().unwrap_or("?"),
                failure["reason"].as_str().unwrap_or("?")
            );
        }
        println!(
            "Full report: {}{}",
            api.base,
            job["report_url"].as_str().unwrap_or("")
        );
    }
    if job["status"] == "failed" {
        bail!(
            "the job failed: {}",
            job["error"].as_str().unwrap_or("no reason given")
        );
    }
    Ok(if failed > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Where each record of a CSV file starts: its byte offset and line, header excluded.
fn record_starts(raw: &[u8]) -> anyhow::Result<(usize, Vec<(usize, u64)>)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(raw);
    reader.headers().context("the CSV header is unreadable")?;
    let mut starts = Vec::new();
    let mut record = csv::ByteRecord::new();
    let mut first = None;
    loop {
        let position = reader.position().byte() as usize;
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let start = record.position().map_or(position, |p| p.byte() as usize);
                first.get_or_insert(start);
                starts.push(start);
            }
            // The server reports a bad row with its line; keep going.
            Err(_) => starts.push(position),
        }
    }
    let header_end = first.unwrap_or(raw.len());
    // Lines from offsets, one pass.
    let mut lines = Vec::with_capacity(starts.len());
    let (mut offset, mut line) = (0usize, 1u64);
    for start in starts {
        let mut at = start;
        while at < raw.len() && matches!(raw[at], b'\n' | b'\r') {
            at += 1;
        }
        line += raw[offset..at].iter().filter(|&&b| b == b'\n').count() as u64;
        offset = at;
        lines.push((start, line));
    }
    Ok((header_end, lines))
}

async fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let api = Api::new(&args.server)?;
    let raw = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let (header_end, records) = record_starts(&raw)?;
    let header = &raw[..header_end];
    let header_lines = header.iter().filter(|&&b| b == b'\n').count() as u64;
    let started = Instant::now();
    let progress = bar(records.len() as u64, "rows");
    let (mut created, mut updated, mut failed) = (0u64, 0u64, 0u64);
    let mut failures: Vec<(u64, String)> = Vec::new();
    let size = args.batch as usize;
    for (index, batch) in records.chunks(size).enumerate() {
        let (first_start, first_line) = batch[0];
        let end = records
            .get((index + 1) * size)
            .map_or(raw.len(), |(start, _)| *start);
        let mut body = Vec::with_capacity(header.len() + end - first_start);
        body.extend_from_slice(header);
        body.extend_from_slice(&raw[first_start..end]);
        let answer = api
            .send(
                api.client
                    .post(format!("{}/v1/pools/{}/attendees", api.base, args.event))
                    .header("content-type", "text/csv")
                    .body(body),
            )
            .await
            .context("the import stopped")?;
        created += answer["created"].as_u64().unwrap_or(0);
        updated += answer["updated"].as_u64().unwrap_or(0);
        failed += answer["failed"].as_u64().unwrap_or(0);
        for failure in answer["failures"].as_array().into_iter().flatten() {
            // The server numbers lines within this request: header first, then this batch.
            let line = failure["line"].as_u64().unwrap_or(0);
            let original = line + first_line - header_lines - 1;
            failures.push((
                original,
                format!(
                    "{}: {}",
                    failure["field"].as_str().unwrap_or("row"),
                    failure["message"].as_str().unwrap_or("?")
                ),
            ));
        }
        progress.inc(batch.len() as u64);
    }
    progress.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    print!(
        "{}",
        table(&[
            ("Created", created as i64),
            ("Updated", updated as i64),
            ("Failed", failed as i64)
        ])
    );
    println!("created {created}, updated {updated}, failed {failed}");
    println!("Total time: {elapsed:.2} s");
    println!(
        "Throughput: {:.0} rows/s",
        records.len() as f64 / elapsed.max(0.001)
    );
    if !failures.is_empty() {
        println!("First failures:");
        for (line, message) in failures.iter().take(SHOWN_FAILURES) {
            println!("  line {line}: {message}");
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
