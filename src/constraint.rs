//! The constraint engine: stream expectations and batch constraints, checked
//! against one snapshot of the log.
//!
//! Both vocabularies reduce to two lookups the indexes answer without a
//! scan: a stream's last position, and sel_rev(S), the newest revision
//! matching a selector. Every check runs, so a failure lists all violations.

use crate::condition::{Constraint, ConstraintKind, Expectation};
use crate::error::Violation;
use crate::log::{Log, StreamPosition};
use crate::request::Request;

/// Whether a stream whose last event is at `actual` meets `expectation`.
pub fn expectation_holds(expectation: &Expectation, actual: Option<StreamPosition>) -> bool {
    match (expectation, actual) {
        (Expectation::Any, _) => true,
        (Expectation::NoStream, a) => a.is_none(),
        (Expectation::StreamExists, a) => a.is_some(),
        (Expectation::Revision(0), a) => a.is_none(),
        (Expectation::Revision(r), a) => a.is_some_and(|p| p.revision == *r),
        (Expectation::Version(n), a) => a.is_some_and(|p| p.version == *n),
    }
}

/// Checks one constraint; `None` when it holds.
pub fn check_constraint(log: &Log, c: &Constraint) -> Option<Violation> {
    let actual = match &c.selector {
        None => log.head(),
        Some(sel) => log.last_revision(sel),
    };
    let constraint = c.text.clone();
    match c.kind {
        ConstraintKind::Min(expected) if actual < expected => Some(Violation::MinRevisionNotMet {
            constraint,
            expected,
            actual,
        }),
        ConstraintKind::Max(max) if actual > max => Some(Violation::MaxRevisionExceeded {
            constraint,
            max,
            found: actual,
        }),
        ConstraintKind::Range(start, end) if actual < start || actual > end => {
            Some(Violation::RangeNotSatisfied {
                constraint,
                start,
                end,
                actual,
            })
        }
        _ => None,
    }
}

/// Every violation of the request against the log as it stands, in the
/// order: expectations, constraints, stored event ids.
pub fn check(log: &Log, req: &Request) -> Vec<Violation> {
    let mut violations = Vec::new();
    for (stream, expectation, text) in &req.expect {
        let actual = log.stream(stream);
        if !expectation_holds(expectation, actual) {
            violations.push(Violation::VersionMismatch {
                stream: stream.to_string(),
                expected: text.to_string(),
                actual,
            });
        }
    }
    violations.extend(
        req.constraints
            .iter()
            .filter_map(|c| check_constraint(log, c)),
    );
    for e in &req.events {
        if let Some(id) = e.id {
            if let Some(rev) = log.revision_of_event_id(id) {
                violations.push(Violation::DuplicateEventId {
                    id,
                    revision: rev as u64,
                });
            }
        }
    }
    violations
}
