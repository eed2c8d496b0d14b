//! Errors the core reports, typed: a malformed request, violations (with
//! their JSON form, the contract's), a corrupt stored batch, a storage
//! failure.
//!
//! Every failure a caller can cause is an [`Error`]; the core never panics on
//! input. How an error crosses to JavaScript is the binding's business
//! (`wasm/wire.rs`).

use std::fmt;

use crate::json::{write_str, write_uuid};
use crate::position::StreamPosition;

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

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::VersionMismatch {
                stream,
                expected,
                actual,
            } => {
                write!(f, "stream {stream:?} expected {expected} but ")?;
                match actual {
                    Some(p) => write!(
                        f,
                        "its last event has version {} at revision {}",
                        p.version, p.revision
                    ),
                    None => write!(f, "it has no events"),
                }
            }
            Violation::MinRevisionNotMet {
                constraint,
                expected,
                actual,
            } => write!(
                f,
                "{constraint}: needs revision ≥ {expected}, found {actual}"
            ),
            Violation::MaxRevisionExceeded {
                constraint,
                max,
                found,
            } => write!(f, "{constraint}: needs revision ≤ {max}, found {found}"),
            Violation::RangeNotSatisfied {
                constraint,
                start,
                end,
                actual,
            } => write!(
                f,
                "{constraint}: needs revision in [{start}, {end}], found {actual}"
            ),
            Violation::DuplicateEventId { id, revision } => write!(
                f,
                "event id {} is already stored at revision {revision}",
                uuid::Uuid::from_u128(*id).hyphenated()
            ),
        }
    }
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
                for (i, v) in violations.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
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
