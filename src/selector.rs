//! Selectors: which events a read, constraint or subscription is about.
//!
//! A [`Selector`] is an OR of [`Item`]s; an item ANDs its fields; `streams`,
//! `subjects` and `types` match one of their values, `tags` all of theirs.
//! Parsing accepts the contract's object form, arrays of them (`[]` is every
//! event, as the DCB query with no items), and the DCB spelling
//! `{ types, tags }`, and rejects anything it does not know, so a typo can
//! never widen a selector to every event.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::json::{index_path, key_path};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Item {
    pub streams: Option<Vec<String>>,
    pub subjects: Option<Vec<String>>,
    pub types: Option<Vec<String>>,
    pub tags: Vec<String>,
}

impl Item {
    /// Whether the item places no condition at all.
    pub fn is_all(&self) -> bool {
        self.streams.is_none()
            && self.subjects.is_none()
            && self.types.is_none()
            && self.tags.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    /// Parsing never gives an empty list; [`Selector::restrict_types`] may,
    /// and then the selector matches nothing.
    pub items: Vec<Item>,
}

impl Selector {
    /// The selector `{}`: every event.
    pub fn all() -> Self {
        Selector {
            items: vec![Item::default()],
        }
    }

    pub fn is_all(&self) -> bool {
        self.items.iter().any(Item::is_all)
    }

    /// Narrows the selector to events whose type is one of `types` (the
    /// matcher form of subscribe). An item that then can match nothing is
    /// dropped.
    pub fn restrict_types(mut self, types: &[String]) -> Self {
        self.items.retain_mut(|item| {
            let narrowed: Vec<String> = match &item.types {
                None => types.to_vec(),
                Some(own) => own.iter().filter(|t| types.contains(t)).cloned().collect(),
            };
            item.types = Some(narrowed);
            !item.types.as_ref().is_some_and(Vec::is_empty)
        });
        self
    }

    /// Parses a selector given as JSON text; `path` names it in errors.
    pub fn parse_json(text: &str, path: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::invalid(path, format!("is not valid JSON ({e})")))?;
        Self::parse(&value, path)
    }

    pub fn parse(value: &Value, path: &str) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Selector {
                items: vec![parse_item(map, path)?],
            }),
            // As the DCB specification's query with no items: every event.
            Value::Array(list) if list.is_empty() => Ok(Self::all()),
            Value::Array(list) => {
                let items = list
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let p = index_path(path, i);
                        match v {
                            Value::Object(map) => parse_item(map, &p),
                            _ => Err(Error::invalid(
                                p,
                                "expected a selector object such as { stream: \"acc-1\" }",
                            )),
                        }
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Selector { items })
            }
            _ => Err(Error::invalid(
                path,
                "expected a selector object such as { stream: \"acc-1\" } or an array of them",
            )),
        }
    }
}

fn parse_item(map: &Map<String, Value>, path: &str) -> Result<Item> {
    let mut item = Item::default();
    if map.contains_key("type") && map.contains_key("types") {
        return Err(Error::invalid(
            key_path(path, "types"),
            "give either `type` or the DCB spelling `types`, not both",
        ));
    }
    for (key, value) in map {
        let p = key_path(path, key);
        match key.as_str() {
            "stream" => item.streams = Some(one_of(value, &p)?),
            "subject" => item.subjects = Some(one_of(value, &p)?),
            "type" => item.types = Some(one_of(value, &p)?),
            "types" => {
                // DCB: an empty `types` list places no condition on the type.
                let types = strings(value, &p, "an array of event type names")?;
                item.types = if types.is_empty() { None } else { Some(types) };
            }
            "tags" => {
                let tags = strings(value, &p, "an array of tags")?;
                item.tags = dedup(tags);
            }
            _ => {
                return Err(Error::invalid(
                    p,
                    "unknown selector key; a selector may have stream, subject, type (or types) and tags",
                ))
            }
        }
    }
    Ok(item)
}

/// A non-empty string, or a non-empty array of them.
fn one_of(value: &Value, path: &str) -> Result<Vec<String>> {
    match value {
        Value::String(s) if s.is_empty() => {
            Err(Error::invalid(path, "must not be an empty string"))
        }
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(list) if list.is_empty() => Err(Error::invalid(
            path,
            "an empty array matches nothing; give at least one value or leave the key out",
        )),
        Value::Array(_) => Ok(dedup(strings(
            value,
            path,
            "a string or an array of strings",
        )?)),
        _ => Err(Error::invalid(
            path,
            "expected a string or an array of strings",
        )),
    }
}

/// An array of non-empty strings (possibly empty).
fn strings(value: &Value, path: &str, what: &str) -> Result<Vec<String>> {
    let Value::Array(list) = value else {
        return Err(Error::invalid(path, format!("expected {what}")));
    };
    list.iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::String(s) if !s.is_empty() => Ok(s.clone()),
            Value::String(_) => Err(Error::invalid(
                index_path(path, i),
                "must not be an empty string",
            )),
            _ => Err(Error::invalid(index_path(path, i), "expected a string")),
        })
        .collect()
}

fn dedup(mut values: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::with_capacity(values.len());
    values.retain(|v| seen.insert(v.clone()));
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err_path(v: Value) -> String {
        match Selector::parse(&v, "selector") {
            Err(Error::InvalidInput { path, .. }) => path,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn parses_object_array_and_dcb_forms() {
        let s = Selector::parse(
            &json!({"stream": "a", "type": ["x", "y"], "tags": ["t"]}),
            "s",
        )
        .unwrap();
        assert_eq!(
            s.items,
            vec![Item {
                streams: Some(vec!["a".into()]),
                subjects: None,
                types: Some(vec!["x".into(), "y".into()]),
                tags: vec!["t".into()],
            }]
        );
        let dcb = Selector::parse(
            &json!([{"types": ["x"], "tags": ["t"]}, {"types": [], "tags": ["u"]}]),
            "q",
        )
        .unwrap();
        assert_eq!(dcb.items[0].types, Some(vec!["x".into()]));
        assert_eq!(dcb.items[1].types, None);
        assert!(Selector::parse(&json!({}), "s").unwrap().is_all());
        // The DCB query with no items: every event.
        assert!(Selector::parse(&json!([]), "s").unwrap().is_all());
    }

    #[test]
    fn rejects_what_would_silently_widen_or_empty() {
        assert_eq!(err_path(json!({"steam": "x"})), "selector.steam");
        assert_eq!(err_path(json!({"stream": ""})), "selector.stream");
        assert_eq!(err_path(json!({"stream": []})), "selector.stream");
        assert_eq!(
            err_path(json!({"type": "a", "types": ["a"]})),
            "selector.types"
        );
        assert_eq!(err_path(json!({"tags": ["a", ""]})), "selector.tags[1]");
        assert_eq!(err_path(json!([{"stream": "a"}, 3])), "selector[1]");
        assert_eq!(err_path(json!("acc-1")), "selector");
    }
}
