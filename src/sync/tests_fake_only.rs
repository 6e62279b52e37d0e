//! The sync tests that need what only the in-memory fake offers, so they are not among the
//! shared scenarios (`scenarios_native.rs`): the number of requests in flight at once
//! (yield mode), a hook that runs at an exact request, symlinks pointing out of a cache on
//! the native file system. The component has its own versions where it can (delays
//! injected by the host: `host-test/tests/all/sync/race.rs`, and #13 in
//! `host-test/tests/all/sync/seed.rs`).

use super::tests_support::*;
use super::SyncService;
use crate::error::ErrorKind;
use crate::test_doubles::{run, FakeGcs, Kind};
use sync_scenarios::support::seed;

/// Seed #13 "configurable concurrency: respects custom pullConcurrency" — all three files
/// arrive, and at most (and at least) two downloads were in flight at once. Needs the
/// fake's in-flight count.
#[test]
fn configurable_concurrency_respects_custom_pull_concurrency() {
    let fake = FakeGcs::new();
    put_remote_files(
        &fake,
        &[("audit/a", b"a"), ("audit/b", b"bb"), ("audit/c", b"ccc")],
    );
    fake.yield_each_request.set(true);
    let cache = TempDir::new("s13");
    let svc = service(&fake, &cache, r#","pullConcurrency":2"#);
    fake.clear_log();
    let report = pull(&svc);
    assert_eq!(report.files, 3);
    assert_eq!(fake.max_in_flight(), 2);
}

/// Uploads really run `pushConcurrency` at a time (sliding window, not one by one). Needs
/// the fake's in-flight count.
#[test]
fn push_concurrency_is_a_real_window() {
    let fake = FakeGcs::new();
    let a = sync_scenarios::Cache::new();
    seed(&a, 4, 10, 10);
    fake.yield_each_request.set(true);
    let svc = SyncService::new(fake.client(r#","pushConcurrency":7"#), a.path().into());
    let report = push(&svc);
    assert_eq!(report.files, 40);
    assert_eq!(fake.max_in_flight(), 7);
}

/// Two pushers with separate caches, different models, no lock, racing on the index:
/// the loser of the conditional write re-fetches and re-merges; both sets survive. Needs
/// the fake's yield mode to interleave the two pushes.
#[test]
fn two_pushers_without_a_lock_keep_both_sets_of_entries() {
    let fake = FakeGcs::new();
    let a = TempDir::new("race-a");
    let b = TempDir::new("race-b");
    let base = sync_scenarios::Cache::new();
    seed(&base, 2, 5, 100);
    push(&SyncService::new(fake.client(""), base.path().into()));
    for i in 0..10 {
        a.write(&format!("data/@test/writer-a/m/file-{i}.json"), b"from a");
        b.write(&format!("data/@test/writer-b/m/file-{i}.json"), b"from b");
    }
    let svc_a = service(&fake, &a, "");
    let svc_b = service(&fake, &b, "");
    fake.yield_each_request.set(true);
    fake.clear_log();
    let (ra, rb) = run(futures_util::future::join(
        svc_a.push(&opts()),
        svc_b.push(&opts()),
    ));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!((ra.files, rb.files), (10, 10));
    assert!(
        fake.count_on(Kind::Upload, ".datastore-index.json") >= 3,
        "one writer lost the race and retried"
    );
    let attempts: Vec<&str> = [&ra, &rb]
        .iter()
        .filter_map(|r| r.phase_detail("pushChanged.writeback"))
        .collect();
    assert!(
        attempts.iter().any(|d| d.starts_with("indexAttempts=2")),
        "{attempts:?}"
    );
    let index = remote_index(&fake);
    assert_eq!(index.entries.len(), 10 + 20);
    for i in 0..10 {
        assert!(index
            .entries
            .contains(&format!("data/@test/writer-a/m/file-{i}.json")));
        assert!(index
            .entries
            .contains(&format!("data/@test/writer-b/m/file-{i}.json")));
    }
    // Both partitions exist with their writer's entries.
    assert!(fake.data("_index/data--@test--writer-a--m.json").is_some());
    assert!(fake.data("_index/data--@test--writer-b--m.json").is_some());
}

/// #demoting-a-shard-first-meta: a migration to a v2 (shard-first) meta that lands
/// between our meta read and our meta write wins the meta. Needs the fake's request hook.
#[test]
fn v2_meta_written_mid_push_is_never_demoted() {
    let v2 = br#"{"version":2,"partitions":["audit","data--t--m"],"commitSeq":4}"#;
    // A migration that lands between our meta read and our meta write.
    let fake = FakeGcs::new();
    let cache = TempDir::new("trap5-race");
    cache.write("audit/a", b"a");
    let migrator = fake.clone();
    fake.on_request(Kind::Upload, "_index/audit.json", move |_| {
        migrator.put("_index/_meta.json", v2, 0);
    });
    push(&service(&fake, &cache, ""));
    assert_eq!(fake.data("_index/_meta.json").unwrap(), v2);
}

/// Symlinks are never followed: a push skips symlinked files and directories (even when
/// marked dirty), a pull refuses to write through a symlinked directory. Needs symlinks to
/// the native file system and a second bucket.
#[cfg(unix)]
#[test]
fn symlinks_are_never_followed() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("symlink");
    let outside = TempDir::new("symlink-outside");
    outside.write("secret", b"do not upload");
    cache.write("audit/a", b"a");
    std::os::unix::fs::symlink(outside.path(), cache.path().join("data")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret"),
        cache.path().join("audit/link"),
    )
    .unwrap();
    let svc = service(&fake, &cache, "");
    mark(&svc, "data");
    run(svc.mark_dirty(&opts())).unwrap();
    let report = push(&svc);
    assert_eq!(uploaded_data(&fake), ["audit/a"]);
    assert!(report
        .phase_detail("pushChanged.walk")
        .unwrap()
        .contains("symlinksSkipped=2"));

    let other = FakeGcs::new();
    put_remote_files(&other, &[("data/x/y", b"would land outside")]);
    cache.remove(".datastore-sync-state.json");
    let err = run(service(&other, &cache, "").pull(&opts())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnsafePath, "{}", err.message());
    assert!(!outside.exists("x/y"));
}
