//! Table tests of the three-way decisions.

use std::collections::HashMap;
use std::convert::Infallible;

use super::*;
use crate::sync::core::change::sha256_hex;

const T1: &str = "2026-08-01T10:00:00.000Z";
const T2: &str = "2026-08-01T11:00:00.000Z";
const M1: &str = "2026-08-01T09:59:58.512Z";
const M2: &str = "2026-08-01T09:59:59.512Z";

fn entry(key: &str, body: &str, modified: &str, mtime: Option<&str>) -> IndexEntry {
    IndexEntry {
        key: key.to_string(),
        size: body.len() as u64,
        last_modified: modified.to_string(),
        local_mtime: mtime.map(str::to_string),
        sha256: Some(sha256_hex(body.as_bytes())),
    }
}

fn no_hash(mut e: IndexEntry) -> IndexEntry {
    e.sha256 = None;
    e
}

fn index(entries: &[IndexEntry]) -> Index {
    let mut index = Index::new("t");
    index.entries.extend(entries.iter().cloned());
    index
}

/// A cache: cache-relative path → (bytes, mtime).
struct Cache(HashMap<String, (String, Option<String>)>);

impl Cache {
    fn new(files: &[(&str, &str, Option<&str>)]) -> Self {
        Cache(
            files
                .iter()
                .map(|(p, b, m)| (p.to_string(), (b.to_string(), m.map(str::to_string))))
                .collect(),
        )
    }

    fn stat(&self, p: &str) -> Option<LocalFile> {
        self.0.get(p).map(|(b, m)| LocalFile {
            size: b.len() as u64,
            mtime_iso: m.clone(),
        })
    }

    fn hash(&self, p: &str) -> Option<String> {
        self.0.get(p).map(|(b, _)| sha256_hex(b.as_bytes()))
    }

    fn pull(&self, remote: &Index, base: Option<&Index>) -> PullPlan {
        plan_pull(
            remote,
            base,
            None,
            false,
            |_| true,
            |p| self.stat(p.as_str()),
            |p| self.hash(p.as_str()),
        )
    }

    fn push(&self, base: Option<&Index>, remote: &Index, rel: &str) -> PushVerdict {
        let local = self.stat(rel).expect("local file");
        decide_push(base, remote, rel, &local, || {
            Ok::<_, Infallible>(self.hash(rel).expect("hash"))
        })
        .unwrap()
    }
}

fn pulled(plan: &PullPlan) -> Vec<&str> {
    plan.to_pull.iter().map(|i| i.rel.as_str()).collect()
}

fn deleted(plan: &PullPlan) -> Vec<&str> {
    plan.to_delete.iter().map(|i| i.rel.as_str()).collect()
}

fn conflicts(plan: &PullPlan) -> Vec<(&str, ConflictKind)> {
    plan.conflicts
        .iter()
        .map(|c| (c.rel.as_str(), c.kind))
        .collect()
}

#[test]
fn same_version_compares_hashes_else_size_and_time() {
    let a = entry("k", "AAAA", T1, None);
    let b = entry("k", "BBBB", T1, None);
    let a_later = entry("k", "AAAA", T2, Some(M2));
    assert!(same_version(&a, &a_later), "equal hashes, other times");
    assert!(!same_version(&a, &b), "equal size and time, other bytes");
    assert!(
        same_version(&no_hash(a.clone()), &b),
        "no hash: size and time"
    );
    assert!(!same_version(&no_hash(a.clone()), &no_hash(a_later)));
}

#[test]
fn pull_downloads_an_equal_size_rewrite_of_an_unchanged_file() {
    let base = index(&[entry("p", "AAAA", T1, Some(M1))]);
    let remote = index(&[entry("p", "BBBB", T1, Some(M1))]);
    let cache = Cache::new(&[("p", "AAAA", Some(M1))]);
    let plan = cache.pull(&remote, Some(&base));
    assert_eq!(pulled(&plan), ["p"]);
    assert!(plan.conflicts.is_empty());
    assert_eq!(plan.next_base.entries.get("p"), remote.entries.get("p"));
    assert!(base_covers(&plan.next_base, &remote));
}

