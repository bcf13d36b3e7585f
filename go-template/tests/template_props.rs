//! Property tests: no input makes the renderer panic, loop forever or exceed its limits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::BTreeMap;

use go_template::{Limits, render};
use proptest::prelude::*;

fn small_limits() -> Limits {
    Limits {
        max_output_bytes: 64 * 1024,
        max_steps: 20_000,
        max_source_bytes: 64 * 1024,
        max_total_output_bytes: 64 * 1024,
        max_templates: 4,
        max_memory_bytes: 1024 * 1024,
    }
}

fn values() -> BTreeMap<String, Vec<u8>> {
    let mut values = BTreeMap::new();
    values.insert("a".to_owned(), b"hunter2".to_vec());
    values.insert("b".to_owned(), [0xff, 0, b'{', b'}'].to_vec());
    values.insert("j".to_owned(), br#"{"x":[1,"y",null]}"#.to_vec());
    values
}

/// Pieces of template syntax, so that generated sources get past the lexer often.
const PIECES: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    "-}}",
    " ",
    ".",
    ".a",
    ".b",
    ".j",
    "$",
    "$x",
    ":=",
    "=",
    "|",
    "(",
    ")",
    "\"s\"",
    "`r`",
    "1",
    "-2",
    "1.5",
    "'c'",
    "nil",
    "true",
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
    ",",
    "/*",
    "*/",
    "\n",
    "index",
    "printf",
    "\"%v%d%s%q%x%5.2f\"",
    "print",
    "len",
    "and",
    "or",
    "not",
    "eq",
    "lt",
    "slice",
    "toJson",
    "fromJson",
    "b64enc",
    "b64dec",
    "upper",
    "default",
    "list",
    "dict",
    "set",
    "get",
    "repeat",
    "until",
    "split",
    "splitList",
    "join",
    "regexFind",
    "\"a*\"",
    "quote",
    "indent",
    "replace",
    "trunc",
    "substr",
    "first",
    "rest",
    "append",
    "keys",
    "dig",
    "add",
    "div",
    "mod",
    "seq",
    "sha256sum",
    "toString",
    "html",
    "js",
    "urlquery",
    "fail",
    "coalesce",
    "ternary",
    "deepEqual",
    "typeOf",
    "nindent",
];

fn template_like() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn template_arbitrary_strings_never_panic(source in any::<String>()) {
        let _ = render("t", &source, &values(), &small_limits());
    }

    #[test]
    fn template_token_soup_never_panics(source in template_like()) {
        let limits = small_limits();
        match render("t", &source, &values(), &limits) {
            Ok(out) => prop_assert!(out.len() <= limits.max_output_bytes),
            Err(e) => {
                let text = e.to_string();
                prop_assert!(!text.contains("hunter2"), "{}", text);
                prop_assert!(!text.contains('\n') || source.contains('\n'), "{}", text);
            }
        }
    }

    #[test]
    fn template_wellformed_actions_never_panic(
        funcs in prop::collection::vec(prop::sample::select(PIECES), 1..6),
        args in prop::collection::vec(prop::sample::select(&[".a", ".b", ".j", "1", "-1", "\"x\"", "nil", "(list 1 .a)", "(dict \"k\" .a)", "0", "1.5", "true", "(until 3)"][..]), 0..4),
    ) {
        let source = format!("{{{{ {} {} }}}}", funcs.join(" | "), args.join(" "));
        let _ = render("t", &source, &values(), &small_limits());
    }
}
