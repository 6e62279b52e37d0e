//! Resumable uploads: chunking, status queries, resends, hashes, preconditions, cancel.

mod gcs_support;

use gcs_support::*;
use serde_json::{json, Value};
use test_servers::gcs::FakeGcs;

/// Initiates a session and returns the session path (the `Location` minus the endpoint).
async fn initiate(
    gcs: &FakeGcs,
    resource: &Value,
    query: &str,
    headers: &[(&str, &str)],
) -> String {
    let path = format!("/upload/storage/v1/b/{BUCKET}/o?uploadType=resumable{query}");
    let resp = send(gcs, "POST", &path, headers, resource.to_string()).await;
    assert_eq!(resp.status, 200, "{:?}", resp.body);
    assert!(resp.header("x-guploader-uploadid").is_some());
    let location = resp.header("location").expect("Location header");
    location
        .strip_prefix(&gcs.endpoint())
        .unwrap_or_else(|| panic!("session URI {location} is not on this server"))
        .to_owned()
}

async fn put(
    gcs: &FakeGcs,
    session: &str,
    range: &str,
    body: &[u8],
    extra: &[(&str, &str)],
) -> Resp {
    let mut headers = vec![("content-range", range)];
    headers.extend_from_slice(extra);
    send(gcs, "PUT", session, &headers, body.to_vec()).await
}

#[tokio::test]
async fn multi_chunk_upload_with_status_queries_and_a_resent_chunk() {
    let gcs = start().await;
    let data = pattern(2 * KIB256 + 1000);
    let total = data.len();
    let session = initiate(
        &gcs,
        &json!({"name": "big.bin", "metadata": {"k": "v"}}),
        "",
        &[],
    )
    .await;

    let status = put(&gcs, &session, "bytes */*", b"", &[]).await;
    assert_eq!(status.status, 308);
    assert_eq!(status.header("range"), None, "nothing persisted yet");

    let first = put(
        &gcs,
        &session,
        &format!("bytes 0-{}/*", KIB256 - 1),
        &data[..KIB256],
        &[],
    )
    .await;
    assert_eq!(first.status, 308);
    assert_eq!(first.header("range"), Some("bytes=0-262143"));

    let status = put(&gcs, &session, &format!("bytes */{total}"), b"", &[]).await;
    assert_eq!(
        (status.status, status.header("range")),
        (308, Some("bytes=0-262143"))
    );

    // A client unsure whether chunk 1 landed sends it again: no duplication.
    let resent = put(
        &gcs,
        &session,
        &format!("bytes 0-{}/*", KIB256 - 1),
        &data[..KIB256],
        &[],
    )
    .await;
    assert_eq!(
        (resent.status, resent.header("range")),
        (308, Some("bytes=0-262143"))
    );

    let second = put(
        &gcs,
        &session,
        &format!("bytes {KIB256}-{}/*", 2 * KIB256 - 1),
        &data[KIB256..2 * KIB256],
        &[],
    )
    .await;
    assert_eq!(
        (second.status, second.header("range")),
        (308, Some("bytes=0-524287"))
    );
    assert!(
        gcs.get_object(BUCKET, "big.bin").is_none(),
        "nothing visible before finalize"
    );

    let last = put(
        &gcs,
        &session,
        &format!("bytes {}-{}/{total}", 2 * KIB256, total - 1),
        &data[2 * KIB256..],
        &[],
    )
    .await;
    assert_eq!(last.status, 200, "{:?}", last.body);
    let resource = last.json();
    assert_eq!(resource["size"], total.to_string());
    assert_eq!(resource["crc32c"], crc32c_b64(&data));
    assert_eq!(resource["metadata"]["k"], "v");
    let stored = gcs.get_object(BUCKET, "big.bin").expect("committed");
    assert_eq!(stored.data, data);

    // Querying a finished session returns the object, not a new upload.
    let after = put(&gcs, &session, "bytes */*", b"", &[]).await;
    assert_eq!(after.status, 200);
    assert_eq!(after.json()["generation"], resource["generation"]);
}

