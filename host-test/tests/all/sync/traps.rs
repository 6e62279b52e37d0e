//! Regressions for the hazards of `docs/hazards.md`, through the component: our behaviour
//! is the correct one, not the TypeScript client's.
//! None needs a precondition (faults are injected by the host), so each runs on both
//! servers.

use crate::common::*;
use crate::sync::support::*;
use gcs_host::faults::{FaultAction, FaultMatch, FaultRule};
use gcs_host::traffic::RequestKind;

on_both_servers!(
    index_read_errors_other_than_404_are_never_an_empty_index,
    push_merges_onto_a_freshly_fetched_remote_index,
    fingerprint_only_from_the_compared_get_or_our_put_and_only_when_complete,
    mark_dirty_is_a_persisted_pre_write_hint,
    deletion_only_from_dirty_signals,
    v1_write_order_monolith_first_then_dirty_partitions_then_meta,
    v2_meta_is_never_demoted,
    pull_writes_atomically_corrupt_download_leaves_no_file_and_no_temp_file,
    index_key_escaping_the_cache_is_never_written_outside_it,
    overlapping_dirty_paths_upload_once_and_delete_once,
);

/// `docs/hazards.md#index-read-errors-taken-as-an-empty-index`: a failed index read (503 after
/// retries, 403) fails push and pull; it is never taken for "no index" — nothing is uploaded, the
/// remote index keeps its entries.
async fn index_read_errors_other_than_404_are_never_an_empty_index(mut env: Env) {
    let a = Cache::new();
    a.write("audit/a", b"a");
    env.open(&a, "").await.push(&opts()).await.unwrap();
    let generation = env.generation(INDEX).await;
    for status in [503, 403] {
        env.host.faults.clear();
        env.host.faults.add(FaultRule::new(
            FaultMatch::kind(RequestKind::Download).object(INDEX),
            FaultAction::Status(status),
            None,
        ));
        let b = Cache::new();
        b.write("audit/b", b"b");
        let mut ds = env.open(&b, r#""retryMaxAttempts":2"#).await;
        env.reset();
        let e = expect_err(ds.push(&opts()).await, "push with an unreadable index");
        assert!(
            e.to_string().contains(".datastore-index.json"),
            "HTTP {status}: {e}"
        );
        assert_eq!(env.puts(), 0, "HTTP {status}: nothing uploaded");
        assert_eq!(env.snap().count(RequestKind::List), 0, "no discovery");
        let c = Cache::new();
        let mut ds = env.open(&c, r#""retryMaxAttempts":2"#).await;
        expect_err(ds.pull(&opts()).await, "pull with an unreadable index");
        assert!(c.files().is_empty(), "HTTP {status}: {:?}", c.files());
    }
    env.host.faults.clear();
    assert_eq!(env.generation(INDEX).await, generation);
    assert_eq!(env.index_keys().await, ["audit/a"]);
}

/// `docs/hazards.md#index-read-errors-taken-as-an-empty-index`: push merges onto a freshly fetched
/// remote index — not the one it saw in an earlier call of the same process, not the local copy
/// (stale and corrupt here).
async fn push_merges_onto_a_freshly_fetched_remote_index(mut env: Env) {
    let a = Cache::new();
    a.write("audit/mine", b"1");
    let mut ds = env.open(&a, "").await;
    ds.push(&opts()).await.unwrap();
    add_remote_entry(&mut env, "audit/theirs", b"t").await;
    a.write(INDEX, b"garbage");
    ds.mark_dirty(&rel("audit/mine")).await.unwrap();
    a.write("audit/mine", b"22");
    assert_eq!(ds.push(&opts()).await.unwrap().files, 1);
    let index = env.json(INDEX).await;
    assert_eq!(keys_of(&index["entries"]), ["audit/mine", "audit/theirs"]);
    assert_eq!(index["entries"]["audit/mine"]["size"], 2);
}

/// `docs/hazards.md#fingerprint-from-the-wrong-response`: the fingerprint comes from our own PUT,
/// or from the GET that delivered the index we compared — and only when every remote entry is
/// local; never while a lazy pull left raws behind.
async fn fingerprint_only_from_the_compared_get_or_our_put_and_only_when_complete(mut env: Env) {
    let a = Cache::new();
    a.write("audit/a", b"a");
    env.open(&a, "").await.push(&opts()).await.unwrap();
    let ours = env.generation(INDEX).await.unwrap();
    assert_eq!(sidecar(&a)["remoteIndexGeneration"], ours.as_str());

    // Another writer adds a file: a push here compares, uploads nothing, and must not
    // adopt their generation (audit/new is not local).
    let theirs = add_remote_entry(&mut env, "audit/new", b"n").await;
    let mut ds = env.open(&a, "").await;
    env.reset();
    let report = ds.push(&opts()).await.unwrap();
    assert!(!report.fast_path);
    assert_eq!((report.files, env.puts()), (0, 0));
    assert_eq!(sidecar(&a)["remoteIndexGeneration"], ours.as_str());

    // A pull fetches it; the generation of that GET becomes the fingerprint.
    assert_eq!(ds.pull(&opts()).await.unwrap().files, 1);
    assert_eq!(env.generation(INDEX).await.unwrap(), theirs);
    assert_eq!(sidecar(&a)["remoteIndexGeneration"], theirs.as_str());
    let mut ds = env.open(&a, "").await;
    env.reset();
    assert!(ds.pull(&opts()).await.unwrap().fast_path);
    assert!(ds.push(&opts()).await.unwrap().fast_path);
    assert_eq!(env.snap().total, 2);

    // Lazy: a metadata-only pull skips the raw; the next full pull must not be answered
    // by the fast path.
    let raw = "data/t/m/d/1/raw";
    add_remote_entry(&mut env, raw, b"raw bytes").await;
    let lazy = Cache::new();
    let mut ds = env.open(&lazy, "").await;
    ds.pull(&metadata_only()).await.unwrap();
    assert!(!lazy.file(raw).exists());
    assert_eq!(sidecar(&lazy)["lazyPullActive"], true);
    let mut ds = env.open(&lazy, "").await;
    let report = ds.pull(&opts()).await.unwrap();
    assert!(!report.fast_path);
    assert_eq!(report.files, 1);
    assert_eq!(lazy.read(raw), b"raw bytes");
    assert_eq!(sidecar(&lazy)["lazyPullActive"], false);
}

/// `docs/hazards.md#dirty-signals-lost-on-pull`: mark-dirty is a persisted pre-write hint. A
/// restart keeps the set; a clean push clears all of it, so marking the same path again is recorded
/// (`docs/hazards.md#clean-sidecar-with-a-stale-dirty-set`); bulk overrides per-path; a pull keeps
/// unpushed dirty signals.
async fn mark_dirty_is_a_persisted_pre_write_hint(mut env: Env) {
    let a = Cache::new();
    a.write("audit/a", b"v1");
    env.open(&a, "").await.push(&opts()).await.unwrap();
    for body in [b"v2", b"v3"] {
        // Same size each time: only the dirty signal and the hash find the change.
        env.open(&a, "")
            .await
            .mark_dirty(&rel("audit/a"))
            .await
            .unwrap();
        a.write("audit/a", body);
        let mut ds = env.open(&a, "").await; // a new process
        let status = ds.status(&opts()).await.unwrap();
        assert_eq!(status.dirty_paths, ["audit/a"]);
        assert!(status.local_dirty);
        let report = ds.push(&opts()).await.unwrap();
        assert_eq!(report.files, 1, "{}", String::from_utf8_lossy(body));
        assert_eq!(env.must_get("audit/a").await, body);
        let s = sidecar(&a);
        assert_eq!(s["dirtyPaths"], serde_json::json!([]));
        assert_eq!(s["localDirty"], false);
    }

    // Bulk overrides per-path.
    let mut ds = env.open(&a, "").await;
    ds.mark_dirty(&opts()).await.unwrap();
    ds.mark_dirty(&rel("audit/b")).await.unwrap();
    let s = sidecar(&a);
    assert_eq!(s["bulkInvalidated"], true);
    assert_eq!(s["dirtyPaths"], serde_json::json!([]));
    assert_eq!(ds.push(&opts()).await.unwrap().files, 0);
    assert_eq!(sidecar(&a)["bulkInvalidated"], false);

    // A pull keeps an unpushed edit's dirty signal (upstream's markSynced wiped it).
    ds.mark_dirty(&rel("audit/a")).await.unwrap();
    a.write("audit/a", b"v4");
    add_remote_entry(&mut env, "audit/other", b"o").await;
    assert_eq!(ds.pull(&opts()).await.unwrap().files, 1);
    assert_eq!(
        a.read("audit/a"),
        b"v4",
        "a same-size local edit is not overwritten"
    );
    let s = sidecar(&a);
    assert_eq!(s["localDirty"], true);
    assert_eq!(s["dirtyPaths"], serde_json::json!(["audit/a"]));
    assert_eq!(ds.push(&opts()).await.unwrap().files, 1);
    assert_eq!(env.must_get("audit/a").await, b"v4");
}

/// `docs/hazards.md#deletion-without-a-dirty-signal`: remote objects are deleted only from dirty
/// signals — a dirty path that is gone, a gone member of a dirty directory, or (full walk) an
/// overflowed dirty set — never by an unsignalled push or a plain bulk mark, and never while lazy.
async fn deletion_only_from_dirty_signals(mut env: Env) {
    let a = Cache::new();
    for f in [
        "audit/a",
        "audit/b",
        "audit/c",
        "data/t/m/d/1/raw",
        "data/t/m/d/2/raw",
    ] {
        a.write(f, f.as_bytes());
    }
    env.open(&a, "").await.push(&opts()).await.unwrap();

    // Gone locally, no signal: a full walk (no sidecar) deletes nothing.
    remove(&a, "audit/a");
    remove(&a, SIDECAR);
    let report = env.open(&a, "").await.push(&opts()).await.unwrap();
    assert!(phase(&report, "pushChanged.walk").contains("mode=full"));
    assert_eq!(report.deleted, 0);
    // A plain bulk mark: a full walk, still no deletion.
    let mut ds = env.open(&a, "").await;
    ds.mark_dirty(&opts()).await.unwrap();
    let report = ds.push(&opts()).await.unwrap();
    assert!(phase(&report, "pushChanged.walk").contains("mode=full"));
    assert_eq!(report.deleted, 0);
    assert!(env.get("audit/a").await.is_some());
    assert!(env.index_keys().await.contains(&"audit/a".to_string()));

    // The dirty path of the gone file deletes it (the bulk flag must go first: bulk wins).
    remove(&a, SIDECAR);
    let mut ds = env.open(&a, "").await;
    ds.mark_dirty(&rel("audit/a")).await.unwrap();
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!((report.files, report.deleted), (0, 1));
    assert!(env.get("audit/a").await.is_none());
    assert!(!env.index_keys().await.contains(&"audit/a".to_string()));

    // A dirty directory deletes its gone members only.
    remove(&a, "data/t/m/d/2");
    ds.mark_dirty(&rel("data/t/m")).await.unwrap();
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!(report.deleted, 1);
    assert!(env.get("data/t/m/d/2/raw").await.is_none());
    assert!(env.get("data/t/m/d/1/raw").await.is_some());

    // An overflowed dirty set: the full walk deletes orphans.
    remove(&a, "audit/b");
    for i in 0..201 {
        ds.mark_dirty(&rel(&format!("x/p{i}"))).await.unwrap();
    }
    assert_eq!(sidecar(&a)["dirtyPathsOverflowed"], true);
    let report = ds.push(&opts()).await.unwrap();
    assert!(phase(&report, "pushChanged.walk").contains("mode=full"));
    assert_eq!(report.deleted, 1);
    assert!(env.get("audit/b").await.is_none());

    // Never while lazy: a raw skipped by a metadata-only pull is not "gone".
    let lazy = Cache::new();
    let mut ds = env.open(&lazy, "").await;
    ds.pull(&metadata_only()).await.unwrap();
    assert!(!lazy.file("data/t/m/d/1/raw").exists());
    ds.mark_dirty(&rel("data/t/m/d/1/raw")).await.unwrap();
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!(report.deleted, 0);
    assert!(env.get("data/t/m/d/1/raw").await.is_some());
    assert_eq!(
        env.index_keys().await,
        ["audit/c", "data/t/m/d/1/raw"],
        "what is left"
    );
}

/// `docs/hazards.md#partitions-written-before-the-monolith`: the data first, then the monolith,
/// then only the partitions the push touched, then the meta — and the meta only when its partition
/// list changed.
async fn v1_write_order_monolith_first_then_dirty_partitions_then_meta(mut env: Env) {
    let a = Cache::new();
    let seeded = seed(&a, 3, 2, 50);
    a.write("audit/x.json", b"{}");
    let mut ds = env.open(&a, "").await;
    ds.push(&opts()).await.unwrap();
    assert_eq!(
        env.json(META).await["partitions"].as_array().unwrap().len(),
        4
    );

    let changed = &seeded[1].files[0];
    ds.mark_dirty(&rel(changed)).await.unwrap();
    a.write(changed, b"{\"changed\":true}");
    let before = env.objects().await;
    ds.push(&opts()).await.unwrap();
    assert_eq!(
        written_between(&before, &env.objects().await),
        [
            changed.clone(),
            INDEX.to_string(),
            seeded[1].data_partition()
        ]
    );

    let new_model = Model {
        model_type: "@test/model-type-900".into(),
        model_id: uuid(),
        files: Vec::new(),
    };
    let new_rel = format!(
        "data/{}/{}/file-0000.json",
        new_model.model_type, new_model.model_id
    );
    ds.mark_dirty(&rel(&new_rel)).await.unwrap();
    a.write(&new_rel, b"{}");
    let before = env.objects().await;
    ds.push(&opts()).await.unwrap();
    assert_eq!(
        written_between(&before, &env.objects().await),
        [
            new_rel,
            INDEX.to_string(),
            new_model.data_partition(),
            META.to_string()
        ]
    );
    let meta = env.json(META).await;
    assert_eq!(meta["version"], 1);
    assert_eq!(meta["partitions"].as_array().unwrap().len(), 5);
}

/// `docs/hazards.md#demoting-a-shard-first-meta`: a shard-first meta is never demoted — a push
/// refuses before any upload, and the meta object stays exactly as it was.
async fn v2_meta_is_never_demoted(mut env: Env) {
    let a = Cache::new();
    a.write("audit/a", b"a");
    let mut ds = env.open(&a, "").await;
    ds.push(&opts()).await.unwrap();
    let v2 = fixture("meta-v2.json");
    let meta_generation = env.put(META, &v2).await;
    let index_generation = env.generation(INDEX).await;
    ds.mark_dirty(&rel("audit/a")).await.unwrap();
    a.write("audit/a", b"changed");
    env.reset();
    let e = expect_err(ds.push(&opts()).await, "push onto a v2 bucket");
    assert!(e.to_string().contains("shard-first"), "{e}");
    assert_eq!(e.kind(), "unsupported-layout", "{e}");
    assert_eq!(env.puts(), 0);
    assert_eq!(env.snap().count(RequestKind::Delete), 0);
    assert_eq!(env.must_get(META).await, v2);
    assert_eq!(env.generation(META).await.unwrap(), meta_generation);
    assert_eq!(env.generation(INDEX).await, index_generation);
    assert_eq!(env.must_get("audit/a").await, b"a");
    assert_eq!(sidecar(&a)["localDirty"], true, "the edit is still pending");
}

/// `docs/hazards.md#downloads-written-in-place`: downloads are written atomically. A download
/// corrupted on every attempt fails the pull with `integrity`; the file it would replace keeps its
/// content, a file that did not exist is not created, no temporary file is left, and no fingerprint
/// of the index is recorded; once the fault is gone the pull completes.
async fn pull_writes_atomically_corrupt_download_leaves_no_file_and_no_temp_file(mut env: Env) {
    put_remote_files(&mut env, &[("audit/a", b"old"), ("audit/b", b"b")]).await;
    let cache = Cache::new();
    let mut ds = env.open(&cache, r#""retryMaxAttempts":2"#).await;
    ds.pull(&opts()).await.unwrap();
    put_remote_files(
        &mut env,
        &[("audit/a", b"remote version"), ("audit/b", b"b")],
    )
    .await;
    env.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Download).object("audit/a"),
        FaultAction::Corrupt,
        None,
    ));
    env.reset();
    let e = assert_kind(
        ds.pull(&opts()).await,
        "integrity",
        "corrupt download over a file",
    );
    assert!(e.to_string().contains("audit/a"), "{e}");
    assert_eq!(
        env.objects_of(RequestKind::Download)
            .iter()
            .filter(|o| *o == "audit/a")
            .count(),
        2,
        "retried up to retryMaxAttempts"
    );
    assert_eq!(cache.read("audit/a"), b"old");
    assert_eq!(temp_files(&cache), Vec::<String>::new());
    assert_ne!(
        sidecar(&cache)["remoteIndexGeneration"],
        env.generation(INDEX).await.unwrap().as_str(),
        "no fingerprint after a failed pull"
    );

    remove(&cache, "audit/a");
    assert_kind(ds.pull(&opts()).await, "integrity", "corrupt download");
    assert!(!cache.file("audit/a").exists());
    assert_eq!(temp_files(&cache), Vec::<String>::new());
    assert_eq!(cache.outside_names(), ["cache"]);

    env.host.faults.clear();
    ds.pull(&opts()).await.unwrap();
    assert_eq!(cache.read("audit/a"), b"remote version");
    assert_eq!(cache.read("audit/b"), b"b");
}