#[test]
fn pull_keeps_files_the_remote_did_not_change() {
    let base = index(&[entry("p", "AAAA", T1, Some(M1))]);
    let remote = index(&[entry("p", "AAAA", T1, Some("other machine"))]);
    // Unchanged locally, and changed locally (a push will decide): never downloaded.
    for body in ["AAAA", "CCCC", "longer"] {
        let cache = Cache::new(&[("p", body, Some(M2))]);
        let plan = cache.pull(&remote, Some(&base));
        assert!(plan.to_pull.is_empty(), "{body}");
        assert!(plan.conflicts.is_empty(), "{body}");
        let recorded = plan.next_base.entries.get("p").unwrap();
        assert_eq!(
            recorded.local_mtime.as_deref(),
            Some(M2),
            "hash-guarded mtime"
        );
    }
    // Without a hash the recorded mtime stays ours, so a same-size edit still shows.
    let base = index(&[no_hash(entry("p", "AAAA", T1, Some(M1)))]);
    let remote = index(&[no_hash(entry("p", "AAAA", T1, Some("other")))]);
    let plan = Cache::new(&[("p", "CCCC", Some(M2))]).pull(&remote, Some(&base));
    assert!(plan.to_pull.is_empty());
    let recorded = plan.next_base.entries.get("p").unwrap();
    assert_eq!(recorded.local_mtime.as_deref(), Some(M1));
}

#[test]
fn pull_without_hashes_uses_size_and_last_modified() {
    let base = index(&[no_hash(entry("p", "AAAA", T1, Some(M1)))]);
    let remote = index(&[no_hash(entry("p", "BBBB", T2, Some("other")))]);
    let cache = Cache::new(&[("p", "AAAA", Some(M1))]);
    assert_eq!(pulled(&cache.pull(&remote, Some(&base))), ["p"]);
    // Edited here too: without a hash the edit cannot be told from the rewrite.
    let edited = Cache::new(&[("p", "CCCC", Some(M2))]);
    let plan = edited.pull(&remote, Some(&base));
    assert_eq!(conflicts(&plan), [("p", ConflictKind::BothChanged)]);
    // Same size and same time: indistinguishable without a hash, kept.
    let remote = index(&[no_hash(entry("p", "BBBB", T1, Some("other")))]);
    assert!(cache.pull(&remote, Some(&base)).to_pull.is_empty());
}

#[test]
fn pull_downloads_a_rewrite_back_to_earlier_bytes() {
    // The cache synced BBBB; the remote went back to AAAA.
    let base = index(&[entry("p", "BBBB", T2, Some(M2))]);
    let remote = index(&[entry("p", "AAAA", T1, Some(M1))]);
    let cache = Cache::new(&[("p", "BBBB", Some(M2))]);
    assert_eq!(pulled(&cache.pull(&remote, Some(&base))), ["p"]);
}

#[test]
fn pull_keeps_and_reports_a_file_changed_on_both_sides() {
    let base = index(&[entry("p", "AAAA", T1, Some(M1))]);
    let remote = index(&[entry("p", "BBBB", T2, Some("other"))]);
    let cache = Cache::new(&[("p", "CCCC", Some(M2))]);
    let plan = cache.pull(&remote, Some(&base));
    assert!(plan.to_pull.is_empty());
    assert_eq!(conflicts(&plan), [("p", ConflictKind::BothChanged)]);
    assert_eq!(
        plan.next_base.entries.get("p"),
        base.entries.get("p"),
        "the base stays the version both sides started from"
    );
    assert!(!base_covers(&plan.next_base, &remote));
}

#[test]
fn pull_adopts_a_local_file_that_already_holds_the_remote_version() {
    // A pull cut short after writing the file but before recording it.
    let base = index(&[entry("p", "AAAA", T1, Some(M1))]);
    let remote = index(&[entry("p", "BBBB", T2, Some("other"))]);
    let cache = Cache::new(&[("p", "BBBB", Some(M2))]);
    let plan = cache.pull(&remote, Some(&base));
    assert!(plan.to_pull.is_empty() && plan.conflicts.is_empty());
    let recorded = plan.next_base.entries.get("p").unwrap();
    assert!(same_version(recorded, remote.entries.get("p").unwrap()));
    assert_eq!(recorded.local_mtime.as_deref(), Some(M2));
}

#[test]
fn pull_without_a_base_keeps_a_differing_local_file() {
    let remote = index(&[entry("p", "BBBB", T2, None), entry("q", "QQ", T2, None)]);
    let cache = Cache::new(&[("p", "CCCC", Some(M2)), ("q", "QQ", Some(M2))]);
    let plan = cache.pull(&remote, None);
    assert!(plan.to_pull.is_empty());
    assert_eq!(conflicts(&plan), [("p", ConflictKind::BothChanged)]);
    assert!(plan.next_base.entries.get("p").is_none());
    assert!(
        plan.next_base.entries.get("q").is_some(),
        "equal content adopted"
    );
}

