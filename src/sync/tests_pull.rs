//! Pull counterparts of the upstream `[seed]` sync tests, each doc comment quoting the
//! TypeScript test it mirrors (docs/compatibility.md#counterparts-of-the-typescript-tests),
//! then dangling entries, namespaces, the bucket prefix and `status`.

use super::tests_support::*;
use crate::error::ErrorKind;
use crate::test_doubles::{run, FakeGcs, Kind};

fn iso_ms_shape(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'.'
        && b[23] == b'Z'
        && s.chars().filter(|c| c.is_ascii_digit()).count() == 17
}

// ----- internal files -----

/// "pullChanged walker: skips zombies even if re-injected post-scrub" and "pullChanged:
/// skips zombie _catalog.db* entries from remote index"; "pullIndex GCS-fetch path:
/// scrubs in-memory and rewrites local cache file" (and the remote one).
#[test]
fn pull_skips_zombie_entries_and_rewrites_the_scrubbed_index() {
    let fake = FakeGcs::new();
    for k in [
        "_catalog.db",
        "_catalog.db-wal",
        ".datastore.lock",
        "_index/x.json",
        "audit/ok",
    ] {
        fake.put(k, b"zz", 0);
    }
    put_remote_index(
        &fake,
        &[
            ("_catalog.db", 2, None, None),
            ("_catalog.db-wal", 2, None, None),
            (".datastore.lock", 2, None, None),
            ("_index/x.json", 2, None, None),
            ("audit/ok", 2, None, None),
        ],
    );
    let cache = TempDir::new("a-pull-zombie");
    let report = pull(&service(&fake, &cache, ""));
    assert_eq!(report.files, 1);
    assert!(!cache.exists("_catalog.db") && !cache.exists("_index/x.json"));
    let local = super::core::index::Index::parse(&cache.read(".datastore-index.json").unwrap())
        .unwrap()
        .0;
    assert_eq!(local.entries.keys().collect::<Vec<_>>(), ["audit/ok"]);
    assert_eq!(
        remote_index(&fake).entries.keys().collect::<Vec<_>>(),
        ["audit/ok"]
    );
    let s = sidecar(&cache);
    assert_eq!(
        s["remoteIndexGeneration"],
        fake.generation(".datastore-index.json")
            .unwrap()
            .to_string()
    );
}

// ----- discovery -----

/// "pullIndex: discovers files when remote index is missing", "pullChanged: hydrates an
/// unindexed bucket via discovery", "pullIndex discovery: skips internal cache files".
#[test]
fn pull_hydrates_an_unindexed_bucket_via_discovery_skipping_internal_files() {
    let fake = FakeGcs::new();
    for k in [
        "audit/a",
        "data/t/m/d/1/raw",
        ".datastore.lock",
        "data/t/m/.lock",
        "_index/x.json",
        "dir/",
    ] {
        fake.put(k, b"bytes", 0);
    }
    fake.put("_index/_meta.json", br#"{"version":1,"partitions":[]}"#, 0);
    let cache = TempDir::new("b-discover");
    let report = pull(&service(&fake, &cache, ""));
    assert_eq!(report.files, 2);
    assert_eq!(report.phase_detail("pullIndex.discover"), Some("n=2"));
    let index = remote_index(&fake);
    assert_eq!(
        index.entries.keys().collect::<Vec<_>>(),
        ["audit/a", "data/t/m/d/1/raw"]
    );
    let put = fake
        .log()
        .into_iter()
        .find(|r| r.kind == Kind::Upload)
        .unwrap();
    assert_eq!(put.if_generation_match.as_deref(), Some("0"));
    assert_eq!(
        sidecar(&cache)["remoteIndexGeneration"],
        fake.generation(".datastore-index.json")
            .unwrap()
            .to_string()
    );
}

/// "pullIndex discovery: empty bucket falls through to empty index (regression pin)".
#[test]
fn discovery_empty_bucket_falls_through_to_empty_index() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("b-empty");
    let report = pull(&service(&fake, &cache, ""));
    assert_eq!(report.files, 0);
    assert_eq!(fake.uploads(), 0, "nothing to publish");
}

// ----- fast path and fingerprints -----

/// "pullChanged: post-verified second call hits fast path with zero index GETs".
#[test]
fn pull_post_verified_second_call_hits_fast_path_with_zero_index_gets() {
    let fake = FakeGcs::new();
    put_remote_files(&fake, &[("audit/a", b"a")]);
    let cache = TempDir::new("e-pull-fast");
    let svc = service(&fake, &cache, "");
    pull(&svc);
    fake.clear_log();
    let report = pull(&svc);
    assert!(report.fast_path);
    // The monolith's generation and the meta (is the repository still v1?); no index GET.
    assert_eq!((fake.request_count(), fake.count(Kind::Download)), (2, 1));
    assert_eq!(fake.count(Kind::Metadata), 1);
}

