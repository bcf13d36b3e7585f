//! Go `text/template` + Sprig subset for `spec.template.data` (SPEC §1.12).
//!
//! CONTRACT (owned by the template work).
