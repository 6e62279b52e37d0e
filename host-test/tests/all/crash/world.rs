//! The starting states the crash tests rebuild for every cut, the end state they
//! compare, and the invariants checked between a crash and its rerun. The index a
//! reader follows ([`published_index`]) is the monolith, or on a shard-first repository
//! the union of the shards the meta lists.
//!
//! Every starting state is deterministic (fixed model ids, fixed contents) so that the
//! bucket and cache of two separately built worlds can be compared object by object.
//! What necessarily differs between two runs — generations, upload times, local
//! mtimes, `lastPulled`, `lastVerifiedAt` — is left out of [`EndState`]; everything
//! else (object names and bytes, index entries with size and sha256, partition
//! contents, the meta, cache files, the sidecar's dirty tracking) is compared.

use crate::common::*;
use crate::sync::support::*;
use gcs_host::datastore::{MigrateOutcome, MigrateReport, SyncReport};
use gcs_host::CallResult;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use test_servers::gcs::FakeGcs;

/// Model directories (type `@test/<name>`, fixed ids): one partition each.
pub const ALPHA: &str = "data/@test/alpha/0a0a0a0a-0000-4000-8000-00000000000a";
pub const BETA: &str = "data/@test/beta/0b0b0b0b-0000-4000-8000-00000000000b";
pub const GAMMA: &str = "data/@test/gamma/0c0c0c0c-0000-4000-8000-00000000000c";
pub const DELTA: &str = "data/@test/delta/0d0d0d0d-0000-4000-8000-00000000000d";
/// A file of the single-shard `audit` partition.
pub const AUDIT: &str = "audit/log.json";

/// File `n` of a model directory.
pub fn file(model: &str, n: u32) -> String {
    format!("{model}/file-{n}.json")
}

/// The partition object holding a model directory's files (`data/t/m/d` → `data--t--m`
/// drops the file name; the `/` of the model type becomes `--`).
pub fn partition_of(dir: &str) -> String {
    shard_object(&shard_name(dir))
}

/// The partition key (shard name, as a meta lists it) of a model directory.
pub fn shard_name(dir: &str) -> String {
    dir.replace('/', "--")
}

/// Version `v` of a file's content; each version has a different size, so a change is
/// never hidden behind an equal size and mtime granularity.
pub fn body(path: &str, v: usize) -> Vec<u8> {
    format!(
        r#"{{"path":"{path}","version":{v},"pad":"{}"}}"#,
        "x".repeat(10 * v)
    )
    .into_bytes()
}

/// Version 1 of a file's content with other bytes of the same size: a rewrite that
/// only the hash can tell apart.
pub fn same_size_rewrite(path: &str) -> Vec<u8> {
    format!(
        r#"{{"path":"{path}","version":1,"pad":"{}"}}"#,
        "y".repeat(10)
    )
    .into_bytes()
}

/// The files every world starts from: two models of two files and one audit file.
pub fn base_files() -> Vec<String> {
    vec![
        file(ALPHA, 0),
        file(ALPHA, 1),
        file(BETA, 0),
        file(BETA, 1),
        AUDIT.to_string(),
    ]
}

/// Which operation is interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// A push of marked local edits: one modified file, one deleted file, a new model
    /// of two files — uploads, a delete, the monolith, three partitions and the meta.
    Push,
    /// Cache B pulls what cache A pushed after B's last pull: two changed files, one
    /// rewritten with the same size, one deleted file and a new model — downloads that
    /// replace files, and a local removal.
    Pull,
    /// A push with nothing to upload that rewrites the index: another client's
    /// monolith carries an internal entry (scrubbed) and a new model whose partition
    /// it never wrote — the monolith, every partition and the meta are written.
    IndexOnly,
    /// [`Scenario::Push`]'s edits on a repository migrated to shard-first (v2), whose
    /// `commitSeq` this cache verified by a pull: uploads, a delete, the three touched
    /// shards and the meta at `commitSeq + 1`; never the stale monolith.
    PushV2,
    /// [`Scenario::Push`]'s edits pushed in two phases (`prepare-push`, then
    /// `commit-push` in the same process) on the monolith layout.
    TwoPhaseV1,
    /// [`Scenario::PushV2`]'s edits pushed in two phases on the shard-first layout.
    TwoPhaseV2,
    /// A push on the shard-first repository of [`Scenario::PushV2`] whose deletions
    /// empty a shard: file 0 of ALPHA rewritten, both files of BETA deleted — an upload,
    /// two deletes, the ALPHA shard written, the BETA shard emptied, the meta without it.
    EmptyShardV2,
    /// `migrate-index` of a monolith repository with three models and an audit file,
    /// one of them (DELTA) added by an older client that wrote no partition for it: every
    /// shard, then the v2 meta at `commitSeq` 1; the monolith stays as it was.
    Migrate,
}

