//! Staleness and its consequences: a lock not rewritten for its holder's TTL is stolen
//! (only that generation is deleted); the old holder finds out on its next heartbeat and
//! its release never deletes the successor's lock; a live lock makes `acquire` time out
//! with a message naming the holder.

use crate::common::{assert_kind, guest, BUCKET};
use crate::lock::support::*;
use gcs_host::datastore::message_of;
use gcs_host::traffic::RequestKind;
use std::time::{Duration, Instant};

/// A live lock is not stolen; once its `updated` time is older than its TTL it is, by
/// deleting exactly the generation judged stale, then creating after the 1–1.5 s backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_lock_is_stolen_after_its_ttl() {
    let mut rig = Rig::fake().await;
    let mut alice = rig.open(ALICE, "").await;
    let mut bob = rig.open(BOB, "").await;
    let a = alice.lock(&opts(30_000, 1000, 60_000)).await.unwrap();
    alice.lock_acquire(a).await.unwrap();
    let alice_gen = rig.gcs().get_object(BUCKET, KEY).unwrap().generation;

    // Live (updated 29 s ago, TTL 30 s): bob waits and gives up.
    rig.backdate(KEY, 29_000);
    let b = bob.lock(&opts(30_000, 50, 400)).await.unwrap();
    assert_kind(bob.lock_acquire(b).await, "lock-timeout", "live lock");
    assert_eq!(
        rig.count(RequestKind::Delete),
        0,
        "a live lock is never deleted"
    );

    // Stale (31 s): stolen.
    rig.backdate(KEY, 31_000);
    let b = bob.lock(&opts(30_000, 50, 10_000)).await.unwrap();
    let start = Instant::now();
    let won = bob.lock_acquire(b).await.unwrap();
    let took = start.elapsed();
    assert_info(&won, BOB, 30_000);
    assert!(
        took >= Duration::from_millis(1000) && took < Duration::from_secs(4),
        "steal backoff is 1000-1499 ms, took {took:?}"
    );
    assert_eq!(rig.stored_nonce(KEY), won.nonce);
    let deletes: Vec<_> = rig
        .gcs()
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert!(
        deletes[0]
            .query
            .contains(&format!("ifGenerationMatch={alice_gen}")),
        "the steal names the stale generation: {:?}",
        deletes[0]
    );
    assert_eq!(
        fields_of(&bob.lock_inspect(b).await.unwrap()),
        Some(fields(&won))
    );
}

/// A slow holder (no heartbeat for longer than its TTL) whose lock was stolen: its next
/// extend returns false (and writes nothing), it knows it no longer holds, and its release
/// leaves the successor's lock alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_holder_heartbeat_fails_and_knows_it() {
    let mut rig = Rig::fake().await;
    let mut alice = rig.open(ALICE, "").await;
    let mut bob = rig.open(BOB, "").await;
    let a = alice.lock(&opts(30_000, 1000, 60_000)).await.unwrap();
    alice.lock_acquire(a).await.unwrap();
    rig.backdate(KEY, 60_000);
    let b = bob.lock(&opts(30_000, 50, 10_000)).await.unwrap();
    let bobs = bob.lock_acquire(b).await.unwrap();
    let bob_gen = rig.gcs().get_object(BUCKET, KEY).unwrap().generation;

    let uploads = rig.count(RequestKind::Upload);
    assert!(
        !alice.lock_extend(a).await.unwrap(),
        "the heartbeat finds the lock gone"
    );
    assert_eq!(
        rig.count(RequestKind::Upload),
        uploads + 1,
        "one CAS, no rewrite"
    );
    assert!(!alice.lock_is_held(a).await.unwrap());
    assert!(
        !alice.lock_extend(a).await.unwrap(),
        "not held: nothing to extend"
    );
    assert_eq!(rig.count(RequestKind::Upload), uploads + 1);
    let _ = alice.lock_release(a).await.unwrap();

    let now = rig
        .gcs()
        .get_object(BUCKET, KEY)
        .expect("bob's lock survives");
    assert_eq!(now.generation, bob_gen);
    assert_eq!(rig.stored_nonce(KEY), bobs.nonce);
    assert!(bob.lock_is_held(b).await.unwrap());
    assert!(bob.lock_extend(b).await.unwrap());
    assert_eq!(bob.lock_release(b).await.unwrap(), None);
    assert!(rig.stored(KEY).is_none());
}

