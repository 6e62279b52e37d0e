//! Counterparts of the 14 partitioning and dirty-path tests of the TypeScript client
//! (listed in `docs/compatibility.md#counterparts-of-the-typescript-tests`), numbered and
//! named after them, with their key assertions. None needs a
//! precondition, so each runs on the in-process fake and on fake-gcs-server.

use crate::common::*;
use crate::sync::support::*;
use gcs_host::faults::{FaultAction, FaultMatch, FaultRule};
use gcs_host::traffic::RequestKind;
use std::time::Duration;

on_both_servers!(
    internal_cache_file_excludes_index_partition_directory,
    mark_dirty_with_rel_path_tracks_individual_dirty_paths,
    mark_dirty_with_rel_path_caps_at_200_and_flips_bulk_invalidated,
    mark_dirty_with_rel_path_path_escape_triggers_bulk_invalidated,
    mark_dirty_without_rel_path_bulk_invalidation_legacy_path,
    push_scoped_walk_only_visits_dirty_paths,
    push_sha256_prevents_redundant_push_when_only_mtime_changed,
    push_sha256_mismatch_triggers_push_even_with_same_size,
    push_writes_partitioned_index_alongside_monolithic,
    pull_scoped_pull_reads_partition_files_when_context_models_provided,
    pull_scoped_pull_falls_back_to_monolithic_when_partition_missing,
    capabilities_returns_scoped_sync_true,
    configurable_concurrency_respects_custom_pull_concurrency,
    v1_sidecar_migration_version_1_sidecar_triggers_full_walk,
);

/// #1 "isInternalCacheFile: excludes _index/ partition directory": local `_index/` files (and the
/// other internal names, `docs/sync.md#internal-files`) are never uploaded nor indexed; the remote
/// `_index/` objects are the ones the push generated.
async fn internal_cache_file_excludes_index_partition_directory(mut env: Env) {
    let cache = Cache::new();
    for internal in [
        "_index/data--t--m.json",
        "_index/_meta.json",
        ".push-queue.json",
        ".datastore.lock",
        "_control/record.json",
        "data/t/m/.lock",
        "data/t/m/_catalog.db",
    ] {
        cache.write(internal, b"local junk");
    }
    cache.write("data/t/m/d/1/raw", b"payload");
    let mut ds = env.open(&cache, "").await;
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!(report.files, 1);
    assert_eq!(
        env.names().await,
        [
            INDEX,
            "_index/_meta.json",
            "_index/data--t--m.json",
            "data/t/m/d/1/raw"
        ],
        "only the data file and the generated index objects"
    );
    assert_eq!(env.index_keys().await, ["data/t/m/d/1/raw"]);
    let shard = env.json("_index/data--t--m.json").await;
    assert_eq!(shard["version"], 1);
    assert_eq!(keys_of(&shard["entries"]), ["data/t/m/d/1/raw"]);
    assert_eq!(
        env.json(META).await["partitions"],
        serde_json::json!(["data--t--m"])
    );
    assert_eq!(
        env.puts(),
        4,
        "data, monolith, one partition, meta: {}",
        env.snap().summary()
    );
}

/// #2 "markDirty with relPath: tracks individual dirty paths": a v2 sidecar with
/// `localDirty`, no bulk flag, the normalised paths in order; no request; idempotent.
async fn mark_dirty_with_rel_path_tracks_individual_dirty_paths(env: Env) {
    let cache = Cache::new();
    let mut ds = env.open(&cache, "").await;
    env.reset();
    ds.mark_dirty(&rel("data/aws/ec2/vpc/abc/state-main"))
        .await
        .unwrap();
    ds.mark_dirty(&rel("./data/x/../y")).await.unwrap();
    let s = sidecar(&cache);
    assert_eq!(s["version"], 2);
    assert_eq!(s["localDirty"], true);
    assert_eq!(s["bulkInvalidated"], false);
    assert_eq!(
        s["dirtyPaths"],
        serde_json::json!(["data/aws/ec2/vpc/abc/state-main", "data/y"])
    );
    let bytes = cache.read(SIDECAR);
    ds.mark_dirty(&rel("data/y")).await.unwrap();
    assert_eq!(cache.read(SIDECAR), bytes, "marking again changes nothing");
    assert_eq!(env.snap().total, 0, "markDirty never touches the network");
}

