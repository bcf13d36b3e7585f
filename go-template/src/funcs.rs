//! The function table: Go's builtins and the Sprig v3.3.0 `GenericFuncMap` (minus `env`,
//! `expandenv` and `getHostByName`, as upstream removes them), with each function's Go
//! parameter types so that arguments are checked and converted exactly as Go does.
//!
//! Every Sprig name is *defined* (a template using it parses, as with upstream); the ones we
//! do not implement fail when called, with a clear "not supported" error.

use super::builtins;
use super::call::{ArgType, FnPtr, Func, Imp};
use super::sprig;
use super::sprig_codec;
use super::sprig_data;
use super::sprig_json;
use super::sprig_num;
use super::sprig_path;
use super::sprig_regex;
use super::sprig_split;

/// Every name in Sprig v3.3.0's `GenericFuncMap`, minus the three upstream deletes.
const SPRIG_NAMES: &[&str] = &[
    "hello",
    "ago",
    "date",
    "date_in_zone",
    "date_modify",
    "dateInZone",
    "dateModify",
    "duration",
    "durationRound",
    "htmlDate",
    "htmlDateInZone",
    "must_date_modify",
    "mustDateModify",
    "mustToDate",
    "now",
    "toDate",
    "unixEpoch",
    "abbrev",
    "abbrevboth",
    "trunc",
    "trim",
    "upper",
    "lower",
    "title",
    "untitle",
    "substr",
    "repeat",
    "trimall",
    "trimAll",
    "trimSuffix",
    "trimPrefix",
    "nospace",
    "initials",
    "randAlphaNum",
    "randAlpha",
    "randAscii",
    "randNumeric",
    "swapcase",
    "shuffle",
    "snakecase",
    "camelcase",
    "kebabcase",
    "wrap",
    "wrapWith",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "quote",
    "squote",
    "cat",
    "indent",
    "nindent",
    "replace",
    "plural",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "adler32sum",
    "toString",
    "atoi",
    "int64",
    "int",
    "float64",
    "seq",
    "toDecimal",
    "split",
    "splitList",
    "splitn",
    "toStrings",
    "until",
    "untilStep",
    "add1",
    "add",
    "sub",
    "div",
    "mod",
    "mul",
    "randInt",
    "add1f",
    "addf",
    "subf",
    "divf",
    "mulf",
    "biggest",
    "max",
    "min",
    "maxf",
    "minf",
    "ceil",
    "floor",
    "round",
    "join",
    "sortAlpha",
    "default",
    "empty",
    "coalesce",
    "all",
    "any",
    "compact",
    "mustCompact",
    "fromJson",
    "toJson",
    "toPrettyJson",
    "toRawJson",
    "mustFromJson",
    "mustToJson",
    "mustToPrettyJson",
    "mustToRawJson",
    "ternary",
    "deepCopy",
    "mustDeepCopy",
    "typeOf",
    "typeIs",
    "typeIsLike",
    "kindOf",
    "kindIs",
    "deepEqual",
    "base",
    "dir",
    "clean",
    "ext",
    "isAbs",
    "osBase",
    "osClean",
    "osDir",
    "osExt",
    "osIsAbs",
    "b64enc",
    "b64dec",
    "b32enc",
    "b32dec",
    "tuple",
    "list",
    "dict",
    "get",
    "set",
    "unset",
    "hasKey",
    "pluck",
    "keys",
    "pick",
    "omit",
    "merge",
    "mergeOverwrite",
    "mustMerge",
    "mustMergeOverwrite",
    "values",
    "append",
    "push",
    "mustAppend",
    "mustPush",
    "prepend",
    "mustPrepend",
    "first",
    "mustFirst",
    "rest",
    "mustRest",
    "last",
    "mustLast",
    "initial",
    "mustInitial",
    "reverse",
    "mustReverse",
    "uniq",
    "mustUniq",
    "without",
    "mustWithout",
    "has",
    "mustHas",
    "slice",
    "mustSlice",
    "concat",
    "dig",
    "chunk",
    "mustChunk",
    "bcrypt",
    "htpasswd",
    "genPrivateKey",
    "derivePassword",
    "buildCustomCert",
    "genCA",
    "genCAWithKey",
    "genSelfSignedCert",
    "genSelfSignedCertWithKey",
    "genSignedCert",
    "genSignedCertWithKey",
    "encryptAES",
    "decryptAES",
    "randBytes",
    "uuidv4",
    "semver",
    "semverCompare",
    "fail",
    "regexMatch",
    "mustRegexMatch",
    "regexFindAll",
    "mustRegexFindAll",
    "regexFind",
    "mustRegexFind",
    "regexReplaceAll",
    "mustRegexReplaceAll",
    "regexReplaceAllLiteral",
    "mustRegexReplaceAllLiteral",
    "regexSplit",
    "mustRegexSplit",
    "regexQuoteMeta",
    "urlParse",
    "urlJoin",
];