#[test]
fn pull_applies_remote_deletions_only_to_unchanged_files() {
    let base = index(&[
        entry("gone/same", "AAAA", T1, Some(M1)),
        entry("gone/edited", "AAAA", T1, Some(M1)),
        entry("gone/absent", "AAAA", T1, Some(M1)),
        no_hash(entry("gone/nohash", "AAAA", T1, Some(M1))),
        no_hash(entry("gone/nohash-touched", "AAAA", T1, Some(M1))),
        entry("../evil", "AAAA", T1, Some(M1)),
        entry("kept", "K", T1, Some(M1)),
    ]);
    let remote = index(&[entry("kept", "K", T1, None)]);
    let cache = Cache::new(&[
        ("gone/same", "AAAA", Some(M2)),
        ("gone/edited", "CCCC", Some(M1)),
        ("gone/nohash", "AAAA", Some(M1)),
        ("gone/nohash-touched", "AAAA", Some(M2)),
        ("kept", "K", Some(M1)),
    ]);
    let plan = cache.pull(&remote, Some(&base));
    assert_eq!(deleted(&plan), ["gone/same", "gone/nohash"]);
    assert_eq!(
        conflicts(&plan),
        [
            ("gone/edited", ConflictKind::DeletedRemotelyChangedLocally),
            (
                "gone/nohash-touched",
                ConflictKind::DeletedRemotelyChangedLocally
            ),
        ]
    );
    let keys: Vec<&str> = plan.next_base.entries.keys().collect();
    assert_eq!(
        keys,
        ["kept"],
        "no deleted or kept-changed path stays recorded"
    );
    // Without a base nothing is ever deleted.
    assert!(cache.pull(&remote, None).to_delete.is_empty());
}

#[test]
fn scoped_pull_deletes_only_inside_its_scope() {
    let base = index(&[
        entry("data/t/m/d/1/raw", "A", T1, Some(M1)),
        entry("data/t/other/d/1/raw", "B", T1, Some(M1)),
    ]);
    let remote = index(&[]);
    let cache = Cache::new(&[
        ("data/t/m/d/1/raw", "A", Some(M1)),
        ("data/t/other/d/1/raw", "B", Some(M1)),
    ]);
    let plan = plan_pull(
        &remote,
        Some(&base),
        None,
        false,
        |rel| rel.starts_with("data/t/m/"),
        |p| cache.stat(p.as_str()),
        |p| cache.hash(p.as_str()),
    );
    assert_eq!(deleted(&plan), ["data/t/m/d/1/raw"]);
    let keys: Vec<&str> = plan.next_base.entries.keys().collect();
    assert_eq!(
        keys,
        ["data/t/other/d/1/raw"],
        "out of scope: kept as recorded"
    );
}

#[test]
fn namespaced_and_metadata_only_pulls_use_the_same_rules() {
    let raw = "data/t/m/d/1/raw";
    let meta = "data/t/m/d/1/metadata.yaml";
    let base = index(&[
        entry(raw, "AAAA", T1, Some(M1)),
        entry(meta, "m1", T1, Some(M1)),
        entry("audit/gone", "x", T1, Some(M1)),
    ]);
    let remote = index(&[entry(raw, "BBBB", T2, None), entry(meta, "m2", T2, None)]);
    let cache = Cache::new(&[
        ("ns1/data/t/m/d/1/raw", "AAAA", Some(M1)),
        ("ns1/data/t/m/d/1/metadata.yaml", "m1", Some(M1)),
        ("ns1/audit/gone", "x", Some(M1)),
    ]);
    let plan = plan_pull(
        &remote,
        Some(&base),
        Some("ns1"),
        true,
        |_| true,
        |p| cache.stat(p.as_str()),
        |p| cache.hash(p.as_str()),
    );
    let items: Vec<(&str, &str)> = plan
        .to_pull
        .iter()
        .map(|i| (i.rel.as_str(), i.cache_rel.as_str()))
        .collect();
    assert_eq!(items, [(meta, "ns1/data/t/m/d/1/metadata.yaml")]);
    assert_eq!(plan.lazy_dirs, ["ns1/data/t/m/d/1"]);
    assert_eq!(deleted(&plan), ["audit/gone"]);
    assert_eq!(plan.to_delete[0].cache_rel, "ns1/audit/gone");
    // The skipped raw keeps the version it holds, so a full pull fetches the new one.
    assert_eq!(plan.next_base.entries.get(raw), base.entries.get(raw));
    let full = plan_pull(
        &remote,
        Some(&plan.next_base),
        Some("ns1"),
        false,
        |_| true,
        |p| cache.stat(p.as_str()),
        |p| cache.hash(p.as_str()),
    );
    assert!(pulled(&full).contains(&raw));
}

#[test]
fn unsafe_and_internal_remote_keys_never_become_paths() {
    let remote = index(&[
        entry("../evil", "x", T1, None),
        entry("_index/x.json", "x", T1, None),
    ]);
    let mut asked = Vec::new();
    let plan = plan_pull(
        &remote,
        None,
        None,
        false,
        |_| true,
        |p| {
            asked.push(p.to_string());
            None
        },
        |_| None,
    );
    assert!(asked.is_empty());
    assert!(plan.to_pull.is_empty());
    assert_eq!(plan.unsafe_keys, ["../evil"]);
    assert!(base_covers(&plan.next_base, &remote));
}