/// #3 "markDirty with relPath: caps at 200 and flips bulkInvalidated": 200 distinct paths
/// fit, the 201st sets `bulkInvalidated` (and `dirtyPathsOverflowed`).
async fn mark_dirty_with_rel_path_caps_at_200_and_flips_bulk_invalidated(env: Env) {
    let cache = Cache::new();
    let mut ds = env.open(&cache, "").await;
    for i in 0..200 {
        ds.mark_dirty(&rel(&format!("data/p{i}"))).await.unwrap();
    }
    let s = sidecar(&cache);
    assert_eq!(s["bulkInvalidated"], false);
    assert_eq!(s["dirtyPaths"].as_array().unwrap().len(), 200);
    ds.mark_dirty(&rel("data/p200")).await.unwrap();
    let s = sidecar(&cache);
    assert_eq!(s["version"], 2);
    assert_eq!(s["localDirty"], true);
    assert_eq!(s["bulkInvalidated"], true);
    assert_eq!(s["dirtyPathsOverflowed"], true);
    let status = ds.status(&opts()).await.unwrap();
    assert_eq!(status.walk, "full", "bulk means a full walk");
}

/// #4 "markDirty with relPath: path-escape triggers bulkInvalidated": `../../etc/passwd`
/// sets the bulk flag (not the overflow flag) and nothing is touched outside the cache.
async fn mark_dirty_with_rel_path_path_escape_triggers_bulk_invalidated(env: Env) {
    let cache = Cache::new();
    let mut ds = env.open(&cache, "").await;
    ds.mark_dirty(&rel("../../etc/passwd")).await.unwrap();
    let s = sidecar(&cache);
    assert_eq!(s["version"], 2);
    assert_eq!(s["bulkInvalidated"], true);
    assert_eq!(s["localDirty"], true);
    assert_eq!(s["dirtyPathsOverflowed"], false);
    assert_eq!(s["dirtyPaths"], serde_json::json!([]));
    assert_eq!(cache.outside_names(), ["cache"]);
}

/// #5 "markDirty without relPath: bulk invalidation (legacy path)": a v2 sidecar with
/// `localDirty` and `bulkInvalidated`, and the next push walks everything.
async fn mark_dirty_without_rel_path_bulk_invalidation_legacy_path(env: Env) {
    let cache = Cache::new();
    cache.write("audit/a.json", b"a");
    let mut ds = env.open(&cache, "").await;
    ds.push(&opts()).await.unwrap();
    assert_eq!(sidecar(&cache)["localDirty"], false);
    ds.mark_dirty(&opts()).await.unwrap();
    let s = sidecar(&cache);
    assert_eq!(s["version"], 2);
    assert_eq!(s["localDirty"], true);
    assert_eq!(s["bulkInvalidated"], true);
    assert_eq!(s["dirtyPathsOverflowed"], false);
    cache.write("workflow-runs/wf-1/run.yaml", b"run");
    let report = ds.push(&opts()).await.unwrap();
    assert!(!report.fast_path);
    assert!(phase(&report, "pushChanged.walk").contains("mode=full"));
    assert_eq!(report.files, 1);
}

/// #6 "pushChanged: scoped walk only visits dirty paths": only files under the dirty
/// directory are uploaded; a changed file elsewhere waits.
async fn push_scoped_walk_only_visits_dirty_paths(mut env: Env) {
    let cache = Cache::new();
    cache.write("data/t/m1/d/1/raw", b"one");
    cache.write("data/t/m2/d/1/raw", b"two");
    env.open(&cache, "").await.push(&opts()).await.unwrap();
    cache.write("data/t/m1/d/1/raw", b"one, changed");
    cache.write("data/t/m2/d/1/raw", b"two, changed");
    cache.write("data/t/m1/d/2/raw", b"new");
    let mut ds = env.open(&cache, "").await;
    ds.mark_dirty(&rel("data/t/m1")).await.unwrap();
    let before = env.objects().await;
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!(report.files, 2);
    assert!(phase(&report, "pushChanged.walk").contains("mode=scoped"));
    let mut uploaded = data_only(written_between(&before, &env.objects().await));
    uploaded.sort(); // uploads run concurrently
    assert_eq!(uploaded, ["data/t/m1/d/1/raw", "data/t/m1/d/2/raw"]);
    assert_eq!(env.must_get("data/t/m2/d/1/raw").await, b"two");
}

