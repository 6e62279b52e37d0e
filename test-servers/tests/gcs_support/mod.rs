//! Shared helpers for the GCS fake's HTTP tests: a one-request-per-connection HTTP/1.1
//! client and a few request shortcuts.
#![allow(dead_code)] // each test binary uses a different subset

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use md5::Digest as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;
use test_servers::gcs::FakeGcs;
use tokio::net::TcpStream;

pub const BUCKET: &str = "bkt";
pub const KIB256: usize = 256 * 1024;

const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a path segment or query value (`/` becomes `%2F`).
pub fn enc(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

pub async fn start() -> FakeGcs {
    let gcs = FakeGcs::start().await.expect("fake starts");
    gcs.create_bucket(BUCKET);
    gcs
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {:?}",
                self.status, self.body
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `error.errors[0].reason` of an error envelope.
    pub fn reason(&self) -> String {
        self.json()["error"]["errors"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

pub async fn send(
    gcs: &FakeGcs,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Resp {
    let stream = TcpStream::connect(("127.0.0.1", gcs.port()))
        .await
        .expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut builder = Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("host", format!("127.0.0.1:{}", gcs.port()));
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let request = builder.body(Full::new(body.into())).expect("request");
    let response = sender.send_request(request).await.expect("response");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Resp {
        status,
        headers,
        body,
    }
}

pub async fn get(gcs: &FakeGcs, path_and_query: &str) -> Resp {
    send(gcs, "GET", path_and_query, &[], Bytes::new()).await
}

pub fn object_path(name: &str) -> String {
    format!("/storage/v1/b/{BUCKET}/o/{}", enc(name))
}

/// `uploadType=media` with extra query parameters (e.g. `&ifGenerationMatch=0`).
pub async fn upload(gcs: &FakeGcs, name: &str, data: &[u8], extra_query: &str) -> Resp {
    let path = format!(
        "/upload/storage/v1/b/{BUCKET}/o?uploadType=media&name={}{extra_query}",
        enc(name)
    );
    send(
        gcs,
        "POST",
        &path,
        &[("content-type", "text/plain")],
        data.to_vec(),
    )
    .await
}

/// A `multipart/related` body with the given JSON resource and media.
pub fn multipart_body(resource: &Value, media: &[u8]) -> (String, Vec<u8>) {
    let boundary = "==boundary==";
    let mut body = format!(
        "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{resource}\r\n\
         --{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(media);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/related; boundary=\"{boundary}\""), body)
}

pub async fn upload_multipart(gcs: &FakeGcs, resource: &Value, media: &[u8], query: &str) -> Resp {
    let (content_type, body) = multipart_body(resource, media);
    let path = format!("/upload/storage/v1/b/{BUCKET}/o?uploadType=multipart{query}");
    send(gcs, "POST", &path, &[("content-type", &content_type)], body).await
}

pub fn crc32c_b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(crc32c::crc32c(data).to_be_bytes())
}

pub fn md5_b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(data))
}

/// The `generation` field of an object resource, parsed from its JSON string form.
pub fn generation(resource: &Value) -> i64 {
    resource["generation"]
        .as_str()
        .and_then(|g| g.parse().ok())
        .unwrap_or_else(|| panic!("no string generation in {resource}"))
}

/// Deterministic, non-repeating test data.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}
