//! Happy paths and basic error cases of the bucket and single-object endpoints.

mod gcs_support;

use gcs_support::*;
use serde_json::json;

#[tokio::test]
async fn bucket_insert_get_conflict_and_missing() {
    let gcs = start().await;
    let created = send(
        &gcs,
        "POST",
        "/storage/v1/b?project=p",
        &[],
        r#"{"name":"newb"}"#,
    )
    .await;
    assert_eq!(created.status, 200);
    assert_eq!(created.json()["kind"], "storage#bucket");
    assert_eq!(created.json()["name"], "newb");

    let again = send(
        &gcs,
        "POST",
        "/storage/v1/b?project=p",
        &[],
        r#"{"name":"newb"}"#,
    )
    .await;
    assert_eq!((again.status, again.reason().as_str()), (409, "conflict"));

    let fetched = get(&gcs, "/storage/v1/b/newb").await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json()["id"], "newb");
    assert!(fetched.json()["timeCreated"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));

    let missing = get(&gcs, "/storage/v1/b/nope").await;
    assert_eq!(
        (missing.status, missing.reason().as_str()),
        (404, "notFound")
    );

    let no_project = send(&gcs, "POST", "/storage/v1/b", &[], r#"{"name":"other"}"#).await;
    assert_eq!(
        (no_project.status, no_project.reason().as_str()),
        (400, "required")
    );
    let no_name = send(&gcs, "POST", "/storage/v1/b?project=p", &[], "{}").await;
    assert_eq!(
        (no_name.status, no_name.reason().as_str()),
        (400, "required")
    );
}

#[tokio::test]
async fn media_upload_metadata_and_download() {
    let gcs = start().await;
    let data = b"hello world";
    let up = upload(&gcs, "greeting.txt", data, "").await;
    assert_eq!(up.status, 200);
    assert!(up
        .header("x-guploader-uploadid")
        .is_some_and(|id| !id.is_empty()));
    let resource = up.json();
    assert_eq!(resource["kind"], "storage#object");
    assert_eq!(resource["name"], "greeting.txt");
    assert_eq!(resource["bucket"], BUCKET);
    assert_eq!(resource["size"], "11");
    assert_eq!(resource["metageneration"], "1");
    assert_eq!(resource["contentType"], "text/plain");
    assert_eq!(resource["crc32c"], crc32c_b64(data));
    assert_eq!(resource["md5Hash"], md5_b64(data));
    assert!(resource.get("metadata").is_none());
    let generation = generation(&resource);
    assert_eq!(generation.to_string().len(), 16);
    let updated = resource["updated"].as_str().expect("updated");
    assert_eq!(updated.len(), "2024-01-02T03:04:05.678Z".len(), "{updated}");
    assert!(updated.ends_with('Z') && updated.as_bytes()[19] == b'.');

    let meta = get(&gcs, &object_path("greeting.txt")).await;
    assert_eq!(meta.status, 200);
    assert_eq!(meta.json(), resource);

    let media = get(&gcs, &format!("{}?alt=media", object_path("greeting.txt"))).await;
    assert_eq!(media.status, 200);
    assert_eq!(&media.body[..], data);
    assert_eq!(
        media.header("x-goog-generation"),
        Some(generation.to_string().as_str())
    );
    assert_eq!(media.header("x-goog-metageneration"), Some("1"));
    let hash = format!("crc32c={},md5={}", crc32c_b64(data), md5_b64(data));
    assert_eq!(media.header("x-goog-hash"), Some(hash.as_str()));
    assert_eq!(media.header("x-goog-stored-content-length"), Some("11"));
    assert_eq!(media.header("content-length"), Some("11"));
    assert_eq!(media.header("content-type"), Some("text/plain"));

    let stored = gcs.get_object(BUCKET, "greeting.txt").expect("stored");
    assert_eq!(
        (stored.data.as_slice(), stored.generation),
        (&data[..], generation)
    );
    assert_eq!(stored.content_type, "text/plain");

    // The mediaLink form of download works as well.
    let link = resource["mediaLink"].as_str().expect("mediaLink");
    let path = link.strip_prefix(&gcs.endpoint()).expect("same server");
    assert_eq!(&get(&gcs, path).await.body[..], data);
}

#[tokio::test]
async fn range_and_generation_pinned_downloads() {
    let gcs = start().await;
    let generation = gcs.put_object(BUCKET, "r", b"hello world");
    let media = format!("{}?alt=media", object_path("r"));
    let ranged = |range: &'static str| {
        let (gcs, media) = (&gcs, media.clone());
        async move { send(gcs, "GET", &media, &[("range", range)], "").await }
    };

    let part = ranged("bytes=2-4").await;
    assert_eq!((part.status, &part.body[..]), (206, &b"llo"[..]));
    assert_eq!(part.header("content-range"), Some("bytes 2-4/11"));
    assert_eq!(part.header("x-goog-stored-content-length"), Some("11"));
    assert_eq!(&ranged("bytes=6-").await.body[..], b"world");
    assert_eq!(&ranged("bytes=-3").await.body[..], b"rld");
    assert_eq!(ranged("bytes=50-").await.status, 416);

    let pinned = get(&gcs, &format!("{media}&generation={generation}")).await;
    assert_eq!(
        (pinned.status, &pinned.body[..]),
        (200, &b"hello world"[..])
    );
    let old = get(&gcs, &format!("{media}&generation={}", generation - 1)).await;
    assert_eq!((old.status, old.reason().as_str()), (404, "notFound"));
}