/// What an operation returned.
#[derive(Debug)]
pub enum Done {
    /// A push, a pull, or a two-phase push's commit.
    Sync(SyncReport),
    /// `migrate-index`.
    Migrate(MigrateReport),
}

/// One freshly built starting state.
pub struct World {
    pub env: Env,
    /// The cache the operation runs on.
    pub cache: Cache,
    /// The other cache the setup pushed from (pull only), kept alive.
    pub source: Option<Cache>,
    /// Paths marked dirty before the operation (push only).
    pub dirty: Vec<String>,
    /// The cache's files (content as text) before the operation.
    pub before: BTreeMap<String, String>,
    /// The published index ([`published_index`] as [`index_view`]) before the operation.
    pub start_index: Option<Value>,
    /// The monolith's generation before the operation (a shard-first repository's stale
    /// monolith must keep it).
    pub start_monolith: Option<String>,
}

impl Scenario {
    /// Whether the operation runs on a shard-first (v2) repository.
    pub fn shard_first(self) -> bool {
        matches!(
            self,
            Scenario::PushV2 | Scenario::TwoPhaseV2 | Scenario::EmptyShardV2
        )
    }

    /// Whether the monolith must never be written: it is stale on a shard-first
    /// repository, and a migration leaves it as it was.
    pub fn keeps_monolith(self) -> bool {
        self.shard_first() || self == Scenario::Migrate
    }

    /// Build the starting state on a fresh server and fresh caches.
    pub async fn prepare(self) -> World {
        let mut w = self.prepare_world().await;
        w.start_index = published_index(&w.env).map(|i| index_view(&i));
        w.start_monolith = index_generation(&w.env);
        w
    }

