//! The transact request: parsing and validating it.
//!
//! Everything a caller can get wrong is caught here, before the store is
//! looked at, with the path of the bad field. The request arrives as JSON
//! text (the wire of both bindings: the JavaScript package and the server)
//! holding what the engine checks and indexes; event `data` and `metadata`
//! are not part of it: the JavaScript layer keeps them (see
//! `pkg-template/hindcast.js`), the server stores them as given.

use std::borrow::Cow;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::condition::{parse_constraint, parse_expectation, Constraint, Expectation};
use crate::error::{Error, Result};
use crate::json::{index_path, is_rfc3339, key_path, parse_uuid};
use crate::schema;

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
    /// Checked here (see [`crate::schema`]), kept by the JavaScript layer.
    #[serde(borrow, default, rename = "schemaVersion")]
    schema_version: Option<&'a RawValue>,
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
    if let Some(v) = e.schema_version {
        if schema::parse_version(v.get()).is_none() {
            return Err(Error::invalid(field("schemaVersion"), schema::EXPECTED));
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
    if msg.contains("surrogate") || msg.contains("hex escape") || msg.contains("unicode code point")
    {
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
