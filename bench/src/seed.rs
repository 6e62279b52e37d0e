//! Seeding, exactly as the TypeScript suite seeds its v1 scenarios (1000 files over 50
//! models, ≈5.1 KB JSON each; `BENCHMARKS.md#seeding`), the "modify" helpers, and the
//! scale seeds (1000 models × 1, 10 or 100 small files) written straight into the
//! bucket — objects by concurrent native uploads, then a TypeScript-format monolith,
//! partitions and v1 `_index/_meta.json` — and into a template cache with the matching
//! local index and a clean sidecar.

use super::native::NativeGcs;
use anyhow::{Context as _, Result};
use bytes::Bytes;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Models of the v1 seed.
pub const V1_MODELS: usize = 50;
/// Files of the v1 seed.
pub const V1_FILES: usize = 1000;
/// Length of the `data` padding of a v1 file.
pub const V1_PADDING: usize = 5020;

/// One model: its type, id and the files it holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Model {
    /// `@test/model-type-NNN`.
    pub model_type: String,
    /// A random UUID.
    pub model_id: String,
}

impl Model {
    /// `data/<type>/<id>`: the model's directory (what swamp marks dirty for a model).
    pub fn dir(&self) -> String {
        format!("data/{}/{}", self.model_type, self.model_id)
    }

    /// `data/<type>/<id>/file-NNNN.json`.
    pub fn file(&self, f: usize) -> String {
        format!("{}/file-{f:04}.json", self.dir())
    }
}

/// A random version-4 UUID.
pub fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::thread_rng().gen();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `count` models named `@test/model-type-NNN` with random ids.
pub fn models(count: usize) -> Vec<Model> {
    (0..count)
        .map(|m| Model {
            model_type: format!("@test/model-type-{m:03}"),
            model_id: uuid_v4(),
        })
        .collect()
}

/// JavaScript `toISOString()` of Unix milliseconds.
pub fn iso_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A file's mtime in Unix milliseconds, floored (as a JS `Date` from a stat).
pub fn mtime_ms(path: &Path) -> Result<i64> {
    let m = std::fs::metadata(path)?.modified()?;
    Ok(match m.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    })
}

/// Write `data` to `root/rel`, creating parents.
pub fn write_file(root: &Path, rel: &str, data: &[u8]) -> Result<()> {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, data).with_context(|| format!("write {}", path.display()))
}

/// Replace `root/rel` through a temporary sibling and a rename, so a hard-linked clone
/// never changes the file it shares with its template.
pub fn replace_file(root: &Path, rel: &str, data: &[u8]) -> Result<()> {
    let path = root.join(rel);
    let tmp = path.with_extension("bench-tmp");
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, &path)?;
    Ok(())
}

/// The v1 content of file `f` of model `m`: ≈5.1 KB of JSON.
pub fn v1_content(m: usize, f: usize) -> String {
    format!(
        r#"{{"model":{m},"file":{f},"timestamp":"{}","data":"{}"}}"#,
        iso_ms(now_ms()),
        "x".repeat(V1_PADDING)
    )
}

/// A short replacement JSON; `variant` changes its size so that every trial's edit
/// differs in size from the previous one (pulls compare sizes only, as upstream).
pub fn modified_content(m: usize, f: usize, variant: usize) -> String {
    format!(
        r#"{{"model":{m},"file":{f},"modified":"{}","variant":{variant},"pad":"{}"}}"#,
        iso_ms(now_ms()),
        "y".repeat(variant % 97)
    )
}

/// Seed `root` with the v1 data: 1000 files over 50 models, 20 per model. Returns the
/// models and the relative paths in model order.
pub fn seed_v1(root: &Path) -> Result<(Vec<Model>, Vec<String>)> {
    let models = models(V1_MODELS);
    let per_model = V1_FILES.div_ceil(V1_MODELS);
    let mut rels = Vec::with_capacity(V1_FILES);
    for (m, model) in models.iter().enumerate() {
        for f in 0..per_model {
            let rel = model.file(f);
            write_file(root, &rel, v1_content(m, f).as_bytes())?;
            rels.push(rel);
        }
    }
    Ok((models, rels))
}

/// "Modify one file": rewrite `file-0000.json` of model `m`. Returns its path.
pub fn modify_one(root: &Path, models: &[Model], m: usize, variant: usize) -> Result<String> {
    let rel = models[m].file(0);
    replace_file(root, &rel, modified_content(m, 0, variant).as_bytes())?;
    Ok(rel)
}

