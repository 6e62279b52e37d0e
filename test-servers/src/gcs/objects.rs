//! Single-object JSON API calls: metadata GET, media GET (with `Range`), DELETE and PATCH.

use std::collections::BTreeMap;

use http::StatusCode;
use serde_json::Value;

use super::errors::GcsError;
use super::preconditions::{Access, Preconditions};
use super::reply::{Body, Reply};
use super::request::ApiRequest;
use super::resource::object_json;
use super::store::{Object, Shared};

/// `GET /storage/v1/b/{b}/o/{o}` (JSON or `alt=media`) and `GET /download/...` (`media`).
pub(crate) fn get(
    shared: &Shared,
    req: &ApiRequest,
    bucket: &str,
    name: &str,
    force_media: bool,
) -> Result<Reply, GcsError> {
    let media = match req.query.get("alt") {
        _ if force_media => true,
        None | Some("json") => false,
        Some("media") => true,
        Some(other) => return Err(GcsError::invalid(format!("Invalid value for alt: {other}"))),
    };
    let pre = Preconditions::from_query(&req.query)?;
    let generation = req.query.int("generation")?;

    let state = shared.state();
    let object = state.existing(bucket, name, generation)?;
    pre.check(Some(object.versions()), Access::Read)?;
    if media {
        media_reply(object, req.header("range"))
    } else {
        Ok(Reply::json(object_json(
            &shared.base_url,
            bucket,
            name,
            object,
        )))
    }
}

fn media_reply(object: &Object, range: Option<&str>) -> Result<Reply, GcsError> {
    let size = object.data.len();
    let digests = &object.digests;
    let headers = |reply: Reply| {
        reply
            .header("content-type", &object.content_type)
            .header("x-goog-generation", object.generation.to_string())
            .header("x-goog-metageneration", object.metageneration.to_string())
            .header(
                "x-goog-hash",
                format!("crc32c={},md5={}", digests.crc32c_b64(), digests.md5_b64()),
            )
            .header("x-goog-stored-content-length", size.to_string())
            .header("x-goog-stored-content-encoding", "identity")
            .header("accept-ranges", "bytes")
    };
    let Some((start, end)) = range.and_then(|r| parse_range(r, size)).transpose()? else {
        return Ok(headers(Reply {
            status: StatusCode::OK,
            headers: Default::default(),
            body: Body::Bytes(object.data.clone()),
        }));
    };
    let reply = Reply {
        status: StatusCode::PARTIAL_CONTENT,
        headers: Default::default(),
        body: Body::Bytes(object.data.slice(start..=end)),
    };
    Ok(headers(reply).header("content-range", format!("bytes {start}-{end}/{size}")))
}

/// Resolves a single `bytes=` range against the object size into inclusive offsets.
///
/// `None` means "serve the whole object": malformed and multi-range headers are ignored, as
/// HTTP allows and as GCS does. A syntactically valid range that starts past the end is 416.
fn parse_range(header: &str, size: usize) -> Option<Result<(usize, usize), GcsError>> {
    let spec = header.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    let bounds = if first.is_empty() {
        let suffix: usize = last.parse().ok()?;
        if suffix == 0 {
            return Some(Err(GcsError::range_not_satisfiable()));
        }
        (size.saturating_sub(suffix), size.checked_sub(1))
    } else {
        let start: usize = first.parse().ok()?;
        let end = if last.is_empty() {
            size.checked_sub(1)
        } else {
            let end: usize = last.parse().ok()?;
            if end < start {
                return None;
            }
            Some(end.min(size.saturating_sub(1)))
        };
        (start, end)
    };
    match bounds {
        (start, Some(end)) if start <= end && start < size => Some(Ok((start, end))),
        _ => Some(Err(GcsError::range_not_satisfiable())),
    }
}

