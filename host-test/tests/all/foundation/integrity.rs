//! Downloads are checked against `x-goog-hash` (and the stored length) before a byte
//! reaches the cache: a corrupted or truncated body is an error and nothing is written,
//! not even a temporary file. Faults are injected on the host's send path, so the server
//! (the in-process fake) stored the object correctly all along.

use crate::common::*;
use gcs_host::faults::{FaultAction, FaultMatch, FaultRule};
use gcs_host::traffic::RequestKind;

const KEY: &str = "data/model/obj.json";

async fn with_object(extra: &str) -> (Setup, Vec<u8>) {
    let s = Setup::fake(extra).await;
    let data = pattern(4096, 3);
    s.gcs().put_object(BUCKET, KEY, &data);
    (s, data)
}

/// Every attempt corrupted: `integrity` after the retry budget, the destination never
/// appears, an existing file is left as it was, and no temporary file remains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_download_on_every_attempt_writes_nothing() {
    let (mut s, _) = with_object(r#""retryMaxAttempts":3"#).await;
    s.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Download),
        FaultAction::Corrupt,
        None,
    ));

    let e = assert_kind(
        s.ds.get_file(KEY, "out/obj.json").await,
        "integrity",
        "corrupted download",
    );
    assert!(e.to_string().contains(KEY), "{e}");
    assert_eq!(
        s.count(RequestKind::Download),
        3,
        "an integrity failure is retried like a transport fault, up to retryMaxAttempts"
    );
    assert!(!s.cache.file("out/obj.json").exists());

    // A file already at the destination keeps its content.
    s.cache.write("keep/obj.json", b"previous content");
    assert_kind(
        s.ds.get_file(KEY, "keep/obj.json").await,
        "integrity",
        "corrupted download over an existing file",
    );
    assert_eq!(s.cache.read("keep/obj.json"), b"previous content");

    assert_kind(
        s.ds.get_bytes(KEY).await,
        "integrity",
        "corrupted get-bytes",
    );
    assert_eq!(
        s.cache.files(),
        ["keep/obj.json"],
        "no destination file and no temporary file in the cache"
    );
    assert_eq!(s.cache.outside_names(), ["cache"]);
}

/// A body cut short (the connection breaks after 100 bytes) is an error on every
/// attempt, and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_download_writes_nothing() {
    let (mut s, _) = with_object(r#""retryMaxAttempts":2"#).await;
    s.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Download),
        FaultAction::Truncate(100),
        None,
    ));
    let e = expect_err(
        s.ds.get_file(KEY, "out/obj.json").await,
        "truncated download",
    );
    // The host breaks the body mid-stream: a transport failure, not a silent short file.
    assert_eq!(e.kind(), "transport", "{e}");
    assert!(e.to_string().contains("cut short"), "{e}");
    assert_eq!(s.count(RequestKind::Download), 2, "retried once");
    assert!(!s.cache.file("out/obj.json").exists());
    assert!(s.cache.files().is_empty(), "{:?}", s.cache.files());
}

/// One corrupted response, then a clean one: the retry succeeds and the right bytes land.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_corrupt_response_is_retried() {
    let (mut s, data) = with_object("").await;
    s.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Download),
        FaultAction::Corrupt,
        Some(1),
    ));
    let meta = s.ds.get_file(KEY, "out/obj.json").await.unwrap();
    assert_eq!(s.cache.read("out/obj.json"), data);
    // The record carries what the server announced with the bytes.
    let stored = s.gcs().get_object(BUCKET, KEY).unwrap();
    assert_eq!(meta.metageneration, stored.metageneration.to_string());
    assert!(meta.crc32c.is_some() && meta.md5_hash.is_some(), "{meta:?}");
    assert_eq!(
        meta.generation,
        s.gcs()
            .get_object(BUCKET, KEY)
            .unwrap()
            .generation
            .to_string()
    );
    assert_eq!(s.count(RequestKind::Download), 2);
    assert_eq!(s.host.faults.fired(), 1);
    assert_eq!(s.cache.files(), ["out/obj.json"]);
}
