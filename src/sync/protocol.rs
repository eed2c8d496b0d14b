//! The sync protocol's rules (SPEC §8.2–§8.3) that are not the view rule
//! itself, each written once for the server and the core alike: the push
//! limits, the fields the server stamps, the null rule, the recorded
//! event's JSON, and a view's `own` in its two forms.
//!
//! The JavaScript client mirrors the limits (`pending.js`), the null rule
//! and the recorded event's field order (`record.js`); the server's tests
//! pull what it records and compare it with what the client writes.

use serde::Deserialize;
use serde_json::Value;

use crate::error::Violation;
use crate::json::{write_str, write_uuid};
use crate::selector::Selector;

/// A push holds at most this many events, over all its batches.
pub const PUSH_EVENTS: usize = 1000;
/// A push holds at most this many batches.
pub const PUSH_BATCHES: usize = 1000;
/// A push's events, as UTF-8 JSON, hold at most this many bytes.
pub const PUSH_EVENT_BYTES: usize = 4 << 20;

/// The fields of a recorded event that the server stamps: a pushed event
/// carrying one is malformed.
pub const STAMPED: [&str; 4] = ["revision", "version", "batchId", "recordedAt"];

/// The null rule (SEMANTICS.md, "Input"): an optional field whose value is
/// `null` is absent. `raw` is the value's JSON text.
pub fn absent(raw: &str) -> bool {
    raw == "null"
}

/// A recorded event as the server writes it, its values given as JSON
/// text (already checked). Optional fields that are absent or `null` are
/// left out; `data` is always written (`null` when absent).
pub struct RecordedJson<'a> {
    pub revision: u64,
    pub stream: &'a str,
    pub version: u64,
    pub id: u128,
    pub type_: &'a str,
    pub data: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub tags: Option<&'a str>,
    pub time: Option<&'a str>,
    pub metadata: Option<&'a str>,
    pub correlation_id: Option<&'a str>,
    pub schema_version: Option<&'a str>,
    pub batch_id: &'a str,
    pub recorded_at: u64,
}

impl RecordedJson<'_> {
    /// Writes the event's JSON, its fields in the order reads return them
    /// (`record.js`, `FIELDS`).
    pub fn write(&self, out: &mut String) {
        out.push_str("{\"revision\":");
        out.push_str(itoa::Buffer::new().format(self.revision));
        out.push_str(",\"stream\":");
        write_str(out, self.stream);
        out.push_str(",\"version\":");
        out.push_str(itoa::Buffer::new().format(self.version));
        out.push_str(",\"id\":");
        write_uuid(out, self.id);
        out.push_str(",\"type\":");
        write_str(out, self.type_);
        out.push_str(",\"data\":");
        out.push_str(self.data.unwrap_or("null"));
        for (key, value) in [
            ("subject", self.subject),
            ("tags", self.tags),
            ("time", self.time),
            ("metadata", self.metadata),
            ("correlationId", self.correlation_id),
            ("schemaVersion", self.schema_version),
        ] {
            if let Some(v) = value.filter(|v| !absent(v)) {
                out.push_str(",\"");
                out.push_str(key);
                out.push_str("\":");
                out.push_str(v);
            }
        }
        out.push_str(",\"batchId\":");
        write_str(out, self.batch_id);
        out.push_str(",\"recordedAt\":");
        out.push_str(itoa::Buffer::new().format(self.recorded_at));
        out.push('}');
    }
}

/// A view's `own` as pushed: the batch ids in local order, or the compact
/// form, this client's batches of seq `from` … `to` less `except` (the ones
/// the device knew rejected). A client sends the compact form, so that a
/// push's size stays linear in its batches.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(
    untagged,
    expecting = "a list of batch ids, or { from, to, except } (seqs)"
)]
pub enum OwnIn {
    Ids(Vec<String>),
    Seqs(OwnSeqs),
}