/// "Modify n files": `ceil(n/50)` files per model in model order until `n` are done
/// (201 → 5 files in each of 41 models, the last one getting the remainder).
pub fn modify_many(root: &Path, models: &[Model], n: usize, variant: usize) -> Result<Vec<String>> {
    let per_model = n.div_ceil(models.len());
    let mut rels = Vec::with_capacity(n);
    'outer: for (m, model) in models.iter().enumerate() {
        for f in 0..per_model {
            if rels.len() == n {
                break 'outer;
            }
            let rel = model.file(f);
            replace_file(root, &rel, modified_content(m, f, variant).as_bytes())?;
            rels.push(rel);
        }
    }
    Ok(rels)
}

/// Copy a directory tree (plain copies; mtimes are not preserved).
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dest = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &dest)?;
        } else {
            std::fs::copy(e.path(), &dest)?;
        }
    }
    Ok(())
}

/// Clone a directory tree with hard links (same inodes, so same mtimes); cheap even for
/// 100,000 files. Callers replace files (rename) rather than write into them.
pub fn link_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dest = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            link_tree(&e.path(), &dest)?;
        } else {
            std::fs::hard_link(e.path(), &dest)?;
        }
    }
    Ok(())
}

/// Models whose data objects a scale seed uploads: the scale operations overwrite
/// model 0, change model 1 and cold-pull model 2; model 3 is a spare. The index,
/// partitions and template cache always hold every model.
///
/// Why not every object: fake-gcs-server 1.54.0's memory backend keeps a bucket's
/// objects in a slice and finds one by a linear scan that formats `bucket/name` for
/// every element it passes (`findObject` → `IDNoGen` → `fmt.Sprintf`), under a global
/// lock, so each create and get costs O(objects in the bucket). Measured here: 10,000
/// objects took 100 s to upload; 100,000 would take hours. Uploading only what the
/// operations read keeps the emulator's per-request cost the same at every level, so
/// the curve shows the client's growth, not the emulator's.
pub const OBJECT_MODELS: usize = 4;

/// A scale seed: a bucket with a TypeScript-format v1 index of `models ×
/// files_per_model` small files (and the data objects of the first [`OBJECT_MODELS`]
/// models), and a template cache holding every file, in sync with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScaleSeed {
    /// The bucket.
    pub bucket: String,
    /// Files per model.
    pub files_per_model: usize,
    /// Index entries in all.
    pub entries: usize,
    /// The models.
    pub models: Vec<Model>,
    /// Data objects uploaded (the first [`OBJECT_MODELS`] models').
    pub objects: usize,
    /// The template cache (clone it before changing anything).
    pub template: PathBuf,
    /// Generation of the seeded monolith (the template's sidecar fingerprint).
    pub generation: String,
    /// Bytes of the compact monolith.
    pub monolith_bytes: u64,
    /// Bytes of one model's partition file.
    pub partition_bytes: u64,
    /// Seconds spent: objects, index objects, cache.
    pub seconds_objects: f64,
    /// Seconds spent on the monolith, partitions and meta.
    pub seconds_index: f64,
    /// Seconds spent writing the template cache.
    pub seconds_cache: f64,
}

