//! Errors the core reports, typed: a malformed request, violations (with
//! their JSON form, the contract's), a corrupt stored batch, a storage
//! failure.
//!
//! Every failure a caller can cause is an [`Error`]; the core never panics on
//! input. How an error crosses to JavaScript is the binding's business
//! (`wasm/wire.rs`).

use std::fmt;

use crate::json::{write_str, write_uuid};
use crate::log::StreamPosition;

/// One expectation or constraint that did not hold, or a stored event id.
///
/// `expected` and `constraint` hold the caller's JSON text exactly as given,
/// so a violation echoes back what was asked.
#[derive(Clone, Debug, PartialEq)]
pub enum Violation {
    VersionMismatch {
        stream: String,
        expected: String,
        actual: Option<StreamPosition>,
    },
    MinRevisionNotMet {
        constraint: String,
        expected: u64,
        actual: u64,
    },
    MaxRevisionExceeded {
        constraint: String,
        max: u64,
        found: u64,
    },
    RangeNotSatisfied {
        constraint: String,
        start: u64,
        end: u64,
        actual: u64,
    },
    DuplicateEventId {
        id: u128,
        revision: u64,
    },
}

impl Violation {
    pub fn kind(&self) -> &'static str {
        match self {
            Violation::VersionMismatch { .. } => "version_mismatch",
            Violation::MinRevisionNotMet { .. } => "min_revision_not_met",
            Violation::MaxRevisionExceeded { .. } => "max_revision_exceeded",
            Violation::RangeNotSatisfied { .. } => "range_not_satisfied",
            Violation::DuplicateEventId { .. } => "duplicate_event_id",
        }
    }

    /// Writes the violation's JSON form, §3's fields (the shape every
    /// binding sends: the JavaScript error's `violations`, the server's
    /// outcomes).
    pub fn write_json(&self, out: &mut String) {
        use std::fmt::Write;
        out.push_str("{\"kind\":\"");
        out.push_str(self.kind());
        out.push('"');
        match self {
            Violation::VersionMismatch {
                stream,
                expected,
                actual,
            } => {
                out.push_str(",\"stream\":");
                write_str(out, stream);
                let _ = write!(out, ",\"expected\":{expected},\"actual\":");
                match actual {
                    Some(p) => {
                        let _ = write!(
                            out,
                            "{{\"version\":{},\"revision\":{}}}",
                            p.version, p.revision
                        );
                    }
                    None => out.push_str("null"),
                }
            }
            Violation::MinRevisionNotMet {
                constraint,
                expected,
                actual,
            } => {
                let _ = write!(
                    out,
                    ",\"constraint\":{constraint},\"expected\":{expected},\"actual\":{actual}"
                );
            }
            Violation::MaxRevisionExceeded {
                constraint,
                max,
                found,
            } => {
                let _ = write!(
                    out,
                    ",\"constraint\":{constraint},\"max\":{max},\"found\":{found}"
                );
            }
            Violation::RangeNotSatisfied {
                constraint,
                start,
                end,
                actual,
            } => {
                let _ = write!(
                    out,
                    ",\"constraint\":{constraint},\"start\":{start},\"end\":{end},\"actual\":{actual}"
                );
            }
            Violation::DuplicateEventId { id, revision } => {
                out.push_str(",\"id\":");
                write_uuid(out, *id);
                let _ = write!(out, ",\"revision\":{revision}");
            }
        }
        out.push('}');
    }
}

