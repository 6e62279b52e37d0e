//! The control-plane store (`control-plane` interface, docs/control-plane.md) through the
//! component: round trips under a configured prefix, namespaces, put-if-absent, the
//! typed error of a bad key, and records kept out of every index and cache, on both
//! servers; the put-if-absent race and a lost create reply on the in-process fake, which
//! honours `ifGenerationMatch` (fake-gcs-server ignores it).

use crate::common::*;
use crate::sync::support::*;
use gcs_host::datastore::{GuestError, SyncOptions};
use gcs_host::faults::{FaultAction, FaultMatch, FaultRule};
use gcs_host::traffic::RequestKind;
use std::time::Duration;

on_both_servers!(
    put_get_list_delete_round_trip_under_a_prefix,
    namespaced_records_land_under_the_namespace,
    put_if_absent_creates_once_and_never_overwrites,
    bad_keys_get_the_typed_error_before_any_request,
    records_never_enter_an_index_or_a_cache,
);

const PREFIX: &str = r#""prefix":"team-a""#;

fn ns_opts(ns: &str) -> SyncOptions {
    SyncOptions {
        namespace: Some(ns.to_string()),
        ..opts()
    }
}

async fn put_get_list_delete_round_trip_under_a_prefix(mut env: Env) {
    let cache = Cache::new();
    let mut ds = env.open(&cache, PREFIX).await;
    assert!(ds.capabilities().await.unwrap().control_plane);
    let binary: Vec<u8> = (0..=255u8).collect();
    ds.control_put(None, "heartbeats/w1", &binary)
        .await
        .unwrap();
    ds.control_put(None, "heartbeats/w2", b"two").await.unwrap();
    ds.control_put(None, "pending-runs/r1", b"").await.unwrap();
    assert_eq!(
        env.names().await,
        [
            "team-a/_control/heartbeats/w1",
            "team-a/_control/heartbeats/w2",
            "team-a/_control/pending-runs/r1"
        ]
    );
    assert_eq!(
        ds.control_get(None, "heartbeats/w1").await.unwrap(),
        Some(binary)
    );
    assert_eq!(
        ds.control_get(None, "pending-runs/r1").await.unwrap(),
        Some(Vec::new()),
        "an empty value is a value"
    );
    assert_eq!(ds.control_get(None, "heartbeats/nope").await.unwrap(), None);
    assert_eq!(
        ds.control_list(None, "").await.unwrap(),
        ["heartbeats/w1", "heartbeats/w2", "pending-runs/r1"]
    );
    assert_eq!(
        ds.control_list(None, "heartbeats/").await.unwrap(),
        ["heartbeats/w1", "heartbeats/w2"]
    );
    assert_eq!(
        ds.control_list(None, "pend").await.unwrap(),
        ["pending-runs/r1"]
    );
    assert!(ds.control_list(None, "none/").await.unwrap().is_empty());

    ds.control_put(None, "heartbeats/w1", b"newer")
        .await
        .unwrap();
    assert_eq!(
        ds.control_get(None, "heartbeats/w1")
            .await
            .unwrap()
            .unwrap(),
        b"newer"
    );
    assert!(ds.control_delete(None, "heartbeats/w1").await.unwrap());
    assert!(
        !ds.control_delete(None, "heartbeats/w1").await.unwrap(),
        "deleting a missing key is a no-op"
    );
    assert_eq!(ds.control_get(None, "heartbeats/w1").await.unwrap(), None);
    assert_eq!(
        ds.control_list(None, "heartbeats/").await.unwrap(),
        ["heartbeats/w2"]
    );
    // Another instance over the same bucket sees the same records.
    let mut other = env.open(&Cache::new(), PREFIX).await;
    assert_eq!(
        other.control_list(Some(""), "").await.unwrap(),
        ["heartbeats/w2", "pending-runs/r1"]
    );
}