/// The small content of scale file `f` of model `m` (≈100 bytes).
pub fn scale_content(m: usize, f: usize) -> String {
    format!(r#"{{"model":{m},"file":{f},"data":"{}"}}"#, "x".repeat(64))
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Seed a scale level: objects into `gcs`'s bucket, then the index objects, and the
/// template cache at `template`.
pub async fn seed_scale(
    gcs: &NativeGcs,
    template: &Path,
    model_count: usize,
    files_per_model: usize,
    upload_concurrency: usize,
) -> Result<ScaleSeed> {
    let models = models(model_count);
    let t0 = std::time::Instant::now();

    // 1. The cache files (two writer threads), then their mtimes for the index.
    let chunk = model_count.div_ceil(2).max(1);
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = models
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                s.spawn(move || -> Result<()> {
                    for (i, model) in part.iter().enumerate() {
                        let m = c * chunk + i;
                        for f in 0..files_per_model {
                            write_file(template, &model.file(f), scale_content(m, f).as_bytes())?;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("seed writer panicked"))??;
        }
        Ok(())
    })?;
    let seconds_cache = t0.elapsed().as_secs_f64();

    // 2. The data objects of the models the operations read or overwrite.
    let t1 = std::time::Instant::now();
    let mut items = Vec::with_capacity(OBJECT_MODELS * files_per_model);
    for (m, model) in models.iter().enumerate().take(OBJECT_MODELS) {
        for f in 0..files_per_model {
            items.push((model.file(f), Bytes::from(scale_content(m, f))));
        }
    }
    let objects = items.len();
    gcs.upload_many(items, upload_concurrency).await?;
    let seconds_objects = t1.elapsed().as_secs_f64();

    // 3. The index: monolith, partitions, v1 meta (compact, as TypeScript writes them).
    let t2 = std::time::Instant::now();
    let uploaded_at = iso_ms(now_ms());
    let mut entries = Map::new();
    let mut partitions: Vec<(String, Map<String, Value>)> = Vec::with_capacity(model_count);
    for (m, model) in models.iter().enumerate() {
        let mut part = Map::new();
        for f in 0..files_per_model {
            let rel = model.file(f);
            let content = scale_content(m, f);
            let entry = json!({
                "key": rel,
                "size": content.len(),
                "lastModified": uploaded_at,
                "localMtime": iso_ms(mtime_ms(&template.join(&rel))?),
                "sha256": sha256_hex(content.as_bytes()),
            });
            part.insert(rel.clone(), entry.clone());
            entries.insert(rel, entry);
        }
        let key = format!(
            "data--{}--{}",
            model.model_type.replace('/', "--"),
            model.model_id
        );
        partitions.push((key, part));
    }
    let monolith =
        json!({"version": 1, "lastPulled": uploaded_at, "entries": Value::Object(entries)});
    let compact = serde_json::to_string(&monolith)?;
    let monolith_bytes = compact.len() as u64;
    let generation = gcs
        .upload_media(".datastore-index.json", Bytes::from(compact))
        .await?
        .generation;
    let mut partition_bytes = 0;
    let mut shard_items = Vec::with_capacity(partitions.len());
    for (key, part) in &partitions {
        let text = serde_json::to_string(&json!({"version": 1, "entries": part}))?;
        partition_bytes = text.len() as u64;
        shard_items.push((format!("_index/{key}.json"), Bytes::from(text)));
    }
    gcs.upload_many(shard_items, upload_concurrency).await?;
    let keys: Vec<&str> = partitions.iter().map(|(k, _)| k.as_str()).collect();
    let meta = serde_json::to_string(&json!({"version": 1, "partitions": keys}))?;
    gcs.upload_media("_index/_meta.json", Bytes::from(meta))
        .await?;
    let seconds_index = t2.elapsed().as_secs_f64();

    // 4. The template's local index copy (pretty, no trailing newline) and a clean
    //    sidecar verified after it.
    let t3 = std::time::Instant::now();
    let index_path = template.join(".datastore-index.json");
    std::fs::write(&index_path, serde_json::to_string_pretty(&monolith)?)?;
    let verified = now_ms().max(mtime_ms(&index_path)? + 1);
    write_sidecar(template, &generation, verified)?;
    let seconds_cache = seconds_cache + t3.elapsed().as_secs_f64();

    Ok(ScaleSeed {
        bucket: gcs.bucket.clone(),
        files_per_model,
        entries: model_count * files_per_model,
        models,
        objects,
        template: template.to_path_buf(),
        generation,
        monolith_bytes,
        partition_bytes,
        seconds_objects,
        seconds_index,
        seconds_cache,
    })
}

/// Write a clean v2 sidecar (the guest's field order, pretty, no trailing newline).
pub fn write_sidecar(cache: &Path, generation: &str, verified_ms: i64) -> Result<()> {
    let sidecar = json!({
        "version": 2,
        "remoteIndexGeneration": generation,
        "lastVerifiedAt": iso_ms(verified_ms),
        "localDirty": false,
        "dirtyPaths": [],
        "bulkInvalidated": false,
        "lazyPullActive": false,
    });
    std::fs::write(
        cache.join(".datastore-sync-state.json"),
        serde_json::to_string_pretty(&sidecar)?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_matches_javascript() {
        assert_eq!(iso_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_ms(1_716_585_443_123), "2024-05-24T21:17:23.123Z");
        assert_eq!(iso_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn v1_seed_has_the_baseline_shape() {
        let dir = tempfile::tempdir().unwrap();
        let (models, rels) = seed_v1(dir.path()).unwrap();
        assert_eq!((models.len(), rels.len()), (50, 1000));
        assert!(rels[0].starts_with("data/@test/model-type-000/"));
        assert!(rels[0].ends_with("/file-0000.json"));
        let len = std::fs::metadata(dir.path().join(&rels[0])).unwrap().len();
        assert!((5000..5200).contains(&len), "{len}");
        let changed = modify_many(dir.path(), &models, 201, 1).unwrap();
        assert_eq!(changed.len(), 201);
        let distinct: std::collections::BTreeSet<&str> = changed
            .iter()
            .map(|r| &r[..r.rfind('/').unwrap()])
            .collect();
        assert_eq!(distinct.len(), 41);
    }

    #[test]
    fn uuids_look_like_v4() {
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
