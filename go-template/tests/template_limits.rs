//! Templates run inside the controller on user input: work, output, source size and nesting
//! are bounded, errors never carry a decrypted value, and unsupported Sprig functions fail
//! clearly instead of rendering something different from upstream.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::BTreeMap;

use go_template::{Limits, TemplateError, render};

const SECRET: &str = "hunter2-S3cr3t";

fn values() -> BTreeMap<String, Vec<u8>> {
    let mut values = BTreeMap::new();
    values.insert("password".to_owned(), SECRET.as_bytes().to_vec());
    values.insert("n".to_owned(), b"12".to_vec());
    values.insert(
        "json".to_owned(),
        br#"{"pw": "hunter2-S3cr3t", bad"#.to_vec(),
    );
    values
}

fn run_with(source: &str, limits: &Limits) -> Result<Vec<u8>, TemplateError> {
    render("t", source, &values(), limits).map(|out| out.expose().to_vec())
}

fn run(source: &str) -> Result<Vec<u8>, TemplateError> {
    run_with(source, &Limits::default())
}

fn error(source: &str) -> String {
    match run(source) {
        Ok(out) => panic!("{source:?} rendered {:?}", String::from_utf8_lossy(&out)),
        Err(e) => e.to_string(),
    }
}

#[test]
fn template_limits_default_values() {
    let limits = Limits::default();
    assert_eq!(limits.max_output_bytes, 1024 * 1024);
    assert_eq!(limits.max_steps, 1_000_000);
    assert_eq!(limits.max_source_bytes, 64 * 1024);
    assert_eq!(limits.max_total_output_bytes, 1024 * 1024);
    assert_eq!(limits.max_templates, 256);
    assert_eq!(limits.max_memory_bytes, 16 * 1024 * 1024);
}

#[test]
fn template_limits_step_budget_stops_long_loops() {
    assert_eq!(
        error("{{ range until 2000000 }}x{{ end }}"),
        "template: t: exceeds limit of 1000000 steps"
    );
    assert_eq!(
        error("{{ range $i := until 1000 }}{{ range until 1000 }}{{ end }}{{ end }}"),
        "template: t: exceeds limit of 1000000 steps"
    );
    let small = Limits {
        max_steps: 50,
        ..Limits::default()
    };
    assert!(matches!(
        run_with("{{ range until 40 }}{{ . }}{{ end }}", &small),
        Err(TemplateError::Limit {
            unit: "steps",
            limit: 50,
            ..
        })
    ));
}

