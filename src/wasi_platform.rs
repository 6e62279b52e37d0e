//! The only code that speaks wasi:http, wasi:clocks and wasi:random: the `Transport` and
//! `Clock` implementations the component runs with.
//!
//! Requests are written by hand against the `wasip2` bindings (with wstd's reactor for waiting)
//! rather than through `wstd::http::Client`, because that client reports a host's refusal as
//! "connection reset" (`docs/wasm-host.md#body-write-errors-hide-the-real-error`): the real reason
//! sits on the response future, and we read it from there.

use crate::transport::{Clock, HttpRequest, HttpResponse, Method, Transport, TransportError};
use futures_util::future::{select, Either};
use std::pin::pin;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    http_error_code, ErrorCode, Fields, IncomingBody, Method as WasiMethod, OutgoingBody,
    OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::error::Error as IoError;
use wasip2::io::streams::StreamError;
use wstd::io::AsyncOutputStream;
use wstd::runtime::AsyncPollable;
use wstd::time::Duration;

/// Read responses in chunks this large; wasi streams hand back at most what we ask for.
const READ_CHUNK: usize = 256 * 1024;

/// Transport and clock of the real component.
#[derive(Debug, Default, Clone, Copy)]
pub struct WasiPlatform;

impl Transport for WasiPlatform {
    async fn send(
        &self,
        req: &HttpRequest,
        timeout_ms: u64,
    ) -> Result<HttpResponse, TransportError> {
        let exchange = pin!(exchange(req, timeout_ms));
        let timer = wstd::time::Timer::after(Duration::from_millis(timeout_ms));
        let timeout = pin!(timer.wait());
        // Dropping the losing exchange drops its wasi resources, which cancels the request
        // on the host side.
        match select(exchange, timeout).await {
            Either::Left((result, _)) => result,
            Either::Right(_) => Err(TransportError::Timeout),
        }
    }
}

impl Clock for WasiPlatform {
    fn now_ms(&self) -> u64 {
        wasip2::clocks::monotonic_clock::now() / 1_000_000
    }

    fn unix_ms(&self) -> i64 {
        let t = wasip2::clocks::wall_clock::now();
        t.seconds as i64 * 1000 + (t.nanoseconds / 1_000_000) as i64
    }

    async fn sleep(&self, ms: u64) {
        wstd::task::sleep(Duration::from_millis(ms)).await;
    }

    fn random_u64(&self) -> u64 {
        wasip2::random::random::get_random_u64()
    }
}

struct Target<'a> {
    scheme: Scheme,
    authority: &'a str,
    path_and_query: &'a str,
}

fn split_url(url: &str) -> Result<Target<'_>, TransportError> {
    let (scheme, rest) = if let Some(r) = url.strip_prefix("https://") {
        (Scheme::Https, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (Scheme::Http, r)
    } else {
        return Err(TransportError::Invalid(format!("unsupported URL {url:?}")));
    };
    let (authority, path_and_query) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(TransportError::Invalid(format!("no host in URL {url:?}")));
    }
    Ok(Target {
        scheme,
        authority,
        path_and_query,
    })
}

fn wasi_method(m: Method) -> WasiMethod {
    match m {
        Method::Get => WasiMethod::Get,
        Method::Post => WasiMethod::Post,
        Method::Put => WasiMethod::Put,
        Method::Delete => WasiMethod::Delete,
    }
}

/// A failure before any answer arrived, by what the host's error code says happened.
fn map_code(code: &ErrorCode) -> TransportError {
    match code {
        ErrorCode::HttpRequestDenied => {
            TransportError::Denied("destination not on the allow-list".into())
        }
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => TransportError::Timeout,
        ErrorCode::ConnectionRefused => TransportError::Unreachable("connection refused".into()),
        ErrorCode::DnsError(_) | ErrorCode::DnsTimeout | ErrorCode::DestinationNotFound => {
            TransportError::Unreachable("host name did not resolve".into())
        }
        ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpProhibited
        | ErrorCode::DestinationIpUnroutable => {
            TransportError::Unreachable("destination unreachable".into())
        }
        ErrorCode::TlsProtocolError
        | ErrorCode::TlsCertificateError
        | ErrorCode::TlsAlertReceived(_) => TransportError::Tls(describe(code)),
        ErrorCode::ConnectionTerminated => {
            TransportError::Connection("connection closed by the peer".into())
        }
        other => TransportError::Connection(describe(other)),
    }
}

