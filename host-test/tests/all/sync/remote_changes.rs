//! Issue 10: a pull sees every remote change, and a push never reverts one. Two caches
//! (X and Y) share a bucket; each case names what it proves. Decisions are three-way
//! against the version each cache last synced (its local index copy): an equal-size
//! rewrite, a rewrite without `sha256`, a rewrite back to earlier bytes and a remote
//! deletion all reach Y; a bulk push by Y never puts an older version back; a file
//! changed on both sides is kept locally, left alone remotely and reported.

use crate::common::*;
use crate::sync::support::*;
use gcs_host::Datastore;
use std::time::{Duration, UNIX_EPOCH};

on_both_servers!(
    equal_size_rewrite_is_pulled_and_a_bulk_push_does_not_revert_it,
    bulk_push_of_a_file_older_than_the_remote_does_not_revert_it,
    remote_deletion_removes_the_file_and_a_bulk_push_does_not_resurrect_it,
    equal_size_and_equal_mtime_rewrite_is_pulled,
    remote_rewrite_of_an_entry_without_sha256_is_pulled,
    rewrite_back_to_earlier_bytes_is_pulled,
    file_changed_on_both_sides_is_kept_reported_and_not_overwritten,
    file_deleted_remotely_but_changed_locally_is_kept_and_pushed_again,
    ts_index_with_a_changed_hash_is_pulled,
    scoped_and_namespaced_pulls_apply_rewrites_and_deletions,
);

const RAW: &str = "data/t/m/d/1/raw";
const OTHER: &str = "data/t/m/d/2/raw";

/// Write `rel` in `cache` the way swamp does (mark dirty, write) and push.
async fn edit_and_push(ds: &mut Datastore, cache: &Cache, rel_path: &str, data: &[u8]) {
    ds.mark_dirty(&rel(rel_path)).await.unwrap();
    cache.write(rel_path, data);
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!(report.files, 1, "push of {rel_path}: {:?}", report.phases);
    assert!(report.conflicts.is_empty(), "{:?}", report.conflicts);
}

/// Set a file's mtime to `unix_ms`.
fn set_mtime(cache: &Cache, rel_path: &str, unix_ms: u64) {
    let file = std::fs::File::options()
        .write(true)
        .open(cache.file(rel_path))
        .unwrap();
    file.set_modified(UNIX_EPOCH + Duration::from_millis(unix_ms))
        .unwrap();
}

/// X pushes `AAAA`, Y pulls it, X pushes `BBBB` (same size).
async fn x_rewrites_after_y_pulled(env: &Env) -> (Cache, Datastore, Cache, Datastore) {
    let (x, y) = (Cache::new(), Cache::new());
    let mut xs = env.open(&x, "").await;
    let mut ys = env.open(&y, "").await;
    x.write(RAW, b"AAAA");
    x.write(OTHER, b"other");
    xs.push(&opts()).await.unwrap();
    assert_eq!(ys.pull(&opts()).await.unwrap().files, 2);
    edit_and_push(&mut xs, &x, RAW, b"BBBB").await;
    (x, xs, y, ys)
}

/// The issue's four steps: Y's pull fetches the equal-size rewrite, and Y's bulk push
/// afterwards leaves `BBBB` in the bucket; X then has nothing to pull.
async fn equal_size_rewrite_is_pulled_and_a_bulk_push_does_not_revert_it(mut env: Env) {
    let (x, mut xs, y, mut ys) = x_rewrites_after_y_pulled(&env).await;
    let report = ys.pull(&opts()).await.unwrap();
    assert_eq!(report.files, 1, "{:?}", report.phases);
    assert_eq!(y.read(RAW), b"BBBB");
    assert!(ys.pull(&opts()).await.unwrap().fast_path, "in sync now");

    ys.mark_dirty(&opts()).await.unwrap();
    let report = ys.push(&opts()).await.unwrap();
    assert_eq!(
        (report.files, report.deleted),
        (0, 0),
        "{:?}",
        report.phases
    );
    assert_eq!(env.must_get(RAW).await, b"BBBB");
    assert_eq!(xs.pull(&opts()).await.unwrap().files, 0);
    assert_eq!(x.read(RAW), b"BBBB");
}

