//! Concurrent writers on one bucket: 2 and 4 component instances, each in its own host
//! with its own cache, pushing different models at once — without the lock (relying on
//! the monolith's `ifGenerationMatch` and the re-merge on 412) and each under the lock
//! (as swamp does). Then the v1 `_meta.json` under a forced interleaving, and a
//! TypeScript-format index written by "another client" while a push is in flight.
//! In-process fake only: the outcome rests on preconditions.

use crate::common::*;
use crate::hostile::checks::*;
use crate::sync::support::*;
use futures::future::join_all;
use gcs_host::datastore::{LockOptions, SyncReport};
use gcs_host::faults::{FaultAction, FaultMatch, FaultRule};
use gcs_host::heartbeat::{with_lock, HeldLock, WithLockError};
use gcs_host::traffic::RequestKind;
use gcs_host::{CallResult, Datastore, Host};
use std::time::Duration;

/// Files each writer pushes.
const FILES: usize = 8;

/// One writer: its own host (so its faults and traffic are its own), cache and model.
struct Writer {
    host: Host,
    cache: Cache,
    model: Model,
    ds: Datastore,
}

/// A writer with a fresh cache seeded with one model of [`FILES`] files, carrying its
/// own holder identity (the lock records `USER@HOSTNAME`).
async fn writer(env: &Env, i: usize) -> Writer {
    let host = Host::new().expect("load the component");
    let cache = Cache::new();
    let model = seed(&cache, 1, FILES, 64).remove(0);
    let options = env
        .server
        .options(&cache)
        .env("USER", &format!("writer{i}"))
        .env("HOSTNAME", &format!("host-{i}"));
    let mut ds = host.open(&options).await.expect("open datastore");
    ds.configure(&env.server.config(BUCKET, ""))
        .await
        .expect("configure");
    // Hold the writer's first upload for a moment, so that every writer has read the
    // same index generation before any of them publishes: the race is certain, not
    // left to scheduling.
    host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Upload),
        FaultAction::Delay(Duration::from_millis(500)),
        Some(1),
    ));
    Writer {
        host,
        cache,
        model,
        ds,
    }
}

/// The global lock as swamp takes it, waiting long enough for every other writer.
fn lock_options() -> LockOptions {
    LockOptions {
        key: None,
        ttl_ms: Some(30_000),
        retry_interval_ms: Some(20),
        max_wait_ms: Some(120_000),
    }
}

/// Push under the lock: acquire, push, always release.
async fn push_locked(ds: &mut Datastore) -> CallResult<SyncReport> {
    let locked = with_lock(
        ds,
        &lock_options(),
        async |ds: &mut Datastore, _held: &mut HeldLock| ds.push(&opts()).await,
    )
    .await;
    match locked {
        Ok(l) => {
            assert_eq!(l.release_warning, None, "released cleanly");
            Ok(l.value)
        }
        Err(WithLockError::Acquire(e)) => Err(e),
        Err(WithLockError::Work { error, .. }) => Err(error),
    }
}

