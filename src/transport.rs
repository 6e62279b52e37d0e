//! The I/O seam: requests and responses as plain values, and the two traits that move them
//! (`Transport`) and measure time (`Clock`).
//!
//! Everything above this module builds `HttpRequest` values and interprets `HttpResponse`
//! values, so it can be unit-tested natively with a scripted transport and a fake clock.
//! The only implementation that touches WASI lives in `wasi_platform.rs`.

use std::future::Future;

/// HTTP methods the GCS JSON API needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
}

impl Method {
    #[cfg(test)]
    /// The method name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// A fully built request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL (scheme, authority, path and query, already encoded).
    pub url: String,
    /// Headers (names lowercase).
    pub headers: Vec<(String, String)>,
    /// Body bytes (empty for none).
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A request without headers or body.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        HttpRequest {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Add a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Set the body.
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    #[cfg(test)]
    /// The first value of a header.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// A response with its whole body read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers (names lowercase).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Why a request produced no complete response. Each case says what the server saw, so
/// callers can tell "nothing answered" from "the answer broke off" without reading words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// No response within the request deadline.
    Timeout,
    /// The host refused the destination (not on the allow-list); nothing was sent.
    Denied(String),
    /// Nothing answered: the connection was refused, the name did not resolve, or the
    /// destination was unreachable. The server never saw the request.
    Unreachable(String),
    /// The TLS handshake or the certificate check failed; nothing was sent.
    Tls(String),
    /// The connection broke before an answer arrived (reset, closed). The server may or
    /// may not have acted on the request.
    Connection(String),
    /// The server answered `status`, then the body broke off after `received` bytes. The
    /// server acted on the request.
    BodyCut {
        /// The status of the answer.
        status: u16,
        /// Body bytes that arrived before the break.
        received: usize,
        /// What the transport said, one line.
        detail: String,
    },
    /// The request could not even be built (bad URL, bad header).
    Invalid(String),
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::Timeout => f.write_str("timed out"),
            TransportError::Denied(m) => write!(
                f,
                "refused by the sandbox ({m}): the host only allows the configured endpoint"
            ),
            TransportError::Unreachable(m) => write!(f, "nothing answered: {m}"),
            TransportError::Tls(m) => write!(f, "TLS failure: {m}"),
            TransportError::Connection(m) => write!(f, "connection failed: {m}"),
            TransportError::BodyCut {
                status,
                received,
                detail,
            } => write!(
                f,
                "the HTTP {status} answer broke off after {received} body bytes: {detail}"
            ),
            TransportError::Invalid(m) => write!(f, "invalid request: {m}"),
        }
    }
}

/// Sends requests. Implementations must read the whole body (so connections can be reused)
/// and must give up after `timeout_ms` with `TransportError::Timeout`.
pub trait Transport {
    /// Send one request and return the complete response.
    fn send(
        &self,
        req: &HttpRequest,
        timeout_ms: u64,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>>;
}

/// Time and randomness, injected so that backoff and deadlines are testable.
pub trait Clock {
    /// Monotonic milliseconds since an arbitrary origin.
    fn now_ms(&self) -> u64;
    /// Wall-clock milliseconds since the Unix epoch.
    fn unix_ms(&self) -> i64;
    /// Wait `ms` milliseconds without blocking other in-flight work.
    fn sleep(&self, ms: u64) -> impl Future<Output = ()>;
    /// A random number (for jitter and nonces; not for keys).
    fn random_u64(&self) -> u64;
}