/// Y never pulled `BBBB`: its `AAAA` is older than the remote, not a local change, so a
/// bulk push uploads nothing; the next pull then fetches `BBBB`.
async fn bulk_push_of_a_file_older_than_the_remote_does_not_revert_it(mut env: Env) {
    let (_x, _xs, y, mut ys) = x_rewrites_after_y_pulled(&env).await;
    ys.mark_dirty(&opts()).await.unwrap();
    let report = ys.push(&opts()).await.unwrap();
    assert_eq!(report.files, 0, "{:?}", report.phases);
    assert!(report.conflicts.is_empty());
    assert_eq!(env.must_get(RAW).await, b"BBBB");
    assert!(
        !ys.pull(&opts()).await.unwrap().fast_path,
        "the push must not mark Y in sync with a version it does not hold"
    );
    assert_eq!(y.read(RAW), b"BBBB");
}

/// X deletes a file and pushes the deletion: Y's pull removes it (and the directories
/// left empty, nothing else), and Y's bulk push does not upload it again.
async fn remote_deletion_removes_the_file_and_a_bulk_push_does_not_resurrect_it(mut env: Env) {
    let (x, y) = (Cache::new(), Cache::new());
    let mut xs = env.open(&x, "").await;
    let mut ys = env.open(&y, "").await;
    x.write(RAW, b"AAAA");
    x.write(OTHER, b"other");
    xs.push(&opts()).await.unwrap();
    ys.pull(&opts()).await.unwrap();

    xs.mark_dirty(&rel(RAW)).await.unwrap();
    remove(&x, RAW);
    assert_eq!(xs.push(&opts()).await.unwrap().deleted, 1);
    assert_eq!(env.get(RAW).await, None);

    let report = ys.pull(&opts()).await.unwrap();
    assert_eq!(
        (report.files, report.deleted),
        (0, 1),
        "{:?}",
        report.phases
    );
    assert_eq!(data_files(&y), [OTHER]);
    assert!(!y.file("data/t/m/d/1").exists(), "empty directory removed");
    assert!(y.file("data/t/m/d").is_dir(), "non-empty parent kept");

    ys.mark_dirty(&opts()).await.unwrap();
    assert_eq!(ys.push(&opts()).await.unwrap().files, 0);
    assert_eq!(env.get(RAW).await, None);
    assert_eq!(env.index_keys().await, [OTHER]);
}

/// Coarse clocks: the rewrite has the same size and the same mtime string as the
/// version Y holds, only the bytes (and so the hash) differ.
async fn equal_size_and_equal_mtime_rewrite_is_pulled(mut env: Env) {
    const T: u64 = 1_785_578_400_000;
    let (x, y) = (Cache::new(), Cache::new());
    let mut xs = env.open(&x, "").await;
    let mut ys = env.open(&y, "").await;
    x.write(RAW, b"AAAA");
    set_mtime(&x, RAW, T);
    xs.push(&opts()).await.unwrap();
    ys.pull(&opts()).await.unwrap();
    set_mtime(&y, RAW, T);

    xs.mark_dirty(&rel(RAW)).await.unwrap();
    x.write(RAW, b"BBBB");
    set_mtime(&x, RAW, T);
    assert_eq!(xs.push(&opts()).await.unwrap().files, 1);
    let entry = &env.json(INDEX).await["entries"][RAW];
    assert_eq!(entry["localMtime"], iso_ms(T as i64));

    assert_eq!(ys.pull(&opts()).await.unwrap().files, 1);
    assert_eq!(y.read(RAW), b"BBBB");
    assert_eq!(env.must_get(RAW).await, b"BBBB");
}