#[test]
fn push_uploads_only_changes_since_the_last_sync() {
    use ChangeReason::*;
    let base = index(&[entry("p", "AAAA", T1, Some(M1))]);
    let moved_on = index(&[entry("p", "BBBB", T2, None)]);
    let same = index(&[entry("p", "AAAA", T1, None)]);
    let empty = index(&[]);
    let unchanged = Cache::new(&[("p", "AAAA", Some(M1))]);
    let edited = Cache::new(&[("p", "CCCC", Some(M2))]);
    let as_remote = Cache::new(&[("p", "BBBB", Some(M2))]);
    let rows: Vec<(&Cache, Option<&Index>, &Index, PushVerdict)> = vec![
        // Older than the remote but not edited: never reverts it.
        (&unchanged, Some(&base), &moved_on, PushVerdict::Unchanged),
        (&unchanged, Some(&base), &empty, PushVerdict::Unchanged),
        (
            &edited,
            Some(&base),
            &same,
            PushVerdict::Upload(ContentChanged),
        ),
        // Deleted remotely, edited here: uploading loses no version.
        (
            &edited,
            Some(&base),
            &empty,
            PushVerdict::Upload(ContentChanged),
        ),
        (&edited, Some(&base), &moved_on, PushVerdict::Conflict),
        (
            &as_remote,
            Some(&base),
            &moved_on,
            PushVerdict::Adopt(entry("p", "BBBB", T2, Some(M2))),
        ),
        // Never synced here: new, or a conflict with someone else's version.
        (&edited, Some(&empty), &empty, PushVerdict::Upload(New)),
        (&edited, Some(&empty), &moved_on, PushVerdict::Conflict),
        // No base at all: upstream's comparison with the remote entry.
        (
            &edited,
            None,
            &moved_on,
            PushVerdict::Upload(ContentChanged),
        ),
        (
            &unchanged,
            None,
            &same,
            PushVerdict::Adopt(entry("p", "AAAA", T1, Some(M1))),
        ),
    ];
    for (i, (cache, base, remote, want)) in rows.into_iter().enumerate() {
        assert_eq!(cache.push(base, remote, "p"), want, "row {i}");
    }
}

#[test]
fn push_hashes_a_file_at_most_once() {
    let base = index(&[entry("p", "AAAA", T1, Some(M1))]);
    let remote = index(&[entry("p", "BBBB", T2, None)]);
    let local = LocalFile {
        size: 4,
        mtime_iso: Some(M2.to_string()),
    };
    let mut calls = 0;
    let verdict = decide_push(Some(&base), &remote, "p", &local, || {
        calls += 1;
        Ok::<_, Infallible>(sha256_hex(b"BBBB"))
    })
    .unwrap();
    assert!(matches!(verdict, PushVerdict::Adopt(_)));
    assert_eq!(calls, 1);
    let failed = decide_push(Some(&base), &remote, "p", &local, || Err("unreadable"));
    assert_eq!(failed, Err("unreadable"));
}

#[test]
fn push_deletes_only_versions_this_cache_synced() {
    let base = index(&[entry("p", "AAAA", T1, Some(M1))]);
    let same = index(&[entry("p", "AAAA", T1, None)]);
    let moved_on = index(&[entry("p", "BBBB", T2, None)]);
    assert!(may_delete(Some(&base), &same, "p"));
    assert!(!may_delete(Some(&base), &moved_on, "p"));
    assert!(
        !may_delete(Some(&index(&[])), &same, "p"),
        "never synced here"
    );
    assert!(may_delete(Some(&base), &index(&[]), "p"));
    assert!(may_delete(None, &moved_on, "p"));
}

#[test]
fn push_base_records_uploads_and_drops_deletions() {
    let base = index(&[entry("a", "A", T1, Some(M1)), entry("b", "B", T1, Some(M1))]);
    let up = entry("c", "C", T2, Some(M2));
    let next = push_next_base(
        Some(&base),
        T2,
        std::slice::from_ref(&up),
        &["a".to_string()],
    );
    let keys: Vec<&str> = next.entries.keys().collect();
    assert_eq!(keys, ["b", "c"]);
    assert_eq!(next.last_pulled, T2);
    let fresh = push_next_base(None, T2, &[up], &[]);
    assert_eq!(fresh.entries.len(), 1);
}

#[test]
fn base_covers_needs_every_syncable_remote_entry() {
    let remote = index(&[
        entry("a", "A", T1, None),
        entry("_index/x.json", "x", T1, None),
    ]);
    assert!(base_covers(
        &index(&[entry("a", "A", T2, Some(M1))]),
        &remote
    ));
    assert!(!base_covers(&index(&[entry("a", "Z", T1, None)]), &remote));
    assert!(!base_covers(&index(&[]), &remote));
}
