//! Swamp's lock conformance (`assertLockConformance`, `docs/lock.md#conformance` and
//! `docs/swamp-contract.md#lock`), case by
//! case, through the component's `lock` resource, plus the host-side `with_lock`.

use crate::common::BUCKET;
use crate::lock::support::*;
use gcs_host::datastore::LockOptions;
use gcs_host::heartbeat::{with_lock, WithLockError};
use gcs_host::traffic::RequestKind;

/// Before any acquire, `inspect` is none and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_is_none_before_acquire() {
    let mut rig = Rig::fake().await;
    let mut ds = rig.open(ALICE, "").await;
    let lock = ds.lock(&opts(30_000, 1000, 60_000)).await.unwrap();
    assert!(ds.lock_inspect(lock).await.unwrap().is_none());
    assert!(!ds.lock_is_held(lock).await.unwrap());
    assert_eq!(rig.count(RequestKind::Upload), 0);
    assert!(rig.gcs().object_names(BUCKET).is_empty());
}

/// While held, `acquire` and `inspect` report the holder (string), pid, acquiredAt, ttlMs
/// and a nonce; the stored object says the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_fields_while_held() {
    let mut rig = Rig::fake().await;
    let mut ds = rig.open(ALICE, "").await;
    let lock = ds.lock(&opts(12_000, 1000, 60_000)).await.unwrap();
    let info = ds.lock_acquire(lock).await.unwrap();
    assert_info(&info, ALICE, 12_000);
    assert!(ds.lock_is_held(lock).await.unwrap());
    assert_eq!(
        fields_of(&ds.lock_inspect(lock).await.unwrap()),
        Some(fields(&info))
    );
    // Another instance sees the same holder.
    let mut other = rig.open(BOB, "").await;
    let peek = other.lock(&opts(30_000, 1000, 60_000)).await.unwrap();
    assert_eq!(
        fields_of(&other.lock_inspect(peek).await.unwrap()),
        Some(fields(&info))
    );
    assert!(!other.lock_is_held(peek).await.unwrap());
    assert_eq!(rig.stored_nonce(KEY), info.nonce);
    // A second acquire on the same handle is a no-op returning the same body.
    let uploads = rig.count(RequestKind::Upload);
    assert_eq!(fields(&ds.lock_acquire(lock).await.unwrap()), fields(&info));
    assert_eq!(rig.count(RequestKind::Upload), uploads);
}

/// After release, `inspect` is none and the object is gone; release is idempotent and the
/// second one sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn none_after_release_and_release_is_idempotent() {
    let mut rig = Rig::fake().await;
    let mut ds = rig.open(ALICE, "").await;
    let lock = ds.lock(&opts(30_000, 1000, 60_000)).await.unwrap();
    ds.lock_acquire(lock).await.unwrap();
    assert_eq!(ds.lock_release(lock).await.unwrap(), None, "no warning");
    assert!(!ds.lock_is_held(lock).await.unwrap());
    assert!(ds.lock_inspect(lock).await.unwrap().is_none());
    assert!(rig.stored(KEY).is_none());
    let sent = rig.host.traffic.snapshot().total;
    assert_eq!(ds.lock_release(lock).await.unwrap(), None);
    assert_eq!(ds.lock_release(lock).await.unwrap(), None);
    assert_eq!(rig.host.traffic.snapshot().total, sent, "nothing sent");
    // The handle can be acquired again (a new nonce).
    let again = ds.lock_acquire(lock).await.unwrap();
    assert!(ds.lock_is_held(lock).await.unwrap());
    assert_eq!(rig.stored_nonce(KEY), again.nonce);
    assert_eq!(ds.lock_release(lock).await.unwrap(), None);
}

/// `with_lock` holds the lock while the closure runs, returns its value, and releases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_lock_returns_the_value_and_releases() {
    let mut rig = Rig::fake().await;
    let mut ds = rig.open(ALICE, "").await;
    let o = opts(30_000, 1000, 60_000);
    let locked = with_lock(&mut ds, &o, async |ds, held| -> Result<u32, String> {
        let seen = ds.lock_inspect(held.resource()).await.unwrap();
        assert_eq!(seen.map(|i| i.holder), Some(ALICE.holder()));
        assert!(ds.lock_is_held(held.resource()).await.unwrap());
        ds.put_bytes("guarded", b"written under the lock", None)
            .await
            .unwrap();
        Ok(42)
    })
    .await
    .unwrap();
    assert_eq!(locked.value, 42);
    assert_eq!(locked.release_warning, None);
    assert!(rig.stored(KEY).is_none(), "released");
    assert_eq!(rig.gcs().object_names(BUCKET), ["guarded"]);
    let lock = ds.lock(&o).await.unwrap();
    assert!(ds.lock_inspect(lock).await.unwrap().is_none());
}

