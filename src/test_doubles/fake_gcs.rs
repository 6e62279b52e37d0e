//! Test-only: a small in-memory GCS behind the [`Transport`] and [`Clock`] seams.
//!
//! It understands what the lock and the sync service send — multipart upload, metadata
//! GET, media GET, DELETE and paginated listing — with generations and `ifGenerationMatch`
//! honoured on uploads and deletes (so two writers racing on the index really see a 412).
//! Sleeps advance a fake clock instantly. For tests it offers:
//! - a request log classified by [`Kind`], so tests can count requests per kind and key;
//! - scripted transport faults for lost replies ([`Fault`]);
//! - injected HTTP errors per key ([`FakeGcs::fail`]) and corrupted media bodies;
//! - one-shot hooks run when a given request arrives ([`FakeGcs::on_request`]), to play a
//!   concurrent writer at an exact moment;
//! - a "yield" mode where every request pends once, so futures really interleave and the
//!   number of requests in flight at once can be measured.

use super::YieldOnce;
use crate::config::{Config, ConfigEnv};
use crate::gcs::checksum::{crc32c_b64, md5_b64};
use crate::gcs::{GcsClient, NoAuth};
use crate::timefmt::format_iso_ms;
use crate::transport::{Clock, HttpRequest, HttpResponse, Method, Transport, TransportError};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

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

/// What kind of request the fake received: the kinds of the shared sync scenarios
/// (`sync_scenarios::Kind`), so their native driver counts the fake's log as it is.
pub use sync_scenarios::Kind;

/// One logged request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// HTTP method.
    pub method: Method,
    /// Classification.
    pub kind: Kind,
    /// Object name (full, prefix included) or listing prefix.
    pub name: String,
    /// The `ifGenerationMatch` sent, if any.
    pub if_generation_match: Option<String>,
    /// The status answered; 0 while pending or when the connection broke.
    pub status: u16,
}

struct Object {
    data: Vec<u8>,
    generation: u64,
    updated_unix_ms: i64,
    /// Custom metadata, as an upload's resource set it.
    metadata: BTreeMap<String, String>,
}

struct Injection {
    name: String,
    kind: Kind,
    status: u16,
    remaining: u32,
}

type Hook = Box<dyn FnOnce(&FakeGcs)>;

