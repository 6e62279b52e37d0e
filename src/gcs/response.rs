//! Response models and the ONE function that turns a GCS answer into an `Error`.

use crate::error::{Error, ErrorKind, GcsDetail, Result};
use crate::transport::{HttpResponse, TransportError};
use serde_json::Value;

/// How much of an error body is shown.
pub const BODY_PREVIEW_BYTES: usize = 256;

/// Remedy shown with 401 answers and credential failures.
pub const HINT_CREDENTIALS_REJECTED: &str = "Datastore credentials rejected by GCS: verify GOOGLE_APPLICATION_CREDENTIALS, gcloud ADC (`gcloud auth application-default login`), or the attached service account, then retry.";
/// Remedy shown with 403 answers.
pub const HINT_PERMISSION: &str = "The credentials lack a permission on this bucket: grant the service account or user roles/storage.objectAdmin (storage.objects.*) and storage.buckets.get, or check the bucket name.";

/// What GCS says about one object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectMeta {
    /// Full object name (prefix included).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Generation, decimal.
    pub generation: String,
    /// Metageneration, decimal.
    pub metageneration: String,
    /// RFC 3339 update time.
    pub updated: Option<String>,
    /// Base64 CRC32C.
    pub crc32c: Option<String>,
    /// Base64 MD5.
    pub md5_hash: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListPage {
    /// Objects.
    pub items: Vec<ObjectMeta>,
    /// Common prefixes (with a delimiter).
    pub prefixes: Vec<String>,
    /// Next page token.
    pub next_page_token: Option<String>,
}

/// A `rewriteTo` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewriteStatus {
    /// True when the copy is complete.
    pub done: bool,
    /// Token to continue with.
    pub token: Option<String>,
    /// The new object, when done.
    pub resource: Option<ObjectMeta>,
}

fn int_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            Some(s.clone())
        }
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        _ => None,
    }
}

fn str_field(v: &Value, name: &str) -> Option<String> {
    v.get(name).and_then(Value::as_str).map(String::from)
}

impl ObjectMeta {
    /// Read an object resource; int64 fields arrive as strings (numbers are tolerated).
    pub fn from_json(v: &Value) -> Option<ObjectMeta> {
        let name = str_field(v, "name")?;
        Some(ObjectMeta {
            name,
            // Some emulators omit `size` on empty objects.
            size: int_string(v.get("size"))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            generation: int_string(v.get("generation")).unwrap_or_default(),
            metageneration: int_string(v.get("metageneration")).unwrap_or_default(),
            updated: str_field(v, "updated"),
            crc32c: str_field(v, "crc32c"),
            md5_hash: str_field(v, "md5Hash"),
        })
    }

    /// Parse a response body holding one object resource.
    pub fn parse(op: &str, key: &str, body: &[u8]) -> Result<ObjectMeta> {
        serde_json::from_slice::<Value>(body)
            .ok()
            .as_ref()
            .and_then(ObjectMeta::from_json)
            .ok_or_else(|| malformed(op, key, body))
    }
}

impl ListPage {
    /// Parse a listing page.
    pub fn parse(op: &str, key: &str, body: &[u8]) -> Result<ListPage> {
        let v: Value = serde_json::from_slice(body).map_err(|_| malformed(op, key, body))?;
        let items = match v.get("items") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|i| ObjectMeta::from_json(i).ok_or_else(|| malformed(op, key, body)))
                .collect::<Result<_>>()?,
            Some(_) => return Err(malformed(op, key, body)),
        };
        let prefixes = match v.get("prefixes") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
            _ => Vec::new(),
        };
        Ok(ListPage {
            items,
            prefixes,
            next_page_token: str_field(&v, "nextPageToken").filter(|t| !t.is_empty()),
        })
    }
}

