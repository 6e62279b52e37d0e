//! `objects.list`: ordering, pagination, prefix/delimiter, offsets and `fields`.

mod gcs_support;

use gcs_support::*;
use serde_json::Value;
use test_servers::gcs::FakeGcs;

fn list_path(query: &str) -> String {
    format!("/storage/v1/b/{BUCKET}/o?{query}")
}

fn strings(value: &Value, key: &str, field: Option<&str>) -> Vec<String> {
    value[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| field.map_or(Some(v), |f| v.get(f)))
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Follows `nextPageToken` to the end; returns every page.
async fn all_pages(gcs: &FakeGcs, query: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let q = match &token {
            Some(t) => format!("{query}&pageToken={}", enc(t)),
            None => query.to_owned(),
        };
        let resp = get(gcs, &list_path(&q)).await;
        assert_eq!(resp.status, 200, "{:?}", resp.body);
        let page = resp.json();
        assert_eq!(page["kind"], "storage#objects");
        token = page["nextPageToken"].as_str().map(str::to_owned);
        pages.push(page);
        if token.is_none() || pages.len() > 50 {
            return pages;
        }
    }
}

#[tokio::test]
async fn paginates_across_three_pages() {
    let gcs = start().await;
    for name in ["e", "a", "d", "c", "b"] {
        gcs.put_object(BUCKET, name, name.as_bytes());
    }
    let pages = all_pages(&gcs, "maxResults=2").await;
    let names: Vec<Vec<String>> = pages
        .iter()
        .map(|p| strings(p, "items", Some("name")))
        .collect();
    assert_eq!(names, [vec!["a", "b"], vec!["c", "d"], vec!["e"]]);
    let token = pages[0]["nextPageToken"].as_str().expect("token");
    assert!(
        token != "b" && token != "c",
        "page token should be opaque: {token}"
    );
    assert!(pages[2].get("nextPageToken").is_none());
    assert_eq!(pages[0]["items"][0]["size"], "1");
}

#[tokio::test]
async fn prefixes_and_items_share_the_page_budget() {
    let gcs = start().await;
    for name in ["a/1", "a/2", "b/x/y", "c", "d/", "top", "b/z"] {
        gcs.put_object(BUCKET, name, b"");
    }
    let single = get(&gcs, &list_path("delimiter=/")).await.json();
    assert_eq!(strings(&single, "prefixes", None), ["a/", "b/", "d/"]);
    assert_eq!(strings(&single, "items", Some("name")), ["c", "top"]);

    let pages = all_pages(&gcs, "delimiter=/&maxResults=2").await;
    assert_eq!(pages.len(), 3);
    let mut prefixes = Vec::new();
    let mut items = Vec::new();
    for page in &pages {
        let (p, i) = (
            strings(page, "prefixes", None),
            strings(page, "items", Some("name")),
        );
        assert!(p.len() + i.len() <= 2, "{page}");
        prefixes.extend(p);
        items.extend(i);
    }
    assert_eq!(prefixes, ["a/", "b/", "d/"]);
    assert_eq!(items, ["c", "top"]);

    let nested = get(&gcs, &list_path("prefix=b/&delimiter=/")).await.json();
    assert_eq!(strings(&nested, "prefixes", None), ["b/x/"]);
    assert_eq!(strings(&nested, "items", Some("name")), ["b/z"]);

    let trailing = get(
        &gcs,
        &list_path("delimiter=/&includeTrailingDelimiter=true"),
    )
    .await
    .json();
    assert_eq!(
        strings(&trailing, "items", Some("name")),
        ["c", "d/", "top"]
    );
    assert_eq!(strings(&trailing, "prefixes", None), ["a/", "b/", "d/"]);

    let trailing_paged = all_pages(
        &gcs,
        "delimiter=/&includeTrailingDelimiter=true&maxResults=1",
    )
    .await;
    assert_eq!(trailing_paged.len(), 6);
    let count: usize = trailing_paged
        .iter()
        .map(|p| strings(p, "items", Some("name")).len() + strings(p, "prefixes", None).len())
        .sum();
    assert_eq!(count, 6);
}

#[tokio::test]
async fn offsets_prefix_and_byte_order() {
    let gcs = start().await;
    for name in ["é", "a", "B", "ab", "abc", "b"] {
        gcs.put_object(BUCKET, name, b"");
    }
    let all = get(&gcs, &list_path("")).await.json();
    // Byte-wise order: uppercase before lowercase, multi-byte UTF-8 last.
    assert_eq!(
        strings(&all, "items", Some("name")),
        ["B", "a", "ab", "abc", "b", "é"]
    );
    assert_eq!(gcs.object_names(BUCKET), ["B", "a", "ab", "abc", "b", "é"]);

    let window = get(&gcs, &list_path("startOffset=ab&endOffset=b"))
        .await
        .json();
    assert_eq!(strings(&window, "items", Some("name")), ["ab", "abc"]);
    let prefixed = get(&gcs, &list_path("prefix=ab")).await.json();
    assert_eq!(strings(&prefixed, "items", Some("name")), ["ab", "abc"]);
}

#[tokio::test]
async fn empty_results_omit_items_and_prefixes() {
    let gcs = start().await;
    let body = get(&gcs, &list_path("")).await.json();
    assert_eq!(body, serde_json::json!({"kind": "storage#objects"}));
    let missing = get(&gcs, "/storage/v1/b/nope/o").await;
    assert_eq!(
        (missing.status, missing.reason().as_str()),
        (404, "notFound")
    );
}

#[tokio::test]
async fn fields_must_name_next_page_token() {
    let gcs = start().await;
    for name in ["a", "b", "c"] {
        gcs.put_object(BUCKET, name, b"xyz");
    }
    let with = get(
        &gcs,
        &list_path("maxResults=1&fields=items(name),nextPageToken"),
    )
    .await
    .json();
    assert_eq!(with["items"], serde_json::json!([{"name": "a"}]));
    assert!(with["nextPageToken"].is_string());
    assert!(with.get("kind").is_none());

    let without = get(&gcs, &list_path("maxResults=1&fields=items(name,size)"))
        .await
        .json();
    assert!(without.get("nextPageToken").is_none(), "{without}");
    assert_eq!(without["items"][0]["size"], "3");
}

#[tokio::test]
async fn pages_are_stable_when_objects_change_between_calls() {
    let gcs = start().await;
    for name in ["b", "d", "f"] {
        gcs.put_object(BUCKET, name, b"");
    }
    let first = get(&gcs, &list_path("maxResults=2")).await.json();
    assert_eq!(strings(&first, "items", Some("name")), ["b", "d"]);
    gcs.put_object(BUCKET, "a", b""); // before the cursor: not seen
    gcs.put_object(BUCKET, "e", b""); // after the cursor: seen
    gcs.delete_object(BUCKET, "d");
    let token = enc(first["nextPageToken"].as_str().expect("token"));
    let second = get(&gcs, &list_path(&format!("maxResults=2&pageToken={token}")))
        .await
        .json();
    assert_eq!(strings(&second, "items", Some("name")), ["e", "f"]);
}

#[tokio::test]
async fn bad_list_parameters_are_400() {
    let gcs = start().await;
    for query in [
        "pageToken=%21%21",
        "maxResults=-1",
        "maxResults=x",
        "matchGlob=**",
    ] {
        let resp = get(&gcs, &list_path(query)).await;
        assert_eq!(
            (resp.status, resp.reason().as_str()),
            (400, "invalid"),
            "{query}"
        );
    }
}
