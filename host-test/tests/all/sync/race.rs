//! Two pushers on different models, no lock, racing on the monolith. Only the in-process
//! fake: the outcome rests on `ifGenerationMatch` 412s of the index write, which is the
//! behaviour under test.

use crate::common::*;
use crate::sync::support::*;
use gcs_host::faults::{FaultAction, FaultMatch, FaultRule};
use gcs_host::traffic::RequestKind;
use std::time::Duration;

/// Both datastores push concurrently (every upload held 300 ms, so both read the same
/// index generation before either publishes). The loser of the conditional monolith
/// write gets 412, re-fetches, re-merges and retries: both sets of entries survive in
/// the remote index, and a third cache pulls every file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pushers_on_different_models_without_a_lock_keep_both_sets_of_entries() {
    let mut env = Env::start(Which::Fake).await;
    let base = Cache::new();
    seed(&base, 2, 5, 100);
    env.open(&base, "").await.push(&opts()).await.unwrap();

    let a = Cache::new();
    let b = Cache::new();
    let model_a = seed(&a, 1, 10, 100).remove(0);
    let model_b = seed(&b, 1, 10, 100).remove(0);
    let mut ds_a = env.open(&a, "").await;
    let mut ds_b = env.open(&b, "").await;
    env.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Upload),
        FaultAction::Delay(Duration::from_millis(300)),
        None,
    ));
    env.reset();
    let options = opts();
    let (ra, rb) = tokio::join!(ds_a.push(&options), ds_b.push(&options));
    env.host.faults.clear();
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!((ra.files, rb.files), (10, 10));

    let lost: Vec<_> = env
        .log()
        .into_iter()
        .filter(|r| r.kind == RequestKind::Upload && r.status == 412)
        .collect();
    assert!(!lost.is_empty(), "one pusher lost a conditional write");
    let attempts: Vec<String> = [&ra, &rb]
        .iter()
        .map(|r| phase(r, "pushChanged.writeback").to_string())
        .collect();
    assert!(
        attempts.iter().any(|d| d.starts_with("indexAttempts=1 "))
            && attempts.iter().any(|d| d.starts_with("indexAttempts=2 ")),
        "one won at once, the other re-merged and won on its second attempt: {attempts:?}"
    );

    // Both sets of entries survive (plus the base).
    let keys = env.index_keys().await;
    assert_eq!(keys.len(), 10 + 10 + 10);
    for f in model_a.files.iter().chain(&model_b.files) {
        assert!(keys.contains(f), "{f} is in the remote index");
    }
    for model in [&model_a, &model_b] {
        let shard = env.json(&model.data_partition()).await;
        let mut entries = keys_of(&shard["entries"]);
        entries.sort();
        assert_eq!(entries, model.files, "{}", model.data_partition());
    }
    let meta = env.json(META).await;
    assert_eq!(
        meta["partitions"].as_array().unwrap().len(),
        4,
        "the meta lists every partition: {meta}"
    );

    // A third cache pulls every file.
    let c = Cache::new();
    let report = env.open(&c, "").await.pull(&opts()).await.unwrap();
    assert_eq!(report.files, 30);
    for (cache, model) in [(&a, &model_a), (&b, &model_b)] {
        for f in &model.files {
            assert_eq!(c.read(f), cache.read(f), "{f}");
        }
    }
    assert_eq!(data_files(&c).len(), 30);
}