async fn namespaced_records_land_under_the_namespace(mut env: Env) {
    let cache = Cache::new();
    let mut ds = env.open(&cache, PREFIX).await;
    ds.control_put(Some("team"), "leases/l1", b"team")
        .await
        .unwrap();
    ds.control_put(None, "leases/l1", b"solo").await.unwrap();
    assert_eq!(
        env.names().await,
        [
            "team-a/_control/leases/l1",
            "team-a/team/_control/leases/l1"
        ]
    );
    assert_eq!(
        ds.control_list(Some("team"), "").await.unwrap(),
        ["leases/l1"]
    );
    assert_eq!(
        ds.control_get(Some("team"), "leases/l1")
            .await
            .unwrap()
            .unwrap(),
        b"team"
    );
    assert!(ds.control_delete(Some("team"), "leases/l1").await.unwrap());
    assert_eq!(
        ds.control_get(None, "leases/l1").await.unwrap().unwrap(),
        b"solo",
        "the solo record is another record"
    );
    assert!(ds
        .control_put_if_absent(Some("team"), "leases/l1", b"again")
        .await
        .unwrap());

    // Once a sync binds the instance to a namespace, no namespace means that one, and
    // another one is refused.
    let mut bound = env.open(&Cache::new(), PREFIX).await;
    bound.pull(&ns_opts("team")).await.unwrap();
    assert_eq!(
        bound.control_get(None, "leases/l1").await.unwrap().unwrap(),
        b"again"
    );
    assert_kind(
        bound.control_get(Some("other"), "leases/l1").await,
        "namespace-mismatch",
        "a namespace other than the bound one",
    );
    // A namespace is checked like the sync options'.
    let e = expect_err(
        ds.control_put(Some("a/b"), "k", b"v").await,
        "a namespace with a separator",
    );
    assert!(e.to_string().contains("Invalid namespace"), "{e}");
}

async fn put_if_absent_creates_once_and_never_overwrites(mut env: Env) {
    let cache = Cache::new();
    let mut ds = env.open(&cache, PREFIX).await;
    assert!(ds
        .control_put_if_absent(None, "claims/job-1", b"first")
        .await
        .unwrap());
    let generation = env.generation("team-a/_control/claims/job-1").await;
    let mut other = env.open(&Cache::new(), PREFIX).await;
    assert!(!other
        .control_put_if_absent(None, "claims/job-1", b"second")
        .await
        .unwrap());
    assert_eq!(env.must_get("team-a/_control/claims/job-1").await, b"first");
    assert_eq!(
        env.generation("team-a/_control/claims/job-1").await,
        generation,
        "the value was not rewritten"
    );
    other.control_delete(None, "claims/job-1").await.unwrap();
    assert!(other
        .control_put_if_absent(None, "claims/job-1", b"third")
        .await
        .unwrap());
    assert_eq!(
        ds.control_get(None, "claims/job-1").await.unwrap().unwrap(),
        b"third"
    );
}

async fn bad_keys_get_the_typed_error_before_any_request(env: Env) {
    let cache = Cache::new();
    let mut ds = env.open(&cache, PREFIX).await;
    env.reset();
    for key in [
        "", "/abs", "a//b", "a/", "../x", "a/./b", "a\nb", "x\u{1b}y",
    ] {
        let errors = [
            expect_err(ds.control_put(None, key, b"v").await, key),
            expect_err(ds.control_get(None, key).await, key),
            expect_err(ds.control_delete(None, key).await, key),
            expect_err(ds.control_put_if_absent(Some("team"), key, b"v").await, key),
        ];
        for e in errors {
            match guest(&e) {
                GuestError::InvalidConfig(c) => {
                    assert_eq!(c.field, "key", "{key:?}");
                    assert!(c.message.contains("hint:"), "{}", c.message);
                    assert!(!c.message.contains('\n'), "one line: {:?}", c.message);
                }
                other => panic!("{key:?}: {other:?}"),
            }
        }
    }
    let e = expect_err(ds.control_list(None, "../").await, "a bad prefix");
    assert!(
        matches!(guest(&e), GuestError::InvalidConfig(c) if c.field == "prefix"),
        "{e:?}"
    );
    assert_eq!(env.snap().total, 0, "nothing was sent");
}

