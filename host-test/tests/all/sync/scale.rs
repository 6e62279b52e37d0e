//! 1000 files over 50 models, seeded exactly as the benchmark (`BENCHMARKS.md#seeding`): the round
//! trip of the issue with the "Done when" request budgets, and a scoped pull that reads one model's
//! partitions and never the monolith. Requests are counted by the host (`host.traffic`).

use crate::common::*;
use crate::sync::support::*;
use gcs_host::traffic::RequestKind;
use std::collections::BTreeMap;

on_both_servers!(
    round_trip_1000_files_50_models_with_request_budgets,
    scoped_pull_of_one_model_reads_only_its_partitions_not_the_monolith,
);

const MODELS: usize = 50;
const PER_MODEL: usize = 20;
const PAD: usize = 5020;

/// Cache A pushes 1000 files over 50 models; cache B pulls them; B modifies one file
/// (mark-dirty first) and pushes; A pulls exactly that file; both trees and the bucket
/// agree. On the way, the budgets of the issue: a no-op push and a no-op pull (fresh
/// processes) make exactly one request each, and pushing one modified file makes no
/// more than the TypeScript client's 3 GET + 4 PUT.
async fn round_trip_1000_files_50_models_with_request_budgets(mut env: Env) {
    let a = Cache::new();
    let seeded = seed(&a, MODELS, PER_MODEL, PAD);
    assert_eq!(seeded.iter().map(|m| m.files.len()).sum::<usize>(), 1000);

    // Scenario 1: cold push (no sidecar: full walk; empty bucket: discovery listing).
    let mut ds_a = env.open(&a, "").await;
    env.reset();
    let report = ds_a.push(&opts()).await.unwrap();
    assert_eq!(report.files, 1000);
    let cold_push = env.snap();
    assert_eq!(
        cold_push.count(RequestKind::Upload),
        1000 + 1 + MODELS as u64 + 1,
        "files + monolith + 50 partitions + meta: {}",
        cold_push.summary()
    );
    eprintln!("[{:?}] cold push: {}", env.which, cold_push.summary());
    drop(ds_a);

    // Scenario 3: a no-op push in a fresh process is exactly one request.
    let mut ds_a = env.open(&a, "").await;
    env.reset();
    let report = ds_a.push(&opts()).await.unwrap();
    assert!(report.fast_path);
    assert_eq!(report.files, 0);
    let log = env.log();
    assert_eq!(log.len(), 1, "no-op push: {log:?}");
    assert_eq!(
        (log[0].kind, log[0].object.as_str()),
        (RequestKind::Metadata, INDEX)
    );
    eprintln!("[{:?}] no-op push: {}", env.which, env.snap().summary());

    // Scenario 5: cold pull into B.
    let b = Cache::new();
    let mut ds_b = env.open(&b, "").await;
    env.reset();
    let report = ds_b.pull(&opts()).await.unwrap();
    assert_eq!(report.files, 1000);
    let cold_pull = env.snap();
    assert_eq!(
        (cold_pull.count(RequestKind::Download), cold_pull.total),
        (1002, 1002),
        "meta + monolith + 1000 files: {}",
        cold_pull.summary()
    );
    eprintln!("[{:?}] cold pull: {}", env.which, cold_pull.summary());
    drop(ds_b);

    // Scenario 7: a no-op pull in a fresh process is exactly one request; so is a push
    // right after the pull (B never re-pushes what it pulled).
    let mut ds_b = env.open(&b, "").await;
    env.reset();
    let report = ds_b.pull(&opts()).await.unwrap();
    assert!(report.fast_path);
    let log = env.log();
    assert_eq!(log.len(), 1, "no-op pull: {log:?}");
    assert_eq!(
        (log[0].kind, log[0].object.as_str()),
        (RequestKind::Metadata, INDEX)
    );
    eprintln!("[{:?}] no-op pull: {}", env.which, env.snap().summary());
    env.reset();
    assert!(ds_b.push(&opts()).await.unwrap().fast_path);
    assert_eq!(env.snap().total, 1);

    // Scenario 2: B modifies one file (mark-dirty before the write) and pushes.
    let changed = seeded[0].files[0].clone();
    ds_b.mark_dirty(&rel(&changed)).await.unwrap();
    b.write(&changed, br#"{"model":0,"file":0,"modified":true}"#);
    let before = env.objects().await;
    env.reset();
    let report = ds_b.push(&opts()).await.unwrap();
    assert_eq!(report.files, 1);
    let (gets, puts) = (env.gets(), env.puts());
    eprintln!(
        "[{:?}] push 1 modified: {} (GET {gets}, PUT {puts})",
        env.which,
        env.snap().summary()
    );
    assert!(
        gets <= 3 && puts <= 4,
        "budget 3 GET + 4 PUT, made GET {gets} PUT {puts}"
    );
    assert_eq!(env.snap().total, gets + puts, "{}", env.snap().summary());
    assert_eq!(
        written_between(&before, &env.objects().await),
        [
            changed.clone(),
            INDEX.to_string(),
            seeded[0].data_partition()
        ],
        "the file, the monolith, its partition (the meta is unchanged)"
    );
    let s = sidecar(&b);
    assert_eq!(s["localDirty"], false);
    assert_eq!(s["dirtyPaths"], serde_json::json!([]));

    // A pulls exactly that file.
    env.reset();
    let report = ds_a.pull(&opts()).await.unwrap();
    assert_eq!(report.files, 1);
    assert_eq!(
        data_only(env.objects_of(RequestKind::Download)),
        std::slice::from_ref(&changed),
        "one download of that object"
    );
    eprintln!("[{:?}] pull 1 changed: {}", env.which, env.snap().summary());
    assert_eq!(a.read(&changed), b.read(&changed));

    // Both trees and the bucket agree: file sets, sizes and bytes (MD5 from the listing,
    // full bytes for the changed file).
    let remote: BTreeMap<String, (u64, String)> = env
        .objects()
        .await
        .into_iter()
        .filter(|(k, _)| !is_index_object(k))
        .map(|(k, m)| (k, (m.size, m.md5_hash.unwrap_or_default())))
        .collect();
    let files_a = data_files(&a);
    assert_eq!(files_a.len(), 1000);
    assert_eq!(files_a, data_files(&b));
    assert_eq!(files_a, remote.keys().cloned().collect::<Vec<_>>());
    let mut index_keys = env.index_keys().await;
    index_keys.sort();
    assert_eq!(files_a, index_keys);
    for f in &files_a {
        let bytes = a.read(f);
        assert_eq!(bytes, b.read(f), "{f}");
        assert_eq!(remote[f], (bytes.len() as u64, md5_b64(&bytes)), "{f}");
    }
    assert_eq!(env.must_get(&changed).await, b.read(&changed));

    // And everyone is quiet again: one request per call, fresh processes.
    drop((ds_a, ds_b));
    env.reset();
    for cache in [&a, &b] {
        let mut ds = env.open(cache, "").await;
        assert!(ds.pull(&opts()).await.unwrap().fast_path);
        assert!(ds.push(&opts()).await.unwrap().fast_path);
    }
    assert_eq!(env.snap().total, 4, "{:?}", env.log());
}

/// A scoped pull of one model reads that model's partition files and never the monolith:
/// after another cache published a change in model 7 (so the fast path cannot answer),
/// cache A's scoped pull makes exactly: the fast-path probe (a miss), model 7's three
/// partitions (data found; outputs and definitions-evaluated 404) and the new file.
async fn scoped_pull_of_one_model_reads_only_its_partitions_not_the_monolith(env: Env) {
    let a = Cache::new();
    let seeded = seed(&a, MODELS, PER_MODEL, PAD);
    let report = env.open(&a, "").await.push(&opts()).await.unwrap();
    assert_eq!(report.files, 1000);

    let target = &seeded[7];
    let new_rel = format!(
        "data/{}/{}/file-0020.json",
        target.model_type, target.model_id
    );
    let c = Cache::new();
    c.write(&new_rel, br#"{"model":7,"file":20}"#);
    assert_eq!(env.open(&c, "").await.push(&opts()).await.unwrap().files, 1);

    let mut ds_a = env.open(&a, "").await;
    env.reset();
    let report = ds_a
        .pull(&models(&[(&target.model_type, &target.model_id)]))
        .await
        .unwrap();
    assert!(!report.fast_path);
    assert_eq!(report.files, 1);
    assert_eq!(a.read(&new_rel), c.read(&new_rel));
    let seen: Vec<(RequestKind, String, u16)> = env
        .log()
        .into_iter()
        .map(|r| (r.kind, r.object, r.status))
        .collect();
    let parts = target.partitions();
    assert_eq!(
        seen,
        [
            (RequestKind::Metadata, INDEX.to_string(), 200),
            (RequestKind::Download, parts[0].clone(), 200),
            (RequestKind::Download, parts[1].clone(), 404),
            (RequestKind::Download, parts[2].clone(), 404),
            (RequestKind::Download, new_rel.clone(), 200),
        ],
        "exactly this model's partitions and its new file; the monolith is never downloaded"
    );
    eprintln!("[{:?}] scoped pull: {}", env.which, env.snap().summary());

    // An untouched model: its partitions only, nothing downloaded.
    let other = &seeded[8];
    env.reset();
    let report = ds_a
        .pull(&models(&[(&other.model_type, &other.model_id)]))
        .await
        .unwrap();
    assert_eq!(report.files, 0);
    assert_eq!(env.objects_of(RequestKind::Download), other.partitions());
}
