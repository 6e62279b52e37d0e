//! Regressions for the hazards of `docs/hazards.md` (each test names its heading): our
//! behaviour is the correct one, not the TypeScript client's.

use crate::driver::{Driver, Kind, Service as _};
use crate::support::*;
use crate::Cache;

/// `docs/hazards.md#index-read-errors-taken-as-an-empty-index`: a failed index read (503 after
/// retries, 403) fails push and pull; it is never taken for "no index" — nothing is uploaded, the
/// remote index keeps its entries.
pub async fn index_read_errors_other_than_404_are_never_an_empty_index<D: Driver>(d: &mut D) {
    let a = Cache::new();
    a.write("audit/a", b"a");
    d.open(&a, "").await.push(&opts()).await.unwrap();
    let generation = d.generation(INDEX).await;
    for status in [503, 403] {
        d.clear_faults();
        d.fail(Kind::Download, INDEX, status, None);
        let b = Cache::new();
        b.write("audit/b", b"b");
        let mut ds = d.open(&b, r#""retryMaxAttempts":2"#).await;
        d.reset();
        let e = ds
            .push(&opts())
            .await
            .expect_err("push with an unreadable index");
        assert!(e.message.contains(INDEX), "HTTP {status}: {e}");
        assert_eq!(d.puts(), 0, "HTTP {status}: nothing uploaded");
        assert_eq!(d.count(Kind::List), 0, "no discovery");
        let c = Cache::new();
        let mut ds = d.open(&c, r#""retryMaxAttempts":2"#).await;
        ds.pull(&opts())
            .await
            .expect_err("pull with an unreadable index");
        assert!(c.files().is_empty(), "HTTP {status}: {:?}", c.files());
    }
    d.clear_faults();
    assert_eq!(d.generation(INDEX).await, generation);
    assert_eq!(d.index_keys().await, ["audit/a"]);
}

/// `docs/hazards.md#index-read-errors-taken-as-an-empty-index`,
/// `docs/hazards.md#local-index-reuse-within-sixty-seconds`: push merges onto a freshly
/// fetched remote index — not the one it saw in an earlier call of the same process, not
/// the local copy (stale and corrupt here).
pub async fn push_merges_onto_a_freshly_fetched_remote_index<D: Driver>(d: &mut D) {
    let a = Cache::new();
    a.write("audit/mine", b"1");
    let mut ds = d.open(&a, "").await;
    ds.push(&opts()).await.unwrap();
    add_remote_entry(d, "audit/theirs", b"t").await;
    a.write(INDEX, b"garbage");
    ds.mark_dirty(&rel("audit/mine")).await.unwrap();
    a.write("audit/mine", b"22");
    assert_eq!(ds.push(&opts()).await.unwrap().files, 1);
    let index = d.json(INDEX).await;
    assert_eq!(keys_of(&index["entries"]), ["audit/mine", "audit/theirs"]);
    assert_eq!(index["entries"]["audit/mine"]["size"], 2);
}

/// `docs/hazards.md#fingerprint-from-the-wrong-response`: the fingerprint comes from our own PUT,
/// or from the GET that delivered the index we compared — and only when every remote entry is
/// local; never while a lazy pull left raws behind.
pub async fn fingerprint_only_from_the_compared_get_or_our_put_and_only_when_complete<D: Driver>(
    d: &mut D,
) {
    let a = Cache::new();
    a.write("audit/a", b"a");
    d.open(&a, "").await.push(&opts()).await.unwrap();
    let ours = d.generation(INDEX).await.unwrap();
    assert_eq!(sidecar(&a)["remoteIndexGeneration"], ours.as_str());

    // Another writer adds a file: a push here compares, uploads nothing, and must not
    // adopt their generation (audit/new is not local).
    let theirs = add_remote_entry(d, "audit/new", b"n").await;
    let mut ds = d.open(&a, "").await;
    d.reset();
    let report = ds.push(&opts()).await.unwrap();
    assert!(!report.fast_path, "their generation is not ours");
    assert_eq!((report.files, d.puts()), (0, 0));
    assert_eq!(sidecar(&a)["remoteIndexGeneration"], ours.as_str());

    // A pull fetches it; the generation of that GET becomes the fingerprint.
    assert_eq!(ds.pull(&opts()).await.unwrap().files, 1);
    assert_eq!(d.generation(INDEX).await.unwrap(), theirs);
    assert_eq!(sidecar(&a)["remoteIndexGeneration"], theirs.as_str());
    let mut ds = d.open(&a, "").await;
    d.reset();
    assert!(ds.pull(&opts()).await.unwrap().fast_path);
    assert!(ds.push(&opts()).await.unwrap().fast_path);
    // The pull probes the monolith and the meta, the push the monolith.
    assert_eq!(d.total(), 3);

    // Lazy: a metadata-only pull skips the raw; the next full pull must not be answered
    // by the fast path.
    let raw = "data/t/m/d/1/raw";
    add_remote_entry(d, raw, b"raw bytes").await;
    let lazy = Cache::new();
    let mut ds = d.open(&lazy, "").await;
    ds.pull(&metadata_only()).await.unwrap();
    assert!(!lazy.exists(raw));
    assert_eq!(sidecar(&lazy)["lazyPullActive"], true);
    let mut ds = d.open(&lazy, "").await;
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
pub async fn mark_dirty_is_a_persisted_pre_write_hint<D: Driver>(d: &mut D) {
    let a = Cache::new();
    a.write("audit/a", b"v1");
    d.open(&a, "").await.push(&opts()).await.unwrap();
    for body in [b"v2", b"v3"] {
        // Same size each time: only the dirty signal and the hash find the change.
        d.open(&a, "")
            .await
            .mark_dirty(&rel("audit/a"))
            .await
            .unwrap();
        a.write("audit/a", body);
        let mut ds = d.open(&a, "").await; // a new process
        let status = ds.status(&opts()).await.unwrap();
        assert_eq!(status.dirty_paths, ["audit/a"]);
        assert!(status.local_dirty);
        let report = ds.push(&opts()).await.unwrap();
        assert_eq!(report.files, 1, "{}", String::from_utf8_lossy(body));
        assert_eq!(d.must_get("audit/a").await, body);
        let s = sidecar(&a);
        assert_eq!(s["dirtyPaths"], serde_json::json!([]));
        assert_eq!(s["localDirty"], false);
    }

    // Bulk overrides per-path.
    let mut ds = d.open(&a, "").await;
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
    add_remote_entry(d, "audit/other", b"o").await;
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
    assert_eq!(d.must_get("audit/a").await, b"v4");
}

/// `docs/hazards.md#deletion-without-a-dirty-signal`: remote objects are deleted only from dirty
/// signals — a dirty path that is gone, a gone member of a dirty directory, or (full walk) an
/// overflowed dirty set — never by an unsignalled push or a plain bulk mark, and never while lazy.
pub async fn deletion_only_from_dirty_signals<D: Driver>(d: &mut D) {
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
    d.open(&a, "").await.push(&opts()).await.unwrap();

    // Gone locally, no signal: a full walk (no sidecar) deletes nothing.
    a.remove("audit/a");
    a.remove(SIDECAR);
    let report = d.open(&a, "").await.push(&opts()).await.unwrap();
    assert!(report.phase("pushChanged.walk").contains("mode=full"));
    assert_eq!(report.deleted, 0);
    // A plain bulk mark: a full walk, still no deletion.
    let mut ds = d.open(&a, "").await;
    ds.mark_dirty(&opts()).await.unwrap();
    let report = ds.push(&opts()).await.unwrap();
    assert!(report.phase("pushChanged.walk").contains("mode=full"));
    assert_eq!(report.deleted, 0);
    assert!(d.get("audit/a").await.is_some());
    assert!(d.index_keys().await.contains(&"audit/a".to_string()));

    // The dirty path of the gone file deletes it (the bulk flag must go first: bulk wins).
    a.remove(SIDECAR);
    let mut ds = d.open(&a, "").await;
    ds.mark_dirty(&rel("audit/a")).await.unwrap();
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!((report.files, report.deleted), (0, 1));
    assert!(d.get("audit/a").await.is_none());
    assert!(!d.index_keys().await.contains(&"audit/a".to_string()));

    // A dirty directory deletes its gone members only.
    a.remove("data/t/m/d/2");
    ds.mark_dirty(&rel("data/t/m")).await.unwrap();
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!(report.deleted, 1);
    assert!(d.get("data/t/m/d/2/raw").await.is_none());
    assert!(d.get("data/t/m/d/1/raw").await.is_some());

    // An overflowed dirty set: the full walk deletes orphans.
    a.remove("audit/b");
    for i in 0..201 {
        ds.mark_dirty(&rel(&format!("x/p{i}"))).await.unwrap();
    }
    assert_eq!(sidecar(&a)["dirtyPathsOverflowed"], true);
    let report = ds.push(&opts()).await.unwrap();
    assert!(report.phase("pushChanged.walk").contains("mode=full"));
    assert_eq!(report.deleted, 1);
    assert!(d.get("audit/b").await.is_none());

    // Never while lazy: a raw skipped by a metadata-only pull is not "gone".
    let lazy = Cache::new();
    let mut ds = d.open(&lazy, "").await;
    ds.pull(&metadata_only()).await.unwrap();
    assert!(!lazy.exists("data/t/m/d/1/raw"));
    ds.mark_dirty(&rel("data/t/m/d/1/raw")).await.unwrap();
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!(report.deleted, 0);
    assert!(d.get("data/t/m/d/1/raw").await.is_some());
    assert_eq!(
        d.index_keys().await,
        ["audit/c", "data/t/m/d/1/raw"],
        "what is left"
    );
}

/// `docs/hazards.md#partitions-written-before-the-monolith`: the data first, then the monolith,
/// then only the partitions the push touched, then the meta — and the meta only when its partition
/// list changed.
pub async fn v1_write_order_monolith_first_then_dirty_partitions_then_meta<D: Driver>(d: &mut D) {
    let a = Cache::new();
    let seeded = seed(&a, 3, 2, 50);
    a.write("audit/x.json", b"{}");
    let mut ds = d.open(&a, "").await;
    ds.push(&opts()).await.unwrap();
    // The cold push: every data object, then the monolith, the partitions, the meta last.
    let written = written_between(&Default::default(), &d.objects().await);
    let mut data: Vec<String> = written[..7].to_vec();
    data.sort(); // uploads run concurrently
    assert_eq!(data, data_files(&a), "{written:?}");
    assert_eq!(written[7], INDEX, "{written:?}");
    let mut partitions = written[8..12].to_vec();
    partitions.sort();
    let mut want: Vec<String> = seeded.iter().map(Model::data_partition).collect();
    want.push("_index/audit.json".into());
    want.sort();
    assert_eq!(partitions, want, "{written:?}");
    assert_eq!(written[12..], [META], "{written:?}");
    assert_eq!(
        d.json(META).await["partitions"].as_array().unwrap().len(),
        4
    );

    let changed = &seeded[1].files[0];
    ds.mark_dirty(&rel(changed)).await.unwrap();
    a.write(changed, b"{\"changed\":true}");
    let before = d.objects().await;
    ds.push(&opts()).await.unwrap();
    assert_eq!(
        written_between(&before, &d.objects().await),
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
    let before = d.objects().await;
    ds.push(&opts()).await.unwrap();
    assert_eq!(
        written_between(&before, &d.objects().await),
        [
            new_rel,
            INDEX.to_string(),
            new_model.data_partition(),
            META.to_string()
        ]
    );
    let meta = d.json(META).await;
    assert_eq!(meta["version"], 1);
    assert_eq!(meta["partitions"].as_array().unwrap().len(), 5);
}

/// `docs/hazards.md#downloads-written-in-place`: downloads are written atomically, after the
/// integrity check. A download corrupted on every attempt fails the pull with `integrity`; the
/// file it would replace keeps its content, a file that did not exist is not created, no
/// temporary file or other debris is left, and no fingerprint of the index is recorded; once the
/// fault is gone the pull completes.
pub async fn pull_writes_atomically_corrupt_download_leaves_no_file_and_no_temp_file<D: Driver>(
    d: &mut D,
) {
    put_remote_files(d, &[("audit/a", b"old"), ("audit/b", b"b")]).await;
    let cache = Cache::new();
    let mut ds = d.open(&cache, r#""retryMaxAttempts":2"#).await;
    ds.pull(&opts()).await.unwrap();
    put_remote_files(d, &[("audit/a", b"remote version"), ("audit/b", b"b")]).await;
    d.corrupt("audit/a");
    d.reset();
    let e = ds
        .pull(&opts())
        .await
        .expect_err("corrupt download over a file");
    assert_eq!(e.kind, "integrity", "{e}");
    assert!(e.message.contains("audit/a"), "{e}");
    assert_eq!(
        d.count_on(Kind::Download, "audit/a"),
        2,
        "retried up to retryMaxAttempts"
    );
    assert_eq!(cache.read("audit/a"), b"old");
    assert_eq!(temp_files(&cache), Vec::<String>::new());
    assert_eq!(data_files(&cache), ["audit/a", "audit/b"], "no debris");
    assert_ne!(
        sidecar(&cache)["remoteIndexGeneration"],
        d.generation(INDEX).await.unwrap().as_str(),
        "no fingerprint after a failed pull"
    );

    cache.remove("audit/a");
    let e = ds.pull(&opts()).await.expect_err("corrupt download");
    assert_eq!(e.kind, "integrity", "{e}");
    assert!(!cache.exists("audit/a"));
    assert_eq!(temp_files(&cache), Vec::<String>::new());
    assert_eq!(cache.outside_names(), ["cache"]);

    d.clear_faults();
    ds.pull(&opts()).await.unwrap();
    assert_eq!(cache.read("audit/a"), b"remote version");
    assert_eq!(cache.read("audit/b"), b"b");
}

/// `docs/hazards.md#unsafe-index-key-throws-out-of-push`: an index key that could escape the
/// cache (`../../escape`, `/abs`, `a//b`, backslashes, `.` segments) is never turned into a path.
/// The pull skips it (counted as `unsafeSkipped`) and succeeds for the other entries, never
/// requests the object, and writes nothing outside the cache; a later push keeps the entry
/// (someone else's) and does not mark the cache clean, since that entry is not local.
pub async fn index_key_escaping_the_cache_is_never_written_outside_it<D: Driver>(d: &mut D) {
    let unsafe_keys = [
        "../../escape",
        "../escape2",
        "/abs",
        "a//b",
        "data\\..\\x",
        "x/./y",
        "back\\slash",
    ];
    let mut entries: Vec<IndexSpec<'_>> = unsafe_keys.iter().map(|k| (*k, 4, None, None)).collect();
    for k in unsafe_keys {
        d.put_raw(k, b"evil");
    }
    d.put("audit/ok", b"ok").await;
    entries.push(("audit/ok", 2, None, None));
    d.put(INDEX, &ts_index(&entries)).await;
    let cache = Cache::new();
    let mut ds = d.open(&cache, "").await;
    d.reset();
    let report = ds.pull(&opts()).await.unwrap();
    assert_eq!(report.files, 1);
    assert!(
        report
            .phase("pullChanged.walk")
            .contains(&format!("unsafeSkipped={}", unsafe_keys.len())),
        "{:?}",
        report.phases
    );
    let requested: Vec<String> = d.requests().into_iter().map(|r| r.object).collect();
    assert!(
        requested.iter().all(|o| !unsafe_keys.contains(&o.as_str())),
        "{requested:?}"
    );
    assert_eq!(data_files(&cache), ["audit/ok"]);
    assert_eq!(cache.outside_names(), ["cache"]);
    assert!(!cache.outside().join("escape2").exists());
    assert!(!cache.path().join("../../escape").exists());

    cache.write("audit/new", b"n");
    ds.mark_dirty(&rel("audit/new")).await.unwrap();
    assert_eq!(ds.push(&opts()).await.unwrap().files, 1);
    let keys = d.index_keys().await;
    assert!(keys.contains(&"../../escape".to_string()), "{keys:?}");
    assert!(keys.contains(&"audit/new".to_string()));
    assert_eq!(sidecar(&cache)["localDirty"], true);
    assert_eq!(cache.outside_names(), ["cache"]);
}

/// `docs/hazards.md#overlapping-dirty-paths-processed-twice`: dirty paths that overlap (a file, its
/// directory, the model directory above both) are walked once: the changed file is uploaded once,
/// the removed directory's file is deleted once, and nothing else is sent.
pub async fn overlapping_dirty_paths_upload_once_and_delete_once<D: Driver>(d: &mut D) {
    let cache = Cache::new();
    cache.write("data/t/m/d/1/raw", b"1");
    cache.write("data/t/m/d/2/raw", b"2");
    cache.write("data/t/m/d/3/raw", b"3");
    d.open(&cache, "").await.push(&opts()).await.unwrap();
    let mut ds = d.open(&cache, "").await;
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
    cache.remove("data/t/m/d/2");
    let before = d.objects().await;
    d.reset();
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!((report.files, report.deleted), (1, 1));
    let uploads = d.puts();
    let written = written_between(&before, &d.objects().await);
    assert_eq!(data_only(written.clone()), ["data/t/m/d/1/raw"]);
    // Multipart uploads cannot always be named from the request log, so count them: one
    // per object written means no object was uploaded twice.
    assert_eq!(uploads, written.len(), "written: {written:?}");
    assert_eq!(d.objects_of(Kind::Delete), ["data/t/m/d/2/raw"]);
    assert_eq!(d.must_get("data/t/m/d/1/raw").await, b"11");
    assert_eq!(d.get("data/t/m/d/2/raw").await, None);
    assert_eq!(d.must_get("data/t/m/d/3/raw").await, b"3", "untouched");
    assert_eq!(
        d.index_keys().await,
        ["data/t/m/d/1/raw", "data/t/m/d/3/raw"]
    );
}

/// `docs/hazards.md#mtime-formatting-drift`: `localMtime` is written like JS `toISOString()`
/// and persisted in the local index after a pull; the remote index keeps its own entry.
pub async fn local_mtime_is_js_iso_and_written_back_after_pull<D: Driver>(d: &mut D) {
    put_remote_files(d, &[("audit/a", b"a")]).await;
    let cache = Cache::new();
    d.open(&cache, "").await.pull(&opts()).await.unwrap();
    let local = local_index(&cache);
    let m = local["entries"]["audit/a"]["localMtime"]
        .as_str()
        .unwrap_or_else(|| panic!("no localMtime: {local}"))
        .to_string();
    assert_eq!(m, mtime_iso(&cache, "audit/a"));
    assert!(is_js_iso(&m), "{m}");
    let remote = d.json(INDEX).await;
    assert!(
        remote["entries"]["audit/a"].get("localMtime").is_none(),
        "the remote keeps its own: {remote}"
    );
}

/// `docs/hazards.md#silent-fallback-from-an-unreadable-shard`: partition reads retry transient
/// errors, treat 404 as missing (monolith fallback), and fail on anything else — never a silent
/// fallback to the monolith.
pub async fn partition_reads_retry_404_falls_back_other_errors_fail<D: Driver>(d: &mut D) {
    let rel_path = "data/t/m/d/1/raw";
    let shard = "_index/data--t--m.json";
    let src = Cache::new();
    src.write(rel_path, b"r");
    d.open(&src, "").await.push(&opts()).await.unwrap();

    d.fail(Kind::Download, shard, 503, Some(1));
    let cache = Cache::new();
    let mut ds = d.open(&cache, "").await;
    d.reset();
    let report = ds.pull(&models(&[("t", "m")])).await.unwrap();
    assert_eq!(report.files, 1);
    assert_eq!(cache.read(rel_path), b"r");
    assert_eq!(d.count_on(Kind::Download, shard), 2, "retried once");
    assert_eq!(d.count_on(Kind::Download, INDEX), 0);

    d.clear_faults();
    d.fail(Kind::Download, shard, 403, Some(1));
    let cache = Cache::new();
    let mut ds = d.open(&cache, "").await;
    d.reset();
    let e = ds
        .pull(&models(&[("t", "m")]))
        .await
        .expect_err("an unreadable partition");
    assert!(
        e.message
            .starts_with("pull: read partition _index/data--t--m.json"),
        "{e}"
    );
    assert_eq!(d.count_on(Kind::Download, INDEX), 0, "no silent fallback");
    assert!(!cache.exists(rel_path));
}

/// `docs/hazards.md#best-effort-sidecar-writes`: sidecar writes after a successful transfer are
/// best effort; a markDirty that cannot persist fails loudly, and a push with work refuses to
/// upload when it cannot record "dirty" first (a crash mid-push could otherwise hide the uploads
/// behind an old clean sidecar).
pub async fn sidecar_write_failures_never_fail_a_successful_push_but_fail_mark_dirty<D: Driver>(
    d: &mut D,
) {
    let cache = Cache::new();
    cache.write("audit/a", b"a");
    let mut ds = d.open(&cache, "").await;
    ds.mark_dirty(&rel("audit/a")).await.unwrap();
    // The sidecar becomes unwritable after the mark (a directory takes its place).
    cache.remove(SIDECAR);
    cache.write(&format!("{SIDECAR}/blocker"), b"in the way");
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!(report.files, 1);
    assert!(d.get("audit/a").await.is_some() && d.get(INDEX).await.is_some());
    let e = ds
        .mark_dirty(&rel("audit/b"))
        .await
        .expect_err("markDirty without a sidecar");
    assert!(
        e.message
            .starts_with("markDirty audit/b: persist the sync-state sidecar"),
        "{e}"
    );
    let mut fresh = d.open(&cache, "").await;
    cache.write("audit/c", b"c");
    d.reset();
    let e = fresh
        .push(&opts())
        .await
        .expect_err("push that cannot mark dirty");
    assert!(
        e.message
            .starts_with("push: mark the cache dirty before uploading"),
        "{e}"
    );
    assert_eq!(d.puts(), 0);
}

/// The hash recorded at push time is the hash of exactly the uploaded bytes.
pub async fn pushed_hash_matches_uploaded_bytes<D: Driver>(d: &mut D) {
    let cache = Cache::new();
    let data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    cache.write("files/blob.bin", &data);
    d.open(&cache, "").await.push(&opts()).await.unwrap();
    assert_eq!(d.must_get("files/blob.bin").await, data);
    let index = d.json(INDEX).await;
    assert_eq!(
        index["entries"]["files/blob.bin"]["sha256"],
        sha256_hex(&data).as_str()
    );
}

/// `docs/hazards.md#namespace-directories-in-a-solo-walk`: a solo push's full walk never
/// uploads the files of a directory holding a `.namespace.json` manifest (another
/// repository's namespaced data), and a bulk push's orphan deletion never removes the
/// remote objects below it.
pub async fn solo_walk_skips_namespace_directories<D: Driver>(d: &mut D) {
    d.put("tenant/.namespace.json", br#"{"namespace":"tenant"}"#)
        .await;
    d.put("tenant/data/t/m/d/9/raw", b"theirs").await;
    let cache = Cache::new();
    cache.write("data/t/m/d/1/raw", b"ours");
    cache.write("tenant/.namespace.json", br#"{"namespace":"tenant"}"#);
    cache.write("tenant/data/t/m/d/9/raw", b"a stale local copy");
    cache.write("tenant/data/t/m/d/10/raw", b"never ours to push");
    let mut ds = d.open(&cache, "").await;
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!(report.files, 1, "only the solo file");
    assert_eq!(d.index_keys().await, ["data/t/m/d/1/raw"]);
    assert_eq!(d.must_get("tenant/data/t/m/d/9/raw").await, b"theirs");
    assert_eq!(d.get("tenant/data/t/m/d/10/raw").await, None);
    assert_eq!(
        data_only(d.names().await),
        [
            "data/t/m/d/1/raw",
            "tenant/.namespace.json",
            "tenant/data/t/m/d/9/raw"
        ],
        "the tenant's objects as they were, nothing of theirs added"
    );

    // A bulk push (the path-less mark) walks everything and may delete orphans: the
    // tenant's objects are none of its business.
    ds.mark_dirty(&opts()).await.unwrap();
    d.reset();
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!((report.files, report.deleted), (0, 0));
    assert!(d.objects_of(Kind::Delete).is_empty());
    assert_eq!(d.must_get("tenant/data/t/m/d/9/raw").await, b"theirs");
}