const BUILTIN_NAMES: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];

/// Whether Go's parser would accept `name` as a function.
pub(super) fn is_defined(name: &str) -> bool {
    BUILTIN_NAMES.contains(&name) || SPRIG_NAMES.contains(&name)
}

/// The function called `name`, if it is defined.
pub(super) fn lookup(name: &str) -> Option<Func> {
    use ArgType::{Any, Bool, Int, MapAny, Reflect, Str};
    let f = |params: &'static [ArgType], variadic: Option<ArgType>, imp: FnPtr| {
        (params, variadic, Imp::Fn(imp))
    };
    let (params, variadic, imp): (&'static [ArgType], Option<ArgType>, Imp) = match name {
        // Go builtins (`slice` is Sprig's, which replaces the builtin).
        "and" => (&[Reflect], Some(Reflect), Imp::And),
        "or" => (&[Reflect], Some(Reflect), Imp::Or),
        "call" => (&[Reflect], Some(Reflect), Imp::Call),
        "not" => f(&[Reflect], None, builtins::not),
        "len" => f(&[Reflect], None, builtins::len),
        "index" => f(&[Reflect], Some(Reflect), builtins::index),
        "print" => f(&[], Some(Any), builtins::print),
        "println" => f(&[], Some(Any), builtins::println),
        "printf" => f(&[Str], Some(Any), builtins::printf),
        "html" => f(&[], Some(Any), builtins::html),
        "js" => f(&[], Some(Any), builtins::js),
        "urlquery" => f(&[], Some(Any), builtins::urlquery),
        "eq" => f(&[Reflect], Some(Reflect), builtins::eq),
        "ne" => f(&[Reflect, Reflect], None, builtins::ne),
        "lt" => f(&[Reflect, Reflect], None, builtins::lt),
        "le" => f(&[Reflect, Reflect], None, builtins::le),
        "gt" => f(&[Reflect, Reflect], None, builtins::gt),
        "ge" => f(&[Reflect, Reflect], None, builtins::ge),
        // Sprig: strings.
        "hello" => f(&[], None, sprig::hello),
        "trunc" => f(&[Int, Str], None, sprig::trunc),
        "trim" => f(&[Str], None, sprig::trim),
        "upper" => f(&[Str], None, sprig::upper),
        "lower" => f(&[Str], None, sprig::lower),
        "title" => f(&[Str], None, sprig::title),
        "substr" => f(&[Int, Int, Str], None, sprig::substr),
        "repeat" => f(&[Int, Str], None, sprig::repeat),
        "trimall" | "trimAll" => f(&[Str, Str], None, sprig::trim_all),
        "trimSuffix" => f(&[Str, Str], None, sprig::trim_suffix),
        "trimPrefix" => f(&[Str, Str], None, sprig::trim_prefix),
        "nospace" => f(&[Str], None, sprig::nospace),
        "contains" => f(&[Str, Str], None, sprig::contains),
        "hasPrefix" => f(&[Str, Str], None, sprig::has_prefix),
        "hasSuffix" => f(&[Str, Str], None, sprig::has_suffix),
        "quote" => f(&[], Some(Any), sprig::quote),
        "squote" => f(&[], Some(Any), sprig::squote),
        "cat" => f(&[], Some(Any), sprig::cat),
        "indent" => f(&[Int, Str], None, sprig::indent),
        "nindent" => f(&[Int, Str], None, sprig::nindent),
        "replace" => f(&[Str, Str, Str], None, sprig::replace),
        "plural" => f(&[Str, Str, Int], None, sprig::plural),
        "sha1sum" => f(&[Str], None, sprig_codec::sha1sum),
        "sha256sum" => f(&[Str], None, sprig_codec::sha256sum),
        "sha512sum" => f(&[Str], None, sprig_codec::sha512sum),
        "adler32sum" => f(&[Str], None, sprig_codec::adler32sum),
        "toString" => f(&[Any], None, sprig::to_string),
        "atoi" => f(&[Str], None, sprig::atoi),
        "int" => f(&[Any], None, sprig::to_int),
        "int64" => f(&[Any], None, sprig::to_int64),
        "float64" => f(&[Any], None, sprig::to_float64),
        "split" => f(&[Str, Str], None, sprig_split::split),
        "splitList" => f(&[Str, Str], None, sprig_split::split_list),
        "splitn" => f(&[Str, Int, Str], None, sprig_split::splitn),
        "toStrings" => f(&[Any], None, sprig_split::to_strings),
        "join" => f(&[Str, Any], None, sprig_split::join),
        "sortAlpha" => f(&[Any], None, sprig_split::sort_alpha),
        "b64enc" => f(&[Str], None, sprig_codec::b64enc),
        "b64dec" => f(&[Str], None, sprig_codec::b64dec),
        "b32enc" => f(&[Str], None, sprig_codec::b32enc),
        "b32dec" => f(&[Str], None, sprig_codec::b32dec),
        "fail" => f(&[Str], None, sprig::fail),
        // Sprig: defaults and JSON.
        "default" => f(&[Any], Some(Any), sprig_json::default),
        "empty" => f(&[Any], None, sprig_json::empty),
        "coalesce" => f(&[], Some(Any), sprig_json::coalesce),
        "all" => f(&[], Some(Any), sprig_json::all),
        "any" => f(&[], Some(Any), sprig_json::any),
        "ternary" => f(&[Any, Any, Bool], None, sprig_json::ternary),
        "fromJson" => f(&[Str], None, sprig_json::from_json),
        "mustFromJson" => f(&[Str], None, sprig_json::must_from_json),
        "toJson" => f(&[Any], None, sprig_json::to_json),
        "mustToJson" => f(&[Any], None, sprig_json::must_to_json),
        "toPrettyJson" => f(&[Any], None, sprig_json::to_pretty_json),
        "mustToPrettyJson" => f(&[Any], None, sprig_json::must_to_pretty_json),
        "toRawJson" | "mustToRawJson" => f(&[Any], None, sprig_json::to_raw_json),
        // Sprig: regular expressions.
        "regexMatch" => f(&[Str, Str], None, sprig_regex::regex_match),
        "mustRegexMatch" => f(&[Str, Str], None, sprig_regex::must_regex_match),
        "regexFindAll" | "mustRegexFindAll" => {
            f(&[Str, Str, Int], None, sprig_regex::regex_find_all)
        }
        "regexFind" | "mustRegexFind" => f(&[Str, Str], None, sprig_regex::regex_find),
        "regexReplaceAll" | "mustRegexReplaceAll" => {
            f(&[Str, Str, Str], None, sprig_regex::regex_replace_all)
        }
        "regexReplaceAllLiteral" | "mustRegexReplaceAllLiteral" => f(
            &[Str, Str, Str],
            None,
            sprig_regex::regex_replace_all_literal,
        ),
        "regexSplit" | "mustRegexSplit" => f(&[Str, Str, Int], None, sprig_regex::regex_split),
        "regexQuoteMeta" => f(&[Str], None, sprig_regex::regex_quote_meta),
        // Sprig: arithmetic.
        "add" => f(&[], Some(Any), sprig_num::add),
        "add1" => f(&[Any], None, sprig_num::add1),
        "sub" => f(&[Any, Any], None, sprig_num::sub),
        "mul" => f(&[Any], Some(Any), sprig_num::mul),
        "div" => f(&[Any, Any], None, sprig_num::div),
        "mod" => f(&[Any, Any], None, sprig_num::modulo),
        "max" | "biggest" => f(&[Any], Some(Any), sprig_num::max),
        "min" => f(&[Any], Some(Any), sprig_num::min),
        "until" => f(&[Int], None, sprig_num::until),
        "untilStep" => f(&[Int, Int, Int], None, sprig_num::until_step),
        "seq" => f(&[], Some(Int), sprig_num::seq),
        // Sprig: types and paths.
        "typeOf" => f(&[Any], None, sprig_path::type_of),
        "typeIs" => f(&[Str, Any], None, sprig_path::type_is),
        "typeIsLike" => f(&[Str, Any], None, sprig_path::type_is_like),
        "kindOf" => f(&[Any], None, sprig_path::kind_of),
        "kindIs" => f(&[Str, Any], None, sprig_path::kind_is),
        "base" | "osBase" => f(&[Str], None, sprig_path::path_base),
        "dir" | "osDir" => f(&[Str], None, sprig_path::path_dir),
        "clean" | "osClean" => f(&[Str], None, sprig_path::path_clean),
        "ext" | "osExt" => f(&[Str], None, sprig_path::path_ext),
        "isAbs" | "osIsAbs" => f(&[Str], None, sprig_path::path_is_abs),
        // Sprig: lists and dicts.
        "list" | "tuple" => f(&[], Some(Any), sprig_data::list),
        "dict" => f(&[], Some(Any), sprig_data::dict),
        "get" => f(&[MapAny, Str], None, sprig_data::get),
        "set" => f(&[MapAny, Str, Any], None, sprig_data::set),
        "unset" => f(&[MapAny, Str], None, sprig_data::unset),
        "hasKey" => f(&[MapAny, Str], None, sprig_data::has_key),
        "pluck" => f(&[Str], Some(MapAny), sprig_data::pluck),
        "keys" => f(&[], Some(MapAny), sprig_data::keys),
        "pick" => f(&[MapAny], Some(Str), sprig_data::pick),
        "omit" => f(&[MapAny], Some(Str), sprig_data::omit),
        "values" => f(&[MapAny], None, sprig_data::values),
        "dig" => f(&[], Some(Any), sprig_data::dig),
        "append" | "push" | "mustAppend" | "mustPush" => f(&[Any, Any], None, sprig_data::push),
        "prepend" | "mustPrepend" => f(&[Any, Any], None, sprig_data::prepend),
        "first" | "mustFirst" => f(&[Any], None, sprig_data::first),
        "last" | "mustLast" => f(&[Any], None, sprig_data::last),
        "rest" | "mustRest" => f(&[Any], None, sprig_data::rest),
        "initial" | "mustInitial" => f(&[Any], None, sprig_data::initial),
        "reverse" | "mustReverse" => f(&[Any], None, sprig_data::reverse),
        "uniq" | "mustUniq" => f(&[Any], None, sprig_data::uniq),
        "compact" | "mustCompact" => f(&[Any], None, sprig_data::compact),
        "without" | "mustWithout" => f(&[Any], Some(Any), sprig_data::without),
        "has" | "mustHas" => f(&[Any, Any], None, sprig_data::has),
        "slice" | "mustSlice" => f(&[Any], Some(Any), sprig_data::slice),
        "concat" => f(&[], Some(Any), sprig_data::concat),
        "deepEqual" => f(&[Any, Any], None, sprig_data::deep_equal),
        _ if SPRIG_NAMES.contains(&name) => (&[], Some(Any), Imp::Unsupported),
        _ => return None,
    };
    Some(Func {
        name: name.to_owned(),
        params,
        variadic,
        imp,
    })
}

