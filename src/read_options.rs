//! Options of the reads: `read`, `readStream`, `stream`.

use serde_json::Value;

use crate::condition::integer;
use crate::error::{Error, Result};
use crate::json::key_path;

/// Options of `read`: `{ from?, to?, limit?, backwards? }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    pub from: u64,
    pub to: u64,
    pub limit: usize,
    pub backwards: bool,
}

/// Options of `readStream`: `{ fromVersion?, toVersion?, limit?, backwards? }`
/// (inclusive stream versions, like `from` and `to` for revisions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamReadOptions {
    pub from_version: u64,
    pub to_version: u64,
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
    let opts = Options::parse(text, &["fromVersion", "toVersion", "limit"])?;
    Ok(StreamReadOptions {
        from_version: opts.get("fromVersion").unwrap_or(0),
        to_version: opts.get("toVersion").unwrap_or(u64::MAX),
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
