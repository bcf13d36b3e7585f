//! Reading JSON/YAML document streams and writing upstream-identical JSON and YAML.
//!
//! CONTRACT (owned by the manifest work).