/// A violation in words, for people: "at most revision 1 on stream acc;
/// found 2" (the JSON form above is for programs).
impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, constraint, n, found) = match self {
            Violation::VersionMismatch {
                stream,
                expected,
                actual,
            } => {
                write!(f, "stream {stream} should have ")?;
                expectation(f, expected)?;
                return match actual {
                    Some(p) => write!(
                        f,
                        "; its last event is at version {}, revision {}",
                        p.version, p.revision
                    ),
                    None => f.write_str("; it has no events"),
                };
            }
            Violation::DuplicateEventId { id, revision } => {
                return write!(
                    f,
                    "event id {} is already stored at revision {revision}",
                    uuid::Uuid::from_u128(*id).hyphenated()
                );
            }
            Violation::MinRevisionNotMet {
                constraint,
                expected,
                actual,
            } => ("at least revision ", constraint, expected, actual),
            Violation::MaxRevisionExceeded {
                constraint,
                max,
                found,
            } if constraint.contains("\"failIfEventsMatch\"") => {
                f.write_str("no event ")?;
                scope(f, constraint)?;
                return write!(f, " after revision {max}; found {found}");
            }
            Violation::MaxRevisionExceeded {
                constraint,
                max,
                found,
            } => ("at most revision ", constraint, max, found),
            Violation::RangeNotSatisfied {
                constraint,
                start,
                end,
                actual,
            } => {
                write!(f, "a revision from {start} to {end} ")?;
                scope(f, constraint)?;
                return found_words(f, *actual);
            }
        };
        write!(f, "{what}{n} ")?;
        scope(f, constraint)?;
        found_words(f, *found)
    }
}

fn found_words(f: &mut fmt::Formatter<'_>, n: u64) -> fmt::Result {
    if n == 0 {
        f.write_str("; found none")
    } else {
        write!(f, "; found {n}")
    }
}

/// A stream expectation (its JSON text as given) in words.
fn expectation(f: &mut fmt::Formatter<'_>, json: &str) -> fmt::Result {
    use serde_json::Value;
    // (Numbers are written as u64s: a Value's own Display would bring its
    // whole serializer into the module.)
    let value: Value = serde_json::from_str(json).unwrap_or_default();
    let number = |key| value.get(key).and_then(Value::as_u64);
    match (value.as_str(), number("revision"), number("version")) {
        (Some("no_stream"), ..) | (_, Some(0), _) => f.write_str("no events"),
        (Some("stream_exists"), ..) => f.write_str("some event"),
        (Some("any"), ..) => f.write_str("anything"),
        (_, Some(r), _) => write!(f, "its last event at revision {r}"),
        (_, _, Some(v)) => write!(f, "its last event at version {v}"),
        _ => f.write_str(json),
    }
}

/// Where a constraint (its JSON text as given) looks, in words: "on stream
/// acc", "on type x with tags t and u", "in the log".
fn scope(f: &mut fmt::Formatter<'_>, constraint: &str) -> fmt::Result {
    use serde_json::Value;
    let value: Value = serde_json::from_str(constraint).unwrap_or_default();
    let items: &[Value] = match value
        .get("selector")
        .or_else(|| value.get("failIfEventsMatch"))
    {
        None => &[],
        Some(Value::Array(items)) => items,
        Some(one) => std::slice::from_ref(one),
    };
    if items.is_empty() {
        return f.write_str("in the log");
    }
    f.write_str("on ")?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(" or ")?;
        }
        let mut parts = 0;
        for (key, one, many, joiner) in [
            ("stream", "stream ", "streams ", " or "),
            ("subject", "subject ", "subjects ", " or "),
            ("type", "type ", "types ", " or "),
            ("types", "type ", "types ", " or "),
            ("tags", "tag ", "tags ", " and "),
        ] {
            let names: &[Value] = match item.get(key) {
                Some(Value::Array(list)) => list,
                Some(one @ Value::String(_)) => std::slice::from_ref(one),
                _ => &[],
            };
            if names.is_empty() {
                continue;
            }
            f.write_str(if parts > 0 { " with " } else { "" })?;
            f.write_str(if names.len() == 1 { one } else { many })?;
            for (j, name) in names.iter().enumerate() {
                f.write_str(if j > 0 { joiner } else { "" })?;
                f.write_str(name.as_str().unwrap_or_default())?;
            }
            parts += 1;
        }
        if parts == 0 {
            f.write_str("any event")?;
        }
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// The request is malformed; `path` names the bad field (`events[2].type`).
    InvalidInput { path: String, message: String },
    /// Expectations or constraints failed; nothing was written.
    Violations(Vec<Violation>),
    /// A stored batch does not fit the log (bad record, gap, clash);
    /// `field` names the recorded event's field at fault, where one is.
    Corrupt {
        revision: u64,
        field: Option<&'static str>,
        message: String,
    },
    /// Storage refused or lost a write, is closed, or the platform lacks
    /// what it needs (IndexedDB, a random source): `reason` is one of
    /// `quota`, `aborted`, `closed`, `unavailable`.
    Storage {
        reason: &'static str,
        message: String,
    },
}

