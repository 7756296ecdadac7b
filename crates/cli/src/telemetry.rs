//! Logging: `ALLOT_LOG` (or `RUST_LOG`) filters, e.g. `ALLOT_LOG=allot=debug,info`. Default `info`.

use crate::cli::LogFormat;
use tracing_subscriber::EnvFilter;

pub fn init(format: LogFormat) {
    let filter = std::env::var("ALLOT_LOG")
        .ok()
        .and_then(|value| EnvFilter::try_new(value).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        // Each line carries its request's span (route, request id); the list of enclosing spans
        // would only repeat it.
        LogFormat::Json => builder.json().with_span_list(false).try_init(),
    };
}
