//! The 1000-file / 50-model scenarios of BENCHMARKS.md (seeded as BENCHMARKS.md#seeding
//! describes), on the in-memory fake, with the request log as the measure: the issue's
//! "done when" budgets (no-op push and no-op pull: exactly one request; one modified file:
//! at most 3 GET + 4 PUT), the round trip between two caches, scoped pulls reading exactly
//! one model's partitions, dirty-only partition writes (what the TypeScript dirty-only
//! partition-write tests check, docs/sync.md#index-publish), and two pushers without a
//! lock.

use super::core::partition::partition_keys_for_model;
use super::tests_support::*;
use crate::test_doubles::{run, FakeGcs, Kind};

const MODELS: usize = 50;
const PER_MODEL: usize = 20;
const PAD: usize = 5020;

/// Requests by kind since the last `clear_log`: (GET-like, uploads, deletes).
fn counts(fake: &FakeGcs) -> (usize, usize, usize) {
    (
        fake.gets(),
        fake.count(Kind::Upload),
        fake.count(Kind::Delete),
    )
}

fn modify_one(cache: &TempDir, model: &Model) -> String {
    let rel = model.files[0].clone();
    cache.write(&rel, br#"{"model":0,"file":0,"modified":true}"#);
    rel
}

#[test]
fn scale_round_trip_1000_files_50_models_request_budgets() {
    let fake = FakeGcs::new();
    let a = TempDir::new("scale-a");
    let seeded = seed(&a, MODELS, PER_MODEL, PAD);

    // Scenario 1: cold push (no sidecar → full walk; empty bucket → discovery).
    let report = push(&service(&fake, &a, ""));
    assert_eq!(report.files, 1000);
    assert_eq!(fake.count(Kind::List), 1);
    assert_eq!(
        counts(&fake),
        (3, 1000 + 1 + MODELS + 1, 0),
        "list + meta 404 + index 404; data + index + shards + meta"
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&fake.data("_index/_meta.json").unwrap()).unwrap();
    assert_eq!(meta["partitions"].as_array().unwrap().len(), MODELS);

    // Scenario 3: no-op push from a fresh process — exactly one request.
    fake.clear_log();
    let report = push(&service(&fake, &a, ""));
    assert!(report.fast_path);
    assert_eq!(fake.request_count(), 1);
    assert_eq!(fake.count_on(Kind::Metadata, ".datastore-index.json"), 1);

    // Scenario 5: cold pull into cache B.
    let b = TempDir::new("scale-b");
    fake.clear_log();
    let report = pull(&service(&fake, &b, ""));
    assert_eq!(report.files, 1000);
    assert_eq!(counts(&fake), (1002, 0, 0), "meta 404 + index + 1000 files");
    assert_eq!(b.read(&seeded[7].files[3]), a.read(&seeded[7].files[3]));

    // Scenario 7: no-op pull from a fresh process — exactly one request.
    fake.clear_log();
    let report = pull(&service(&fake, &b, ""));
    assert!(report.fast_path);
    assert_eq!(fake.request_count(), 1);

    // A fresh-process push on B right after its pull uploads nothing.
    fake.clear_log();
    assert!(push(&service(&fake, &b, "")).fast_path);

    // Scenario 2: B modifies one file (markDirty first), pushes: ≤ 3 GET + 4 PUT.
    let svc_b = service(&fake, &b, "");
    let changed = modify_one(&b, &seeded[0]);
    mark(&svc_b, &changed);
    fake.clear_log();
    let report = push(&svc_b);
    assert_eq!(report.files, 1);
    let (gets, puts, deletes) = counts(&fake);
    assert!(
        gets <= 3 && puts <= 4 && deletes == 0,
        "GET {gets} PUT {puts}"
    );
    assert_eq!(
        (gets, puts),
        (2, 3),
        "meta + index; data + index + one partition (meta unchanged)"
    );
    let dirty_shard = format!(
        "_index/{}.json",
        partition_keys_for_model(&seeded[0].model_type, &seeded[0].model_id)[0]
    );
    assert_eq!(
        uploaded(&fake),
        [
            changed.clone(),
            ".datastore-index.json".to_string(),
            dirty_shard
        ]
    );
    // Dirty-only partition writes: the meta still lists all 50 partitions.
    let meta: serde_json::Value =
        serde_json::from_slice(&fake.data("_index/_meta.json").unwrap()).unwrap();
    assert_eq!(meta["partitions"].as_array().unwrap().len(), MODELS);
    // B's sidecar is clean and carries no stale dirty set
    // (docs/hazards.md#clean-sidecar-with-a-stale-dirty-set).
    let s = sidecar(&b);
    assert_eq!(
        (s["localDirty"].clone(), s["dirtyPaths"].clone()),
        (serde_json::json!(false), serde_json::json!([]))
    );

    // A scoped pull of an untouched model on A reads exactly its partitions
    // and downloads nothing.
    let keys1 = partition_keys_for_model(&seeded[1].model_type, &seeded[1].model_id);
    fake.clear_log();
    let report =
        run(service(&fake, &a, "").pull(&models(&[(&seeded[1].model_type, &seeded[1].model_id)])))
            .unwrap();
    assert_eq!(report.files, 0);
    let media: Vec<String> = fake
        .log()
        .into_iter()
        .filter(|r| r.kind == Kind::Media)
        .map(|r| r.name)
        .collect();
    let want: Vec<String> = keys1.iter().map(|k| format!("_index/{k}.json")).collect();
    assert_eq!(
        media, want,
        "exactly this model's three partitions, nothing else"
    );
    assert_eq!(fake.count(Kind::Metadata), 1, "the fast-path probe");

    // A scoped pull of the dirty model on A gets the update.
    fake.clear_log();
    let report =
        run(service(&fake, &a, "").pull(&models(&[(&seeded[0].model_type, &seeded[0].model_id)])))
            .unwrap();
    assert_eq!(report.files, 1);
    assert_eq!(a.read(&changed), b.read(&changed));

    // A full pull on A: nothing left to fetch, and the trees and the bucket agree.
    let report = pull(&service(&fake, &a, ""));
    assert_eq!(report.files, 0);
    let index = remote_index(&fake);
    assert_eq!(index.entries.len(), 1000);
    for entry in index.entries.iter() {
        let remote = fake.data(&entry.key).unwrap();
        assert_eq!(a.read(&entry.key).as_ref(), Some(&remote), "{}", entry.key);
        assert_eq!(b.read(&entry.key).as_ref(), Some(&remote), "{}", entry.key);
        assert_eq!(entry.size, remote.len() as u64);
    }
    // And both are quiet now.
    fake.clear_log();
    assert!(pull(&service(&fake, &a, "")).fast_path);
    assert!(push(&service(&fake, &a, "")).fast_path);
    assert_eq!(fake.request_count(), 2);
}

/// Scenario 4 of BENCHMARKS.md, and the TypeScript dirty-only partition writes: 201 dirty
/// paths overflow into a full walk, and exactly the touched partitions (41) are rewritten.
#[test]
fn scale_overflow_to_full_walk_writes_touched_partitions() {
    let fake = FakeGcs::new();
    let a = TempDir::new("scale-overflow");
    let seeded = seed(&a, MODELS, PER_MODEL, 200);
    push(&service(&fake, &a, ""));
    let svc = service(&fake, &a, "");
    let mut n = 0;
    'outer: for model in &seeded {
        for rel in model.files.iter().take(5) {
            a.write(rel, b"rewritten");
            mark(&svc, rel);
            n += 1;
            if n == 201 {
                break 'outer;
            }
        }
    }
    assert_eq!(sidecar(&a)["dirtyPathsOverflowed"], true);
    fake.clear_log();
    let report = push(&svc);
    assert_eq!(report.files, 201);
    assert!(report
        .phase_detail("pushChanged.walk")
        .unwrap()
        .contains("mode=full"));
    let shards = uploaded(&fake)
        .iter()
        .filter(|n| n.starts_with("_index/"))
        .count();
    assert_eq!(shards, 41);
    assert_eq!(counts(&fake), (2, 201 + 1 + 41, 0));
}