#[test]
fn template_limits_output_and_value_size() {
    assert_eq!(
        error(r#"{{ repeat 2000000 "x" }}"#),
        "template: t: exceeds limit of 1048576 bytes"
    );
    // Doubling a string in a loop hits the per-value cap long before memory is a concern.
    assert_eq!(
        error(r#"{{ $s := "xxxxxxxxxxxxxxxx" }}{{ range until 40 }}{{ $s = cat $s $s }}{{ end }}"#),
        "template: t: exceeds limit of 1048576 bytes"
    );
    assert_eq!(
        error(r#"{{ printf "%1000000s%1000000s" "a" "b" }}"#),
        "template: t: exceeds limit of 1048576 bytes"
    );
    let small = Limits {
        max_output_bytes: 10,
        ..Limits::default()
    };
    assert_eq!(run_with("0123456789", &small).unwrap(), b"0123456789");
    assert_eq!(
        run_with("0123456789x", &small).unwrap_err().to_string(),
        "template: t: exceeds limit of 10 bytes"
    );
    assert!(matches!(
        run_with("{{ range until 11 }}x{{ end }}", &small),
        Err(TemplateError::Limit {
            unit: "bytes",
            limit: 10,
            ..
        })
    ));
}

#[test]
fn template_limits_source_size() {
    let limits = Limits {
        max_source_bytes: 8,
        ..Limits::default()
    };
    assert_eq!(run_with("12345678", &limits).unwrap(), b"12345678");
    assert_eq!(
        run_with("123456789", &limits).unwrap_err().to_string(),
        "template: t: source exceeds limit of 8 bytes"
    );
}

#[test]
fn template_limits_nesting_is_bounded() {
    let deep_parens = format!("{{{{ {}1{} }}}}", "(".repeat(5000), ")".repeat(5000));
    assert!(error(&deep_parens).ends_with("max expression depth exceeded"));
    let deep_ifs = format!(
        "{}x{}",
        "{{ if true }}".repeat(1000),
        "{{ end }}".repeat(1000)
    );
    let text = error(&deep_ifs);
    assert!(text.ends_with("max expression depth exceeded"), "{text}");
    let fine = format!("{}x{}", "{{ if true }}".repeat(50), "{{ end }}".repeat(50));
    assert_eq!(run(&fine).unwrap(), b"x");
    // A dict that contains itself cannot be printed or encoded.
    let cyclic = r#"{{ $d := dict }}{{ $_ := set $d "self" $d }}"#;
    assert_eq!(
        error(&format!("{cyclic}{{{{ $d }}}}")),
        "template: t: exceeds maximum nesting depth of 100"
    );
    assert_eq!(
        error(&format!("{cyclic}{{{{ toJson $d }}}}")),
        "template: t: exceeds maximum nesting depth of 100"
    );
    assert!(
        error(r#"{{ define "r" }}{{ template "r" }}{{ end }}{{ template "r" }}"#)
            .ends_with("exceeded maximum template depth (100)")
    );
}

#[test]
fn template_errors_never_contain_secret_values() {
    let leaky = [
        "{{ range .password }}{{ end }}",
        "{{ range $a, $b := atoi .n }}{{ end }}",
        "{{ index (list 1 2) (atoi .n) }}",
        "{{ fail .password }}",
        "{{ fail (printf \"bad: %s\" .password) }}",
        "{{ eq (list .password) (list .password) }}",
        "{{ mustFromJson .json }}",
        "{{ mustRegexMatch .json \"x\" }}",
        "{{ regexFind .json \"x\" }}",
        "{{ substr 100 200 .password }}",
        "{{ .password.field }}",
        "{{ .password 1 }}",
        "{{ repeat .password \"x\" }}",
        "{{ upper .missing }}",
        "{{ slice .password 1 }}",
        "{{ len (atoi .password) }}",
        "{{ dig \"a\" \"b\" \"c\" (dict \"a\" .password) }}",
        "{{ call .password }}",
        "{{ lt .password 1 }}",
        "{{ index (list 1) .password }}",
        "{{ template \"x\" .password }}",
        "{{ mustToJson (float64 \"NaN\") }}",
    ];
    for source in leaky {
        let text = error(source);
        assert!(!text.contains("hunter2"), "{source}: {text}");
        assert!(!text.contains('\n'), "{source}: not one line: {text}");
        assert!(text.starts_with("template: t"), "{source}: {text}");
    }
    // Debug output of the error is as safe as its Display.
    let e = run("{{ range .password }}{{ end }}").unwrap_err();
    assert!(!format!("{e:?}").contains("hunter2"));
}

#[test]
fn template_unsupported_functions_fail_when_parsed() {
    for name in [
        "randAlphaNum 8",
        "now",
        "uuidv4",
        "genCA \"x\" 3",
        "bcrypt .password",
        "htpasswd \"u\" \"p\"",
        "toDate \"2006\" \"x\"",
        "merge (dict) (dict)",
        "semver \"1.0.0\"",
    ] {
        let function = name.split(' ').next().unwrap();
        assert_eq!(
            error(&format!("{{{{ {name} }}}}")),
            format!("template: t: function \"{function}\" is not supported by sealed-secrets-rs")
        );
    }
    // Reported when parsing, so also in a branch that is not taken (upstream would render
    // "ok"): whether the template fails must not depend on the values.
    assert_eq!(
        error("{{ if false }}{{ randAlphaNum 8 }}{{ end }}ok"),
        "template: t: function \"randAlphaNum\" is not supported by sealed-secrets-rs"
    );
    // Removed upstream (env, expandenv, getHostByName) or never defined: a parse error.
    assert_eq!(
        error("{{ getHostByName \"x\" }}"),
        "template: t:1: function \"getHostByName\" not defined"
    );
}

#[test]
fn template_output_is_bytes_not_text() {
    let mut values = BTreeMap::new();
    values.insert("bin".to_owned(), [0, 0xff, 0xfe, b'a'].to_vec());
    let out = render("t", "<{{ .bin }}>", &values, &Limits::default()).unwrap();
    assert_eq!(out.expose(), &[b'<', 0, 0xff, 0xfe, b'a', b'>']);
    assert_eq!(format!("{out:?}"), "[redacted]");
}

/// The deepest templates the limits allow render (or fail cleanly) on a 2 MiB stack, in a
/// debug build (a Tokio worker thread has 2 MiB; a release build needs less than half of it).
#[test]
fn template_limits_fit_a_small_stack() {
    let worst_cases: Vec<String> = vec![
        format!(
            "{{{{ define \"r\" }}}}{}{{{{ template \"r\" . }}}}{}{{{{ end }}}}{{{{ template \"r\" }}}}",
            "{{ if true }}".repeat(95),
            "{{ end }}".repeat(95)
        ),
        format!("{{{{ {}1{} }}}}", "print (".repeat(99), ")".repeat(99)),
        format!(
            "{}{{{{ $x := 1 }}}}{}",
            "{{ range $i := until 1 }}{{ with $i }}".repeat(49),
            "{{ end }}{{ end }}".repeat(49)
        ),
        r#"{{ $d := dict }}{{ $_ := set $d "self" (list $d) }}{{ $d }}{{ toJson $d }}"#.to_owned(),
        format!(
            "{{{{ $v := fromJson \"{}{}\" }}}}{{{{ toJson $v }}}}{{{{ $v }}}}{{{{ deepEqual $v $v }}}}",
            "[".repeat(99),
            "]".repeat(99)
        ),
        format!(
            "{{{{ $v := fromJson \"{}{}\" }}}}{{{{ toJson $v }}}}",
            "[".repeat(500),
            "]".repeat(500)
        ),
    ];
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            for source in &worst_cases {
                let _ = render("t", source, &values(), &Limits::default());
            }
        })
        .unwrap();
    handle.join().unwrap();
}
