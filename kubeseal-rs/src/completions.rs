//! Shell completion scripts, generated from the clap definitions.

use crate::cli::Cli;
use clap::CommandFactory as _;
use clap_complete::Shell;

/// The name the bash script is generated under. clap_complete's bash generator names the
/// subcommand states of a hyphenated binary inconsistently (`kubeseal__rs__subcmd__keys` in the
/// word loop, `kubeseal__subcmd__rs__subcmd__keys` in the case labels), so after any subcommand
/// nothing matched and bash fell back to file names. Generated under a name without a hyphen the
/// labels agree; the script is then registered for the real name.
const BASH_NAME: &str = "kubeseal_rs";

/// The completion script for `shell`.
#[must_use]
pub fn script(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    if shell == Shell::Bash {
        clap_complete::generate(shell, &mut cmd, BASH_NAME, &mut out);
        return register_bash_for_real_name(&String::from_utf8_lossy(&out)).into_bytes();
    }
    clap_complete::generate(shell, &mut cmd, "kubeseal-rs", &mut out);
    out
}

/// `complete -F _kubeseal_rs … kubeseal_rs` → `… kubeseal-rs`: only the registration names the
/// binary; the function keeps its hyphen-free name.
fn register_bash_for_real_name(script: &str) -> String {
    let suffix = format!(" {BASH_NAME}");
    script
        .lines()
        .map(|line| {
            match line
                .trim_start()
                .starts_with("complete ")
                .then(|| line.strip_suffix(&suffix))
                .flatten()
            {
                Some(head) => format!("{head} kubeseal-rs\n"),
                None => format!("{line}\n"),
            }
        })
        .collect()
}