/// `docs/hazards.md#unsafe-index-key-throws-out-of-push`: an index key such as `../../escape` is
/// never turned into a path. The pull skips it (counted as `unsafeSkipped`) and succeeds for the
/// other entries, never requests the object, and writes nothing outside the cache; a later push
/// keeps the entry (someone else's) and does not mark the cache clean, since that entry is not
/// local.
async fn index_key_escaping_the_cache_is_never_written_outside_it(mut env: Env) {
    env.put_raw("../../escape", b"evil");
    env.put_raw("../escape2", b"evil");
    env.put("audit/ok", b"ok").await;
    env.put(
        INDEX,
        &ts_index(&[
            ("../../escape", 4, None, None),
            ("../escape2", 4, None, None),
            ("audit/ok", 2, None, None),
        ]),
    )
    .await;
    let cache = Cache::new();
    let mut ds = env.open(&cache, "").await;
    env.reset();
    let report = ds.pull(&opts()).await.unwrap();
    assert_eq!(report.files, 1);
    assert!(
        phase(&report, "pullChanged.walk").contains("unsafeSkipped=2"),
        "{:?}",
        report.phases
    );
    assert!(
        env.log().iter().all(|r| !r.object.contains("escape")),
        "{:?}",
        env.log()
    );
    assert_eq!(data_files(&cache), ["audit/ok"]);
    assert_eq!(cache.outside_names(), ["cache"]);
    assert!(!cache.outside().join("escape2").exists());
    assert!(!cache.path().join("../../escape").exists());

    cache.write("audit/new", b"n");
    ds.mark_dirty(&rel("audit/new")).await.unwrap();
    assert_eq!(ds.push(&opts()).await.unwrap().files, 1);
    let keys = env.index_keys().await;
    assert!(keys.contains(&"../../escape".to_string()), "{keys:?}");
    assert!(keys.contains(&"audit/new".to_string()));
    assert_eq!(sidecar(&cache)["localDirty"], true);
    assert_eq!(cache.outside_names(), ["cache"]);
}

