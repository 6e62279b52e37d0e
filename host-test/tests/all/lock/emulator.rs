//! Why no lock test runs on fake-gcs-server 1.54.0 (`docs/gcs.md#emulator-differences`): it honours
//! `ifGenerationMatch=0` on multipart uploads (our create-only write), so one holder at a
//! time is enforced there, but it ignores `ifGenerationMatch` on DELETE. A holder whose
//! lock was taken over would then delete its successor's lock on release. The same
//! sequence runs on both servers; the fake keeps the successor's lock, the emulator
//! deletes it.

use crate::common::{assert_kind, BUCKET};
use crate::lock::support::*;

const SUCCESSOR: &[u8] = br#"{
  "holder": "eve@host-e",
  "hostname": "host-e",
  "pid": 1,
  "acquiredAt": "2026-08-01T10:00:00.000Z",
  "ttlMs": 30000,
  "nonce": "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee"
}"#;

/// What happened on one server.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// A second create-only acquire was refused.
    create_only_honoured: bool,
    /// A delete conditional on a superseded generation left the object alone.
    stale_delete_refused: bool,
    /// A superseded holder's release left the successor's lock alone.
    successor_survives_release: bool,
}

async fn run(mut rig: Rig) -> Outcome {
    let mut alice = rig.open(ALICE, "").await;
    let mut bob = rig.open(BOB, "").await;

    // Create-only: bob cannot acquire what alice holds.
    let a = alice.lock(&opts(30_000, 1000, 60_000)).await.unwrap();
    alice.lock_acquire(a).await.unwrap();
    let b = bob.lock(&opts(30_000, 100, 500)).await.unwrap();
    let create_only_honoured = bob.lock_acquire(b).await.is_err();

    // A delete conditional on a superseded generation.
    let old = bob.stat(KEY).await.unwrap().unwrap().generation;
    assert!(alice.lock_extend(a).await.unwrap());
    let stale_delete_refused = match bob.delete(KEY, Some(&old)).await {
        Ok(deleted) => !deleted,
        Err(e) => {
            assert_eq!(e.kind(), "precondition-failed", "{e}");
            true
        }
    };
    let _ = alice.lock_release(a).await;

    // Alice holds; eve overwrites (takes over); alice releases.
    let a = alice.lock(&opts(30_000, 1000, 60_000)).await.unwrap();
    alice.lock_acquire(a).await.unwrap();
    bob.put_bytes(KEY, SUCCESSOR, None).await.unwrap();
    let _ = alice.lock_release(a).await;
    let successor_survives_release = match bob.get_bytes(KEY).await {
        Ok((bytes, _)) => bytes == SUCCESSOR,
        Err(e) => {
            assert_eq!(e.kind(), "not-found", "{e}");
            false
        }
    };
    Outcome {
        create_only_honoured,
        stale_delete_refused,
        successor_survives_release,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_gcs_server_ignores_delete_preconditions() {
    let fake = run(Rig::fake().await).await;
    assert_eq!(
        fake,
        Outcome {
            create_only_honoured: true,
            stale_delete_refused: true,
            successor_survives_release: true,
        },
        "the in-process fake behaves like GCS"
    );
    let emulator = run(Rig::emulator()).await;
    assert_eq!(
        emulator,
        Outcome {
            create_only_honoured: true,
            stale_delete_refused: false,
            successor_survives_release: false,
        },
        "fake-gcs-server 1.54.0: multipart create-only honoured, DELETE preconditions ignored"
    );
    // Sanity: the refused delete on the fake really left the object in place.
    let mut rig = Rig::fake().await;
    let mut ds = rig.open(ALICE, "").await;
    let first = ds.put_bytes("x", b"1", None).await.unwrap().generation;
    ds.put_bytes("x", b"2", None).await.unwrap();
    assert_kind(
        ds.delete("x", Some(&first)).await,
        "precondition-failed",
        "stale delete",
    );
    assert_eq!(rig.gcs().get_object(BUCKET, "x").unwrap().data, b"2");
}
