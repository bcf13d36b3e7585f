//! One budget per SealedSecret: hostile templates stop with a limit error after bounded work
//! and bounded memory, across all the templates that share the budget. Work is measured by
//! the budget's step count (never by time), memory by its charge; the fuzz target
//! (`fuzz/fuzz_targets/template.rs`) checks the charge against a counting allocator, which
//! this crate's `forbid(unsafe_code)` rules out here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use go_template::{Budget, Limits, Template, TemplateError, render};

fn values() -> BTreeMap<String, Vec<u8>> {
    let mut values = BTreeMap::new();
    values.insert("password".to_owned(), b"hunter2".to_vec());
    values.insert("big".to_owned(), vec![b'a'; 900 * 1024]);
    values
}

/// Renders `source` with the default limits: the error and the steps used.
fn hostile(source: &str) -> (TemplateError, u64) {
    let limits = Limits::default();
    let template = Template::parse("t", source, &limits).unwrap();
    let mut budget = Budget::new(&limits);
    let error = match template.execute(&values(), &mut budget) {
        Ok(out) => panic!("{source:?} rendered {} bytes", out.expose().len()),
        Err(e) => e,
    };
    assert!(budget.steps_used() <= limits.max_steps, "{source:?}");
    assert!(
        budget.memory_bytes_used() <= limits.max_memory_bytes,
        "{source:?}"
    );
    (error, budget.steps_used())
}

fn unit(error: &TemplateError) -> &'static str {
    match error {
        TemplateError::Limit { unit, .. } => unit,
        other => panic!("not a limit error: {other}"),
    }
}

