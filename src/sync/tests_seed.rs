//! Counterparts of the 14 tests the seed change added upstream, numbered and named after
//! them, with the key assertions of the table in
//! docs/compatibility.md#counterparts-of-the-typescript-tests.

use super::core::change::sha256_hex;
use super::tests_support::*;
use crate::paths::is_internal_cache_file;
use crate::test_doubles::{run, FakeGcs, Kind};
use crate::timefmt::format_iso_ms;

/// #1 "isInternalCacheFile: excludes _index/ partition directory" — the predicate,
/// and a push that never uploads local `_index/` files.
#[test]
fn internal_cache_file_excludes_index_partition_directory() {
    assert!(is_internal_cache_file("_index"));
    assert!(is_internal_cache_file("_index/_meta.json"));
    assert!(is_internal_cache_file("_index/data--t--m.json"));
    assert!(!is_internal_cache_file("data/index/file.json"));

    let fake = FakeGcs::new();
    let cache = TempDir::new("s01");
    cache.write("_index/data--t--m.json", b"local junk");
    cache.write("_index/_meta.json", b"local junk");
    cache.write("data/t/m/d/1/raw", b"payload");
    let svc = service(&fake, &cache, "");
    assert_eq!(push(&svc).files, 1);
    assert_eq!(uploaded_data(&fake), ["data/t/m/d/1/raw"]);
    let index = remote_index(&fake);
    assert!(index.entries.keys().all(|k| !k.starts_with("_index")));
    let shard = fake.data("_index/data--t--m.json").unwrap();
    assert!(shard.starts_with(br#"{"version":1,"entries":{"data/t/m/d/1/raw""#));
}

/// #2 "markDirty with relPath: tracks individual dirty paths".
#[test]
fn mark_dirty_with_rel_path_tracks_individual_dirty_paths() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("s02");
    let svc = service(&fake, &cache, "");
    mark(&svc, "data/aws/ec2/vpc/abc/state-main");
    mark(&svc, "./data/x/../y");
    let s = sidecar(&cache);
    assert_eq!(s["version"], 2);
    assert_eq!(s["localDirty"], true);
    assert_eq!(s["bulkInvalidated"], false);
    assert_eq!(
        s["dirtyPaths"],
        serde_json::json!(["data/aws/ec2/vpc/abc/state-main", "data/y"])
    );
    assert_eq!(
        fake.request_count(),
        0,
        "markDirty never touches the network"
    );
}

/// #3 "markDirty with relPath: caps at 200 and flips bulkInvalidated".
#[test]
fn mark_dirty_with_rel_path_caps_at_200_and_flips_bulk_invalidated() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("s03");
    let svc = service(&fake, &cache, "");
    for i in 0..200 {
        mark(&svc, &format!("data/p{i}"));
    }
    let s = sidecar(&cache);
    assert_eq!(s["bulkInvalidated"], false);
    assert_eq!(s["dirtyPaths"].as_array().unwrap().len(), 200);
    mark(&svc, "data/p200");
    let s = sidecar(&cache);
    assert_eq!(s["bulkInvalidated"], true);
    assert_eq!(s["dirtyPathsOverflowed"], true);
    assert_eq!(s["localDirty"], true);
}

/// #4 "markDirty with relPath: path-escape triggers bulkInvalidated".
#[test]
fn mark_dirty_with_rel_path_path_escape_triggers_bulk_invalidated() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("s04");
    let svc = service(&fake, &cache, "");
    mark(&svc, "../../etc/passwd");
    let s = sidecar(&cache);
    assert_eq!(s["bulkInvalidated"], true);
    assert_eq!(s["localDirty"], true);
    assert_eq!(s["dirtyPathsOverflowed"], false);
}

/// #5 "markDirty without relPath: bulk invalidation (legacy path)".
#[test]
fn mark_dirty_without_rel_path_bulk_invalidation() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("s05");
    let svc = service(&fake, &cache, "");
    run(svc.mark_dirty(&opts())).unwrap();
    let s = sidecar(&cache);
    assert_eq!(s["version"], 2);
    assert_eq!(s["bulkInvalidated"], true);
    assert_eq!(s["localDirty"], true);
}

