//! The host's HTTP send path for guest requests: the allow-list, the pooled client and
//! request accounting, all in `WasiHttpHooks::send_request`. With the test-only feature
//! `faults`, a fault plan decides per request and `crate::faults` applies the fault; without
//! it there is no fault hook here at all.

#[cfg(feature = "faults")]
use crate::faults::{self, FaultPlan};
use crate::traffic::{object_of, RequestKind, Traffic};
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

pub(crate) type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
/// What the send path hands the guest: the answer, or the wasi:http error code.
pub(crate) type Sent = Result<(http::Response<WasiBody>, IoFuture), HttpError>;
type SendFuture = Box<dyn Future<Output = Sent> + Send>;

/// The pooled client every store shares: connections are reused across requests and
/// stores, which matters most against real GCS over TLS
/// (`docs/wasm-host.md#connection-pooling`).
pub type Pool = Client<hyper_rustls::HttpsConnector<HttpConnector>, WasiBody>;

/// Build the pool.
pub fn new_pool() -> Pool {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1024)
        .pool_idle_timeout(Duration::from_secs(30))
        .build(https)
}

/// Where the guest may connect: `host:port` authorities, exact match.
#[derive(Debug, Clone, Default)]
pub struct AllowList(BTreeSet<String>);

impl AllowList {
    /// An allow-list of authorities (`host:port`; the default port is added for URLs).
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Self {
        AllowList(items.into_iter().map(Into::into).collect())
    }

    /// Allow the authority of a URL (`http://h:p/...`).
    pub fn allow_url(&mut self, url: &str) {
        if let Some(a) = authority_of_url(url) {
            self.0.insert(a);
        }
    }

    /// Allow an authority.
    pub fn allow(&mut self, authority: &str) {
        self.0.insert(authority.to_string());
    }

    /// Is this `host:port` allowed?
    pub fn allows(&self, authority: &str) -> bool {
        self.0.contains(authority)
    }

    /// The entries.
    pub fn entries(&self) -> Vec<String> {
        self.0.iter().cloned().collect()
    }
}

/// `host:port` of a URL, with the scheme's default port filled in.
pub fn authority_of_url(url: &str) -> Option<String> {
    let (default_port, rest) = if let Some(r) = url.strip_prefix("https://") {
        (443, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (80, r)
    } else {
        return None;
    };
    let auth = rest.split(['/', '?']).next()?;
    if auth.is_empty() {
        return None;
    }
    Some(with_port(auth, default_port))
}

fn with_port(authority: &str, default_port: u16) -> String {
    let has_port = match authority.rfind(':') {
        Some(i) => {
            !authority.ends_with(']') && authority[i + 1..].chars().all(|c| c.is_ascii_digit())
        }
        None => false,
    };
    if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{default_port}")
    }
}

/// Per-store hooks; the shared parts sit behind `Arc`s.
pub struct Hooks {
    /// Allowed authorities.
    pub allow: Arc<AllowList>,
    /// Connection pool.
    pub pool: Pool,
    /// Counters.
    pub traffic: Arc<Traffic>,
    /// Faults (feature `faults`).
    #[cfg(feature = "faults")]
    pub faults: Arc<FaultPlan>,
    /// Upper bound on waiting for a response head when the guest gives no timeout.
    pub default_timeout: Duration,
}

pub(crate) fn done() -> IoFuture {
    Box::new(async { Ok(()) })
}

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> SendFuture {
        let scheme_port = if request.uri().scheme_str() == Some("https") {
            443
        } else {
            80
        };
        let authority = request
            .uri()
            .authority()
            .map(|a| with_port(a.as_str(), scheme_port))
            .unwrap_or_default();
        if !self.allow.allows(&authority) {
            // Refused before any connection is opened.
            self.traffic.denied();
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        let method = request.method().as_str().to_string();
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or("").to_string();
        let kind = RequestKind::classify(&method, &path, &query);
        let object = object_of(&path, &query);
        let authorized = request.headers().contains_key(http::header::AUTHORIZATION);
        let index = self
            .traffic
            .record(&method, kind, object.clone(), authorized);
        if let Some(len) = request
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
        {
            self.traffic.add_sent(len);
        }
        #[cfg(feature = "faults")]
        let fault = self.faults.decide(&method, kind, &object);
        let pool = self.pool.clone();
        let traffic = self.traffic.clone();
        let head_timeout = options
            .and_then(|o| o.first_byte_timeout)
            .unwrap_or(self.default_timeout);
        Box::new(async move {
            let result = forward(
                pool,
                request,
                #[cfg(feature = "faults")]
                fault,
                head_timeout,
                traffic.clone(),
            )
            .await;
            match &result {
                Ok((resp, _)) => traffic.set_status(index, resp.status().as_u16()),
                Err(_) => traffic.set_status(index, 0),
            }
            result
        })
    }
}