/// An index written by an old client (no `sha256`): a rewrite of the same size shows in
/// `lastModified`, and is pulled.
async fn remote_rewrite_of_an_entry_without_sha256_is_pulled(mut env: Env) {
    let index = |last_modified: &str| {
        format!(
            r#"{{"version":1,"lastPulled":"{last_modified}","entries":{{"{RAW}":{{"key":"{RAW}","size":4,"lastModified":"{last_modified}"}}}}}}"#
        )
    };
    env.put(RAW, b"AAAA").await;
    env.put(INDEX, index("2026-07-01T00:00:00.000Z").as_bytes())
        .await;
    let y = Cache::new();
    let mut ys = env.open(&y, "").await;
    assert_eq!(ys.pull(&opts()).await.unwrap().files, 1);

    env.put(RAW, b"BBBB").await;
    env.put(INDEX, index("2026-07-02T00:00:00.000Z").as_bytes())
        .await;
    assert_eq!(ys.pull(&opts()).await.unwrap().files, 1);
    assert_eq!(y.read(RAW), b"BBBB");
}

/// `AAAA` → `BBBB` → `AAAA` remotely: each version reaches Y, the last one too although
/// Y held it once before.
async fn rewrite_back_to_earlier_bytes_is_pulled(env: Env) {
    let (x, mut xs, y, mut ys) = x_rewrites_after_y_pulled(&env).await;
    assert_eq!(ys.pull(&opts()).await.unwrap().files, 1);
    assert_eq!(y.read(RAW), b"BBBB");
    edit_and_push(&mut xs, &x, RAW, b"AAAA").await;
    assert_eq!(ys.pull(&opts()).await.unwrap().files, 1);
    assert_eq!(y.read(RAW), b"AAAA");
}

/// X pushes `BBBB` while Y edits the same file to `CCCC`: Y's pull keeps `CCCC` and
/// reports the path (every pull until resolved, never hidden by the fast path); Y's push
/// reports it again and leaves `BBBB` in the bucket, while Y's other edit is pushed.
/// Moving the file aside and pulling resolves it.
async fn file_changed_on_both_sides_is_kept_reported_and_not_overwritten(mut env: Env) {
    let (x, mut xs, y, mut ys) = x_rewrites_after_y_pulled(&env).await;
    ys.mark_dirty(&rel(RAW)).await.unwrap();
    y.write(RAW, b"CCCC");
    ys.mark_dirty(&rel(OTHER)).await.unwrap();
    y.write(OTHER, b"mine too");

    for _ in 0..2 {
        let report = ys.pull(&opts()).await.unwrap();
        assert_eq!(report.conflicts, [RAW], "{:?}", report.phases);
        assert_eq!(report.files, 0);
        assert_eq!(y.read(RAW), b"CCCC");
    }
    let report = ys.push(&opts()).await.unwrap();
    assert_eq!(report.conflicts, [RAW], "{:?}", report.phases);
    assert_eq!(report.files, 1, "the other edit is pushed");
    assert_eq!(env.must_get(RAW).await, b"BBBB");
    assert_eq!(env.must_get(OTHER).await, b"mine too");
    assert_eq!(y.read(RAW), b"CCCC");
    assert_eq!(sidecar(&y)["localDirty"], true, "unresolved: not clean");

    assert_eq!(xs.pull(&opts()).await.unwrap().files, 1);
    assert_eq!(x.read(RAW), b"BBBB");
    assert_eq!(x.read(OTHER), b"mine too");

    remove(&y, RAW);
    let report = ys.pull(&opts()).await.unwrap();
    assert!(report.conflicts.is_empty());
    assert_eq!(y.read(RAW), b"BBBB");
}

/// X deletes a file Y has changed: Y's pull keeps it and reports it; Y's push publishes
/// it again (no version is lost by that: the deleted one was Y's base).
async fn file_deleted_remotely_but_changed_locally_is_kept_and_pushed_again(mut env: Env) {
    let (x, y) = (Cache::new(), Cache::new());
    let mut xs = env.open(&x, "").await;
    let mut ys = env.open(&y, "").await;
    x.write(RAW, b"AAAA");
    xs.push(&opts()).await.unwrap();
    ys.pull(&opts()).await.unwrap();
    xs.mark_dirty(&rel(RAW)).await.unwrap();
    remove(&x, RAW);
    xs.push(&opts()).await.unwrap();

    ys.mark_dirty(&rel(RAW)).await.unwrap();
    y.write(RAW, b"mine, longer");
    let report = ys.pull(&opts()).await.unwrap();
    assert_eq!(report.conflicts, [RAW]);
    assert_eq!(report.deleted, 0);
    assert_eq!(y.read(RAW), b"mine, longer");
    let report = ys.push(&opts()).await.unwrap();
    assert_eq!(report.files, 1);
    assert!(report.conflicts.is_empty());
    assert_eq!(env.must_get(RAW).await, b"mine, longer");
}