    async fn prepare_world(self) -> World {
        let mut env = Env::start(Which::Fake).await;
        let a = Cache::new();
        for f in base_files() {
            a.write(&f, &body(&f, 1));
        }
        let mut ds = env.open(&a, "").await;
        ds.push(&opts()).await.expect("setup: the first push");
        if self.shard_first() {
            let m = ds
                .migrate_index(&opts())
                .await
                .expect("setup: migrate-index");
            assert_eq!(
                (m.outcome, m.commit_seq),
                (MigrateOutcome::Migrated, 1),
                "setup"
            );
            // The pull records the commitSeq: the push that follows starts from a
            // verified one, as a cache in use does.
            ds.pull(&opts())
                .await
                .expect("setup: the pull after migrating");
            assert_eq!(sidecar(&a)["commitSeq"], 1, "setup: {}", sidecar(&a));
        }
        match self {
            Scenario::Push
            | Scenario::PushV2
            | Scenario::TwoPhaseV1
            | Scenario::TwoPhaseV2
            | Scenario::EmptyShardV2 => {
                let dirty = if self == Scenario::EmptyShardV2 {
                    empty_a_model(&mut ds, &a).await
                } else {
                    edit_and_mark(&mut ds, &a, false).await
                };
                let before = cache_view(&a);
                World {
                    env,
                    cache: a,
                    source: None,
                    dirty,
                    before,
                    start_index: None,
                    start_monolith: None,
                }
            }
            Scenario::Pull => {
                let b = Cache::new();
                env.open(&b, "")
                    .await
                    .pull(&opts())
                    .await
                    .expect("setup: B's first pull");
                edit_and_mark(&mut ds, &a, true).await;
                let same_size = file(BETA, 0);
                ds.mark_dirty(&rel(&same_size)).await.expect("mark-dirty");
                a.write(&same_size, &same_size_rewrite(&same_size));
                let report = ds.push(&opts()).await.expect("setup: A pushes its edits");
                assert_eq!((report.files, report.deleted), (5, 1), "setup push");
                let before = cache_view(&b);
                World {
                    env,
                    cache: b,
                    source: Some(a),
                    dirty: Vec::new(),
                    before,
                    start_index: None,
                    start_monolith: None,
                }
            }
            Scenario::IndexOnly | Scenario::Migrate => {
                // Another (older) client uploaded a file and rewrote the monolith: its
                // entry has no sha256 and it wrote no partition. For the index rewrite,
                // it also polluted the index with its catalog database (which an entry
                // without a partition key would make `migrate-index` refuse).
                let delta = file(DELTA, 0);
                let data = body(&delta, 1);
                env.put(&delta, &data).await;
                let mut index = env.json(INDEX).await;
                let entries = index["entries"].as_object_mut().expect("entries");
                let mut foreign = vec![(delta.as_str(), data.len())];
                if self == Scenario::IndexOnly {
                    foreign.push(("_catalog.db", 4096));
                }
                for (key, size) in foreign {
                    entries.insert(
                        key.to_string(),
                        json!({"key": key, "size": size, "lastModified": "2026-07-01T00:00:00.000Z"}),
                    );
                }
                env.put(INDEX, &serde_json::to_vec(&index).unwrap()).await;
                let before = cache_view(&a);
                World {
                    env,
                    cache: a,
                    source: None,
                    dirty: Vec::new(),
                    before,
                    start_index: None,
                    start_monolith: None,
                }
            }
        }
    }

    /// Run the operation in a fresh datastore (a new process: nothing in memory). A
    /// two-phase push runs both phases in that one process, as swamp does.
    pub async fn run(self, w: &World, extra: &str) -> CallResult<Done> {
        let mut ds = w.env.open(&w.cache, extra).await;
        match self {
            Scenario::Push | Scenario::IndexOnly | Scenario::PushV2 | Scenario::EmptyShardV2 => {
                ds.push(&opts()).await.map(Done::Sync)
            }
            Scenario::Pull => ds.pull(&opts()).await.map(Done::Sync),
            Scenario::TwoPhaseV1 | Scenario::TwoPhaseV2 => {
                let (manifest, _) = ds.prepare_push(&opts()).await?;
                ds.commit_push(&manifest, &opts()).await.map(Done::Sync)
            }
            Scenario::Migrate => ds.migrate_index(&opts()).await.map(Done::Migrate),
        }
    }
}

/// The local edits of the push and pull worlds, each announced with mark-dirty first as
/// swamp does: file 0 of ALPHA rewritten, file 1 of BETA deleted, a new model GAMMA of
/// two files, and (`audit_too`) the audit file rewritten. Returns the marked paths.
async fn edit_and_mark(
    ds: &mut gcs_host::Datastore,
    cache: &Cache,
    audit_too: bool,
) -> Vec<String> {
    let mut paths = vec![
        file(ALPHA, 0),
        file(BETA, 1),
        file(GAMMA, 0),
        file(GAMMA, 1),
    ];
    if audit_too {
        paths.push(AUDIT.to_string());
    }
    for p in &paths {
        ds.mark_dirty(&rel(p)).await.expect("mark-dirty");
    }
    for p in &paths {
        if *p == file(BETA, 1) {
            remove(cache, p);
        } else {
            cache.write(p, &body(p, 2));
        }
    }
    paths
}

/// The edits of [`Scenario::EmptyShardV2`], each marked first: file 0 of ALPHA
/// rewritten, every file of BETA deleted. Returns the marked paths.
async fn empty_a_model(ds: &mut gcs_host::Datastore, cache: &Cache) -> Vec<String> {
    let paths = vec![file(ALPHA, 0), file(BETA, 0), file(BETA, 1)];
    for p in &paths {
        ds.mark_dirty(&rel(p)).await.expect("mark-dirty");
    }
    cache.write(&paths[0], &body(&paths[0], 2));
    for p in &paths[1..] {
        remove(cache, p);
    }
    paths
}

