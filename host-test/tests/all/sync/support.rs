//! Helpers of the sync tests: [`Env`] (one server with a fresh bucket, the host whose
//! traffic is measured, and an "admin" datastore on a second host that reads and writes
//! the bucket behind the sync service's back without touching the measured counters),
//! option builders, readers for the sidecar and the indexes, the benchmark seeding of
//! the benchmark (`BENCHMARKS.md#seeding`), and the JS `toISOString()` form of a file's mtime.

use crate::common::*;
use gcs_host::datastore::{no_options, ModelRef, ObjectMeta, SyncContext, SyncOptions};
use gcs_host::traffic::{LoggedRequest, RequestKind, TrafficSnapshot};
use gcs_host::{Datastore, Host};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::UNIX_EPOCH;

/// The monolithic index object.
pub const INDEX: &str = ".datastore-index.json";
/// The partition meta object.
pub const META: &str = "_index/_meta.json";
/// The local sidecar.
pub const SIDECAR: &str = ".datastore-sync-state.json";

/// Which server a case runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The in-process fake (exact GCS semantics, preconditions included).
    Fake,
    /// fake-gcs-server 1.54.0.
    Emulator,
}

/// One server and bucket, the measured host, and the admin datastore.
pub struct Env {
    pub which: Which,
    pub server: Server,
    /// Every datastore under test is opened here; its traffic is what tests count.
    pub host: Host,
    _admin_host: Host,
    _admin_cache: Cache,
    admin: Datastore,
}

impl Env {
    /// A fresh server with bucket [`BUCKET`].
    pub async fn start(which: Which) -> Env {
        let server = match which {
            Which::Fake => Server::fake(BUCKET).await,
            Which::Emulator => Server::emulator(BUCKET),
        };
        let host = Host::new().expect("load the component");
        let admin_host = Host::new().expect("load the component");
        let admin_cache = Cache::new();
        let admin = open(&admin_host, &server, BUCKET, &admin_cache, "").await;
        Env {
            which,
            server,
            host,
            _admin_host: admin_host,
            _admin_cache: admin_cache,
            admin,
        }
    }

    /// A configured datastore on `cache` (a fresh "process": nothing in memory).
    pub async fn open(&self, cache: &Cache, extra: &str) -> Datastore {
        open(&self.host, &self.server, BUCKET, cache, extra).await
    }

    // ----- the bucket, behind the sync service's back -----

    /// Write an object; returns its generation.
    pub async fn put(&mut self, key: &str, data: &[u8]) -> String {
        self.admin
            .put_bytes(key, data, None)
            .await
            .unwrap_or_else(|e| panic!("admin put {key}: {e}"))
            .generation
    }

    /// Write an object whose name the component's object API refuses (`../x`), straight
    /// to the server.
    pub fn put_raw(&self, key: &str, data: &[u8]) {
        match &self.server {
            Server::Fake(f) => {
                f.put_object(BUCKET, key, data);
            }
            Server::Emulator(e) => {
                let name =
                    percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC);
                let path = format!("/upload/storage/v1/b/{BUCKET}/o?uploadType=media&name={name}");
                let (status, body) = e.call("POST", &path, Some(data)).expect("emulator upload");
                assert_eq!(status, 200, "raw upload of {key}: {body}");
            }
            Server::Real(_) => unreachable!("the sync tests run on local servers only"),
        }
    }

    /// An object's bytes, `None` when it does not exist.
    pub async fn get(&mut self, key: &str) -> Option<Vec<u8>> {
        match self.admin.get_bytes(key).await {
            Ok((data, _)) => Some(data),
            Err(e) if e.kind() == "not-found" => None,
            Err(e) => panic!("admin get {key}: {e}"),
        }
    }

    /// An object's bytes, which must exist.
    pub async fn must_get(&mut self, key: &str) -> Vec<u8> {
        self.get(key)
            .await
            .unwrap_or_else(|| panic!("{key} is missing from the bucket"))
    }

    /// An object parsed as JSON.
    pub async fn json(&mut self, key: &str) -> Value {
        let bytes = self.must_get(key).await;
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{key} is not JSON: {e}"))
    }

    /// The generation of an object, `None` when it does not exist.
    pub async fn generation(&mut self, key: &str) -> Option<String> {
        self.admin
            .stat(key)
            .await
            .unwrap_or_else(|e| panic!("admin stat {key}: {e}"))
            .map(|m| m.generation)
    }

    /// Every object, by key.
    pub async fn objects(&mut self) -> BTreeMap<String, ObjectMeta> {
        self.admin
            .list_all(None)
            .await
            .expect("admin list")
            .into_iter()
            .map(|m| (m.key.clone(), m))
            .collect()
    }

    /// The keys of every object.
    pub async fn names(&mut self) -> Vec<String> {
        self.objects().await.into_keys().collect()
    }

    /// The entry keys of the remote monolith, in its order.
    pub async fn index_keys(&mut self) -> Vec<String> {
        keys_of(&self.json(INDEX).await["entries"])
    }

    // ----- the measured traffic -----

    /// Zero the measured counters and log.
    pub fn reset(&self) {
        self.host.traffic.reset();
    }

    /// The measured counters.
    pub fn snap(&self) -> TrafficSnapshot {
        self.host.traffic.snapshot()
    }

    /// The measured request log.
    pub fn log(&self) -> Vec<LoggedRequest> {
        self.host.traffic.log()
    }

    /// Objects of the measured requests of `kind`, in order.
    pub fn objects_of(&self, kind: RequestKind) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.object)
            .collect()
    }

    /// "GET" requests in the sense of the TypeScript benchmark figures: metadata, downloads and
    /// listings.
    pub fn gets(&self) -> u64 {
        let s = self.snap();
        s.count(RequestKind::Metadata) + s.count(RequestKind::Download) + s.count(RequestKind::List)
    }

    /// Uploads (every upload is one PUT/POST).
    pub fn puts(&self) -> u64 {
        self.snap().count(RequestKind::Upload)
    }
}

