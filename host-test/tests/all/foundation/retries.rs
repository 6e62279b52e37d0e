//! The retry policy as seen on the wire (`docs/gcs.md#retries`): transient answers are retried to
//! success, 429 waits at least a second, a 412 is an answer and not retried, a stalled
//! response hits the request deadline, a lost reply to a conditional write is resolved by
//! reading the object back, and a resumable upload resumes after a broken chunk.
//! All against the in-process fake, with faults injected on the host's send path.

use crate::common::*;
use gcs_host::faults::{FaultAction, FaultMatch, FaultRule};
use gcs_host::traffic::{LoggedRequest, RequestKind};
use std::time::{Duration, Instant};

fn of_kind(log: &[LoggedRequest], kind: RequestKind) -> Vec<LoggedRequest> {
    log.iter().filter(|r| r.kind == kind).cloned().collect()
}

/// Two 503s on a download, then the real answer: three downloads, success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_503_twice_then_success() {
    let mut s = Setup::fake("").await;
    let data = pattern(2000, 9);
    s.gcs().put_object(BUCKET, "r/dl", &data);
    s.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Download),
        FaultAction::Status(503),
        Some(2),
    ));
    let (bytes, _) = s.ds.get_bytes("r/dl").await.unwrap();
    assert_eq!(bytes, data);
    let downloads = of_kind(&s.host.traffic.log(), RequestKind::Download);
    let statuses: Vec<u16> = downloads.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 503, 200]);
}

/// A 429 `rateLimitExceeded` on an upload is retried, and not sooner than a second later
/// (GCS allows about one write per second per object), although the configured initial
/// backoff is 20 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_429_waits_a_second_then_succeeds() {
    let mut s = Setup::fake("").await;
    s.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Upload),
        FaultAction::RateLimit,
        Some(1),
    ));
    let start = Instant::now();
    let meta = s.ds.put_bytes("r/hot", b"index v2", None).await.unwrap();
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "retried after only {took:?}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let uploads = of_kind(&s.host.traffic.log(), RequestKind::Upload);
    assert_eq!(
        uploads.iter().map(|r| r.status).collect::<Vec<_>>(),
        [429, 200]
    );
    let stored = s.gcs().get_object(BUCKET, "r/hot").unwrap();
    assert_eq!(stored.data, b"index v2");
    assert_eq!(meta.generation, stored.generation.to_string());
}

/// The fake's own per-object rate limit (not an injected fault) is ridden out as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_rate_limit_is_ridden_out() {
    let mut s = Setup::fake("").await;
    s.gcs()
        .set_write_rate_limit(Some(Duration::from_millis(500)));
    s.ds.put_bytes("r/limited", b"one", None).await.unwrap();
    let meta = s.ds.put_bytes("r/limited", b"two", None).await.unwrap();
    assert_eq!(
        s.gcs().get_object(BUCKET, "r/limited").unwrap().data,
        b"two"
    );
    assert_eq!(meta.size, 3);
    let uploads = of_kind(&s.host.traffic.log(), RequestKind::Upload);
    assert_eq!(
        uploads.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 429, 200]
    );
}

/// A create-only write over an existing object gets 412, which is an answer: exactly one
/// upload request, no retry, no read-back, and the object is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn precondition_412_is_not_retried() {
    let mut s = Setup::fake("").await;
    let generation = s.gcs().put_object(BUCKET, "r/taken", b"first");
    let e = assert_kind(
        s.ds.put_bytes("r/taken", b"second", Some("0")).await,
        "precondition-failed",
        "create-only over an existing object",
    );
    assert!(e.to_string().contains("412"), "{e}");
    let log = s.host.traffic.log();
    assert_eq!(
        log.iter().map(|r| (r.kind, r.status)).collect::<Vec<_>>(),
        [(RequestKind::Upload, 412)],
        "one upload, nothing else: {log:?}"
    );
    let stored = s.gcs().get_object(BUCKET, "r/taken").unwrap();
    assert_eq!(
        (stored.data.as_slice(), stored.generation),
        (&b"first"[..], generation)
    );
}

/// A response that never comes: with requestTimeoutMs 1000 and no retries the call fails
/// with `timeout` after about a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_response_times_out() {
    let mut s = Setup::fake(r#""requestTimeoutMs":1000,"retryMaxAttempts":1"#).await;
    s.gcs().put_object(BUCKET, "r/slow", b"x");
    s.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Metadata),
        FaultAction::Stall,
        None,
    ));
    let start = Instant::now();
    let e = assert_kind(s.ds.stat("r/slow").await, "timeout", "stalled stat");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "took {took:?}"
    );
    assert!(e.to_string().contains("1000 ms"), "{e}");
    assert_eq!(s.count(RequestKind::Metadata), 1);
    assert!(e
        .hint(Default::default())
        .is_some_and(|h| h.contains("requestTimeoutMs")));
}

