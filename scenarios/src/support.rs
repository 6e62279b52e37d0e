//! Helpers of the scenarios: object names, option builders, readers for the sidecar and
//! the indexes, bucket snapshots (`written_between`: which objects a call wrote, in write
//! order), the benchmark seeding (`BENCHMARKS.md#seeding`), and the formats other clients
//! write (JS `toISOString()`, the TypeScript monolith).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::cache::Cache;
use crate::driver::{Driver, Object, Options};

/// The monolithic index object.
pub const INDEX: &str = ".datastore-index.json";
/// The partition meta object.
pub const META: &str = "_index/_meta.json";
/// The local sidecar.
pub const SIDECAR: &str = ".datastore-sync-state.json";

// ----- options -----

/// Options with nothing set.
pub fn opts() -> Options {
    Options::default()
}

/// `markDirty` options for one path.
pub fn rel(path: &str) -> Options {
    Options {
        rel_path: Some(path.to_string()),
        ..Options::default()
    }
}

/// Scoped-pull options for `(modelType, modelId)` pairs.
pub fn models(list: &[(&str, &str)]) -> Options {
    Options {
        models: list
            .iter()
            .map(|(t, i)| (t.to_string(), i.to_string()))
            .collect(),
        ..Options::default()
    }
}

/// A metadata-only (lazy) pull.
pub fn metadata_only() -> Options {
    Options {
        metadata_only: true,
        ..Options::default()
    }
}

// ----- the bucket -----

/// Objects whose generation is new or changed between two listings, in write order
/// (generations increase with time on every server). Multipart uploads carry the object
/// name in the body, not the URL, so a request log may not name them; the bucket can.
pub fn written_between(
    before: &BTreeMap<String, Object>,
    after: &BTreeMap<String, Object>,
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

/// Put data objects and a monolith listing them (what another client's push leaves).
pub async fn put_remote_files<D: Driver>(d: &mut D, files: &[(&str, &[u8])]) {
    let entries: Vec<IndexSpec<'_>> = files
        .iter()
        .map(|(k, data)| (*k, data.len(), None, None))
        .collect();
    for (k, data) in files {
        d.put(k, data).await;
    }
    d.put(INDEX, &ts_index(&entries)).await;
}

/// Another client adds one file: the object, and an entry in the remote monolith (every
/// other entry kept as it is). Returns the new index generation.
pub async fn add_remote_entry<D: Driver>(d: &mut D, key: &str, data: &[u8]) -> String {
    d.put(key, data).await;
    let mut index = d.json(INDEX).await;
    let entry = serde_json::json!({
        "key": key,
        "size": data.len(),
        "lastModified": "2026-07-01T00:00:00.000Z",
    });
    index["entries"]
        .as_object_mut()
        .expect("entries")
        .insert(key.to_string(), entry);
    d.put(INDEX, &serde_json::to_vec(&index).expect("JSON"))
        .await
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
    cache.remove(rel);
}

/// A file's mtime as the TypeScript client records `localMtime`.
pub fn mtime_iso(cache: &Cache, rel: &str) -> String {
    iso_ms(cache.mtime_ms(rel))
}

/// Files of the cache that sync (the local index and the sidecar excluded), sorted.
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
    serde_json::from_slice(&fixture(name)).expect("the fixture is JSON")
}

/// One entry of [`ts_index`]: `(key, bytes, localMtime, sha256)`.
pub type IndexSpec<'a> = (&'a str, usize, Option<&'a str>, Option<&'a str>);

/// A compact monolith as another client writes it.
pub fn ts_index(entries: &[IndexSpec<'_>]) -> Vec<u8> {
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
    serde_json::to_vec(&index).expect("JSON")
}

/// A compact shard (`_index/{key}.json`) as the TypeScript client writes it.
pub fn ts_shard(entries: &[IndexSpec<'_>]) -> Vec<u8> {
    let index: Value = serde_json::from_slice(&ts_index(entries)).expect("JSON");
    let shard = serde_json::json!({ "version": 1, "entries": index["entries"] });
    serde_json::to_vec(&shard).expect("JSON")
}

/// A shard-first `_meta.json` as the TypeScript client writes it (partitions sorted).
pub fn ts_meta_v2(partitions: &[&str], commit_seq: u64) -> Vec<u8> {
    let mut sorted: Vec<&str> = partitions.to_vec();
    sorted.sort();
    serde_json::to_vec(&serde_json::json!({
        "version": 2,
        "partitions": sorted,
        "commitSeq": commit_seq,
    }))
    .expect("JSON")
}

/// A shard-first bucket as the TypeScript client leaves it after `migrate-index` and
/// commits: the data objects, one shard per partition (`(shard, key, bytes)` — the
/// caller names each file's partition), and the meta at `commit_seq`. No monolith.
pub async fn put_v2_remote<D: Driver>(d: &mut D, files: &[(&str, &str, &[u8])], commit_seq: u64) {
    let mut shards: BTreeMap<&str, Vec<IndexSpec<'_>>> = BTreeMap::new();
    for (shard, key, data) in files {
        d.put(key, data).await;
        shards
            .entry(shard)
            .or_default()
            .push((key, data.len(), None, None));
    }
    for (shard, entries) in &shards {
        d.put(&format!("_index/{shard}.json"), &ts_shard(entries))
            .await;
    }
    let names: Vec<&str> = shards.keys().copied().collect();
    d.put(META, &ts_meta_v2(&names, commit_seq)).await;
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
    use std::hash::{BuildHasher, Hasher};
    let random = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0);
        h.finish()
    };
    let b: Vec<u8> = [random(), random()]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
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
