//! A resumable upload inside a push, interrupted at every request and every reply (issue
//! 11): the session start, each chunk and the final chunk get a reset before sending, a
//! reply lost after the commit, a body cut after a few bytes (broken or ending cleanly),
//! or a 503 — once, or on every later request for that object. Each push ends either
//! complete (the object holds exactly the bytes sent, the index names it with their
//! sha256, nothing left dirty) or failed with one line naming the file, the path still
//! dirty and the new bytes not stored: never a failed push over a stored object.

use crate::common::*;
use crate::crash::world::*;
use crate::sync::support::*;
use gcs_host::faults::{FaultAction, FaultMatch, FaultRule};
use gcs_host::traffic::RequestKind;

/// Three chunks of 256 KiB, 256 KiB and the rest; the index files stay below the
/// threshold, so only the big file goes resumable.
const CONFIG: &str = r#""resumableThresholdBytes":262144,"resumableChunkBytes":262144,"pushConcurrency":1,"retryMaxAttempts":3"#;

/// The upload requests of the big file, in order, each with the rule that finds it: the
/// session start is the push's first POST (its name travels in the body), the chunks are
/// the PUTs to the session, whose URL names the object.
fn requests() -> [(&'static str, FaultMatch, u32); 4] {
    let start = FaultMatch {
        method: Some("POST".into()),
        ..FaultMatch::kind(RequestKind::Upload)
    };
    let chunks = FaultMatch::kind(RequestKind::Upload).object("file-9.json");
    [
        ("session start", start, 0),
        ("chunk 1", chunks.clone(), 0),
        ("chunk 2", chunks.clone(), 1),
        ("final chunk", chunks, 2),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumable_upload_interrupted_anywhere_completes_or_stays_dirty() {
    let big = file(ALPHA, 9);
    let data = pattern(700 * 1024, 13);
    let actions = [
        FaultAction::ResetBefore,
        FaultAction::ResetAfterCommit,
        FaultAction::Truncate(0),
        FaultAction::Truncate(5),
        FaultAction::ShortBody(0),
        FaultAction::ShortBody(5),
        FaultAction::Status(503),
    ];
    for (request, rule, skip) in requests() {
        for action in &actions {
            for times in [Some(1), None] {
                let what = format!("{action:?} at the {request}, {times:?} times");
                let World { env, cache, .. } = pushed_world(vec![big.clone()]).await;
                let mut ds = env.open(&cache, CONFIG).await;
                ds.mark_dirty(&rel(&big)).await.expect("mark-dirty");
                cache.write(&big, &data);
                env.host
                    .faults
                    .add(FaultRule::new(rule.clone(), action.clone(), times).after(skip));
                let outcome = ds.push(&opts()).await;
                assert!(env.host.faults.fired() > 0, "{what}: the fault fired");
                env.host.faults.clear();
                let stored = bucket_bytes(&env).get(&big).cloned();
                let index = remote_index(&env).expect("the index");
                let s = sidecar(&cache);
                match outcome {
                    Ok(report) => {
                        assert_eq!(report.files, 1, "{what}");
                        assert!(
                            stored.as_ref() == Some(&data),
                            "{what}: stored bytes differ"
                        );
                        assert_eq!(
                            index["entries"][&big]["sha256"],
                            sha256_hex(&data),
                            "{what}"
                        );
                        assert_eq!(s["localDirty"], false, "{what}: {s}");
                    }
                    Err(e) => {
                        let message = e.to_string();
                        assert!(!message.contains('\n'), "{what}: one line: {message}");
                        assert!(message.contains(&big), "{what}: names the file: {message}");
                        assert!(
                            stored.as_ref() != Some(&data),
                            "{what}: the push failed although the object was stored: {message}"
                        );
                        assert!(index["entries"][&big].is_null(), "{what}: {index}");
                        assert_eq!(s["localDirty"], true, "{what}: {s}");
                        assert!(
                            s["dirtyPaths"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .any(|p| p == &big),
                            "{what}: still dirty: {s}"
                        );
                        // The next push completes.
                        env.open(&cache, CONFIG)
                            .await
                            .push(&opts())
                            .await
                            .unwrap_or_else(|e| panic!("{what}: the rerun failed: {e}"));
                        let stored = bucket_bytes(&env).get(&big).cloned();
                        assert!(stored.as_ref() == Some(&data), "{what}: after the rerun");
                    }
                }
                // A single fault is within the retry budget: it never fails the push.
                if times.is_some() {
                    assert_eq!(sidecar(&cache)["localDirty"], false, "{what}");
                }
            }
        }
    }
}
