//! The lock body is shared with TypeScript clients (`docs/formats.md#lock-body`): a body written by
//! one (the fixture `fixtures/formats/lock-body.json`, exactly `JSON.stringify(body, null,
//! 2)`) is read by `inspect` and stolen when stale; ours has the same fields, order, types
//! and layout, so the TypeScript rules read and steal it.

use crate::common::{assert_kind, guest, BUCKET};
use crate::lock::support::*;
use gcs_host::datastore::message_of;
use serde_json::Value;

const FIXTURE: &str = include_str!("../../../../fixtures/formats/lock-body.json");
const FIELDS: [&str; 6] = ["holder", "hostname", "pid", "acquiredAt", "ttlMs", "nonce"];

/// `inspect` reads a TypeScript client's lock field for field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_lock_is_read_by_inspect() {
    let mut rig = Rig::fake().await;
    rig.gcs().put_object(BUCKET, KEY, FIXTURE.as_bytes());
    let mut bob = rig.open(BOB, "").await;
    let b = bob.lock(&opts(30_000, 1000, 60_000)).await.unwrap();
    let info = bob.lock_inspect(b).await.unwrap().expect("a lock");
    assert_eq!(info.holder, "alice@build-7");
    assert_eq!(info.hostname, "build-7");
    assert_eq!(info.pid, 12345);
    assert_eq!(info.acquired_at, "2026-08-01T10:00:00.000Z");
    assert_eq!(info.ttl_ms, 30_000);
    assert_eq!(
        info.nonce.as_deref(),
        Some("a1b2c3d4-e5f6-4890-abcd-ef1234567890")
    );
    // Its nonce works for force-release, a wrong one does not.
    assert!(!bob.lock_force_release(b, "nope").await.unwrap());
    assert!(bob
        .lock_force_release(b, "a1b2c3d4-e5f6-4890-abcd-ef1234567890")
        .await
        .unwrap());
    assert!(rig.stored(KEY).is_none());
}

/// A TypeScript lock blocks us while fresh (staleness is judged from the object's
/// `updated` time and the body's `ttlMs`, not from `acquiredAt`) and is stolen once stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_lock_is_stolen_when_stale() {
    let mut rig = Rig::fake().await;
    rig.gcs().put_object(BUCKET, KEY, FIXTURE.as_bytes());
    let mut bob = rig.open(BOB, "").await;
    // Fresh: its acquiredAt is old, but the object was just written.
    let b = bob.lock(&opts(30_000, 100, 600)).await.unwrap();
    let e = assert_kind(bob.lock_acquire(b).await, "lock-timeout", "fresh TS lock");
    let msg = message_of(guest(&e));
    assert!(msg.contains("held by alice@build-7 (pid 12345)"), "{msg}");
    assert_eq!(rig.stored(KEY).unwrap(), FIXTURE.as_bytes());
    // Stale by the holder's TTL (30 s), although ours would be longer.
    rig.backdate(KEY, 31_000);
    let b = bob.lock(&opts(120_000, 100, 10_000)).await.unwrap();
    let won = bob.lock_acquire(b).await.unwrap();
    assert_info(&won, BOB, 120_000);
    assert_eq!(rig.stored_nonce(KEY), won.nonce);
}

/// Our stored bytes parse as the TypeScript body: the same six fields in the same order,
/// the same JSON types, and byte-identical to `JSON.stringify(body, null, 2)` (which
/// serde_json's pretty printer reproduces for this shape).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_lock_body_has_the_typescript_format() {
    let mut rig = Rig::fake().await;
    let mut alice = rig.open(ALICE, "").await;
    let a = alice.lock(&opts(45_000, 1000, 60_000)).await.unwrap();
    let info = alice.lock_acquire(a).await.unwrap();

    let check = |bytes: &[u8]| {
        let text = std::str::from_utf8(bytes).expect("UTF-8");
        let v: Value = serde_json::from_str(text).expect("JSON");
        let obj = v.as_object().expect("an object");
        assert_eq!(obj.keys().map(String::as_str).collect::<Vec<_>>(), FIELDS);
        assert_eq!(
            serde_json::to_string_pretty(&v).unwrap(),
            text,
            "2-space pretty, no newline"
        );
        v
    };
    let fixture = check(FIXTURE.as_bytes());
    let ours = check(&rig.stored(KEY).unwrap());
    for f in FIELDS {
        let kind = |v: &Value| match v {
            Value::String(_) => "string",
            Value::Number(n) if n.is_u64() => "integer",
            other => panic!("{f}: unexpected {other}"),
        };
        assert_eq!(kind(&ours[f]), kind(&fixture[f]), "{f}");
    }
    assert_eq!(ours["holder"], "alice@host-a");
    assert_eq!(ours["hostname"], "host-a");
    assert_eq!(ours["pid"], 4242);
    assert_eq!(ours["ttlMs"], 45_000);
    assert_eq!(ours["acquiredAt"], info.acquired_at.as_str());
    assert_eq!(ours["nonce"], info.nonce.as_deref().unwrap());

    // A heartbeat keeps the format and the nonce, and moves acquiredAt forward.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert!(alice.lock_extend(a).await.unwrap());
    let beat = check(&rig.stored(KEY).unwrap());
    assert_eq!(beat["nonce"], ours["nonce"]);
    let t = |v: &Value| parse_iso_ms(v["acquiredAt"].as_str().unwrap()).unwrap();
    assert!(
        t(&beat) > t(&ours),
        "{} then {}",
        ours["acquiredAt"],
        beat["acquiredAt"]
    );

    // Read by the TypeScript rules (`updated` + body `ttlMs`): live now, stale once the
    // object is older than 45 s, and then another instance steals it.
    let mut bob = rig.open(BOB, "").await;
    rig.backdate(KEY, 40_000);
    let b = bob.lock(&opts(30_000, 50, 300)).await.unwrap();
    assert_kind(
        bob.lock_acquire(b).await,
        "lock-timeout",
        "stale by bob's TTL, not alice's",
    );
    rig.backdate(KEY, 46_000);
    let b = bob.lock(&opts(30_000, 50, 10_000)).await.unwrap();
    let won = bob.lock_acquire(b).await.unwrap();
    assert_eq!(rig.stored_nonce(KEY), won.nonce);
    assert!(!alice.lock_extend(a).await.unwrap());
}