// ----- the end state -----

/// What an operation leaves behind, without what necessarily differs between runs.
///
/// On a shard-first repository the meta, and the sidecar's `commitSeq`, are compared
/// exactly: `commitSeq` after the rerun must equal the uninterrupted run's (start + 1),
/// not merely reach it. A crash here falls on a request boundary before the call's last
/// request, and a commit's last request is its meta write, so the crashed call never
/// committed; the rerun's commit — with the shards the crashed one wrote, listed or not,
/// in its view — is the first, from the same `commitSeq`. A rerun that needed a second
/// commit would move every other cache off its fast path for nothing, so the exact value
/// is both reachable and worth holding. (A kill after the meta write and before the
/// sidecar write is not on a request boundary: the rerun then cannot tell that commit
/// from another writer's and keeps the cache dirty until it has read the whole index — a
/// slower path, nothing lost.)
#[derive(Debug, PartialEq)]
pub struct EndState {
    /// Every object: the index objects as [`index_view`] (the meta as it is, shards and
    /// the stale monolith like partitions), data objects as their text.
    pub bucket: BTreeMap<String, Value>,
    /// Every synced file of the cache, as text.
    pub cache: BTreeMap<String, String>,
    /// The local index copy as [`index_view`].
    pub local_index: Option<Value>,
    /// The sidecar as [`sidecar_view`].
    pub sidecar: Option<Value>,
    /// Temporary files in the cache (must stay empty).
    pub temp_files: Vec<String>,
    /// Names next to the cache (must stay `["cache"]`).
    pub outside: Vec<String>,
}

/// What differs between two end states, one line each (empty when equal).
pub fn differences(got: &EndState, want: &EndState) -> Vec<String> {
    fn maps<V: PartialEq + std::fmt::Debug>(
        what: &str,
        got: &BTreeMap<String, V>,
        want: &BTreeMap<String, V>,
        out: &mut Vec<String>,
    ) {
        let keys: std::collections::BTreeSet<&String> = got.keys().chain(want.keys()).collect();
        for k in keys {
            match (got.get(k), want.get(k)) {
                (Some(g), Some(w)) if g == w => {}
                (g, w) => out.push(format!("{what} {k}: got {g:?}, want {w:?}")),
            }
        }
    }
    let mut out = Vec::new();
    maps("bucket", &got.bucket, &want.bucket, &mut out);
    maps("cache", &got.cache, &want.cache, &mut out);
    if got.local_index != want.local_index {
        out.push(format!(
            "local index: got {:?}, want {:?}",
            got.local_index, want.local_index
        ));
    }
    if got.sidecar != want.sidecar {
        out.push(format!(
            "sidecar: got {:?}, want {:?}",
            got.sidecar, want.sidecar
        ));
    }
    if got.temp_files != want.temp_files {
        out.push(format!("temp files: {:?}", got.temp_files));
    }
    if got.outside != want.outside {
        out.push(format!("next to the cache: {:?}", got.outside));
    }
    out
}

/// A pushed base (two models and an audit file), with a clean sidecar.
pub async fn pushed_world(dirty: Vec<String>) -> World {
    let env = Env::start(Which::Fake).await;
    let cache = Cache::new();
    for f in base_files() {
        cache.write(&f, &body(&f, 1));
    }
    env.open(&cache, "")
        .await
        .push(&opts())
        .await
        .expect("setup push");
    let before = cache_view(&cache);
    let start_index = published_index(&env).map(|i| index_view(&i));
    let start_monolith = index_generation(&env);
    World {
        env,
        cache,
        source: None,
        dirty,
        before,
        start_index,
        start_monolith,
    }
}

/// The fake GCS of a world.
pub fn fake(env: &Env) -> &FakeGcs {
    env.server
        .as_fake()
        .expect("the crash tests run on the in-process fake")
}