/// Records of the root and of a namespace that has no manifest exist before the first
/// push: the pushes (which discover, the index being missing) and a pull never take them
/// for data, and a cache file under `_control/` is never pushed.
async fn records_never_enter_an_index_or_a_cache(mut env: Env) {
    let admin_cache = Cache::new();
    let mut cp = env.open(&admin_cache, "").await;
    cp.control_put(None, "heartbeats/w1", b"solo")
        .await
        .unwrap();
    cp.control_put(Some("team"), "heartbeats/w1", b"team")
        .await
        .unwrap();
    cp.control_put(Some("other"), "heartbeats/w2", b"other")
        .await
        .unwrap();
    env.put("data/t/m/remote.yaml", b"remote").await;

    let solo = Cache::new();
    solo.write("data/t/m/local.yaml", b"local");
    solo.write("_control/local-leak", b"never pushed");
    env.open(&solo, "").await.push(&opts()).await.unwrap();
    let mut keys = env.index_keys().await;
    keys.sort();
    assert_eq!(keys, ["data/t/m/local.yaml", "data/t/m/remote.yaml"]);

    let team = Cache::new();
    team.write("team/data/t/m/local.yaml", b"team local");
    env.open(&team, "")
        .await
        .push(&ns_opts("team"))
        .await
        .unwrap();
    let team_index = env.json("team/.datastore-index.json").await;
    let mut team_keys = keys_of(&team_index["entries"]);
    team_keys.sort();
    assert_eq!(team_keys, ["data/t/m/local.yaml"]);

    let names = env.names().await;
    assert!(
        !names.contains(&"_control/local-leak".to_string()),
        "{names:?}"
    );
    for (key, value) in [
        ("_control/heartbeats/w1", &b"solo"[..]),
        ("team/_control/heartbeats/w1", b"team"),
        ("other/_control/heartbeats/w2", b"other"),
    ] {
        assert_eq!(env.must_get(key).await, value, "{key} is untouched");
    }

    let fresh = Cache::new();
    env.open(&fresh, "").await.pull(&opts()).await.unwrap();
    let files = fresh.files();
    assert!(
        files.iter().all(|f| !f.contains("_control")),
        "no record was pulled: {files:?}"
    );
    let fresh_team = Cache::new();
    env.open(&fresh_team, "")
        .await
        .pull(&ns_opts("team"))
        .await
        .unwrap();
    assert!(fresh_team.files().iter().all(|f| !f.contains("_control")));
}

/// Several instances race for one key: every create is held until all have checked the
/// key is free, so all of them send the conditional create. Exactly one wins; the others
/// get `false` (their creates answered 412) and the winner's value is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_instances_have_exactly_one_winner() {
    let mut env = Env::start(Which::Fake).await;
    let caches: Vec<Cache> = (0..4).map(|_| Cache::new()).collect();
    let mut instances = Vec::new();
    for cache in &caches {
        instances.push(env.open(cache, "").await);
    }
    env.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Upload),
        FaultAction::Delay(Duration::from_millis(300)),
        None,
    ));
    env.reset();
    let values: Vec<Vec<u8>> = (0..4).map(|i| format!("worker-{i}").into_bytes()).collect();
    let results = futures::future::join_all(
        instances
            .iter_mut()
            .zip(&values)
            .map(|(ds, v)| ds.control_put_if_absent(Some("ha"), "leader", v)),
    )
    .await;
    env.host.faults.clear();
    let won: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| *r.as_ref().expect("put-if-absent"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert_eq!(env.must_get("ha/_control/leader").await, values[won[0]]);
    let creates: Vec<u16> = env
        .log()
        .iter()
        .filter(|r| r.kind == RequestKind::Upload)
        .map(|r| r.status)
        .collect();
    assert_eq!(
        creates.len(),
        4,
        "every instance sent its create: {creates:?}"
    );
    assert_eq!(
        creates.iter().filter(|s| **s == 412).count(),
        3,
        "{creates:?}"
    );
}

/// The create commits but its reply is lost: the retry meets a 412, and the object's
/// claim shows the write was ours, so the answer is `true`; a second claimant gets `false`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_create_reply_is_settled_by_the_claim() {
    let mut env = Env::start(Which::Fake).await;
    let cache = Cache::new();
    let mut ds = env.open(&cache, "").await;
    env.host.faults.add(FaultRule::new(
        // Multipart uploads name their object in the body: this rule matches every upload,
        // and the create is the only one here.
        FaultMatch::kind(RequestKind::Upload),
        FaultAction::ResetAfterCommit,
        Some(1),
    ));
    env.reset();
    assert!(ds
        .control_put_if_absent(None, "lease", b"me")
        .await
        .unwrap());
    env.host.faults.clear();
    let uploads: Vec<u16> = env
        .log()
        .iter()
        .filter(|r| r.kind == RequestKind::Upload)
        .map(|r| r.status)
        .collect();
    assert_eq!(uploads.len(), 2, "the create was sent again: {uploads:?}");
    assert_eq!(uploads[1], 412, "{uploads:?}");
    assert_eq!(env.must_get("_control/lease").await, b"me");
    let mut other = env.open(&Cache::new(), "").await;
    assert!(!other
        .control_put_if_absent(None, "lease", b"me")
        .await
        .unwrap());
}
