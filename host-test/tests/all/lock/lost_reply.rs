//! Lost replies: the server commits a lock write but the reply never reaches the guest
//! (`ResetAfterCommit` on the host's send path). The guest must neither believe it lost a
//! race it won nor hold a lock it did not get. Two layers settle it: the client's
//! read-back after an ambiguous conditional write (default retries), and, when that
//! read-back fails too (`retryMaxAttempts: 1` and a broken metadata GET), the lock's own
//! check of the stored nonce.
//!
//! Multipart uploads carry the object name in the body, not the URL, so the fault rules
//! match every upload; in these tests only lock writes are uploads.

use crate::common::BUCKET;
use crate::lock::support::*;
use gcs_host::faults::{FaultAction, FaultMatch, FaultRule};
use gcs_host::traffic::RequestKind;

fn lose_next_upload_reply(rig: &Rig) {
    rig.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Upload),
        FaultAction::ResetAfterCommit,
        Some(1),
    ));
}

fn break_next_metadata_read(rig: &Rig) {
    rig.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Metadata),
        FaultAction::ResetBefore,
        Some(1),
    ));
}

/// Successful uploads the server saw (whatever reached the guest).
fn committed_uploads(rig: &Rig) -> usize {
    rig.gcs()
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/upload/") && r.status == 200)
        .count()
}

/// The create commits, its reply is lost; the retry meets 412 from our own write and the
/// read-back shows our bytes. Acquire succeeds, exactly one object was created, it bears
/// our nonce, and release deletes it (the generation we track is the real one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_reply_on_acquire_write_acquires_exactly_once() {
    let mut rig = Rig::fake().await;
    let mut alice = rig.open(ALICE, "").await;
    let a = alice.lock(&opts(30_000, 1000, 60_000)).await.unwrap();
    lose_next_upload_reply(&rig);
    let info = alice
        .lock_acquire(a)
        .await
        .expect("acquired despite the lost reply");
    assert_eq!(rig.host.faults.fired(), 1);
    assert_eq!(committed_uploads(&rig), 1, "created once");
    assert_eq!(rig.gcs().object_names(BUCKET), [KEY]);
    assert_eq!(rig.stored_nonce(KEY), info.nonce);
    assert!(alice.lock_is_held(a).await.unwrap());
    assert_eq!(
        fields_of(&alice.lock_inspect(a).await.unwrap()),
        Some(fields(&info))
    );
    // Nobody else gets it.
    let mut bob = rig.open(BOB, "").await;
    let b = bob.lock(&opts(30_000, 50, 300)).await.unwrap();
    assert!(bob.lock_acquire(b).await.is_err());
    // The tracked generation is the stored one: extend and release work first time.
    assert!(alice.lock_extend(a).await.unwrap());
    assert_eq!(alice.lock_release(a).await.unwrap(), None);
    assert!(rig.stored(KEY).is_none());
}

/// Same, with no retry and the client's read-back broken: the lock reads the object and
/// recognises its own nonce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_reply_on_acquire_write_settled_by_the_nonce() {
    let mut rig = Rig::fake().await;
    let mut alice = rig.open(ALICE, r#""retryMaxAttempts":1"#).await;
    let a = alice.lock(&opts(30_000, 1000, 60_000)).await.unwrap();
    lose_next_upload_reply(&rig);
    break_next_metadata_read(&rig);
    let info = alice
        .lock_acquire(a)
        .await
        .expect("acquired despite the lost reply");
    assert_eq!(rig.host.faults.fired(), 2, "both faults hit");
    assert_eq!(committed_uploads(&rig), 1, "created once");
    assert_eq!(
        rig.count(RequestKind::Upload),
        1,
        "the nonce settled it without another write"
    );
    assert_eq!(rig.stored_nonce(KEY), info.nonce);
    assert!(alice.lock_is_held(a).await.unwrap());
    assert!(alice.lock_extend(a).await.unwrap());
    assert_eq!(alice.lock_release(a).await.unwrap(), None);
    assert!(rig.stored(KEY).is_none());
}

/// A heartbeat write commits, its reply is lost: extend still reports true, the lock is
/// held at the generation actually stored, and the next extend and the release work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_reply_on_heartbeat_write_keeps_the_lock() {
    let mut rig = Rig::fake().await;
    let mut alice = rig.open(ALICE, "").await;
    let a = alice.lock(&opts(30_000, 1000, 60_000)).await.unwrap();
    let info = alice.lock_acquire(a).await.unwrap();
    let before = rig.gcs().get_object(BUCKET, KEY).unwrap().generation;
    lose_next_upload_reply(&rig);
    assert!(
        alice.lock_extend(a).await.unwrap(),
        "extended despite the lost reply"
    );
    assert_eq!(rig.host.faults.fired(), 1);
    assert!(alice.lock_is_held(a).await.unwrap());
    let after = rig.gcs().get_object(BUCKET, KEY).unwrap().generation;
    assert_ne!(after, before, "the heartbeat landed");
    assert_eq!(rig.stored_nonce(KEY), info.nonce);
    assert!(
        alice.lock_extend(a).await.unwrap(),
        "the next heartbeat works"
    );
    assert_eq!(alice.lock_release(a).await.unwrap(), None);
    assert!(rig.stored(KEY).is_none());
}

