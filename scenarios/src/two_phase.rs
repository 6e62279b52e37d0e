//! Two-phase push and the push preview (`docs/sync.md#two-phase-push`,
//! `docs/sync.md#push-preview`), on both index layouts.

use crate::driver::{Driver, Kind, Preview, Service as _};
use crate::support::*;
use crate::Cache;

const RAW: &str = "data/t/m/d/1/raw";
const SHARD: &str = "_index/data--t--m.json";

/// The config of the repository of one layout: each under its own prefix of the bucket.
fn extra(v2: bool) -> &'static str {
    if v2 {
        r#""prefix":"v2""#
    } else {
        r#""prefix":"v1""#
    }
}

/// The bucket key of `key` in the repository of one layout.
fn at(v2: bool, key: &str) -> String {
    format!("{}/{key}", if v2 { "v2" } else { "v1" })
}

/// A repository with one model file and an audit log, pushed by `a`; shard-first when
/// `v2`. Returns the service.
async fn repository<D: Driver>(d: &mut D, a: &Cache, v2: bool) -> D::Service {
    a.write(RAW, b"v1");
    a.write("audit/log.json", b"log");
    let mut ds = d.open(a, extra(v2)).await;
    ds.push(&opts()).await.unwrap();
    if v2 {
        assert_eq!(ds.migrate_index().await.unwrap(), "migrated");
        ds.pull(&opts()).await.unwrap();
    }
    ds
}

/// The index entry of `RAW` as published: in the monolith, or in its shard.
async fn published_size<D: Driver>(d: &mut D, v2: bool) -> Option<u64> {
    let entries = if v2 {
        d.json(&at(v2, SHARD)).await["entries"].clone()
    } else {
        d.json(&at(v2, INDEX)).await["entries"].clone()
    };
    entries[RAW]["size"].as_u64()
}

/// `prepare-push` uploads but publishes nothing and leaves the cache dirty; `commit-push`
/// publishes (the shard and the meta at `commitSeq + 1`, or the monolith) and only then
/// is the cache clean, so the next push is the fast path. Another cache pulls the commit.
pub async fn two_phase_push_publishes_only_at_commit<D: Driver>(d: &mut D) {
    for v2 in [false, true] {
        let a = Cache::new();
        let mut ds = repository(d, &a, v2).await;
        let seq = if v2 {
            d.json(&at(v2, META)).await["commitSeq"].as_u64()
        } else {
            None
        };
        ds.mark_dirty(&rel("data/t/m/d")).await.unwrap();
        a.write(RAW, b"v2, longer");
        let before = d.objects().await;
        let (manifest, report) = ds.prepare_push(&opts()).await.unwrap();
        assert_eq!(report.files, 1, "v2={v2}");
        assert_eq!(
            written_between(&before, &d.objects().await),
            [at(v2, RAW)],
            "v2={v2}: the prepare uploads and publishes nothing"
        );
        assert_eq!(published_size(d, v2).await, Some(2), "v2={v2}");
        assert_eq!(sidecar(&a)["localDirty"], true, "v2={v2}");

        let report = ds.commit_push(&manifest, &opts()).await.unwrap();
        assert_eq!(report.files, 1, "v2={v2}");
        assert_eq!(published_size(d, v2).await, Some(10), "v2={v2}");
        if let Some(seq) = seq {
            assert_eq!(
                d.json(&at(v2, META)).await["commitSeq"].as_u64(),
                Some(seq + 1)
            );
        }
        assert_eq!(sidecar(&a)["localDirty"], false, "v2={v2}");
        assert_eq!(sidecar(&a)["dirtyPaths"], serde_json::json!([]), "v2={v2}");
        d.reset();
        assert!(ds.push(&opts()).await.unwrap().fast_path, "v2={v2}");
        let b = Cache::new();
        d.open(&b, extra(v2)).await.pull(&opts()).await.unwrap();
        assert_eq!(b.read(RAW), b"v2, longer", "v2={v2}");
    }
}