/// Objects whose generation is new or changed between two listings, in write order
/// (generations increase with time on both servers). Multipart uploads carry the object
/// name in the body, not the URL, so the host's traffic log cannot name them; the bucket
/// itself can.
pub fn written_between(
    before: &BTreeMap<String, ObjectMeta>,
    after: &BTreeMap<String, ObjectMeta>,
) -> Vec<String> {
    let mut changed: Vec<(i128, String)> = after
        .iter()
        .filter(|(k, m)| before.get(*k).is_none_or(|b| b.generation != m.generation))
        .map(|(k, m)| {
            (
                m.generation.parse::<i128>().expect("numeric generation"),
                k.clone(),
            )
        })
        .collect();
    changed.sort();
    changed.into_iter().map(|(_, k)| k).collect()
}

/// Whether a key is one of the index objects (monolith, partitions, meta).
pub fn is_index_object(key: &str) -> bool {
    key.ends_with(INDEX) || key.starts_with("_index/")
}

/// Data objects only.
pub fn data_only(keys: Vec<String>) -> Vec<String> {
    keys.into_iter().filter(|k| !is_index_object(k)).collect()
}

// ----- options -----

/// Options with nothing set.
pub fn opts() -> SyncOptions {
    no_options()
}

/// `mark-dirty` options for one path.
pub fn rel(path: &str) -> SyncOptions {
    SyncOptions {
        rel_path: Some(path.to_string()),
        ..no_options()
    }
}

/// Scoped-pull options for `(modelType, modelId)` pairs.
pub fn models(list: &[(&str, &str)]) -> SyncOptions {
    SyncOptions {
        context: Some(SyncContext {
            models: list
                .iter()
                .map(|(t, i)| ModelRef {
                    model_type: t.to_string(),
                    model_id: i.to_string(),
                })
                .collect(),
        }),
        ..no_options()
    }
}

/// A metadata-only (lazy) pull.
pub fn metadata_only() -> SyncOptions {
    SyncOptions {
        metadata_only: true,
        ..no_options()
    }
}

/// The detail of the phase `name` of a report.
pub fn phase<'a>(report: &'a gcs_host::datastore::SyncReport, name: &str) -> &'a str {
    report
        .phases
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.detail.as_str())
        .unwrap_or_else(|| panic!("no phase {name} in {:?}", report.phases))
}

/// Milliseconds of the phase `name` of a report.
pub fn phase_millis(report: &gcs_host::datastore::SyncReport, name: &str) -> f64 {
    report
        .phases
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.millis)
        .unwrap_or_else(|| panic!("no phase {name} in {:?}", report.phases))
}

// ----- the cache -----

/// The sidecar as JSON.
pub fn sidecar(cache: &Cache) -> Value {
    serde_json::from_slice(&cache.read(SIDECAR)).expect("the sidecar is JSON")
}

/// The local index copy as JSON.
pub fn local_index(cache: &Cache) -> Value {
    serde_json::from_slice(&cache.read(INDEX)).expect("the local index is JSON")
}

/// Remove a file or directory tree from the cache.
pub fn remove(cache: &Cache, rel: &str) {
    let p = cache.file(rel);
    if p.is_dir() {
        std::fs::remove_dir_all(p).unwrap();
    } else {
        std::fs::remove_file(p).unwrap();
    }
}

