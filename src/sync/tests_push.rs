//! Push counterparts of the upstream `[seed]` sync tests and the later absence-deletion
//! tests, each doc comment quoting the TypeScript test it mirrors
//! (docs/compatibility.md#counterparts-of-the-typescript-tests).

use super::tests_support::*;
use crate::error::ErrorKind;
use crate::test_doubles::{run, FakeGcs, Kind};

// ----- internal files and scrub -----

/// "pushChanged: skips _catalog.db and its WAL/SHM sidecars".
#[test]
fn push_skips_catalog_db_and_its_wal_shm_sidecars() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("a-catalog");
    for f in [
        "_catalog.db",
        "_catalog.db-wal",
        "_catalog.db-shm",
        "ns/_catalog.db-journal",
    ] {
        cache.write(f, b"sqlite");
    }
    cache.write("data/t/m/d/1/raw", b"x");
    push(&service(&fake, &cache, ""));
    assert_eq!(uploaded_data(&fake), ["data/t/m/d/1/raw"]);
}

/// "pushChanged: still skips .datastore-index.json/.push-queue.json/.datastore.lock" —
/// plus per-target `.lock` files and the sidecar itself.
#[test]
fn push_still_skips_index_push_queue_lock_and_sidecar_files() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("a-internal");
    for f in [
        ".datastore-index.json",
        ".push-queue.json",
        ".datastore.lock",
        "data/t/m/.lock",
        "x/.namespace.json",
    ] {
        cache.write(f, b"{}");
    }
    let svc = service(&fake, &cache, "");
    mark(&svc, "data");
    run(svc.mark_dirty(&opts())).unwrap();
    cache.write("data/t/m/d/1/raw", b"x");
    push(&svc);
    assert_eq!(uploaded_data(&fake), ["data/t/m/d/1/raw"]);
    assert!(fake.data(".datastore-sync-state.json").is_none());
}

/// "pushChanged: scrubs remote zombies and writes back clean, second call is quiet".
#[test]
fn push_scrubs_remote_zombies_and_writes_back_clean_second_call_is_quiet() {
    let fake = FakeGcs::new();
    put_remote_index(
        &fake,
        &[("_catalog.db", 9, None, None), ("audit/ok", 2, None, None)],
    );
    fake.put("audit/ok", b"ok", 0);
    let cache = TempDir::new("a-zombie");
    cache.write("audit/ok", b"ok");
    let report = push(&service(&fake, &cache, ""));
    assert_eq!(report.files, 0);
    let index = remote_index(&fake);
    assert_eq!(index.entries.keys().collect::<Vec<_>>(), ["audit/ok"]);
    fake.clear_log();
    assert!(push(&service(&fake, &cache, "")).fast_path);
    assert_eq!(fake.request_count(), 1);
}

// ----- discovery -----

/// "pushChanged: against unindexed populated bucket builds a complete index" — in one
/// index write (the discovered entries are merged with ours, not published twice).
#[test]
fn push_against_unindexed_populated_bucket_builds_a_complete_index() {
    let fake = FakeGcs::new();
    fake.put("audit/a", b"a", 0);
    fake.put("data/t/m/d/1/raw", b"raw", 0);
    fake.put(".datastore.lock", b"{}", 0);
    let cache = TempDir::new("b-discover-push");
    cache.write("audit/mine", b"mine");
    let report = push(&service(&fake, &cache, ""));
    assert_eq!(report.files, 1);
    assert_eq!(report.phase_detail("pullIndex.discover"), Some("n=2"));
    let index = remote_index(&fake);
    let keys: Vec<&str> = index.entries.keys().collect();
    assert_eq!(keys, ["audit/a", "data/t/m/d/1/raw", "audit/mine"]);
    assert_eq!(fake.count_on(Kind::Upload, ".datastore-index.json"), 1);
    let put = fake
        .log()
        .into_iter()
        .find(|r| r.name == ".datastore-index.json" && r.kind == Kind::Upload)
        .unwrap();
    assert_eq!(
        put.if_generation_match.as_deref(),
        Some("0"),
        "create-only: nobody published meanwhile"
    );
}