/// Every object's bytes, straight from the fake (no traffic on the measured host).
pub fn bucket_bytes(env: &Env) -> BTreeMap<String, Vec<u8>> {
    let f = fake(env);
    f.object_names(BUCKET)
        .into_iter()
        .filter_map(|name| {
            let data = f.get_object(BUCKET, &name)?.data;
            Some((name, data))
        })
        .collect()
}

/// The remote monolith's generation, if it exists.
pub fn index_generation(env: &Env) -> Option<String> {
    fake(env)
        .get_object(BUCKET, INDEX)
        .map(|o| o.generation.to_string())
}

/// The remote monolith as JSON, if it exists.
pub fn remote_index(env: &Env) -> Option<Value> {
    fake(env).get_object(BUCKET, INDEX).map(|o| {
        serde_json::from_slice(&o.data)
            .unwrap_or_else(|e| panic!("the remote index is not JSON: {e}"))
    })
}

/// `_index/_meta.json` as JSON, if it exists.
pub fn remote_meta(env: &Env) -> Option<Value> {
    fake(env).get_object(BUCKET, META).map(|o| {
        serde_json::from_slice(&o.data).unwrap_or_else(|e| panic!("the meta is not JSON: {e}"))
    })
}

/// The shard names a shard-first (v2) meta lists; `None` for a v1 meta or none.
pub fn listed_shards(env: &Env) -> Option<Vec<String>> {
    let meta = remote_meta(env)?;
    (meta["version"] == 2).then(|| {
        meta["partitions"]
            .as_array()
            .unwrap_or_else(|| panic!("a v2 meta without partitions: {meta}"))
            .iter()
            .map(|p| p.as_str().expect("a partition name").to_string())
            .collect()
    })
}

/// The object of a shard named in a meta.
pub fn shard_object(name: &str) -> String {
    format!("_index/{name}.json")
}

/// The index a reader follows now: on a shard-first (v2) repository the union of the
/// shards the meta lists (plus `_unpartitioned` when the meta does not list it, as the
/// guest reads it too), never the stale monolith; otherwise the monolith. Panics when a
/// listed shard is missing: [`check_meta_lists_only_existing_shards`] runs first and says
/// when.
pub fn published_index(env: &Env) -> Option<Value> {
    let Some(mut shards) = listed_shards(env) else {
        return remote_index(env);
    };
    let objects = bucket_bytes(env);
    let unpartitioned = "_unpartitioned".to_string();
    let extra =
        !shards.contains(&unpartitioned) && objects.contains_key(&shard_object(&unpartitioned));
    if extra {
        shards.push(unpartitioned);
    }
    let mut entries = serde_json::Map::new();
    for name in &shards {
        let object = shard_object(name);
        let data = objects
            .get(&object)
            .unwrap_or_else(|| panic!("the meta lists {object}, which is missing"));
        let shard: Value =
            serde_json::from_slice(data).unwrap_or_else(|e| panic!("{object} is not JSON: {e}"));
        let listed = shard["entries"]
            .as_object()
            .unwrap_or_else(|| panic!("{object} has no entries: {shard}"));
        entries.extend(listed.iter().map(|(k, e)| (k.clone(), e.clone())));
    }
    Some(json!({"version": 1, "entries": entries}))
}

/// An index or partition reduced to what two runs must agree on: the version and, per
/// entry, the size and sha256 (times are dropped). Entry order is not compared
/// (`serde_json` maps compare as sets).
pub fn index_view(v: &Value) -> Value {
    let entries = v["entries"]
        .as_object()
        .unwrap_or_else(|| panic!("an index without entries: {v}"));
    let mut out = serde_json::Map::new();
    for (key, e) in entries {
        assert_eq!(
            e["key"],
            key.as_str(),
            "entry key differs from its name: {v}"
        );
        out.insert(
            key.clone(),
            json!({"size": e["size"], "sha256": e.get("sha256").cloned().unwrap_or(Value::Null)}),
        );
    }
    json!({"version": v["version"], "entries": out})
}

