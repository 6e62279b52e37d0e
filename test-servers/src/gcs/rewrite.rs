//! `objects.rewrite` (`.../rewriteTo/...`) and `objects.copy` (`.../copyTo/...`).
//!
//! Rewrite progress is emulated so that clients exercise their `rewriteToken` loop: each
//! call advances by `maxBytesRewrittenPerCall` (which GCS requires to be a multiple of
//! 1 MiB) or, when absent, by the fake's per-call cap ([`super::FakeGcs::set_rewrite_chunk`],
//! default 1 MiB, 0 = unlimited). Real GCS finishes most same-location rewrites in one call;
//! the extra round trips are a deliberate deviation. Only the final call creates the
//! destination. Destination preconditions are checked on every call so a doomed rewrite
//! fails early, and again atomically when the destination is written.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::errors::GcsError;
use super::objects::parse_metadata;
use super::preconditions::{Access, Preconditions};
use super::reply::Reply;
use super::request::ApiRequest;
use super::resource::object_json;
use super::resumable::new_upload_id;
use super::store::{NewObject, Shared, State};
use super::upload::{parse_resource, resource_content_type};

const MIB: i64 = 1024 * 1024;

/// A bucket and object name.
pub(crate) type ObjectRef<'a> = (&'a str, &'a str);

/// Server-side state behind a `rewriteToken`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RewriteProgress {
    source: (String, String),
    source_generation: i64,
    destination: (String, String),
    rewritten: u64,
}

impl RewriteProgress {
    /// Whether a token was issued for this source generation and destination.
    fn same_rewrite(&self, other: &RewriteProgress) -> bool {
        self.source == other.source
            && self.source_generation == other.source_generation
            && self.destination == other.destination
    }
}

/// What the request body may override on the destination.
struct Overrides {
    content_type: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
}

impl Overrides {
    fn from_request(req: &ApiRequest) -> Result<Overrides, GcsError> {
        let resource = parse_resource(&req.body)?;
        Ok(Overrides {
            content_type: resource_content_type(&resource)?,
            metadata: parse_metadata(&resource)?,
        })
    }
}

/// Resolves the source (404, `sourceGeneration`, `ifSource*`) and checks that the
/// destination bucket exists; returns the destination object to write.
fn prepare(
    state: &State,
    req: &ApiRequest,
    (src_bucket, src_name): ObjectRef<'_>,
    dst_bucket: &str,
    overrides: Overrides,
) -> Result<(NewObject, i64), GcsError> {
    let source_pre = Preconditions::source_from_query(&req.query)?;
    let source_generation = req.query.int("sourceGeneration")?;
    let source = state.existing(src_bucket, src_name, source_generation)?;
    source_pre.check(Some(source.versions()), Access::Write)?;
    state.bucket(dst_bucket)?;
    let new = NewObject {
        data: source.data.clone(),
        content_type: overrides
            .content_type
            .unwrap_or_else(|| source.content_type.clone()),
        metadata: overrides
            .metadata
            .unwrap_or_else(|| source.metadata.clone()),
    };
    Ok((new, source.generation))
}

/// `POST /storage/v1/b/{sb}/o/{so}/copyTo/b/{db}/o/{do}`: single shot.
pub(crate) fn copy(
    shared: &Shared,
    req: &ApiRequest,
    source: ObjectRef<'_>,
    (dst_bucket, dst_name): ObjectRef<'_>,
) -> Result<Reply, GcsError> {
    let pre = Preconditions::from_query(&req.query)?;
    let overrides = Overrides::from_request(req)?;
    let mut state = shared.state();
    let (new, _) = prepare(&state, req, source, dst_bucket, overrides)?;
    let object = state.create(dst_bucket, dst_name, new, &pre)?;
    Ok(Reply::json(object_json(
        &shared.base_url,
        dst_bucket,
        dst_name,
        object,
    )))
}

/// `POST /storage/v1/b/{sb}/o/{so}/rewriteTo/b/{db}/o/{do}`: one step of a rewrite.
pub(crate) fn rewrite(
    shared: &Shared,
    req: &ApiRequest,
    source: ObjectRef<'_>,
    destination: ObjectRef<'_>,
) -> Result<Reply, GcsError> {
    let pre = Preconditions::from_query(&req.query)?;
    let overrides = Overrides::from_request(req)?;
    let per_call = match req.query.int("maxBytesRewrittenPerCall")? {
        None => None,
        Some(n) if n > 0 && n % MIB == 0 => Some(n.unsigned_abs()),
        Some(n) => {
            return Err(GcsError::invalid(format!(
                "maxBytesRewrittenPerCall must be a positive multiple of 1048576, got {n}."
            )))
        }
    };
    let token = req.query.get("rewriteToken").filter(|t| !t.is_empty());

    let mut guard = shared.state();
    let state = &mut *guard;
    let (new, source_generation) = prepare(state, req, source, destination.0, overrides)?;
    let live = state
        .live(destination.0, destination.1)?
        .map(|o| o.versions());
    pre.check(live, Access::Write)?;

    let progress = RewriteProgress {
        source: (source.0.to_owned(), source.1.to_owned()),
        source_generation,
        destination: (destination.0.to_owned(), destination.1.to_owned()),
        rewritten: 0,
    };
    let already = match token {
        None => 0,
        Some(token) => {
            let known = state
                .rewrites
                .get(token)
                .ok_or_else(|| GcsError::invalid("Invalid rewrite token."))?;
            if !known.same_rewrite(&progress) {
                return Err(GcsError::invalid(
                    "The rewrite token does not match this source, destination and source \
                     generation.",
                ));
            }
            known.rewritten
        }
    };

    let size = new.data.len() as u64;
    let step = per_call.unwrap_or(state.rewrite_chunk);
    let rewritten = if step == 0 {
        size
    } else {
        size.min(already.saturating_add(step))
    };
    let mut response = json!({
        "kind": "storage#rewriteResponse",
        "totalBytesRewritten": rewritten.to_string(),
        "objectSize": size.to_string(),
        "done": rewritten == size,
    });

    if rewritten < size {
        let next = new_upload_id();
        state.rewrites.insert(
            next.clone(),
            RewriteProgress {
                rewritten,
                ..progress
            },
        );
        if let Some(old) = token {
            state.rewrites.remove(old);
        }
        response["rewriteToken"] = Value::String(next);
        return Ok(Reply::json(response));
    }

    let object = state.create(destination.0, destination.1, new, &pre)?;
    response["resource"] = object_json(&shared.base_url, destination.0, destination.1, object);
    // Kept until success so a client can retry the final step after a 429.
    if let Some(old) = token {
        state.rewrites.remove(old);
    }
    Ok(Reply::json(response))
}
