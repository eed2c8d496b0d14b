//! Stream expectations and batch constraints as given: their types and
//! parsing. (Checking them against the log is [`crate::constraint`].)

use serde_json::Value;

use crate::error::{Error, Result};
use crate::json::{index_path, key_path, safe_integer, MAX_SAFE};
use crate::selector::Selector;

/// A stream expectation (Hindsight's `ExpectedVersion`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expectation {
    Any,
    NoStream,
    StreamExists,
    /// The stream's last event has exactly this global revision (0: no events).
    Revision(u64),
    /// The stream's last event has exactly this version.
    Version(u64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConstraintKind {
    Min(u64),
    Max(u64),
    Range(u64, u64),
}

/// A batch constraint; `selector: None` means the head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraint {
    pub kind: ConstraintKind,
    pub selector: Option<Selector>,
    /// The constraint as given, echoed in violations.
    pub text: String,
}

pub(crate) fn parse_expectation(text: &str, path: impl Fn() -> String) -> Result<Expectation> {
    match text {
        "\"any\"" => return Ok(Expectation::Any),
        "\"no_stream\"" => return Ok(Expectation::NoStream),
        "\"stream_exists\"" => return Ok(Expectation::StreamExists),
        _ => {}
    }
    // The common shapes, as JSON.stringify writes them, without a JSON tree.
    for (prefix, make) in [
        (
            "{\"version\":",
            Expectation::Version as fn(u64) -> Expectation,
        ),
        ("{\"revision\":", Expectation::Revision),
    ] {
        if let Some(n) = text.strip_prefix(prefix).and_then(|t| t.strip_suffix('}')) {
            // `text` is valid JSON (serde checked it), so digits are a number.
            if let Some(n) = n.parse::<u64>().ok().filter(|&n| n <= MAX_SAFE) {
                return Ok(make(n));
            }
        }
    }
    let shape =
        "expected \"any\", \"no_stream\", \"stream_exists\", { revision: n } or { version: n }";
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
        return Err(Error::invalid(path(), shape));
    };
    let mut entries = map.iter();
    match (entries.next(), entries.next()) {
        (Some((k, v)), None) if k == "revision" => {
            Ok(Expectation::Revision(integer(v, &key_path(&path(), k))?))
        }
        (Some((k, v)), None) if k == "version" => {
            Ok(Expectation::Version(integer(v, &key_path(&path(), k))?))
        }
        (Some((k, _)), None) => Err(Error::invalid(
            key_path(&path(), k),
            format!("unknown key; {shape}"),
        )),
        _ => Err(Error::invalid(path(), shape)),
    }
}

const CONSTRAINT_SHAPES: &str = "expected { minRevision }, { maxRevision }, { revisionRange: [a, b] } (each with an optional selector) or { failIfEventsMatch, after? }";

pub(crate) fn parse_constraint(text: &str, path: &str) -> Result<Constraint> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| Error::invalid(path, e.to_string()))?;
    let Value::Object(map) = &value else {
        return Err(Error::invalid(path, CONSTRAINT_SHAPES));
    };
    let kinds = [
        "minRevision",
        "maxRevision",
        "revisionRange",
        "failIfEventsMatch",
    ];
    let present: Vec<&str> = kinds
        .iter()
        .copied()
        .filter(|k| map.contains_key(*k))
        .collect();
    let kind_key = match present.as_slice() {
        [one] => *one,
        [] => return Err(Error::invalid(path, CONSTRAINT_SHAPES)),
        [_, second, ..] => {
            return Err(Error::invalid(
                key_path(path, second),
                "a constraint has exactly one kind; write two constraints instead",
            ))
        }
    };
    let allowed: &[&str] = if kind_key == "failIfEventsMatch" {
        &["after"]
    } else {
        &["selector"]
    };
    if let Some(k) = map
        .keys()
        .find(|k| k.as_str() != kind_key && !allowed.contains(&k.as_str()))
    {
        return Err(Error::invalid(
            key_path(path, k),
            format!("unknown key; {CONSTRAINT_SHAPES}"),
        ));
    }
    let kpath = key_path(path, kind_key);
    let kind_value = &map[kind_key];
    let selector = |key: &str| {
        map.get(key)
            .map(|s| Selector::parse(s, &key_path(path, key)))
            .transpose()
    };
    let (kind, selector) = match kind_key {
        "minRevision" => (
            ConstraintKind::Min(integer(kind_value, &kpath)?),
            selector("selector")?,
        ),
        "maxRevision" => (
            ConstraintKind::Max(integer(kind_value, &kpath)?),
            selector("selector")?,
        ),
        "revisionRange" => {
            let range = match kind_value {
                Value::Array(pair) if pair.len() == 2 => pair,
                _ => return Err(Error::invalid(kpath, "expected [start, end]")),
            };
            let start = integer(&range[0], &index_path(&kpath, 0))?;
            let end = integer(&range[1], &index_path(&kpath, 1))?;
            if start > end {
                return Err(Error::invalid(
                    kpath,
                    format!("start {start} is after end {end}; no revision can satisfy it"),
                ));
            }
            (ConstraintKind::Range(start, end), selector("selector")?)
        }
        _ => {
            let after = match map.get("after") {
                Some(v) => integer(v, &key_path(path, "after"))?,
                None => 0,
            };
            (ConstraintKind::Max(after), selector("failIfEventsMatch")?)
        }
    };
    Ok(Constraint {
        kind,
        selector,
        text: text.to_string(),
    })
}

/// A non-negative safe integer (a revision, a version), or an error at `path`.
pub fn integer(v: &Value, path: &str) -> Result<u64> {
    safe_integer(v).ok_or_else(|| Error::invalid(path, "expected a non-negative integer"))
}