// ----- merge onto the remote index, error propagation -----

/// "pushChanged: preserves remote index entries for files absent from local cache".
#[test]
fn push_preserves_remote_index_entries_for_files_absent_from_local_cache() {
    let fake = FakeGcs::new();
    put_remote_files(&fake, &[("audit/theirs", b"theirs")]);
    let cache = TempDir::new("c-preserve");
    cache.write("audit/mine", b"mine");
    push(&service(&fake, &cache, ""));
    let index = remote_index(&fake);
    assert!(index.entries.contains("audit/theirs") && index.entries.contains("audit/mine"));
    assert!(fake.data("audit/theirs").is_some());
    assert_eq!(fake.count(Kind::Delete), 0);
}

/// "pushChanged: propagates non-NotFound remote errors and skips writeback" (a failed
/// index read is never an empty index:
/// docs/hazards.md#index-read-errors-taken-as-an-empty-index).
#[test]
fn push_propagates_non_not_found_remote_errors_and_skips_writeback() {
    for status in [503u16, 403] {
        let fake = FakeGcs::new();
        put_remote_files(&fake, &[("audit/theirs", b"theirs")]);
        let before = fake.data(".datastore-index.json");
        fake.fail(".datastore-index.json", Kind::Download, status, 10);
        let cache = TempDir::new("c-error");
        cache.write("audit/mine", b"mine");
        let err =
            run(service(&fake, &cache, r#","retryMaxAttempts":2"#).push(&opts())).unwrap_err();
        assert!(
            err.message()
                .starts_with("push: read remote index .datastore-index.json"),
            "{}",
            err.message()
        );
        assert!(
            err.message().contains(&status.to_string()),
            "{}",
            err.message()
        );
        assert_eq!(fake.uploads(), 0, "nothing uploaded, nothing written back");
        assert_eq!(fake.data(".datastore-index.json"), before);
    }
}

// ----- absence-on-disk deletion -----

/// "pushChanged: scoped walk deletes absent dirty path from GCS and index".
#[test]
fn push_scoped_walk_deletes_absent_dirty_path_from_gcs_and_index() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("d-absent");
    cache.write("data/t/m/d/1/raw", b"one");
    cache.write("data/t/m/d/2/raw", b"two");
    push(&service(&fake, &cache, ""));
    let svc = service(&fake, &cache, "");
    mark(&svc, "data/t/m/d/2");
    cache.remove("data/t/m/d/2");
    let report = push(&svc);
    assert_eq!((report.files, report.deleted), (0, 1));
    assert!(fake.data("data/t/m/d/2/raw").is_none());
    assert!(!remote_index(&fake).entries.contains("data/t/m/d/2/raw"));
    assert!(fake.data("data/t/m/d/1/raw").is_some());
}

/// "pushChanged: bulk markDirty (no relPath) does NOT delete orphaned index entries".
#[test]
fn push_bulk_mark_dirty_does_not_delete_orphaned_index_entries() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("d-bulk");
    cache.write("audit/a", b"a");
    cache.write("audit/b", b"b");
    push(&service(&fake, &cache, ""));
    cache.remove("audit/b");
    let svc = service(&fake, &cache, "");
    run(svc.mark_dirty(&opts())).unwrap();
    assert_eq!(push(&svc).deleted, 0);
    assert!(fake.data("audit/b").is_some());
    assert!(remote_index(&fake).entries.contains("audit/b"));
}

/// "pushChanged: no markDirty means no deletion (reader-side safety)".
#[test]
fn push_no_mark_dirty_means_no_deletion() {
    let fake = FakeGcs::new();
    put_remote_files(&fake, &[("audit/a", b"a"), ("audit/b", b"b")]);
    let cache = TempDir::new("d-reader");
    cache.write("audit/a", b"a");
    let report = push(&service(&fake, &cache, ""));
    assert_eq!(report.deleted, 0);
    assert!(fake.data("audit/b").is_some());
}