pub(crate) fn delete(
    shared: &Shared,
    req: &ApiRequest,
    bucket: &str,
    name: &str,
) -> Result<Reply, GcsError> {
    let pre = Preconditions::from_query(&req.query)?;
    let generation = req.query.int("generation")?;
    shared.state().delete(bucket, name, generation, &pre)?;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

/// Merges `metadata` (a `null` value removes a key, `"metadata": null` clears all) and
/// replaces `contentType`; other writable fields are accepted and ignored.
pub(crate) fn patch(
    shared: &Shared,
    req: &ApiRequest,
    bucket: &str,
    name: &str,
) -> Result<Reply, GcsError> {
    let pre = Preconditions::from_query(&req.query)?;
    let generation = req.query.int("generation")?;
    let body: Value = if req.body.is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(&req.body)
            .map_err(|e| GcsError::invalid(format!("Invalid JSON payload received. {e}")))?
    };
    let Value::Object(fields) = body else {
        return Err(GcsError::invalid(
            "Invalid JSON payload received. Expected an object.",
        ));
    };
    let metadata = match fields.get("metadata") {
        None => None,
        Some(Value::Null) => Some(MetadataChange::Clear),
        Some(Value::Object(m)) => Some(MetadataChange::Merge(parse_metadata_patch(m)?)),
        Some(_) => return Err(GcsError::invalid("Invalid value for metadata.")),
    };
    let content_type = match fields.get("contentType") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(GcsError::invalid("Invalid value for contentType.")),
    };

    let mut state = shared.state();
    let object = state.update_metadata(bucket, name, generation, &pre, |object| {
        match metadata {
            Some(MetadataChange::Clear) => object.metadata.clear(),
            Some(MetadataChange::Merge(changes)) => {
                for (k, v) in changes {
                    match v {
                        Some(v) => object.metadata.insert(k, v),
                        None => object.metadata.remove(&k),
                    };
                }
            }
            None => {}
        }
        if let Some(ct) = content_type {
            object.content_type = ct;
        }
    })?;
    Ok(Reply::json(object_json(
        &shared.base_url,
        bucket,
        name,
        object,
    )))
}

enum MetadataChange {
    Clear,
    Merge(BTreeMap<String, Option<String>>),
}

fn parse_metadata_patch(
    map: &serde_json::Map<String, Value>,
) -> Result<BTreeMap<String, Option<String>>, GcsError> {
    map.iter()
        .map(|(k, v)| match v {
            Value::Null => Ok((k.clone(), None)),
            Value::String(s) => Ok((k.clone(), Some(s.clone()))),
            _ => Err(GcsError::invalid(format!(
                "Invalid value for metadata.{k}."
            ))),
        })
        .collect()
}

/// Custom metadata from an object resource in an upload/copy body: string values only.
pub(crate) fn parse_metadata(
    resource: &Value,
) -> Result<Option<BTreeMap<String, String>>, GcsError> {
    match resource.get("metadata") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(GcsError::invalid(format!(
                    "Invalid value for metadata.{k}."
                ))),
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err(GcsError::invalid("Invalid value for metadata.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(h: &str, size: usize) -> Option<Result<(usize, usize), u16>> {
        parse_range(h, size).map(|r| r.map_err(|e| e.status.as_u16()))
    }

    #[test]
    fn ranges_resolve_like_http() {
        assert_eq!(range("bytes=0-3", 10), Some(Ok((0, 3))));
        assert_eq!(range("bytes=4-", 10), Some(Ok((4, 9))));
        assert_eq!(range("bytes=5-100", 10), Some(Ok((5, 9))));
        assert_eq!(range("bytes=-3", 10), Some(Ok((7, 9))));
        assert_eq!(range("bytes=-30", 10), Some(Ok((0, 9))));
        assert_eq!(range("bytes=10-", 10), Some(Err(416)));
        assert_eq!(range("bytes=0-", 0), Some(Err(416)));
        assert_eq!(range("bytes=0-1,3-4", 10), None);
        assert_eq!(range("bytes=x-1", 10), None);
        assert_eq!(range("bytes=5-2", 10), None);
        assert_eq!(range("items=0-1", 10), None);
    }
}