/// Two pushers with separate caches, different models, no lock, racing on the index:
/// the loser of the conditional write re-fetches and re-merges; both sets survive.
#[test]
fn scale_two_pushers_without_a_lock_keep_both_sets_of_entries() {
    let fake = FakeGcs::new();
    let a = TempDir::new("race-a");
    let b = TempDir::new("race-b");
    let base = TempDir::new("race-base");
    seed(&base, 2, 5, 100);
    push(&service(&fake, &base, ""));
    for i in 0..10 {
        a.write(&format!("data/@test/writer-a/m/file-{i}.json"), b"from a");
        b.write(&format!("data/@test/writer-b/m/file-{i}.json"), b"from b");
    }
    let svc_a = service(&fake, &a, "");
    let svc_b = service(&fake, &b, "");
    fake.yield_each_request.set(true);
    fake.clear_log();
    let (ra, rb) = run(futures_util::future::join(
        svc_a.push(&opts()),
        svc_b.push(&opts()),
    ));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!((ra.files, rb.files), (10, 10));
    assert!(
        fake.count_on(Kind::Upload, ".datastore-index.json") >= 3,
        "one writer lost the race and retried"
    );
    let attempts: Vec<&str> = [&ra, &rb]
        .iter()
        .filter_map(|r| r.phase_detail("pushChanged.writeback"))
        .collect();
    assert!(
        attempts.iter().any(|d| d.starts_with("indexAttempts=2")),
        "{attempts:?}"
    );
    let index = remote_index(&fake);
    assert_eq!(index.entries.len(), 10 + 20);
    for i in 0..10 {
        assert!(index
            .entries
            .contains(&format!("data/@test/writer-a/m/file-{i}.json")));
        assert!(index
            .entries
            .contains(&format!("data/@test/writer-b/m/file-{i}.json")));
    }
    // Both partitions exist with their writer's entries.
    assert!(fake.data("_index/data--@test--writer-a--m.json").is_some());
    assert!(fake.data("_index/data--@test--writer-b--m.json").is_some());
}

/// Uploads really run `pushConcurrency` at a time (sliding window, not one by one).
#[test]
fn scale_push_concurrency_is_a_real_window() {
    let fake = FakeGcs::new();
    let a = TempDir::new("window");
    seed(&a, 4, 10, 10);
    fake.yield_each_request.set(true);
    let report = push(&service(&fake, &a, r#","pushConcurrency":7"#));
    assert_eq!(report.files, 40);
    assert_eq!(fake.max_in_flight(), 7);
}
