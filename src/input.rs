//! Parsing and validating requests: the transact request and read options.
//!
//! Everything a caller can get wrong is caught here, before the store is
//! looked at, with the path of the bad field. The request arrives as JSON
//! text holding what the engine checks and indexes; event `data` and
//! `metadata` are not part of it: the JavaScript layer keeps them (see
//! `pkg-template/hindcast.js`).

use std::borrow::Cow;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::json::{index_path, is_rfc3339, key_path, parse_uuid};
use crate::selector::Selector;

/// The largest integer JavaScript represents exactly (2⁵³ − 1).
pub const MAX_SAFE: u64 = (1 << 53) - 1;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RequestIn<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    events: Vec<EventIn<'a>>,
    #[serde(borrow, default)]
    expect: Option<Entries<'a>>,
    #[serde(borrow, default)]
    constraints: Option<Vec<&'a RawValue>>,
    /// Checked here, kept by the JavaScript layer.
    #[serde(borrow, default)]
    correlation_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventIn<'a> {
    #[serde(borrow)]
    stream: Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    type_: Cow<'a, str>,
    #[serde(borrow, default)]
    subject: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tags: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    /// Checked here, kept by the JavaScript layer.
    #[serde(borrow, default)]
    time: Option<Cow<'a, str>>,
}

/// A JSON object's entries in the order given (for `expect`, whose
/// violations are reported in that order).
struct Entries<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Entries<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Entries<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object mapping stream names to expectations")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(1));
                while let Some(entry) = map.next_entry::<Cow<'a, str>, &'a RawValue>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

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

#[derive(Debug)]
pub struct EventSpec<'a> {
    pub stream: Cow<'a, str>,
    pub type_: Cow<'a, str>,
    pub subject: Option<Cow<'a, str>>,
    /// `None` when not given; `Some([])` reads back as `tags: []`.
    pub tags: Option<Vec<Cow<'a, str>>>,
    pub id: Option<u128>,
}

#[derive(Debug)]
pub struct Request<'a> {
    pub id: Option<u128>,
    pub events: Vec<EventSpec<'a>>,
    /// Stream name, expectation, and the expectation's JSON text as given.
    pub expect: Vec<(Cow<'a, str>, Expectation, &'a str)>,
    pub constraints: Vec<Constraint>,
}

/// Parses and validates a transact request given as JSON text.
pub fn parse_request(text: &str) -> Result<Request<'_>> {
    // The fast parse; on failure, parse again tracking the path for the error.
    let raw: RequestIn = match serde_json::from_str(text) {
        Ok(raw) => raw,
        Err(first) => {
            let de = &mut serde_json::Deserializer::from_str(text);
            return Err(match serde_path_to_error::deserialize::<_, RequestIn>(de) {
                Err(err) => serde_error(err),
                Ok(_) => Error::invalid("", first.to_string()),
            });
        }
    };
    if raw.events.is_empty() {
        return Err(Error::invalid("events", "a batch needs at least one event"));
    }
    let id = match raw.id.as_deref() {
        Some(s) => Some(parse_uuid(s).ok_or_else(|| bad_uuid(s, "id".into()))?),
        None => None,
    };
    if raw.correlation_id.as_deref() == Some("") {
        return Err(Error::invalid(
            "correlationId",
            "must not be an empty string",
        ));
    }
    let mut events = Vec::with_capacity(raw.events.len());
    let mut ids = rustc_hash::FxHashSet::default();
    for (i, e) in raw.events.into_iter().enumerate() {
        let event = event_spec(e, i)?;
        if let Some(id) = event.id {
            if !ids.insert(id) {
                return Err(Error::invalid(
                    key_path(&index_path("events", i), "id"),
                    "the same event id appears twice in this batch; every event needs its own id",
                ));
            }
        }
        events.push(event);
    }
    let expect = match raw.expect {
        None => Vec::new(),
        Some(Entries(entries)) => entries
            .into_iter()
            .map(|(stream, value)| {
                let path = || key_path("expect", &stream);
                if stream.is_empty() {
                    return Err(Error::invalid(path(), "a stream name must not be empty"));
                }
                let expectation = parse_expectation(value.get(), path)?;
                Ok((stream, expectation, value.get()))
            })
            .collect::<Result<_>>()?,
    };
    let constraints = raw
        .constraints
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, c)| parse_constraint(c.get(), &index_path("constraints", i)))
        .collect::<Result<_>>()?;
    Ok(Request {
        id,
        events,
        expect,
        constraints,
    })
}