impl Error {
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidInput {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidInput { path, message } if path.is_empty() => {
                write!(f, "Invalid input: {message}")
            }
            Error::InvalidInput { path, message } => {
                write!(f, "Invalid input at {path}: {message}")
            }
            Error::Violations(violations) => {
                write!(
                    f,
                    "Nothing was written: {} check{} failed (",
                    violations.len(),
                    if violations.len() == 1 { "" } else { "s" }
                )?;
                // A violation's words hold "; " themselves.
                for (i, v) in violations.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" · ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("). Read the current state and decide again.")
            }
            Error::Storage { message, .. } => f.write_str(message),
            Error::Corrupt {
                revision, message, ..
            } => write!(
                f,
                "The stored event at revision {revision} is corrupt ({message}); the store cannot be loaded as it is"
            ),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::Violation;
    use crate::log::StreamPosition;

    fn words(v: Violation) -> String {
        v.to_string()
    }

    #[test]
    fn violations_read_in_words() {
        let max = |c: &str, max, found| Violation::MaxRevisionExceeded {
            constraint: c.into(),
            max,
            found,
        };
        assert_eq!(
            words(max(
                r#"{"maxRevision":1,"selector":{"stream":"acc"}}"#,
                1,
                2
            )),
            "at most revision 1 on stream acc; found 2"
        );
        assert_eq!(
            words(max(r#"{"maxRevision":0}"#, 0, 7)),
            "at most revision 0 in the log; found 7"
        );
        assert_eq!(
            words(max(
                r#"{"failIfEventsMatch":[{"types":["seat_booked"],"tags":["course:c1","student:s1"]},{"stream":["a","b"]}],"after":4}"#,
                4,
                9
            )),
            "no event on type seat_booked with tags course:c1 and student:s1 or streams a or b after revision 4; found 9"
        );
        assert_eq!(
            words(Violation::MinRevisionNotMet {
                constraint: r#"{"minRevision":1,"selector":{"subject":"ann@example.com"}}"#.into(),
                expected: 1,
                actual: 0,
            }),
            "at least revision 1 on subject ann@example.com; found none"
        );
        assert_eq!(
            words(Violation::RangeNotSatisfied {
                constraint: r#"{"revisionRange":[2,3],"selector":{"type":["x","y"]}}"#.into(),
                start: 2,
                end: 3,
                actual: 5,
            }),
            "a revision from 2 to 3 on types x or y; found 5"
        );
        let mismatch = |expected: &str, actual| Violation::VersionMismatch {
            stream: "acc-1".into(),
            expected: expected.into(),
            actual,
        };
        let at = Some(StreamPosition {
            version: 1,
            revision: 2,
        });
        assert_eq!(
            words(mismatch(r#""no_stream""#, at)),
            "stream acc-1 should have no events; its last event is at version 1, revision 2"
        );
        assert_eq!(
            words(mismatch(r#"{"revision":5}"#, at)),
            "stream acc-1 should have its last event at revision 5; its last event is at version 1, revision 2"
        );
        assert_eq!(
            words(mismatch(r#""stream_exists""#, None)),
            "stream acc-1 should have some event; it has no events"
        );
    }
}
