//! `check [PATH…]`: the offline CI gate. Every problem of every file is printed on its own line
//! on stderr (`<file>: <object>: <reason>`), then the command fails; values are never printed.

use std::collections::BTreeMap;

use sealed_secrets_core::check::{self, AgePolicy, Pins};

use crate::cli::CheckArgs;
use crate::error::CliError;
use crate::repo_config::{self, RepoConfig};
use crate::{input, sealed_file};

/// Pins of one environment, from its certificate file and fingerprints.
#[derive(Default)]
struct EnvPins {
    fingerprints: Vec<String>,
    key_size: Option<usize>,
}

fn environment_pins(config: &RepoConfig, problems: &mut Vec<String>) -> BTreeMap<String, EnvPins> {
    let now = time::OffsetDateTime::now_utc();
    let shown = sealed_file::display(&config.path);
    let mut out = BTreeMap::new();
    for env in &config.environments {
        let mut pins = EnvPins {
            fingerprints: env.fingerprints.clone(),
            key_size: None,
        };
        match env.load_cert() {
            Ok(Some(cert)) => {
                if cert.check_not_expired(now).is_err() {
                    let date = cert
                        .not_after()
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default();
                    problems.push(format!(
                        "{shown}: environment {}: certificate {} expired on {date}",
                        env.name,
                        env.cert_text.as_deref().unwrap_or_default()
                    ));
                }
                pins.fingerprints.push(cert.fingerprint().to_string());
                pins.key_size = Some(cert.public_key().size_bytes());
            }
            Ok(None) => {}
            Err(e) => problems.push(format!("{shown}: {e}")),
        }
        out.insert(env.name.clone(), pins);
    }
    out
}

/// The pins the repository config gives `file`: its environments' fingerprints and
/// certificates. `None` when no environment's paths match it.
#[must_use]
pub fn file_pins(config: &RepoConfig, file: &std::path::Path) -> Option<Pins> {
    let mut ignored = Vec::new();
    let env_pins = environment_pins(config, &mut ignored);
    pins_for(config, &env_pins, file)
}

/// The strictest max age that applies to `file`: `--max-age` (`flag`) and those of the
/// environments that match it.
fn age_policy(
    config: Option<&RepoConfig>,
    flag: Option<&(String, time::Duration)>,
    file: &std::path::Path,
    now: time::OffsetDateTime,
) -> Option<AgePolicy> {
    let flag = flag.map(|(shown, age)| (shown.clone(), *age, "--max-age".to_owned()));
    let envs = config.map(|c| c.environments_for(file)).unwrap_or_default();
    let from_envs = envs.into_iter().filter_map(|env| {
        env.max_age
            .as_ref()
            .map(|(shown, age)| (shown.clone(), *age, format!("environment {}", env.name)))
    });
    flag.into_iter()
        .chain(from_envs)
        .min_by_key(|(_, age, _)| *age)
        .map(|(shown, max_age, source)| AgePolicy {
            max_age,
            shown,
            source,
            now,
        })
}

fn pins_for(
    config: &RepoConfig,
    env_pins: &BTreeMap<String, EnvPins>,
    file: &std::path::Path,
) -> Option<Pins> {
    let envs = config.environments_for(file);
    (!envs.is_empty()).then(|| {
        let mut pins = Pins {
            environments: envs.iter().map(|e| e.name.clone()).collect(),
            require_sealed_with: config.require_sealed_with,
            ..Pins::default()
        };
        for env in envs {
            if let Some(p) = env_pins.get(&env.name) {
                pins.fingerprints.extend(p.fingerprints.iter().cloned());
                pins.key_sizes.extend(p.key_size);
            }
        }
        pins
    })
}

/// Runs `check`.
///
/// # Errors
/// Problems were found (after printing them), or the config or a path is unusable.
pub fn run(args: &CheckArgs) -> Result<(), CliError> {
    let config = repo_config::load(args.config.as_deref())?;
    let max_age = match &args.max_age {
        Some(text) => Some((
            text.clone(),
            super::keygen::parse_duration(text).map_err(crate::error::CommandError::MaxAge)?,
        )),
        None => None,
    };
    let now = super::now()?;
    let mut problems = Vec::new();
    let env_pins = config
        .as_ref()
        .map(|c| environment_pins(c, &mut problems))
        .unwrap_or_default();
    let paths = if args.paths.is_empty() {
        vec![
            config
                .as_ref()
                .map_or_else(|| ".".into(), |c| c.root.clone()),
        ]
    } else {
        args.paths.clone()
    };
    let files = sealed_file::walk(&paths)?;
    let mut skipped = 0;
    for file in &files {
        let bytes = input::read_file(file)?;
        let mut pins = config.as_ref().and_then(|c| pins_for(c, &env_pins, file));
        if let Some(policy) = age_policy(config.as_ref(), max_age.as_ref(), file, now) {
            pins.get_or_insert_with(Pins::default).max_age = Some(policy);
        }
        let checked =
            check::check_file_noting_skips(&sealed_file::display(file), &bytes, pins.as_ref());
        if let Some(note) = checked.skipped {
            eprintln!("note: {note}");
            skipped += 1;
        }
        problems.extend(checked.problems);
    }
    let skipped = if skipped == 0 {
        String::new()
    } else {
        format!(" ({} skipped)", count(skipped, "Go/Helm template"))
    };
    if problems.is_empty() {
        println!(
            "checked {}{skipped}: no problems",
            count(files.len(), "file")
        );
        return Ok(());
    }
    for problem in &problems {
        eprintln!("{problem}");
    }
    Err(crate::error::CommandError::CheckProblems {
        problems: count(problems.len(), "problem"),
        files: format!("{}{skipped}", count(files.len(), "file")),
    }
    .into())
}

/// `1 file`, `2 files`.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}
