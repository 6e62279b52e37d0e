//! The one error type of the crate: a kind, whether a retry may help, and what GCS said.
//!
//! Every failure is built here so that messages stay one line, never carry a token, and map
//! onto the closed WIT `error` variant in exactly one place (`component.rs`).

use std::fmt;

/// What went wrong, in the terms the caller can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// HTTP 404, or a missing local file where one was required.
    NotFound(Missing),
    /// HTTP 412 `conditionNotMet` or 304.
    PreconditionFailed,
    /// HTTP 401 or a credential/token failure; carries the remedy.
    Unauthenticated { hint: String },
    /// HTTP 403; carries the remedy.
    PermissionDenied { hint: String },
    /// HTTP 429 (after retries).
    RateLimited,
    /// A request or call deadline ran out.
    Timeout,
    /// A config field broke a rule.
    InvalidConfig { field: String, rule: String },
    /// Downloaded bytes failed their checksum.
    Integrity,
    /// A path would leave the cache.
    UnsafePath,
    /// Any other HTTP error answer.
    Remote,
    /// Local filesystem failure.
    Io,
    /// A lock stayed held by another holder for the whole wait.
    LockTimeout {
        lock_key: String,
        holder: Option<String>,
        waited_ms: u64,
    },
    /// No complete answer arrived; the kind says how far the exchange got.
    Transport {
        /// What failed on the wire.
        kind: TransportKind,
        /// The status of the answer whose body broke off, when one arrived.
        status: Option<u16>,
    },
    /// The bucket uses an index layout this client does not sync (shard-first, v2).
    UnsupportedLayout,
    /// A sync file in the bucket (index, partition, meta) is not in its format.
    MalformedRemote {
        /// Its object key (relative to the configured prefix).
        key: String,
    },
    /// A sync service bound to one namespace was called with another.
    NamespaceMismatch {
        /// The namespace bound by the first call (`None` = solo).
        bound: Option<String>,
        /// The namespace asked for now.
        requested: Option<String>,
    },
    /// A namespace slug is registered by another repository.
    NamespaceTaken {
        /// The slug asked for.
        namespace: String,
        /// The repository id its manifest names.
        owner: String,
    },
    /// Malformed answers, invalid requests, everything else.
    Other,
}

impl PartialEq<ErrorKind> for &ErrorKind {
    fn eq(&self, other: &ErrorKind) -> bool {
        **self == *other
    }
}

/// What a not-found error says is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// The bucket itself (a bucket GET or a listing answered 404).
    Bucket,
    /// One object, by the key the request named.
    Object(String),
    /// A file in the cache, by its cache-relative path.
    CacheFile(String),
}

/// How a request failed on the wire: the part of a transport failure a caller (and the
/// user's hint) can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// Nothing answered (refused, unresolved name, unreachable); nothing was sent.
    Unreachable,
    /// The TLS handshake or certificate check failed; nothing was sent.
    Tls,
    /// The connection broke before an answer arrived; the server may have acted.
    ConnectionLost,
    /// The server answered, then the body broke off; the server acted.
    BodyCutShort,
    /// The host refused the destination; nothing was sent.
    Denied,
}

/// Details of a GCS error answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcsDetail {
    /// HTTP status.
    pub status: u16,
    /// `error.errors[0].reason` (or `error.code`) from the envelope.
    pub reason: Option<String>,
    /// First 256 bytes of the body, lossily decoded, with a length note when cut.
    pub body_preview: Option<String>,
    /// `X-GUploader-UploadID`.
    pub upload_id: Option<String>,
}

/// The crate's error: built by the constructors below, read through the accessors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    /// Whether repeating the same request may succeed.
    retryable: bool,
    /// What the caller was doing, outermost first (`["push", "push data/a.json"]`).
    context: Vec<String>,
    /// The cause, one line: operation, object and what failed.
    cause: String,
    /// What GCS answered, when it answered (boxed: errors travel through every `Result`).
    gcs: Option<Box<GcsDetail>>,
}