async fn forward(
    pool: Pool,
    request: http::Request<WasiBody>,
    #[cfg(feature = "faults")] fault: Option<faults::FaultAction>,
    head_timeout: Duration,
    traffic: Arc<Traffic>,
) -> Sent {
    #[cfg(feature = "faults")]
    if let Some(answer) = faults::before_send(fault.as_ref()).await {
        return answer;
    }
    let response = match tokio::time::timeout(head_timeout, pool.request(request)).await {
        Err(_) => return Err(HttpError::ConnectionReadTimeout),
        Ok(Err(e)) => return Err(map_client_error(&e)),
        Ok(Ok(r)) => r,
    };
    let (parts, body) = response.into_parts();
    #[cfg(feature = "faults")]
    if let Some(fault) = fault {
        return faults::on_answer(fault, parts, body, traffic).await;
    }
    Ok(pass_on(parts, body, traffic))
}

/// The server's answer as it is, its body bytes counted as they reach the guest.
pub(crate) fn pass_on(
    parts: http::response::Parts,
    body: hyper::body::Incoming,
    traffic: Arc<Traffic>,
) -> (http::Response<WasiBody>, IoFuture) {
    let counted = body
        .map_frame(move |f| {
            if let Some(d) = f.data_ref() {
                traffic.add_received(d.len() as u64);
            }
            f
        })
        .map_err(|e| HttpError::InternalError(Some(e.to_string())))
        .boxed_unsync();
    (http::Response::from_parts(parts, counted), done())
}

/// A failure before any answer, as the typed wasi:http error code it is, so the guest can
/// tell "nothing answered" (refused, unresolved, unreachable) from a TLS failure and from
/// a connection that broke after connecting.
fn map_client_error(e: &hyper_util::client::legacy::Error) -> HttpError {
    use std::error::Error as _;
    let mut next = e.source();
    while let Some(s) = next {
        if let Some(tls) = s.downcast_ref::<rustls::Error>() {
            return match tls {
                rustls::Error::InvalidCertificate(_) => HttpError::TlsCertificateError,
                rustls::Error::AlertReceived(alert) => HttpError::TlsAlertReceived {
                    alert_id: Some(u8::from(*alert)),
                    alert_message: Some(format!("{alert:?}")),
                },
                _ => HttpError::TlsProtocolError,
            };
        }
        let io = s.downcast_ref::<std::io::Error>();
        if io.is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused) {
            return HttpError::ConnectionRefused;
        }
        // An io::Error's `source` skips the error it wraps (rustls errors travel inside
        // one, sometimes two): step into the wrapped error itself.
        next = match io.and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => s.source(),
        };
    }
    if e.is_connect() {
        // Not refused and not TLS: the name did not resolve or the route is missing.
        return HttpError::DestinationUnavailable;
    }
    HttpError::InternalError(Some(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_get_default_ports() {
        assert_eq!(
            authority_of_url("https://storage.googleapis.com/x").as_deref(),
            Some("storage.googleapis.com:443")
        );
        assert_eq!(
            authority_of_url("http://127.0.0.1:4443").as_deref(),
            Some("127.0.0.1:4443")
        );
        assert_eq!(
            authority_of_url("http://metadata.google.internal/a").as_deref(),
            Some("metadata.google.internal:80")
        );
        assert_eq!(authority_of_url("ftp://x"), None);
        let allow = AllowList::new(["127.0.0.1:4443"]);
        assert!(allow.allows("127.0.0.1:4443"));
        assert!(!allow.allows("localhost:4443"));
        assert!(!allow.allows("127.0.0.1:1"));
    }
}
