//! Golden tests: our renderer against outputs and errors recorded from the real Go
//! `text/template` + Sprig v3.3.0 (see `tests/data/template/README.md`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use go_template::{Limits, render};
use serde_json::Value;

const GOLDEN: &str = include_str!("data/template/golden.json");

fn values_of(case: &Value) -> BTreeMap<String, Vec<u8>> {
    let mut values = BTreeMap::new();
    if let Some(map) = case["values"].as_object() {
        for (k, v) in map {
            values.insert(k.clone(), v.as_str().unwrap().as_bytes().to_vec());
        }
    }
    if let Some(map) = case["values_b64"].as_object() {
        for (k, v) in map {
            let raw = STANDARD.decode(v.as_str().unwrap()).unwrap();
            values.insert(k.clone(), raw);
        }
    }
    values
}

/// What we must produce: Go's output or error, or our documented deviation (`ours_error`).
fn expected(case: &Value) -> Result<Vec<u8>, String> {
    if let Some(ours) = case["ours_error"].as_str() {
        assert!(
            case["go"]["error"].is_string(),
            "{}: ours_error set but Go did not fail",
            case["name"]
        );
        return Err(ours.to_owned());
    }
    let go = &case["go"];
    if let Some(error) = go["error"].as_str() {
        return Err(error.to_owned());
    }
    if let Some(output) = go["output"].as_str() {
        return Ok(output.as_bytes().to_vec());
    }
    Ok(STANDARD.decode(go["output_b64"].as_str().unwrap()).unwrap())
}

#[test]
fn template_golden_cases_match_go() {
    let cases: Vec<Value> = serde_json::from_str(GOLDEN).unwrap();
    assert!(cases.len() > 150, "golden table unexpectedly small");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["key"].as_str().unwrap_or("t");
        let source = case["template"].as_str().unwrap();
        let got = render(name, source, &values_of(case), &Limits::default())
            .map(|out| out.expose().to_vec())
            .map_err(|e| e.to_string());
        let want = expected(case);
        if got != want {
            let show = |r: &Result<Vec<u8>, String>| match r {
                Ok(bytes) => format!("output {:?}", String::from_utf8_lossy(bytes)),
                Err(e) => format!("error  {e:?}"),
            };
            failures.push(format!(
                "{}\n  template {source:?}\n  want {}\n  got  {}",
                case["name"].as_str().unwrap(),
                show(&want),
                show(&got)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn template_golden_errors_never_contain_values() {
    let cases: Vec<Value> = serde_json::from_str(GOLDEN).unwrap();
    for case in &cases {
        let values = values_of(case);
        let source = case["template"].as_str().unwrap();
        if let Err(e) = render("t", source, &values, &Limits::default()) {
            let text = e.to_string();
            for (key, value) in &values {
                let value = String::from_utf8_lossy(value);
                // Values that also appear in the source are not secret to the error.
                if value.len() >= 3 && !source.contains(value.as_ref()) {
                    assert!(
                        !text.contains(value.as_ref()),
                        "{}: error {text:?} contains the value of {key}",
                        case["name"]
                    );
                }
            }
        }
    }
}
