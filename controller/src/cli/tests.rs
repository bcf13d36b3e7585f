//! Unit tests of flag and environment parsing into Settings.

use super::*;

fn run(args: &[&str]) -> Settings {
    let mut full = vec!["sealed-secrets-controller"];
    full.extend_from_slice(args);
    match parse(full).unwrap() {
        Mode::Run(s) => *s,
        Mode::Version => panic!("unexpected version mode"),
    }
}

#[test]
fn defaults_match_upstream() {
    let s = run(&[]);
    assert_eq!(s.key_prefix, "sealed-secrets-key");
    assert_eq!(s.key_size, 4096);
    assert_eq!(s.key_ttl, Duration::from_secs(87600 * 3600));
    assert_eq!(s.my_cn, "");
    assert_eq!(s.key_renew_period, Duration::from_secs(720 * 3600));
    assert_eq!(s.key_order_priority, KeyOrderPriority::CertNotBefore);
    assert!(s.accept_v1_data);
    assert!(s.key_cutoff_time.is_none());
    assert!(s.all_namespaces);
    assert!(s.additional_namespaces.is_empty());
    assert!(s.label_selector.is_none());
    assert_eq!((s.rate_limit, s.rate_limit_burst), (2, 2));
    assert!(!s.metrics_omit_secret_labels);
    assert!(!s.old_gc_behavior);
    assert!(s.update_status);
    assert!(!s.watch_for_secrets);
    assert!(!s.skip_recreate);
    assert!(s.log_info_stdout);
    assert_eq!(s.log_level, tracing::Level::INFO);
    assert_eq!(s.log_format, LogFormat::Text);
    assert_eq!(s.max_unseal_retries, 5);
    assert!((s.kubeclient_qps - 5.0).abs() < f32::EPSILON);
    assert_eq!(s.kubeclient_burst, 10);
    assert_eq!(s.listen_addr, ":8080");
    assert_eq!(s.listen_metrics_addr, ":8081");
    assert_eq!(s.read_timeout, Duration::from_secs(120));
    assert_eq!(s.write_timeout, Duration::from_secs(120));
    assert!(s.skip_unchanged);
    assert!(!s.fan_out);
    assert!(!s.rotate_period_used);
    assert_eq!(s.cert_configmap.as_deref(), Some("sealed-secrets-cert"));
}

#[test]
fn cert_configmap_name_or_disabled() {
    assert_eq!(
        run(&["--cert-configmap", "pub.cert"])
            .cert_configmap
            .as_deref(),
        Some("pub.cert")
    );
    assert_eq!(run(&["--cert-configmap="]).cert_configmap, None);
    assert_eq!(run(&["--cert-configmap", ""]).cert_configmap, None);
    assert!(matches!(
        parse(["c", "--cert-configmap", "Not_A_Name"]),
        Err(CliError::CertConfigMap(_))
    ));
}

#[test]
fn go_style_booleans() {
    let s = run(&[
        "--update-status=false",
        "--old-gc-behavior",
        "--all-namespaces=0",
    ]);
    assert!(!s.update_status);
    assert!(s.old_gc_behavior);
    assert!(!s.all_namespaces);
    // A bare bool flag does not swallow the next argument.
    let s = run(&["--skip-recreate", "--key-prefix", "abc"]);
    assert!(s.skip_recreate);
    assert_eq!(s.key_prefix, "abc");
    assert!(run(&["--metrics-omit-secret-labels"]).metrics_omit_secret_labels);
    assert!(run(&["--metrics-omit-secret-labels=t"]).metrics_omit_secret_labels);
    assert!(!run(&["--metrics-omit-secret-labels=FALSE"]).metrics_omit_secret_labels);
    assert!(parse(["c", "--metrics-omit-secret-labels=yes"]).is_err());
}

#[test]
fn a_flag_given_twice_keeps_its_last_value_as_go_does() {
    let s = run(&["--all-namespaces=false", "--all-namespaces=true"]);
    assert!(s.all_namespaces);
    let s = run(&["--key-prefix", "a", "--key-prefix", "b", "--fan-out"]);
    assert_eq!(s.key_prefix, "b");
    assert!(s.fan_out);
}

