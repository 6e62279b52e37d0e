//! Faults on the wire during push and pull (issue 6, "Faults on the wire"): retries
//! recover when they should and stop when they should; a failed push names the file and
//! the operation in one line, leaves the path dirty and publishes no index entry for an
//! upload that did not happen; a truncated or corrupted download never reaches the
//! cache; a rate-limited index write is retried to success.

use crate::common::*;
use crate::crash::world::*;
use crate::sync::support::*;
use gcs_host::faults::{FaultAction, FaultMatch, FaultRule};
use gcs_host::traffic::RequestKind;
use std::time::Duration;

/// Statuses of the logged uploads, in order.
fn upload_statuses(env: &Env) -> Vec<u16> {
    env.log()
        .iter()
        .filter(|r| r.kind == RequestKind::Upload)
        .map(|r| r.status)
        .collect()
}

/// Mark and rewrite each path (version `v`), as swamp does: mark first, then write.
async fn edit(w: &World, ds: &mut gcs_host::Datastore, paths: &[String], v: usize) {
    for p in paths {
        ds.mark_dirty(&rel(p)).await.expect("mark-dirty");
        w.cache.write(p, &body(p, v));
    }
}

/// A 503 on every attempt of an upload (more than `retryMaxAttempts`): the push fails
/// with one line naming the file and the operation; nothing about that file reaches the
/// index — in fact no index write happens at all, so the other file, whose upload did
/// succeed, is not named either; both stay dirty in the sidecar. The next push (no
/// faults) uploads both and publishes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_503_beyond_the_retry_budget_fails_the_push_and_keeps_the_file_dirty() {
    // Uploads one at a time, in walk order: the ALPHA file first, then the GAMMA one.
    let ok = file(ALPHA, 0);
    let failing = file(GAMMA, 0);
    let w = pushed_world(vec![ok.clone(), failing.clone()]).await;
    let config = r#""retryMaxAttempts":3,"pushConcurrency":1"#;
    let mut ds = w.env.open(&w.cache, config).await;
    edit(&w, &mut ds, &w.dirty, 2).await;
    let index_before = remote_index(&w.env).expect("the index");
    let generation_before = index_generation(&w.env);

    // The first upload passes; the next three (every attempt of the second) get 503.
    w.env.host.faults.add(
        FaultRule::new(
            FaultMatch::kind(RequestKind::Upload),
            FaultAction::Status(503),
            Some(3),
        )
        .after(1),
    );
    w.env.reset();
    let e = expect_err(ds.push(&opts()).await, "push through a 503 storm");
    let message = e.to_string();
    assert!(!message.contains('\n'), "one line: {message}");
    for part in [failing.as_str(), "upload", "503"] {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
    assert!(
        !message.contains(&ok),
        "only the failed file is named: {message}"
    );
    assert_eq!(
        upload_statuses(&w.env),
        [200, 503, 503, 503],
        "no index write"
    );

    // The bucket: the first file's new bytes, no second file, the index untouched.
    let objects = bucket_bytes(&w.env);
    assert_eq!(objects.get(&ok), Some(&body(&ok, 2)));
    assert!(!objects.contains_key(&failing));
    assert_eq!(index_generation(&w.env), generation_before);
    assert_eq!(remote_index(&w.env), Some(index_before));
    check_index_names_only_uploaded(&w, "after the failed push", false);
    check_no_dirty_path_forgotten(&w, "after the failed push");
    let s = sidecar(&w.cache);
    assert_eq!(s["localDirty"], true, "{s}");
    assert_eq!(s["dirtyPaths"], serde_json::json!([ok, failing]), "{s}");

    // The next push, in a new process, retries everything that was not confirmed.
    w.env.host.faults.clear();
    let report = w
        .env
        .open(&w.cache, "")
        .await
        .push(&opts())
        .await
        .expect("the next push");
    assert_eq!(report.files, 2);
    let index = remote_index(&w.env).expect("the index");
    for p in [&ok, &failing] {
        assert_eq!(
            index["entries"][p]["sha256"],
            sha256_hex(&body(p, 2)),
            "{p}"
        );
    }
    check_index_names_only_uploaded(&w, "after the next push", true);
    let s = sidecar(&w.cache);
    assert_eq!(s["localDirty"], false, "{s}");
    assert_eq!(s["dirtyPaths"], serde_json::json!([]), "{s}");
}

