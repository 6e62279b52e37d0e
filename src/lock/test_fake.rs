//! Test-only: a tiny in-memory GCS that understands the four requests the lock sends
//! (multipart upload, metadata GET, media GET, DELETE) with generations and
//! `ifGenerationMatch`, plus a clock whose sleeps advance time instantly and a script of
//! faults for lost replies.

use crate::config::{Config, ConfigEnv};
use crate::gcs::checksum::{crc32c_b64, md5_b64};
use crate::gcs::{GcsClient, NoAuth};
use crate::sync::timefmt::format_iso_ms;
use crate::transport::{Clock, HttpRequest, HttpResponse, Method, Transport, TransportError};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::rc::Rc;

/// Unix time at fake monotonic 0: 2026-08-01T10:00:00.000Z.
const EPOCH_UNIX_MS: i64 = 1_785_578_400_000;
const ENDPOINT: &str = "http://127.0.0.1:9";

/// What happens to the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The connection breaks before the server sees the request.
    Drop,
    /// The server carries the request out, then the reply is lost.
    CommitThenDrop,
}

struct Object {
    data: Vec<u8>,
    generation: u64,
    updated_unix_ms: i64,
}

/// The fake server and clock.
pub struct FakeGcs {
    objects: RefCell<BTreeMap<String, Object>>,
    last_generation: Cell<u64>,
    now: Cell<u64>,
    rng: Cell<u64>,
    faults: RefCell<VecDeque<Fault>>,
    requests: RefCell<Vec<(Method, String)>>,
    /// Sleeps requested, in order.
    pub sleeps: RefCell<Vec<u64>>,
    /// Answer deletes with 204 but keep the object (a lock that never goes away).
    pub ignore_deletes: Cell<bool>,
}

/// Drive a future that never pends (every fake answer is immediate).
pub fn run<F: Future>(f: F) -> F::Output {
    futures_util::FutureExt::now_or_never(f).expect("the fake never pends")
}

impl FakeGcs {
    /// An empty bucket `bkt` at fake time 0.
    pub fn new() -> Rc<Self> {
        Rc::new(FakeGcs {
            objects: RefCell::new(BTreeMap::new()),
            last_generation: Cell::new(0),
            now: Cell::new(0),
            rng: Cell::new(0x9e37_79b9_7f4a_7c15),
            faults: RefCell::new(VecDeque::new()),
            requests: RefCell::new(Vec::new()),
            sleeps: RefCell::new(Vec::new()),
            ignore_deletes: Cell::new(false),
        })
    }

    /// A client on this fake; `extra` is appended to the config JSON object.
    pub fn client(self: &Rc<Self>, extra: &str) -> Rc<GcsClient<FakeGcs, NoAuth>> {
        let json = format!(
            r#"{{"bucket":"bkt","apiEndpoint":"{ENDPOINT}","retryInitialDelayMs":10{extra}}}"#
        );
        let cfg = Config::parse(&json, &ConfigEnv::default()).expect("test config");
        Rc::new(GcsClient::new(cfg, self.clone(), NoAuth))
    }

    /// Store an object as another client would, `updated` being now plus `offset_ms`.
    pub fn put(&self, key: &str, data: &[u8], offset_ms: i64) {
        let generation = self.next_generation();
        let updated_unix_ms = self.unix_ms() + offset_ms;
        self.objects.borrow_mut().insert(
            key.to_string(),
            Object {
                data: data.to_vec(),
                generation,
                updated_unix_ms,
            },
        );
    }

    /// The stored bytes of `key`.
    pub fn data(&self, key: &str) -> Option<Vec<u8>> {
        self.objects.borrow().get(key).map(|o| o.data.clone())
    }

    /// The generation of `key`.
    pub fn generation(&self, key: &str) -> Option<u64> {
        self.objects.borrow().get(key).map(|o| o.generation)
    }

    /// Let `ms` milliseconds pass.
    pub fn advance(&self, ms: u64) {
        self.now.set(self.now.get() + ms);
    }

    /// Fake monotonic time in milliseconds.
    pub fn now(&self) -> u64 {
        self.now.get()
    }

    /// Faults for the next requests, in order.
    pub fn script(&self, faults: &[Fault]) {
        self.faults.borrow_mut().extend(faults);
    }

    /// Requests received so far.
    pub fn request_count(&self) -> usize {
        self.requests.borrow().len()
    }

    /// Upload requests received (whatever their outcome).
    pub fn uploads(&self) -> usize {
        self.requests
            .borrow()
            .iter()
            .filter(|(m, _)| *m == Method::Post)
            .count()
    }

    fn next_generation(&self) -> u64 {
        self.last_generation.set(self.last_generation.get() + 1);
        self.last_generation.get()
    }