#[test]
fn version_flag() {
    assert!(matches!(parse(["c", "--version"]).unwrap(), Mode::Version));
    assert!(matches!(
        parse(["c", "--version=true"]).unwrap(),
        Mode::Version
    ));
    assert!(matches!(
        parse(["c", "--version=false"]).unwrap(),
        Mode::Run(_)
    ));
}

#[test]
fn environment_and_precedence() {
    // clap reads the environment through `Arg::env`; exercise it with a command whose env
    // names are rewritten to unique ones so the test does not depend on the process env.
    let cmd = Cli::command().mut_arg("key_prefix", |a| a.env("SSRS_TEST_UNSET_KEY_PREFIX"));
    let m = cmd
        .clone()
        .try_get_matches_from(["c", "--key-prefix", "cli"])
        .unwrap();
    assert_eq!(m.get_one::<String>("key_prefix").unwrap(), "cli");
    assert_eq!(m.value_source("key_prefix"), Some(ValueSource::CommandLine));
    let m = cmd.try_get_matches_from(["c"]).unwrap();
    assert_eq!(
        m.value_source("key_prefix"),
        Some(ValueSource::DefaultValue)
    );
    // Every flag carries its SEALED_SECRETS_* variable.
    for arg in Cli::command().get_arguments() {
        let long = arg.get_long().unwrap_or_default();
        if long == "help" || long.is_empty() {
            continue;
        }
        let expected = format!(
            "SEALED_SECRETS_{}",
            long.to_ascii_uppercase().replace('-', "_")
        );
        assert_eq!(
            arg.get_env().and_then(|e| e.to_str()),
            Some(expected.as_str()),
            "flag --{long}"
        );
    }
}

#[test]
fn key_prefix_is_checked() {
    assert!(valid_key_prefix("sealed-secrets-key"));
    assert!(!valid_key_prefix("Sealed"));
    assert!(!valid_key_prefix("a_b"));
    assert!(!valid_key_prefix(&"a".repeat(246)));
    assert!(matches!(
        parse(["c", "--key-prefix", "BAD"]),
        Err(CliError::KeyPrefix(_))
    ));
}

#[test]
fn cutoff_and_lists() {
    let s = run(&[
        "--key-cutoff-time",
        "Mon, 02 Jan 2006 15:04:05 -0700",
        "--privatekey-labels",
        "a=b,c=d",
        "--additional-namespaces",
        "x,y,x,,z",
    ]);
    assert_eq!(s.key_cutoff_time.unwrap().unix_timestamp(), 1_136_239_445);
    assert_eq!(s.privatekey_labels.len(), 2);
    assert_eq!(s.additional_namespaces, vec!["x", "y", "z"]);
    assert!(matches!(
        parse(["c", "--key-cutoff-time", "yesterday"]),
        Err(CliError::CutoffTime(_))
    ));
    assert!(matches!(
        parse(["c", "--privatekey-annotations", "oops"]),
        Err(CliError::KeyValue(_))
    ));
}

#[test]
fn watch_scope_rules() {
    let s = run(&[]);
    assert_eq!(s.watch_scope("kube-system"), WatchScope::All);
    let s = run(&["--all-namespaces=false"]);
    assert_eq!(
        s.watch_scope("kube-system"),
        WatchScope::Namespaces(vec!["kube-system".into()])
    );
    let s = run(&["--additional-namespaces", "a,kube-system,b"]);
    assert_eq!(
        s.watch_scope("kube-system"),
        WatchScope::Namespaces(vec!["kube-system".into(), "a".into(), "b".into()])
    );
}

#[test]
fn rotate_period_alias() {
    let s = run(&["--rotate-period", "1h"]);
    assert_eq!(s.key_renew_period, Duration::from_secs(3600));
    assert!(s.rotate_period_used);
    let s = run(&["--rotate-period", "1h", "--key-renew-period", "2h"]);
    assert_eq!(s.key_renew_period, Duration::from_secs(7200));
    let s = run(&["--key-renew-period", "0"]);
    assert_eq!(s.key_renew_period, Duration::ZERO);
}

#[test]
fn invalid_values() {
    let s = run(&[
        "--key-order-priority",
        "bogus",
        "--log-level",
        "chatty",
        "--log-format",
        "json",
    ]);
    assert_eq!(s.key_order_priority, KeyOrderPriority::CertNotBefore);
    assert_eq!(s.key_order_priority_invalid.as_deref(), Some("bogus"));
    assert_eq!(s.log_level, tracing::Level::INFO);
    assert_eq!(s.log_format, LogFormat::Json);
    assert!(matches!(
        parse(["c", "--rate-limit", "0"]),
        Err(CliError::RateLimit)
    ));
    assert!(parse(["c", "--key-ttl", "10d"]).is_err());
}

