//! One token request and the interpretation of its answer, shared by the three sources.
//!
//! Every token call is bounded by [`TOKEN_TIMEOUT_MS`], and every failure becomes an
//! `ErrorKind::Unauthenticated` (or a `Timeout`) whose message names the source and quotes
//! at most a short, redacted preview of what the endpoint said.

use std::fmt;

use serde_json::Value;

use super::hints;
use super::secret::{body_preview, Secret};
use crate::error::{Error, ErrorKind, Result};
use crate::transport::{HttpRequest, Transport, TransportError};

/// Deadline of one token-endpoint or metadata-server request. Matches the TypeScript
/// client: a token call that takes longer is almost always a dead route (no metadata server
/// here, a blocked egress), and the caller would rather hear so than wait for its own
/// request deadline.
pub const TOKEN_TIMEOUT_MS: u64 = 2000;

/// Google's OAuth 2.0 token endpoint, used when a credential file names none.
pub(crate) const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// Lifetime assumed when an answer has no `expires_in`. Google always sends one; an hour
/// is what its tokens live, and a 401 still forces a refresh if the guess was long.
const DEFAULT_LIFETIME_S: u64 = 3600;

/// Where a credential came from; shown in messages so the user knows which one to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The file named by `GOOGLE_APPLICATION_CREDENTIALS`.
    EnvFile(String),
    /// gcloud's `application_default_credentials.json`.
    GcloudFile(String),
    /// The metadata server at this host.
    Metadata(String),
}

impl Origin {
    /// The remedy for a file that cannot be read or parsed.
    pub(crate) fn bad_file_hint(&self) -> &'static str {
        match self {
            Origin::EnvFile(_) => hints::BAD_ENV_FILE,
            Origin::GcloudFile(_) => hints::BAD_GCLOUD_FILE,
            Origin::Metadata(_) => hints::NO_CREDENTIALS,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::EnvFile(p) => write!(f, "GOOGLE_APPLICATION_CREDENTIALS file {p}"),
            Origin::GcloudFile(p) => write!(f, "gcloud ADC file {p}"),
            // The context already says "Metadata server"; the host is what differs.
            Origin::Metadata(h) => f.write_str(h),
        }
    }
}

/// An access token fresh from an endpoint, with how long it lives.
#[derive(Debug)]
pub(crate) struct FetchedToken {
    /// The bearer token.
    pub(crate) token: Secret,
    /// Lifetime in milliseconds from when the request was sent.
    pub(crate) lifetime_ms: u64,
}

/// What a request is, for error messages and for choosing the remedy.
pub(crate) struct Exchange<'a> {
    /// E.g. "Service account token exchange failed".
    pub(crate) context: &'static str,
    /// Which credential.
    pub(crate) origin: &'a Origin,
    /// Values that were sent and must never be quoted back (assertion, refresh token, client
    /// secret).
    pub(crate) sent_secrets: &'a [&'a str],
}

impl Exchange<'_> {
    fn is_metadata(&self) -> bool {
        matches!(self.origin, Origin::Metadata(_))
    }

    /// An Unauthenticated error with this exchange's context.
    fn unauthenticated(&self, hint: &str, detail: impl fmt::Display) -> Error {
        Error::new(
            ErrorKind::Unauthenticated {
                hint: hint.to_string(),
            },
            format!("{} ({}): {detail}", self.context, self.origin),
        )
    }
}

/// Send `req` and turn the answer into a token or an error.
pub(crate) async fn request_token<T: Transport>(
    transport: &T,
    req: &HttpRequest,
    ex: &Exchange<'_>,
) -> Result<FetchedToken> {
    let resp = match transport.send(req, TOKEN_TIMEOUT_MS).await {
        Ok(resp) => resp,
        Err(err) => return Err(transport_failure(ex, &err)),
    };
    if !resp.is_success() {
        return Err(status_failure(ex, resp.status, &resp.body));
    }
    parse_token_response(&resp.body).map_err(|why| {
        // Never quote a 2xx body: it is where the token would be.
        ex.unauthenticated(
            hints::TOKEN_REFRESH_FAILED,
            format!("malformed token response ({why})"),
        )
    })
}

