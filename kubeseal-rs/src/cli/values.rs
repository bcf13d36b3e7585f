//! Value parsers of upstream's flag syntax: Go booleans and `--scope`.

/// A boolean as Go's `strconv.ParseBool` reads it, for `--flag=VALUE` and `SEALED_SECRETS_*`.
///
/// # Errors
/// Any other spelling (`yes`, `on`, `""`, …), as upstream refuses them.
pub(crate) fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err("expected 1, t, T, TRUE, true, True, 0, f, F, FALSE, false or False".to_owned()),
    }
}

/// A boolean flag's value, parsed by [`parse_go_bool`], offering `true` and `false` to shell
/// completions and --help.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GoBoolParser;

impl clap::builder::TypedValueParser for GoBoolParser {
    type Value = bool;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        parse_go_bool.parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            ["true", "false"]
                .into_iter()
                .map(clap::builder::PossibleValue::new),
        ))
    }
}

fn parse_scope(s: &str) -> Result<sealed_secrets_core::scope::Scope, String> {
    s.parse()
        .map_err(|e: sealed_secrets_core::scope::UnknownScope| e.to_string())
}

/// `--scope`: parsed as upstream does (its error text, `""` is strict), with the scope names as
/// possible values so that shell completions offer them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScopeParser;

impl clap::builder::TypedValueParser for ScopeParser {
    type Value = sealed_secrets_core::scope::Scope;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        parse_scope.parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            sealed_secrets_core::scope::Scope::ALL
                .into_iter()
                .map(|scope| clap::builder::PossibleValue::new(scope.as_str())),
        ))
    }
}
