//! The host-side heartbeat driver (`gcs_host::heartbeat`): a lock held for longer than
//! its TTL survives a contender while the driver runs, and is stolen without it; the
//! driver reports a lost lock; `tick` extends only when due; `LockKeeper` does the same
//! from a background task.

use crate::common::{guest, BUCKET};
use crate::lock::support::*;
use gcs_host::datastore::message_of;
use gcs_host::heartbeat::{run_with_heartbeat, HeldLock, LockKeeper, LockState};
use gcs_host::traffic::RequestKind;
use std::time::{Duration, Instant};

const TTL: u32 = 1500;

/// With the driver running, a lock held for three times its TTL is never stolen: the
/// contender, retrying for 4.5 s, times out naming the holder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_keeps_the_lock_past_its_ttl() {
    let mut rig = Rig::fake().await;
    let mut alice = rig.open(ALICE, "").await;
    let mut bob = rig.open(BOB, "").await;
    let (mut held, info) = HeldLock::acquire(&mut alice, &opts(TTL, 1000, 5000))
        .await
        .unwrap();
    assert_eq!(held.interval(), Duration::from_millis(500));
    let start = Instant::now();
    let bob = &mut bob;
    let contender = run_with_heartbeat(&mut alice, &mut held, move |_watch| async move {
        let b = bob.lock(&opts(30_000, 100, 3 * TTL)).await.unwrap();
        bob.lock_acquire(b).await
    })
    .await;
    let e = contender.expect_err("the contender must not get a heartbeating lock");
    assert!(start.elapsed() >= Duration::from_millis(3 * TTL as u64));
    let msg = message_of(guest(&e));
    assert!(msg.contains("held by alice@host-a (pid 4242)"), "{msg}");
    let report = held.report();
    assert_eq!(report.state, LockState::Held);
    assert!(report.extends >= 7, "{report:?}");
    assert_eq!(report.failures, 0);
    assert_eq!(rig.count(RequestKind::Delete), 0, "never judged stale");
    assert_eq!(rig.stored_nonce(KEY), info.nonce);
    let (warning, _) = held.release(&mut alice).await.unwrap();
    assert_eq!(warning, None);
    assert!(rig.stored(KEY).is_none());
}

/// Without the driver the same lock goes stale after its TTL and the contender steals it;
/// the holder's next extend says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_driver_the_lock_is_stolen() {
    let mut rig = Rig::fake().await;
    let mut alice = rig.open(ALICE, "").await;
    let mut bob = rig.open(BOB, "").await;
    let (held, _) = HeldLock::acquire(&mut alice, &opts(TTL, 1000, 5000))
        .await
        .unwrap();
    let start = Instant::now();
    let b = bob.lock(&opts(30_000, 100, 3 * TTL)).await.unwrap();
    let won = bob.lock_acquire(b).await.expect("stolen after the TTL");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(TTL as u64 + 1000),
        "TTL plus the steal backoff, took {took:?}"
    );
    assert_eq!(rig.stored_nonce(KEY), won.nonce);
    assert!(!alice.lock_extend(held.resource()).await.unwrap());
    let _ = held.release(&mut alice).await.unwrap();
    assert_eq!(
        rig.stored_nonce(KEY),
        won.nonce,
        "the thief's lock survives"
    );
}

