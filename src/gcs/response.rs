//! Response models and the ONE function that turns a GCS answer into an `Error`.

use super::generation::Generation;
use crate::error::{Error, ErrorKind, GcsDetail, Missing, Result, TransportKind};
use crate::transport::{HttpResponse, TransportError};
use serde_json::Value;
use std::collections::BTreeMap;

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
    pub generation: Generation,
    /// Metageneration, decimal.
    pub metageneration: String,
    /// RFC 3339 update time.
    pub updated: Option<String>,
    /// Base64 CRC32C.
    pub crc32c: Option<String>,
    /// Base64 MD5.
    pub md5_hash: Option<String>,
    /// Custom metadata (`metadata` of the resource; string values only).
    pub metadata: BTreeMap<String, String>,
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
            generation: Generation::new(int_string(v.get("generation")).unwrap_or_default()),
            metageneration: int_string(v.get("metageneration")).unwrap_or_default(),
            updated: str_field(v, "updated"),
            crc32c: str_field(v, "crc32c"),
            md5_hash: str_field(v, "md5Hash"),
            metadata: v
                .get("metadata")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default(),
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

/// `error.errors[0].reason` from a JSON error envelope, when it is a non-empty string.
///
/// `error.code` is never used: it repeats the HTTP status (`HTTP 503 503`), and some
/// servers send it as a string or send `message` as an object; a reason must be a plain
/// word or nothing.
pub fn envelope_reason(resp: &HttpResponse) -> Option<String> {
    let is_json = resp
        .header("content-type")
        .is_some_and(|c| c.contains("json"));
    if !is_json {
        return None;
    }
    let v: Value = serde_json::from_slice(&resp.body).ok()?;
    v.get("error")?
        .get("errors")?
        .get(0)?
        .get("reason")?
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 64 && !s.contains(char::is_control))
        .map(String::from)
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
        404 if op == "bucketGet" || op == "list" => (ErrorKind::NotFound(Missing::Bucket), false),
        404 => (ErrorKind::NotFound(Missing::Object(key.to_string())), false),
        304 => (ErrorKind::PreconditionFailed, false),
        // 412 is also used for a few IAM problems; only a precondition reason (or none, as
        // some emulators send) means "lost the race".
        412 if matches!(
            reason.as_deref(),
            None | Some("conditionNotMet") | Some("Precondition Failed")
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

/// Map a transport failure to an error whose kind says how far the exchange got.
pub fn transport_error(op: &str, key: &str, err: &TransportError, timeout_ms: u64) -> Error {
    let what = if key.is_empty() {
        String::new()
    } else {
        format!(" {key}")
    };
    let wire = |kind: TransportKind, status: Option<u16>| {
        Error::new(
            ErrorKind::Transport { kind, status },
            format!("GCS {op}{what}: {err}"),
        )
    };
    match err {
        TransportError::Timeout => {
            Error::timeout(format!("GCS {op}{what} timed out after {timeout_ms} ms"))
        }
        TransportError::Unreachable(_) => wire(TransportKind::Unreachable, None).retryable(true),
        TransportError::Tls(_) => wire(TransportKind::Tls, None).retryable(true),
        TransportError::Connection(_) => wire(TransportKind::ConnectionLost, None).retryable(true),
        TransportError::BodyCut { status, .. } => {
            wire(TransportKind::BodyCutShort, Some(*status)).retryable(true)
        }
        TransportError::Denied(_) => wire(TransportKind::Denied, None),
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
        // A 404 says what is missing: the bucket for bucket calls, else the object.
        let missing = |op| classify(op, "a/b", &resp(404, "", false)).kind().clone();
        assert_eq!(missing("bucketGet"), ErrorKind::NotFound(Missing::Bucket));
        assert_eq!(missing("list"), ErrorKind::NotFound(Missing::Bucket));
        assert_eq!(
            missing("download"),
            ErrorKind::NotFound(Missing::Object("a/b".into()))
        );
        for (status, reason, kind, retryable) in table {
            let body = reason.map(|r| envelope(status, r)).unwrap_or_default();
            let e = classify("download", "a/b", &resp(status, &body, reason.is_some()));
            let got = format!("{:?}", e.kind());
            assert!(got.starts_with(kind), "{status} {reason:?}: {got}");
            assert_eq!(e.is_retryable(), retryable, "{status}");
            let g = e.gcs().unwrap();
            assert_eq!(g.status, status);
            assert_eq!(g.reason.as_deref(), reason);
            assert_eq!(g.upload_id.as_deref(), Some("UP1"));
            assert!(e
                .message()
                .starts_with(&format!("GCS download a/b failed: HTTP {status}")));
        }
    }

    #[test]
    fn previews_are_capped_and_one_line() {
        let long = "x".repeat(1000) + "\nend";
        let e = classify("list", "", &resp(500, &long, false));
        let p = e.gcs().unwrap().body_preview.clone().unwrap();
        assert!(p.contains("…(748 more bytes)"), "{p}");
        assert!(!e.message().contains('\n'));
    }

    #[test]
    fn odd_envelopes_give_a_readable_line() {
        // Each body is what some server sent; none may yield a reason that repeats the
        // status or quotes a JSON object.
        let table: [(&str, Option<&str>); 6] = [
            (r#"{"error":{"code":500,"message":"boom"}}"#, None),
            (r#"{"error":{"code":"503","message":"boom"}}"#, None),
            (r#"{"error":{"code":503,"message":{"text":"boom"}}}"#, None),
            (
                r#"{"error":{"code":503,"errors":[{"reason":{"x":1}}]}}"#,
                None,
            ),
            (
                r#"{"error":{"code":"503","errors":[{"reason":"backendError"}]}}"#,
                Some("backendError"),
            ),
            (r#"{"error":"backend down"}"#, None),
        ];
        for (body, reason) in table {
            let r = resp(503, body, true);
            assert_eq!(envelope_reason(&r).as_deref(), reason, "{body}");
            let e = classify("download", "a/b", &r);
            assert!(!e.message().contains("503 503"), "{}", e.message());
            assert!(!e.message().contains('\n'), "{}", e.message());
            let want = match reason {
                Some(r) => format!("GCS download a/b failed: HTTP 503 {r} bodyPreview="),
                None => "GCS download a/b failed: HTTP 503 bodyPreview=".to_string(),
            };
            assert!(e.message().starts_with(&want), "{}", e.message());
        }
        assert_eq!(envelope_reason(&resp(500, "{}", false)), None);
    }

    #[test]
    fn transport_failures_keep_their_kind() {
        let table = [
            (
                TransportError::Unreachable("refused".into()),
                Some(TransportKind::Unreachable),
                None,
                true,
            ),
            (
                TransportError::Tls("bad certificate".into()),
                Some(TransportKind::Tls),
                None,
                true,
            ),
            (
                TransportError::Connection("reset".into()),
                Some(TransportKind::ConnectionLost),
                None,
                true,
            ),
            (
                TransportError::BodyCut {
                    status: 200,
                    received: 10,
                    detail: "closed".into(),
                },
                Some(TransportKind::BodyCutShort),
                Some(200),
                true,
            ),
            (
                TransportError::Denied("not allowed".into()),
                Some(TransportKind::Denied),
                None,
                false,
            ),
            (TransportError::Invalid("bad url".into()), None, None, false),
        ];
        for (err, kind, status, retryable) in table {
            let e = transport_error("download", "k", &err, 1000);
            let got = match e.kind() {
                ErrorKind::Transport { kind, status } => Some((*kind, *status)),
                _ => None,
            };
            assert_eq!(got, kind.map(|k| (k, status)), "{err:?}");
            assert_eq!(e.is_retryable(), retryable, "{err:?}");
            assert!(e.message().starts_with("GCS download k"), "{}", e.message());
        }
        let cut = transport_error(
            "upload",
            "k",
            &TransportError::BodyCut {
                status: 200,
                received: 3,
                detail: "eof".into(),
            },
            1,
        );
        assert!(cut.is_committed_reply_lost());
        let cut = transport_error(
            "upload",
            "k",
            &TransportError::BodyCut {
                status: 503,
                received: 3,
                detail: "eof".into(),
            },
            1,
        );
        assert!(!cut.is_committed_reply_lost(), "a 503 committed nothing");
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