#[tokio::test]
async fn overwrite_creates_new_generation() {
    let gcs = start().await;
    let first = generation(&upload(&gcs, "o", b"one", "").await.json());
    let second = upload(&gcs, "o", b"two", "").await.json();
    assert!(generation(&second) > first);
    assert_eq!(second["metageneration"], "1");
    assert_eq!(gcs.get_object(BUCKET, "o").expect("live").data, b"two");
}

#[tokio::test]
async fn multipart_upload_with_metadata_and_hash_validation() {
    let gcs = start().await;
    let data = b"multipart payload";
    let resource = json!({
        "name": "mp.json",
        "contentType": "application/json",
        "metadata": {"owner": "me", "nonce": "42"},
        "crc32c": crc32c_b64(data),
        "md5Hash": md5_b64(data),
    });
    let up = upload_multipart(&gcs, &resource, data, "").await;
    assert_eq!(up.status, 200, "{:?}", up.body);
    assert!(up.header("x-guploader-uploadid").is_some());
    let body = up.json();
    assert_eq!(body["contentType"], "application/json");
    assert_eq!(body["metadata"], json!({"nonce": "42", "owner": "me"}));
    let stored = gcs.get_object(BUCKET, "mp.json").expect("stored");
    assert_eq!(stored.data, data);
    assert_eq!(stored.metadata.get("owner").map(String::as_str), Some("me"));

    let bad_crc = json!({"name": "bad-crc", "crc32c": crc32c_b64(b"other")});
    let resp = upload_multipart(&gcs, &bad_crc, data, "").await;
    assert_eq!((resp.status, resp.reason().as_str()), (400, "invalid"));
    assert!(gcs.get_object(BUCKET, "bad-crc").is_none());

    let bad_md5 = json!({"name": "bad-md5", "md5Hash": md5_b64(b"other")});
    let resp = upload_multipart(&gcs, &bad_md5, data, "").await;
    assert_eq!((resp.status, resp.reason().as_str()), (400, "invalid"));
    assert!(gcs.get_object(BUCKET, "bad-md5").is_none());

    let no_name = upload_multipart(&gcs, &json!({}), data, "").await;
    assert_eq!(
        (no_name.status, no_name.reason().as_str()),
        (400, "required")
    );
}

#[tokio::test]
async fn delete_returns_204_then_404() {
    let gcs = start().await;
    gcs.put_object(BUCKET, "gone", b"x");
    let deleted = send(&gcs, "DELETE", &object_path("gone"), &[], "").await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.body.is_empty());
    assert!(gcs.get_object(BUCKET, "gone").is_none());
    assert_eq!(get(&gcs, &object_path("gone")).await.status, 404);
    let again = send(&gcs, "DELETE", &object_path("gone"), &[], "").await;
    assert_eq!((again.status, again.reason().as_str()), (404, "notFound"));
}

#[tokio::test]
async fn patch_merges_metadata_and_bumps_metageneration() {
    let gcs = start().await;
    let up = upload_multipart(
        &gcs,
        &json!({"name": "p", "metadata": {"a": "1", "b": "2"}}),
        b"x",
        "",
    )
    .await;
    let generation = generation(&up.json());

    let body = r#"{"metadata":{"b":null,"c":"3"}}"#;
    let patched = send(&gcs, "PATCH", &object_path("p"), &[], body).await;
    assert_eq!(patched.status, 200);
    let resource = patched.json();
    assert_eq!(resource["metadata"], json!({"a": "1", "c": "3"}));
    assert_eq!(resource["metageneration"], "2");
    assert_eq!(resource["generation"], generation.to_string());

    let stored = gcs.get_object(BUCKET, "p").expect("live");
    assert_eq!((stored.generation, stored.metageneration), (generation, 2));
    assert_eq!(stored.data, b"x");

    let cleared = send(
        &gcs,
        "PATCH",
        &object_path("p"),
        &[],
        r#"{"metadata":null}"#,
    )
    .await;
    assert!(cleared.json().get("metadata").is_none());
    assert_eq!(cleared.json()["metageneration"], "3");

    let bad = send(&gcs, "PATCH", &object_path("p"), &[], "{not json").await;
    assert_eq!((bad.status, bad.reason().as_str()), (400, "invalid"));
    assert_eq!(
        send(&gcs, "PATCH", &object_path("missing"), &[], "{}")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn fields_filters_object_resources() {
    let gcs = start().await;
    gcs.put_object(BUCKET, "f", b"abc");
    let resp = get(
        &gcs,
        &format!("{}?fields=generation,size", object_path("f")),
    )
    .await;
    let body = resp.json();
    assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{body}");
    assert_eq!(body["size"], "3");
    let bad = get(&gcs, &format!("{}?fields=items(", object_path("f"))).await;
    assert_eq!(bad.status, 400);
}