/// `docs/hazards.md#overlapping-dirty-paths-processed-twice`: dirty paths that overlap (a file, its
/// directory, the model directory above both) are walked once: the changed file is uploaded once,
/// the removed directory's file is deleted once, and nothing else is sent.
async fn overlapping_dirty_paths_upload_once_and_delete_once(mut env: Env) {
    let cache = Cache::new();
    cache.write("data/t/m/d/1/raw", b"1");
    cache.write("data/t/m/d/2/raw", b"2");
    cache.write("data/t/m/d/3/raw", b"3");
    env.open(&cache, "").await.push(&opts()).await.unwrap();
    let mut ds = env.open(&cache, "").await;
    for p in [
        "data/t/m/d/1/raw",
        "data/t/m/d/1",
        "data/t/m",
        "data/t/m/d/2/raw",
        "data/t/m/d/2",
    ] {
        ds.mark_dirty(&rel(p)).await.unwrap();
    }
    cache.write("data/t/m/d/1/raw", b"11");
    std::fs::remove_dir_all(cache.file("data/t/m/d/2")).unwrap();
    let before = env.objects().await;
    env.reset();
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!((report.files, report.deleted), (1, 1));
    let uploads = env.snap().count(RequestKind::Upload);
    let written = written_between(&before, &env.objects().await);
    assert_eq!(data_only(written.clone()), ["data/t/m/d/1/raw"]);
    // Multipart uploads cannot be named from the traffic log, so count them: one per
    // object written means no object was uploaded twice.
    assert_eq!(uploads, written.len() as u64, "written: {written:?}");
    assert_eq!(env.objects_of(RequestKind::Delete), ["data/t/m/d/2/raw"]);
    assert_eq!(env.must_get("data/t/m/d/1/raw").await, b"11");
    assert_eq!(env.get("data/t/m/d/2/raw").await, None);
    assert_eq!(env.must_get("data/t/m/d/3/raw").await, b"3", "untouched");
    assert_eq!(
        env.index_keys().await,
        ["data/t/m/d/1/raw", "data/t/m/d/3/raw"]
    );
}
