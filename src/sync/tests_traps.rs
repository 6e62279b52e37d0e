//! Regressions for the hazards of docs/hazards.md (each test names its heading): our
//! behaviour is the correct one, not upstream's.

use super::core::change::sha256_hex;
use super::tests_support::*;
use crate::error::ErrorKind;
use crate::test_doubles::{run, FakeGcs, Kind};

/// #index-read-errors-taken-as-an-empty-index, #local-index-reuse-within-sixty-seconds:
/// push merges onto a freshly fetched index, never onto one it saw earlier (same
/// instance) nor the local copy.
#[test]
fn push_merges_onto_a_fresh_index_never_a_cached_one() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("trap1");
    cache.write("audit/mine", b"1");
    let svc = service(&fake, &cache, "");
    push(&svc);
    // Another writer publishes; our local copy is now stale and even corrupt.
    let mut theirs = remote_index(&fake);
    theirs
        .entries
        .insert(super::core::index::IndexEntry::new("audit/theirs", 1, "t"));
    fake.put(
        ".datastore-index.json",
        theirs.to_compact_json().unwrap().as_bytes(),
        0,
    );
    fake.put("audit/theirs", b"t", 0);
    cache.write(".datastore-index.json", b"garbage");
    mark(&svc, "audit/mine");
    cache.write("audit/mine", b"22");
    push(&svc);
    let index = remote_index(&fake);
    assert!(
        index.entries.contains("audit/theirs"),
        "the other writer's entry survives"
    );
    assert_eq!(index.entries.get("audit/mine").unwrap().size, 2);
}

/// #fingerprint-from-the-wrong-response: a fingerprint is recorded only from the GET
/// that delivered the index we compared (push no-writeback) or our own PUT, only when
/// local ⊇ remote, never while lazy — and the PUT's generation is the one recorded after
/// a writeback.
#[test]
fn fingerprint_comes_from_our_put_and_only_when_complete() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("trap2");
    cache.write("audit/a", b"a");
    push(&service(&fake, &cache, ""));
    let ours = fake.generation(".datastore-index.json").unwrap();
    // Someone rewrites the index after our PUT: our sidecar must name ours, not theirs.
    assert_eq!(sidecar(&cache)["remoteIndexGeneration"], ours.to_string());
    put_remote_files(&fake, &[("audit/a", b"a"), ("audit/new", b"n")]);
    let report = push(&service(&fake, &cache, ""));
    assert!(!report.fast_path, "their generation is not ours");
    assert_eq!(report.files, 0);
    assert_eq!(
        sidecar(&cache)["remoteIndexGeneration"],
        ours.to_string(),
        "audit/new is not local: their generation must not become our fingerprint"
    );
}

/// #dirty-signals-lost-on-pull, #clean-sidecar-with-a-stale-dirty-set: markDirty persists
/// across restarts, and a clean transition clears the whole dirty set — so marking the
/// same path again after a push is recorded and pushed (upstream's commitPush left the set
/// in a clean sidecar and swallowed the second edit).
#[test]
fn dirty_set_survives_restart_and_is_cleared_by_a_clean_push() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("trap3");
    cache.write("audit/a", b"v1");
    push(&service(&fake, &cache, ""));
    for (i, body) in [b"v2-x".as_slice(), b"v3-yy"].iter().enumerate() {
        mark(&service(&fake, &cache, ""), "audit/a"); // one process marks…
        cache.write("audit/a", body);
        let report = push(&service(&fake, &cache, "")); // …a fresh one pushes
        assert_eq!(report.files, 1, "edit {i}");
        assert_eq!(fake.data("audit/a").unwrap(), *body);
        let s = sidecar(&cache);
        assert_eq!(s["dirtyPaths"], serde_json::json!([]));
        assert_eq!(s["localDirty"], false);
    }
}

