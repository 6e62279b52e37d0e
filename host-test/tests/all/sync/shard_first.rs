//! Shard-first (v2) repositories through the component: `migrate-index` (and that a rerun
//! after commits changes nothing), its refusal of unpartitionable entries and its meta
//! rebuild, and two unlocked pushers committing to one v2 repository (in-process fake
//! only: the outcome rests on `ifGenerationMatch` 412s).

use crate::common::*;
use crate::sync::support::*;
use gcs_host::datastore::{no_options, Datastore, MigrateOutcome, SyncOptions};
use gcs_host::faults::{FaultAction, FaultMatch, FaultRule};
use gcs_host::traffic::RequestKind;
use std::time::Duration;

on_both_servers!(
    migrate_index_splits_the_monolith_and_a_rerun_after_commits_changes_nothing,
    migrate_index_refuses_unpartitionable_entries_and_rebuilds_a_broken_meta,
);

async fn migrate(ds: &mut Datastore) -> gcs_host::datastore::MigrateReport {
    ds.migrate_index(&no_options())
        .await
        .expect("migrate-index")
}

/// A v1 repository (two models and an audit log) is migrated: one shard per partition,
/// meta v2 at `commitSeq` 1, the monolith left as it was. A commit raises it to 2; a
/// rerun writes nothing and leaves the meta's bytes alone (the TypeScript client's rerun
/// re-partitions the stale monolith and resets `commitSeq`); a cache that never synced
/// pulls every file, including the one committed after the migration.
async fn migrate_index_splits_the_monolith_and_a_rerun_after_commits_changes_nothing(mut env: Env) {
    let a = Cache::new();
    let models = seed(&a, 2, 3, 50);
    a.write("audit/log.json", b"log");
    let mut ds = env.open(&a, "").await;
    ds.push(&opts()).await.unwrap();
    let monolith = env.generation(INDEX).await;
    let before = env.objects().await;
    let m = migrate(&mut ds).await;
    assert_eq!(m.outcome, MigrateOutcome::Migrated);
    assert_eq!((m.entries, m.shards_written, m.commit_seq), (7, 3, 1));
    let mut expected: Vec<String> = models
        .iter()
        .map(|m| {
            m.data_partition()
                .trim_start_matches("_index/")
                .trim_end_matches(".json")
                .to_string()
        })
        .collect();
    expected.push("audit".into());
    expected.sort();
    assert_eq!(m.partitions, expected);
    let meta = env.json(META).await;
    assert_eq!(
        (meta["version"].clone(), meta["commitSeq"].clone()),
        (2.into(), 1.into())
    );
    let written = written_between(&before, &env.objects().await);
    assert_eq!(
        written.last().map(String::as_str),
        Some(META),
        "the meta last: {written:?}"
    );
    assert_eq!(env.generation(INDEX).await, monolith);

    // A commit after the migration.
    let b = Cache::new();
    let mut ds_b = env.open(&b, "").await;
    ds_b.pull(&opts()).await.unwrap();
    ds_b.mark_dirty(&rel("audit/new.json")).await.unwrap();
    b.write("audit/new.json", b"new");
    ds_b.push(&opts()).await.unwrap();
    assert_eq!(env.json(META).await["commitSeq"], 2);
    let meta_bytes = env.must_get(META).await;
    let before = env.objects().await;
    let again = migrate(&mut ds).await;
    assert_eq!(again.outcome, MigrateOutcome::AlreadyShardFirst);
    assert_eq!(again.commit_seq, 2);
    assert!(written_between(&before, &env.objects().await).is_empty());
    assert_eq!(env.must_get(META).await, meta_bytes);

    let c = Cache::new();
    assert_eq!(env.open(&c, "").await.pull(&opts()).await.unwrap().files, 8);
    assert_eq!(c.read("audit/new.json"), b"new");
    // A's cache, verified against the monolith's generation, is not fooled by it.
    let report = ds.pull(&opts()).await.unwrap();
    assert!(!report.fast_path);
    assert_eq!(a.read("audit/new.json"), b"new");
}

