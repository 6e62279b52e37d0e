//! Counterparts of the 14 partitioning and dirty-path tests the seed change added to the
//! TypeScript client (listed in `docs/compatibility.md#counterparts-of-the-typescript-tests`),
//! numbered and named after them, with their key assertions. #13 (`pullConcurrency`)
//! measures concurrency, which each side observes its own way, so it is not here.

use crate::driver::{Driver, Kind, Service as _};
use crate::support::*;
use crate::Cache;

/// #1 "isInternalCacheFile: excludes _index/ partition directory": local `_index/` files
/// (and the other internal names, `docs/sync.md#internal-files`) are never uploaded nor
/// indexed; the remote `_index/` objects are the ones the push generated.
pub async fn internal_cache_file_excludes_index_partition_directory<D: Driver>(d: &mut D) {
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
    let mut ds = d.open(&cache, "").await;
    d.reset();
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!(report.files, 1);
    assert_eq!(
        d.names().await,
        [
            INDEX,
            "_index/_meta.json",
            "_index/data--t--m.json",
            "data/t/m/d/1/raw"
        ],
        "only the data file and the generated index objects"
    );
    assert_eq!(d.index_keys().await, ["data/t/m/d/1/raw"]);
    let shard_bytes = d.must_get("_index/data--t--m.json").await;
    assert!(
        shard_bytes.starts_with(br#"{"version":1,"entries":{"data/t/m/d/1/raw""#),
        "{}",
        String::from_utf8_lossy(&shard_bytes)
    );
    let shard = d.json("_index/data--t--m.json").await;
    assert_eq!(shard["version"], 1);
    assert_eq!(keys_of(&shard["entries"]), ["data/t/m/d/1/raw"]);
    assert_eq!(
        d.json(META).await["partitions"],
        serde_json::json!(["data--t--m"])
    );
    assert_eq!(
        d.puts(),
        4,
        "data, monolith, one partition, meta: {}",
        d.summary()
    );
}

/// #2 "markDirty with relPath: tracks individual dirty paths": a v2 sidecar with
/// `localDirty`, no bulk flag, the normalised paths in order; no request; idempotent.
pub async fn mark_dirty_with_rel_path_tracks_individual_dirty_paths<D: Driver>(d: &mut D) {
    let cache = Cache::new();
    let mut ds = d.open(&cache, "").await;
    d.reset();
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
    assert_eq!(d.total(), 0, "markDirty never touches the network");
}

/// #3 "markDirty with relPath: caps at 200 and flips bulkInvalidated": 200 distinct paths
/// fit, the 201st sets `bulkInvalidated` (and `dirtyPathsOverflowed`).
pub async fn mark_dirty_with_rel_path_caps_at_200_and_flips_bulk_invalidated<D: Driver>(d: &mut D) {
    let cache = Cache::new();
    let mut ds = d.open(&cache, "").await;
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
pub async fn mark_dirty_with_rel_path_path_escape_triggers_bulk_invalidated<D: Driver>(d: &mut D) {
    let cache = Cache::new();
    let mut ds = d.open(&cache, "").await;
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
pub async fn mark_dirty_without_rel_path_bulk_invalidation_legacy_path<D: Driver>(d: &mut D) {
    let cache = Cache::new();
    cache.write("audit/a.json", b"a");
    let mut ds = d.open(&cache, "").await;
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
    assert!(report.phase("pushChanged.walk").contains("mode=full"));
    assert_eq!(report.files, 1);
}

/// #6 "pushChanged: scoped walk only visits dirty paths": only files under the dirty
/// directory are uploaded; a changed file elsewhere waits.
pub async fn push_scoped_walk_only_visits_dirty_paths<D: Driver>(d: &mut D) {
    let cache = Cache::new();
    cache.write("data/t/m1/d/1/raw", b"one");
    cache.write("data/t/m2/d/1/raw", b"two");
    d.open(&cache, "").await.push(&opts()).await.unwrap();
    cache.write("data/t/m1/d/1/raw", b"one, changed");
    cache.write("data/t/m2/d/1/raw", b"two, changed");
    cache.write("data/t/m1/d/2/raw", b"new");
    let mut ds = d.open(&cache, "").await;
    ds.mark_dirty(&rel("data/t/m1")).await.unwrap();
    let before = d.objects().await;
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!(report.files, 2);
    assert_eq!(
        report.phase("pushChanged.walk").split(' ').nth(2),
        Some("mode=scoped"),
        "{}",
        report.phase("pushChanged.walk")
    );
    let mut uploaded = data_only(written_between(&before, &d.objects().await));
    uploaded.sort(); // uploads run concurrently
    assert_eq!(uploaded, ["data/t/m1/d/1/raw", "data/t/m1/d/2/raw"]);
    assert_eq!(d.must_get("data/t/m2/d/1/raw").await, b"two");
}

/// #7 "pushChanged: SHA-256 content hashing prevents redundant push when only mtime
/// changed": same size, `localMtime` one second older, correct `sha256` → nothing pushed.
pub async fn push_sha256_prevents_redundant_push_when_only_mtime_changed<D: Driver>(d: &mut D) {
    let cache = Cache::new();
    let rel_path = "data/t/m/d/1/raw";
    cache.write(rel_path, b"hello");
    let older = iso_ms(cache.mtime_ms(rel_path) - 1000);
    let sha = sha256_hex(b"hello");
    d.put(rel_path, b"hello").await;
    d.put(INDEX, &ts_index(&[(rel_path, 5, Some(&older), Some(&sha))]))
        .await;
    let mut ds = d.open(&cache, "").await;
    d.reset();
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!(report.files, 0);
    assert_eq!(d.puts(), 0, "{}", d.summary());
}

/// #8 "pushChanged: SHA-256 mismatch triggers push even with same size".
pub async fn push_sha256_mismatch_triggers_push_even_with_same_size<D: Driver>(d: &mut D) {
    let cache = Cache::new();
    let rel_path = "data/t/m/d/1/raw";
    cache.write(rel_path, b"hello");
    let older = iso_ms(cache.mtime_ms(rel_path) - 1000);
    let wrong = sha256_hex(b"jello");
    d.put(rel_path, b"jello").await;
    d.put(
        INDEX,
        &ts_index(&[(rel_path, 5, Some(&older), Some(&wrong))]),
    )
    .await;
    let report = d.open(&cache, "").await.push(&opts()).await.unwrap();
    assert!(report.files > 0);
    assert_eq!(d.must_get(rel_path).await, b"hello");
    let index = d.json(INDEX).await;
    assert_eq!(
        index["entries"][rel_path]["sha256"],
        sha256_hex(b"hello").as_str()
    );
}

/// #9 "pushChanged: writes partitioned index alongside monolithic": the monolith,
/// `_index/_meta.json` (version 1, non-empty partitions) and the first listed partition
/// (version 1, non-empty entries) exist after a push.
pub async fn push_writes_partitioned_index_alongside_monolithic<D: Driver>(d: &mut D) {
    let cache = Cache::new();
    cache.write("data/gcp/compute/instance/abc/main/1/raw", b"vm");
    cache.write("audit/log1.json", b"{}");
    d.open(&cache, "").await.push(&opts()).await.unwrap();
    assert!(d.get(INDEX).await.is_some());
    let meta = d.json(META).await;
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
    let first = d.json(&format!("_index/{}.json", partitions[0])).await;
    assert_eq!(first["version"], 1);
    assert!(!first["entries"].as_object().unwrap().is_empty());
    for p in &partitions {
        assert!(d.get(&format!("_index/{p}.json")).await.is_some(), "{p}");
    }
}

const VM: &str = "data/gcp/compute/instance/abc/main/1/raw";
const VM_PARTITION: &str = "_index/data--gcp--compute--instance--abc.json";

/// #10 "pullChanged: scoped pull reads partition files when context.models provided":
/// `{gcp/compute/instance, abc}` reads `_index/data--gcp--compute--instance--abc.json`
/// (once) and downloads its file; the monolith is never touched.
pub async fn pull_scoped_pull_reads_partition_files_when_context_models_provided<D: Driver>(
    d: &mut D,
) {
    d.put(VM, b"vm bytes").await;
    let shard = format!(
        r#"{{"version":1,"entries":{{"{VM}":{{"key":"{VM}","size":8,"lastModified":"2026-08-01T10:00:00.000Z"}}}}}}"#
    );
    d.put(VM_PARTITION, shard.as_bytes()).await;
    let cache = Cache::new();
    let mut ds = d.open(&cache, "").await;
    d.reset();
    let report = ds
        .pull(&models(&[("gcp/compute/instance", "abc")]))
        .await
        .unwrap();
    assert_eq!(report.files, 1);
    assert_eq!(cache.read(VM), b"vm bytes");
    let downloads = d.objects_of(Kind::Download);
    assert_eq!(downloads[0], VM_PARTITION);
    assert_eq!(d.count_on(Kind::Download, VM_PARTITION), 1);
    assert!(downloads.contains(&VM.to_string()));
    assert!(
        d.requests().iter().all(|r| r.object != INDEX),
        "the monolith is not read: {:?}",
        d.requests()
    );
}

/// #11 "pullChanged: scoped pull falls back to monolithic when partition missing": the
/// partition is read first (404), then the monolith, once each.
pub async fn pull_scoped_pull_falls_back_to_monolithic_when_partition_missing<D: Driver>(
    d: &mut D,
) {
    put_remote_files(d, &[(VM, b"vm bytes")]).await;
    let cache = Cache::new();
    let mut ds = d.open(&cache, "").await;
    d.reset();
    let report = ds
        .pull(&models(&[("gcp/compute/instance", "abc")]))
        .await
        .unwrap();
    assert_eq!(report.files, 1);
    assert_eq!(cache.read(VM), b"vm bytes");
    let downloads = d.objects_of(Kind::Download);
    let partition_at = downloads.iter().position(|o| o == VM_PARTITION);
    let index_at = downloads.iter().position(|o| o == INDEX);
    assert!(
        matches!((partition_at, index_at), (Some(p), Some(i)) if p < i),
        "partition first (404), then the monolith: {downloads:?}"
    );
    assert_eq!(
        (
            d.count_on(Kind::Download, VM_PARTITION),
            d.count_on(Kind::Download, INDEX)
        ),
        (1, 1)
    );
    assert!(report
        .phase("pullChanged.pullIndex")
        .starts_with("fallback"));
}

/// #12 "capabilities: returns scopedSync true" (and nothing it does not implement),
/// without a request.
pub async fn capabilities_returns_scoped_sync_true<D: Driver>(d: &mut D) {
    let cache = Cache::new();
    let mut ds = d.open(&cache, "").await;
    d.reset();
    let caps = ds.capabilities().await.unwrap();
    assert!(caps.scoped_sync);
    assert!(caps.two_phase_sync && caps.preview_push);
    assert!(caps.control_plane, "the control-plane store is implemented");
    assert_eq!(d.total(), 0);
}

/// #14 "v1 sidecar migration: version 1 sidecar triggers full walk (no dirtyPaths)": with
/// the v1 fixture (`localDirty: true`) in the cache, a push walks everything and uploads
/// an unindexed file; the sidecar is v2 afterwards.
pub async fn v1_sidecar_migration_version_1_sidecar_triggers_full_walk<D: Driver>(d: &mut D) {
    put_remote_files(d, &[("audit/old", b"old")]).await;
    let cache = Cache::new();
    cache.write("audit/old", b"old");
    cache.write("data/t/m/d/1/raw", b"unindexed");
    cache.write(SIDECAR, &fixture("sidecar-v1.json"));
    let mut ds = d.open(&cache, "").await;
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
    assert!(report.phase("pushChanged.walk").contains("mode=full"));
    assert!(d
        .index_keys()
        .await
        .contains(&"data/t/m/d/1/raw".to_string()));
    assert_eq!(sidecar(&cache)["version"], 2);
}
