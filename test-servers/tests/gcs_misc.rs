//! Rate limiting, object-name encoding, the error envelope, the request log and shutdown.

mod gcs_support;

use std::time::Duration;

use gcs_support::*;
use test_servers::gcs::{FakeGcs, RequestRecord};

#[tokio::test]
async fn write_rate_limit_returns_429_then_recovers() {
    let gcs = start().await;
    assert_eq!(upload(&gcs, "hot", b"1", "").await.status, 200);
    assert_eq!(
        upload(&gcs, "hot", b"2", "").await.status,
        200,
        "limit is off by default"
    );

    gcs.set_write_rate_limit(Some(Duration::from_millis(400)));
    assert_eq!(upload(&gcs, "hot", b"3", "").await.status, 200);
    let limited = upload(&gcs, "hot", b"4", "").await;
    assert_eq!(limited.status, 429);
    let error = &limited.json()["error"];
    assert_eq!(error["code"], 429);
    assert_eq!(error["errors"][0]["reason"], "rateLimitExceeded");
    assert_eq!(error["errors"][0]["domain"], "usageLimits");
    let message = error["message"].as_str().expect("message");
    assert!(
        message.contains("bkt/hot exceeded the rate limit for object mutation"),
        "{message}"
    );

    let patch = send(&gcs, "PATCH", &object_path("hot"), &[], "{}").await;
    assert_eq!(patch.status, 429);
    let delete = send(&gcs, "DELETE", &object_path("hot"), &[], "").await;
    assert_eq!(delete.status, 429);
    assert_eq!(
        upload(&gcs, "cold", b"x", "").await.status,
        200,
        "other names are unaffected"
    );
    assert_eq!(gcs.get_object(BUCKET, "hot").expect("live").data, b"3");

    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(upload(&gcs, "hot", b"5", "").await.status, 200);
    assert_eq!(gcs.get_object(BUCKET, "hot").expect("live").data, b"5");
}

#[tokio::test]
async fn encoded_names_round_trip() {
    let gcs = start().await;
    let names = [
        "a/b/c.txt",
        "user@example.com",
        "with space.txt",
        "ünïcødé/文件 ✓.bin",
        "plus+sign&amp=x?y#z",
        "%41 literal percent",
    ];
    for name in names {
        let up = upload(&gcs, name, name.as_bytes(), "").await;
        assert_eq!(up.status, 200, "{name}");
        assert_eq!(up.json()["name"], name);
        let meta = get(&gcs, &object_path(name)).await;
        assert_eq!(meta.json()["name"], name);
        let media = get(&gcs, &format!("{}?alt=media", object_path(name))).await;
        assert_eq!(&media.body[..], name.as_bytes(), "{name}");
        let self_link = meta.json()["selfLink"]
            .as_str()
            .expect("selfLink")
            .to_owned();
        let path = self_link
            .strip_prefix(&gcs.endpoint())
            .expect("same server");
        assert_eq!(get(&gcs, path).await.json()["name"], name);
    }
    let mut expected: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    expected.sort();
    assert_eq!(gcs.object_names(BUCKET), expected);

    // A raw `/` splits the name across segments, which is not an object path.
    let unencoded = get(&gcs, &format!("/storage/v1/b/{BUCKET}/o/a/b/c.txt")).await;
    assert_eq!(
        (unencoded.status, unencoded.reason().as_str()),
        (404, "notFound")
    );

    // `+` in a query value is a space; `%2B` is a plus.
    let up = send(
        &gcs,
        "POST",
        &format!("/upload/storage/v1/b/{BUCKET}/o?uploadType=media&name=x+y%2Bz"),
        &[],
        "d",
    )
    .await;
    assert_eq!(up.json()["name"], "x y+z");
}

#[tokio::test]
async fn error_envelope_shape() {
    let gcs = start().await;
    let resp = get(&gcs, &object_path("missing")).await;
    assert_eq!(resp.status, 404);
    assert!(resp
        .header("content-type")
        .is_some_and(|ct| ct.starts_with("application/json")));
    let body = resp.json();
    let error = body["error"].as_object().expect("error object");
    assert_eq!(error.len(), 3, "{body}");
    assert_eq!(body["error"]["code"], 404);
    assert_eq!(body["error"]["message"], "No such object: bkt/missing");
    let detail = &body["error"]["errors"][0];
    assert_eq!(detail["message"], "No such object: bkt/missing");
    assert_eq!(detail["domain"], "global");
    assert_eq!(detail["reason"], "notFound");

    for (method, path) in [
        ("GET", "/nowhere"),
        ("PUT", "/storage/v1/b/bkt/o/x"),
        ("GET", "/storage/v1/b/bkt/o/"),
    ] {
        let resp = send(&gcs, method, path, &[], "").await;
        assert_eq!(
            (resp.status, resp.reason().as_str()),
            (404, "notFound"),
            "{method} {path}"
        );
    }
    let bad_utf8 = get(&gcs, "/storage/v1/b/bkt/o/%FF").await;
    assert_eq!(
        (bad_utf8.status, bad_utf8.reason().as_str()),
        (400, "invalid")
    );
    let no_type = send(&gcs, "POST", "/upload/storage/v1/b/bkt/o?name=x", &[], "").await;
    assert_eq!(no_type.status, 400);
    assert!(no_type.header("x-guploader-uploadid").is_some());
    let bad_multipart = send(
        &gcs,
        "POST",
        "/upload/storage/v1/b/bkt/o?uploadType=multipart",
        &[("content-type", "multipart/related; boundary=zz")],
        "--zz\r\nbroken",
    )
    .await;
    assert_eq!(
        (bad_multipart.status, bad_multipart.reason().as_str()),
        (400, "invalid")
    );
}

#[tokio::test]
async fn request_log_records_decoded_paths() {
    let gcs = start().await;
    gcs.put_object(BUCKET, "a/b c", b"x");
    get(&gcs, &format!("{}?alt=media", object_path("a/b c"))).await;
    get(&gcs, &object_path("nope")).await;
    assert_eq!(
        gcs.requests(),
        [
            RequestRecord {
                method: "GET".into(),
                path: "/storage/v1/b/bkt/o/a/b c".into(),
                query: "alt=media".into(),
                status: 200,
            },
            RequestRecord {
                method: "GET".into(),
                path: "/storage/v1/b/bkt/o/nope".into(),
                query: String::new(),
                status: 404,
            },
        ]
    );
    gcs.clear_requests();
    assert!(gcs.requests().is_empty());
}

#[tokio::test]
async fn direct_helpers() {
    let gcs = start().await;
    let generation = gcs.put_object(BUCKET, "x", b"1");
    gcs.set_updated(BUCKET, "x", 1_000);
    let stored = gcs.get_object(BUCKET, "x").expect("live");
    assert_eq!(
        (stored.generation, stored.updated_unix_ms),
        (generation, 1_000)
    );
    let meta = get(&gcs, &object_path("x")).await.json();
    assert_eq!(meta["updated"], "1970-01-01T00:00:01.000Z");
    assert!(gcs.delete_object(BUCKET, "x"));
    assert!(!gcs.delete_object(BUCKET, "x"));
    assert!(gcs.object_names("no-such-bucket").is_empty());
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let gcs = FakeGcs::start().await.expect("starts");
    assert!(gcs.endpoint().starts_with("http://127.0.0.1:"));
    let port = gcs.port();
    drop(gcs);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err());
}