/// One line about an error code. A host's free text may be long or span lines (a wasmtime
/// host with `RUST_BACKTRACE` set appends a backtrace); only its first line is kept.
fn describe(code: &ErrorCode) -> String {
    match code {
        ErrorCode::InternalError(Some(m)) => first_line(m),
        other => first_line(&format!("{other:?}")),
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no detail")
        .to_string()
}

/// A failure while reading the body of an answer with `status`: the server answered, so
/// this is never "nothing answered". The host's error code is read as a value; its debug
/// text (which may carry a host backtrace) is only a last resort, cut to one line.
fn body_error(status: u16, received: usize, err: &IoError) -> TransportError {
    match http_error_code(err) {
        Some(
            ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionTimeout
            | ErrorCode::HttpResponseTimeout,
        ) => TransportError::Timeout,
        Some(code) => TransportError::BodyCut {
            status,
            received,
            detail: describe(&code),
        },
        None => TransportError::BodyCut {
            status,
            received,
            detail: first_line(&err.to_debug_string()),
        },
    }
}

async fn exchange(req: &HttpRequest, timeout_ms: u64) -> Result<HttpResponse, TransportError> {
    let target = split_url(&req.url)?;
    let mut entries: Vec<(String, Vec<u8>)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect();
    let has_body = !req.body.is_empty() || matches!(req.method, Method::Post | Method::Put);
    if has_body {
        entries.push((
            "content-length".into(),
            req.body.len().to_string().into_bytes(),
        ));
    }
    let fields = Fields::from_list(&entries)
        .map_err(|e| TransportError::Invalid(format!("header rejected: {e:?}")))?;
    let outgoing = OutgoingRequest::new(fields);
    let set = |ok: Result<(), ()>, what: &str| {
        ok.map_err(|()| TransportError::Invalid(format!("bad {what}")))
    };
    set(outgoing.set_method(&wasi_method(req.method)), "method")?;
    set(outgoing.set_scheme(Some(&target.scheme)), "scheme")?;
    set(outgoing.set_authority(Some(target.authority)), "authority")?;
    set(
        outgoing.set_path_with_query(Some(target.path_and_query)),
        "path",
    )?;
    // A request without a body never takes its body stream: hosts send an empty body
    // then, and the stream's open, flush and finish would be host calls for nothing.
    let body = if has_body {
        Some(
            outgoing
                .body()
                .map_err(|()| TransportError::Invalid("request body unavailable".into()))?,
        )
    } else {
        None
    };

    let options = RequestOptions::new();
    // Also tell the host, so a stalled connection is torn down there, not only abandoned here.
    let _ = options.set_first_byte_timeout(Some(timeout_ms * 1_000_000));
    let _ = options.set_between_bytes_timeout(Some(timeout_ms * 1_000_000));
    let future = outgoing_handler::handle(outgoing, Some(options)).map_err(|e| map_code(&e))?;

    let write_result = match body {
        Some(body) => write_body(body, &req.body).await,
        None => Ok(()),
    };
    let pollable = AsyncPollable::new(future.subscribe());
    pollable.wait_for().await;
    let response = match future.get() {
        Some(Ok(Ok(resp))) => resp,
        Some(Ok(Err(code))) => return Err(map_code(&code)),
        Some(Err(())) | None => {
            return Err(TransportError::Connection("response already taken".into()))
        }
    };
    // A body write error with a response present means the server answered early (for
    // example an error before reading the upload); the answer is what matters.
    drop(write_result);

    let status = response.status();
    let headers: Vec<(String, String)> = response
        .headers()
        .entries()
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_ascii_lowercase(),
                String::from_utf8_lossy(&v).into_owned(),
            )
        })
        .collect();
    let incoming = response
        .consume()
        .map_err(|()| TransportError::Connection("response body unavailable".into()))?;
    let body = read_body(incoming, status).await?;
    drop(response);
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

async fn write_body(body: OutgoingBody, data: &[u8]) -> Result<(), TransportError> {
    {
        let stream = body
            .write()
            .map_err(|()| TransportError::Invalid("request body stream unavailable".into()))?;
        let out = AsyncOutputStream::new(stream);
        if !data.is_empty() {
            out.write_all(data).await.map_err(|e| {
                TransportError::Connection(format!("sending body: {}", first_line(&e.to_string())))
            })?;
        }
        out.flush().await.map_err(|e| {
            TransportError::Connection(format!("sending body: {}", first_line(&e.to_string())))
        })?;
        // The stream must be dropped before the body is finished.
    }
    OutgoingBody::finish(body, None).map_err(|e| map_code(&e))
}

/// Read the whole body straight from the wasi stream (not through wstd's reader, which
/// turns a stream error into its debug text and loses the error code).
async fn read_body(incoming: IncomingBody, status: u16) -> Result<Vec<u8>, TransportError> {
    let mut data = Vec::new();
    {
        let stream = incoming
            .stream()
            .map_err(|()| TransportError::Connection("response stream unavailable".into()))?;
        // Declared after the stream so it is dropped first: a pollable is its child.
        let ready = AsyncPollable::new(stream.subscribe());
        loop {
            match stream.read(READ_CHUNK as u64) {
                Ok(chunk) if chunk.is_empty() => ready.wait_for().await,
                Ok(chunk) => data.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(err)) => {
                    return Err(body_error(status, data.len(), &err))
                }
            }
        }
    }
    drop(IncomingBody::finish(incoming));
    Ok(data)
}
