//! `POST /upload/storage/v1/b/{b}/o`: `uploadType=media` and `multipart` here; `resumable`
//! is initiated here and continued in [`super::resumable`].

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::Value;

use super::errors::GcsError;
use super::hashes::{Digests, Expected};
use super::multipart;
use super::objects::parse_metadata;
use super::preconditions::Preconditions;
use super::reply::Reply;
use super::request::ApiRequest;
use super::resource::object_json;
use super::resumable;
use super::store::{NewObject, Shared, State};

pub(crate) const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

pub(crate) fn insert(shared: &Shared, req: &ApiRequest, bucket: &str) -> Result<Reply, GcsError> {
    match req.query.get("uploadType") {
        Some("media") => media(shared, req, bucket),
        Some("multipart") => multipart(shared, req, bucket),
        Some("resumable") => resumable::initiate(shared, req, bucket),
        Some(other) => Err(GcsError::invalid(format!("Invalid uploadType: {other}"))),
        None => Err(GcsError::invalid(
            "Upload requests must include an uploadType URL parameter and a URL-encoded name.",
        )),
    }
}

fn media(shared: &Shared, req: &ApiRequest, bucket: &str) -> Result<Reply, GcsError> {
    let name = object_name(req.query.get("name"), &Value::Null)?;
    let pre = Preconditions::from_query(&req.query)?;
    let new = NewObject {
        data: req.body.clone(),
        content_type: req
            .header("content-type")
            .unwrap_or(DEFAULT_CONTENT_TYPE)
            .to_owned(),
        metadata: BTreeMap::new(),
    };
    let mut state = shared.state();
    commit(&mut state, &shared.base_url, bucket, &name, new, &[], &pre).map(Reply::json)
}

fn multipart(shared: &Shared, req: &ApiRequest, bucket: &str) -> Result<Reply, GcsError> {
    let boundary = multipart::boundary(req.header("content-type").unwrap_or_default())?;
    let parts = multipart::parse(&req.body, &boundary)?;
    let [meta, media] = parts.as_slice() else {
        return Err(GcsError::invalid(format!(
            "A multipart upload needs exactly 2 parts (metadata, media); got {}.",
            parts.len()
        )));
    };
    let resource = parse_resource(meta.body)?;
    let name = object_name(req.query.get("name"), &resource)?;
    let pre = Preconditions::from_query(&req.query)?;
    let expected = Expected::from_resource(&resource)?;
    let new = NewObject {
        data: Bytes::copy_from_slice(media.body),
        content_type: resource_content_type(&resource)?
            .or_else(|| media.content_type.clone())
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
        metadata: parse_metadata(&resource)?.unwrap_or_default(),
    };
    let mut state = shared.state();
    commit(
        &mut state,
        &shared.base_url,
        bucket,
        &name,
        new,
        &[expected],
        &pre,
    )
    .map(Reply::json)
}

/// Verifies declared hashes, then creates the object (rate limit, preconditions) and returns
/// its resource. A hash mismatch stores nothing.
pub(crate) fn commit(
    state: &mut State,
    base: &str,
    bucket: &str,
    name: &str,
    new: NewObject,
    expected: &[Expected],
    pre: &Preconditions,
) -> Result<Value, GcsError> {
    state.bucket(bucket)?;
    let digests = Digests::of(&new.data);
    expected.iter().try_for_each(|e| e.verify(&digests))?;
    let object = state.create(bucket, name, new, pre)?;
    Ok(object_json(base, bucket, name, object))
}

/// An upload's JSON resource; an empty body is an empty resource.
pub(crate) fn parse_resource(body: &[u8]) -> Result<Value, GcsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(GcsError::invalid(
            "The object resource must be a JSON object.",
        )),
        Err(e) => Err(GcsError::invalid(format!(
            "Invalid JSON payload received. {e}"
        ))),
    }
}

pub(crate) fn resource_content_type(resource: &Value) -> Result<Option<String>, GcsError> {
    match resource.get("contentType") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(GcsError::invalid("Invalid value for contentType.")),
    }
}

/// The object name from the `name` query parameter, else from the resource; validated
/// against GCS's naming rules.
pub(crate) fn object_name(query_name: Option<&str>, resource: &Value) -> Result<String, GcsError> {
    let name = query_name
        .or_else(|| resource.get("name").and_then(Value::as_str))
        .ok_or_else(|| GcsError::required("Required"))?;
    let valid = !name.is_empty()
        && name.len() <= 1024
        && !name.contains(['\r', '\n'])
        && name != "."
        && name != "..";
    if !valid {
        return Err(GcsError::invalid(format!("Invalid object name: {name:?}")));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_name_wins_and_names_are_validated() {
        let resource = json!({"name": "from-body"});
        assert_eq!(object_name(Some("q"), &resource).expect("ok"), "q");
        assert_eq!(object_name(None, &resource).expect("ok"), "from-body");
        let missing = object_name(None, &Value::Null).expect_err("missing");
        assert_eq!(missing.reason, "required");
        for bad in ["", ".", "..", "a\nb"] {
            assert_eq!(
                object_name(Some(bad), &Value::Null).expect_err(bad).reason,
                "invalid"
            );
        }
        assert!(object_name(Some(&"x".repeat(1025)), &Value::Null).is_err());
    }

    #[test]
    fn resource_body_must_be_an_object() {
        assert_eq!(parse_resource(b" ").expect("empty ok"), json!({}));
        assert!(parse_resource(b"[1]").is_err());
        assert!(parse_resource(b"{").is_err());
    }
}