/// 503s fewer than the retry budget on an upload: retried, the push succeeds and
/// publishes the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_503_within_the_retry_budget_is_retried_to_success() {
    let path = file(ALPHA, 0);
    let w = pushed_world(vec![path.clone()]).await;
    let mut ds = w.env.open(&w.cache, r#""retryMaxAttempts":3"#).await;
    edit(&w, &mut ds, &w.dirty, 2).await;
    w.env.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Upload),
        FaultAction::Status(503),
        Some(2),
    ));
    w.env.reset();
    assert_eq!(ds.push(&opts()).await.expect("push").files, 1);
    assert_eq!(&upload_statuses(&w.env)[..3], [503, 503, 200]);
    let index = remote_index(&w.env).expect("the index");
    assert_eq!(
        index["entries"][&path]["sha256"],
        sha256_hex(&body(&path, 2))
    );
    check_index_names_only_uploaded(&w, "after the push", true);
    assert_eq!(sidecar(&w.cache)["localDirty"], false);
}

/// A download whose body is cut short, or has a flipped byte, on every attempt: the
/// pull fails naming the file, the cache keeps the old content of a changed file and
/// does not get a new file at all, no temporary file is left and no fingerprint is
/// recorded; a rerun pull without the fault completes. A single truncation is retried
/// to success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_or_corrupted_download_never_reaches_the_cache() {
    for action in [FaultAction::Truncate(20), FaultAction::Corrupt] {
        let w = Scenario::Pull.prepare().await;
        let changed = file(ALPHA, 0);
        let new = file(GAMMA, 0);
        for object in [changed.as_str(), GAMMA] {
            w.env.host.faults.add(FaultRule::new(
                FaultMatch::kind(RequestKind::Download).object(object),
                action.clone(),
                None,
            ));
        }
        let e = expect_err(
            w.env
                .open(&w.cache, r#""retryMaxAttempts":2"#)
                .await
                .pull(&opts())
                .await,
            &format!("pull through {action:?}"),
        );
        let message = e.to_string();
        assert!(!message.contains('\n'), "{action:?}: one line: {message}");
        assert!(
            message.contains(&changed) || message.contains(GAMMA),
            "{action:?}: the file is named: {message}"
        );
        if action == FaultAction::Corrupt {
            assert_eq!(e.kind(), "integrity", "{action:?}: {message}");
        }
        let when = format!("after a pull through {action:?}");
        check_cache_holds_whole_versions(&w, &when, false);
        assert_eq!(
            w.cache.read(&changed),
            body(&changed, 1),
            "{when}: old content"
        );
        assert!(!w.cache.file(&new).exists(), "{when}: {new} must not exist");
        assert!(!w.cache.file(&file(GAMMA, 1)).exists(), "{when}");
        assert_eq!(w.cache.outside_names(), ["cache"], "{when}");
        let current = index_generation(&w.env);
        let s = sidecar_view(&w.cache, current.as_deref()).expect("B's sidecar");
        assert_ne!(s["remoteIndexGeneration"], "<current index>", "{when}: {s}");

        w.env.host.faults.clear();
        w.env
            .open(&w.cache, "")
            .await
            .pull(&opts())
            .await
            .unwrap_or_else(|e| panic!("{when}: the rerun pull failed: {e}"));
        let source = w.source.as_ref().expect("the pushing cache");
        let pulled = cache_view(&w.cache);
        for (path, text) in cache_view(source) {
            assert_eq!(pulled.get(&path), Some(&text), "{when}: {path}");
        }
        assert_eq!(temp_files(&w.cache), Vec::<String>::new(), "{when}");
        let s = sidecar_view(&w.cache, index_generation(&w.env).as_deref()).unwrap();
        assert_eq!(s["remoteIndexGeneration"], "<current index>", "{when}: {s}");
    }

    // Once only: the retry gets the whole body.
    let w = Scenario::Pull.prepare().await;
    w.env.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Download).object(&file(ALPHA, 0)),
        FaultAction::Truncate(20),
        Some(1),
    ));
    w.env.reset();
    let report = w
        .env
        .open(&w.cache, "")
        .await
        .pull(&opts())
        .await
        .expect("a pull through one truncated body");
    assert_eq!(report.files, 5);
    assert_eq!(w.env.host.faults.fired(), 1);
    assert_eq!(w.cache.read(&file(ALPHA, 0)), body(&file(ALPHA, 0), 2));
    assert_eq!(temp_files(&w.cache), Vec::<String>::new());
}

