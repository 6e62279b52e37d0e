//! Shard-first (v2) repositories (`docs/sync.md#shard-first-repositories`): a bucket the
//! TypeScript client migrated and committed to is pulled and pushed through its shards,
//! stays readable by it, and never falls back to the stale monolith.

use crate::driver::{Driver, Kind, Service as _};
use crate::support::*;
use crate::Cache;

/// The shard files of the scenarios' bucket.
const AUDIT: &str = "_index/audit.json";
const MODEL: &str = "_index/data--t--m.json";
const OTHER: &str = "_index/data--t--n.json";
const UNPARTITIONED: &str = "_index/_unpartitioned.json";

/// A TypeScript-written v2 bucket at `commitSeq` 7: two models and an audit log. The
/// monolith left behind by the migration is stale (it lists one file only).
async fn typescript_v2_bucket<D: Driver>(d: &mut D) {
    put_v2_remote(
        d,
        &[
            ("audit", "audit/log.json", b"log"),
            ("data--t--m", "data/t/m/d/1/raw", b"model m v1"),
            ("data--t--m", "data/t/m/d/1/metadata.yaml", b"meta"),
            ("data--t--n", "data/t/n/d/1/raw", b"model n v1"),
        ],
        7,
    )
    .await;
    d.put(INDEX, &ts_index(&[("audit/log.json", 3, None, None)]))
        .await;
}

/// `docs/compatibility.md#shard-first-buckets`: a pull assembles the index from the
/// shards the meta lists (never the monolith) and records the `commitSeq`, so the next
/// pull is one request; a push writes only the shards it touched and the meta at
/// `commitSeq + 1` in the TypeScript client's bytes, never the monolith; another cache
/// pulls what it pushed.
pub async fn v2_bucket_is_pulled_and_pushed_through_its_shards<D: Driver>(d: &mut D) {
    typescript_v2_bucket(d).await;
    let stale_monolith = d.generation(INDEX).await;
    let a = Cache::new();
    let mut ds = d.open(&a, "").await;
    d.reset();
    let report = ds.pull(&opts()).await.unwrap();
    assert_eq!(report.files, 4);
    assert_eq!(
        d.count_on(Kind::Download, INDEX),
        0,
        "the stale monolith is never read"
    );
    assert_eq!(a.read("data/t/n/d/1/raw"), b"model n v1");
    assert_eq!(sidecar(&a)["commitSeq"], 7);
    assert_eq!(sidecar(&a)["remoteIndexGeneration"], "");

    // The commitSeq fast path: one GET of the meta, for pull and push alike.
    let mut ds = d.open(&a, "").await;
    d.reset();
    assert!(ds.pull(&opts()).await.unwrap().fast_path);
    assert!(ds.push(&opts()).await.unwrap().fast_path);
    assert_eq!(d.total(), 2);
    assert_eq!(d.count_on(Kind::Download, META), 2);

    // Change one model's file; a scoped push reads that model's shard only.
    ds.mark_dirty(&rel("data/t/m/d")).await.unwrap();
    a.write("data/t/m/d/1/raw", b"model m v2, longer");
    let before = d.objects().await;
    d.reset();
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!(report.files, 1);
    let read = d.objects_of(Kind::Download);
    assert!(read.contains(&MODEL.to_string()), "{read:?}");
    assert!(
        !read.contains(&OTHER.to_string()),
        "another model's shard: {read:?}"
    );
    assert!(!read.contains(&AUDIT.to_string()), "{read:?}");
    assert_eq!(
        written_between(&before, &d.objects().await),
        [
            "data/t/m/d/1/raw".to_string(),
            MODEL.to_string(),
            META.to_string()
        ]
    );
    assert_eq!(
        d.generation(INDEX).await,
        stale_monolith,
        "the monolith is never written"
    );
    assert_eq!(
        d.must_get(META).await,
        br#"{"version":2,"partitions":["audit","data--t--m","data--t--n"],"commitSeq":8}"#
    );
    let shard = d.json(MODEL).await;
    assert_eq!(shard["version"], 1);
    assert_eq!(
        keys_of(&shard["entries"]),
        ["data/t/m/d/1/raw", "data/t/m/d/1/metadata.yaml"]
    );
    assert_eq!(shard["entries"]["data/t/m/d/1/raw"]["size"], 18);
    let state = sidecar(&a);
    assert_eq!(
        (
            state["commitSeq"].clone(),
            state["localDirty"].clone(),
            state["remoteIndexGeneration"].clone()
        ),
        (8.into(), false.into(), "".into())
    );

    // Another cache sees the commit.
    let b = Cache::new();
    assert_eq!(d.open(&b, "").await.pull(&opts()).await.unwrap().files, 4);
    assert_eq!(b.read("data/t/m/d/1/raw"), b"model m v2, longer");
}

