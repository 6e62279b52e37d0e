//! Hostile remote input: index and partition files written straight into the bucket (as
//! a buggy or malicious client could), and objects that disagree with their entries.
//!
//! Each pull starts in a cache that already holds files of its own, some named like the
//! hostile entries, so "never deletes or overwrites what it must not" is checked too.

use crate::common::*;
use crate::hostile::checks::*;
use crate::sync::support::*;
use gcs_host::traffic::RequestKind;
use std::collections::BTreeSet;
use sync_scenarios::Kind;

/// One monolith/partition entry as JSON text: `"key":{…}` with `size` given verbatim
/// (so it can be negative, fractional, a string, ...).
fn entry(key: &str, size: &str) -> String {
    let k = serde_json::to_string(key).unwrap();
    format!(r#"{k}:{{"key":{k},"size":{size},"lastModified":"2026-07-01T00:00:00.000Z"}}"#)
}

/// A monolith whose `entries` object is `members` joined verbatim. Built as text, not
/// through `serde_json`, so that duplicate keys survive into the bytes.
fn monolith(members: &[String]) -> Vec<u8> {
    format!(
        r#"{{"version":1,"lastPulled":"2026-07-01T00:00:00.000Z","entries":{{{}}}}}"#,
        members.join(",")
    )
    .into_bytes()
}

/// A partition file with `members` joined verbatim.
fn partition(members: &[String]) -> Vec<u8> {
    format!(r#"{{"version":1,"entries":{{{}}}}}"#, members.join(",")).into_bytes()
}

/// Keys that would leave the cache if they became paths (the empty key has no object).
const ESCAPING: [&str; 4] = ["../../x", "/etc/x", "a/../../x", "a\\..\\x"];

/// Entries of the wrong shape, each dropped by the tolerant parse (the first element is
/// the map key; each has an object in the bucket, so a download would show).
fn malformed() -> Vec<(&'static str, String)> {
    let lm = r#""lastModified":"2026-07-01T00:00:00.000Z""#;
    let verbatim = |key: &'static str, body: String| {
        let k = serde_json::to_string(key).unwrap();
        (key, format!("{k}:{body}"))
    };
    vec![
        ("audit/neg", entry("audit/neg", "-5")),
        ("audit/float", entry("audit/float", "2.5")),
        ("audit/huge", entry("audit/huge", "1e300")),
        ("audit/str-size", entry("audit/str-size", r#""12""#)),
        verbatim("audit/not-object", "42".into()),
        verbatim("audit/array", "[]".into()),
        verbatim(
            "audit/key-mismatch",
            format!(r#"{{"key":"audit/other","size":1,{lm}}}"#),
        ),
        verbatim("audit/null-key", format!(r#"{{"key":null,"size":1,{lm}}}"#)),
        verbatim(
            "audit/sha-number",
            format!(r#"{{"key":"audit/sha-number","size":1,{lm},"sha256":5}}"#),
        ),
        verbatim(
            "audit/no-last-modified",
            r#"{"key":"audit/no-last-modified","size":1}"#.into(),
        ),
    ]
}

/// A cache that already holds files: one unrelated, one named like a malformed entry.
fn populated_cache() -> Cache {
    let cache = Cache::new();
    cache.write("local/keep.txt", b"mine, not in any index");
    cache.write(
        "audit/neg",
        b"local bytes of a path whose remote entry is malformed",
    );
    cache
}

/// A monolith with escaping keys (`../../x`, `/etc/x`, `a/../../x`, `a\..\x`, the empty
/// key), a duplicate key, negative / fractional / 1e300 / string sizes, entries that are
/// not objects or whose fields have the wrong type, and a size of 2^53−1 for a 6-byte
/// object.
///
/// Documented outcome (safe fallback), full pull:
/// - escaping keys are **kept but skipped**: never requested, never turned into paths
///   (`unsafeSkipped=5`);
/// - malformed entries are **dropped** by the parse (`dropped=10`), so they are neither
///   downloaded nor allowed to touch a local file of the same name;
/// - a duplicate key: the last value wins (as `JSON.parse`);
/// - an absurd but well-formed size is only a change-detection hint: the object's bytes
///   (checked against the server's hashes) are written;
/// - the pull does not rewrite the remote index.
///
/// A later push merges onto that index: escaping keys are kept (someone else's data),
/// malformed entries cannot be represented and leave the index, their objects stay in the
/// bucket (nothing is deleted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_monolith_is_skipped_or_dropped_never_followed_out() {
    let mut env = Env::start(Which::Fake).await;
    env.put_raw("audit/ok", b"ok");
    env.put_raw("audit/dup", b"dup");
    env.put_raw("audit/absurd", b"absurd");
    for key in ESCAPING {
        env.put_raw(key, b"evil");
    }
    let mut members = vec![entry("audit/ok", "2")];
    members.extend(ESCAPING.iter().map(|k| entry(k, "4")));
    members.push(entry("", "4"));
    members.push(entry("audit/dup", "999"));
    members.push(entry("audit/dup", "3"));
    members.push(entry("audit/absurd", "9007199254740991"));
    for (key, text) in malformed() {
        env.put_raw(key, b"should never be downloaded");
        members.push(text);
    }
    let hostile = monolith(&members);
    env.put_raw(INDEX, &hostile);

    let cache = populated_cache();
    let before = contents(&cache);
    let mut ds = env.open(&cache, "").await;
    env.reset();
    let report = ok(ds.pull(&opts()).await, "pull of a hostile monolith");
    assert_eq!(report.files, 3, "{:?}", report.phases);
    assert!(
        phase(&report, "pullChanged.walk").contains("unsafeSkipped=5"),
        "{:?}",
        report.phases
    );
    assert!(
        phase(&report, "pullChanged.pullIndex").contains("dropped=10"),
        "{:?}",
        report.phases
    );
    let downloaded: BTreeSet<String> = env.objects_of(Kind::Download).into_iter().collect();
    let expected: BTreeSet<String> = [META, INDEX, "audit/ok", "audit/dup", "audit/absurd"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(downloaded, expected, "only the well-formed, safe entries");
    assert_eq!(env.puts(), 0, "the pull leaves the remote index as it is");
    assert_eq!(env.must_get(INDEX).await, hostile);
    assert_eq!(cache.read("audit/ok"), b"ok");
    assert_eq!(cache.read("audit/dup"), b"dup", "the last duplicate wins");
    assert_eq!(cache.read("audit/absurd"), b"absurd");
    nothing_lost(&cache, &before, "hostile monolith pull");
    assert_eq!(
        data_files(&cache),
        [
            "audit/absurd",
            "audit/dup",
            "audit/neg",
            "audit/ok",
            "local/keep.txt"
        ]
    );
    sealed(&cache, &["cache"], "hostile monolith pull");

    // Again in a fresh process: the same answer, still nothing outside.
    let mut ds = env.open(&cache, "").await;
    ok(ds.pull(&opts()).await, "second pull of a hostile monolith");
    nothing_lost(&cache, &before, "second hostile monolith pull");
    sealed(&cache, &["cache"], "second hostile monolith pull");

    // A push merges onto it.
    cache.write("audit/mine", b"new");
    ds.mark_dirty(&rel("audit/mine")).await.unwrap();
    env.reset();
    let report = ok(ds.push(&opts()).await, "push onto a hostile monolith");
    assert_eq!(report.files, 1);
    assert_eq!(env.snap().count(RequestKind::Delete), 0, "nothing deleted");
    let index = env.json(INDEX).await;
    let mut keys = keys_of(&index["entries"]);
    keys.sort();
    let mut want: Vec<String> = ["", "audit/absurd", "audit/dup", "audit/mine", "audit/ok"]
        .iter()
        .chain(ESCAPING.iter())
        .map(|s| s.to_string())
        .collect();
    want.sort();
    assert_eq!(keys, want, "escaping keys kept, malformed entries gone");
    assert_eq!(index["entries"]["audit/dup"]["size"], 3);
    for (key, _) in malformed() {
        assert!(env.get(key).await.is_some(), "{key}: its object is kept");
    }
    // The component's object API refuses these names, so read them from the fake.
    let fake = env.server.as_fake().unwrap();
    for key in ESCAPING {
        assert_eq!(fake.get_object(BUCKET, key).unwrap().data, b"evil", "{key}");
    }
    nothing_lost(&cache, &before, "push onto a hostile monolith");
    sealed(&cache, &["cache"], "push onto a hostile monolith");
}

/// A monolith that is not an index at all: not JSON, truncated, empty, the wrong JSON
/// types at the top level or for `entries`, a wrong or missing `version`.
///
/// Documented outcome (typed error): pull and push fail with an error naming
/// `.datastore-index.json` (never a trap, never "no index":
/// `docs/hazards.md#index-read-errors-taken-as-an-empty-index`). Nothing is
/// written locally or remotely — the remote index keeps its bytes, the cache its files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monolith_of_the_wrong_shape_is_a_typed_error_and_changes_nothing() {
    let mut env = Env::start(Which::Fake).await;
    env.put_raw("audit/ok", b"ok");
    let valid = monolith(&[entry("audit/ok", "2")]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not JSON", b"\xff\xfe not json at all".to_vec()),
        ("truncated", valid[..valid.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("null", b"null".to_vec()),
        ("array", b"[]".to_vec()),
        ("string", br#""index""#.to_vec()),
        (
            "entries is an array",
            br#"{"version":1,"entries":[]}"#.to_vec(),
        ),
        (
            "entries is a string",
            br#"{"version":1,"entries":"x"}"#.to_vec(),
        ),
        ("entries missing", br#"{"version":1}"#.to_vec()),
        (
            "version is a string",
            br#"{"version":"1","entries":{}}"#.to_vec(),
        ),
        ("version 2", br#"{"version":2,"entries":{}}"#.to_vec()),
        ("version missing", br#"{"entries":{}}"#.to_vec()),
        ("deeply nested", {
            let mut v = b"{\"version\":1,\"entries\":".to_vec();
            v.extend(std::iter::repeat_n(b'[', 100_000));
            v
        }),
    ];
    for (what, bytes) in cases {
        env.put_raw(INDEX, &bytes);
        let generation = env.generation(INDEX).await;

        let cache = populated_cache();
        let before = contents(&cache);
        let mut ds = env.open(&cache, r#""retryMaxAttempts":2"#).await;
        env.reset();
        let r = ds.pull(&opts()).await;
        no_trap(&r, what);
        let e = expect_err(r, what);
        assert!(e.to_string().contains(INDEX), "pull, {what}: {e}");
        assert_eq!(
            data_files(&cache),
            ["audit/neg", "local/keep.txt"],
            "{what}"
        );
        nothing_lost(&cache, &before, what);

        cache.write("audit/mine", b"new");
        ds.mark_dirty(&rel("audit/mine")).await.unwrap();
        let r = ds.push(&opts()).await;
        no_trap(&r, what);
        let e = expect_err(r, what);
        assert!(e.to_string().contains(INDEX), "push, {what}: {e}");
        assert_eq!(env.puts(), 0, "{what}: nothing uploaded");
        assert_eq!(env.must_get(INDEX).await, bytes, "{what}");
        assert_eq!(env.generation(INDEX).await, generation, "{what}");
        assert_eq!(
            sidecar(&cache)["dirtyPaths"],
            serde_json::json!(["audit/mine"]),
            "{what}: the edit is still pending"
        );
        sealed(&cache, &["cache"], what);
    }
}

/// A model's partition file with escaping keys, an empty key, a duplicate key and
/// malformed entries, read by a scoped pull (`context.models`).
///
/// Documented outcome (safe fallback): exactly as for the monolith — escaping keys are
/// skipped (`unsafeSkipped=5`), malformed entries dropped, the last duplicate wins;
/// only the model's safe files are downloaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_partition_in_a_scoped_pull_is_skipped_or_dropped() {
    let env = Env::start(Which::Fake).await;
    env.put_raw("data/t/m/d/1/raw", b"raw-1");
    env.put_raw("data/t/m/d/2/raw", b"raw-2");
    env.put_raw("data/t/m/d/3/raw", b"never");
    env.put_raw("data/t/m/d/4/raw", b"never");
    let escaping = [
        "../../y",
        "/etc/y",
        "data/t/m/../../../../y",
        "data\\..\\..\\y",
        "",
    ];
    for key in &escaping[..4] {
        env.put_raw(key, b"evil");
    }
    let mut members = vec![entry("data/t/m/d/1/raw", "5")];
    members.extend(escaping.iter().map(|k| entry(k, "4")));
    members.push(entry("data/t/m/d/2/raw", "100"));
    members.push(entry("data/t/m/d/2/raw", "5"));
    members.push(entry("data/t/m/d/3/raw", "-1"));
    members.push(r#""data/t/m/d/4/raw":"not an entry""#.to_string());
    env.put_raw("_index/data--t--m.json", &partition(&members));
    // A monolith that must not be needed: the scoped pull reads the partitions.
    env.put_raw(INDEX, &monolith(&[entry("audit/unrelated", "1")]));

    let cache = populated_cache();
    cache.write("data/t/m/d/3/raw", b"local, entry malformed");
    let before = contents(&cache);
    let mut ds = env.open(&cache, "").await;
    env.reset();
    let report = ok(
        ds.pull(&models(&[("t", "m")])).await,
        "scoped pull of a hostile partition",
    );
    assert_eq!(report.files, 2, "{:?}", report.phases);
    assert!(
        phase(&report, "pullChanged.pullIndex").starts_with("scoped"),
        "{:?}",
        report.phases
    );
    assert!(
        phase(&report, "pullChanged.walk").contains("unsafeSkipped=5"),
        "{:?}",
        report.phases
    );
    let downloaded: BTreeSet<String> = env.objects_of(Kind::Download).into_iter().collect();
    let expected: BTreeSet<String> = [
        "_index/data--t--m.json",
        "_index/outputs--t--m.json",
        "_index/definitions-evaluated--t--m.json",
        "data/t/m/d/1/raw",
        "data/t/m/d/2/raw",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(downloaded, expected);
    assert_eq!(env.puts(), 0);
    assert_eq!(cache.read("data/t/m/d/1/raw"), b"raw-1");
    assert_eq!(cache.read("data/t/m/d/2/raw"), b"raw-2");
    nothing_lost(&cache, &before, "scoped pull of a hostile partition");
    assert!(!cache.file("data/t/m/d/4/raw").exists());
    sealed(&cache, &["cache"], "scoped pull of a hostile partition");
}

/// Partition files that are not partition files.
///
/// Documented outcome, per case:
/// - not JSON, not an object, `entries` not an object: a **typed error** naming the
///   partition object (a corrupt shard is never silently replaced by the monolith,
///   `docs/hazards.md#silent-fallback-from-an-unreadable-shard`); nothing is downloaded or
///   written.
/// - `version` other than 1: the shard counts as **missing** (`docs/formats.md#partition-files`),
///   and the scoped pull falls back to the monolith (safe fallback).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_of_the_wrong_shape_is_a_typed_error_or_a_monolith_fallback() {
    let env = Env::start(Which::Fake).await;
    env.put_raw("audit/ok", b"ok");
    env.put_raw(INDEX, &monolith(&[entry("audit/ok", "2")]));
    let corrupt: [(&str, &[u8]); 5] = [
        ("nojson", b"{\"version\":1,\"entries\":{"),
        ("array", b"[]"),
        ("null", b"null"),
        ("entries-array", br#"{"version":1,"entries":[1,2]}"#),
        ("entries-number", br#"{"version":1,"entries":7}"#),
    ];
    for (id, bytes) in corrupt {
        let object = format!("_index/data--t--{id}.json");
        env.put_raw(&object, bytes);
        let cache = populated_cache();
        let before = contents(&cache);
        let mut ds = env.open(&cache, "").await;
        let r = ds.pull(&models(&[("t", id)])).await;
        no_trap(&r, id);
        let e = expect_err(r, id);
        assert!(e.to_string().contains(&object), "{id}: {e}");
        assert_eq!(data_files(&cache), ["audit/neg", "local/keep.txt"], "{id}");
        nothing_lost(&cache, &before, id);
        sealed(&cache, &["cache"], id);
    }

    env.put_raw(
        "_index/data--t--v7.json",
        &format!(
            r#"{{"version":7,"entries":{{{}}}}}"#,
            entry("../../from-v7", "1")
        )
        .into_bytes(),
    );
    let cache = populated_cache();
    let before = contents(&cache);
    let mut ds = env.open(&cache, "").await;
    let report = ok(ds.pull(&models(&[("t", "v7")])).await, "version 7 shard");
    assert!(
        phase(&report, "pullChanged.pullIndex").starts_with("fallback"),
        "{:?}",
        report.phases
    );
    assert_eq!(report.files, 1);
    assert_eq!(cache.read("audit/ok"), b"ok");
    nothing_lost(&cache, &before, "version 7 shard");
    sealed(&cache, &["cache"], "version 7 shard");
}

/// A ~50 MB monolith: three real entries among 100 000 escaping keys and 100 000
/// malformed entries (each ~250 bytes).
///
/// Documented outcome (safe fallback): the pull parses it within the component's memory
/// and answers like for any hostile monolith — the three files are pulled, the rest
/// skipped or dropped; a push merges onto it and publishes it again (escaping keys kept,
/// malformed entries gone). No trap, nothing outside the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_megabyte_hostile_monolith_is_pulled_and_merged() {
    const N: usize = 100_000;
    let mut env = Env::start(Which::Fake).await;
    let real = [
        ("audit/ok", &b"ok"[..]),
        ("data/t/m/d/1/raw", b"raw"),
        ("files/x.json", b"{}"),
    ];
    let mut text = String::with_capacity(56 << 20);
    text.push_str(r#"{"version":1,"lastPulled":"2026-07-01T00:00:00.000Z","entries":{"#);
    for (i, (key, data)) in real.iter().enumerate() {
        env.put_raw(key, data);
        if i > 0 {
            text.push(',');
        }
        text.push_str(&entry(key, &data.len().to_string()));
    }
    let pad = "p".repeat(80);
    for i in 0..N {
        text.push(',');
        text.push_str(&entry(&format!("../big/{i:06}/{pad}"), "1"));
        text.push(',');
        text.push_str(&entry(&format!("big/dropped/{i:06}/{pad}"), "-1"));
    }
    text.push_str("}}");
    assert!(text.len() >= 50_000_000, "{} bytes", text.len());
    env.put_raw(INDEX, text.as_bytes());
    drop(text);

    let cache = populated_cache();
    let before = contents(&cache);
    let mut ds = env.open(&cache, "").await;
    let report = ok(ds.pull(&opts()).await, "pull of a 50 MB monolith");
    assert_eq!(report.files, 3);
    assert!(
        phase(&report, "pullChanged.walk").contains(&format!("unsafeSkipped={N}")),
        "{:?}",
        report.phases
    );
    assert!(
        phase(&report, "pullChanged.pullIndex").contains(&format!("dropped={N}")),
        "{:?}",
        report.phases
    );
    for (key, data) in real {
        assert_eq!(cache.read(key), data, "{key}");
    }
    nothing_lost(&cache, &before, "50 MB pull");
    sealed(&cache, &["cache"], "50 MB pull");

    cache.write("audit/mine", b"new");
    ds.mark_dirty(&rel("audit/mine")).await.unwrap();
    let report = ok(ds.push(&opts()).await, "push onto a 50 MB monolith");
    assert_eq!(report.files, 1);
    let index = env.json(INDEX).await;
    let entries = index["entries"].as_object().unwrap();
    assert_eq!(entries.len(), real.len() + N + 1);
    assert!(entries.contains_key("audit/mine"));
    assert!(entries.keys().all(|k| !k.starts_with("big/dropped/")));
    assert_eq!(
        entries.keys().filter(|k| k.starts_with("../big/")).count(),
        N
    );
    nothing_lost(&cache, &before, "50 MB push");
    sealed(&cache, &["cache"], "50 MB push");
}

/// Objects that disagree with their index entries: a size too large, a size too small,
/// the right size but another content's sha256.
///
/// Documented outcome (safe fallback): the pull writes the object's bytes exactly — they
/// are checked against the server's own MD5/CRC32C, which is what integrity means for a
/// download — and treats the entry's size and sha256 as change-detection hints only (an
/// object legitimately changes under an older entry while its pusher is between the
/// upload and the index write). Nothing else is touched, and pulling again changes
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_that_disagree_with_their_entries_are_pulled_as_stored() {
    let env = Env::start(Which::Fake).await;
    let long = pattern(50, 7);
    env.put_raw("audit/short", b"short");
    env.put_raw("audit/long", &long);
    env.put_raw("audit/hash", b"hash-bytes");
    let sha_short = sha256_hex(b"short");
    let sha_other = sha256_hex(b"different!");
    let index = serde_json::json!({
        "version": 1,
        "lastPulled": "2026-07-01T00:00:00.000Z",
        "entries": {
            "audit/short": {"key": "audit/short", "size": 100,
                "lastModified": "2026-07-01T00:00:00.000Z", "sha256": sha_short},
            "audit/long": {"key": "audit/long", "size": 3,
                "lastModified": "2026-07-01T00:00:00.000Z"},
            "audit/hash": {"key": "audit/hash", "size": 10,
                "lastModified": "2026-07-01T00:00:00.000Z", "sha256": sha_other},
        }
    });
    env.put_raw(INDEX, &serde_json::to_vec(&index).unwrap());

    let cache = populated_cache();
    let before = contents(&cache);
    let mut ds = env.open(&cache, "").await;
    let report = ok(ds.pull(&opts()).await, "pull of mismatching objects");
    assert_eq!(report.files, 3);
    assert_eq!(cache.read("audit/short"), b"short");
    assert_eq!(cache.read("audit/long"), long);
    assert_eq!(cache.read("audit/hash"), b"hash-bytes");
    nothing_lost(&cache, &before, "pull of mismatching objects");
    let after = contents(&cache);

    let mut ds = env.open(&cache, "").await;
    ok(ds.pull(&opts()).await, "second pull of mismatching objects");
    assert_eq!(contents(&cache), after, "pulling again changes nothing");
    assert_eq!(temp_files(&cache), Vec::<String>::new());
    sealed(&cache, &["cache"], "pull of mismatching objects");
}
