//! The `fields=` partial-response selector (`items(name,generation),prefixes,nextPageToken`).
//!
//! It is honoured rather than ignored because its sharpest edge is real: a listing that
//! selects `items(...)` without `nextPageToken` silently stops after one page on GCS, and a
//! fake that ignores `fields` would hide that client bug. Unknown field names are dropped
//! silently (GCS rejects some of them with 400; this fake is lenient there).

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::str::Chars;

use serde_json::{Map, Value};

use super::errors::GcsError;

/// Selected keys; `None` keeps the whole value under that key.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Selection(BTreeMap<String, Option<Selection>>);

impl Selection {
    pub fn parse(spec: &str) -> Result<Selection, GcsError> {
        let mut chars = spec.chars().peekable();
        let selection = parse_list(&mut chars, false)
            .ok_or_else(|| GcsError::invalid(format!("Invalid field selection {spec}")))?;
        Ok(selection)
    }

    /// Keeps only the selected parts of `value`; arrays are filtered element by element.
    pub fn apply(&self, value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let kept: Map<String, Value> = map
                    .iter()
                    .filter_map(|(k, v)| {
                        let sub = self.0.get(k.as_str()).or_else(|| self.0.get("*"))?;
                        Some((
                            k.clone(),
                            sub.as_ref().map_or_else(|| v.clone(), |s| s.apply(v)),
                        ))
                    })
                    .collect();
                Value::Object(kept)
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| self.apply(v)).collect()),
            other => other.clone(),
        }
    }

    fn insert(&mut self, path: &[String], leaf: Option<Selection>) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        let slot = self
            .0
            .entry(first.clone())
            .or_insert_with(|| Some(Selection::default()));
        let Some(existing) = slot else {
            return; // already selected whole
        };
        if !rest.is_empty() {
            existing.insert(rest, leaf);
            return;
        }
        match leaf {
            None => *slot = None,
            Some(sub) => {
                for (k, v) in sub.0 {
                    existing.merge_key(k, v);
                }
            }
        }
    }

    fn merge_key(&mut self, key: String, value: Option<Selection>) {
        match (self.0.get_mut(&key), value) {
            (Some(Some(existing)), Some(sub)) => {
                for (k, v) in sub.0 {
                    existing.merge_key(k, v);
                }
            }
            (Some(slot), None) => *slot = None,
            (Some(None), Some(_)) => {}
            (None, value) => {
                self.0.insert(key, value);
            }
        }
    }
}

/// `item (',' item)*`, ended by `)` when nested or by the end of input at the top level.
fn parse_list(chars: &mut Peekable<Chars<'_>>, nested: bool) -> Option<Selection> {
    let mut selection = Selection::default();
    loop {
        let mut path = vec![parse_name(chars)?];
        while chars.next_if_eq(&'/').is_some() {
            path.push(parse_name(chars)?);
        }
        let leaf = if chars.next_if_eq(&'(').is_some() {
            Some(parse_list(chars, true)?)
        } else {
            None
        };
        selection.insert(&path, leaf);
        match chars.next() {
            Some(',') => continue,
            Some(')') if nested => return Some(selection),
            None if !nested => return Some(selection),
            _ => return None,
        }
    }
}

fn parse_name(chars: &mut Peekable<Chars<'_>>) -> Option<String> {
    while chars.next_if(|c| c.is_whitespace()).is_some() {}
    let mut name = String::new();
    while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '*') {
        name.push(c);
    }
    while chars.next_if(|c| c.is_whitespace()).is_some() {}
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listing() -> Value {
        json!({
            "kind": "storage#objects",
            "nextPageToken": "t",
            "prefixes": ["a/"],
            "items": [{"name": "x", "generation": "1", "size": "3", "metadata": {"k": "v", "j": "w"}}],
        })
    }

    #[test]
    fn selects_nested_item_fields() {
        let sel = Selection::parse("items(name,generation),prefixes").expect("valid");
        assert_eq!(
            sel.apply(&listing()),
            json!({"prefixes": ["a/"], "items": [{"name": "x", "generation": "1"}]})
        );
    }

    #[test]
    fn slash_paths_and_merging() {
        let sel = Selection::parse("items/name, items/metadata/k,nextPageToken").expect("valid");
        assert_eq!(
            sel.apply(&listing()),
            json!({"nextPageToken": "t", "items": [{"name": "x", "metadata": {"k": "v"}}]})
        );
        let whole = Selection::parse("items(name),items").expect("valid");
        assert_eq!(whole.apply(&listing())["items"][0]["size"], "3");
    }

    #[test]
    fn wildcard_keeps_everything_at_that_level() {
        let sel = Selection::parse("items(*)").expect("valid");
        assert_eq!(sel.apply(&listing())["items"], listing()["items"]);
    }

    #[test]
    fn rejects_malformed_selectors() {
        for bad in ["", "items(", "items)", "a,,b", "a/(b)", "items(name))"] {
            assert!(Selection::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