/// The driver notices a lost lock, tells the work through the watch, and stops
/// extending; the release afterwards leaves the other writer's object alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_reports_a_lost_lock() {
    let mut rig = Rig::fake().await;
    let mut alice = rig.open(ALICE, "").await;
    let (mut held, _) = HeldLock::acquire(&mut alice, &opts(TTL, 1000, 5000))
        .await
        .unwrap();
    let gcs = rig.gcs();
    let foreign = b"{\"holder\":\"eve@x\",\"hostname\":\"x\",\"pid\":1,\"acquiredAt\":\"2026-08-01T10:00:00.000Z\",\"ttlMs\":30000}";
    let seen = run_with_heartbeat(&mut alice, &mut held, |mut watch| async move {
        gcs.put_object(BUCKET, KEY, foreign);
        tokio::time::timeout(
            Duration::from_secs(5),
            watch.wait_for(|s| *s == LockState::Lost),
        )
        .await
        .expect("the loss is reported within a heartbeat or two")
        .map(|s| *s)
        .unwrap()
    })
    .await;
    assert_eq!(seen, LockState::Lost);
    assert_eq!(held.state(), LockState::Lost);
    let uploads = rig.count(RequestKind::Upload);
    assert_eq!(held.tick(&mut alice).await, LockState::Lost);
    tokio::time::sleep(held.interval()).await;
    assert_eq!(held.tick(&mut alice).await, LockState::Lost);
    assert_eq!(
        rig.count(RequestKind::Upload),
        uploads,
        "no extend after the loss"
    );
    let _ = held.release(&mut alice).await.unwrap();
    assert_eq!(rig.stored(KEY).unwrap(), foreign.to_vec());
}

/// `tick` extends only once a heartbeat is due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tick_extends_only_when_due() {
    let mut rig = Rig::fake().await;
    let mut alice = rig.open(ALICE, "").await;
    let (mut held, _) = HeldLock::acquire(&mut alice, &opts(TTL, 1000, 5000))
        .await
        .unwrap();
    let uploads = rig.count(RequestKind::Upload);
    assert_eq!(held.tick(&mut alice).await, LockState::Held);
    assert_eq!(rig.count(RequestKind::Upload), uploads, "not due yet");
    tokio::time::sleep_until(held.next_due()).await;
    assert_eq!(held.tick(&mut alice).await, LockState::Held);
    assert_eq!(rig.count(RequestKind::Upload), uploads + 1);
    assert_eq!(held.tick(&mut alice).await, LockState::Held);
    assert_eq!(rig.count(RequestKind::Upload), uploads + 1);
    assert_eq!(held.report().extends, 1);
    // A holder that stops ticking for a TTL is at risk (it may have been stolen).
    tokio::time::sleep(Duration::from_millis(TTL as u64)).await;
    assert_eq!(held.state(), LockState::AtRisk);
    assert_eq!(
        held.beat(&mut alice).await,
        LockState::Held,
        "nobody took it"
    );
    let (warning, _) = held.release(&mut alice).await.unwrap();
    assert_eq!(warning, None);
}

/// `LockKeeper` heartbeats from a background task that owns the lock's datastore, while
/// the work goes on through a second datastore of the same identity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeper_heartbeats_in_the_background() {
    // Longer than TTL: the whole suite runs in parallel on two cores, and a heartbeat
    // (every ttl/3) delayed by a full TTL would let the waiter take the lock for real.
    const TTL: u32 = 3000;
    let mut rig = Rig::fake().await;
    let mut lock_ds = rig.open(ALICE, "").await;
    let mut work_ds = rig.open(ALICE, "").await;
    let mut bob = rig.open(BOB, "").await;
    let (held, info) = HeldLock::acquire(&mut lock_ds, &opts(TTL, 1000, 5000))
        .await
        .unwrap();
    let keeper = LockKeeper::spawn(lock_ds, held);
    for i in 0..3 {
        work_ds
            .put_bytes(&format!("work/{i}"), b"guarded", None)
            .await
            .unwrap();
    }
    let b = bob.lock(&opts(30_000, 100, 2 * TTL)).await.unwrap();
    assert!(
        bob.lock_acquire(b).await.is_err(),
        "kept alive past its TTL"
    );
    assert_eq!(keeper.state(), LockState::Held);
    assert_eq!(rig.stored_nonce(KEY), info.nonce);
    let (_lock_ds, warning, report) = keeper.release().await.unwrap();
    assert_eq!(warning, None);
    assert!(report.extends >= 4, "{report:?}");
    assert!(rig.stored(KEY).is_none());
    bob.lock_acquire(b).await.expect("free after the release");
}