    fn handle(&self, req: &HttpRequest) -> HttpResponse {
        let rest = req.url.strip_prefix(ENDPOINT).unwrap_or("");
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let param = |name: &str| {
            query
                .split('&')
                .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
                .map(decode)
        };
        let expected = param("ifGenerationMatch").and_then(|g| g.parse::<u64>().ok());
        if req.method == Method::Post && path == "/upload/storage/v1/b/bkt/o" {
            let Some((name, data)) = multipart(req) else {
                return reply(400, b"bad multipart".to_vec());
            };
            if !self.matches(&name, expected) {
                return precondition_failed();
            }
            self.put(&name, &data, 0);
            return reply(200, self.meta_json(&name));
        }
        let Some(name) = path.strip_prefix("/storage/v1/b/bkt/o/").map(decode) else {
            return reply(400, b"unknown path".to_vec());
        };
        let found = self
            .objects
            .borrow()
            .get(&name)
            .map(|o| (o.data.clone(), o.generation));
        match (req.method, found) {
            (_, None) => reply(
                404,
                br#"{"error":{"code":404,"errors":[{"reason":"notFound"}]}}"#.to_vec(),
            ),
            (Method::Get, Some((data, generation))) if param("alt").as_deref() == Some("media") => {
                let mut resp = reply(200, data.clone());
                resp.headers = vec![
                    ("x-goog-generation".into(), generation.to_string()),
                    (
                        "x-goog-hash".into(),
                        format!("crc32c={},md5={}", crc32c_b64(&data), md5_b64(&data)),
                    ),
                ];
                resp
            }
            (Method::Get, Some(_)) => reply(200, self.meta_json(&name)),
            (Method::Delete, Some(_)) if !self.matches(&name, expected) => precondition_failed(),
            (Method::Delete, Some(_)) => {
                if !self.ignore_deletes.get() {
                    self.objects.borrow_mut().remove(&name);
                }
                reply(204, Vec::new())
            }
            _ => reply(405, Vec::new()),
        }
    }

    /// `ifGenerationMatch`: absent always matches, 0 means "must not exist".
    fn matches(&self, name: &str, expected: Option<u64>) -> bool {
        let current = self.objects.borrow().get(name).map_or(0, |o| o.generation);
        expected.is_none_or(|g| g == current)
    }

    fn meta_json(&self, name: &str) -> Vec<u8> {
        let objects = self.objects.borrow();
        let Some(o) = objects.get(name) else {
            return Vec::new();
        };
        serde_json::json!({
            "name": name,
            "size": o.data.len().to_string(),
            "generation": o.generation.to_string(),
            "metageneration": "1",
            "updated": format_iso_ms(o.updated_unix_ms).unwrap_or_default(),
            "crc32c": crc32c_b64(&o.data),
            "md5Hash": md5_b64(&o.data),
        })
        .to_string()
        .into_bytes()
    }
}

fn reply(status: u16, body: Vec<u8>) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body,
    }
}

fn precondition_failed() -> HttpResponse {
    reply(
        412,
        br#"{"error":{"code":412,"errors":[{"reason":"conditionNotMet"}]}}"#.to_vec(),
    )
}

/// Object name and media of a `multipart/related` upload as `request.rs` builds it.
fn multipart(req: &HttpRequest) -> Option<(String, Vec<u8>)> {
    let boundary = req
        .header_value("content-type")?
        .split_once("boundary=")?
        .1
        .to_string();
    let body = String::from_utf8(req.body.clone()).ok()?;
    let delimiter = format!("--{boundary}");
    let mut parts = body.split(&delimiter).skip(1);
    let content = |part: &str| {
        part.split_once("\r\n\r\n")
            .map(|(_, c)| c.strip_suffix("\r\n").unwrap_or(c).to_string())
    };
    let resource: serde_json::Value = serde_json::from_str(&content(parts.next()?)?).ok()?;
    let media = content(parts.next()?)?;
    Some((
        resource.get("name")?.as_str()?.to_string(),
        media.into_bytes(),
    ))
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Transport for FakeGcs {
    async fn send(
        &self,
        req: &HttpRequest,
        _timeout_ms: u64,
    ) -> Result<HttpResponse, TransportError> {
        self.requests
            .borrow_mut()
            .push((req.method, req.url.clone()));
        let fault = self.faults.borrow_mut().pop_front();
        if fault == Some(Fault::Drop) {
            return Err(TransportError::Connection("dropped".into()));
        }
        let resp = self.handle(req);
        match fault {
            Some(Fault::CommitThenDrop) => Err(TransportError::Connection("reply lost".into())),
            _ => Ok(resp),
        }
    }
}

impl Clock for FakeGcs {
    fn now_ms(&self) -> u64 {
        self.now.get()
    }

    fn unix_ms(&self) -> i64 {
        EPOCH_UNIX_MS + self.now.get() as i64
    }

    async fn sleep(&self, ms: u64) {
        self.sleeps.borrow_mut().push(ms);
        self.advance(ms);
    }

    fn random_u64(&self) -> u64 {
        // xorshift64: deterministic, and good enough for jitter and nonces in tests.
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        x
    }
}
