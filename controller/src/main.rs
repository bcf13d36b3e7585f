//! `sealed-secrets-controller`: parse flags, set up logging, run (see the library crate).

use std::process::ExitCode;

use sealed_secrets_controller::{app, cli, telemetry};

/// mimalloc instead of glibc's malloc: the watch caches are built from many short-lived
/// allocations (each listed page is parsed, then copied into the cache), which glibc's
/// per-thread arenas keep as fragmented free memory; mimalloc returns freed pages to the
/// system (docs/performance.md, "Memory").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let mode = match cli::parse(std::env::args_os()) {
        Ok(mode) => mode,
        Err(cli::CliError::Clap(e)) => {
            // --help prints to stdout and exits 0; usage errors exit 2.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let settings = match mode {
        cli::Mode::Version => {
            println!("controller version: {}", app::VERSION);
            return ExitCode::SUCCESS;
        }
        cli::Mode::Run(settings) => *settings,
    };
    telemetry::init(
        settings.log_level,
        settings.log_format,
        settings.log_info_stdout,
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(app::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "controller failed");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
