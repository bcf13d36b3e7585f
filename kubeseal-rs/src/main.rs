//! `kubeseal-rs`: seal Secrets for Sealed Secrets controllers, offline and byte-compatible with
//! upstream `kubeseal`. The flow is declare (`cli`) → resolve (`mode`) → run (`commands`).

mod cert_source;
mod cli;
mod cluster;
mod commands;
mod completions;
mod error;
mod input;
mod man;
mod mode;
mod output;
mod repo_config;
mod sealed_file;

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};

use crate::cli::Cli;
use crate::error::CliError;
use crate::mode::Mode;

fn main() -> ExitCode {
    let matches = match cli::empty_variables_unset(Cli::command()).try_get_matches() {
        Ok(m) => m,
        Err(e) if e.use_stderr() => {
            // Usage errors whole, as clap renders them: the missing arguments, the usage line,
            // "a similar argument exists" / "did you mean". Only failures are kept to one line.
            let _ = e.print();
            return ExitCode::from(2);
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayVersion => {
            // --version: upstream's first line (scripts and upstream's suite match it), then
            // the upstream release we are compatible with.
            print!("{}", cli::version_text());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // --help: clap's own output on stdout.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    let format_explicit = matches
        .value_source("format")
        .is_some_and(|s| s != clap::parser::ValueSource::DefaultValue);
    let result = Cli::from_arg_matches(&matches)
        .map(|mut cli| {
            cli::keep_env_lists(&mut cli, &matches);
            cli
        })
        .map_err(|e| CliError::Arguments(e.to_string()))
        .and_then(|cli| Ok(mode::resolve(cli, format_explicit)?))
        .and_then(run);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", error::one_line(&err));
            ExitCode::from(err.exit_code())
        }
    }
}

fn run(plan: mode::Plan) -> Result<(), CliError> {
    for warning in &plan.warnings {
        eprintln!("warning: {warning}");
    }
    // One arm per mode: the subcommands that own their arguments take them by value, the
    // others borrow the plan.
    match plan.mode {
        Mode::Seal => commands::seal::run(&plan),
        Mode::Raw { ref from_file } => commands::raw::run(&plan, from_file.as_deref()),
        Mode::MergeInto(ref target) => commands::merge::run(&plan, target),
        Mode::RecoveryUnseal { ref keys } => commands::recover::run(&plan, keys),
        Mode::FetchCert => {
            let (bytes, _) = commands::cert_bytes(&plan)?;
            Ok(output::emit(plan.io.output.as_deref(), &bytes, false)?)
        }
        Mode::Validate => commands::validate::run(&plan),
        Mode::ReEncrypt => commands::reencrypt::run(&plan),
        Mode::SealMulti {
            ref targets,
            ref pattern,
        } => commands::multi_seal::run(&plan, targets, pattern),
        Mode::Check(ref args) => commands::check::run(args),
        Mode::Set(args) => commands::edit_item::run_set(*args),
        Mode::Unset(ref args) => commands::edit_item::run_unset(args),
        Mode::Reseal(ref args) => commands::reseal::run(args),
        Mode::Keygen(ref args) => commands::keygen::run(args),
        Mode::Keys(ref args) => commands::keys::run(args),
        Mode::CertInfo(args) => commands::cert_info::run(*args),
        Mode::Web(args) => commands::web::run(*args),
        Mode::Completions(shell) => Ok(output::emit(None, &completions::script(shell), false)?),
        Mode::Man(ref dir) => Ok(man::run(dir.as_deref())?),
        Mode::Krm => commands::krm::run(),
    }
}
