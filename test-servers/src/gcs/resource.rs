//! JSON resources as GCS renders them: int64 fields as strings, RFC 3339 times, base64
//! hashes, and `metadata` only when the object has custom metadata.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Map, Value};

use super::clock::rfc3339_ms;
use super::store::{Bucket, Object};

/// Everything but RFC 3986 unreserved characters, so an object name stays one segment.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub(crate) fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

pub(crate) fn object_json(base: &str, bucket: &str, name: &str, object: &Object) -> Value {
    let (b, n) = (encode_component(bucket), encode_component(name));
    let generation = object.generation;
    let mut resource = json!({
        "kind": "storage#object",
        "id": format!("{bucket}/{name}/{generation}"),
        "selfLink": format!("{base}/storage/v1/b/{b}/o/{n}"),
        "mediaLink": format!("{base}/download/storage/v1/b/{b}/o/{n}?generation={generation}&alt=media"),
        "name": name,
        "bucket": bucket,
        "generation": generation.to_string(),
        "metageneration": object.metageneration.to_string(),
        "contentType": object.content_type,
        "storageClass": "STANDARD",
        "size": object.data.len().to_string(),
        "md5Hash": object.digests.md5_b64(),
        "crc32c": object.digests.crc32c_b64(),
        "etag": etag(generation, object.metageneration),
        "timeCreated": rfc3339_ms(object.created_ms),
        "updated": rfc3339_ms(object.updated_ms),
        "timeStorageClassUpdated": rfc3339_ms(object.created_ms),
    });
    if !object.metadata.is_empty() {
        let metadata: Map<String, Value> = object
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        resource["metadata"] = Value::Object(metadata);
    }
    resource
}

pub(crate) fn bucket_json(base: &str, name: &str, bucket: &Bucket) -> Value {
    json!({
        "kind": "storage#bucket",
        "selfLink": format!("{base}/storage/v1/b/{}", encode_component(name)),
        "id": name,
        "name": name,
        "projectNumber": "0",
        "metageneration": "1",
        "location": "US",
        "storageClass": "STANDARD",
        "etag": "CAE=",
        "timeCreated": rfc3339_ms(bucket.created_ms),
        "updated": rfc3339_ms(bucket.created_ms),
        "locationType": "multi-region",
    })
}

/// Opaque, and different for every (generation, metageneration) pair, like GCS's JSON etag.
fn etag(generation: i64, metageneration: i64) -> String {
    use base64::Engine as _;
    let mut raw = generation.to_be_bytes().to_vec();
    raw.extend_from_slice(&metageneration.to_be_bytes());
    base64::engine::general_purpose::STANDARD.encode(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_encoding_keeps_names_in_one_segment() {
        assert_eq!(encode_component("a/b c@✓"), "a%2Fb%20c%40%E2%9C%93");
        assert_eq!(encode_component("x-y_z.~"), "x-y_z.~");
    }

    #[test]
    fn etag_changes_with_either_version() {
        assert_ne!(etag(1, 1), etag(1, 2));
        assert_ne!(etag(1, 1), etag(2, 1));
    }
}