/// "pushChanged: scoped walk detects partial deletion inside surviving directory".
#[test]
fn push_scoped_walk_detects_partial_deletion_inside_surviving_directory() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("d-partial");
    cache.write("data/t/m/d/1/raw", b"one");
    cache.write("data/t/m/d/2/raw", b"two");
    push(&service(&fake, &cache, ""));
    cache.remove("data/t/m/d/2/raw");
    let svc = service(&fake, &cache, "");
    mark(&svc, "data/t/m");
    let report = push(&svc);
    assert_eq!((report.files, report.deleted), (0, 1));
    assert!(fake.data("data/t/m/d/2/raw").is_none());
    assert!(fake.data("data/t/m/d/1/raw").is_some());
}

/// Only after an overflow does a full walk delete orphans
/// (docs/hazards.md#deletion-without-a-dirty-signal).
#[test]
fn push_overflow_full_walk_deletes_orphans() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("d-overflow");
    cache.write("audit/a", b"a");
    cache.write("audit/gone", b"g");
    push(&service(&fake, &cache, ""));
    cache.remove("audit/gone");
    let svc = service(&fake, &cache, "");
    for i in 0..201 {
        mark(&svc, &format!("data/p{i}"));
    }
    assert_eq!(push(&svc).deleted, 1);
    assert!(fake.data("audit/gone").is_none());
}

// ----- fast path, sidecar, markSynced gates, markDirty basics -----

/// "pushChanged: post-verified second call hits fast path with zero index GETs".
#[test]
fn push_post_verified_second_call_hits_fast_path_with_zero_index_gets() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("e-fast");
    cache.write("audit/a", b"a");
    let svc = service(&fake, &cache, "");
    push(&svc);
    fake.clear_log();
    let report = push(&svc);
    assert!(report.fast_path);
    assert_eq!(report.phase_detail("pushChanged.fastpath"), Some("hit"));
    assert_eq!(fake.count(Kind::Download), 0);
    assert_eq!(fake.request_count(), 1);
}

/// "pushChanged: local file mutation since last sync forces real push work".
#[test]
fn push_local_file_mutation_since_last_sync_forces_real_push_work() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("e-mutation");
    cache.write("audit/a", b"a");
    let svc = service(&fake, &cache, "");
    push(&svc);
    mark(&svc, "audit/a");
    cache.write("audit/a", b"changed");
    let report = push(&svc);
    assert_eq!(report.files, 1);
    assert_eq!(fake.data("audit/a").unwrap(), b"changed");
}

/// "pushChanged: direct Deno.writeFile bypasses localDirty tracking (contract)": a write
/// without `markDirty` behind a clean sidecar is not seen (the fast path answers).
#[test]
fn push_direct_write_bypasses_local_dirty_tracking() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("e-direct");
    cache.write("audit/a", b"a");
    push(&service(&fake, &cache, ""));
    cache.write("audit/a", b"written behind our back");
    let report = push(&service(&fake, &cache, ""));
    assert!(report.fast_path);
    assert_eq!(fake.data("audit/a").unwrap(), b"a");
}

/// "markDirty: flips sidecar localDirty and forces slow-path on next pushChanged".
#[test]
fn mark_dirty_flips_sidecar_local_dirty_and_forces_slow_path() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("e-flip");
    cache.write("audit/a", b"a");
    push(&service(&fake, &cache, ""));
    assert_eq!(sidecar(&cache)["localDirty"], false);
    let svc = service(&fake, &cache, "");
    mark(&svc, "audit/a");
    assert_eq!(sidecar(&cache)["localDirty"], true);
    let report = push(&svc);
    assert!(!report.fast_path);
    assert_eq!(
        sidecar(&cache)["localDirty"],
        false,
        "nothing changed, local matches: clean again"
    );
}

/// "markDirty: is idempotent — repeated calls don't thrash the sidecar".
#[test]
fn mark_dirty_is_idempotent() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("e-idem");
    let svc = service(&fake, &cache, "");
    mark(&svc, "data/a");
    cache.set_mtime(".datastore-sync-state.json", 1_000_000);
    let bytes = cache.read(".datastore-sync-state.json");
    mark(&svc, "data/a");
    run(svc.mark_dirty(&opts())).unwrap();
    cache.set_mtime(".datastore-sync-state.json", 1_000_000);
    run(svc.mark_dirty(&opts())).unwrap();
    mark(&svc, "data/b");
    assert_eq!(
        super::tests_support::stat_of(&cache, ".datastore-sync-state.json")
            .unwrap()
            .unwrap()
            .mtime_ms,
        Some(1_000_000),
        "neither a repeated path nor a repeated bulk mark rewrites the file"
    );
    assert_ne!(cache.read(".datastore-sync-state.json"), bytes);
}