/// The index attempts a push reported (`indexAttempts=N` of its writeback phase).
fn index_attempts(report: &SyncReport) -> u32 {
    let detail = phase(report, "pushChanged.writeback");
    detail
        .split_whitespace()
        .find_map(|w| w.strip_prefix("indexAttempts="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no indexAttempts in {detail:?}"))
}

/// `n` writers push at once on top of a base push; then a third cache pulls.
async fn writers_push_at_once(n: usize, locked: bool) {
    let mut env = Env::start(Which::Fake).await;
    let base = Cache::new();
    let base_model = seed(&base, 1, 3, 64).remove(0);
    env.open(&base, "").await.push(&opts()).await.unwrap();

    let mut writers = Vec::new();
    for i in 0..n {
        writers.push(writer(&env, i).await);
    }
    let before: Vec<_> = writers.iter().map(|w| contents(&w.cache)).collect();
    let results = join_all(writers.iter_mut().map(|w| async move {
        if locked {
            push_locked(&mut w.ds).await
        } else {
            w.ds.push(&opts()).await
        }
    }))
    .await;
    let reports: Vec<SyncReport> = results
        .into_iter()
        .enumerate()
        .map(|(i, r)| ok(r, &format!("writer {i}")))
        .collect();
    for (i, w) in writers.iter().enumerate() {
        assert_eq!(reports[i].files as usize, FILES, "writer {i}");
        assert_eq!(
            w.host.faults.fired(),
            1,
            "writer {i}: its first upload was held"
        );
        nothing_lost(&w.cache, &before[i], &format!("writer {i}"));
    }
    let attempts: Vec<u32> = reports.iter().map(index_attempts).collect();
    if locked {
        // Serialised by the lock: each writer read the index its predecessor published.
        assert!(attempts.iter().all(|a| *a == 1), "{attempts:?}");
        assert!(env.get(".datastore.lock").await.is_none(), "lock released");
    } else {
        // They raced: at least one lost the conditional write and re-merged.
        assert!(attempts.iter().any(|a| *a > 1), "{attempts:?}");
        let lost = env
            .server
            .as_fake()
            .unwrap()
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.starts_with("/upload/") && r.status == 412)
            .count();
        assert!(lost > 0, "no conditional write lost a race");
    }

    // No entry lost: the base and every writer's files, exactly.
    let mut want: Vec<String> = base_model.files.clone();
    for w in &writers {
        want.extend(w.model.files.iter().cloned());
    }
    want.sort();
    let mut keys = env.index_keys().await;
    keys.sort();
    assert_eq!(keys, want, "attempts {attempts:?}");
    for model in writers.iter().map(|w| &w.model).chain([&base_model]) {
        let shard = env.json(&model.data_partition()).await;
        let mut entries = keys_of(&shard["entries"]);
        entries.sort();
        assert_eq!(entries, model.files, "{}", model.data_partition());
    }
    let meta = env.json(META).await;
    let listed: Vec<&str> = meta["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for model in writers.iter().map(|w| &w.model).chain([&base_model]) {
        let key = model.data_partition();
        let key = &key["_index/".len()..key.len() - ".json".len()];
        assert!(listed.contains(&key), "{key} missing from the meta: {meta}");
    }

    // A third cache, in its own host, pulls every file with the right content.
    let host = Host::new().expect("load the component");
    let third = Cache::new();
    let mut ds = open(&host, &env.server, BUCKET, &third, "").await;
    let report = ok(ds.pull(&opts()).await, "third cache pull");
    assert_eq!(report.files as usize, want.len());
    assert_eq!(data_files(&third), want);
    for f in &base_model.files {
        assert_eq!(third.read(f), base.read(f), "{f}");
    }
    for w in &writers {
        for f in &w.model.files {
            assert_eq!(third.read(f), w.cache.read(f), "{f}");
        }
    }
}

/// Two writers without the lock: one loses the conditional monolith write, re-fetches,
/// re-merges and wins; no entry is lost and a third cache pulls every file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_without_the_lock_lose_no_entry() {
    writers_push_at_once(2, false).await;
}

/// Four writers without the lock: the same, with up to three re-merges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_writers_without_the_lock_lose_no_entry() {
    writers_push_at_once(4, false).await;
}

/// Two writers each pushing under the lock: serialised, each publishes at its first
/// attempt onto its predecessor's index; no entry lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_under_the_lock_lose_no_entry() {
    writers_push_at_once(2, true).await;
}

/// Four writers each pushing under the lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_writers_under_the_lock_lose_no_entry() {
    writers_push_at_once(4, true).await;
}

