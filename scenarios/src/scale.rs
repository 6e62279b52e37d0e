//! 1000 files over 50 models, seeded exactly as the benchmark (`BENCHMARKS.md#seeding`): the
//! round trip of the issue with the "Done when" request budgets (no-op push and no-op pull:
//! exactly one request; one modified file: at most 3 GET + 4 PUT), scoped pulls reading exactly
//! one model's partitions and never the monolith, and dirty-only partition writes (what the
//! TypeScript dirty-only partition-write tests check, `docs/sync.md#index-publish`).

use std::collections::BTreeMap;

use crate::driver::{Driver, Kind, Request, Service as _};
use crate::support::*;
use crate::Cache;

const MODELS: usize = 50;
const PER_MODEL: usize = 20;
const PAD: usize = 5020;

/// A request as `(kind, object)`.
fn seen(r: &Request) -> (Kind, &str) {
    (r.kind, r.object.as_str())
}

/// Cache A pushes 1000 files over 50 models; cache B pulls them; B modifies one file
/// (mark-dirty first) and pushes; A pulls exactly that file; both trees and the bucket
/// agree. On the way, the budgets of the issue: a no-op push and a no-op pull (fresh
/// processes) make exactly one request each, and pushing one modified file makes no
/// more than the TypeScript client's 3 GET + 4 PUT (in fact 2 GET + 3 PUT: the meta is
/// unchanged).
pub async fn round_trip_1000_files_50_models_with_request_budgets<D: Driver>(d: &mut D) {
    let who = d.name();
    let a = Cache::new();
    let seeded = seed(&a, MODELS, PER_MODEL, PAD);
    assert_eq!(seeded.iter().map(|m| m.files.len()).sum::<usize>(), 1000);

    // Scenario 1: cold push (no sidecar: full walk; empty bucket: discovery listing).
    let mut ds_a = d.open(&a, "").await;
    d.reset();
    let report = ds_a.push(&opts()).await.unwrap();
    assert_eq!(report.files, 1000);
    assert_eq!(
        d.puts(),
        1000 + 1 + MODELS + 1,
        "files + monolith + 50 partitions + meta: {}",
        d.summary()
    );
    assert_eq!(d.count(Kind::List), 1, "{}", d.summary());
    assert_eq!(
        (d.gets(), d.count(Kind::Delete)),
        (3, 0),
        "list + meta 404 + index 404: {}",
        d.summary()
    );
    assert_eq!(
        d.json(META).await["partitions"].as_array().unwrap().len(),
        MODELS
    );
    eprintln!("[{who}] cold push: {}", d.summary());
    drop(ds_a);

    // Scenario 3: a no-op push in a fresh process is exactly one request.
    let mut ds_a = d.open(&a, "").await;
    d.reset();
    let report = ds_a.push(&opts()).await.unwrap();
    assert!(report.fast_path);
    assert_eq!(report.files, 0);
    let log = d.requests();
    assert_eq!(log.len(), 1, "no-op push: {log:?}");
    assert_eq!(seen(&log[0]), (Kind::Metadata, INDEX));

    // Scenario 5: cold pull into B.
    let b = Cache::new();
    let mut ds_b = d.open(&b, "").await;
    d.reset();
    let report = ds_b.pull(&opts()).await.unwrap();
    assert_eq!(report.files, 1000);
    assert_eq!(
        (d.count(Kind::Download), d.total()),
        (1002, 1002),
        "meta + monolith + 1000 files: {}",
        d.summary()
    );
    assert_eq!(b.read(&seeded[7].files[3]), a.read(&seeded[7].files[3]));
    eprintln!("[{who}] cold pull: {}", d.summary());
    drop(ds_b);

    // Scenario 7: a no-op pull in a fresh process is exactly one request; so is a push
    // right after the pull (B never re-pushes what it pulled).
    let mut ds_b = d.open(&b, "").await;
    d.reset();
    let report = ds_b.pull(&opts()).await.unwrap();
    assert!(report.fast_path);
    // Two requests in flight together: the monolith's generation and the meta (a
    // generation proves nothing once the repository is shard-first).
    let log = d.requests();
    assert_eq!(log.len(), 2, "no-op pull: {log:?}");
    let probes: Vec<_> = log.iter().map(seen).collect();
    assert!(probes.contains(&(Kind::Metadata, INDEX)), "{log:?}");
    assert!(probes.contains(&(Kind::Download, META)), "{log:?}");
    d.reset();
    assert!(ds_b.push(&opts()).await.unwrap().fast_path);
    assert_eq!(d.total(), 1);

    // Scenario 2: B modifies one file (mark-dirty before the write) and pushes.
    let changed = seeded[0].files[0].clone();
    ds_b.mark_dirty(&rel(&changed)).await.unwrap();
    b.write(&changed, br#"{"model":0,"file":0,"modified":true}"#);
    let before = d.objects().await;
    d.reset();
    let report = ds_b.push(&opts()).await.unwrap();
    assert_eq!(report.files, 1);
    let (gets, puts) = (d.gets(), d.puts());
    eprintln!(
        "[{who}] push 1 modified: {} (GET {gets}, PUT {puts})",
        d.summary()
    );
    assert!(
        gets <= 3 && puts <= 4,
        "budget 3 GET + 4 PUT, made GET {gets} PUT {puts}"
    );
    assert_eq!(
        (gets, puts),
        (2, 3),
        "meta + index; data + index + one partition (meta unchanged)"
    );
    assert_eq!(d.total(), gets + puts, "{}", d.summary());
    assert_eq!(
        written_between(&before, &d.objects().await),
        [
            changed.clone(),
            INDEX.to_string(),
            seeded[0].data_partition()
        ],
        "the file, the monolith, its partition (the meta is unchanged)"
    );
    // Dirty-only partition writes: the meta still lists all 50 partitions.
    assert_eq!(
        d.json(META).await["partitions"].as_array().unwrap().len(),
        MODELS
    );
    // B's sidecar is clean and carries no stale dirty set
    // (docs/hazards.md#clean-sidecar-with-a-stale-dirty-set).
    let s = sidecar(&b);
    assert_eq!(s["localDirty"], false);
    assert_eq!(s["dirtyPaths"], serde_json::json!([]));

    // A pulls exactly that file.
    d.reset();
    let report = ds_a.pull(&opts()).await.unwrap();
    assert_eq!(report.files, 1);
    assert_eq!(
        data_only(d.objects_of(Kind::Download)),
        std::slice::from_ref(&changed),
        "one download of that object"
    );
    eprintln!("[{who}] pull 1 changed: {}", d.summary());
    assert_eq!(a.read(&changed), b.read(&changed));

    // Both trees, the bucket and the index agree: file sets, sizes and bytes (MD5 from
    // the listing, full bytes for the changed file).
    let remote: BTreeMap<String, (u64, String)> = d
        .objects()
        .await
        .into_iter()
        .filter(|(k, _)| !is_index_object(k))
        .map(|(k, m)| (k, (m.size, m.md5)))
        .collect();
    let files_a = data_files(&a);
    assert_eq!(files_a.len(), 1000);
    assert_eq!(files_a, data_files(&b));
    assert_eq!(files_a, remote.keys().cloned().collect::<Vec<_>>());
    let index = d.json(INDEX).await;
    let mut index_keys = keys_of(&index["entries"]);
    index_keys.sort();
    assert_eq!(files_a, index_keys);
    for f in &files_a {
        let bytes = a.read(f);
        assert_eq!(bytes, b.read(f), "{f}");
        assert_eq!(remote[f], (bytes.len() as u64, md5_b64(&bytes)), "{f}");
        assert_eq!(index["entries"][f]["size"], bytes.len(), "{f}");
    }
    assert_eq!(d.must_get(&changed).await, b.read(&changed));

    // And everyone is quiet again, fresh processes: a pull probes the monolith and the
    // meta together, a push the monolith.
    drop((ds_a, ds_b));
    d.reset();
    for cache in [&a, &b] {
        let mut ds = d.open(cache, "").await;
        assert!(ds.pull(&opts()).await.unwrap().fast_path);
        assert!(ds.push(&opts()).await.unwrap().fast_path);
    }
    assert_eq!(d.total(), 6, "{:?}", d.requests());
}

/// A scoped pull of one model reads that model's partition files and never the monolith:
/// after another cache published a change in model 7 (so the fast path cannot answer),
/// cache A's scoped pull makes exactly: the fast-path probe (a miss), model 7's three
/// partitions (data found; outputs and definitions-evaluated 404) and the new file. A
/// scoped pull of an untouched model then reads its partitions and nothing else.
pub async fn scoped_pull_of_one_model_reads_only_its_partitions_not_the_monolith<D: Driver>(
    d: &mut D,
) {
    let a = Cache::new();
    let seeded = seed(&a, MODELS, PER_MODEL, PAD);
    let report = d.open(&a, "").await.push(&opts()).await.unwrap();
    assert_eq!(report.files, 1000);

    let target = &seeded[7];
    let new_rel = format!(
        "data/{}/{}/file-0020.json",
        target.model_type, target.model_id
    );
    let c = Cache::new();
    c.write(&new_rel, br#"{"model":7,"file":20}"#);
    assert_eq!(d.open(&c, "").await.push(&opts()).await.unwrap().files, 1);

    let mut ds_a = d.open(&a, "").await;
    d.reset();
    let report = ds_a
        .pull(&models(&[(&target.model_type, &target.model_id)]))
        .await
        .unwrap();
    assert!(!report.fast_path);
    assert_eq!(report.files, 1);
    assert_eq!(a.read(&new_rel), c.read(&new_rel));
    let log: Vec<(Kind, String, u16)> = d
        .requests()
        .into_iter()
        .map(|r| (r.kind, r.object, r.status))
        .collect();
    let parts = target.partitions();
    assert_eq!(
        log,
        [
            (Kind::Metadata, INDEX.to_string(), 200),
            (Kind::Download, META.to_string(), 200),
            (Kind::Download, parts[0].clone(), 200),
            (Kind::Download, parts[1].clone(), 404),
            (Kind::Download, parts[2].clone(), 404),
            (Kind::Download, new_rel.clone(), 200),
        ],
        "exactly this model's partitions and its new file; the monolith is never downloaded"
    );
    eprintln!("[{}] scoped pull: {}", d.name(), d.summary());

    // An untouched model: its partitions only, nothing downloaded.
    let other = &seeded[8];
    d.reset();
    let report = ds_a
        .pull(&models(&[(&other.model_type, &other.model_id)]))
        .await
        .unwrap();
    assert_eq!(report.files, 0);
    assert_eq!(d.objects_of(Kind::Download), other.partitions());
    assert_eq!(d.total(), 3, "{}", d.summary());
}

/// Scenario 4 of BENCHMARKS.md, and the TypeScript dirty-only partition writes: 201 dirty
/// paths overflow into a full walk, and exactly the touched partitions (41) are rewritten;
/// the meta is not (its partition list is unchanged).
pub async fn overflow_to_full_walk_writes_only_touched_partitions<D: Driver>(d: &mut D) {
    let a = Cache::new();
    let seeded = seed(&a, MODELS, PER_MODEL, 200);
    let mut ds = d.open(&a, "").await;
    ds.push(&opts()).await.unwrap();
    let mut n = 0;
    'outer: for model in &seeded {
        for rel_path in model.files.iter().take(5) {
            ds.mark_dirty(&rel(rel_path)).await.unwrap();
            a.write(rel_path, b"rewritten");
            n += 1;
            if n == 201 {
                break 'outer;
            }
        }
    }
    assert_eq!(sidecar(&a)["dirtyPathsOverflowed"], true);
    let before = d.objects().await;
    d.reset();
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!(report.files, 201);
    assert!(report.phase("pushChanged.walk").contains("mode=full"));
    let written = written_between(&before, &d.objects().await);
    let shards: Vec<&String> = written
        .iter()
        .filter(|n| n.starts_with("_index/"))
        .collect();
    assert_eq!(shards.len(), 41, "{shards:?}");
    assert!(!written.contains(&META.to_string()));
    assert_eq!(
        (d.gets(), d.puts(), d.count(Kind::Delete)),
        (2, 201 + 1 + 41, 0),
        "{}",
        d.summary()
    );
}