/// The sidecar without its times, and with the fingerprint shown only as what it
/// points at: the current remote index, an older one, or none.
pub fn sidecar_view(cache: &Cache, current_index: Option<&str>) -> Option<Value> {
    if !cache.file(SIDECAR).exists() {
        return None;
    }
    let mut s = sidecar(cache);
    let obj = s.as_object_mut().expect("the sidecar is an object");
    let generation = obj["remoteIndexGeneration"]
        .as_str()
        .unwrap_or("?")
        .to_string();
    let shown = match generation.as_str() {
        "" => "",
        g if Some(g) == current_index => "<current index>",
        _ => "<older index>",
    };
    obj.insert("remoteIndexGeneration".into(), shown.into());
    let verified = obj["lastVerifiedAt"]
        .as_str()
        .is_some_and(|t| !t.is_empty());
    obj.insert(
        "lastVerifiedAt".into(),
        if verified { "<set>" } else { "" }.into(),
    );
    Some(s)
}

/// The cache's synced files (not the index copy, the sidecar or temporary files).
pub fn cache_view(cache: &Cache) -> BTreeMap<String, String> {
    let temps = temp_files(cache);
    data_files(cache)
        .into_iter()
        .filter(|f| !temps.contains(f))
        .map(|f| {
            let text = String::from_utf8_lossy(&cache.read(&f)).into_owned();
            (f, text)
        })
        .collect()
}

/// The end state of a world now.
pub fn end_state(w: &World) -> EndState {
    let bucket = bucket_bytes(&w.env)
        .into_iter()
        .map(|(name, data)| {
            let view = if name == META {
                serde_json::from_slice(&data).expect("the meta is JSON")
            } else if is_index_object(&name) {
                let v: Value = serde_json::from_slice(&data)
                    .unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
                index_view(&v)
            } else {
                Value::String(String::from_utf8_lossy(&data).into_owned())
            };
            (name, view)
        })
        .collect();
    let local_index = w
        .cache
        .file(INDEX)
        .exists()
        .then(|| index_view(&local_index(&w.cache)));
    EndState {
        bucket,
        cache: cache_view(&w.cache),
        local_index,
        sidecar: sidecar_view(&w.cache, index_generation(&w.env).as_deref()),
        temp_files: temp_files(&w.cache),
        outside: w.cache.outside_names(),
    }
}

// ----- invariants that hold at every moment, interrupted or not -----

/// The published index (the monolith, or on a shard-first repository the shards the
/// meta lists: [`published_index`]) names only objects that exist: no entry for an
/// upload that did not happen. With `exact` (a finished operation) each object also has the size and
/// sha256 its entry records. Mid-operation an entry may describe the previous version
/// of an object whose new version is uploaded but not yet indexed: data goes first,
/// the index after, and GCS has no multi-object transaction.
///
/// Also mid-operation, an entry may name an object this push deleted (a dirty path
/// whose file is gone): the push deletes before it publishes the index, as upstream
/// does, so a crash in between leaves a dangling entry — which readers prune (#867) and
/// the rerun removes — rather than an orphan object that no later push would delete.
///
/// `_catalog.db` is skipped: the index-only world starts from another client's index
/// that names it without the object (the push under test scrubs it).
pub fn check_index_names_only_uploaded(w: &World, when: &str, exact: bool) {
    let Some(index) = published_index(&w.env) else {
        return;
    };
    let objects = bucket_bytes(&w.env);
    for (key, e) in index["entries"].as_object().expect("entries") {
        let deleted_here = w.dirty.contains(key) && !w.cache.file(key).exists();
        if key == "_catalog.db" || (!exact && deleted_here) {
            continue;
        }
        let data = objects
            .get(key)
            .unwrap_or_else(|| panic!("{when}: the index names {key}, which is not in the bucket"));
        if !exact {
            continue;
        }
        assert_eq!(e["size"], data.len(), "{when}: size of {key} in the index");
        if let Some(sha) = e.get("sha256") {
            assert_eq!(
                sha,
                &sha256_hex(data),
                "{when}: sha256 of {key} in the index"
            );
        }
    }
}