/// `docs/hazards.md#unpartitionable-entries-vanish-from-shards`: a file no partition key
/// covers (`secrets/…`) is committed to the `_unpartitioned` shard, which the meta
/// lists, so every reader (the TypeScript client assembles every listed shard) sees it.
/// Deleting the last file of a shard empties it and unlists it; the empty shard stays in
/// place, since a reader may still follow the previous meta to it
/// (`docs/hazards.md#emptied-shard-deleted-while-listed`).
pub async fn v2_unpartitionable_files_are_kept_and_emptied_shards_unlisted<D: Driver>(d: &mut D) {
    typescript_v2_bucket(d).await;
    let a = Cache::new();
    let mut ds = d.open(&a, "").await;
    ds.pull(&opts()).await.unwrap();
    ds.mark_dirty(&rel("secrets/vault/key")).await.unwrap();
    a.write("secrets/vault/key", b"s3cr3t");
    ds.mark_dirty(&rel("data/t/n")).await.unwrap();
    remove(&a, "data/t/n/d/1/raw");
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!((report.files, report.deleted), (1, 1));
    assert_eq!(
        d.json(OTHER).await["entries"],
        serde_json::json!({}),
        "the emptied shard is left empty"
    );
    assert_eq!(
        keys_of(&d.json(UNPARTITIONED).await["entries"]),
        ["secrets/vault/key"]
    );
    assert_eq!(
        d.must_get(META).await,
        br#"{"version":2,"partitions":["_unpartitioned","audit","data--t--m"],"commitSeq":8}"#
    );
    let b = Cache::new();
    d.open(&b, "").await.pull(&opts()).await.unwrap();
    assert_eq!(b.read("secrets/vault/key"), b"s3cr3t");
    assert!(!b.exists("data/t/n/d/1/raw"));

    // A TypeScript push rewrites the meta from its own grouping and drops the shard it
    // cannot name. A cache that holds the file still sees it (its pull looks for the
    // unlisted shard, so the file is not taken for a remote deletion), and its next
    // commit that reads every shard (a bulk push) lists it again for everyone.
    d.put(META, &ts_meta_v2(&["audit", "data--t--m"], 9)).await;
    let mut ds_b = d.open(&b, "").await;
    ds_b.pull(&opts()).await.unwrap();
    assert_eq!(b.read("secrets/vault/key"), b"s3cr3t");
    ds_b.mark_dirty(&opts()).await.unwrap();
    b.write("audit/log.json", b"log, more");
    ds_b.push(&opts()).await.unwrap();
    assert_eq!(
        d.must_get(META).await,
        br#"{"version":2,"partitions":["_unpartitioned","audit","data--t--m"],"commitSeq":10}"#
    );
    let c = Cache::new();
    d.open(&c, "").await.pull(&opts()).await.unwrap();
    assert_eq!(c.read("secrets/vault/key"), b"s3cr3t");
}

/// `docs/hazards.md#stale-monolith-fingerprint-after-migration`: a cache verified clean
/// against the monolith's generation pulls the commits made after another client
/// migrated the bucket — the generation did not change, but the meta says v2.
pub async fn v1_fingerprint_never_hides_commits_after_a_migration<D: Driver>(d: &mut D) {
    let a = Cache::new();
    a.write("audit/log.json", b"log");
    let mut ds = d.open(&a, "").await;
    ds.push(&opts()).await.unwrap();
    assert!(ds.pull(&opts()).await.unwrap().fast_path);
    let generation = d.generation(INDEX).await;
    // Another client migrates and commits a new file; the monolith is untouched.
    put_v2_remote(
        d,
        &[
            ("audit", "audit/log.json", b"log"),
            ("data--t--m", "data/t/m/d/1/raw", b"new"),
        ],
        2,
    )
    .await;
    assert_eq!(d.generation(INDEX).await, generation);
    let report = ds.pull(&opts()).await.unwrap();
    assert!(!report.fast_path);
    // The new file, and the log whose entry the other client rewrote.
    assert_eq!(report.files, 2);
    assert_eq!(a.read("data/t/m/d/1/raw"), b"new");
    assert_eq!(sidecar(&a)["commitSeq"], 2);
}

/// `docs/hazards.md#silent-fallback-from-an-unreadable-shard`: a shard the meta lists but
/// the bucket lacks fails the pull with `malformed-remote` naming it and the remedy; the
/// monolith is never read instead and nothing is written to the cache.
pub async fn v2_listed_shard_missing_is_an_error_not_a_fallback<D: Driver>(d: &mut D) {
    typescript_v2_bucket(d).await;
    d.put(
        META,
        &ts_meta_v2(&["audit", "data--t--m", "data--t--gone"], 7),
    )
    .await;
    let a = Cache::new();
    d.reset();
    let e = d
        .open(&a, "")
        .await
        .pull(&opts())
        .await
        .expect_err("a listed shard is missing");
    assert_eq!(e.kind, "malformed-remote", "{e}");
    assert!(e.message.contains("_index/data--t--gone.json"), "{e}");
    assert!(e.message.contains("migrate-index"), "{e}");
    assert_eq!(d.count_on(Kind::Download, INDEX), 0);
    assert_eq!(data_files(&a), Vec::<String>::new());
}
