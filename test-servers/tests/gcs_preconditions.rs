//! Every precondition rule, on uploads, reads, deletes and patches, plus the create-only race.

mod gcs_support;

use gcs_support::*;
use std::sync::Arc;

use serde_json::json;
use tokio::task::JoinSet;

#[tokio::test]
async fn create_only_fails_on_existing_object_for_every_upload_type() {
    let gcs = start().await;
    let first = upload(&gcs, "lock", b"owner-1", "&ifGenerationMatch=0").await;
    assert_eq!(first.status, 200);

    let media = upload(&gcs, "lock", b"owner-2", "&ifGenerationMatch=0").await;
    assert_eq!(
        (media.status, media.reason().as_str()),
        (412, "conditionNotMet")
    );
    let multi = upload_multipart(
        &gcs,
        &json!({"name": "lock"}),
        b"owner-3",
        "&ifGenerationMatch=0",
    )
    .await;
    assert_eq!(
        (multi.status, multi.reason().as_str()),
        (412, "conditionNotMet")
    );
    assert_eq!(
        gcs.get_object(BUCKET, "lock").expect("kept").data,
        b"owner-1"
    );
}

#[tokio::test]
async fn compare_and_swap_on_generation() {
    let gcs = start().await;
    let g1 = gcs.put_object(BUCKET, "index", b"v1");
    let swapped = upload(&gcs, "index", b"v2", &format!("&ifGenerationMatch={g1}")).await;
    assert_eq!(swapped.status, 200);
    let g2 = generation(&swapped.json());
    assert_ne!(g1, g2);

    let stale = upload(&gcs, "index", b"v3", &format!("&ifGenerationMatch={g1}")).await;
    assert_eq!(
        (stale.status, stale.reason().as_str()),
        (412, "conditionNotMet")
    );
    let stored = gcs.get_object(BUCKET, "index").expect("live");
    assert_eq!(
        (stored.data.as_slice(), stored.generation),
        (&b"v2"[..], g2)
    );

    let on_missing = upload(&gcs, "absent", b"x", &format!("&ifGenerationMatch={g2}")).await;
    assert_eq!(on_missing.status, 412);
    assert!(gcs.get_object(BUCKET, "absent").is_none());
}

#[tokio::test]
async fn not_match_and_metageneration_conditions_on_uploads() {
    let gcs = start().await;
    let g = gcs.put_object(BUCKET, "o", b"x");
    let same = upload(&gcs, "o", b"y", &format!("&ifGenerationNotMatch={g}")).await;
    assert_eq!(
        (same.status, same.reason().as_str()),
        (412, "conditionNotMet")
    );
    let other = upload(&gcs, "o", b"y", &format!("&ifGenerationNotMatch={}", g + 1)).await;
    assert_eq!(other.status, 200);

    // "NotMatch" on a missing object fails: ifGenerationNotMatch=0 means "must exist".
    let must_exist = upload(&gcs, "missing", b"y", "&ifGenerationNotMatch=0").await;
    assert_eq!(must_exist.status, 412);

    let meta_ok = upload(&gcs, "o", b"z", "&ifMetagenerationMatch=1").await;
    assert_eq!(meta_ok.status, 200);
    let meta_bad = upload(&gcs, "o", b"w", "&ifMetagenerationMatch=2").await;
    assert_eq!(meta_bad.status, 412);
    let meta_missing = upload(&gcs, "missing", b"w", "&ifMetagenerationMatch=1").await;
    assert_eq!(meta_missing.status, 412);
    assert_eq!(gcs.get_object(BUCKET, "o").expect("live").data, b"z");
}

