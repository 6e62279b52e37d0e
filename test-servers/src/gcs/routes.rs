//! Maps method + decoded path to a handler, then applies what every response shares:
//! the `fields=` filter on JSON successes and `x-guploader-uploadid` on upload responses.
//!
//! Object names must arrive as one percent-encoded segment; an unencoded `/` in a name makes
//! the path unknown (404), which surfaces client encoding bugs instead of guessing.

use http::Method;

use super::errors::GcsError;
use super::fields::Selection;
use super::reply::{Body, Reply};
use super::request::ApiRequest;
use super::resumable::new_upload_id;
use super::store::Shared;
use super::{buckets, list, objects, resumable, rewrite, upload};

pub(crate) fn handle(shared: &Shared, req: &ApiRequest) -> Reply {
    let segments: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let is_upload = segments.first() == Some(&"upload");
    let mut reply = dispatch(shared, req, &segments)
        .and_then(|reply| apply_fields(req, reply))
        .unwrap_or_else(Reply::from);
    if is_upload && !reply.has_header("x-guploader-uploadid") {
        let id = req
            .query
            .get("upload_id")
            .map_or_else(new_upload_id, str::to_owned);
        reply = reply.header("x-guploader-uploadid", id);
    }
    reply
}

fn dispatch(shared: &Shared, req: &ApiRequest, segments: &[&str]) -> Result<Reply, GcsError> {
    use Method as M;
    let method = &req.method;
    match segments {
        ["storage", "v1", "b"] if method == M::POST => buckets::insert(shared, req),
        ["storage", "v1", "b", b] if method == M::GET => buckets::get(shared, b),
        ["storage", "v1", "b", b, "o"] if method == M::GET => list::list(shared, req, b),
        ["storage", "v1", "b", b, "o", o] if !o.is_empty() => match *method {
            M::GET => objects::get(shared, req, b, o, false),
            M::DELETE => objects::delete(shared, req, b, o),
            M::PATCH => objects::patch(shared, req, b, o),
            _ => Err(unknown()),
        },
        ["storage", "v1", "b", sb, "o", so, verb @ ("rewriteTo" | "copyTo"), "b", db, "o", dobj]
            if method == M::POST && !so.is_empty() && !dobj.is_empty() =>
        {
            if *verb == "rewriteTo" {
                rewrite::rewrite(shared, req, (sb, so), (db, dobj))
            } else {
                rewrite::copy(shared, req, (sb, so), (db, dobj))
            }
        }
        ["download", "storage", "v1", "b", b, "o", o] if method == M::GET && !o.is_empty() => {
            objects::get(shared, req, b, o, true)
        }
        ["upload", "storage", "v1", "b", b, "o"] => match (method, req.query.get("upload_id")) {
            (&M::POST, None) => upload::insert(shared, req, b),
            (&M::PUT | &M::POST, Some(id)) => resumable::put(shared, req, id),
            (&M::DELETE, Some(id)) => resumable::cancel(shared, id),
            _ => Err(unknown()),
        },
        _ => Err(unknown()),
    }
}

fn unknown() -> GcsError {
    GcsError::not_found("Not Found")
}

fn apply_fields(req: &ApiRequest, mut reply: Reply) -> Result<Reply, GcsError> {
    let Some(spec) = req.query.get("fields") else {
        return Ok(reply);
    };
    if let Body::Json(value) = &reply.body {
        if reply.status.is_success() {
            reply.body = Body::Json(Selection::parse(spec)?.apply(value));
        }
    }
    Ok(reply)
}