/// The fake server and clock.
pub struct FakeGcs {
    objects: RefCell<BTreeMap<String, Object>>,
    last_generation: Cell<u64>,
    now: Cell<u64>,
    rng: Cell<u64>,
    faults: RefCell<VecDeque<Fault>>,
    log: RefCell<Vec<Logged>>,
    injections: RefCell<Vec<Injection>>,
    hooks: RefCell<Vec<(Kind, String, Hook)>>,
    corrupt_media: RefCell<HashSet<String>>,
    /// Items per listing page.
    pub page_size: Cell<usize>,
    /// Every request pends once before it is answered (see the module doc).
    pub yield_each_request: Cell<bool>,
    in_flight: Cell<usize>,
    max_in_flight: Cell<usize>,
    /// Sleeps requested, in order.
    pub sleeps: RefCell<Vec<u64>>,
    /// Answer deletes with 204 but keep the object (a lock that never goes away).
    pub ignore_deletes: Cell<bool>,
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
            log: RefCell::new(Vec::new()),
            injections: RefCell::new(Vec::new()),
            hooks: RefCell::new(Vec::new()),
            corrupt_media: RefCell::new(HashSet::new()),
            page_size: Cell::new(1000),
            yield_each_request: Cell::new(false),
            in_flight: Cell::new(0),
            max_in_flight: Cell::new(0),
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
        self.put_with_metadata(key, data, offset_ms, BTreeMap::new());
    }

    /// [`Self::put`] with custom metadata.
    fn put_with_metadata(
        &self,
        key: &str,
        data: &[u8],
        offset_ms: i64,
        metadata: BTreeMap<String, String>,
    ) {
        let generation = self.next_generation();
        let updated_unix_ms = self.unix_ms() + offset_ms;
        self.objects.borrow_mut().insert(
            key.to_string(),
            Object {
                data: data.to_vec(),
                generation,
                updated_unix_ms,
                metadata,
            },
        );
    }

    /// Remove an object as another client would.
    pub fn remove(&self, key: &str) {
        self.objects.borrow_mut().remove(key);
    }

    /// The stored bytes of `key`.
    pub fn data(&self, key: &str) -> Option<Vec<u8>> {
        self.objects.borrow().get(key).map(|o| o.data.clone())
    }

    /// Every object's key, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.objects.borrow().keys().cloned().collect()
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

    /// Answer the next `times` requests of `kind` on `name` with HTTP `status`.
    pub fn fail(&self, name: &str, kind: Kind, status: u16, times: u32) {
        self.injections.borrow_mut().push(Injection {
            name: name.to_string(),
            kind,
            status,
            remaining: times,
        });
    }

    /// Forget every injected error and corrupted body.
    pub fn clear_faults(&self) {
        self.injections.borrow_mut().clear();
        self.corrupt_media.borrow_mut().clear();
    }

    /// Serve media of `name` with a body that does not match its announced hashes.
    pub fn corrupt(&self, name: &str) {
        self.corrupt_media.borrow_mut().insert(name.to_string());
    }

    /// Run `hook` once, just before the first `kind` request on `name` is handled.
    pub fn on_request(&self, kind: Kind, name: &str, hook: impl FnOnce(&FakeGcs) + 'static) {
        self.hooks
            .borrow_mut()
            .push((kind, name.to_string(), Box::new(hook)));
    }

    /// Requests received so far.
    pub fn request_count(&self) -> usize {
        self.log.borrow().len()
    }

    /// Upload requests received (whatever their outcome).
    pub fn uploads(&self) -> usize {
        self.count(Kind::Upload)
    }

    /// The request log.
    pub fn log(&self) -> Vec<Logged> {
        self.log.borrow().clone()
    }

    /// Forget the request log and the in-flight maximum.
    pub fn clear_log(&self) {
        self.log.borrow_mut().clear();
        self.max_in_flight.set(0);
    }

    /// Requests of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.log.borrow().iter().filter(|r| r.kind == kind).count()
    }

    /// Requests of `kind` on exactly `name`.
    pub fn count_on(&self, kind: Kind, name: &str) -> usize {
        self.log
            .borrow()
            .iter()
            .filter(|r| r.kind == kind && r.name == name)
            .count()
    }

    /// GET-like requests (metadata, media, list).
    pub fn gets(&self) -> usize {
        self.log.borrow().iter().filter(|r| r.kind.is_get()).count()
    }

    /// Most requests that were in flight at once (yield mode only).
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.get()
    }

    fn next_generation(&self) -> u64 {
        self.last_generation.set(self.last_generation.get() + 1);
        self.last_generation.get()
    }

    fn classify(req: &HttpRequest) -> (Kind, String, Option<String>) {
        let rest = req.url.strip_prefix(ENDPOINT).unwrap_or("");
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let generation = param(query, "ifGenerationMatch");
        if req.method == Method::Post && path == "/upload/storage/v1/b/bkt/o" {
            let name = multipart(req).map(|(n, _, _)| n).unwrap_or_default();
            return (Kind::Upload, name, generation);
        }
        if req.method == Method::Get && path == "/storage/v1/b/bkt/o" {
            return (Kind::List, param(query, "prefix").unwrap_or_default(), None);
        }
        let Some(name) = path.strip_prefix("/storage/v1/b/bkt/o/").map(decode) else {
            return (Kind::Other, String::new(), None);
        };
        let kind = match req.method {
            Method::Get if param(query, "alt").as_deref() == Some("media") => Kind::Download,
            Method::Get => Kind::Metadata,
            Method::Delete => Kind::Delete,
            _ => Kind::Other,
        };
        (kind, name, generation)
    }

    fn injected(&self, kind: Kind, name: &str) -> Option<u16> {
        let mut injections = self.injections.borrow_mut();
        let hit = injections
            .iter_mut()
            .find(|i| i.kind == kind && i.name == name && i.remaining > 0)?;
        hit.remaining -= 1;
        Some(hit.status)
    }

    fn run_hooks(&self, kind: Kind, name: &str) {
        let ready: Vec<Hook> = {
            let mut hooks = self.hooks.borrow_mut();
            let mut ready = Vec::new();
            let mut i = 0;
            while i < hooks.len() {
                if hooks[i].0 == kind && hooks[i].1 == name {
                    ready.push(hooks.remove(i).2);
                } else {
                    i += 1;
                }
            }
            ready
        };
        for hook in ready {
            hook(self);
        }
    }

    fn handle(&self, req: &HttpRequest, kind: Kind, name: &str) -> HttpResponse {
        let rest = req.url.strip_prefix(ENDPOINT).unwrap_or("");
        let (_, query) = rest.split_once('?').unwrap_or((rest, ""));
        let expected = param(query, "ifGenerationMatch").and_then(|g| g.parse::<u64>().ok());
        if let Some(status) = self.injected(kind, name) {
            let body = format!(r#"{{"error":{{"code":{status},"message":"injected"}}}}"#);
            return reply(status, body.into_bytes());
        }
        match kind {
            Kind::Upload => {
                let Some((name, data, metadata)) = multipart(req) else {
                    return reply(400, b"bad multipart".to_vec());
                };
                if !self.matches(&name, expected) {
                    return precondition_failed();
                }
                self.put_with_metadata(&name, &data, 0, metadata);
                reply(200, self.meta_json(&name))
            }
            Kind::List => self.list(query),
            Kind::Other => reply(400, b"unknown request".to_vec()),
            Kind::Metadata | Kind::Download | Kind::Delete => {
                let found = self
                    .objects
                    .borrow()
                    .get(name)
                    .map(|o| (o.data.clone(), o.generation));
                let Some((data, generation)) = found else {
                    return reply(
                        404,
                        br#"{"error":{"code":404,"errors":[{"reason":"notFound"}]}}"#.to_vec(),
                    );
                };
                match kind {
                    Kind::Download => {
                        let hash = format!("crc32c={},md5={}", crc32c_b64(&data), md5_b64(&data));
                        let mut body = data;
                        if self.corrupt_media.borrow().contains(name) {
                            body.iter_mut().for_each(|b| *b ^= 0x55);
                        }
                        let mut resp = reply(200, body);
                        resp.headers = vec![
                            ("x-goog-generation".into(), generation.to_string()),
                            ("x-goog-hash".into(), hash),
                        ];
                        resp
                    }
                    Kind::Metadata => reply(200, self.meta_json(name)),
                    _ if !self.matches(name, expected) => precondition_failed(),
                    _ => {
                        if !self.ignore_deletes.get() {
                            self.objects.borrow_mut().remove(name);
                        }
                        reply(204, Vec::new())
                    }
                }
            }
        }
    }

    /// One listing page: names under `prefix` after `pageToken`, `page_size` at most;
    /// with a `delimiter`, names with one after the prefix roll up into `prefixes` (each
    /// counted once, like an item).
    fn list(&self, query: &str) -> HttpResponse {
        let prefix = param(query, "prefix").unwrap_or_default();
        let delimiter = param(query, "delimiter").filter(|d| !d.is_empty());
        let after = param(query, "pageToken");
        let objects = self.objects.borrow();
        // (sort key, rolled-up prefix or None for an object)
        let mut entries: Vec<(String, Option<String>)> = Vec::new();
        for k in objects.keys().filter(|k| k.starts_with(&prefix)) {
            let rolled = delimiter.as_deref().and_then(|d| {
                let rest = &k[prefix.len()..];
                rest.find(d)
                    .map(|at| k[..prefix.len() + at + d.len()].to_string())
            });
            match rolled {
                Some(p) if entries.last().and_then(|e| e.1.as_ref()) == Some(&p) => {}
                Some(p) => entries.push((p.clone(), Some(p))),
                None => entries.push((k.clone(), None)),
            }
        }
        let matching: Vec<&(String, Option<String>)> = entries
            .iter()
            .filter(|(key, _)| after.as_ref().is_none_or(|a| key.as_str() > a.as_str()))
            .collect();
        let page: Vec<&(String, Option<String>)> = matching
            .iter()
            .take(self.page_size.get())
            .copied()
            .collect();
        let items: Vec<serde_json::Value> = page
            .iter()
            .filter(|(_, rolled)| rolled.is_none())
            .filter_map(|(k, _)| serde_json::from_slice(&self.meta_json_of(&objects, k)).ok())
            .collect();
        let prefixes: Vec<&String> = page
            .iter()
            .filter_map(|(_, rolled)| rolled.as_ref())
            .collect();
        let mut body = serde_json::json!({ "kind": "storage#objects", "items": items });
        if !prefixes.is_empty() {
            body["prefixes"] = serde_json::json!(prefixes);
        }
        if matching.len() > page.len() {
            if let Some((last, _)) = page.last() {
                body["nextPageToken"] = serde_json::Value::String(last.clone());
            }
        }
        reply(200, body.to_string().into_bytes())
    }

    /// `ifGenerationMatch`: absent always matches, 0 means "must not exist".
    fn matches(&self, name: &str, expected: Option<u64>) -> bool {
        let current = self.objects.borrow().get(name).map_or(0, |o| o.generation);
        expected.is_none_or(|g| g == current)
    }

    fn meta_json(&self, name: &str) -> Vec<u8> {
        self.meta_json_of(&self.objects.borrow(), name)
    }

    fn meta_json_of(&self, objects: &BTreeMap<String, Object>, name: &str) -> Vec<u8> {
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
            "metadata": o.metadata,
        })
        .to_string()
        .into_bytes()
    }
}