/// "pullChanged: corrupt sidecar (bad JSON / wrong version / missing fields) falls
/// through to slow path".
#[test]
fn pull_corrupt_sidecar_falls_through_to_slow_path() {
    let fake = FakeGcs::new();
    put_remote_files(&fake, &[("audit/a", b"a")]);
    let generation = fake.generation(".datastore-index.json").unwrap();
    for text in [
        "{not json".to_string(),
        format!(
            r#"{{"version":3,"remoteIndexGeneration":"{generation}","lastVerifiedAt":"2999-01-01T00:00:00.000Z","localDirty":false}}"#
        ),
        format!(r#"{{"version":2,"remoteIndexGeneration":"{generation}","localDirty":false}}"#),
    ] {
        let cache = TempDir::new("e-corrupt");
        cache.write(".datastore-index.json", b"{}");
        cache.set_mtime(".datastore-index.json", 0);
        cache.write(".datastore-sync-state.json", text.as_bytes());
        fake.clear_log();
        let report = pull(&service(&fake, &cache, ""));
        assert!(!report.fast_path, "{text}");
        assert_eq!(report.files, 1);
    }
}

/// "pullChanged: remote index generation change bypasses fast path".
#[test]
fn pull_remote_index_generation_change_bypasses_fast_path() {
    let fake = FakeGcs::new();
    put_remote_files(&fake, &[("audit/a", b"a")]);
    let cache = TempDir::new("e-gen-change");
    let svc = service(&fake, &cache, "");
    pull(&svc);
    put_remote_files(&fake, &[("audit/a", b"a"), ("audit/b", b"b")]);
    let report = pull(&svc);
    assert!(!report.fast_path);
    assert_eq!(report.files, 1);
}

/// "pullChanged: slow path force-fetches the remote index even when a previous process's
/// local index is mtime-fresh" (the local copy is never a cache:
/// docs/hazards.md#local-index-reuse-within-sixty-seconds).
#[test]
fn pull_slow_path_force_fetches_even_when_local_index_is_fresh() {
    let fake = FakeGcs::new();
    put_remote_files(&fake, &[("audit/a", b"a")]);
    let cache = TempDir::new("e-force");
    cache.write(
        ".datastore-index.json",
        br#"{"version":1,"lastPulled":"x","entries":{}}"#,
    );
    let report = pull(&service(&fake, &cache, ""));
    assert_eq!(report.files, 1);
    assert_eq!(fake.count_on(Kind::Download, ".datastore-index.json"), 1);
}

/// "pullChanged: empty-string generation bypasses fast path".
#[test]
fn pull_empty_string_generation_bypasses_fast_path() {
    let fake = FakeGcs::new();
    put_remote_files(&fake, &[("audit/a", b"a")]);
    let cache = TempDir::new("e-empty-gen");
    cache.write(".datastore-index.json", b"{}");
    cache.set_mtime(".datastore-index.json", 0);
    cache.write(
        ".datastore-sync-state.json",
        br#"{"version":2,"remoteIndexGeneration":"","lastVerifiedAt":"2999-01-01T00:00:00.000Z","localDirty":false,"dirtyPaths":[],"bulkInvalidated":false,"lazyPullActive":false}"#,
    );
    let report = pull(&service(&fake, &cache, ""));
    assert!(!report.fast_path);
    assert_eq!(
        fake.count(Kind::Metadata),
        0,
        "no probe without a fingerprint"
    );
}

/// "pullChanged: records generation from pullIndex GET, not post-walk getMetadata
/// (swamp-club #168)": a writer that publishes while our downloads run is not masked.
#[test]
fn pull_records_generation_from_the_index_get_not_a_later_probe() {
    let fake = FakeGcs::new();
    put_remote_files(&fake, &[("audit/a", b"a")]);
    let first = fake.generation(".datastore-index.json").unwrap();
    let racer = fake.clone();
    fake.on_request(Kind::Download, "audit/a", move |_| {
        put_remote_files(&racer, &[("audit/a", b"a"), ("audit/b", b"b")]);
    });
    let cache = TempDir::new("e-168");
    let svc = service(&fake, &cache, "");
    assert_eq!(pull(&svc).files, 1);
    assert_eq!(sidecar(&cache)["remoteIndexGeneration"], first.to_string());
    let report = pull(&svc);
    assert!(!report.fast_path);
    assert_eq!(report.files, 1, "the racing writer's file arrives");
}

// ----- retries and batch errors -----

/// "DEF-2 integration: 503-then-200 pullFile retries and succeeds".
#[test]
fn pull_file_503_then_200_retries_and_succeeds() {
    let fake = FakeGcs::new();
    put_remote_files(&fake, &[("audit/a", b"a")]);
    fake.fail("audit/a", Kind::Download, 503, 1);
    let cache = TempDir::new("f-503");
    assert_eq!(pull(&service(&fake, &cache, "")).files, 1);
    assert_eq!(fake.count_on(Kind::Download, "audit/a"), 2);
}

/// "DEF-2 integration: 403 throws immediately with credential hint, no retry" — and the
/// error names the file, the operation and the cause on one line.
#[test]
fn pull_403_fails_immediately_naming_the_file() {
    let fake = FakeGcs::new();
    put_remote_files(&fake, &[("audit/a", b"a"), ("audit/b", b"b")]);
    fake.fail("audit/b", Kind::Download, 403, 1);
    let cache = TempDir::new("f-403");
    let err = run(service(&fake, &cache, "").pull(&opts())).unwrap_err();
    assert_eq!(fake.count_on(Kind::Download, "audit/b"), 1);
    assert!(
        matches!(err.kind(), ErrorKind::PermissionDenied { .. }),
        "{err:?}"
    );
    assert!(
        err.message()
            .starts_with("pull: failed to download 1 of 2 file(s): pull audit/b: "),
        "{}",
        err.message()
    );
    assert!(!err.message().contains('\n'));
    assert!(
        !cache.exists(".datastore-sync-state.json"),
        "no fingerprint after a failed pull"
    );
}

/// "pushChanged: batch failure message includes underlying error details".
#[test]
fn push_batch_failure_message_includes_underlying_error_details() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("f-batch");
    for i in 0..5 {
        cache.write(&format!("audit/f{i}"), b"x");
        fake.fail(&format!("audit/f{i}"), Kind::Upload, 500, 10);
    }
    cache.write("audit/ok", b"fine");
    let err = run(service(&fake, &cache, r#","retryMaxAttempts":2"#).push(&opts())).unwrap_err();
    assert!(
        err.message()
            .starts_with("push: failed to upload 5 of 6 file(s): push audit/f0: "),
        "{}",
        err.message()
    );
    assert!(err.message().contains("500"), "{}", err.message());
    assert!(err.message().ends_with("and 2 more"), "{}", err.message());
    assert!(
        fake.data(".datastore-index.json").is_none(),
        "no writeback of unconfirmed entries"
    );
    assert_eq!(
        sidecar(&cache)["localDirty"],
        true,
        "the failed push leaves the cache dirty"
    );
}

// ----- dangling entries -----

/// A 404 while downloading an indexed file drops the entry and writes the index back
/// (conditional on the generation read).
#[test]
fn pull_dangling_entry_is_dropped_and_the_index_written_back() {
    let fake = FakeGcs::new();
    put_remote_files(&fake, &[("audit/a", b"a"), ("audit/gone", b"g")]);
    let read = fake.generation(".datastore-index.json").unwrap();
    fake.remove("audit/gone");
    let cache = TempDir::new("dangling");
    let report = pull(&service(&fake, &cache, ""));
    assert_eq!((report.files, report.deleted), (1, 1));
    assert_eq!(
        remote_index(&fake).entries.keys().collect::<Vec<_>>(),
        ["audit/a"]
    );
    let put = fake
        .log()
        .into_iter()
        .find(|r| r.kind == Kind::Upload)
        .unwrap();
    assert_eq!(put.if_generation_match, Some(read.to_string()));
}

// ----- lazy hydration -----

/// "pullChanged: metadataOnly skips raw files" (parents created, flag set), "pushChanged:
/// lazy hydration guard prevents deletion of un-hydrated files", "pullChanged: without
/// metadataOnly downloads everything including raw" (flag cleared), "hydrateFile:
/// downloads a single file on demand".
#[test]
fn lazy_pull_skips_raws_guards_deletion_and_a_full_pull_completes_it() {
    let fake = FakeGcs::new();
    let raw = "data/t/m/main/1/raw";
    put_remote_files(
        &fake,
        &[(raw, b"big"), ("data/t/m/main/1/metadata.yaml", b"m: 1")],
    );
    let cache = TempDir::new("lazy");
    let svc = service(&fake, &cache, "");
    let lazy = super::SyncOptions {
        metadata_only: true,
        ..opts()
    };
    let report = run(svc.pull(&lazy)).unwrap();
    assert_eq!(report.files, 1);
    assert!(!cache.exists(raw) && cache.path().join("data/t/m/main/1").is_dir());
    assert_eq!(sidecar(&cache)["lazyPullActive"], true);

    mark(&svc, "data/t/m");
    let report = push(&svc);
    assert_eq!(report.deleted, 0, "un-hydrated raws are not deletions");
    assert!(fake.data(raw).is_some());
    assert_eq!(
        sidecar(&cache)["localDirty"],
        true,
        "never clean while lazy"
    );

    assert!(run(svc.hydrate_file(raw, None)).unwrap());
    assert_eq!(cache.read(raw).unwrap(), b"big");
    assert!(!run(svc.hydrate_file("data/t/m/main/9/raw", None)).unwrap());
    assert!(run(svc.hydrate_file("../escape", None)).is_err());

    cache.remove(raw);
    let report = pull(&svc);
    assert_eq!(
        report.phase_detail("pullChanged.fastpath"),
        Some("skip(lazy→full)")
    );
    assert_eq!(report.files, 1);
    assert_eq!(sidecar(&cache)["lazyPullActive"], false);
}

// ----- namespaces, prefix -----

/// Namespaced sync: data keys `{ns}/rel`, local files `{cache}/{ns}/rel`, index and
/// shards under `{ns}/`, local index and sidecar at the cache root; foreign and solo
/// leftovers are never pushed; the first call binds the namespace.
#[test]
fn ns_round_trip_uses_prefixed_keys_and_paths() {
    let fake = FakeGcs::new();
    let a = TempDir::new("ns-a");
    a.write("ns1/data/t/m/d/1/raw", b"ns data");
    a.write("ns1/.namespace.json", b"{}");
    a.write("data/t/m/d/1/raw", b"solo leftover");
    a.write("other/data/t/m/d/1/raw", b"foreign");
    let ns = super::SyncOptions {
        namespace: Some("ns1".into()),
        ..opts()
    };
    let svc = service(&fake, &a, "");
    assert_eq!(run(svc.push(&ns)).unwrap().files, 1);
    assert_eq!(uploaded_data(&fake), ["ns1/data/t/m/d/1/raw"]);
    let index = remote_index_at(&fake, "ns1/.datastore-index.json");
    assert_eq!(
        index.entries.keys().collect::<Vec<_>>(),
        ["data/t/m/d/1/raw"]
    );
    assert!(fake.data("ns1/_index/data--t--m.json").is_some());
    assert!(fake.data("ns1/_index/_meta.json").is_some());
    assert!(a.exists(".datastore-sync-state.json") && a.exists(".datastore-index.json"));

    let err = run(svc.push(&opts())).unwrap_err();
    assert_eq!(
        err.message(),
        r#"Namespace mismatch: bound to "ns1" but called with null"#
    );
    assert_eq!(
        err.kind(),
        crate::error::ErrorKind::NamespaceMismatch {
            bound: Some("ns1".into()),
            requested: None
        }
    );

    let b = TempDir::new("ns-b");
    let svc_b = service(&fake, &b, "");
    assert_eq!(run(svc_b.pull(&ns)).unwrap().files, 1);
    assert_eq!(b.read("ns1/data/t/m/d/1/raw").unwrap(), b"ns data");
    assert!(!b.exists("data/t/m/d/1/raw"));
    // A scoped namespaced pull reads the namespace's partitions.
    let scoped = super::SyncOptions {
        models: vec![("t".into(), "m".into())],
        ..ns.clone()
    };
    fake.clear_log();
    run(service(&fake, &TempDir::new("ns-c"), "").pull(&scoped)).unwrap();
    assert_eq!(
        fake.count_on(Kind::Download, "ns1/_index/data--t--m.json"),
        1
    );
    assert!(run(svc_b.push(&super::SyncOptions {
        namespace: Some("a/b".into()),
        ..opts()
    }))
    .is_err());
}

/// Data pushed before namespace-prefixed data keys lives at the bare key: a namespaced
/// pull falls back to it on 404.
#[test]
fn ns_pull_falls_back_to_the_bare_key() {
    let fake = FakeGcs::new();
    put_remote_index_at(
        &fake,
        "ns1/.datastore-index.json",
        &[("audit/a", 6, None, None)],
    );
    fake.put("audit/a", b"legacy", 0);
    let cache = TempDir::new("ns-legacy");
    let ns = super::SyncOptions {
        namespace: Some("ns1".into()),
        ..opts()
    };
    assert_eq!(run(service(&fake, &cache, "").pull(&ns)).unwrap().files, 1);
    assert_eq!(cache.read("ns1/audit/a").unwrap(), b"legacy");
}

/// With a bucket `prefix`, every key carries it and discovery strips it.
#[test]
fn prefix_is_applied_to_keys_and_stripped_by_discovery() {
    let fake = FakeGcs::new();
    fake.put("pfx/audit/theirs", b"t", 0);
    fake.put("elsewhere/audit/x", b"x", 0);
    let cache = TempDir::new("prefix");
    cache.write("audit/mine", b"m");
    let svc = service(&fake, &cache, r#","prefix":"pfx""#);
    assert_eq!(push(&svc).files, 1);
    let index = remote_index_at(&fake, "pfx/.datastore-index.json");
    assert_eq!(
        index.entries.keys().collect::<Vec<_>>(),
        ["audit/theirs", "audit/mine"]
    );
    assert!(fake.data("pfx/audit/mine").is_some() && fake.data("pfx/_index/audit.json").is_some());
}

// ----- status -----

/// `status` is a dry run: one request (the index GET), nothing written remotely.
#[test]
fn status_reports_what_a_push_would_do_with_two_requests() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("status");
    cache.write("audit/a", b"a");
    cache.write("audit/b", b"b");
    push(&service(&fake, &cache, ""));
    let svc = service(&fake, &cache, "");
    cache.write("audit/a", b"changed");
    mark(&svc, "audit/a");
    mark(&svc, "audit/b");
    cache.remove("audit/b");
    cache.write("audit/c", b"new, but not marked");
    fake.clear_log();
    let status = run(svc.status(&opts())).unwrap();
    // The meta (which layout?) and the monolith.
    assert_eq!(fake.request_count(), 2);
    assert_eq!(status.walk, "scoped");
    assert_eq!(
        status
            .to_upload
            .iter()
            .map(|u| u.rel.as_str())
            .collect::<Vec<_>>(),
        ["audit/a"]
    );
    assert_eq!(
        status.to_upload[0].reason,
        super::core::change::ChangeReason::SizeChanged
    );
    assert_eq!(status.to_delete, ["audit/b"]);
    assert_eq!(status.sidecar.dirty_paths, ["audit/a", "audit/b"]);
    assert!(status.remote_index_found && status.remote_entries == 2);
    assert!(iso_ms_shape(&status.sidecar.last_verified_at));
}

#[test]
fn pull_of_a_malformed_remote_index_names_the_object_by_kind() {
    let fake = FakeGcs::new();
    fake.put(".datastore-index.json", b"{not json", 0);
    let cache = TempDir::new("malformed-index");
    let err = run(service(&fake, &cache, "").pull(&opts())).unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::MalformedRemote {
            key: ".datastore-index.json".into()
        },
        "{}",
        err.message()
    );
    assert!(err.message().contains("is unreadable"), "{}", err.message());
    assert!(
        cache.files().is_empty(),
        "nothing written: {:?}",
        cache.files()
    );
}

#[test]
fn hydration_follows_the_namespace_it_is_given_and_refuses_another() {
    let fake = FakeGcs::new();
    fake.put("ns1/data/t/m/d/1/raw", b"ns raw", 0);
    // Before any pull or push binds, the namespace in the options decides.
    let cache = TempDir::new("hydrate-ns");
    let svc = service(&fake, &cache, "");
    assert!(run(svc.hydrate_file("data/t/m/d/1/raw", Some("ns1"))).unwrap());
    assert_eq!(cache.read("ns1/data/t/m/d/1/raw").unwrap(), b"ns raw");
    assert!(!cache.exists("data/t/m/d/1/raw"));
    // Bound to ns1 by a pull: no namespace means ns1; another one is refused.
    let ns = super::SyncOptions {
        namespace: Some("ns1".into()),
        ..opts()
    };
    run(svc.pull(&ns)).unwrap();
    std::fs::remove_file(cache.path().join("ns1/data/t/m/d/1/raw")).unwrap();
    assert!(run(svc.hydrate_file("data/t/m/d/1/raw", None)).unwrap());
    assert!(cache.exists("ns1/data/t/m/d/1/raw"));
    let err = run(svc.hydrate_file("data/t/m/d/1/raw", Some("ns2"))).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::NamespaceMismatch { .. }),
        "{}",
        err.message()
    );
}