/// #7 "pushChanged: SHA-256 content hashing prevents redundant push when only mtime
/// changed": same size, `localMtime` one second older, correct `sha256` → nothing pushed.
async fn push_sha256_prevents_redundant_push_when_only_mtime_changed(mut env: Env) {
    let cache = Cache::new();
    let rel_path = "data/t/m/d/1/raw";
    cache.write(rel_path, b"hello");
    let older = iso_ms(mtime_ms(&cache.file(rel_path)) - 1000);
    let sha = sha256_hex(b"hello");
    env.put(rel_path, b"hello").await;
    env.put(INDEX, &ts_index(&[(rel_path, 5, Some(&older), Some(&sha))]))
        .await;
    let mut ds = env.open(&cache, "").await;
    env.reset();
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!(report.files, 0);
    assert_eq!(env.puts(), 0, "{}", env.snap().summary());
}

/// #8 "pushChanged: SHA-256 mismatch triggers push even with same size".
async fn push_sha256_mismatch_triggers_push_even_with_same_size(mut env: Env) {
    let cache = Cache::new();
    let rel_path = "data/t/m/d/1/raw";
    cache.write(rel_path, b"hello");
    let older = iso_ms(mtime_ms(&cache.file(rel_path)) - 1000);
    let wrong = sha256_hex(b"jello");
    env.put(rel_path, b"jello").await;
    env.put(
        INDEX,
        &ts_index(&[(rel_path, 5, Some(&older), Some(&wrong))]),
    )
    .await;
    let report = env.open(&cache, "").await.push(&opts()).await.unwrap();
    assert!(report.files > 0);
    assert_eq!(env.must_get(rel_path).await, b"hello");
    let index = env.json(INDEX).await;
    assert_eq!(
        index["entries"][rel_path]["sha256"],
        sha256_hex(b"hello").as_str()
    );
}