/// "pushChanged no-writeback: does NOT mark the sidecar clean when nothing was pushed
/// (swamp-club #1225)": remote-only files were never pulled.
#[test]
fn push_no_writeback_does_not_mark_clean_when_remote_only_files_exist() {
    let fake = FakeGcs::new();
    put_remote_files(&fake, &[("audit/theirs", b"theirs")]);
    let cache = TempDir::new("e-1225");
    let svc = service(&fake, &cache, "");
    let report = push(&svc);
    assert_eq!(report.files, 0);
    assert!(!cache.exists(".datastore-sync-state.json"));
    assert_eq!(
        pull(&svc).files,
        1,
        "the next pull is not fooled by a fast path"
    );
}

/// "pushChanged no-writeback: regenerates sidecar when local fully matches remote
/// (swamp-club #1225 recovery)".
#[test]
fn push_no_writeback_regenerates_sidecar_when_local_fully_matches_remote() {
    let fake = FakeGcs::new();
    put_remote_files(&fake, &[("audit/theirs", b"theirs")]);
    let cache = TempDir::new("e-regen");
    pull(&service(&fake, &cache, ""));
    cache.remove(".datastore-sync-state.json");
    let report = push(&service(&fake, &cache, ""));
    assert_eq!(report.files, 0);
    let s = sidecar(&cache);
    assert_eq!(s["localDirty"], false);
    assert_eq!(
        s["remoteIndexGeneration"],
        fake.generation(".datastore-index.json")
            .unwrap()
            .to_string()
    );
}

/// "pushChanged writeback: does NOT mark sidecar clean when local is missing remote-only
/// entries (swamp-club #1225)".
#[test]
fn push_writeback_does_not_mark_clean_when_local_is_missing_remote_only_entries() {
    let fake = FakeGcs::new();
    put_remote_files(&fake, &[("audit/theirs", b"theirs")]);
    let cache = TempDir::new("e-writeback");
    cache.write("audit/mine", b"mine");
    let report = push(&service(&fake, &cache, ""));
    assert_eq!(report.files, 1);
    assert_eq!(sidecar(&cache)["localDirty"], true);
    assert!(report
        .phase_detail("pushChanged.writeback")
        .unwrap()
        .ends_with("sidecar=dirty"));
}

/// "pullChanged + pushChanged: fresh-process push after pull against populated remote does
/// not redundantly upload (swamp-club #222)": the pull records the fingerprint, so the
/// fresh process's push takes the fast path; and even a slow-path walk uploads nothing
/// for entries carrying a hash (the other machine's `localMtime` differs from ours, the
/// content does not).
#[test]
fn fresh_process_push_after_pull_does_not_redundantly_upload() {
    let fake = FakeGcs::new();
    let sha = super::core::change::sha256_hex(b"b");
    put_remote_index(
        &fake,
        &[
            ("audit/a", 1, Some("2020-01-01T00:00:00.000Z"), None),
            ("audit/b", 1, Some("2020-01-01T00:00:00.000Z"), Some(&sha)),
        ],
    );
    fake.put("audit/a", b"a", 0);
    fake.put("audit/b", b"b", 0);
    let cache = TempDir::new("e-222");
    assert_eq!(pull(&service(&fake, &cache, "")).files, 2);
    fake.clear_log();
    assert!(push(&service(&fake, &cache, "")).fast_path);
    assert_eq!(fake.uploads(), 0);
    // Slow path over the hashed entry only.
    let svc = service(&fake, &cache, "");
    mark(&svc, "audit/b");
    assert_eq!(push(&svc).files, 0);
    assert_eq!(fake.uploads(), 0);
}