impl RewriteStatus {
    /// Parse a `rewriteTo` answer.
    pub fn parse(op: &str, key: &str, body: &[u8]) -> Result<RewriteStatus> {
        let v: Value = serde_json::from_slice(body).map_err(|_| malformed(op, key, body))?;
        let done = v
            .get("done")
            .and_then(Value::as_bool)
            .ok_or_else(|| malformed(op, key, body))?;
        Ok(RewriteStatus {
            done,
            token: str_field(&v, "rewriteToken"),
            resource: v.get("resource").and_then(ObjectMeta::from_json),
        })
    }
}

fn malformed(op: &str, key: &str, body: &[u8]) -> Error {
    Error::other(format!(
        "GCS {op} {key}: unexpected response body {}",
        preview(body)
    ))
}

/// The first bytes of a body, lossily decoded, with a note on what was cut.
pub fn preview(body: &[u8]) -> String {
    let cut = body.len().min(BODY_PREVIEW_BYTES);
    let mut s: String = String::from_utf8_lossy(&body[..cut])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if body.len() > cut {
        s.push_str(&format!("…({} more bytes)", body.len() - cut));
    }
    format!("{s:?}")
}

/// `error.errors[0].reason`, else `error.code` as text, from a JSON error envelope.
pub fn envelope_reason(resp: &HttpResponse) -> Option<String> {
    let is_json = resp
        .header("content-type")
        .is_some_and(|c| c.contains("json"));
    if !is_json {
        return None;
    }
    let v: Value = serde_json::from_slice(&resp.body).ok()?;
    let err = v.get("error")?;
    err.get("errors")
        .and_then(|e| e.get(0))
        .and_then(|e| e.get("reason"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .or_else(|| {
            err.get("code")
                .map(|c| c.to_string().trim_matches('"').to_string())
        })
}

/// Map a non-success answer to an error. `op` is the operation (e.g. `download`), `key`
/// the object or bucket concerned.
pub fn classify(op: &str, key: &str, resp: &HttpResponse) -> Error {
    let status = resp.status;
    let reason = envelope_reason(resp);
    let detail = GcsDetail {
        status,
        reason: reason.clone(),
        body_preview: (!resp.body.is_empty()).then(|| preview(&resp.body)),
        upload_id: resp.header("x-guploader-uploadid").map(String::from),
    };
    let what = if key.is_empty() {
        String::new()
    } else {
        format!(" {key}")
    };
    let reason_text = reason
        .as_deref()
        .map(|r| format!(" {r}"))
        .unwrap_or_default();
    let base = format!("GCS {op}{what} failed: HTTP {status}{reason_text}");
    let (kind, retryable) = match status {
        404 => (ErrorKind::NotFound, false),
        304 => (ErrorKind::PreconditionFailed, false),
        // 412 is also used for a few IAM problems; only a precondition reason (or none, as
        // some emulators send) means "lost the race".
        412 if matches!(
            reason.as_deref(),
            None | Some("conditionNotMet") | Some("Precondition Failed") | Some("412")
        ) =>
        {
            (ErrorKind::PreconditionFailed, false)
        }
        401 => (
            ErrorKind::Unauthenticated {
                hint: HINT_CREDENTIALS_REJECTED.to_string(),
            },
            false,
        ),
        403 => (
            ErrorKind::PermissionDenied {
                hint: HINT_PERMISSION.to_string(),
            },
            false,
        ),
        429 => (ErrorKind::RateLimited, true),
        408 | 500..=599 => (ErrorKind::Remote, true),
        _ => (ErrorKind::Remote, false),
    };
    let message = match (&kind, detail.body_preview.as_deref()) {
        (ErrorKind::Remote, Some(p)) => format!("{base} bodyPreview={p}"),
        _ => base,
    };
    Error::new(kind, message)
        .retryable(retryable)
        .with_gcs(detail)
}

/// Map a transport failure to an error.
pub fn transport_error(op: &str, key: &str, err: &TransportError, timeout_ms: u64) -> Error {
    let what = if key.is_empty() {
        String::new()
    } else {
        format!(" {key}")
    };
    match err {
        TransportError::Timeout => {
            Error::timeout(format!("GCS {op}{what} timed out after {timeout_ms} ms"))
        }
        TransportError::Connection(m) => {
            Error::other(format!("GCS {op}{what} transport failure: {m}")).retryable(true)
        }
        TransportError::Denied(m) => Error::other(format!(
            "GCS {op}{what} refused by the sandbox ({m}): the host only allows the configured endpoint"
        )),
        TransportError::Invalid(m) => Error::other(format!("GCS {op}{what}: invalid request: {m}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str, json: bool) -> HttpResponse {
        let mut headers = vec![("x-guploader-uploadid".to_string(), "UP1".to_string())];
        if json {
            headers.push((
                "content-type".into(),
                "application/json; charset=UTF-8".into(),
            ));
        }
        HttpResponse {
            status,
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn envelope(code: u16, reason: &str) -> String {
        format!(
            r#"{{"error":{{"code":{code},"message":"m","errors":[{{"domain":"global","reason":"{reason}","message":"m"}}]}}}}"#
        )
    }

    #[test]
    fn classification_table() {
        let table: [(u16, Option<&str>, &str, bool); 11] = [
            (404, Some("notFound"), "NotFound", false),
            (412, Some("conditionNotMet"), "PreconditionFailed", false),
            (412, None, "PreconditionFailed", false),
            (412, Some("someIamThing"), "Remote", false),
            (304, None, "PreconditionFailed", false),
            (401, Some("required"), "Unauthenticated", false),
            (403, Some("forbidden"), "PermissionDenied", false),
            (429, Some("rateLimitExceeded"), "RateLimited", true),
            (408, None, "Remote", true),
            (503, Some("backendError"), "Remote", true),
            (400, Some("invalid"), "Remote", false),
        ];
        for (status, reason, kind, retryable) in table {
            let body = reason.map(|r| envelope(status, r)).unwrap_or_default();
            let e = classify("download", "a/b", &resp(status, &body, reason.is_some()));
            let got = format!("{:?}", e.kind);
            assert!(got.starts_with(kind), "{status} {reason:?}: {got}");
            assert_eq!(e.retryable, retryable, "{status}");
            let g = e.gcs.as_ref().unwrap();
            assert_eq!(g.status, status);
            assert_eq!(g.reason.as_deref(), reason);
            assert_eq!(g.upload_id.as_deref(), Some("UP1"));
            assert!(e
                .message
                .starts_with(&format!("GCS download a/b failed: HTTP {status}")));
        }
    }

    #[test]
    fn previews_are_capped_and_one_line() {
        let long = "x".repeat(1000) + "\nend";
        let e = classify("list", "", &resp(500, &long, false));
        let p = e.gcs.unwrap().body_preview.unwrap();
        assert!(p.contains("…(748 more bytes)"), "{p}");
        assert!(!e.message.contains('\n'));
    }

    #[test]
    fn reason_falls_back_to_code() {
        let r = resp(500, r#"{"error":{"code":500,"message":"boom"}}"#, true);
        assert_eq!(envelope_reason(&r).as_deref(), Some("500"));
        assert_eq!(envelope_reason(&resp(500, "{}", false)), None);
    }

    #[test]
    fn object_and_list_parsing() {
        let o = ObjectMeta::parse("stat", "k", br#"{"name":"k","size":"12","generation":"1716585443123456","metageneration":"1","crc32c":"AAAAAA==","updated":"2026-08-01T10:00:00.123Z"}"#).unwrap();
        assert_eq!((o.size, o.generation.as_str()), (12, "1716585443123456"));
        let page = ListPage::parse("list", "", br#"{"kind":"storage#objects","items":[{"name":"a","size":"1","generation":"2"}],"prefixes":["d/"],"nextPageToken":"t"}"#).unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.prefixes, vec!["d/"]);
        assert_eq!(page.next_page_token.as_deref(), Some("t"));
        assert!(
            ListPage::parse("list", "", br#"{"kind":"storage#objects"}"#)
                .unwrap()
                .items
                .is_empty()
        );
        assert!(ObjectMeta::parse("stat", "k", b"not json").is_err());
        assert!(ListPage::parse("list", "", br#"{"items":[{"size":"1"}]}"#).is_err());
    }
}