/// Every path marked dirty is either confirmed by the published index
/// ([`published_index`]: a shard written but not yet listed confirms nothing; the entry records
/// the local content, or the file and the entry are both gone) or still dirty in the
/// sidecar, so the next push retries it.
pub fn check_no_dirty_path_forgotten(w: &World, when: &str) {
    let index = published_index(&w.env);
    let entries = index.as_ref().map(|i| &i["entries"]);
    let state = w.cache.file(SIDECAR).exists().then(|| sidecar(&w.cache));
    for path in &w.dirty {
        let entry = entries.and_then(|e| e.get(path));
        let local = w.cache.file(path).exists().then(|| w.cache.read(path));
        let confirmed = match (&local, entry) {
            (Some(data), Some(e)) => e["sha256"] == sha256_hex(data) && e["size"] == data.len(),
            (None, None) => true,
            _ => false,
        };
        if confirmed {
            continue;
        }
        let s = state
            .as_ref()
            .unwrap_or_else(|| panic!("{when}: {path} is unconfirmed and there is no sidecar"));
        let listed = s["bulkInvalidated"] == true
            || s["dirtyPaths"]
                .as_array()
                .is_some_and(|a| a.iter().any(|p| p == path.as_str()));
        assert!(
            s["localDirty"] == true && listed,
            "{when}: {path} is not confirmed by the remote index, yet the sidecar forgot it: {s}"
        );
    }
}

/// Each file of the cache holds a whole version: what it held before the operation or
/// the bucket's current content — never partial or corrupted bytes. Temporary files are
/// allowed only after a kill (`killed`): a guest stopped between creating and renaming
/// one cannot remove it; the next write of the same file does.
pub fn check_cache_holds_whole_versions(w: &World, when: &str, killed: bool) {
    let objects = bucket_bytes(&w.env);
    for (path, text) in cache_view(&w.cache) {
        let old = w.before.get(&path) == Some(&text);
        let new = objects
            .get(&path)
            .map(|d| String::from_utf8_lossy(d).into_owned())
            == Some(text.clone());
        assert!(
            old || new,
            "{when}: {path} holds neither its old nor its remote content: {text}"
        );
    }
    if !killed {
        assert_eq!(
            temp_files(&w.cache),
            Vec::<String>::new(),
            "{when}: temp files"
        );
    }
}

/// A shard-first (v2) meta lists only shards that exist: shards are written before the
/// meta that lists them, and a shard a commit empties stays in place, empty, while any
/// meta may still list it (a reader follows the meta it read to every shard it lists,
/// and a missing one makes the index unreadable). A v1 meta is not checked: the monolith
/// is authoritative there, and a reader falls back to it on a missing partition.
pub fn check_meta_lists_only_existing_shards(w: &World, when: &str) {
    let Some(shards) = listed_shards(&w.env) else {
        return;
    };
    let objects = bucket_bytes(&w.env);
    for name in shards {
        assert!(
            objects.contains_key(&shard_object(&name)),
            "{when}: the meta lists shard {name}, which does not exist: {:?}",
            remote_meta(&w.env)
        );
    }
}

/// Every entry of the published index before the operation that the operation has no
/// reason to change (not a dirty path; not `_catalog.db`, which the index rewrite
/// scrubs) is still published, with the same size and (when it had one) sha256: a
/// migration or a commit never loses the entries it does not touch, even half done.
pub fn check_untouched_entries_kept(w: &World, when: &str) {
    let Some(start) = &w.start_index else {
        return;
    };
    let now = published_index(&w.env).map(|i| index_view(&i));
    let entries = now.as_ref().map(|i| &i["entries"]);
    for (key, was) in start["entries"].as_object().expect("entries") {
        if w.dirty.contains(key) || key == "_catalog.db" {
            continue;
        }
        let is = entries
            .and_then(|e| e.get(key))
            .unwrap_or_else(|| panic!("{when}: {key} vanished from the published index: {now:?}"));
        assert_eq!(is["size"], was["size"], "{when}: size of {key}");
        if !was["sha256"].is_null() {
            assert_eq!(is["sha256"], was["sha256"], "{when}: sha256 of {key}");
        }
    }
}