#[cfg(test)]
mod docs_tests {
    use super::{BUILTIN_NAMES, Imp, SPRIG_NAMES, lookup};

    /// The names in the `## Heading` section of docs/templates.md, written as `` `name` ``.
    fn documented(section: &str) -> Vec<String> {
        let doc = include_str!("../../docs/templates.md");
        let start = doc
            .find(&format!("\n## {section}\n"))
            .unwrap_or_else(|| panic!("docs/templates.md has no section {section:?}"));
        let body = &doc[start + section.len() + 5..];
        let body = &body[..body.find("\n## ").unwrap_or(body.len())];
        body.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    fn supported(name: &str) -> bool {
        lookup(name).is_some_and(|f| !matches!(f.imp, Imp::Unsupported))
    }

    #[test]
    fn docs_list_every_function_in_the_right_section() {
        let listed_supported = documented("Supported functions");
        let listed_unsupported = documented("Not supported");
        for name in BUILTIN_NAMES.iter().chain(SPRIG_NAMES) {
            let (want, other) = if supported(name) {
                (&listed_supported, &listed_unsupported)
            } else {
                (&listed_unsupported, &listed_supported)
            };
            assert!(
                want.iter().any(|n| n == name) && !other.iter().any(|n| n == name),
                "docs/templates.md lists `{name}` in the wrong section (supported: {})",
                supported(name)
            );
        }
    }

    #[test]
    #[ignore = "prints the lists for docs/templates.md"]
    fn print_function_lists() {
        let (yes, no): (Vec<&str>, Vec<&str>) = BUILTIN_NAMES
            .iter()
            .chain(SPRIG_NAMES)
            .partition(|n| supported(n));
        println!("SUPPORTED {}", yes.join(" "));
        println!("UNSUPPORTED {}", no.join(" "));
    }
}