#[tokio::test]
async fn overlapping_chunk_skips_persisted_bytes() {
    let gcs = start().await;
    let data = pattern(3 * KIB256);
    let session = initiate(&gcs, &json!({}), "&name=overlap", &[]).await;
    put(
        &gcs,
        &session,
        &format!("bytes 0-{}/*", KIB256 - 1),
        &data[..KIB256],
        &[],
    )
    .await;
    // Resend from 0 but covering everything: only the new tail is appended.
    let all = put(
        &gcs,
        &session,
        &format!("bytes 0-{}/{}", data.len() - 1, data.len()),
        &data,
        &[],
    )
    .await;
    assert_eq!(all.status, 200, "{:?}", all.body);
    assert_eq!(
        gcs.get_object(BUCKET, "overlap").expect("stored").data,
        data
    );
}

#[tokio::test]
async fn protocol_violations_are_400() {
    let gcs = start().await;
    let data = pattern(2 * KIB256);
    let session = initiate(&gcs, &json!({"name": "v"}), "", &[]).await;

    let gap = put(
        &gcs,
        &session,
        &format!("bytes {KIB256}-{}/*", 2 * KIB256 - 1),
        &data[KIB256..],
        &[],
    )
    .await;
    assert_eq!((gap.status, gap.reason().as_str()), (400, "invalid"));

    let odd = put(&gcs, &session, "bytes 0-999/*", &data[..1000], &[]).await;
    assert_eq!((odd.status, odd.reason().as_str()), (400, "invalid"));

    let mismatch = put(&gcs, &session, "bytes 0-9/*", &data[..5], &[]).await;
    assert_eq!(mismatch.status, 400);
    let garbage = put(&gcs, &session, "lines 1-2", b"", &[]).await;
    assert_eq!(garbage.status, 400);
    let beyond_total = put(&gcs, &session, "bytes 0-9/5", &data[..10], &[]).await;
    assert_eq!(beyond_total.status, 400);

    // The session survived all of that, including the bogus total.
    let status = put(&gcs, &session, "bytes */*", b"", &[]).await;
    assert_eq!((status.status, status.header("range")), (308, None));
    let whole = put(&gcs, &session, "bytes 0-9/10", &data[..10], &[]).await;
    assert_eq!(whole.status, 200, "{:?}", whole.body);
}

#[tokio::test]
async fn final_hash_mismatch_is_400_and_commits_nothing() {
    let gcs = start().await;
    let data = b"resumable content";
    let session = initiate(&gcs, &json!({"name": "h"}), "", &[]).await;
    let wrong = format!("crc32c={}", crc32c_b64(b"something else"));
    let resp = put(
        &gcs,
        &session,
        "bytes 0-16/17",
        data,
        &[("x-goog-hash", &wrong)],
    )
    .await;
    assert_eq!((resp.status, resp.reason().as_str()), (400, "invalid"));
    assert!(gcs.get_object(BUCKET, "h").is_none());

    let session = initiate(&gcs, &json!({"name": "h"}), "", &[]).await;
    let right = format!("crc32c={},md5={}", crc32c_b64(data), md5_b64(data));
    let resp = put(
        &gcs,
        &session,
        "bytes 0-16/17",
        data,
        &[("x-goog-hash", &right)],
    )
    .await;
    assert_eq!(resp.status, 200);
    assert_eq!(gcs.get_object(BUCKET, "h").expect("stored").data, data);
}

#[tokio::test]
async fn hash_declared_in_initiating_resource_is_checked() {
    let gcs = start().await;
    let resource = json!({"name": "decl", "md5Hash": md5_b64(b"expected")});
    let session = initiate(&gcs, &resource, "", &[]).await;
    let resp = put(&gcs, &session, "bytes 0-5/6", b"actual", &[]).await;
    assert_eq!((resp.status, resp.reason().as_str()), (400, "invalid"));
    assert!(gcs.get_object(BUCKET, "decl").is_none());

    let header = format!("crc32c={}", crc32c_b64(b"expected"));
    let session = initiate(
        &gcs,
        &json!({"name": "decl"}),
        "",
        &[("x-goog-hash", &header)],
    )
    .await;
    let resp = put(&gcs, &session, "bytes 0-5/6", b"actual", &[]).await;
    assert_eq!((resp.status, resp.reason().as_str()), (400, "invalid"));
    assert!(gcs.get_object(BUCKET, "decl").is_none());
    // The failed session replays its error instead of accepting a retry.
    let retry = put(&gcs, &session, "bytes */*", b"", &[]).await;
    assert_eq!(retry.status, 400);
}