/// Unix milliseconds of a file's mtime (truncated, like JS `Date`).
pub fn mtime_ms(path: &Path) -> i64 {
    let t = std::fs::metadata(path).unwrap().modified().unwrap();
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// A file's mtime as the TypeScript client records `localMtime`.
pub fn mtime_iso(cache: &Cache, rel: &str) -> String {
    iso_ms(mtime_ms(&cache.file(rel)))
}

/// Files of the cache that sync (internal files excluded), sorted.
pub fn data_files(cache: &Cache) -> Vec<String> {
    cache
        .files()
        .into_iter()
        .filter(|f| f != INDEX && f != SIDECAR)
        .collect()
}

/// Every file of the cache whose name looks like a temporary file.
pub fn temp_files(cache: &Cache) -> Vec<String> {
    cache
        .files()
        .into_iter()
        .filter(|f| {
            let name = f.rsplit('/').next().unwrap_or(f);
            name.contains("tmp")
        })
        .collect()
}

// ----- formats -----

/// JS `new Date(ms).toISOString()`.
pub fn iso_ms(unix_ms: i64) -> String {
    let days = unix_ms.div_euclid(86_400_000);
    let ms = unix_ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// Days since 1970-01-01 → (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Whether `s` has exactly the shape `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn is_js_iso(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Object keys of a JSON object, in order.
pub fn keys_of(v: &Value) -> Vec<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Base64 MD5 (as GCS lists it).
pub fn md5_b64(data: &[u8]) -> String {
    use base64::Engine as _;
    use md5::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(data))
}

/// A fixture from `fixtures/formats/`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/formats")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A fixture parsed.
pub fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

/// A compact monolith as another client writes it: `(key, bytes, localMtime, sha256)`.
pub fn ts_index(entries: &[(&str, usize, Option<&str>, Option<&str>)]) -> Vec<u8> {
    let mut map = serde_json::Map::new();
    for (key, size, mtime, sha) in entries {
        let mut e = serde_json::Map::new();
        e.insert("key".into(), Value::from(*key));
        e.insert("size".into(), Value::from(*size));
        e.insert("lastModified".into(), "2026-07-01T00:00:00.000Z".into());
        if let Some(m) = mtime {
            e.insert("localMtime".into(), Value::from(*m));
        }
        if let Some(s) = sha {
            e.insert("sha256".into(), Value::from(*s));
        }
        map.insert(key.to_string(), Value::Object(e));
    }
    let index = serde_json::json!({
        "version": 1,
        "lastPulled": "2026-07-01T00:00:00.000Z",
        "entries": map,
    });
    serde_json::to_vec(&index).unwrap()
}

/// Put data objects and a monolith listing them (what another client's push leaves).
pub async fn put_remote_files(env: &mut Env, files: &[(&str, &[u8])]) {
    let entries: Vec<(&str, usize, Option<&str>, Option<&str>)> = files
        .iter()
        .map(|(k, d)| (*k, d.len(), None, None))
        .collect();
    for (k, d) in files {
        env.put(k, d).await;
    }
    env.put(INDEX, &ts_index(&entries)).await;
}

// ----- seeding (BENCHMARKS.md#seeding) -----

/// One seeded model.
#[derive(Debug, Clone)]
pub struct Model {
    /// `@test/model-type-NNN`.
    pub model_type: String,
    /// A random UUID.
    pub model_id: String,
    /// Cache-relative paths of its files.
    pub files: Vec<String>,
}

impl Model {
    /// The `data--` partition object of this model.
    pub fn data_partition(&self) -> String {
        format!(
            "_index/data--{}--{}.json",
            self.model_type.replace('/', "--"),
            self.model_id
        )
    }

    /// The three partition objects a scoped pull of this model reads, in order.
    pub fn partitions(&self) -> Vec<String> {
        let slug = self.model_type.replace('/', "--");
        ["data", "outputs", "definitions-evaluated"]
            .iter()
            .map(|dir| format!("_index/{dir}--{slug}--{}.json", self.model_id))
            .collect()
    }
}

/// A random UUID v4.
pub fn uuid() -> String {
    let b: [u8; 16] = rand::random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let variant = ["8", "9", "a", "b"][usize::from(b[8] >> 6)];
    format!(
        "{}-{}-4{}-{variant}{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// Seed like the benchmark: `models` models of type `@test/model-type-NNN` with random
/// UUID ids, `per_model` files `data/@test/model-type-NNN/<uuid>/file-NNNN.json` each,
/// JSON padded with `pad` × `x` (the benchmark: 50 × 20, pad 5020 ≈ 5 KB a file).
pub fn seed(cache: &Cache, models: usize, per_model: usize, pad: usize) -> Vec<Model> {
    let padding = "x".repeat(pad);
    (0..models)
        .map(|m| {
            let model_type = format!("@test/model-type-{m:03}");
            let model_id = uuid();
            let files = (0..per_model)
                .map(|f| {
                    let rel = format!("data/{model_type}/{model_id}/file-{f:04}.json");
                    let body = format!(
                        r#"{{"model":{m},"file":{f},"timestamp":"2026-08-01T10:00:00.000Z","data":"{padding}"}}"#
                    );
                    cache.write(&rel, body.as_bytes());
                    rel
                })
                .collect();
            Model {
                model_type,
                model_id,
                files,
            }
        })
        .collect()
}

/// Another client adds one file: the object, and an entry in the remote monolith (every
/// other entry kept as it is). Returns the new index generation.
pub async fn add_remote_entry(env: &mut Env, key: &str, data: &[u8]) -> String {
    env.put(key, data).await;
    let mut index = env.json(INDEX).await;
    let entry = serde_json::json!({
        "key": key,
        "size": data.len(),
        "lastModified": "2026-07-01T00:00:00.000Z",
    });
    index["entries"]
        .as_object_mut()
        .expect("entries")
        .insert(key.to_string(), entry);
    env.put(INDEX, &serde_json::to_vec(&index).unwrap()).await
}