/// "Another client" writes a TypeScript-format monolith (its own new entry added, ours
/// absent) while our push is between reading the index and writing it: the host holds
/// the index upload (the upload after the [`FILES`] data uploads) until the other write
/// has landed. Then, without any hold, the other client writes between our
/// `mark-dirty` and our push.
///
/// Expected: the conditional write loses (412), the push re-fetches and merges — the
/// other client's entry survives exactly as written, ours are added; in the second round
/// the push simply merges onto the fresh index. A fresh cache pulls everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_index_written_during_a_push_is_merged_not_overwritten() {
    let mut env = Env::start(Which::Fake).await;
    let base = Cache::new();
    base.write("audit/base", b"base");
    env.open(&base, "").await.push(&opts()).await.unwrap();

    let mut w = writer(&env, 0).await;
    w.host.faults.clear();
    w.host.faults.add(
        FaultRule::new(
            FaultMatch::kind(RequestKind::Upload),
            FaultAction::Delay(Duration::from_secs(3)),
            Some(1),
        )
        .after(FILES as u32),
    );
    let theirs = b"written by the TypeScript client";
    let host = &w.host;
    let other_client = async {
        for _ in 0..12_000 {
            if host.faults.fired() > 0 {
                return add_remote_entry(&mut env, "audit/theirs", theirs).await;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the push never reached its index write");
    };
    let options = opts();
    let (r, their_generation) = tokio::join!(w.ds.push(&options), other_client);
    let report = ok(r, "push racing a TypeScript index write");
    assert_eq!(report.files as usize, FILES);
    assert_eq!(
        index_attempts(&report),
        2,
        "the held write lost to theirs and was retried: {:?}",
        report.phases
    );
    assert_ne!(env.generation(INDEX).await.unwrap(), their_generation);
    let index = env.json(INDEX).await;
    assert_eq!(
        index["entries"]["audit/theirs"],
        serde_json::json!({"key": "audit/theirs", "size": theirs.len(),
            "lastModified": "2026-07-01T00:00:00.000Z"}),
        "their entry is kept exactly"
    );
    let mut want = vec!["audit/base".to_string(), "audit/theirs".to_string()];
    want.extend(w.model.files.iter().cloned());
    want.sort();
    let mut keys = keys_of(&index["entries"]);
    keys.sort();
    assert_eq!(keys, want);

    // Between mark-dirty and push.
    let changed = w.model.files[0].clone();
    ok(w.ds.mark_dirty(&rel(&changed)).await, "mark-dirty");
    w.cache.write(&changed, b"{\"changed\":true}");
    add_remote_entry(&mut env, "audit/theirs2", b"second").await;
    let report = ok(w.ds.push(&opts()).await, "push after their write");
    assert_eq!(report.files, 1);
    let index = env.json(INDEX).await;
    assert_eq!(index["entries"]["audit/theirs2"]["size"], 6);
    assert_eq!(index["entries"]["audit/theirs"]["size"], theirs.len());
    assert_eq!(index["entries"][&changed]["size"], 16);
    want.push("audit/theirs2".into());
    want.sort();
    let mut keys = keys_of(&index["entries"]);
    keys.sort();
    assert_eq!(keys, want);

    let third = Cache::new();
    let report = ok(
        env.open(&third, "").await.pull(&opts()).await,
        "third cache pull",
    );
    assert_eq!(report.files as usize, want.len());
    assert_eq!(third.read("audit/theirs"), theirs);
    assert_eq!(third.read("audit/theirs2"), b"second");
    assert_eq!(third.read(&changed), b"{\"changed\":true}");
}

/// The v1 `_meta.json` under the same race, made certain: writer A wins the monolith
/// (B's first upload is held longer), and A's `_meta.json` write is held until B has
/// re-merged, published and written a meta listing every partition. A's conditional
/// meta write then loses (412).
///
/// Expected: A re-reads the meta and keeps the partitions B listed (its own merge never
/// saw B's entries) — the final meta lists the base's, A's and B's partitions, rather than
/// A's stale view overwriting B's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_written_late_by_the_first_winner_keeps_the_later_writers_partitions() {
    let mut env = Env::start(Which::Fake).await;
    let base = Cache::new();
    let base_model = seed(&base, 1, 3, 64).remove(0);
    env.open(&base, "").await.push(&opts()).await.unwrap();

    let mut a = writer(&env, 0).await;
    let mut b = writer(&env, 1).await;
    // A's uploads: FILES data files, the monolith, its partition, then the meta. The
    // meta rule comes first so that it counts every upload.
    a.host.faults.clear();
    a.host.faults.add(
        FaultRule::new(
            FaultMatch::kind(RequestKind::Upload),
            FaultAction::Delay(Duration::from_secs(3)),
            Some(1),
        )
        .after(FILES as u32 + 2),
    );
    a.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Upload),
        FaultAction::Delay(Duration::from_millis(300)),
        Some(1),
    ));
    b.host.faults.clear();
    b.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Upload),
        FaultAction::Delay(Duration::from_millis(1000)),
        Some(1),
    ));
    let options = opts();
    let (ra, rb) = tokio::join!(a.ds.push(&options), b.ds.push(&options));
    let (ra, rb) = (ok(ra, "writer A"), ok(rb, "writer B"));
    assert_eq!(a.host.faults.fired(), 2, "A's meta write was held");
    assert_eq!(
        (index_attempts(&ra), index_attempts(&rb)),
        (1, 2),
        "A won the monolith, B re-merged"
    );
    let lost_meta_race = a
        .host
        .traffic
        .log()
        .iter()
        .filter(|r| r.kind == RequestKind::Upload && r.status == 412)
        .count();
    assert_eq!(lost_meta_race, 1, "A's held meta write lost to B's");

    let meta = env.json(META).await;
    let listed: Vec<&str> = meta["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for model in [&base_model, &a.model, &b.model] {
        let key = model.data_partition();
        let key = &key["_index/".len()..key.len() - ".json".len()];
        assert!(listed.contains(&key), "{key} missing from the meta: {meta}");
    }
    let mut keys = env.index_keys().await;
    keys.sort();
    let mut want: Vec<String> = base_model.files.clone();
    want.extend(a.model.files.iter().cloned());
    want.extend(b.model.files.iter().cloned());
    want.sort();
    assert_eq!(keys, want);
}
