//! Request builders: one pure function per GCS JSON-API call, returning an `HttpRequest`
//! value. Nothing here sends anything, so URLs, encodings and preconditions are unit-tested
//! directly.

use super::checksum::crc32c_b64;
use super::encode::{encode_component, query};
use crate::config::Config;
use crate::transport::{HttpRequest, Method};

/// Every upload is sent as opaque bytes, as the TypeScript client does.
pub const CONTENT_TYPE: &str = "application/octet-stream";

/// Generation preconditions of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    /// `ifGenerationMatch` (`"0"` = the object must not exist).
    pub if_generation_match: Option<String>,
    /// `ifGenerationNotMatch`.
    pub if_generation_not_match: Option<String>,
}

impl Preconditions {
    /// Only `ifGenerationMatch`.
    pub fn generation_match(g: Option<&str>) -> Self {
        Preconditions {
            if_generation_match: g.map(String::from),
            if_generation_not_match: None,
        }
    }

    /// True when any precondition is set.
    pub fn any(&self) -> bool {
        self.if_generation_match.is_some() || self.if_generation_not_match.is_some()
    }

    fn pairs(&self) -> [(&'static str, Option<&str>); 2] {
        [
            ("ifGenerationMatch", self.if_generation_match.as_deref()),
            (
                "ifGenerationNotMatch",
                self.if_generation_not_match.as_deref(),
            ),
        ]
    }
}

fn bucket_url(cfg: &Config) -> String {
    format!(
        "{}/storage/v1/b/{}",
        cfg.api_endpoint,
        encode_component(&cfg.bucket)
    )
}

fn object_url(cfg: &Config, key: &str) -> String {
    format!(
        "{}/o/{}",
        bucket_url(cfg),
        encode_component(&cfg.full_key(key))
    )
}

fn with_query(mut url: String, pairs: &[(&str, Option<&str>)]) -> String {
    url.push_str(&query(pairs));
    url
}

/// `GET /storage/v1/b/{bucket}`: existence and permission check.
pub fn bucket_get(cfg: &Config) -> HttpRequest {
    HttpRequest::new(Method::Get, bucket_url(cfg))
}

/// `GET /storage/v1/b/{b}/o/{key}`: object metadata (the JSON API has no HEAD).
pub fn object_metadata(cfg: &Config, key: &str, cond: &Preconditions) -> HttpRequest {
    let url = with_query(object_url(cfg, key), &cond.pairs());
    HttpRequest::new(Method::Get, url)
}

/// `GET ...?alt=media`: the object's bytes.
pub fn media_download(cfg: &Config, key: &str, generation: Option<&str>) -> HttpRequest {
    let url = with_query(
        object_url(cfg, key),
        &[("alt", Some("media")), ("generation", generation)],
    );
    // Ask for the stored bytes as they are: decompressive transcoding would make the
    // announced hashes describe different bytes than the ones we receive.
    HttpRequest::new(Method::Get, url).header("accept-encoding", "identity")
}

/// Multipart upload: the JSON resource (with CRC32C and MD5, so GCS rejects a body
/// corrupted on the way) and the media in one request.
pub fn multipart_upload(
    cfg: &Config,
    key: &str,
    data: &[u8],
    cond: &Preconditions,
    boundary: &str,
) -> HttpRequest {
    multipart_upload_with_metadata(cfg, key, data, cond, boundary, &[])
}

/// [`multipart_upload`] whose object also carries custom metadata (`x-goog-meta-*`), e.g.
/// the claim nonce of a create-only write (`create_only.rs`). Readers of the bytes never
/// see it; with no pairs the request is exactly [`multipart_upload`]'s.
pub fn multipart_upload_with_metadata(
    cfg: &Config,
    key: &str,
    data: &[u8],
    cond: &Preconditions,
    boundary: &str,
    metadata: &[(&str, &str)],
) -> HttpRequest {
    let mut pairs = vec![("uploadType", Some("multipart"))];
    pairs.extend(cond.pairs());
    let url = with_query(
        format!(
            "{}/upload/storage/v1/b/{}/o",
            cfg.api_endpoint,
            encode_component(&cfg.bucket)
        ),
        &pairs,
    );
    let mut resource = serde_json::json!({
        "name": cfg.full_key(key),
        "contentType": CONTENT_TYPE,
        // GCS rejects the upload when the bytes it received do not match; one checksum
        // is enough for that, and MD5 costs more CPU than CRC32C.
        "crc32c": crc32c_b64(data),
    });
    if !metadata.is_empty() {
        let pairs: serde_json::Map<String, serde_json::Value> = metadata
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        resource["metadata"] = serde_json::Value::Object(pairs);
    }
    let mut body = Vec::with_capacity(data.len() + 512);
    body.extend_from_slice(
        format!("--{boundary}\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(resource.to_string().as_bytes());
    body.extend_from_slice(
        format!("\r\n--{boundary}\r\ncontent-type: {CONTENT_TYPE}\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    HttpRequest::new(Method::Post, url)
        .header(
            "content-type",
            format!("multipart/related; boundary={boundary}"),
        )
        .body(body)
}

/// A multipart boundary that cannot occur in `data` (checked, not assumed).
pub fn boundary_for(data: &[u8], seed: u64) -> String {
    let mut n = seed;
    loop {
        let b = format!("swamp-gcs-{n:016x}");
        if !contains(data, b.as_bytes()) {
            return b;
        }
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
    }
}

/// Whether `needle` occurs in `hay`: the first byte is scanned for, and only its hits
/// are compared (a comparison at every offset cost more than the rest of building an
/// upload).
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut from = 0;
    while let Some(i) = hay[from..].iter().position(|&b| b == first) {
        let at = from + i;
        if hay[at + 1..].starts_with(rest) {
            return true;
        }
        from = at + 1;
    }
    false
}

/// Start a resumable session. The precondition is checked by GCS when the upload completes.
pub fn resumable_start(cfg: &Config, key: &str, total: u64, cond: &Preconditions) -> HttpRequest {
    let mut pairs = vec![("uploadType", Some("resumable"))];
    pairs.extend(cond.pairs());
    let url = with_query(
        format!(
            "{}/upload/storage/v1/b/{}/o",
            cfg.api_endpoint,
            encode_component(&cfg.bucket)
        ),
        &pairs,
    );
    let resource = serde_json::json!({ "name": cfg.full_key(key), "contentType": CONTENT_TYPE });
    HttpRequest::new(Method::Post, url)
        .header("content-type", "application/json; charset=UTF-8")
        .header("x-upload-content-type", CONTENT_TYPE)
        .header("x-upload-content-length", total.to_string())
        .body(resource.to_string().into_bytes())
}

/// One chunk of a resumable upload, `start..start+chunk.len()` of `total` bytes. The last
/// chunk carries the whole object's CRC32C so GCS refuses to commit corrupted content.
pub fn resumable_chunk(
    session_url: &str,
    chunk: &[u8],
    start: u64,
    total: u64,
    whole_crc32c: Option<&str>,
) -> HttpRequest {
    let end = start + chunk.len() as u64;
    let range = if chunk.is_empty() {
        format!("bytes */{total}")
    } else {
        format!("bytes {start}-{}/{total}", end - 1)
    };
    let mut req = HttpRequest::new(Method::Put, session_url)
        .header("content-type", CONTENT_TYPE)
        .header("content-range", range)
        .body(chunk.to_vec());
    if let Some(crc) = whole_crc32c {
        req = req.header("x-goog-hash", format!("crc32c={crc}"));
    }
    req
}

/// Ask a resumable session how many bytes it has persisted.
pub fn resumable_status(session_url: &str, total: u64) -> HttpRequest {
    HttpRequest::new(Method::Put, session_url)
        .header("content-range", format!("bytes */{total}"))
        .body(Vec::new())
}

/// One page of `GET /storage/v1/b/{b}/o`. `prefix` is relative to the configured prefix.
pub fn list(
    cfg: &Config,
    prefix: Option<&str>,
    delimiter: Option<&str>,
    max_results: Option<u32>,
    page_token: Option<&str>,
) -> HttpRequest {
    let full_prefix = match (prefix, &cfg.prefix) {
        (Some(p), _) => Some(cfg.full_key(p)),
        (None, Some(base)) => Some(format!("{base}/")),
        (None, None) => None,
    };
    let max = max_results.map(|m| m.to_string());
    let url = with_query(
        format!("{}/o", bucket_url(cfg)),
        &[
            ("prefix", full_prefix.as_deref()),
            ("delimiter", delimiter),
            ("maxResults", max.as_deref()),
            ("pageToken", page_token),
        ],
    );
    HttpRequest::new(Method::Get, url)
}

/// `DELETE /storage/v1/b/{b}/o/{key}`.
pub fn delete(cfg: &Config, key: &str, cond: &Preconditions) -> HttpRequest {
    HttpRequest::new(
        Method::Delete,
        with_query(object_url(cfg, key), &cond.pairs()),
    )
}

/// One `rewriteTo` call; repeat with the returned token until `done`.
pub fn rewrite(cfg: &Config, src: &str, dst: &str, token: Option<&str>) -> HttpRequest {
    let url = with_query(
        format!(
            "{}/rewriteTo/b/{}/o/{}",
            object_url(cfg, src),
            encode_component(&cfg.bucket),
            encode_component(&cfg.full_key(dst))
        ),
        &[("rewriteToken", token)],
    );
    HttpRequest::new(Method::Post, url)
        .header("content-type", "application/json")
        .body(b"{}".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigEnv;

    fn cfg(prefix: Option<&str>) -> Config {
        let json = match prefix {
            Some(p) => {
                format!(r#"{{"bucket":"bkt","prefix":"{p}","apiEndpoint":"http://127.0.0.1:9"}}"#)
            }
            None => r#"{"bucket":"bkt","apiEndpoint":"http://127.0.0.1:9"}"#.to_string(),
        };
        Config::parse(&json, &ConfigEnv::default()).unwrap()
    }

    #[test]
    fn urls_encode_names_as_one_segment() {
        let c = cfg(Some("swamp"));
        let r = object_metadata(&c, "data/a b@c.json", &Preconditions::default());
        assert_eq!(
            r.url,
            "http://127.0.0.1:9/storage/v1/b/bkt/o/swamp%2Fdata%2Fa%20b%40c.json"
        );
        let r = media_download(&c, "x", Some("17"));
        assert_eq!(
            r.url,
            "http://127.0.0.1:9/storage/v1/b/bkt/o/swamp%2Fx?alt=media&generation=17"
        );
        let r = delete(&cfg(None), "k", &Preconditions::generation_match(Some("5")));
        assert_eq!(r.method, Method::Delete);
        assert_eq!(
            r.url,
            "http://127.0.0.1:9/storage/v1/b/bkt/o/k?ifGenerationMatch=5"
        );
    }

    #[test]
    fn list_prefix_rules() {
        let table = [
            (None, None, "http://127.0.0.1:9/storage/v1/b/bkt/o"),
            (
                Some("p"),
                None,
                "http://127.0.0.1:9/storage/v1/b/bkt/o?prefix=p%2F",
            ),
            (
                Some("p"),
                Some("data/"),
                "http://127.0.0.1:9/storage/v1/b/bkt/o?prefix=p%2Fdata%2F",
            ),
            (
                None,
                Some("data/"),
                "http://127.0.0.1:9/storage/v1/b/bkt/o?prefix=data%2F",
            ),
        ];
        for (prefix, sub, want) in table {
            assert_eq!(list(&cfg(prefix), sub, None, None, None).url, want);
        }
        let r = list(&cfg(None), None, Some("/"), Some(2), Some("tok en"));
        assert!(
            r.url
                .ends_with("?delimiter=%2F&maxResults=2&pageToken=tok%20en"),
            "{}",
            r.url
        );
    }

    #[test]
    fn multipart_carries_hashes_and_precondition() {
        let data = b"hello world";
        let r = multipart_upload(
            &cfg(None),
            "a/b",
            data,
            &Preconditions::generation_match(Some("0")),
            "BND",
        );
        assert!(r
            .url
            .ends_with("/upload/storage/v1/b/bkt/o?uploadType=multipart&ifGenerationMatch=0"));
        assert_eq!(
            r.header_value("content-type"),
            Some("multipart/related; boundary=BND")
        );
        let body = String::from_utf8(r.body).unwrap();
        assert!(body.contains(r#""crc32c":"yZRlqg==""#), "{body}");
        assert!(body.contains(r#""name":"a/b""#));
        assert!(body.ends_with("\r\nhello world\r\n--BND--\r\n"));
    }

    #[test]
    fn multipart_metadata_only_when_asked() {
        let cond = Preconditions::generation_match(Some("0"));
        let plain = multipart_upload(&cfg(None), "k", b"v", &cond, "BND");
        let none = multipart_upload_with_metadata(&cfg(None), "k", b"v", &cond, "BND", &[]);
        assert_eq!(plain, none);
        assert!(!String::from_utf8(plain.body).unwrap().contains("metadata"));
        let tagged =
            multipart_upload_with_metadata(&cfg(None), "k", b"v", &cond, "BND", &[("a", "1")]);
        let body = String::from_utf8(tagged.body).unwrap();
        assert!(body.contains(r#""metadata":{"a":"1"}"#), "{body}");
    }

    #[test]
    fn boundary_avoids_content() {
        let first = boundary_for(b"", 1);
        let data = format!("xx{first}yy");
        let second = boundary_for(data.as_bytes(), 1);
        assert_ne!(first, second);
        assert!(!data.contains(&second));
    }

    #[test]
    fn resumable_ranges() {
        let r = resumable_chunk("http://h/s", &[0u8; 10], 20, 30, Some("AAAAAA=="));
        assert_eq!(r.header_value("content-range"), Some("bytes 20-29/30"));
        assert_eq!(r.header_value("x-goog-hash"), Some("crc32c=AAAAAA=="));
        let q = resumable_status("http://h/s", 30);
        assert_eq!(q.header_value("content-range"), Some("bytes */30"));
        assert!(q.body.is_empty());
        let s = resumable_start(
            &cfg(None),
            "big",
            30,
            &Preconditions::generation_match(Some("0")),
        );
        assert_eq!(s.header_value("x-upload-content-length"), Some("30"));
        assert!(s.url.contains("uploadType=resumable&ifGenerationMatch=0"));
    }

    #[test]
    fn rewrite_url() {
        let r = rewrite(&cfg(Some("p")), "a/x", "b/y", Some("t"));
        assert_eq!(
            r.url,
            "http://127.0.0.1:9/storage/v1/b/bkt/o/p%2Fa%2Fx/rewriteTo/b/bkt/o/p%2Fb%2Fy?rewriteToken=t"
        );
    }
}