/// The lost reply: a create-only upload commits on the server but its response is lost.
/// The retry gets 412 for the guest's own write; the guest reads the object back, sees
/// its own content and reports success. The object exists once, with the sent bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_reply_to_conditional_write_is_resolved_by_read_back() {
    let mut s = Setup::fake("").await;
    s.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Upload),
        FaultAction::ResetAfterCommit,
        Some(1),
    ));
    let body = br#"{"holder":"me@host","nonce":"n-1"}"#;
    let meta = s.ds.put_bytes("r/.lock", body, Some("0")).await.unwrap();

    let stored = s.gcs().get_object(BUCKET, "r/.lock").unwrap();
    assert_eq!(stored.data, body);
    assert_eq!(meta.generation, stored.generation.to_string());
    assert_eq!(s.gcs().object_names(BUCKET), ["r/.lock"]);
    let log = s.host.traffic.log();
    assert_eq!(
        log.iter().map(|r| (r.kind, r.status)).collect::<Vec<_>>(),
        [
            (RequestKind::Upload, 0),     // committed, reply lost
            (RequestKind::Upload, 412),   // the retry meets its own write
            (RequestKind::Metadata, 200), // read-back: same content, so it was ours
        ],
        "{log:?}"
    );

    // Someone else's content under the name: the 412 stands.
    s.host.traffic.reset();
    s.gcs().put_object(BUCKET, "r/other", b"someone else");
    s.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Upload),
        FaultAction::ResetBefore,
        Some(1),
    ));
    assert_kind(
        s.ds.put_bytes("r/other", body, Some("0")).await,
        "precondition-failed",
        "create-only over another writer's object after a reset",
    );
    assert_eq!(
        s.gcs().get_object(BUCKET, "r/other").unwrap().data,
        b"someone else"
    );
}

/// A resumable upload of three chunks (256 KiB, 256 KiB, the rest) whose second chunk meets a 503:
/// the guest asks the session what it kept and resumes from there. Against the in-process fake
/// only: fake-gcs-server 1.54.0 finalizes the object on a status query and appends a resent chunk
/// twice (`docs/gcs.md#emulator-differences`), so this protocol cannot be tested against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumable_upload_survives_a_broken_chunk() {
    let mut s = Setup::fake(r#""resumableThresholdBytes":1,"resumableChunkBytes":262144"#).await;
    let data = pattern(700 * 1024, 5);
    s.cache.write("big/blob.bin", &data);
    // Upload requests: the session start, chunk 1, then chunk 2 (the one that breaks).
    s.host.faults.add(
        FaultRule::new(
            FaultMatch::kind(RequestKind::Upload),
            FaultAction::Status(503),
            Some(1),
        )
        .after(2),
    );
    let meta =
        s.ds.put_file("big/blob.bin", "big/blob.bin", None)
            .await
            .unwrap();
    assert_eq!(meta.size, data.len() as u64);
    let stored = s.gcs().get_object(BUCKET, "big/blob.bin").unwrap();
    assert_eq!(stored.data.len(), data.len());
    assert!(stored.data == data, "stored bytes differ");
    assert_eq!(meta.generation, stored.generation.to_string());

    let uploads = of_kind(&s.host.traffic.log(), RequestKind::Upload);
    let statuses: Vec<(String, u16)> = uploads
        .iter()
        .map(|r| (r.method.clone(), r.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("POST".to_string(), 200), // session start
            ("PUT".to_string(), 308),  // chunk 1 kept
            ("PUT".to_string(), 503),  // chunk 2 broken
            ("PUT".to_string(), 308),  // status query: 256 KiB kept
            ("PUT".to_string(), 308),  // chunk 2 again
            ("PUT".to_string(), 200),  // chunk 3, final
        ]
    );
}

/// The same upload, but the server keeps chunk 2 and only its reply is lost: the status
/// query reports 512 KiB kept, so the guest goes straight on to chunk 3 without resending
/// chunk 2, and the object holds each byte exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumable_upload_resumes_after_a_chunk_whose_reply_was_lost() {
    let mut s = Setup::fake(r#""resumableThresholdBytes":1,"resumableChunkBytes":262144"#).await;
    let data = pattern(700 * 1024, 6);
    s.cache.write("big/blob.bin", &data);
    s.host.faults.add(
        FaultRule::new(
            FaultMatch::kind(RequestKind::Upload),
            FaultAction::ResetAfterCommit,
            Some(1),
        )
        .after(2),
    );
    let meta =
        s.ds.put_file("big/blob.bin", "big/blob.bin", None)
            .await
            .unwrap();
    assert_eq!(s.host.faults.fired(), 1);
    let stored = s.gcs().get_object(BUCKET, "big/blob.bin").unwrap();
    assert!(stored.data == data, "stored bytes differ");
    assert_eq!(meta.size, data.len() as u64);
    assert_eq!(meta.generation, stored.generation.to_string());

    // What the server answered (the fake's own log): chunk 2 kept, the status query
    // confirms it, and only chunk 3 follows.
    let ranges: Vec<(String, u16)> = s
        .gcs()
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/upload/"))
        .map(|r| (r.method.clone(), r.status))
        .collect();
    assert_eq!(
        ranges,
        [
            ("POST".to_string(), 200), // session start
            ("PUT".to_string(), 308),  // chunk 1 kept
            ("PUT".to_string(), 308),  // chunk 2 kept, reply lost on the way back
            ("PUT".to_string(), 308),  // status query: 512 KiB kept
            ("PUT".to_string(), 200),  // chunk 3, final
        ]
    );
}
