//! Rewrite with emulated partial progress, and single-shot copy.

mod gcs_support;

use gcs_support::*;
use serde_json::json;

const MIB: usize = 1024 * 1024;

fn rewrite_path(src: &str, dst: &str, query: &str) -> String {
    format!(
        "/storage/v1/b/{BUCKET}/o/{}/rewriteTo/b/{BUCKET}/o/{}?{query}",
        enc(src),
        enc(dst)
    )
}

#[tokio::test]
async fn rewrite_loops_until_done() {
    let gcs = start().await;
    let data = pattern(2 * MIB + MIB / 2);
    let source_generation = gcs.put_object(BUCKET, "src/a b", &data);
    let query = "maxBytesRewrittenPerCall=1048576";

    let first = send(
        &gcs,
        "POST",
        &rewrite_path("src/a b", "dst/c", query),
        &[],
        "",
    )
    .await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let body = first.json();
    assert_eq!(body["kind"], "storage#rewriteResponse");
    assert_eq!(body["done"], false);
    assert_eq!(body["totalBytesRewritten"], "1048576");
    assert_eq!(body["objectSize"], data.len().to_string());
    assert!(body.get("resource").is_none());
    assert!(
        gcs.get_object(BUCKET, "dst/c").is_none(),
        "destination appears only when done"
    );

    let mut token = body["rewriteToken"].as_str().expect("token").to_owned();
    let mut calls = 1;
    let done = loop {
        let q = format!("{query}&rewriteToken={}", enc(&token));
        let body = send(&gcs, "POST", &rewrite_path("src/a b", "dst/c", &q), &[], "")
            .await
            .json();
        calls += 1;
        if body["done"] == true {
            break body;
        }
        assert_eq!(body["totalBytesRewritten"], (calls * MIB).to_string());
        token = body["rewriteToken"].as_str().expect("token").to_owned();
    };
    assert_eq!(calls, 3);
    assert_eq!(done["totalBytesRewritten"], data.len().to_string());
    assert_eq!(done["resource"]["name"], "dst/c");
    let stored = gcs.get_object(BUCKET, "dst/c").expect("destination");
    assert_eq!(stored.data, data);
    assert_ne!(stored.generation, source_generation);

    // A finished token is spent.
    let q = format!("{query}&rewriteToken={}", enc(&token));
    let reused = send(&gcs, "POST", &rewrite_path("src/a b", "dst/c", &q), &[], "").await;
    assert_eq!((reused.status, reused.reason().as_str()), (400, "invalid"));
}

#[tokio::test]
async fn rewrite_chunk_is_configurable() {
    let gcs = start().await;
    gcs.put_object(BUCKET, "s", &pattern(3 * MIB));
    gcs.set_rewrite_chunk(0);
    let body = send(&gcs, "POST", &rewrite_path("s", "d", ""), &[], "")
        .await
        .json();
    assert_eq!(body["done"], true);

    gcs.set_rewrite_chunk(2 * MIB as u64);
    let body = send(&gcs, "POST", &rewrite_path("s", "d2", ""), &[], "")
        .await
        .json();
    assert_eq!(
        (body["done"].clone(), body["totalBytesRewritten"].clone()),
        (json!(false), json!("2097152"))
    );
}

#[tokio::test]
async fn rewrite_errors() {
    let gcs = start().await;
    gcs.put_object(BUCKET, "s", b"small");
    let existing = gcs.put_object(BUCKET, "d", b"taken");

    let create_only = send(
        &gcs,
        "POST",
        &rewrite_path("s", "d", "ifGenerationMatch=0"),
        &[],
        "",
    )
    .await;
    assert_eq!(
        (create_only.status, create_only.reason().as_str()),
        (412, "conditionNotMet")
    );
    assert_eq!(
        gcs.get_object(BUCKET, "d").expect("kept").generation,
        existing
    );

    let odd = send(
        &gcs,
        "POST",
        &rewrite_path("s", "x", "maxBytesRewrittenPerCall=1000"),
        &[],
        "",
    )
    .await;
    assert_eq!((odd.status, odd.reason().as_str()), (400, "invalid"));
    let bad_token = send(
        &gcs,
        "POST",
        &rewrite_path("s", "x", "rewriteToken=bogus"),
        &[],
        "",
    )
    .await;
    assert_eq!(bad_token.status, 400);
    let missing = send(&gcs, "POST", &rewrite_path("nope", "x", ""), &[], "").await;
    assert_eq!(
        (missing.status, missing.reason().as_str()),
        (404, "notFound")
    );

    let ok = send(
        &gcs,
        "POST",
        &rewrite_path("s", "d", &format!("ifGenerationMatch={existing}")),
        &[],
        "",
    )
    .await;
    assert_eq!(ok.json()["done"], true);
    assert_eq!(
        gcs.get_object(BUCKET, "d").expect("replaced").data,
        b"small"
    );
}

#[tokio::test]
async fn copy_is_single_shot_and_honours_conditions() {
    let gcs = start().await;
    let up = upload_multipart(
        &gcs,
        &json!({"name": "orig", "metadata": {"k": "v"}, "contentType": "text/x"}),
        b"payload",
        "",
    )
    .await;
    assert_eq!(up.status, 200);
    let path = |dst: &str, q: &str| {
        format!(
            "/storage/v1/b/{BUCKET}/o/orig/copyTo/b/{BUCKET}/o/{}?{q}",
            enc(dst)
        )
    };
    let copied = send(
        &gcs,
        "POST",
        &path("copy/1", "ifGenerationMatch=0"),
        &[],
        "",
    )
    .await;
    assert_eq!(copied.status, 200, "{:?}", copied.body);
    let resource = copied.json();
    assert_eq!(
        (resource["name"].clone(), resource["contentType"].clone()),
        (json!("copy/1"), json!("text/x"))
    );
    assert_eq!(resource["metadata"], json!({"k": "v"}));
    assert_eq!(
        gcs.get_object(BUCKET, "copy/1").expect("copied").data,
        b"payload"
    );

    let again = send(
        &gcs,
        "POST",
        &path("copy/1", "ifGenerationMatch=0"),
        &[],
        "",
    )
    .await;
    assert_eq!(again.status, 412);

    let overridden = send(
        &gcs,
        "POST",
        &path("copy/2", ""),
        &[],
        r#"{"metadata":{"z":"1"}}"#,
    )
    .await;
    assert_eq!(overridden.json()["metadata"], json!({"z": "1"}));

    let src_cond = send(
        &gcs,
        "POST",
        &path("copy/3", "ifSourceGenerationMatch=1"),
        &[],
        "",
    )
    .await;
    assert_eq!(src_cond.status, 412);
}
