//! Replies that break off or arrive mangled (issue 11): a write the server accepted is
//! settled by asking the resumable session or reading the object back, never repeated
//! blindly and never reported as failed; a read whose body broke off is a `transport`
//! error whose hint says the server answered; odd GCS error bodies still read as one
//! plain line. All against the in-process fake, faults injected on the host's send path.

use crate::common::*;
use gcs_host::faults::{FaultAction, FaultMatch, FaultRule};
use gcs_host::hints::Target;
use gcs_host::traffic::RequestKind;

/// What the fake itself logged for uploads: (method, status).
fn upload_log(s: &Setup) -> Vec<(String, u16)> {
    s.gcs()
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/upload/"))
        .map(|r| (r.method.clone(), r.status))
        .collect()
}

/// Resumable sessions the fake was asked to start.
fn sessions_started(s: &Setup) -> usize {
    s.gcs()
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/upload/"))
        .count()
}

/// The final answer of a three-chunk resumable upload is committed on the server, then
/// reaches the guest cut short and ending cleanly (as storage-testbench's
/// `return-broken-stream-final-chunk-after-10B` did), cut short with a broken
/// connection, empty, or not at all. Each time the guest asks the session, which answers
/// with the finished object: the call succeeds, one session, one stored generation (the
/// one reported), the right bytes, and no chunk sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumable_final_reply_cut_short_or_lost_is_settled_by_the_session() {
    for action in [
        FaultAction::ShortBody(10),
        FaultAction::ShortBody(0),
        FaultAction::Truncate(10),
        FaultAction::Truncate(0),
        FaultAction::ResetAfterCommit,
    ] {
        let s = Setup::fake(r#""resumableThresholdBytes":1,"resumableChunkBytes":262144"#).await;
        let mut s = s;
        let data = pattern(700 * 1024, 11);
        s.cache.write("big/blob.bin", &data);
        // Upload requests: the session start, chunks 1 and 2, then the final chunk.
        s.host.faults.add(
            FaultRule::new(
                FaultMatch::kind(RequestKind::Upload),
                action.clone(),
                Some(1),
            )
            .after(3),
        );
        let meta =
            s.ds.put_file("big/blob.bin", "big/blob.bin", None)
                .await
                .unwrap_or_else(|e| panic!("{action:?}: {e}"));
        assert_eq!(s.host.faults.fired(), 1, "{action:?}");
        let stored = s.gcs().get_object(BUCKET, "big/blob.bin").unwrap();
        assert!(stored.data == data, "{action:?}: stored bytes differ");
        assert_eq!(meta.generation, stored.generation.to_string(), "{action:?}");
        assert_eq!(meta.size, data.len() as u64, "{action:?}");
        assert_eq!(sessions_started(&s), 1, "{action:?}: one session");
        assert_eq!(
            upload_log(&s),
            [
                ("POST".to_string(), 200), // session start
                ("PUT".to_string(), 308),  // chunk 1
                ("PUT".to_string(), 308),  // chunk 2
                ("PUT".to_string(), 200),  // final chunk: committed, reply mangled
                ("PUT".to_string(), 200),  // status query: the finished object
            ],
            "{action:?}"
        );
    }
}

/// Writes whose success reply breaks off or does not parse: a simple upload (with and
/// without a precondition) is read back, not sent again; a delete is done; a copy is
/// settled by comparing the destination with the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_writes_with_mangled_replies_are_settled_not_repeated() {
    for action in [FaultAction::ShortBody(7), FaultAction::Truncate(7)] {
        for cond in [None, Some("0")] {
            let mut s = Setup::fake("").await;
            s.host.faults.add(FaultRule::new(
                FaultMatch::kind(RequestKind::Upload),
                action.clone(),
                Some(1),
            ));
            let body = br#"{"holder":"me@host","nonce":"n-2"}"#;
            let what = format!("{action:?} {cond:?}");
            let meta =
                s.ds.put_bytes("r/obj", body, cond)
                    .await
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
            let stored = s.gcs().get_object(BUCKET, "r/obj").unwrap();
            assert_eq!(stored.data, body, "{what}");
            assert_eq!(meta.generation, stored.generation.to_string(), "{what}");
            assert_eq!(s.count(RequestKind::Upload), 1, "{what}: not sent again");
            assert_eq!(s.count(RequestKind::Metadata), 1, "{what}: read back once");
        }

        let mut s = Setup::fake("").await;
        s.gcs().put_object(BUCKET, "r/src", b"copy me");
        s.host.faults.add(FaultRule::new(
            FaultMatch::kind(RequestKind::Copy),
            action.clone(),
            Some(1),
        ));
        let meta = s.ds.copy("r/src", "r/dst").await.unwrap();
        let stored = s.gcs().get_object(BUCKET, "r/dst").unwrap();
        assert_eq!(stored.data, b"copy me", "{action:?}");
        assert_eq!(meta.generation, stored.generation.to_string(), "{action:?}");
        assert_eq!(
            s.count(RequestKind::Copy),
            1,
            "{action:?}: the copy was done once"
        );

        let generation = s.gcs().put_object(BUCKET, "r/gone", b"x");
        s.host.faults.add(FaultRule::new(
            FaultMatch::kind(RequestKind::Delete),
            FaultAction::Truncate(0),
            Some(1),
        ));
        let deleted = s.ds.delete("r/gone", Some(&generation.to_string())).await;
        assert!(deleted.unwrap(), "{action:?}: the delete happened");
        assert_eq!(s.count(RequestKind::Delete), 1, "{action:?}: not repeated");
        assert!(s.gcs().get_object(BUCKET, "r/gone").is_none());
    }
}