/// Mixed clients: the bucket's index is the TypeScript fixture (`fixtures/formats/`,
/// its bytes, with the raw's `sha256` set to the real hash of its object). Another client
/// rewrites the raw with the same size and only the hash in the fixture changes: the
/// pull fetches it.
async fn ts_index_with_a_changed_hash_is_pulled(mut env: Env) {
    const TS_RAW: &str = "data/aws/ec2/vpc/abc/state-main/1/raw";
    const FIXTURE_SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let text = String::from_utf8(fixture("index-compact.json")).unwrap();
    let ts: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (i, (key, entry)) in ts["entries"].as_object().unwrap().iter().enumerate() {
        env.put(
            key,
            &pattern(entry["size"].as_u64().unwrap() as usize, i as u8),
        )
        .await;
    }
    let first = pattern(42, 0);
    env.put(
        INDEX,
        text.replace(FIXTURE_SHA, &sha256_hex(&first)).as_bytes(),
    )
    .await;
    let y = Cache::new();
    let mut ys = env.open(&y, "").await;
    assert_eq!(ys.pull(&opts()).await.unwrap().files, 6);
    assert_eq!(y.read(TS_RAW), first);

    let second = pattern(42, 99);
    env.put(TS_RAW, &second).await;
    env.put(
        INDEX,
        text.replace(FIXTURE_SHA, &sha256_hex(&second)).as_bytes(),
    )
    .await;
    let report = ys.pull(&opts()).await.unwrap();
    assert_eq!(report.files, 1, "{:?}", report.phases);
    assert!(report.conflicts.is_empty());
    assert_eq!(y.read(TS_RAW), second);
}

/// A scoped pull (the model's partitions only) and a namespaced pull apply an
/// equal-size rewrite and a deletion the same way; a scoped pull leaves other models'
/// files alone even when they are gone remotely.
async fn scoped_and_namespaced_pulls_apply_rewrites_and_deletions(env: Env) {
    for ns in [None, Some("ns1")] {
        let options = |o: gcs_host::datastore::SyncOptions| gcs_host::datastore::SyncOptions {
            namespace: ns.map(str::to_string),
            ..o
        };
        let at = |rel_path: &str| match ns {
            Some(n) => format!("{n}/{rel_path}"),
            None => rel_path.to_string(),
        };
        let (x, y) = (Cache::new(), Cache::new());
        let mut xs = env.open(&x, "").await;
        let mut ys = env.open(&y, "").await;
        let elsewhere = "data/t/other/d/1/raw";
        for (rel_path, data) in [(RAW, &b"AAAA"[..]), (OTHER, b"gone"), (elsewhere, b"E")] {
            x.write(&at(rel_path), data);
        }
        xs.push(&options(opts())).await.unwrap();
        ys.pull(&options(opts())).await.unwrap();

        for path in [RAW, OTHER, elsewhere] {
            xs.mark_dirty(&options(rel(&at(path)))).await.unwrap();
        }
        x.write(&at(RAW), b"BBBB");
        remove(&x, &at(OTHER));
        remove(&x, &at(elsewhere));
        let report = xs.push(&options(opts())).await.unwrap();
        assert_eq!((report.files, report.deleted), (1, 2), "{ns:?}");

        let report = ys.pull(&options(models(&[("t", "m")]))).await.unwrap();
        assert_eq!(
            (report.files, report.deleted),
            (1, 1),
            "{ns:?}: {:?}",
            report.phases
        );
        assert_eq!(y.read(&at(RAW)), b"BBBB", "{ns:?}");
        assert!(!y.file(&at(OTHER)).exists(), "{ns:?}");
        assert_eq!(y.read(&at(elsewhere)), b"E", "{ns:?}: outside the scope");

        let report = ys.pull(&options(opts())).await.unwrap();
        assert_eq!((report.files, report.deleted), (0, 1), "{ns:?}");
        assert!(!y.file(&at(elsewhere)).exists(), "{ns:?}");
    }
}