fn param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
        .map(decode)
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

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Object name, media and custom metadata of a `multipart/related` upload as `request.rs`
/// builds it (byte-based, so binary media survive).
fn multipart(req: &HttpRequest) -> Option<(String, Vec<u8>, BTreeMap<String, String>)> {
    let boundary = req
        .header_value("content-type")?
        .split_once("boundary=")?
        .1
        .to_string();
    let body = &req.body;
    let delimiter = format!("\r\n--{boundary}");
    let head_end = find(body, b"\r\n\r\n")? + 4;
    let resource_len = find(&body[head_end..], delimiter.as_bytes())?;
    let resource: serde_json::Value =
        serde_json::from_slice(&body[head_end..head_end + resource_len]).ok()?;
    let rest = &body[head_end + resource_len + delimiter.len()..];
    let media_start = find(rest, b"\r\n\r\n")? + 4;
    let closing = format!("\r\n--{boundary}--");
    let media_len = find(&rest[media_start..], closing.as_bytes())?;
    let metadata = resource
        .get("metadata")
        .and_then(|m| m.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Some((
        resource.get("name")?.as_str()?.to_string(),
        rest[media_start..media_start + media_len].to_vec(),
        metadata,
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
        let (kind, name, if_generation_match) = Self::classify(req);
        let index = {
            let mut log = self.log.borrow_mut();
            log.push(Logged {
                method: req.method,
                kind,
                name: name.clone(),
                if_generation_match,
                status: 0,
            });
            log.len() - 1
        };
        if self.yield_each_request.get() {
            self.in_flight.set(self.in_flight.get() + 1);
            self.max_in_flight
                .set(self.max_in_flight.get().max(self.in_flight.get()));
            YieldOnce(false).await;
            self.in_flight.set(self.in_flight.get() - 1);
        }
        self.run_hooks(kind, &name);
        let fault = self.faults.borrow_mut().pop_front();
        if fault == Some(Fault::Drop) {
            return Err(TransportError::Connection("dropped".into()));
        }
        let resp = self.handle(req, kind, &name);
        if fault.is_none() {
            if let Some(entry) = self.log.borrow_mut().get_mut(index) {
                entry.status = resp.status;
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_doubles::run;

    #[test]
    fn listing_paginates_and_filters_by_prefix() {
        let fake = FakeGcs::new();
        for name in ["a/1", "a/2", "a/3", "b/1"] {
            fake.put(name, name.as_bytes(), 0);
        }
        fake.page_size.set(2);
        let client = fake.client("");
        let all = run(client.list_all(Some("a/"))).unwrap();
        let names: Vec<&str> = all.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["a/1", "a/2", "a/3"]);
        assert_eq!(fake.count(Kind::List), 2);
    }

    #[test]
    fn binary_media_round_trip_and_injected_errors() {
        let fake = FakeGcs::new();
        let client = fake.client(r#","retryMaxAttempts":1"#);
        let data: Vec<u8> = (0..=255u8).collect();
        run(client.upload("bin", &data, None)).unwrap();
        assert_eq!(fake.data("bin").unwrap(), data);
        fake.fail("bin", Kind::Download, 503, 1);
        assert!(run(client.download("bin")).is_err());
        assert_eq!(run(client.download("bin")).unwrap().data, data);
    }
}