/// #6 "pushChanged: scoped walk only visits dirty paths".
#[test]
fn push_scoped_walk_only_visits_dirty_paths() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("s06");
    cache.write("data/t/m1/d/1/raw", b"one");
    cache.write("data/t/m2/d/1/raw", b"two");
    push(&service(&fake, &cache, ""));
    cache.write("data/t/m1/d/1/raw", b"one, changed");
    cache.write("data/t/m2/d/1/raw", b"two, changed");
    cache.write("data/t/m1/d/2/raw", b"new");
    let svc = service(&fake, &cache, "");
    mark(&svc, "data/t/m1");
    fake.clear_log();
    let report = push(&svc);
    assert_eq!(report.files, 2);
    assert_eq!(
        uploaded_data(&fake),
        ["data/t/m1/d/1/raw", "data/t/m1/d/2/raw"]
    );
    assert_eq!(
        report
            .phase_detail("pushChanged.walk")
            .unwrap()
            .split(' ')
            .nth(2),
        Some("mode=scoped")
    );
}

/// #7 "pushChanged: SHA-256 content hashing prevents redundant push when only mtime
/// changed".
#[test]
fn push_sha256_prevents_redundant_push_when_only_mtime_changed() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("s07");
    cache.write("data/t/m/d/1/raw", b"hello");
    let now = mtime_ms(&cache, "data/t/m/d/1/raw");
    let older = format_iso_ms(now - 1000).unwrap();
    let sha = sha256_hex(b"hello");
    put_remote_index(&fake, &[("data/t/m/d/1/raw", 5, Some(&older), Some(&sha))]);
    fake.clear_log();
    let report = push(&service(&fake, &cache, ""));
    assert_eq!(report.files, 0);
    assert_eq!(fake.uploads(), 0);
}

/// #8 "pushChanged: SHA-256 mismatch triggers push even with same size".
#[test]
fn push_sha256_mismatch_triggers_push_even_with_same_size() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("s08");
    cache.write("data/t/m/d/1/raw", b"hello");
    let now = mtime_ms(&cache, "data/t/m/d/1/raw");
    let older = format_iso_ms(now - 1000).unwrap();
    let wrong = sha256_hex(b"jello");
    put_remote_index(
        &fake,
        &[("data/t/m/d/1/raw", 5, Some(&older), Some(&wrong))],
    );
    let report = push(&service(&fake, &cache, ""));
    assert!(report.files > 0);
    assert_eq!(fake.data("data/t/m/d/1/raw").unwrap(), b"hello");
    let entry = remote_index(&fake)
        .entries
        .get("data/t/m/d/1/raw")
        .cloned()
        .unwrap();
    assert_eq!(entry.sha256.as_deref(), Some(sha256_hex(b"hello").as_str()));
}

/// #9 "pushChanged: writes partitioned index alongside monolithic".
#[test]
fn push_writes_partitioned_index_alongside_monolithic() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("s09");
    cache.write("data/gcp/compute/instance/abc/main/1/raw", b"vm");
    cache.write("audit/log1.json", b"{}");
    push(&service(&fake, &cache, ""));
    assert!(fake.data(".datastore-index.json").is_some());
    let meta: serde_json::Value =
        serde_json::from_slice(&fake.data("_index/_meta.json").unwrap()).unwrap();
    assert_eq!(meta["version"], 1);
    let partitions = meta["partitions"].as_array().unwrap();
    assert!(!partitions.is_empty());
    let first = partitions[0].as_str().unwrap();
    let shard: serde_json::Value =
        serde_json::from_slice(&fake.data(&format!("_index/{first}.json")).unwrap()).unwrap();
    assert_eq!(shard["version"], 1);
    assert!(!shard["entries"].as_object().unwrap().is_empty());
}

