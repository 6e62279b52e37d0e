//! `buckets.insert` and `buckets.get` (the datastore's health probe).

use serde_json::Value;

use super::errors::GcsError;
use super::reply::Reply;
use super::request::ApiRequest;
use super::resource::bucket_json;
use super::store::Shared;
use super::upload::parse_resource;

pub(crate) fn insert(shared: &Shared, req: &ApiRequest) -> Result<Reply, GcsError> {
    if req.query.get("project").is_none_or(str::is_empty) {
        return Err(GcsError::required("Required parameter: project"));
    }
    let resource = parse_resource(&req.body)?;
    let name = resource
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| GcsError::required("Required"))?;
    if !valid_bucket_name(name) {
        return Err(GcsError::invalid(format!("Invalid bucket name: '{name}'")));
    }
    let mut state = shared.state();
    if state.buckets.contains_key(name) {
        return Err(GcsError::conflict(
            "Your previous request to create the named bucket succeeded and you already own it.",
        ));
    }
    state.create_bucket(name);
    let bucket = state.bucket(name)?;
    Ok(Reply::json(bucket_json(&shared.base_url, name, bucket)))
}

pub(crate) fn get(shared: &Shared, bucket: &str) -> Result<Reply, GcsError> {
    let state = shared.state();
    let b = state.bucket(bucket)?;
    Ok(Reply::json(bucket_json(&shared.base_url, bucket, b)))
}

/// GCS's basic rules: 3-63 characters of lowercase letters, digits, `-`, `_` and `.`,
/// starting and ending with a letter or digit.
fn valid_bucket_name(name: &str) -> bool {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
        && edge_ok(name.chars().next())
        && edge_ok(name.chars().last())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        assert!(valid_bucket_name("my-bucket.v1_x"));
        for bad in ["ab", "Upper", "-lead", "trail-", "sp ace", &"a".repeat(64)] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }
}
