//! `allot serve`: binds, runs until SIGTERM or Ctrl-C, then shuts down gracefully.

use crate::cli::ServeArgs;
use anyhow::Context;
use std::process::ExitCode;
use std::time::Duration;

/// Threads for store reads (and other blocking work) at most: see `run`.
const BLOCKING_THREADS: usize = 16;

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    crate::telemetry::init(args.log_format);
    let mut config = allot_server::Config::new(&args.data_dir);
    if args.database.is_some() {
        config.database = Some(crate::cli::database_url(
            args.database.as_deref(),
            &args.data_dir,
        )?);
    }
    config.admin_token = std::env::var("ALLOT_ADMIN_TOKEN")
        .ok()
        .filter(|token| !token.is_empty());
    if let Some(token) = &config.admin_token
        && token.len() < 16
    {
        anyhow::bail!("ALLOT_ADMIN_TOKEN must be at least 16 characters");
    }
    config.sweep_interval =
        (args.sweep_interval_ms > 0).then(|| Duration::from_millis(args.sweep_interval_ms));
    config.writer = allot_server::writer::WriterLimits {
        max_batch: args.max_batch as usize,
        queue_capacity: args.writer_queue as usize,
        queue_timeout: Duration::from_millis(args.writer_queue_timeout_ms),
    };
    config.fallback_wait_seconds = args.waitlist_fallback_wait_seconds as i64;
    if let Some(url) = args.smtp_url.filter(|url| !url.is_empty()) {
        lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&url)
            .context("ALLOT_SMTP_URL is not a usable SMTP URL")?;
        if args.smtp_from.parse::<lettre::message::Mailbox>().is_err() {
            anyhow::bail!(
                "ALLOT_SMTP_FROM is not an e-mail address: {}",
                args.smtp_from
            );
        }
        config.delivery.smtp = Some(allot_server::delivery::SmtpConfig {
            url,
            from: args.smtp_from,
        });
    }
    config.delivery.allow_private = args.webhook_allow_private;
    config.cors_origins = args.cors_origins;
    config.rate_limit = std::num::NonZeroU32::new(args.rate_limit);
    config.ticket_link_base = args.ticket_link_base;
    config.ticket_key = std::env::var("ALLOT_TICKET_KEY")
        .ok()
        .filter(|key| !key.is_empty());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Store reads run on blocking threads, each with its own pooled SQLite connection: a
        // few threads keep every core busy; hundreds (tokio's default bound is 512) only add
        // hand-offs between them and a page cache each.
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        allot_server::serve(listener, config, shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