/// When the closure fails, `with_lock` still releases and hands the error back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_lock_releases_on_error() {
    let mut rig = Rig::fake().await;
    let mut ds = rig.open(ALICE, "").await;
    let o = opts(30_000, 1000, 60_000);
    let r = with_lock(&mut ds, &o, async |ds, held| -> Result<(), String> {
        assert!(ds.lock_is_held(held.resource()).await.unwrap());
        Err("boom".to_string())
    })
    .await;
    match r {
        Err(WithLockError::Work {
            error,
            release_warning,
        }) => {
            assert_eq!(error, "boom");
            assert_eq!(release_warning, None);
        }
        other => panic!("expected the closure's error, got {other:?}"),
    }
    assert!(rig.stored(KEY).is_none(), "released after the error");
    // And when the lock cannot be had, the closure never runs.
    let mut bob = rig.open(BOB, "").await;
    let held_by_bob = bob.lock(&o).await.unwrap();
    bob.lock_acquire(held_by_bob).await.unwrap();
    let mut ran = false;
    let r = with_lock(
        &mut ds,
        &opts(30_000, 50, 300),
        async |_, _| -> Result<(), String> {
            ran = true;
            Ok(())
        },
    )
    .await;
    assert!(matches!(r, Err(WithLockError::Acquire(_))), "{r:?}");
    assert!(!ran);
    assert!(rig.stored_nonce(KEY).is_some(), "bob's lock untouched");
}

/// `force-release` with the holder's nonce deletes the lock (true), then inspect is none;
/// the old holder's release afterwards is quiet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_release_with_the_right_nonce() {
    let mut rig = Rig::fake().await;
    let mut alice = rig.open(ALICE, "").await;
    let mut bob = rig.open(BOB, "").await;
    let o = opts(30_000, 1000, 60_000);
    let a = alice.lock(&o).await.unwrap();
    let info = alice.lock_acquire(a).await.unwrap();
    let b = bob.lock(&o).await.unwrap();
    let nonce = info.nonce.clone().unwrap();
    assert!(bob.lock_force_release(b, &nonce).await.unwrap());
    assert!(bob.lock_inspect(b).await.unwrap().is_none());
    assert!(rig.stored(KEY).is_none());
    assert!(
        !bob.lock_force_release(b, &nonce).await.unwrap(),
        "nothing left to release"
    );
    // Alice's handle still believes it holds (force-release does not reach other
    // instances); its release finds nothing and says nothing.
    assert_eq!(alice.lock_release(a).await.unwrap(), None);
    // Force-releasing one's own acquisition clears the local state.
    alice.lock_acquire(a).await.unwrap();
    let own = alice.lock_inspect(a).await.unwrap().unwrap().nonce.unwrap();
    assert!(alice.lock_force_release(a, &own).await.unwrap());
    assert!(!alice.lock_is_held(a).await.unwrap());
}

/// `force-release` with a wrong nonce is false and the lock stays held (and extendable).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_release_with_a_wrong_nonce() {
    let mut rig = Rig::fake().await;
    let mut alice = rig.open(ALICE, "").await;
    let mut bob = rig.open(BOB, "").await;
    let o = opts(30_000, 1000, 60_000);
    let a = alice.lock(&o).await.unwrap();
    let info = alice.lock_acquire(a).await.unwrap();
    let b = bob.lock(&o).await.unwrap();
    let deletes = rig.count(RequestKind::Delete);
    assert!(!bob
        .lock_force_release(b, "00000000-0000-4000-8000-000000000000")
        .await
        .unwrap());
    assert!(!bob.lock_force_release(b, "").await.unwrap());
    assert_eq!(
        rig.count(RequestKind::Delete),
        deletes,
        "no delete attempted"
    );
    assert_eq!(
        fields_of(&bob.lock_inspect(b).await.unwrap()),
        Some(fields(&info))
    );
    assert!(alice.lock_is_held(a).await.unwrap());
    assert!(alice.lock_extend(a).await.unwrap());
    assert_eq!(rig.stored_nonce(KEY), info.nonce);
    // Nothing to force-release on a free key.
    let free = bob
        .lock(&LockOptions {
            key: Some(".locks/other.lock".into()),
            ..o.clone()
        })
        .await
        .unwrap();
    assert!(!bob.lock_force_release(free, "x").await.unwrap());
}

/// No key means `.datastore.lock`; a key is relative to the configured prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_key_and_prefix() {
    let mut rig = Rig::fake().await;
    let mut ds = rig.open(ALICE, "").await;
    let lock = ds
        .lock(&LockOptions {
            key: None,
            ttl_ms: None,
            retry_interval_ms: None,
            max_wait_ms: None,
        })
        .await
        .unwrap();
    let info = ds.lock_acquire(lock).await.unwrap();
    assert_info(&info, ALICE, 30_000);
    assert_eq!(rig.gcs().object_names(BUCKET), [".datastore.lock"]);
    ds.lock_release(lock).await.unwrap();

    let mut pre = rig.open(BOB, r#""prefix":"team""#).await;
    let lock = pre
        .lock(&LockOptions {
            key: Some("data/model/abc/.lock".into()),
            ..opts(30_000, 1000, 1000)
        })
        .await
        .unwrap();
    pre.lock_acquire(lock).await.unwrap();
    assert_eq!(
        rig.gcs().object_names(BUCKET),
        ["team/data/model/abc/.lock"]
    );
    assert!(pre.lock_inspect(lock).await.unwrap().is_some());
    pre.lock_release(lock).await.unwrap();
    assert!(rig.gcs().object_names(BUCKET).is_empty());
}