#[test]
fn log_formats() {
    for (value, want) in [
        ("text", LogFormat::Text),
        ("json", LogFormat::Json),
        ("tracing", LogFormat::Tracing),
        ("tracing-json", LogFormat::TracingJson),
        // Upstream: anything but "json" is text, "JSON" included.
        ("JSON", LogFormat::Text),
        ("logfmt", LogFormat::Text),
    ] {
        assert_eq!(run(&["--log-format", value]).log_format, want, "{value}");
    }
}

#[test]
fn pkcs11_flags() {
    assert_eq!(run(&[]).pkcs11, None);
    let s = run(&[
        "--pkcs11-module",
        "/usr/lib/x.so",
        "--pkcs11-token-label",
        "sealing",
        "--pkcs11-pin-file",
        "/pin/pin",
    ]);
    assert_eq!(
        s.pkcs11,
        Some(Pkcs11Settings {
            module: PathBuf::from("/usr/lib/x.so"),
            token_label: Some("sealing".into()),
            key_label: "sealed-secrets-key".into(),
            pin_file: Some(PathBuf::from("/pin/pin")),
        })
    );
    let err = parse(["c", "--pkcs11-token-label", "t"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--pkcs11-token-label and --pkcs11-pin-file need --pkcs11-module"
    );
    let err = parse(["c", "--pkcs11-module", "/x.so", "--pkcs11-key-label", ""]).unwrap_err();
    assert!(matches!(err, CliError::Pkcs11(_)), "{err}");
    // No flag takes the PIN itself.
    assert!(parse(["c", "--pkcs11-pin", "1234"]).is_err());
}

#[test]
fn kms_flags_are_checked() {
    let err = |args: &[&str]| {
        let mut all = vec!["controller"];
        all.extend_from_slice(args);
        parse(all).unwrap_err().to_string()
    };
    assert_eq!(
        err(&["--kms-key-id", "alias/k"]),
        "--kms-key-id and --kms-migrate-keys need --kms-provider"
    );
    assert_eq!(
        err(&["--kms-provider", "aws"]),
        "--kms-provider needs --kms-key-id"
    );
    assert_eq!(
        err(&["--kms-provider", "vault", "--kms-key-id", "k"]),
        "--kms-provider \"vault\" is not supported (supported: aws)"
    );
    assert_eq!(
        err(&[
            "--kms-provider",
            "aws",
            "--kms-key-id",
            "k",
            "--kms-migrate-keys",
            "yes"
        ]),
        "--kms-migrate-keys must be none, wrap or unwrap, got \"yes\""
    );
    assert_eq!(
        err(&[
            "--kms-provider",
            "aws",
            "--kms-key-id",
            "k",
            "--kms-endpoint",
            "kms.local"
        ]),
        "--kms-endpoint \"kms.local\" must be an http:// or https:// URL"
    );
    assert!(
        err(&[
            "--kms-provider",
            "aws",
            "--kms-key-id",
            "k",
            "--pkcs11-module",
            "/x.so"
        ])
        .contains("choose one")
    );
    let Ok(Mode::Run(settings)) = parse([
        "controller",
        "--kms-provider",
        "aws",
        "--kms-key-id",
        "alias/k",
        "--kms-migrate-keys",
        "wrap",
    ]) else {
        panic!("not a run");
    };
    let kms = settings.kms.unwrap();
    assert_eq!(kms.provider, KmsProviderKind::Aws);
    assert_eq!(kms.key_id, "alias/k");
    assert_eq!(kms.migrate, KmsMigration::Wrap);
    assert_eq!(kms.endpoint, None);
}

#[test]
fn watch_list_flag() {
    assert!(!run(&[]).watch_list);
    assert!(run(&["--watch-list"]).watch_list);
    assert!(!run(&["--watch-list=false"]).watch_list);
    // A bad value is a one-line error naming the flag and the value.
    let Err(e) = parse(["c", "--watch-list=sometimes"]) else {
        panic!("--watch-list=sometimes must be refused");
    };
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.contains("--watch-list") && first.contains("sometimes"),
        "{text}"
    );
}