/// #dirty-signals-lost-on-pull: a pull does not wipe unpushed dirty signals (upstream's
/// markSynced did).
#[test]
fn pull_keeps_unpushed_dirty_signals() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("trap3-pull");
    cache.write("audit/a", b"aaaa");
    push(&service(&fake, &cache, ""));
    let svc = service(&fake, &cache, "");
    mark(&svc, "audit/a");
    cache.write("audit/a", b"bbbb"); // same size: a pull keeps it
    let sha = sha256_hex(b"aaaa");
    put_remote_index(
        &fake,
        &[
            ("audit/a", 4, Some("2020-01-01T00:00:00.000Z"), Some(&sha)),
            ("audit/other", 1, None, None),
        ],
    );
    fake.put("audit/other", b"o", 0);
    assert_eq!(pull(&svc).files, 1);
    let s = sidecar(&cache);
    assert_eq!(
        (s["localDirty"].clone(), s["dirtyPaths"].clone()),
        (serde_json::json!(true), serde_json::json!(["audit/a"]))
    );
    assert_eq!(push(&svc).files, 1);
    assert_eq!(fake.data("audit/a").unwrap(), b"bbbb");
}

/// #partitions-written-before-the-monolith, #demoting-a-shard-first-meta: v1 write
/// order — data, then the monolith (conditional), then only the touched partitions, then
/// the meta; and a v2 meta is never demoted: a v2 repo is refused outright (push and
/// pull), and a migration landing mid-push wins the meta.
#[test]
fn write_order_and_v2_meta_never_demoted() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("trap5");
    cache.write("audit/a", b"a");
    cache.write("data/t/m/d/1/raw", b"r");
    push(&service(&fake, &cache, ""));
    let order = uploaded(&fake);
    assert_eq!(&order[..2], ["audit/a", "data/t/m/d/1/raw"]);
    assert_eq!(order[2], ".datastore-index.json");
    assert_eq!(order.last().unwrap(), "_index/_meta.json");

    let v2 = br#"{"version":2,"partitions":["audit","data--t--m"],"commitSeq":4}"#;
    fake.put("_index/_meta.json", v2, 0);
    let svc = service(&fake, &cache, "");
    mark(&svc, "audit/a");
    cache.write("audit/a", b"changed");
    fake.clear_log();
    let err = run(svc.push(&opts())).unwrap_err();
    assert!(err.message().contains("shard-first"), "{}", err.message());
    assert_eq!(err.kind(), crate::error::ErrorKind::UnsupportedLayout);
    assert_eq!(fake.uploads(), 0);
    assert!(run(service(&fake, &TempDir::new("trap5-pull"), "").pull(&opts())).is_err());

    // A migration that lands between our meta read and our meta write.
    let fake = FakeGcs::new();
    let cache = TempDir::new("trap5-race");
    cache.write("audit/a", b"a");
    let migrator = fake.clone();
    fake.on_request(Kind::Upload, "_index/audit.json", move |_| {
        migrator.put("_index/_meta.json", v2, 0);
    });
    push(&service(&fake, &cache, ""));
    assert_eq!(fake.data("_index/_meta.json").unwrap(), v2);
}

/// #mtime-formatting-drift: `localMtime` is written like JS `toISOString()` and
/// persisted in the local index after a pull; equal mtimes with a hash still compare
/// hashes.
#[test]
fn local_mtime_is_js_iso_and_written_back_after_pull() {
    let fake = FakeGcs::new();
    put_remote_files(&fake, &[("audit/a", b"a")]);
    let cache = TempDir::new("trap8");
    pull(&service(&fake, &cache, ""));
    let local = super::core::index::Index::parse(&cache.read(".datastore-index.json").unwrap())
        .unwrap()
        .0;
    let m = local
        .entries
        .get("audit/a")
        .unwrap()
        .local_mtime
        .clone()
        .unwrap();
    assert_eq!(m, mtime_iso(&cache, "audit/a"));
    assert_eq!(
        (m.len(), &m[10..11], &m[19..20], &m[23..]),
        (24, "T", ".", "Z")
    );
    assert_eq!(
        remote_index(&fake)
            .entries
            .get("audit/a")
            .unwrap()
            .local_mtime,
        None,
        "the remote keeps its own"
    );
}