/// Same, with no retry and the read-back broken: the lock reads the object, finds the very
/// body it sent, and adopts that generation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_reply_on_heartbeat_write_settled_by_the_nonce() {
    let mut rig = Rig::fake().await;
    let mut alice = rig.open(ALICE, r#""retryMaxAttempts":1"#).await;
    let a = alice.lock(&opts(30_000, 1000, 60_000)).await.unwrap();
    let info = alice.lock_acquire(a).await.unwrap();
    let uploads = rig.count(RequestKind::Upload);
    lose_next_upload_reply(&rig);
    break_next_metadata_read(&rig);
    assert!(
        alice.lock_extend(a).await.unwrap(),
        "extended despite the lost reply"
    );
    assert_eq!(rig.host.faults.fired(), 2);
    assert_eq!(
        rig.count(RequestKind::Upload),
        uploads + 1,
        "no second write"
    );
    assert!(alice.lock_is_held(a).await.unwrap());
    assert_eq!(rig.stored_nonce(KEY), info.nonce);
    assert!(alice.lock_extend(a).await.unwrap());
    assert_eq!(alice.lock_release(a).await.unwrap(), None);
    assert!(rig.stored(KEY).is_none());
}

/// The other half: Bob holds the lock, and the reply to Alice's create-only write is lost
/// (the server answered 412, the guest never saw it). Alice must not come to believe
/// she holds Bob's lock: with the client's read-back she sees Bob's bytes, waits and times
/// out naming Bob; without retries or read-back (`retryMaxAttempts: 1`, the metadata read
/// broken too) the ambiguous write is an error, never a grant. Either way she holds
/// nothing, and Bob's lock is untouched and still his to extend and release.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_reply_against_a_live_holder_never_grants_the_lock() {
    let mut rig = Rig::fake().await;
    let mut bob = rig.open(BOB, "").await;
    let b = bob.lock(&opts(30_000, 1000, 60_000)).await.unwrap();
    let held = bob.lock_acquire(b).await.expect("bob takes the lock");
    let fast_retries = r#""retryInitialDelayMs":10,"retryMaxDelayMs":20"#;
    let mut alice = rig.open(ALICE, fast_retries).await;
    let a = alice.lock(&opts(30_000, 100, 1_500)).await.unwrap();
    // The first reply is lost; the retry's 412 could be our own commit or Bob's lock, and
    // only the read-back can tell.
    lose_next_upload_reply(&rig);
    let e = alice
        .lock_acquire(a)
        .await
        .expect_err("alice must not get a held lock");
    assert!(
        e.to_string().contains(&BOB.holder()),
        "the timeout names the holder: {e}"
    );
    let lost = rig.host.faults.fired();
    assert_eq!(lost, 1, "the first reply was lost");
    assert!(!alice.lock_is_held(a).await.unwrap());
    assert_eq!(rig.stored_nonce(KEY), held.nonce, "bob's lock is untouched");

    let mut carol = rig.open(ALICE, r#""retryMaxAttempts":1"#).await;
    let c = carol.lock(&opts(30_000, 100, 1_500)).await.unwrap();
    lose_next_upload_reply(&rig);
    break_next_metadata_read(&rig);
    assert!(
        carol.lock_acquire(c).await.is_err(),
        "no read-back: no lock"
    );
    assert!(rig.host.faults.fired() > lost, "the reply was lost again");
    assert!(!carol.lock_is_held(c).await.unwrap());
    assert_eq!(rig.stored_nonce(KEY), held.nonce);

    rig.host.faults.clear();
    assert!(bob.lock_extend(b).await.unwrap(), "still bob's");
    assert_eq!(
        alice.lock_release(a).await.unwrap(),
        None,
        "nothing to release"
    );
    assert_eq!(
        carol.lock_release(c).await.unwrap(),
        None,
        "nothing to release"
    );
    assert_eq!(rig.stored_nonce(KEY), held.nonce);
    assert_eq!(bob.lock_release(b).await.unwrap(), None);
    assert!(rig.stored(KEY).is_none());
}