#[test]
fn template_budget_repeat_of_nothing_is_charged() {
    let (error, _) = hostile(r#"{{ repeat 100000000 "" }}"#);
    assert_eq!(
        error.to_string(),
        "template: t: exceeds limit of 1000000 steps"
    );
    assert!(!error.is_static());
    let (error, _) = hostile(r#"{{ repeat 9223372036854775807 "abc" }}"#);
    assert!(matches!(error, TemplateError::Exec { .. }), "{error}");
}

#[test]
fn template_budget_huge_ranges_stop() {
    let (error, _) = hostile("{{ range until 100000000 }}{{ end }}");
    assert_eq!(unit(&error), "steps");
    // The inner lists are credited back when their range ends: the steps run out.
    let (error, _) = hostile(
        "{{ range until 1000 }}{{ range until 1000 }}{{ range until 1000 }}{{ end }}{{ end }}{{ end }}",
    );
    assert_eq!(unit(&error), "steps");
    // Lists kept in a variable are not.
    let (error, _) =
        hostile("{{ range until 1000 }}{{ $l := until 1000 }}{{ range $l }}{{ end }}{{ end }}");
    assert_eq!(unit(&error), "bytes of memory");
    let (error, _) =
        hostile("{{ range 1000 }}{{ range 1000 }}{{ range 1000 }}{{ end }}{{ end }}{{ end }}");
    assert_eq!(unit(&error), "steps");
    let (error, _) = hostile("{{ range 100000000 }}{{ end }}");
    assert_eq!(unit(&error), "steps");
    let (error, _) = hostile("{{ seq 100000000 }}");
    assert_eq!(unit(&error), "steps");
    let (error, _) = hostile("{{ untilStep 0 100000000 1 }}");
    assert_eq!(unit(&error), "steps");
}

#[test]
fn template_budget_intermediate_values_are_bounded() {
    let (error, _) = hostile("{{ range $i := until 1000000 }}{{ $x := list 1 2 3 }}{{ end }}");
    unit(&error);
    let (error, _) = hostile("{{ range $i := until 200000 }}{{ $x := list 1 2 3 }}{{ end }}");
    assert_eq!(unit(&error), "bytes of memory");
    let (error, _) = hostile(
        "{{ $d := dict }}{{ range $i := until 300000 }}{{ $_ := set $d (toString $i) $i }}{{ end }}",
    );
    unit(&error);
    let (error, _) = hostile(r#"{{ range until 100 }}{{ $x := splitList "" $.big }}{{ end }}"#);
    unit(&error);
    let (error, _) =
        hostile(r#"{{ $l := list }}{{ range until 5000 }}{{ $l = append $l $.big }}{{ end }}"#);
    unit(&error);
    let (error, _) = hostile("{{ range until 100 }}{{ $x := upper $.big }}{{ end }}");
    unit(&error);
}

#[test]
fn template_budget_recursive_templates_stop() {
    // Unbounded recursion meets the depth limit first.
    let (error, _) = hostile(
        r#"{{ define "r" }}{{ template "r" . }}{{ template "r" . }}{{ end }}{{ template "r" }}"#,
    );
    assert!(
        error
            .to_string()
            .ends_with("exceeded maximum template depth (100)"),
        "{error}"
    );
    // Recursion 40 deep calling itself twice: 2^40 calls, stopped by the step budget.
    let (error, _) = hostile(
        r#"{{ define "r" }}{{ if lt . 40 }}{{ template "r" (add1 .) }}{{ template "r" (add1 .) }}{{ end }}{{ end }}{{ template "r" 0 }}"#,
    );
    assert_eq!(unit(&error), "steps");
}

#[test]
fn template_budget_regex_pays_per_input_byte() {
    let (error, steps) =
        hostile(r#"{{ range until 10 }}{{ regexMatch "(a|aa)*b" $.big }}{{ end }}"#);
    assert_eq!(unit(&error), "steps");
    // One call on the 900 KiB value costs about one step per byte: the second one does not fit.
    assert!(steps >= 900 * 1024, "{steps}");
    let (error, _) =
        hostile(r#"{{ range until 10 }}{{ regexReplaceAll "a" $.big "$0$0" }}{{ end }}"#);
    unit(&error);
}

#[test]
fn template_budget_is_shared_by_the_templates_of_one_sealed_secret() {
    let limits = Limits::default();
    let values = values();
    let template = Template::parse("t", r#"{{ repeat 1000000 "a" }}"#, &limits).unwrap();
    let mut budget = Budget::new(&limits);
    let results: Vec<_> = (0..300)
        .map(|_| template.execute(&values, &mut budget))
        .collect();
    let ok: usize = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|out| out.expose().len())
        .sum();
    assert_eq!(ok, 1_000_000);
    assert_eq!(
        results[1].as_ref().unwrap_err().to_string(),
        "template: t: exceeds limit of 1048576 output bytes in total"
    );
    assert!(budget.output_bytes_used() <= limits.max_total_output_bytes);
    assert!(budget.memory_bytes_used() <= limits.max_memory_bytes);
    let errors: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        errors
            .iter()
            .all(|e| matches!(e, TemplateError::Limit { .. }))
    );
    assert!(errors.iter().any(|e| unit(e) == "templates"));
}

#[test]
fn template_budget_steps_accumulate_across_templates() {
    let limits = Limits {
        max_steps: 1000,
        ..Limits::default()
    };
    let template = Template::parse("t", "{{ range until 300 }}{{ end }}", &limits).unwrap();
    let mut budget = Budget::new(&limits);
    assert!(template.execute(&values(), &mut budget).is_ok());
    let after_one = budget.steps_used();
    assert!(after_one > 300);
    let mut failed = false;
    for _ in 0..10 {
        if let Err(e) = template.execute(&values(), &mut budget) {
            assert_eq!(unit(&e), "steps");
            failed = true;
            break;
        }
    }
    assert!(failed);
    assert!(budget.steps_used() <= 1000);
}

#[test]
fn template_budget_deadline_and_cancel() {
    let limits = Limits::default();
    let template = Template::parse("t", "{{ range until 10 }}x{{ end }}", &limits).unwrap();
    let mut budget = Budget::new(&limits).with_deadline(Instant::now());
    let error = template.execute(&values(), &mut budget).unwrap_err();
    assert_eq!(
        error,
        TemplateError::Deadline {
            name: "t".to_owned()
        }
    );
    assert_eq!(error.to_string(), "template: t: deadline exceeded");
    assert!(!error.is_static());
    let cancel = Arc::new(AtomicBool::new(true));
    let mut budget = Budget::new(&limits).with_cancel(cancel);
    let error = template.execute(&values(), &mut budget).unwrap_err();
    assert_eq!(error.to_string(), "template: t: cancelled");
    let far = Instant::now() + std::time::Duration::from_secs(3600);
    let mut budget = Budget::new(&limits).with_deadline(far);
    assert_eq!(
        template.execute(&values(), &mut budget).unwrap().expose(),
        b"xxxxxxxxxx"
    );
}

#[test]
fn template_budget_unsupported_functions_are_static() {
    let limits = Limits::default();
    for source in [
        "{{ if false }}{{ now }}{{ end }}",
        "{{ define \"unused\" }}{{ randAlphaNum 3 }}{{ end }}ok",
        "{{ range until 0 }}{{ (uuidv4).x }}{{ else }}{{ print (genCA \"x\" 3) }}{{ end }}",
        "{{ with false }}{{ template \"x\" (bcrypt \"p\") }}{{ end }}",
    ] {
        let error = Template::parse("t", source, &limits).unwrap_err();
        assert!(
            matches!(error, TemplateError::Unsupported { .. }),
            "{source}: {error}"
        );
        assert!(error.is_static(), "{source}");
        assert_eq!(render("t", source, &values(), &limits).unwrap_err(), error);
    }
    // The first in the source is reported.
    assert_eq!(
        Template::parse("t", "{{ if false }}{{ now }}{{ uuidv4 }}{{ end }}", &limits)
            .unwrap_err()
            .to_string(),
        "template: t: function \"now\" is not supported by sealed-secrets-rs"
    );
    let template = Template::parse("t", r#"{{ fail "x" }}"#, &limits).unwrap();
    let error = template
        .execute(&values(), &mut Budget::new(&limits))
        .unwrap_err();
    assert!(!error.is_static(), "{error}");
    assert!(
        Template::parse("t", "{{ ", &limits)
            .unwrap_err()
            .is_static()
    );
    let small = Limits {
        max_source_bytes: 2,
        ..limits
    };
    assert!(Template::parse("t", "abc", &small).unwrap_err().is_static());
}

#[test]
fn template_budget_string_functions_pay_for_what_they_read() {
    for source in [
        "{{ range until 1000 }}{{ $x := toJson $.big }}{{ end }}",
        "{{ range until 1000 }}{{ $x := printf \"%s%s\" $.big \"x\" }}{{ end }}",
        "{{ range until 1000 }}{{ $x := b64enc $.big }}{{ end }}",
        "{{ range until 1000 }}{{ $x := contains \"b\" $.big }}{{ end }}",
        "{{ range until 1000 }}{{ $x := sha256sum $.big }}{{ end }}",
        "{{ range until 1000 }}{{ $x := eq $.big $.big }}{{ end }}",
        "{{ range until 1000 }}{{ $x := trimAll \"xyz\" $.big }}{{ end }}",
        "{{ sortAlpha (splitList \"\" $.big) }}",
        // 300 distinct elements: 45,000 comparisons a call.
        "{{ $l := until 300 }}{{ range until 1000 }}{{ $x := uniq $l }}{{ end }}",
    ] {
        let (error, steps) = hostile(source);
        unit(&error);
        assert!(steps > 0, "{source}");
    }
}