impl Default for OwnIn {
    fn default() -> Self {
        OwnIn::Ids(Vec::new())
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OwnSeqs {
    pub from: u64,
    pub to: u64,
    #[serde(default)]
    pub except: Vec<u64>,
}

impl OwnSeqs {
    /// The seqs it names, in order, for a batch of seq `seq` (every one of
    /// them decided before it); `Err` says what does not fit, for the path
    /// `view.own`.
    pub fn seqs(&self, seq: u64) -> Result<impl Iterator<Item = u64> + '_, &'static str> {
        if self.from == 0 {
            return Err("`from` is a seq: 1 or more");
        }
        if self.to >= seq {
            return Err("`to` must be below the batch's own seq: own batches come before it");
        }
        if self.to + 1 < self.from {
            return Err("`to` is below `from` - 1 (`to` = `from` - 1 is empty)");
        }
        if !self.except.windows(2).all(|w| w[0] < w[1])
            || self
                .except
                .iter()
                .any(|s| !(self.from..=self.to).contains(s))
        {
            return Err("`except` lists seqs of from … to, each once, in order");
        }
        let mut skip = self.except.iter().copied().peekable();
        Ok((self.from..=self.to).filter(move |&s| {
            if skip.peek() == Some(&s) {
                skip.next();
                false
            } else {
                true
            }
        }))
    }
}

/// A violation's `message` as the server writes it: the condition in
/// words, and what was found ("at most revision 1 on stream acc; found
/// 2"). The violation's fields say the same for programs.
pub fn violation_message(v: &Violation) -> String {
    let (text, found) = match v {
        Violation::MinRevisionNotMet {
            constraint, actual, ..
        }
        | Violation::RangeNotSatisfied {
            constraint, actual, ..
        } => (constraint, *actual),
        Violation::MaxRevisionExceeded {
            constraint, found, ..
        } => (constraint, *found),
        other => return other.to_string(),
    };
    let Ok(Value::Object(c)) = serde_json::from_str::<Value>(text) else {
        return v.to_string();
    };
    let scope = |key: &str| match c.get(key) {
        None | Some(Value::Null) => "in the log".to_string(),
        Some(sel) => Selector::parse(sel, key)
            .map_or_else(|_| format!("matching {sel}"), |s| scope_words(&s)),
    };
    let wanted = match v {
        Violation::MinRevisionNotMet { expected, .. } => {
            format!("at least revision {expected} {}", scope("selector"))
        }
        Violation::RangeNotSatisfied { start, end, .. } => {
            format!(
                "a last revision from {start} to {end} {}",
                scope("selector")
            )
        }
        Violation::MaxRevisionExceeded { max, .. } if c.contains_key("failIfEventsMatch") => {
            format!(
                "no event after revision {max} {}",
                scope("failIfEventsMatch")
            )
        }
        Violation::MaxRevisionExceeded { max, .. } => {
            format!("at most revision {max} {}", scope("selector"))
        }
        _ => unreachable!("the other kinds returned above"),
    };
    if found == 0 {
        format!("{wanted}; found none")
    } else {
        format!("{wanted}; found {found}")
    }
}

/// A selector in words: "on stream acc", "of type a or b on stream s with
/// tags x and y", items joined by "or".
fn scope_words(sel: &Selector) -> String {
    if sel.is_all() {
        return "in the log".into();
    }
    let list = |v: &[String]| v.join(" or ");
    let items: Vec<String> = sel
        .items
        .iter()
        .map(|item| {
            let mut parts = Vec::new();
            if let Some(t) = &item.types {
                parts.push(format!("of type {}", list(t)));
            }
            if let Some(s) = &item.streams {
                parts.push(format!("on stream {}", list(s)));
            }
            if let Some(s) = &item.subjects {
                parts.push(format!("with subject {}", list(s)));
            }
            match item.tags.as_slice() {
                [] => {}
                [t] => parts.push(format!("tagged {t}")),
                tags => parts.push(format!("tagged {}", tags.join(" and "))),
            }
            if parts.is_empty() {
                "in the log".into()
            } else {
                parts.join(" ")
            }
        })
        .collect();
    items.join(", or ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(text: &str) -> OwnIn {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn own_in_both_forms() {
        assert_eq!(own("[]"), OwnIn::Ids(vec![]));
        assert_eq!(
            own(r#"{"from":3,"to":7,"except":[4,6]}"#),
            OwnIn::Seqs(OwnSeqs {
                from: 3,
                to: 7,
                except: vec![4, 6]
            })
        );
        let OwnIn::Seqs(s) = own(r#"{"from":3,"to":7,"except":[4,6]}"#) else {
            unreachable!()
        };
        assert_eq!(s.seqs(8).unwrap().collect::<Vec<_>>(), [3, 5, 7]);
        let OwnIn::Seqs(empty) = own(r#"{"from":5,"to":4}"#) else {
            unreachable!()
        };
        assert_eq!(empty.seqs(9).unwrap().count(), 0);
        let e = serde_json::from_str::<OwnIn>(r#"{"from":1,"to":2,"extra":0}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("a list of batch ids, or { from, to, except }"),
            "{e}"
        );
    }

    #[test]
    fn own_seqs_that_do_not_fit() {
        let s = |from, to, except: &[u64]| OwnSeqs {
            from,
            to,
            except: except.to_vec(),
        };
        assert!(s(0, 2, &[]).seqs(5).is_err());
        assert!(s(1, 5, &[]).seqs(5).is_err(), "to reaches the batch itself");
        assert!(s(4, 2, &[]).seqs(9).is_err());
        assert!(s(1, 4, &[3, 2]).seqs(9).is_err(), "out of order");
        assert!(s(1, 4, &[2, 2]).seqs(9).is_err(), "twice");
        assert!(s(2, 4, &[1]).seqs(9).is_err(), "outside the range");
    }

    #[test]
    fn violations_in_words() {
        let max = |constraint: &str, max, found| Violation::MaxRevisionExceeded {
            constraint: constraint.into(),
            max,
            found,
        };
        assert_eq!(
            violation_message(&max(
                r#"{"maxRevision":1,"selector":{"stream":"acc"}}"#,
                1,
                2
            )),
            "at most revision 1 on stream acc; found 2"
        );
        assert_eq!(
            violation_message(&max(r#"{"maxRevision":4}"#, 4, 9)),
            "at most revision 4 in the log; found 9"
        );
        assert_eq!(
            violation_message(&max(
                r#"{"failIfEventsMatch":[{"type":["a","b"],"tags":["x","y"]},{"subject":"s"}],"after":3}"#,
                3,
                7
            )),
            "no event after revision 3 of type a or b tagged x and y, or with subject s; found 7"
        );
        assert_eq!(
            violation_message(&Violation::MinRevisionNotMet {
                constraint: r#"{"minRevision":5,"selector":{"stream":"s","type":"t"}}"#.into(),
                expected: 5,
                actual: 0,
            }),
            "at least revision 5 of type t on stream s; found none"
        );
        assert_eq!(
            violation_message(&Violation::RangeNotSatisfied {
                constraint: r#"{"revisionRange":[2,3],"selector":{"stream":"s"}}"#.into(),
                start: 2,
                end: 3,
                actual: 5,
            }),
            "a last revision from 2 to 3 on stream s; found 5"
        );
    }

    #[test]
    fn recorded_json_leaves_null_out() {
        let mut out = String::new();
        RecordedJson {
            revision: 7,
            stream: "s\"1",
            version: 2,
            id: 1,
            type_: "t",
            data: None,
            subject: Some("null"),
            tags: Some(r#"["a"]"#),
            time: None,
            metadata: Some("null"),
            correlation_id: Some(r#""c""#),
            schema_version: None,
            batch_id: "b",
            recorded_at: 9,
        }
        .write(&mut out);
        assert_eq!(
            out,
            r#"{"revision":7,"stream":"s\"1","version":2,"id":"00000000-0000-0000-0000-000000000001","type":"t","data":null,"tags":["a"],"correlationId":"c","batchId":"b","recordedAt":9}"#
        );
    }
}
