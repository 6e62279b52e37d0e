//! The request as handlers see it: method, percent-decoded path segments, decoded query
//! parameters, headers and the fully collected body.
//!
//! An object name is exactly one path segment (`/` travels as `%2F`), so the path is split on
//! raw `/` *before* decoding. Path segments use plain percent-decoding (`+` stays `+`); query
//! values use form decoding (`+` is a space), as the GCS front end does.

use bytes::Bytes;
use http::{HeaderMap, Method};
use percent_encoding::percent_decode_str;

use super::errors::GcsError;

pub(crate) struct ApiRequest {
    pub method: Method,
    pub segments: Vec<String>,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ApiRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Splits a raw URI path into decoded segments. Fails on invalid UTF-8.
pub(crate) fn decode_path(raw: &str) -> Result<Vec<String>, GcsError> {
    raw.strip_prefix('/')
        .unwrap_or(raw)
        .split('/')
        .map(|seg| {
            percent_decode_str(seg)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| GcsError::invalid("The request path is not valid UTF-8."))
        })
        .collect()
}

/// Decoded query parameters in request order.
#[derive(Debug, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: &str) -> Result<Query, GcsError> {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                Ok((form_decode(k)?, form_decode(v)?))
            })
            .collect::<Result<_, GcsError>>()?;
        Ok(Query(pairs))
    }

    /// The first value of `key`; GCS ignores repeats of single-valued parameters.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, GcsError> {
        self.get(key)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    GcsError::invalid(format!("Invalid value for {key}: {v} is not an integer."))
                })
            })
            .transpose()
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, GcsError> {
        self.get(key)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(GcsError::invalid(format!(
                    "Invalid value for {key}: {v} is not a boolean."
                ))),
            })
            .transpose()
    }
}

fn form_decode(s: &str) -> Result<String, GcsError> {
    let spaced = s.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|_| GcsError::invalid("The query string is not valid UTF-8."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_splits_before_decoding() {
        let segs = decode_path("/storage/v1/b/bkt/o/a%2Fb%20c%40%E2%9C%93+x").expect("valid");
        assert_eq!(segs, ["storage", "v1", "b", "bkt", "o", "a/b c@✓+x"]);
    }

    #[test]
    fn path_rejects_invalid_utf8() {
        assert_eq!(
            decode_path("/o/%FF").map_err(|e| e.status.as_u16()),
            Err(400)
        );
    }

    #[test]
    fn query_uses_form_decoding() {
        let q = Query::parse("name=a+b%2Bc%2Fd&flag&ifGenerationMatch=0&x=1&x=2").expect("valid");
        assert_eq!(q.get("name"), Some("a b+c/d"));
        assert_eq!(q.get("flag"), Some(""));
        assert_eq!(q.int("ifGenerationMatch").expect("int"), Some(0));
        assert_eq!(q.get("x"), Some("1"));
        assert!(q.int("name").is_err());
        assert_eq!(q.bool("missing").expect("absent is fine"), None);
    }
}