/// A body cut after N bytes on a download and on a metadata read, on every attempt: a
/// one-line `transport` error of kind body-cut-short with the answer's status, whose
/// hint says the server answered (never "nothing answered … check the network"), and no
/// host backtrace in the message. Once only: retried to success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_cut_after_n_bytes_is_an_honest_transport_error() {
    use gcs_host::bindings::swamp::datastore::types as wit;
    let data = pattern(5000, 3);
    for n in [0, 1, 100, 4999] {
        for kind in [RequestKind::Download, RequestKind::Metadata] {
            let mut s = Setup::fake(r#""retryMaxAttempts":2"#).await;
            s.gcs().put_object(BUCKET, "r/obj", &data);
            s.host.faults.add(FaultRule::new(
                FaultMatch::kind(kind),
                FaultAction::Truncate(n),
                None,
            ));
            let what = format!("{kind:?} cut after {n} bytes");
            let r = match kind {
                RequestKind::Download => s.ds.get_bytes("r/obj").await.map(|_| ()),
                _ => s.ds.stat("r/obj").await.map(|_| ()),
            };
            let e = assert_kind(r, "transport", &what);
            match guest(&e) {
                wit::Error::Transport(f) => {
                    assert_eq!(f.kind, wit::TransportKind::BodyCutShort, "{what}");
                    assert_eq!(f.status, Some(200), "{what}");
                }
                other => panic!("{what}: {other:?}"),
            }
            let message = e.to_string();
            assert!(!message.contains('\n'), "{what}: {message}");
            assert!(message.contains("r/obj"), "{what}: {message}");
            assert!(message.len() < 300, "{what}: a short line: {message}");
            let hint = e
                .hint(Target {
                    endpoint: "http://e",
                    bucket: BUCKET,
                })
                .unwrap();
            assert!(hint.contains("answered (HTTP 200)"), "{what}: {hint}");
            assert!(!hint.contains("nothing answered"), "{what}: {hint}");
            assert_eq!(s.count(kind), 2, "{what}: retried once");

            s.host.faults.clear();
            s.host.faults.add(FaultRule::new(
                FaultMatch::kind(kind),
                FaultAction::Truncate(n),
                Some(1),
            ));
            match kind {
                RequestKind::Download => {
                    assert_eq!(s.ds.get_bytes("r/obj").await.unwrap().0, data, "{what}")
                }
                _ => assert!(s.ds.stat("r/obj").await.unwrap().is_some(), "{what}"),
            }
        }
    }
}

/// GCS error bodies of odd shapes (`code` as a string, `message` as an object, a bare
/// string error, HTML): the error stays one readable line naming the operation and the
/// status once, never `HTTP 503 503`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_error_bodies_give_a_readable_line() {
    let bodies = [
        r#"{"error":{"code":"503","message":"Backend Error"}}"#,
        r#"{"error":{"code":503,"message":{"text":"Backend Error","detail":[1,2]}}}"#,
        r#"{"error":{"code":"503","errors":[{"reason":{"nested":true}}]}}"#,
        r#"{"error":"backend down"}"#,
        "<html><body>503\nService Unavailable</body></html>",
    ];
    for body in bodies {
        let mut s = Setup::fake(r#""retryMaxAttempts":1"#).await;
        s.host.faults.add(FaultRule::new(
            FaultMatch::kind(RequestKind::Metadata),
            FaultAction::Answer(503, body.to_string()),
            None,
        ));
        let e = assert_kind(s.ds.stat("r/obj").await, "remote", body);
        let message = e.to_string();
        assert!(
            message.starts_with("GCS getMetadata r/obj failed: HTTP 503 bodyPreview="),
            "{body}: {message}"
        );
        assert!(!message.contains("503 503"), "{body}: {message}");
        assert!(!message.contains('\n'), "{body}: {message}");
        let hint = e.hint(Target::default()).unwrap();
        assert!(hint.contains("server error (HTTP 503)"), "{body}: {hint}");
    }
}
