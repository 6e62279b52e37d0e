//! `objects.list`: prefix/delimiter grouping, start/end offsets, and key-based pagination.
//!
//! Page tokens are opaque (base64 of a cursor) and name the last entry emitted rather than
//! an index, so objects created or deleted between pages do not shift later pages, as on GCS.
//! A page holds at most `min(maxResults, 1000)` items and prefixes combined.
//!
//! `versions=true` returns the same as `false` because old generations are not kept, and
//! `matchGlob` is rejected with 400 instead of being ignored, so a client that relies on it
//! fails loudly rather than seeing unfiltered results.

use std::collections::BTreeMap;
use std::ops::Bound;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

use super::errors::GcsError;
use super::reply::Reply;
use super::request::ApiRequest;
use super::resource::object_json;
use super::store::{Object, Shared};

const PAGE_LIMIT: usize = 1000;

/// Where the previous page stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cursor {
    /// The item with this name was emitted (its prefix, if any, may still be pending).
    Item(String),
    /// This prefix was emitted, which covers every name starting with it.
    Prefix(String),
}

impl Cursor {
    fn encode(&self) -> String {
        let (tag, key) = match self {
            Cursor::Item(k) => ('i', k),
            Cursor::Prefix(k) => ('p', k),
        };
        B64.encode(format!("{tag}{key}"))
    }

    fn decode(token: &str) -> Result<Cursor, GcsError> {
        let invalid = || GcsError::invalid("Invalid page token.");
        let raw =
            String::from_utf8(B64.decode(token).map_err(|_| invalid())?).map_err(|_| invalid())?;
        let mut chars = raw.chars();
        match chars.next() {
            Some('i') => Ok(Cursor::Item(chars.as_str().to_owned())),
            Some('p') => Ok(Cursor::Prefix(chars.as_str().to_owned())),
            _ => Err(invalid()),
        }
    }
}

struct Params {
    prefix: String,
    delimiter: Option<String>,
    start_offset: String,
    end_offset: Option<String>,
    include_trailing_delimiter: bool,
    limit: usize,
    cursor: Option<Cursor>,
}

impl Params {
    fn from_request(req: &ApiRequest) -> Result<Params, GcsError> {
        let q = &req.query;
        if q.get("matchGlob").is_some() {
            return Err(GcsError::invalid(
                "matchGlob is not supported by this fake.",
            ));
        }
        let limit = match q.int("maxResults")? {
            Some(n) if n < 0 => {
                return Err(GcsError::invalid(format!(
                    "Invalid value for maxResults: {n}"
                )))
            }
            Some(0) | None => PAGE_LIMIT,
            Some(n) => usize::try_from(n).unwrap_or(PAGE_LIMIT).min(PAGE_LIMIT),
        };
        q.bool("versions")?;
        Ok(Params {
            prefix: q.get("prefix").unwrap_or_default().to_owned(),
            delimiter: q
                .get("delimiter")
                .filter(|d| !d.is_empty())
                .map(str::to_owned),
            start_offset: q.get("startOffset").unwrap_or_default().to_owned(),
            end_offset: q
                .get("endOffset")
                .filter(|e| !e.is_empty())
                .map(str::to_owned),
            include_trailing_delimiter: q.bool("includeTrailingDelimiter")?.unwrap_or(false),
            limit,
            cursor: q
                .get("pageToken")
                .filter(|t| !t.is_empty())
                .map(Cursor::decode)
                .transpose()?,
        })
    }

    /// The prefix a name rolls up into under the delimiter, if any.
    fn group_of<'n>(&self, name: &'n str) -> Option<&'n str> {
        let delimiter = self.delimiter.as_deref()?;
        let rest = name.get(self.prefix.len()..)?;
        let at = rest.find(delimiter)?;
        name.get(..self.prefix.len() + at + delimiter.len())
    }
}

enum Entry<'a> {
    Item(&'a str, &'a Object),
    Prefix(&'a str),
}

struct Page<'a> {
    entries: Vec<Entry<'a>>,
    next: Option<Cursor>,
}

/// Walks names in byte order from the resume point, emitting entries until the page is full.
fn collect<'a>(objects: &'a BTreeMap<String, Object>, p: &'a Params) -> Page<'a> {
    let resume_key = match &p.cursor {
        Some(Cursor::Item(k) | Cursor::Prefix(k)) => k.as_str(),
        None => "",
    };
    let start = [p.prefix.as_str(), p.start_offset.as_str(), resume_key]
        .into_iter()
        .max()
        .unwrap_or_default();
    let mut last_prefix = match &p.cursor {
        Some(Cursor::Prefix(k)) => Some(k.as_str()),
        _ => None,
    };
    let mut entries = Vec::new();
    let mut last_cursor: Option<Cursor> = None;

    for (name, object) in objects.range::<str, _>((Bound::Included(start), Bound::Unbounded)) {
        // Names are sorted, so the first name outside prefix or endOffset ends the walk.
        if !name.starts_with(&p.prefix)
            || p.end_offset.as_deref().is_some_and(|e| name.as_str() >= e)
        {
            break;
        }
        if last_prefix.is_some_and(|lp| name.starts_with(lp)) {
            continue;
        }
        let item_already_sent = p.cursor == Some(Cursor::Item(name.clone()));
        let group = p.group_of(name);
        let wants_item = match group {
            None => true,
            Some(g) => p.include_trailing_delimiter && g == name,
        };
        if wants_item && !item_already_sent {
            if entries.len() == p.limit {
                return Page {
                    entries,
                    next: last_cursor,
                };
            }
            entries.push(Entry::Item(name, object));
            last_cursor = Some(Cursor::Item(name.clone()));
        }
        if let Some(g) = group {
            if entries.len() == p.limit {
                return Page {
                    entries,
                    next: last_cursor,
                };
            }
            entries.push(Entry::Prefix(g));
            last_prefix = Some(g);
            last_cursor = Some(Cursor::Prefix(g.to_owned()));
        }
    }
    Page {
        entries,
        next: None,
    }
}

pub(crate) fn list(shared: &Shared, req: &ApiRequest, bucket: &str) -> Result<Reply, GcsError> {
    let params = Params::from_request(req)?;
    let state = shared.state();
    let page = collect(&state.bucket(bucket)?.objects, &params);

    let mut items = Vec::new();
    let mut prefixes = Vec::new();
    for entry in &page.entries {
        match entry {
            Entry::Item(name, object) => {
                items.push(object_json(&shared.base_url, bucket, name, object))
            }
            Entry::Prefix(p) => prefixes.push(Value::String((*p).to_owned())),
        }
    }
    // GCS omits empty arrays and the token on the last page.
    let mut body = json!({"kind": "storage#objects"});
    if let Some(next) = page.next {
        body["nextPageToken"] = Value::String(next.encode());
    }
    if !prefixes.is_empty() {
        body["prefixes"] = Value::Array(prefixes);
    }
    if !items.is_empty() {
        body["items"] = Value::Array(items);
    }
    Ok(Reply::json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        for c in [Cursor::Item("a/b c".into()), Cursor::Prefix("✓/".into())] {
            assert_eq!(Cursor::decode(&c.encode()).expect("valid"), c);
        }
        assert!(Cursor::decode("!!!").is_err());
        assert!(Cursor::decode(&B64.encode("xabc")).is_err());
    }
}