/// "pullChanged / pushChanged: AbortSignal cancellation propagates" — here the call
/// deadline: an expired deadline fails the call before any request.
#[test]
fn deadline_expiry_propagates() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("e-deadline");
    cache.write("audit/a", b"a");
    let svc = service(&fake, &cache, "");
    svc.client().set_deadline(Some(fake.now()));
    for err in [
        run(svc.push(&opts())).unwrap_err(),
        run(svc.pull(&opts())).unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Timeout);
    }
    assert_eq!(fake.request_count(), 0);
}

// ----- scoped walk and SHA-256 change detection -----

/// "pushChanged: SHA-256 fallback detects same-size change when mtime matches (#1307)".
#[test]
fn push_sha256_fallback_detects_same_size_change_when_mtime_matches() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("h-1307");
    cache.write("audit/a", b"aaaa");
    cache.set_mtime("audit/a", 1_700_000_000_000);
    push(&service(&fake, &cache, ""));
    cache.write("audit/a", b"bbbb");
    cache.set_mtime("audit/a", 1_700_000_000_000);
    let svc = service(&fake, &cache, "");
    mark(&svc, "audit/a");
    assert_eq!(push(&svc).files, 1);
    assert_eq!(fake.data("audit/a").unwrap(), b"bbbb");
}

/// "pushChanged: SHA-256 fallback skips push when mtime matches and content unchanged
/// (#1307)".
#[test]
fn push_sha256_fallback_skips_push_when_mtime_matches_and_content_unchanged() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("h-1307-same");
    cache.write("audit/a", b"aaaa");
    push(&service(&fake, &cache, ""));
    let svc = service(&fake, &cache, "");
    mark(&svc, "audit/a");
    fake.clear_log();
    assert_eq!(push(&svc).files, 0);
    assert_eq!(fake.uploads(), 0);
}

/// Every pushed entry records sha256, size, lastModified and localMtime (ms, `Z`).
#[test]
fn pushed_entries_record_hash_size_and_times() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("h-entry");
    cache.write("audit/a", b"hello");
    push(&service(&fake, &cache, ""));
    let entry = remote_index(&fake).entries.get("audit/a").cloned().unwrap();
    assert_eq!(entry.size, 5);
    assert_eq!(
        entry.sha256.as_deref(),
        Some(super::core::change::sha256_hex(b"hello").as_str())
    );
    assert_eq!(
        entry.local_mtime.as_deref(),
        Some(mtime_iso(&cache, "audit/a").as_str())
    );
    assert_eq!(entry.last_modified, "2026-08-01T10:00:00.000Z");
}

/// Each pushed file is stat'ed, read and hashed once: a file whose decision needed its hash
/// (same size, new mtime) is uploaded from the bytes the decision read; a new file is read
/// once, at upload. The completeness check of the clean transition stats only the index's
/// entries this push did not upload.
#[test]
fn push_reads_each_file_once() {
    use crate::cache::io_count;
    let fake = FakeGcs::new();
    let cache = TempDir::new("io-once");
    cache.write("data/t/m/d/1/raw", b"hello");
    let now = stat_of(&cache, "data/t/m/d/1/raw")
        .unwrap()
        .unwrap()
        .mtime_ms
        .unwrap();
    let older = crate::timefmt::format_iso_ms(now - 1000).unwrap();
    let stale = super::core::change::sha256_hex(b"jello");
    put_remote_index(
        &fake,
        &[("data/t/m/d/1/raw", 5, Some(&older), Some(&stale))],
    );
    cache.write("data/t/m/d/2/raw", b"new file");
    let svc = service(&fake, &cache, "");
    io_count::take();
    let report = push(&svc);
    assert_eq!(report.files, 2);
    let (stats, reads) = io_count::take();
    assert_eq!(
        reads, 2,
        "one read per pushed file (hash and upload share it)"
    );
    // Two in the walk (one per candidate); none at upload, none in the clean transition's
    // check that the cache holds every entry of the published index (both were uploaded).
    assert_eq!(stats, 2, "stats");
    assert_eq!(fake.data("data/t/m/d/1/raw").unwrap(), b"hello");
}
