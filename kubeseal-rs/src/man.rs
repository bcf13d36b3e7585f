//! Man pages from the clap definitions: `kubeseal-rs man` prints the top page,
//! `kubeseal-rs man --dir DIR` writes one page per command (`kubeseal-rs.1`,
//! `kubeseal-rs-check.1`, …, `kubeseal-rs-keys-backup.1`), each with every flag of that command
//! and an EXAMPLES section. Written atomically, one file at a time.

use std::path::Path;

use clap::CommandFactory as _;

use crate::cli::Cli;
use crate::output;

/// Why the man pages cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ManError {
    #[error("no man page to print")]
    NoPage,
    #[error("{0}: not a directory")]
    NotADirectory(String),
    #[error("cannot render man page {name}: {error}")]
    Render { name: String, error: String },
    #[error(transparent)]
    Output(#[from] output::OutputError),
}

/// Examples per page, as `(page, text)`: each line of the text is one command.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "kubeseal-rs",
        "kubeseal-rs --cert cert.pem -f secret.yaml -w sealed.yaml\n\
         kubectl create secret generic db -n prod --dry-run=client -o yaml --from-literal=password=s3cr3t | kubeseal-rs --cert cert.pem -o yaml\n\
         echo -n s3cr3t | kubeseal-rs --cert cert.pem --raw --namespace prod --name db\n\
         kubeseal-rs --recovery-unseal --recovery-private-key keys-backup.yaml -f sealed.yaml -o yaml",
    ),
    (
        "kubeseal-rs-check",
        "kubeseal-rs check deploy/\n\
         kubeseal-rs check --config .sealed-secrets.toml sealed.yaml",
    ),
    (
        "kubeseal-rs-set",
        "kubeseal-rs set sealed.yaml password --cert cert.pem\n\
         printf %s \"$TOKEN\" | kubeseal-rs set sealed.yaml token --cert cert.pem",
    ),
    (
        "kubeseal-rs-unset",
        "kubeseal-rs unset sealed.yaml old-token",
    ),
    (
        "kubeseal-rs-reseal",
        "kubeseal-rs reseal deploy/ --cert new-cert.pem --recovery-private-key keys-backup.yaml --dry-run\n\
         kubeseal-rs reseal deploy/ --cert new-cert.pem --recovery-private-key keys-backup.yaml",
    ),
    (
        "kubeseal-rs-keygen",
        "kubeseal-rs keygen -n kube-system -w sealing-key.yaml --cert-out cert.pem",
    ),
    (
        "kubeseal-rs-cert",
        "kubeseal-rs cert cert.pem\nkubeseal-rs cert --fetch",
    ),
    ("kubeseal-rs-keys-list", "kubeseal-rs keys list"),
    (
        "kubeseal-rs-keys-backup",
        "kubeseal-rs keys backup -w keys-backup.yaml",
    ),
    (
        "kubeseal-rs-keys-restore",
        "kubeseal-rs keys restore keys-backup.yaml --dry-run\nkubeseal-rs keys restore keys-backup.yaml",
    ),
    ("kubeseal-rs-keys-prune", "kubeseal-rs keys prune --dry-run"),
    (
        "kubeseal-rs-completions",
        "kubeseal-rs completions bash > /etc/bash_completion.d/kubeseal-rs",
    ),
    (
        "kubeseal-rs-man",
        "kubeseal-rs man --dir /usr/local/share/man/man1",
    ),
];

/// Prints the top page, or writes every page into `dir`.
///
/// # Errors
/// A page could not be rendered or written.
pub fn run(dir: Option<&Path>) -> Result<(), ManError> {
    let pages = pages()?;
    match dir {
        None => {
            let (_, top) = pages.into_iter().next().ok_or(ManError::NoPage)?;
            Ok(output::emit(None, &top, false)?)
        }
        Some(dir) => {
            if !dir.is_dir() {
                return Err(ManError::NotADirectory(dir.display().to_string()));
            }
            for (name, page) in &pages {
                output::write_atomic(&dir.join(format!("{name}.1")), page, false)?;
            }
            eprintln!("wrote {} man pages to {}", pages.len(), dir.display());
            Ok(())
        }
    }
}

/// Every page, the top one first, as `(name, roff)`.
fn pages() -> Result<Vec<(String, Vec<u8>)>, ManError> {
    let mut out = Vec::new();
    walk(&Cli::command(), "kubeseal-rs", "kubeseal-rs", &mut out)?;
    Ok(out)
}

fn walk(
    command: &clap::Command,
    name: &str,
    bin_name: &str,
    out: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), ManError> {
    let page = command
        .clone()
        .display_name(name.to_owned())
        .bin_name(bin_name.to_owned());
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut roff)
        .map_err(|e| ManError::Render {
            name: name.to_string(),
            error: e.to_string(),
        })?;
    if let Some((_, examples)) = EXAMPLES.iter().find(|(page, _)| *page == name) {
        roff.extend_from_slice(b".SH EXAMPLES\n");
        for line in examples.lines() {
            roff.extend_from_slice(b".PP\n.nf\n");
            roff.extend_from_slice(escape(line).as_bytes());
            roff.extend_from_slice(b"\n.fi\n");
        }
    }
    out.push((name.to_owned(), roff));
    for sub in command.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        walk(
            sub,
            &format!("{name}-{}", sub.get_name()),
            &format!("{bin_name} {}", sub.get_name()),
            out,
        )?;
    }
    Ok(())
}

/// Roff-safe text: backslashes doubled, a leading dot or quote protected, `-` as a real minus.
fn escape(line: &str) -> String {
    let mut text = line.replace('\\', "\\e").replace('-', "\\-");
    if text.starts_with('.') || text.starts_with('\'') {
        text.insert_str(0, "\\&");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_per_command_each_with_its_flags_and_examples() {
        let pages = pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        for expected in [
            "kubeseal-rs",
            "kubeseal-rs-check",
            "kubeseal-rs-set",
            "kubeseal-rs-reseal",
            "kubeseal-rs-keys",
            "kubeseal-rs-keys-backup",
            "kubeseal-rs-man",
        ] {
            assert!(names.contains(&expected), "{names:?}");
        }
        for (name, page) in &pages {
            let text = String::from_utf8_lossy(page);
            if EXAMPLES.iter().any(|(p, _)| p == name) {
                assert!(text.contains(".SH EXAMPLES"), "{name}");
            }
        }
        let reseal = String::from_utf8_lossy(
            &pages
                .iter()
                .find(|(n, _)| n == "kubeseal-rs-reseal")
                .unwrap()
                .1,
        )
        .into_owned();
        assert!(reseal.contains("recovery\\-private\\-key"), "{reseal}");
        // Every command with examples exists.
        for (page, _) in EXAMPLES {
            assert!(
                names.contains(page),
                "examples for a page that is not generated: {page}"
            );
        }
    }
}
