//! The GCS JSON error envelope.
//!
//! Clients branch on `error.errors[0].reason` (a 412 is only a lost race when the reason is
//! `conditionNotMet`; a 429 is only the per-object limit when the reason is
//! `rateLimitExceeded`), so every error carries the reason and domain GCS would send.

use http::StatusCode;
use serde_json::{json, Value};

/// A failed request, rendered as GCS renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GcsError {
    pub status: StatusCode,
    pub reason: &'static str,
    pub domain: &'static str,
    pub message: String,
}

impl GcsError {
    fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        GcsError {
            status,
            reason,
            domain: "global",
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "notFound", message)
    }

    pub fn no_such_object(bucket: &str, name: &str) -> Self {
        Self::not_found(format!("No such object: {bucket}/{name}"))
    }

    pub fn no_such_bucket() -> Self {
        Self::not_found("The specified bucket does not exist.")
    }

    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "conditionNotMet",
            "At least one of the pre-conditions you specified did not hold.",
        )
    }

    /// A failed `*NotMatch` on a read. Rendered with an empty body, like GCS.
    pub fn not_modified() -> Self {
        Self::new(StatusCode::NOT_MODIFIED, "notModified", "Not Modified")
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", message)
    }

    pub fn required(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "required", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn range_not_satisfiable() -> Self {
        Self::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "requestedRangeNotSatisfiable",
            "The requested range cannot be satisfied.",
        )
    }

    /// The per-object mutation limit, worded as GCS words it (see `docs/gcs.md#rate-limits`).
    pub fn rate_limited(bucket: &str, name: &str) -> Self {
        GcsError {
            status: StatusCode::TOO_MANY_REQUESTS,
            reason: "rateLimitExceeded",
            domain: "usageLimits",
            message: format!(
                "The object {bucket}/{name} exceeded the rate limit for object mutation \
                 operations (create, update, and delete). Please reduce your request rate. \
                 See https://cloud.google.com/storage/docs/gcs429."
            ),
        }
    }

    /// The JSON body, or `None` when the status carries no body (304).
    pub fn body(&self) -> Option<Value> {
        if self.status == StatusCode::NOT_MODIFIED {
            return None;
        }
        Some(json!({
            "error": {
                "code": self.status.as_u16(),
                "message": self.message,
                "errors": [{
                    "message": self.message,
                    "domain": self.domain,
                    "reason": self.reason,
                }],
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_gcs_shape() {
        let body = GcsError::precondition_failed()
            .body()
            .expect("412 has a body");
        assert_eq!(body["error"]["code"], 412);
        assert_eq!(body["error"]["errors"][0]["reason"], "conditionNotMet");
        assert_eq!(body["error"]["errors"][0]["domain"], "global");
        assert_eq!(
            body["error"]["message"],
            body["error"]["errors"][0]["message"]
        );
    }

    #[test]
    fn not_modified_has_no_body() {
        assert!(GcsError::not_modified().body().is_none());
    }

    #[test]
    fn rate_limit_uses_usage_limits_domain() {
        let body = GcsError::rate_limited("b", "o")
            .body()
            .expect("429 has a body");
        assert_eq!(body["error"]["errors"][0]["domain"], "usageLimits");
        assert_eq!(body["error"]["errors"][0]["reason"], "rateLimitExceeded");
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("b/o exceeded the rate limit")));
    }
}