/// Validates event `i`; its paths are built only for an error.
fn event_spec(e: EventIn<'_>, i: usize) -> Result<EventSpec<'_>> {
    let field = |key: &str| key_path(&index_path("events", i), key);
    let non_empty = |value: &str, key: &str| {
        if value.is_empty() {
            return Err(Error::invalid(field(key), "must be a non-empty string"));
        }
        Ok(())
    };
    non_empty(&e.stream, "stream")?;
    non_empty(&e.type_, "type")?;
    if let Some(s) = &e.subject {
        non_empty(s, "subject")?;
    }
    let tags = e.tags;
    for (j, tag) in tags.iter().flatten().enumerate() {
        let p = || index_path(&field("tags"), j);
        if tag.is_empty() {
            return Err(Error::invalid(p(), "a tag must not be an empty string"));
        }
        if tags.as_ref().is_some_and(|t| t[..j].contains(tag)) {
            return Err(Error::invalid(
                p(),
                "tags must be distinct; this one is given twice",
            ));
        }
    }
    let id = match e.id.as_deref() {
        Some(s) => Some(parse_uuid(s).ok_or_else(|| bad_uuid(s, field("id")))?),
        None => None,
    };
    if let Some(t) = &e.time {
        if !is_rfc3339(t) {
            return Err(Error::invalid(
                field("time"),
                "expected an RFC 3339 date-time such as \"2026-11-23T10:00:00Z\"",
            ));
        }
    }
    Ok(EventSpec {
        stream: e.stream,
        type_: e.type_,
        subject: e.subject,
        tags,
        id,
    })
}

fn bad_uuid(s: &str, path: String) -> Error {
    Error::invalid(
        path,
        format!("{s:?} is not a UUID; use the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, e.g. from crypto.randomUUID()"),
    )
}

/// Turns a serde error into an `InvalidInputError` with a JavaScript path.
fn serde_error(err: serde_path_to_error::Error<serde_json::Error>) -> Error {
    use serde_path_to_error::Segment;
    let mut path = String::new();
    for seg in err.path().iter() {
        path = match seg {
            Segment::Seq { index } => index_path(&path, *index),
            Segment::Map { key } => key_path(&path, key),
            Segment::Enum { variant } => key_path(&path, variant),
            Segment::Unknown => path,
        };
    }
    let inner = err.inner();
    let msg = inner.to_string();
    // serde_json appends " at line 1 column N"; the path says where.
    let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
    if let Some(field) = backticked(&msg, "missing field `") {
        return Error::invalid(key_path(&path, field), "is required");
    }
    if backticked(&msg, "unknown field `").is_some() {
        // The path already ends at the unknown key.
        let expected = msg.split(", expected").nth(1).unwrap_or("").trim();
        let expected = expected.trim_start_matches("one of ").replace('`', "");
        return Error::invalid(path, format!("unknown key; expected one of {expected}"));
    }
    // JSON.stringify escapes a lone surrogate (`"\ud800"`); serde_json
    // refuses it as a bad escape. Say what is wrong with the caller's string.
    if msg.contains("surrogate") || msg.contains("hex escape") || msg.contains("unicode code point") {
        return Error::invalid(
            path,
            "holds a lone surrogate (half of a UTF-16 pair), which is not well-formed Unicode; fix the string (e.g. with String.prototype.toWellFormed())",
        );
    }
    if inner.is_syntax() || inner.is_eof() {
        return Error::invalid(path, format!("not valid JSON ({msg})"));
    }
    Error::invalid(path, msg)
}

fn backticked<'m>(msg: &'m str, prefix: &str) -> Option<&'m str> {
    msg.strip_prefix(prefix)?.split('`').next()
}