/// A 429 `rateLimitExceeded` on the index object write (injected, then the fake's own
/// per-object limit when two pushes come faster than one a second): retried, the
/// push succeeds and the index names every pushed file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_index_write_is_retried_to_success() {
    let first = file(ALPHA, 0);
    let mut w = pushed_world(vec![first.clone()]).await;
    let mut ds = w.env.open(&w.cache, "").await;
    edit(&w, &mut ds, &w.dirty, 2).await;
    // The push's uploads: the data file, then the monolith (the one to refuse).
    w.env.host.faults.add(
        FaultRule::new(
            FaultMatch::kind(RequestKind::Upload),
            FaultAction::RateLimit,
            Some(1),
        )
        .after(1),
    );
    let before = w.env.objects().await;
    w.env.reset();
    assert_eq!(ds.push(&opts()).await.expect("push").files, 1);
    assert_eq!(&upload_statuses(&w.env)[..3], [200, 429, 200]);
    let written = written_between(&before, &w.env.objects().await);
    assert_eq!(
        written,
        [first.clone(), INDEX.to_string(), partition_of(ALPHA)],
        "the monolith was written once, after the data"
    );
    let index = remote_index(&w.env).expect("the index");
    assert_eq!(
        index["entries"][&first]["sha256"],
        sha256_hex(&body(&first, 2))
    );
    check_index_names_only_uploaded(&w, "after the rate-limited push", true);
    assert_eq!(sidecar(&w.cache)["localDirty"], false);

    // The server's own limit. Two seconds between mutations of one object: the second
    // push's index write follows the first one's within milliseconds and is refused
    // until the window has passed.
    w.env.host.faults.clear();
    fake(&w.env).set_write_rate_limit(Some(Duration::from_secs(2)));
    let second = file(ALPHA, 1);
    let third = file(BETA, 0);
    for p in [&second, &third] {
        let mut ds = w.env.open(&w.cache, "").await;
        edit(&w, &mut ds, std::slice::from_ref(p), 2).await;
        w.env.reset();
        assert_eq!(ds.push(&opts()).await.expect("back-to-back push").files, 1);
    }
    let statuses = upload_statuses(&w.env);
    assert!(
        statuses.contains(&429),
        "the second index write was throttled: {statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&200));
    let index = remote_index(&w.env).expect("the index");
    for p in [&first, &second, &third] {
        assert_eq!(
            index["entries"][p]["sha256"],
            sha256_hex(&body(p, 2)),
            "{p}"
        );
    }
    check_index_names_only_uploaded(&w, "after the throttled pushes", true);
    assert_eq!(sidecar(&w.cache)["localDirty"], false);
}

/// The index read's body cut after N bytes on every attempt: the pull fails with one
/// `transport` line (body cut short after a 200) naming the index, whose hint says the
/// server answered rather than blaming the network, and the cache is untouched. Cut
/// once: retried to success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_read_cut_after_n_bytes_fails_honestly_or_is_retried() {
    for n in [0, 10, 200] {
        let w = Scenario::Pull.prepare().await;
        let before = cache_view(&w.cache);
        w.env.host.faults.add(FaultRule::new(
            FaultMatch::kind(RequestKind::Download).object(INDEX),
            FaultAction::Truncate(n),
            None,
        ));
        let e = expect_err(
            w.env
                .open(&w.cache, r#""retryMaxAttempts":2"#)
                .await
                .pull(&opts())
                .await,
            &format!("pull through an index cut after {n} bytes"),
        );
        let message = e.to_string();
        assert_eq!(e.kind(), "transport", "{n}: {message}");
        assert!(!message.contains('\n'), "{n}: one line: {message}");
        assert!(message.contains(INDEX), "{n}: names the index: {message}");
        let hint = e.hint(Default::default()).expect("a hint");
        assert!(hint.contains("answered (HTTP 200)"), "{n}: {hint}");
        assert!(!hint.contains("nothing answered"), "{n}: {hint}");
        assert_eq!(cache_view(&w.cache), before, "{n}: the cache is untouched");

        w.env.host.faults.clear();
        w.env.host.faults.add(FaultRule::new(
            FaultMatch::kind(RequestKind::Download).object(INDEX),
            FaultAction::Truncate(n),
            Some(1),
        ));
        let report = w
            .env
            .open(&w.cache, "")
            .await
            .pull(&opts())
            .await
            .unwrap_or_else(|e| panic!("{n}: a pull through one cut index read: {e}"));
        assert_eq!(report.files, 5, "{n}: the pull world downloads five files");
        assert_eq!(w.env.host.faults.fired(), 1, "{n}");
    }
}
