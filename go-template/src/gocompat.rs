//! Go-compatible text that both the templates and the manifests need, in one place:
//! `strconv.FormatFloat` ([`float`]) and `encoding/json`'s strings and floats ([`json`]).
//!
//! Each function gives Go's bytes exactly; the tests beside them are Go's outputs.

pub mod float;
pub mod json;

pub use float::{Bits, format_float};
pub use json::{escape_json_string, format_json_float};