/// Crate result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a message; not retryable.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            retryable: false,
            context: Vec::new(),
            cause: one_line(message.into()),
            gcs: None,
        }
    }

    /// Mark whether a retry may help.
    pub fn retryable(mut self, yes: bool) -> Self {
        self.retryable = yes;
        self
    }

    /// Attach GCS details.
    pub fn with_gcs(mut self, detail: GcsDetail) -> Self {
        self.gcs = Some(Box::new(detail));
        self
    }

    /// Say what we were doing (`"push data/a.json"`); shown before the cause.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.context.insert(0, one_line(what.to_string()));
        self
    }

    /// The same failure as another kind (a 429 that outlived every retry is rate limiting,
    /// whatever the last attempt was classified as).
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// Add a note after the cause (`" (after 5 attempts)"`).
    pub fn noted(mut self, note: impl fmt::Display) -> Self {
        self.cause = one_line(format!("{} ({note})", self.cause));
        self
    }

    /// The same failure (kind, retryability, GCS detail) told in other words, with no
    /// context: a batch error speaks for all its failures.
    pub fn reworded(mut self, message: impl Into<String>) -> Self {
        self.context.clear();
        self.cause = one_line(message.into());
        self
    }

    /// An invalid-config error naming the field and the rule.
    pub fn config(field: &str, rule: impl Into<String>) -> Self {
        let rule = rule.into();
        Error::new(
            ErrorKind::InvalidConfig {
                field: field.to_string(),
                rule: rule.clone(),
            },
            format!("invalid config field `{field}`: {rule}"),
        )
    }

    /// A local I/O error on the cache-relative `path`.
    pub fn io(op: &str, path: &str, err: &std::io::Error) -> Self {
        let kind = if err.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::NotFound(Missing::CacheFile(path.to_string()))
        } else {
            ErrorKind::Io
        };
        Error::new(kind, format!("{op} {path}: {err}"))
    }

    /// A path that would leave the cache.
    pub fn unsafe_path(path: &str, why: &str) -> Self {
        Error::new(
            ErrorKind::UnsafePath,
            format!("refusing path {path:?}: {why}"),
        )
    }

    /// A timeout.
    pub fn timeout(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Timeout, message).retryable(true)
    }

    /// Anything else.
    pub fn other(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Other, message)
    }

    /// The kind.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Whether repeating the same request may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// What GCS answered, when it answered.
    pub fn gcs(&self) -> Option<&GcsDetail> {
        self.gcs.as_deref()
    }

    /// The whole message, one line: the context, outermost first, then the cause.
    pub fn message(&self) -> String {
        let mut out = String::new();
        for c in &self.context {
            out.push_str(c);
            out.push_str(": ");
        }
        out.push_str(&self.cause);
        out
    }

    /// True for 404 (of anything).
    pub fn is_not_found(&self) -> bool {
        matches!(self.kind, ErrorKind::NotFound(_))
    }

    /// True for 412/304.
    pub fn is_precondition_failed(&self) -> bool {
        self.kind == ErrorKind::PreconditionFailed
    }

    /// True when the server answered a write with success but its body broke off: the
    /// write happened, only its reply was lost.
    pub fn is_committed_reply_lost(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Transport {
                kind: TransportKind::BodyCutShort,
                status: Some(200..=299)
            }
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.context {
            write!(f, "{c}: ")?;
        }
        f.write_str(&self.cause)
    }
}

impl std::error::Error for Error {}

/// Errors are shown on one line; fold any newline a cause carried.
fn one_line(s: String) -> String {
    if s.contains(['\n', '\r']) {
        s.split(['\n', '\r'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_stay_on_one_line() {
        let e = Error::other("first\nsecond\r\n third").context("push a.json");
        assert_eq!(e.message(), "push a.json: first second third");
        assert_eq!(e.to_string(), e.message());
        let e = e.context("push");
        assert_eq!(e.message(), "push: push a.json: first second third");
    }

    #[test]
    fn config_error_names_field_and_rule() {
        let e = Error::config("bucket", "must be 3-63 characters");
        assert!(e.message().contains("`bucket`"));
        assert_eq!(
            *e.kind(),
            ErrorKind::InvalidConfig {
                field: "bucket".into(),
                rule: "must be 3-63 characters".into()
            }
        );
    }
}