fn parse_expectation(text: &str, path: impl Fn() -> String) -> Result<Expectation> {
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

/// A non-negative safe integer.
pub fn integer(v: &Value, path: &str) -> Result<u64> {
    match v.as_u64() {
        Some(n) if n <= MAX_SAFE => Ok(n),
        _ => match v.as_f64() {
            Some(f) if f.fract() == 0.0 && f >= 0.0 && f <= MAX_SAFE as f64 => Ok(f as u64),
            _ => Err(Error::invalid(path, "expected a non-negative integer")),
        },
    }
}

const CONSTRAINT_SHAPES: &str = "expected { minRevision }, { maxRevision }, { revisionRange: [a, b] } (each with an optional selector) or { failIfEventsMatch, after? }";

fn parse_constraint(text: &str, path: &str) -> Result<Constraint> {
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

/// Options of `read`: `{ from?, to?, limit?, backwards? }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    pub from: u64,
    pub to: u64,
    pub limit: usize,
    pub backwards: bool,
}

/// Options of `readStream`: `{ fromVersion?, limit?, backwards? }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamReadOptions {
    pub from_version: u64,
    pub limit: usize,
    pub backwards: bool,
}

/// Parsed read options: the integer ones by key, and `backwards`.
struct Options {
    ints: Vec<(String, u64)>,
    backwards: bool,
}

impl Options {
    /// Parses options given as JSON text ("" when absent); `keys` are the
    /// allowed integer keys.
    fn parse(text: &str, keys: &[&str]) -> Result<Self> {
        let mut opts = Options {
            ints: Vec::new(),
            backwards: false,
        };
        if text.is_empty() {
            return Ok(opts);
        }
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
            return Err(Error::invalid("options", "expected an options object"));
        };
        for (k, v) in map {
            let p = key_path("options", &k);
            if k == "backwards" {
                opts.backwards = v
                    .as_bool()
                    .ok_or_else(|| Error::invalid(&p, "expected true or false"))?;
            } else if keys.contains(&k.as_str()) {
                opts.ints.push((k, integer(&v, &p)?));
            } else {
                return Err(Error::invalid(
                    p,
                    format!(
                        "unknown option; expected one of {}, backwards",
                        keys.join(", ")
                    ),
                ));
            }
        }
        Ok(opts)
    }

    fn get(&self, key: &str) -> Option<u64> {
        self.ints.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    fn limit(&self) -> usize {
        self.get("limit")
            .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX))
    }
}

pub fn parse_read_options(text: &str) -> Result<ReadOptions> {
    let opts = Options::parse(text, &["from", "to", "limit"])?;
    Ok(ReadOptions {
        from: opts.get("from").unwrap_or(1),
        to: opts.get("to").unwrap_or(u64::MAX),
        limit: opts.limit(),
        backwards: opts.backwards,
    })
}

pub fn parse_stream_read_options(text: &str) -> Result<StreamReadOptions> {
    let opts = Options::parse(text, &["fromVersion", "limit"])?;
    Ok(StreamReadOptions {
        from_version: opts.get("fromVersion").unwrap_or(0),
        limit: opts.limit(),
        backwards: opts.backwards,
    })
}

/// Parses a stream name given as JSON text (`readStream`, `stream`).
pub fn parse_stream_name(text: &str) -> Result<String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::String(s)) if !s.is_empty() => Ok(s),
        _ if text.is_empty() => Err(Error::invalid(
            "stream",
            "is required: give the stream's name",
        )),
        _ => Err(Error::invalid("stream", "expected a non-empty string")),
    }
}

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