/// #9 "pushChanged: writes partitioned index alongside monolithic": the monolith,
/// `_index/_meta.json` (version 1, non-empty partitions) and the first listed partition
/// (version 1, non-empty entries) exist after a push.
async fn push_writes_partitioned_index_alongside_monolithic(mut env: Env) {
    let cache = Cache::new();
    cache.write("data/gcp/compute/instance/abc/main/1/raw", b"vm");
    cache.write("audit/log1.json", b"{}");
    env.open(&cache, "").await.push(&opts()).await.unwrap();
    assert!(env.get(INDEX).await.is_some());
    let meta = env.json(META).await;
    assert_eq!(meta["version"], 1);
    let partitions: Vec<&str> = meta["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(!partitions.is_empty());
    let mut sorted = partitions.clone();
    sorted.sort();
    assert_eq!(sorted, ["audit", "data--gcp--compute--instance--abc"]);
    let first = env.json(&format!("_index/{}.json", partitions[0])).await;
    assert_eq!(first["version"], 1);
    assert!(!first["entries"].as_object().unwrap().is_empty());
    for p in &partitions {
        assert!(env.get(&format!("_index/{p}.json")).await.is_some(), "{p}");
    }
}

const VM: &str = "data/gcp/compute/instance/abc/main/1/raw";
const VM_PARTITION: &str = "_index/data--gcp--compute--instance--abc.json";

/// #10 "pullChanged: scoped pull reads partition files when context.models provided":
/// `{gcp/compute/instance, abc}` reads `_index/data--gcp--compute--instance--abc.json`
/// and downloads its file; the monolith is never touched.
async fn pull_scoped_pull_reads_partition_files_when_context_models_provided(mut env: Env) {
    env.put(VM, b"vm bytes").await;
    let shard = format!(
        r#"{{"version":1,"entries":{{"{VM}":{{"key":"{VM}","size":8,"lastModified":"2026-08-01T10:00:00.000Z"}}}}}}"#
    );
    env.put(VM_PARTITION, shard.as_bytes()).await;
    let cache = Cache::new();
    let mut ds = env.open(&cache, "").await;
    env.reset();
    let report = ds
        .pull(&models(&[("gcp/compute/instance", "abc")]))
        .await
        .unwrap();
    assert_eq!(report.files, 1);
    assert_eq!(cache.read(VM), b"vm bytes");
    let downloads = env.objects_of(RequestKind::Download);
    assert_eq!(downloads[0], VM_PARTITION);
    assert!(downloads.contains(&VM.to_string()));
    assert!(
        env.log().iter().all(|r| r.object != INDEX),
        "the monolith is not read: {:?}",
        env.log()
    );
}

/// #11 "pullChanged: scoped pull falls back to monolithic when partition missing".
async fn pull_scoped_pull_falls_back_to_monolithic_when_partition_missing(mut env: Env) {
    put_remote_files(&mut env, &[(VM, b"vm bytes")]).await;
    let cache = Cache::new();
    let mut ds = env.open(&cache, "").await;
    env.reset();
    let report = ds
        .pull(&models(&[("gcp/compute/instance", "abc")]))
        .await
        .unwrap();
    assert_eq!(report.files, 1);
    assert_eq!(cache.read(VM), b"vm bytes");
    let downloads = env.objects_of(RequestKind::Download);
    let partition_at = downloads.iter().position(|o| o == VM_PARTITION);
    let index_at = downloads.iter().position(|o| o == INDEX);
    assert!(
        matches!((partition_at, index_at), (Some(p), Some(i)) if p < i),
        "partition first (404), then the monolith: {downloads:?}"
    );
    assert!(phase(&report, "pullChanged.pullIndex").starts_with("fallback"));
}

/// #12 "capabilities: returns scopedSync true".
async fn capabilities_returns_scoped_sync_true(env: Env) {
    let cache = Cache::new();
    let mut ds = env.open(&cache, "").await;
    env.reset();
    let caps = ds.capabilities().await.unwrap();
    assert!(caps.scoped_sync);
    assert!(!caps.two_phase_sync && !caps.preview_push && !caps.control_plane);
    assert_eq!(env.snap().total, 0);
}

/// #13 "configurable concurrency: respects custom pullConcurrency": with
/// `pullConcurrency: 2` all three files are pulled, and (every download delayed 500 ms)
/// the downloads take two rounds: not three at once, not one at a time.
async fn configurable_concurrency_respects_custom_pull_concurrency(mut env: Env) {
    put_remote_files(
        &mut env,
        &[("audit/a", b"a"), ("audit/b", b"bb"), ("audit/c", b"ccc")],
    )
    .await;
    env.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Download).object("audit/"),
        FaultAction::Delay(Duration::from_millis(500)),
        None,
    ));
    let cache = Cache::new();
    let mut ds = env.open(&cache, r#""pullConcurrency":2"#).await;
    let report = ds.pull(&opts()).await.unwrap();
    assert_eq!(report.files, 3);
    assert_eq!(cache.read("audit/c"), b"ccc");
    let ms = phase_millis(&report, "pullChanged.download");
    assert!(
        (1000.0..1500.0).contains(&ms),
        "two rounds of 500 ms expected, downloads took {ms} ms"
    );
}

/// #14 "v1 sidecar migration: version 1 sidecar triggers full walk (no dirtyPaths)": with
/// the v1 fixture (`localDirty: true`) in the cache, a push walks everything and uploads
/// an unindexed file; the sidecar is v2 afterwards.
async fn v1_sidecar_migration_version_1_sidecar_triggers_full_walk(mut env: Env) {
    put_remote_files(&mut env, &[("audit/old", b"old")]).await;
    let cache = Cache::new();
    cache.write("audit/old", b"old");
    cache.write("data/t/m/d/1/raw", b"unindexed");
    cache.write(SIDECAR, &fixture("sidecar-v1.json"));
    let mut ds = env.open(&cache, "").await;
    let status = ds.status(&opts()).await.unwrap();
    assert_eq!(
        (
            status.sidecar_version,
            status.local_dirty,
            status.walk.as_str()
        ),
        (1, true, "full")
    );
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!(report.files, 1);
    assert!(phase(&report, "pushChanged.walk").contains("mode=full"));
    assert!(env
        .index_keys()
        .await
        .contains(&"data/t/m/d/1/raw".to_string()));
    assert_eq!(sidecar(&cache)["version"], 2);
}