/// No answer at all.
fn transport_failure(ex: &Exchange<'_>, err: &TransportError) -> Error {
    if ex.is_metadata() {
        // No metadata server is the normal state of a laptop without credentials, so this
        // is the "nothing worked" error. A timeout usually means the same thing (the name
        // resolves nowhere), hence the same remedy rather than a retryable Timeout.
        return ex.unauthenticated(hints::NO_CREDENTIALS, err);
    }
    match err {
        TransportError::Timeout => Error::timeout(format!(
            "{} ({}): token endpoint timed out after {TOKEN_TIMEOUT_MS}ms — check GOOGLE_APPLICATION_CREDENTIALS, gcloud ADC, or attached service account",
            ex.context, ex.origin
        )),
        TransportError::Unreachable(_)
        | TransportError::Tls(_)
        | TransportError::Connection(_)
        | TransportError::BodyCut { .. } => {
            ex.unauthenticated(hints::TOKEN_REFRESH_FAILED, err).retryable(true)
        }
        TransportError::Denied(_) | TransportError::Invalid(_) => {
            ex.unauthenticated(hints::TOKEN_REFRESH_FAILED, err)
        }
    }
}

/// A non-2xx answer.
fn status_failure(ex: &Exchange<'_>, status: u16, body: &[u8]) -> Error {
    let preview = body_preview(body, ex.sent_secrets);
    let code = oauth_error_code(body);
    let mut detail = format!("HTTP {status}");
    if let Some(code) = &code {
        detail.push(' ');
        detail.push_str(code);
    }
    if !preview.is_empty() {
        let quoted = serde_json::to_string(&preview).unwrap_or_default();
        detail.push_str(&format!(" body={quoted}"));
    }
    if ex.is_metadata() {
        return ex.unauthenticated(hints::NO_CREDENTIALS, detail);
    }
    // `invalid_grant` (docs/hazards.md#gcloud-adc-errors-swallowed) means the grant itself is dead
    // (revoked refresh token, deleted key). Say so, whichever source it came from; retrying or
    // falling back would only hide it behind a vaguer message.
    if String::from_utf8_lossy(body).contains("invalid_grant") {
        return ex.unauthenticated(hints::SESSION_EXPIRED, detail);
    }
    let transient = status == 429 || status >= 500;
    ex.unauthenticated(hints::TOKEN_REFRESH_FAILED, detail)
        .retryable(transient)
}

/// The OAuth `error` code of an error body, when it is a short identifier.
fn oauth_error_code(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let code = v.get("error")?.as_str()?;
    let plain = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit());
    plain.then(|| code.to_string())
}

/// Read `{"access_token","expires_in",…}`. The reason for a failure never includes a value.
pub(crate) fn parse_token_response(body: &[u8]) -> std::result::Result<FetchedToken, String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "not JSON".to_string())?;
    let token = v
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or("no access_token")?;
    // The token goes into an Authorization header verbatim; refuse anything that would
    // break or smuggle a header.
    if token.is_empty() || !token.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err("access_token is empty or not printable ASCII".into());
    }
    let lifetime_s = match v.get("expires_in") {
        None | Some(Value::Null) => DEFAULT_LIFETIME_S,
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .ok_or("expires_in is negative")?,
        Some(Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .map_err(|_| "expires_in is not a number")?,
        Some(_) => return Err("expires_in is not a number".into()),
    };
    Ok(FetchedToken {
        token: Secret::new(token),
        lifetime_ms: lifetime_s.saturating_mul(1000),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_google_token_answer() {
        let t = parse_token_response(
            br#"{"access_token":"ya29.abc","expires_in":3599,"token_type":"Bearer"}"#,
        )
        .unwrap();
        assert_eq!(t.token.expose(), "ya29.abc");
        assert_eq!(t.lifetime_ms, 3_599_000);
    }

    #[test]
    fn expires_in_may_be_a_string_or_missing() {
        let t = parse_token_response(br#"{"access_token":"a","expires_in":"60"}"#).unwrap();
        assert_eq!(t.lifetime_ms, 60_000);
        let t = parse_token_response(br#"{"access_token":"a"}"#).unwrap();
        assert_eq!(t.lifetime_ms, 3_600_000);
    }

    #[test]
    fn malformed_answers_are_refused_without_quoting_them() {
        let err = parse_token_response(br#"{"access_token":"bad\r\ntoken"}"#).unwrap_err();
        assert!(!err.contains("bad"), "{err}");
        assert!(parse_token_response(b"<html>").is_err());
        assert!(parse_token_response(br#"{"token":"x"}"#).is_err());
    }

    #[test]
    fn oauth_error_code_only_for_identifiers() {
        assert_eq!(
            oauth_error_code(br#"{"error":"invalid_grant"}"#).as_deref(),
            Some("invalid_grant")
        );
        assert_eq!(oauth_error_code(br#"{"error":{"code":400}}"#), None);
        assert_eq!(oauth_error_code(br#"{"error":"Has Spaces"}"#), None);
    }
}
