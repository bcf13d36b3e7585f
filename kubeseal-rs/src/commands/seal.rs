//! Default mode: seal every Secret of the input (SPEC §4.4–§4.6). Nothing is written until all
//! documents sealed, so an error never leaves partial output.

use sealed_secrets_core::scope::Scope;
use sealed_secrets_core::seal::{self, SealOptions};
use sealed_secrets_core::types::Secret;

use crate::cluster::kubeconfig;
use crate::error::CliError;
use crate::mode::Plan;
use crate::{input, output};

/// The hint upstream prints when stdin is a terminal.
pub const TTY_HINT: &str = "(tty detected: expecting json/yaml k8s resource in stdin)";

/// Options shared by seal, raw and merge: scope, name and namespace resolution.
pub fn seal_options(plan: &Plan) -> SealOptions {
    let args = &plan.sealing;
    let (default_namespace, namespace_explicit) = match &args.namespace {
        Some(ns) => (Some(ns.clone()), true),
        None => (
            kubeconfig::context_namespace(
                plan.cluster.kubeconfig.as_deref(),
                plan.cluster.overrides.context.as_deref(),
            ),
            false,
        ),
    };
    SealOptions {
        scope: args.scope,
        name: args.name.clone(),
        default_namespace,
        namespace_explicit,
        allow_empty_data: args.allow_empty_data,
    }
}

/// Without `-n` and without a kubeconfig namespace, a Secret that declares no namespace is sealed
/// for `default`, as kubectl would create it (`kubectl create secret … --dry-run=client` on a CI
/// machine with no kubeconfig writes none). Says so once on stderr; with a kubeconfig the
/// context's namespace (or its `default`) is used silently, as upstream does.
pub fn assume_default_namespace<'a>(
    opts: &mut SealOptions,
    mut secrets: impl Iterator<Item = &'a Secret>,
) {
    if opts.default_namespace.is_some() {
        return;
    }
    let lacks_namespace = |secret: &Secret| {
        let scope = opts.scope.unwrap_or_else(|| secret.metadata.scope());
        secret.metadata.namespace.is_empty() && scope != Scope::ClusterWide
    };
    if secrets.any(lacks_namespace) {
        eprintln!(
            "note: the input declares no namespace and there is no -n or kubeconfig: sealing for namespace \"default\", as kubectl does"
        );
        opts.default_namespace = Some("default".to_owned());
    }
}

/// Runs the seal mode.
///
/// # Errors
/// Bad input, an unusable certificate, or an output failure.
pub fn run(plan: &Plan) -> Result<(), CliError> {
    // The certificate first, as upstream: a wrong --cert fails without waiting for stdin.
    let cert = super::sealing_cert(plan)?;
    let documents = input::read_input_documents(plan.io.input.as_deref(), TTY_HINT)?;
    if documents.is_empty() {
        return Err(crate::error::CommandError::NoSecrets.into());
    }
    let secrets = documents
        .into_iter()
        .map(|doc| {
            let position = doc.position();
            doc.into_secret().map(|s| (position, s))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut opts = seal_options(plan);
    assume_default_namespace(&mut opts, secrets.iter().map(|(_, s)| s));
    let now = super::now()?;
    let mut out = String::new();
    for (position, secret) in secrets {
        let mut sealed = seal::seal_secret(secret, cert.public_key(), &opts).map_err(|source| {
            CliError::Seal {
                context: position.to_string(),
                source,
            }
        })?;
        if plan.sealing.record_fingerprint {
            sealed.metadata.annotations.insert(
                sealed_secrets_core::check::SEALED_WITH_ANNOTATION.to_owned(),
                cert.fingerprint().to_string(),
            );
            // With the certificate, when each item was sealed (`check --max-age`); plain
            // sealing stays annotation-free, as upstream's output.
            sealed_secrets_core::sealed_at::record_all(&mut sealed, now);
        }
        out.push_str(&output::render(&sealed, plan.io.format)?);
    }
    Ok(output::emit(
        plan.io.output.as_deref(),
        out.as_bytes(),
        false,
    )?)
}