/// A holder that never heartbeated and releases after its lock was stolen: the delete is
/// conditional on its old generation, fails, and the release returns a warning instead of
/// deleting the successor's lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_after_a_steal_spares_the_successor() {
    let mut rig = Rig::fake().await;
    let mut alice = rig.open(ALICE, "").await;
    let mut bob = rig.open(BOB, "").await;
    let a = alice.lock(&opts(30_000, 1000, 60_000)).await.unwrap();
    alice.lock_acquire(a).await.unwrap();
    rig.backdate(KEY, 60_000);
    let b = bob.lock(&opts(30_000, 50, 10_000)).await.unwrap();
    let bobs = bob.lock_acquire(b).await.unwrap();

    let warning = alice.lock_release(a).await.unwrap().expect("a warning");
    assert!(
        warning.starts_with(&format!("Failed to delete lock {KEY} during release:")),
        "{warning}"
    );
    assert!(!alice.lock_is_held(a).await.unwrap());
    assert_eq!(rig.stored_nonce(KEY), bobs.nonce, "bob's lock survives");
    assert_eq!(alice.lock_release(a).await.unwrap(), None, "idempotent");
    assert_eq!(rig.stored_nonce(KEY), bobs.nonce);
}

/// Another writer overwrote the lock object (whatever its reason): the holder's heartbeat
/// reports the loss, and its release does not delete the other writer's object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwritten_lock_is_lost_on_the_next_heartbeat() {
    let mut rig = Rig::fake().await;
    let mut alice = rig.open(ALICE, "").await;
    let a = alice.lock(&opts(30_000, 1000, 60_000)).await.unwrap();
    alice.lock_acquire(a).await.unwrap();
    assert!(alice.lock_extend(a).await.unwrap());
    let theirs = br#"{
  "holder": "eve@host-e",
  "hostname": "host-e",
  "pid": 1,
  "acquiredAt": "2026-08-01T10:00:00.000Z",
  "ttlMs": 30000,
  "nonce": "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee"
}"#;
    rig.gcs().put_object(BUCKET, KEY, theirs);
    assert!(!alice.lock_extend(a).await.unwrap());
    assert!(!alice.lock_is_held(a).await.unwrap());
    let _ = alice.lock_release(a).await.unwrap();
    assert_eq!(rig.stored(KEY).unwrap(), theirs.to_vec());
    let info = alice.lock_inspect(a).await.unwrap().unwrap();
    assert_eq!(info.holder, "eve@host-e");
}

/// While the lock is held, a second acquire with max-wait 1500 ms fails after about that
/// long with a lock-timeout error (kind `other`) naming the holder and its pid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_acquire_times_out_naming_the_holder() {
    let mut rig = Rig::fake().await;
    let mut alice = rig.open(ALICE, "").await;
    let mut bob = rig.open(BOB, "").await;
    let a = alice.lock(&opts(30_000, 1000, 60_000)).await.unwrap();
    let held = alice.lock_acquire(a).await.unwrap();
    let b = bob.lock(&opts(30_000, 200, 1500)).await.unwrap();
    let start = Instant::now();
    let e = assert_kind(
        bob.lock_acquire(b).await,
        "lock-timeout",
        "contended acquire",
    );
    let took = start.elapsed();
    let msg = message_of(guest(&e));
    assert!(msg.contains("held by"), "{msg}");
    assert!(msg.contains(&ALICE.holder()), "{msg}");
    assert!(msg.contains(&format!("(pid {})", ALICE.pid)), "{msg}");
    assert!(
        msg.starts_with(&format!(
            "Lock \"{KEY}\" held by alice@host-a (pid 4242) — timed out after "
        )),
        "{msg}"
    );
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_millis(3500),
        "took {took:?}"
    );
    assert!(!bob.lock_is_held(b).await.unwrap());
    assert_eq!(rig.stored_nonce(KEY), held.nonce, "alice still holds");
    assert!(alice.lock_extend(a).await.unwrap());
}