/// #10 "pullChanged: scoped pull reads partition files when context.models provided".
#[test]
fn pull_scoped_reads_partition_files_when_models_provided() {
    let fake = FakeGcs::new();
    let rel = "data/gcp/compute/instance/abc/main/1/raw";
    fake.put(rel, b"vm bytes", 0);
    fake.put(
        "_index/data--gcp--compute--instance--abc.json",
        format!(r#"{{"version":1,"entries":{{"{rel}":{{"key":"{rel}","size":8,"lastModified":"2026-08-01T10:00:00.000Z"}}}}}}"#).as_bytes(),
        0,
    );
    let cache = TempDir::new("s10");
    let svc = service(&fake, &cache, "");
    let report = run(svc.pull(&models(&[("gcp/compute/instance", "abc")]))).unwrap();
    assert_eq!(report.files, 1);
    assert_eq!(cache.read(rel).unwrap(), b"vm bytes");
    assert_eq!(
        fake.count_on(Kind::Media, "_index/data--gcp--compute--instance--abc.json"),
        1
    );
    assert_eq!(fake.count_on(Kind::Media, ".datastore-index.json"), 0);
}

/// #11 "pullChanged: scoped pull falls back to monolithic when partition missing".
#[test]
fn pull_scoped_falls_back_to_monolithic_when_partition_missing() {
    let fake = FakeGcs::new();
    let rel = "data/gcp/compute/instance/abc/main/1/raw";
    put_remote_files(&fake, &[(rel, b"vm bytes")]);
    let cache = TempDir::new("s11");
    let svc = service(&fake, &cache, "");
    let report = run(svc.pull(&models(&[("gcp/compute/instance", "abc")]))).unwrap();
    assert_eq!(report.files, 1);
    assert_eq!(cache.read(rel).unwrap(), b"vm bytes");
    assert_eq!(
        fake.count_on(Kind::Media, "_index/data--gcp--compute--instance--abc.json"),
        1
    );
    assert_eq!(fake.count_on(Kind::Media, ".datastore-index.json"), 1);
}

/// #12 "capabilities: returns scopedSync true".
#[test]
fn capabilities_returns_scoped_sync_true() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("s12");
    assert!(service(&fake, &cache, "").capabilities().scoped_sync);
}

/// #13 "configurable concurrency: respects custom pullConcurrency" — all three files
/// arrive, and at most (and at least) two downloads were in flight at once.
#[test]
fn configurable_concurrency_respects_custom_pull_concurrency() {
    let fake = FakeGcs::new();
    put_remote_files(
        &fake,
        &[("audit/a", b"a"), ("audit/b", b"bb"), ("audit/c", b"ccc")],
    );
    fake.yield_each_request.set(true);
    let cache = TempDir::new("s13");
    let svc = service(&fake, &cache, r#","pullConcurrency":2"#);
    fake.clear_log();
    let report = pull(&svc);
    assert_eq!(report.files, 3);
    assert_eq!(fake.max_in_flight(), 2);
}

/// #14 "v1 sidecar migration: version 1 sidecar triggers full walk (no dirtyPaths)".
#[test]
fn v1_sidecar_triggers_full_walk() {
    let fake = FakeGcs::new();
    put_remote_files(&fake, &[("audit/old", b"old")]);
    let cache = TempDir::new("s14");
    cache.write("audit/old", b"old");
    cache.write("data/t/m/d/1/raw", b"unindexed");
    cache.write(
        ".datastore-sync-state.json",
        br#"{"version":1,"remoteIndexGeneration":"1","lastVerifiedAt":"2026-08-01T10:00:00.000Z","localDirty":true}"#,
    );
    let report = push(&service(&fake, &cache, ""));
    assert_eq!(report.files, 1);
    assert!(report
        .phase_detail("pushChanged.walk")
        .unwrap()
        .contains("mode=full"));
    assert!(remote_index(&fake).entries.contains("data/t/m/d/1/raw"));
    assert_eq!(sidecar(&cache)["version"], 2);
}

fn mtime_ms(cache: &TempDir, rel: &str) -> i64 {
    super::tests_support::stat_of(cache, rel)
        .unwrap()
        .unwrap()
        .mtime_ms
        .unwrap()
}