#[tokio::test]
async fn precondition_is_checked_at_finalize() {
    let gcs = start().await;
    let session = initiate(&gcs, &json!({"name": "lock"}), "&ifGenerationMatch=0", &[]).await;
    // Someone else creates the object after the session was opened.
    let theirs = gcs.put_object(BUCKET, "lock", b"theirs");
    let resp = put(&gcs, &session, "bytes 0-3/4", b"mine", &[]).await;
    assert_eq!(
        (resp.status, resp.reason().as_str()),
        (412, "conditionNotMet")
    );
    let stored = gcs.get_object(BUCKET, "lock").expect("theirs");
    assert_eq!(
        (stored.data.as_slice(), stored.generation),
        (&b"theirs"[..], theirs)
    );

    let fresh = initiate(
        &gcs,
        &json!({"name": "new-lock"}),
        "&ifGenerationMatch=0",
        &[],
    )
    .await;
    assert_eq!(
        put(&gcs, &fresh, "bytes 0-3/4", b"mine", &[]).await.status,
        200
    );
}

#[tokio::test]
async fn unknown_total_finishes_with_a_sized_status_query() {
    let gcs = start().await;
    let data = pattern(KIB256);
    let session = initiate(
        &gcs,
        &json!({"name": "stream"}),
        "",
        &[("x-upload-content-type", "text/csv")],
    )
    .await;
    let chunk = put(
        &gcs,
        &session,
        &format!("bytes 0-{}/*", KIB256 - 1),
        &data,
        &[],
    )
    .await;
    assert_eq!(chunk.status, 308);
    let done = put(&gcs, &session, &format!("bytes */{KIB256}"), b"", &[]).await;
    assert_eq!(done.status, 200);
    assert_eq!(done.json()["contentType"], "text/csv");
    assert_eq!(gcs.get_object(BUCKET, "stream").expect("stored").data, data);
}

#[tokio::test]
async fn single_put_and_declared_length() {
    let gcs = start().await;
    let session = initiate(
        &gcs,
        &json!({"name": "one"}),
        "",
        &[("x-upload-content-length", "5")],
    )
    .await;
    let wrong_total = put(&gcs, &session, "bytes 0-3/4", b"abcd", &[]).await;
    assert_eq!(wrong_total.status, 400);
    let whole = send(&gcs, "PUT", &session, &[], "abcde").await;
    assert_eq!(whole.status, 200);
    assert_eq!(
        gcs.get_object(BUCKET, "one").expect("stored").data,
        b"abcde"
    );
}

#[tokio::test]
async fn cancel_and_unknown_sessions() {
    let gcs = start().await;
    let session = initiate(&gcs, &json!({"name": "c"}), "", &[]).await;
    let cancelled = send(&gcs, "DELETE", &session, &[], "").await;
    assert_eq!(cancelled.status, 499);
    let after = put(&gcs, &session, "bytes */*", b"", &[]).await;
    assert_eq!((after.status, after.reason().as_str()), (404, "notFound"));

    let unknown = format!("/upload/storage/v1/b/{BUCKET}/o?uploadType=resumable&upload_id=nope");
    assert_eq!(put(&gcs, &unknown, "bytes */*", b"", &[]).await.status, 404);

    let no_bucket = send(
        &gcs,
        "POST",
        "/upload/storage/v1/b/nope/o?uploadType=resumable&name=x",
        &[],
        "",
    )
    .await;
    assert_eq!(no_bucket.status, 404);
}
