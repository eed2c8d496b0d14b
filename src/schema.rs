//! Event schema versions (SPEC §9): the plain rules the core owns.
//!
//! A recorded event's `schemaVersion` names the version of its `data`'s
//! shape: a positive safe integer, and an event without one is version 1.
//! The core checks the field where requests come in (transact requests,
//! and so pushed batches on the server; stored and imported events are
//! checked by `pkg-template/record.js`) and never decides anything by it: expectations, constraints, selectors and the view rule read the
//! envelope only. Which versions a type has, and upcasting, belong to the
//! app's code: the JavaScript layer applies them (`pkg-template/schemas.js`).

use crate::json::MAX_SAFE;

/// What a `schemaVersion` must be, for error messages.
pub const EXPECTED: &str = "expected a schema version: a positive integer (1 is the first shape, and the same as leaving it out)";

/// The schema version written as `text` (a JSON value), if it is one: a
/// positive safe integer written as digits (`2`, not `2.0`, `"2"` or `2e0`).
pub fn parse_version(text: &str) -> Option<u64> {
    let t = text.trim();
    if t.is_empty() || t.starts_with('0') || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<u64>()
        .ok()
        .filter(|&n| (1..=MAX_SAFE).contains(&n))
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn versions_are_positive_safe_integers_written_as_digits() {
        assert_eq!(parse_version("1"), Some(1));
        assert_eq!(parse_version(" 2 "), Some(2));
        assert_eq!(parse_version("9007199254740991"), Some((1 << 53) - 1));
        for bad in [
            "0",
            "-1",
            "1.5",
            "2.0",
            "2e0",
            "\"2\"",
            "null",
            "true",
            "[]",
            "{}",
            "01",
            "9007199254740992",
            "",
        ] {
            assert_eq!(parse_version(bad), None, "{bad}");
        }
    }
}