/// #silent-fallback-from-an-unreadable-shard: partition reads retry transient errors,
/// treat 404 as missing (monolith fallback), and fail on anything else — never a silent
/// fallback.
#[test]
fn partition_reads_retry_404_falls_back_other_errors_fail() {
    let rel = "data/t/m/d/1/raw";
    let shard = "_index/data--t--m.json";
    let setup = || {
        let fake = FakeGcs::new();
        let cache = TempDir::new("trap9-src");
        cache.write(rel, b"r");
        push(&service(&fake, &cache, ""));
        fake.clear_log();
        fake
    };
    let fake = setup();
    fake.fail(shard, Kind::Media, 503, 1);
    let report =
        run(service(&fake, &TempDir::new("trap9a"), "").pull(&models(&[("t", "m")]))).unwrap();
    assert_eq!(report.files, 1);
    assert_eq!(fake.count_on(Kind::Media, shard), 2);
    assert_eq!(fake.count_on(Kind::Media, ".datastore-index.json"), 0);

    let fake = setup();
    fake.fail(shard, Kind::Media, 403, 1);
    let err =
        run(service(&fake, &TempDir::new("trap9b"), "").pull(&models(&[("t", "m")]))).unwrap_err();
    assert!(
        err.message()
            .starts_with("pull: read partition _index/data--t--m.json"),
        "{}",
        err.message()
    );
    assert_eq!(fake.count_on(Kind::Media, ".datastore-index.json"), 0);
}

/// #best-effort-sidecar-writes: sidecar writes after a successful transfer are best
/// effort; a markDirty that cannot persist fails loudly.
#[test]
fn sidecar_write_failures_never_fail_a_successful_push_but_fail_mark_dirty() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("trap10");
    cache.write("audit/a", b"a");
    let svc = service(&fake, &cache, "");
    mark(&svc, "audit/a");
    // The sidecar becomes unwritable after the mark (a directory takes its place).
    cache.remove(".datastore-sync-state.json");
    cache.write(".datastore-sync-state.json/blocker", b"in the way");
    let report = push(&svc);
    assert_eq!(report.files, 1);
    assert!(fake.data("audit/a").is_some() && fake.data(".datastore-index.json").is_some());
    let err = run(svc.mark_dirty(&rel("audit/b"))).unwrap_err();
    assert!(
        err.message()
            .starts_with("markDirty audit/b: persist the sync-state sidecar"),
        "{}",
        err.message()
    );
    // Without a way to record "dirty" first, a push with work refuses to upload: a crash
    // mid-push could otherwise hide the uploads behind an old clean sidecar.
    let fresh = service(&fake, &cache, "");
    cache.write("audit/c", b"c");
    let err = run(fresh.push(&opts())).unwrap_err();
    assert!(
        err.message()
            .starts_with("push: mark the cache dirty before uploading"),
        "{}",
        err.message()
    );
}