#[tokio::test]
async fn reads_answer_304_for_not_match_and_412_for_match() {
    let gcs = start().await;
    let g = gcs.put_object(BUCKET, "r", b"data");
    let meta = object_path("r");
    let media = format!("{meta}?alt=media");

    let not_modified = get(&gcs, &format!("{meta}?ifGenerationNotMatch={g}")).await;
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    assert_eq!(
        get(&gcs, &format!("{meta}?ifMetagenerationNotMatch=1"))
            .await
            .status,
        304
    );
    assert_eq!(
        get(&gcs, &format!("{media}&ifGenerationNotMatch={g}"))
            .await
            .status,
        304
    );

    let stale = get(&gcs, &format!("{meta}?ifGenerationMatch={}", g - 1)).await;
    assert_eq!(
        (stale.status, stale.reason().as_str()),
        (412, "conditionNotMet")
    );
    assert_eq!(
        get(&gcs, &format!("{media}&ifMetagenerationMatch=7"))
            .await
            .status,
        412
    );

    let fresh = get(
        &gcs,
        &format!(
            "{media}&ifGenerationMatch={g}&ifGenerationNotMatch={}",
            g + 1
        ),
    )
    .await;
    assert_eq!((fresh.status, &fresh.body[..]), (200, &b"data"[..]));
    assert_eq!(
        get(&gcs, &format!("{meta}?ifMetagenerationMatch=1"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn delete_with_wrong_generation_keeps_the_object() {
    let gcs = start().await;
    let g = gcs.put_object(BUCKET, "d", b"keep me");
    let wrong = send(
        &gcs,
        "DELETE",
        &format!("{}?ifGenerationMatch={}", object_path("d"), g + 1),
        &[],
        "",
    )
    .await;
    assert_eq!(
        (wrong.status, wrong.reason().as_str()),
        (412, "conditionNotMet")
    );
    let not_match = send(
        &gcs,
        "DELETE",
        &format!("{}?ifGenerationNotMatch={g}", object_path("d")),
        &[],
        "",
    )
    .await;
    assert_eq!(not_match.status, 412);
    assert_eq!(gcs.get_object(BUCKET, "d").expect("kept").data, b"keep me");

    let right = send(
        &gcs,
        "DELETE",
        &format!("{}?ifGenerationMatch={g}", object_path("d")),
        &[],
        "",
    )
    .await;
    assert_eq!(right.status, 204);
    assert!(gcs.get_object(BUCKET, "d").is_none());
}

#[tokio::test]
async fn patch_honours_metageneration_match() {
    let gcs = start().await;
    gcs.put_object(BUCKET, "m", b"x");
    let body = r#"{"metadata":{"k":"v"}}"#;
    let stale = send(
        &gcs,
        "PATCH",
        &format!("{}?ifMetagenerationMatch=2", object_path("m")),
        &[],
        body,
    )
    .await;
    assert_eq!(
        (stale.status, stale.reason().as_str()),
        (412, "conditionNotMet")
    );
    assert_eq!(gcs.get_object(BUCKET, "m").expect("live").metageneration, 1);

    let ok = send(
        &gcs,
        "PATCH",
        &format!("{}?ifMetagenerationMatch=1", object_path("m")),
        &[],
        body,
    )
    .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["metageneration"], "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_create_only_writes_have_one_winner() {
    let gcs = Arc::new(start().await);
    let mut writers = JoinSet::new();
    for i in 0..20 {
        let gcs = Arc::clone(&gcs);
        writers.spawn(async move {
            let body = format!("writer-{i}");
            let resp = upload(&gcs, "race", body.as_bytes(), "&ifGenerationMatch=0").await;
            (
                body,
                resp.status,
                if resp.status == 200 {
                    String::new()
                } else {
                    resp.reason()
                },
            )
        });
    }
    let results = writers.join_all().await;
    let winners: Vec<&String> = results
        .iter()
        .filter(|r| r.1 == 200)
        .map(|r| &r.0)
        .collect();
    let losers = results
        .iter()
        .filter(|r| (r.1, r.2.as_str()) == (412, "conditionNotMet"))
        .count();
    assert_eq!((winners.len(), losers), (1, 19), "{results:?}");
    assert_eq!(
        gcs.get_object(BUCKET, "race").expect("created").data,
        winners[0].as_bytes()
    );
}

#[tokio::test]
async fn malformed_precondition_is_400() {
    let gcs = start().await;
    let resp = upload(&gcs, "x", b"x", "&ifGenerationMatch=abc").await;
    assert_eq!((resp.status, resp.reason().as_str()), (400, "invalid"));
    assert!(gcs.get_object(BUCKET, "x").is_none());
}
