//! Recorded events as stored (IndexedDB records, other tabs' commits,
//! imports): parsing them into batches for [`crate::Store::restore`].

use std::borrow::Cow;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::json::parse_uuid;
use crate::log::NewEvent;

/// A recorded event as stored (see [`crate::Store::restore`]). Fields the
/// engine does not keep (`data`, `metadata`, `time`, `correlationId`) are
/// skipped unread.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordedIn<'a> {
    revision: u64,
    #[serde(borrow)]
    stream: Cow<'a, str>,
    version: u64,
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    type_: Cow<'a, str>,
    #[serde(borrow, default)]
    subject: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tags: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow)]
    batch_id: Cow<'a, str>,
    recorded_at: f64,
}

pub struct StoredEvent<'a> {
    pub stream: Cow<'a, str>,
    pub type_: Cow<'a, str>,
    pub subject: Option<Cow<'a, str>>,
    pub tags: Option<Vec<Cow<'a, str>>>,
    pub id: u128,
    pub version: u64,
}

pub struct StoredBatch<'a> {
    pub id: u128,
    pub recorded_at: f64,
    pub revision: u64,
    pub events: Vec<StoredEvent<'a>>,
}

impl StoredBatch<'_> {
    /// Its events as the log appends them.
    pub fn new_events(&self) -> Vec<NewEvent<'_>> {
        self.events
            .iter()
            .map(|e| NewEvent {
                id: e.id,
                stream: &e.stream,
                type_: &e.type_,
                subject: e.subject.as_deref(),
                tags: e.tags.as_deref(),
            })
            .collect()
    }

    /// The batch with its text copied: to keep after its text is gone.
    pub fn into_owned(self) -> StoredBatch<'static> {
        let owned = |s: Cow<str>| Cow::Owned(s.into_owned());
        StoredBatch {
            id: self.id,
            recorded_at: self.recorded_at,
            revision: self.revision,
            events: self
                .events
                .into_iter()
                .map(|e| StoredEvent {
                    stream: owned(e.stream),
                    type_: owned(e.type_),
                    subject: e.subject.map(owned),
                    tags: e.tags.map(|t| t.into_iter().map(owned).collect()),
                    id: e.id,
                    version: e.version,
                })
                .collect(),
        }
    }
}

/// Parses stored events, a JSON array of recorded events in revision
/// order, into batches (runs of events with the same `batchId`); any fault
/// is [`Error::Corrupt`] at the event's revision (or, when even that is
/// unreadable, the revision after `head`).
pub fn parse_stored(text: &str, head: u64) -> Result<Vec<StoredBatch<'_>>> {
    let corrupt = |revision: u64, field: Option<&'static str>, message: String| Error::Corrupt {
        revision,
        field,
        message,
    };
    let raw: Vec<RecordedIn> =
        serde_json::from_str(text).map_err(|e| corrupt(head + 1, None, e.to_string()))?;
    let mut batches: Vec<StoredBatch> = Vec::new();
    for e in raw {
        let bad = |field: &'static str, what: &str| corrupt(e.revision, Some(field), what.into());
        for (field, value) in [
            ("stream", Some(&e.stream)),
            ("type", Some(&e.type_)),
            ("subject", e.subject.as_ref()),
        ] {
            if value.is_some_and(|v| v.is_empty()) {
                return Err(bad(field, &format!("an empty {field}")));
            }
        }
        if let Some(tags) = &e.tags {
            if tags
                .iter()
                .enumerate()
                .any(|(j, t)| t.is_empty() || tags[..j].contains(t))
            {
                return Err(bad("tags", "empty or repeated tags"));
            }
        }
        let batch_id =
            parse_uuid(&e.batch_id).ok_or_else(|| bad("batchId", "its batch id is not a UUID"))?;
        let event = StoredEvent {
            id: parse_uuid(&e.id).ok_or_else(|| bad("id", "its id is not a UUID"))?,
            stream: e.stream,
            type_: e.type_,
            subject: e.subject,
            tags: e.tags,
            version: e.version,
        };
        match batches.last_mut() {
            Some(b) if b.id == batch_id => {
                if e.revision != b.revision + b.events.len() as u64 {
                    return Err(corrupt(
                        e.revision,
                        Some("revision"),
                        "out of revision order".into(),
                    ));
                }
                if e.recorded_at != b.recorded_at {
                    return Err(corrupt(
                        e.revision,
                        Some("recordedAt"),
                        "recordedAt differs within its batch".into(),
                    ));
                }
                b.events.push(event);
            }
            _ => batches.push(StoredBatch {
                id: batch_id,
                recorded_at: e.recorded_at,
                revision: e.revision,
                events: vec![event],
            }),
        }
    }
    Ok(batches)
}