/// `secrets/…` in the monolith aborts the migration with `unsupported-layout` naming the
/// file, and nothing is written. A v2 meta listing a shard that is gone is rebuilt from
/// the shards that exist, with a new `commitSeq`, and pulls work again.
async fn migrate_index_refuses_unpartitionable_entries_and_rebuilds_a_broken_meta(mut env: Env) {
    let a = Cache::new();
    a.write("secrets/vault/key", b"k");
    a.write("audit/log.json", b"log");
    let mut ds = env.open(&a, "").await;
    ds.push(&opts()).await.unwrap();
    let before = env.objects().await;
    let e = ds
        .migrate_index(&no_options())
        .await
        .expect_err("unpartitionable");
    assert_eq!(e.kind(), "unsupported-layout", "{e}");
    assert!(e.to_string().contains("secrets/vault/key"), "{e}");
    assert!(written_between(&before, &env.objects().await).is_empty());
    assert_eq!(env.json(META).await["version"], 1, "still the v1 meta");

    let b = Cache::new();
    b.write("audit/log.json", b"log");
    b.write("data/t/m/d/1/raw", b"raw");
    let mut ds_b = env.open(&b, r#""prefix":"other""#).await;
    ds_b.push(&opts()).await.unwrap();
    assert_eq!(migrate(&mut ds_b).await.outcome, MigrateOutcome::Migrated);
    env.put(
        "other/_index/_meta.json",
        br#"{"version":2,"partitions":["audit","data--t--gone","data--t--m"],"commitSeq":4}"#,
    )
    .await;
    let fresh = Cache::new();
    let e = env
        .open(&fresh, r#""prefix":"other""#)
        .await
        .pull(&opts())
        .await
        .expect_err("a listed shard is gone");
    assert_eq!(e.kind(), "malformed-remote", "{e}");
    let m = migrate(&mut ds_b).await;
    assert_eq!(m.outcome, MigrateOutcome::MetaRebuilt);
    assert_eq!(
        (m.partitions.clone(), m.commit_seq),
        (vec!["audit".to_string(), "data--t--m".to_string()], 5)
    );
    assert_eq!(
        env.open(&fresh, r#""prefix":"other""#)
            .await
            .pull(&opts())
            .await
            .unwrap()
            .files,
        2
    );
}

/// Two caches push to one v2 repository at once, for several rounds, without a lock,
/// each adding files to one shared model (one contended shard) and to a model of its
/// own, every upload held so both read the same shards and meta before either writes.
/// Every round both commits land: the shared shard holds both files, the meta lists
/// every shard, `commitSeq` rose by two, and a third cache pulls everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_unlocked_pushers_to_one_v2_repository_keep_every_entry() {
    let mut env = Env::start(Which::Fake).await;
    let base = Cache::new();
    base.write("data/t/shared/d/0/raw", b"base");
    let mut ds = env.open(&base, "").await;
    ds.push(&opts()).await.unwrap();
    migrate(&mut ds).await;
    let a = Cache::new();
    let b = Cache::new();
    let mut ds_a = env.open(&a, "").await;
    let mut ds_b = env.open(&b, "").await;
    ds_a.pull(&opts()).await.unwrap();
    ds_b.pull(&opts()).await.unwrap();
    let mut files = vec!["data/t/shared/d/0/raw".to_string()];
    let mut lost = 0;
    for round in 1..=4 {
        let seq = env.json(META).await["commitSeq"].as_u64().unwrap();
        for (cache, ds, who) in [(&a, &mut ds_a, "a"), (&b, &mut ds_b, "b")] {
            for rel in [
                format!("data/t/shared/d/{who}{round}/raw"),
                format!("data/t/{who}/d/{round}/raw"),
            ] {
                ds.mark_dirty(&SyncOptions {
                    rel_path: Some(rel.clone()),
                    ..no_options()
                })
                .await
                .unwrap();
                cache.write(&rel, rel.as_bytes());
                files.push(rel);
            }
        }
        env.host.faults.add(FaultRule::new(
            FaultMatch::kind(RequestKind::Upload),
            FaultAction::Delay(Duration::from_millis(200)),
            Some(4),
        ));
        env.reset();
        let options = opts();
        let (ra, rb) = tokio::join!(ds_a.push(&options), ds_b.push(&options));
        env.host.faults.clear();
        assert_eq!(
            (ra.unwrap().files, rb.unwrap().files),
            (2, 2),
            "round {round}"
        );
        lost += env
            .log()
            .iter()
            .filter(|r| r.kind == RequestKind::Upload && r.status == 412)
            .count();
        let meta = env.json(META).await;
        assert_eq!(
            meta["commitSeq"].as_u64().unwrap(),
            seq + 2,
            "round {round}: {meta}"
        );
        let shard = env.json("_index/data--t--shared.json").await;
        let entries = keys_of(&shard["entries"]);
        for f in files.iter().filter(|f| f.starts_with("data/t/shared/")) {
            assert!(
                entries.contains(f),
                "round {round}: {f} in the shared shard"
            );
        }
        for shard in ["data--t--a", "data--t--b", "data--t--shared"] {
            assert!(
                meta["partitions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p == shard),
                "round {round}: {shard} listed: {meta}"
            );
        }
    }
    assert!(lost > 0, "the pushers raced on a conditional write");
    let c = Cache::new();
    env.open(&c, "").await.pull(&opts()).await.unwrap();
    let mut pulled = data_files(&c);
    pulled.sort();
    files.sort();
    assert_eq!(pulled, files);
}
