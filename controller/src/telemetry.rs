//! Logging (`--log-level`, `--log-format`, `--log-info-stdout`, SPEC §3.1).
//!
//! With `--log-info-stdout` (the default) INFO and DEBUG go to stdout and WARN and ERROR to
//! stderr, as upstream; otherwise everything goes to stderr. `RUST_LOG`, when set, overrides the
//! level filter (for debugging kube internals).

use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt as _;

use crate::cli::LogFormat;

/// Installs the global subscriber. Calling it twice is harmless (the second call is ignored).
pub fn init(level: Level, format: LogFormat, info_to_stdout: bool) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| {
            // kube's own INFO chatter (watch restarts) is noise at our INFO level.
            let base = level.as_str().to_ascii_lowercase();
            EnvFilter::new(format!(
                "{base},kube_runtime=warn,kube_client=warn,hyper=warn,tower=warn,rustls=warn"
            ))
        });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false);
    let result = if info_to_stdout {
        let writer = std::io::stderr
            .with_max_level(Level::WARN)
            .or_else(std::io::stdout);
        match format {
            LogFormat::Json => builder.json().with_writer(writer).try_init(),
            LogFormat::Text => builder.with_writer(writer).try_init(),
        }
    } else {
        match format {
            LogFormat::Json => builder.json().with_writer(std::io::stderr).try_init(),
            LogFormat::Text => builder.with_writer(std::io::stderr).try_init(),
        }
    };
    // Already initialised (tests): keep the first subscriber.
    let _ = result;
}