/// `docs/hazards.md#clean-sidecar-with-a-stale-dirty-set` (upstream's shard-first commit
/// left the dirty set in a clean sidecar, so editing the same file again pushed nothing):
/// a second edit of the same file after a commit is prepared and committed too; and a
/// `mark-dirty` between prepare and commit keeps the cache dirty, so the edit it announced
/// is pushed by the next push.
pub async fn commit_clears_the_dirty_set_only_when_nothing_was_marked_since<D: Driver>(d: &mut D) {
    for v2 in [false, true] {
        let a = Cache::new();
        let mut ds = repository(d, &a, v2).await;
        for (round, bytes) in [(1, &b"second"[..]), (2, &b"third!"[..])] {
            ds.mark_dirty(&rel("data/t/m/d")).await.unwrap();
            a.write(RAW, bytes);
            let (manifest, _) = ds.prepare_push(&opts()).await.unwrap();
            let report = ds.commit_push(&manifest, &opts()).await.unwrap();
            assert_eq!(report.files, 1, "v2={v2} round {round}");
            assert_eq!(
                d.must_get(&at(v2, RAW)).await,
                bytes,
                "v2={v2} round {round}"
            );
        }

        ds.mark_dirty(&rel("data/t/m/d")).await.unwrap();
        a.write(RAW, b"fourth, prepared");
        let (manifest, _) = ds.prepare_push(&opts()).await.unwrap();
        ds.mark_dirty(&rel("audit/log.json")).await.unwrap();
        a.write("audit/log.json", b"log, edited meanwhile");
        ds.commit_push(&manifest, &opts()).await.unwrap();
        assert_eq!(
            sidecar(&a)["localDirty"],
            true,
            "v2={v2}: a mark came in between"
        );
        let report = ds.push(&opts()).await.unwrap();
        assert_eq!(report.files, 1, "v2={v2}");
        assert_eq!(
            d.must_get(&at(v2, "audit/log.json")).await,
            b"log, edited meanwhile"
        );
        assert_eq!(sidecar(&a)["localDirty"], false, "v2={v2}");
    }
}

/// `preview-push` counts what a push would do — new, changed and deleted files — and
/// changes nothing: no object, no sidecar byte, no local index byte. A clean cache
/// previews all zeros from the fast path (one request).
pub async fn preview_push_counts_and_changes_nothing<D: Driver>(d: &mut D) {
    for v2 in [false, true] {
        let a = Cache::new();
        let mut ds = repository(d, &a, v2).await;
        d.reset();
        assert_eq!(ds.preview_push(&opts()).await.unwrap(), Preview::default());
        assert_eq!(d.total(), 1, "v2={v2}: the fast path");
        ds.mark_dirty(&rel("data/t/m/d")).await.unwrap();
        ds.mark_dirty(&rel("audit")).await.unwrap();
        a.write(RAW, b"changed");
        a.write("audit/new.json", b"new");
        a.write("audit/newer.json", b"newer");
        remove(&a, "audit/log.json");
        let objects = d.objects().await;
        let state = a.read(SIDECAR);
        let local = a.read(INDEX);
        d.reset();
        let preview = ds.preview_push(&opts()).await.unwrap();
        assert_eq!(d.puts() + d.count(Kind::Delete), 0, "v2={v2}");
        assert_eq!(d.objects().await, objects, "v2={v2}");
        assert_eq!(a.read(SIDECAR), state, "v2={v2}");
        assert_eq!(a.read(INDEX), local, "v2={v2}");
        assert_eq!(
            preview,
            Preview {
                total: 4,
                new: 2,
                changed: 1,
                deleted: 1,
            },
            "v2={v2}"
        );
        let report = ds.push(&opts()).await.unwrap();
        assert_eq!(
            (report.files, report.deleted),
            (3, 1),
            "v2={v2}: what the preview said"
        );
    }
}