/// #downloads-written-in-place: downloads are written through a temporary file and a
/// rename only after the integrity check; a corrupt download leaves the old file intact
/// and no debris.
#[test]
fn downloads_are_atomic_and_checked_before_writing() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("h10");
    put_remote_files(&fake, &[("audit/a", b"old")]);
    pull(&service(&fake, &cache, ""));
    put_remote_files(&fake, &[("audit/a", b"remote version")]);
    fake.corrupt("audit/a");
    let err = run(service(&fake, &cache, r#","retryMaxAttempts":2"#).pull(&opts())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{}", err.message());
    assert_eq!(cache.read("audit/a").unwrap(), b"old");
    assert!(cache.files().iter().all(|f| !f.contains("swamp-tmp")));
    assert!(
        std::fs::read_dir(cache.path().join("audit"))
            .unwrap()
            .count()
            == 1
    );
}

/// #unsafe-index-key-throws-out-of-push: index keys that could escape the cache are
/// skipped and counted on pull, and make the completeness check false on push instead of
/// throwing.
#[test]
fn unsafe_index_keys_are_skipped_never_written_outside_the_cache() {
    let fake = FakeGcs::new();
    let evil = [
        "../evil",
        "/abs",
        "a//b",
        "data\\..\\x",
        "x/./y",
        "back\\slash",
    ];
    let mut specs: Vec<EntrySpec<'_>> = evil.iter().map(|k| (*k, 4, None, None)).collect();
    specs.push(("audit/ok", 2, None, None));
    for k in evil {
        fake.put(k, b"evil", 0);
    }
    fake.put("audit/ok", b"ok", 0);
    put_remote_index(&fake, &specs);
    let parent = TempDir::new("h12-parent");
    let cache_path = parent.path().join("cache");
    std::fs::create_dir_all(&cache_path).unwrap();
    let svc = super::SyncService::new(fake.client(""), cache_path.clone());
    let report = run(svc.pull(&opts())).unwrap();
    assert_eq!(report.files, 1);
    assert!(report
        .phase_detail("pullChanged.walk")
        .unwrap()
        .contains("unsafeSkipped=6"));
    assert!(!parent.path().join("evil").exists());
    let mut names: Vec<String> = std::fs::read_dir(parent.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["cache"]);
    // Push with the same index: no panic, no error, no clean sidecar.
    std::fs::write(cache_path.join("audit/new"), b"n").unwrap();
    run(svc.mark_dirty(&rel("audit/new"))).unwrap();
    let report = run(svc.push(&opts())).unwrap();
    assert_eq!(report.files, 1);
    let s: serde_json::Value = serde_json::from_slice(
        &std::fs::read(cache_path.join(".datastore-sync-state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(s["localDirty"], true);
    assert!(
        remote_index(&fake).entries.contains("../evil"),
        "someone else's entries are kept"
    );
}

/// #overlapping-dirty-paths-processed-twice: overlapping dirty paths (a file and its
/// directory) upload once, delete once.
#[test]
fn overlapping_dirty_paths_upload_and_delete_once() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("h15");
    cache.write("data/t/m/d/1/raw", b"1");
    cache.write("data/t/m/d/2/raw", b"2");
    push(&service(&fake, &cache, ""));
    let svc = service(&fake, &cache, "");
    for p in [
        "data/t/m/d/1/raw",
        "data/t/m/d/1",
        "data/t/m",
        "data/t/m/d/2/raw",
        "data/t/m/d/2",
    ] {
        mark(&svc, p);
    }
    cache.write("data/t/m/d/1/raw", b"11");
    cache.remove("data/t/m/d/2");
    fake.clear_log();
    let report = push(&svc);
    assert_eq!((report.files, report.deleted), (1, 1));
    assert_eq!(uploaded_data(&fake), ["data/t/m/d/1/raw"]);
    assert_eq!(fake.count(Kind::Delete), 1);
}

/// Symlinks are never followed: a push skips symlinked files and directories (even when
/// marked dirty), a pull refuses to write through a symlinked directory.
#[cfg(unix)]
#[test]
fn symlinks_are_never_followed() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("symlink");
    let outside = TempDir::new("symlink-outside");
    outside.write("secret", b"do not upload");
    cache.write("audit/a", b"a");
    std::os::unix::fs::symlink(outside.path(), cache.path().join("data")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret"),
        cache.path().join("audit/link"),
    )
    .unwrap();
    let svc = service(&fake, &cache, "");
    mark(&svc, "data");
    run(svc.mark_dirty(&opts())).unwrap();
    let report = push(&svc);
    assert_eq!(uploaded_data(&fake), ["audit/a"]);
    assert!(report
        .phase_detail("pushChanged.walk")
        .unwrap()
        .contains("symlinksSkipped=2"));

    let other = FakeGcs::new();
    put_remote_files(&other, &[("data/x/y", b"would land outside")]);
    cache.remove(".datastore-sync-state.json");
    let err = run(service(&other, &cache, "").pull(&opts())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnsafePath, "{}", err.message());
    assert!(!outside.exists("x/y"));
}

/// Hash recorded at push time is the hash of exactly the uploaded bytes.
#[test]
fn pushed_hash_matches_uploaded_bytes() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("hash");
    let data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    cache.write("files/blob.bin", &data);
    push(&service(&fake, &cache, ""));
    assert_eq!(fake.data("files/blob.bin").unwrap(), data);
    let entry = remote_index(&fake)
        .entries
        .get("files/blob.bin")
        .cloned()
        .unwrap();
    assert_eq!(entry.sha256, Some(sha256_hex(&data)));
}
