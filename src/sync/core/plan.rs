//! Pure planning for push walks: which local files are
//! push candidates and which remote keys to delete (the three-way decisions on
//! top, and the pull plan, are in [`super::reconcile`]). The I/O stays with the caller, passed in as closures
//! (`stat`) or as an already-made listing; these functions only decide.
//!
//! Decisions a caller must know:
//! * Overlapping dirty paths are collapsed first (a path below another dirty
//!   path is dropped; duplicates too), and candidates and deletions are
//!   de-duplicated, so a file and its directory never yield two uploads or
//!   two deletes (fixes docs/hazards.md#overlapping-dirty-paths-processed-twice).
//! * Internal files are skipped by both their cache-relative path **and**
//!   their bare rel: upstream tests only the former, so with a namespace
//!   bound `ns/_index/x` or `ns/.datastore-index.json` would be uploaded over
//!   the shard or index objects.
//! * With a namespace bound, files and dirty paths outside `{ns}/` are never
//!   pushed (counted in `skipped_outside_namespace`), in the scoped walk too
//!   (upstream only guards the full walk); a dirty cache root means
//!   the namespace directory.
//! * Deletions come only from dirty signals
//!   (docs/hazards.md#deletion-without-a-dirty-signal): absent dirty paths
//!   and files missing inside a dirty directory (scoped; not for the cache or
//!   namespace root itself, like upstream), or orphans after an overflow
//!   (full). Never while lazy — the caller passes that in via [`WalkMode`].
//! * A key that fails [`safe_index_key`] is never turned into a local path:
//!   pull skips and reports it, the completeness check answers false
//!   (upstream throws there, docs/hazards.md#unsafe-index-key-throws-out-of-push).
//!
//! [`WalkMode`]: super::sync_state::WalkMode

use std::collections::HashSet;

use indexmap::IndexSet;

use super::index::Index;
use super::keys::bare_rel;
use crate::paths::CachePath;
use crate::paths::{is_inside_namespace_dir, is_internal_cache_file, safe_index_key};

/// What the caller found at a dirty path (cache-relative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirtyPathStat {
    /// A regular file.
    File,
    /// A directory, with the cache-relative paths of every file below it
    /// (recursively; directories themselves not listed).
    Dir {
        /// Cache-relative file paths.
        files: Vec<String>,
    },
    /// Nothing there (absence = delete, rule 2 of docs/swamp-contract.md#markdirty-rules).
    NotFound,
    /// Any other stat error: the path is skipped silently, like upstream.
    Unreadable,
}

/// A local file that may need uploading; run `change::file_needs_push` on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushCandidate {
    /// Bare rel: index key and (with the namespace prefix) object key.
    pub rel: String,
    /// Path relative to the cache directory (with `{ns}/` when bound).
    pub cache_rel: String,
}

/// Result of planning a push walk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalkPlan {
    /// Files to check, de-duplicated, in walk order.
    pub candidates: Vec<PushCandidate>,
    /// Index keys whose remote objects should be deleted, de-duplicated.
    pub deletions: Vec<String>,
    /// Files or dirty paths outside the bound namespace (solo-layout leftovers).
    pub skipped_outside_namespace: usize,
    /// Files inside a foreign namespace directory under the cache root.
    pub skipped_in_namespace_dirs: usize,
    /// Files whose rel failed [`safe_index_key`].
    pub skipped_unsafe: usize,
}

/// Accumulates candidates and deletions with de-duplication.
#[derive(Default)]
struct PlanBuilder {
    plan: WalkPlan,
    seen: HashSet<String>,
    deletions: IndexSet<String>,
}

impl PlanBuilder {
    /// Consider one local file; returns its bare rel when it is pushable
    /// (so the caller can record it as present).
    fn consider(&mut self, cache_rel: &str, ns: Option<&str>) -> Option<String> {
        if is_internal_cache_file(cache_rel) {
            return None;
        }
        let Some(bare) = bare_rel(cache_rel, ns) else {
            self.plan.skipped_outside_namespace += 1;
            return None;
        };
        if is_internal_cache_file(bare) {
            return None;
        }
        if safe_index_key(bare).is_err() {
            self.plan.skipped_unsafe += 1;
            return None;
        }
        if self.seen.insert(bare.to_string()) {
            self.plan.candidates.push(PushCandidate {
                rel: bare.to_string(),
                cache_rel: cache_rel.to_string(),
            });
        }
        Some(bare.to_string())
    }

    fn delete(&mut self, key: &str) {
        self.deletions.insert(key.to_string());
    }

    fn finish(mut self) -> WalkPlan {
        // A key can never be both uploaded and deleted.
        self.plan.deletions = self
            .deletions
            .into_iter()
            .filter(|key| !self.seen.contains(key))
            .collect();
        self.plan
    }
}

/// Whether `path` lies strictly below `ancestor` (`""` is above everything).
fn is_below(path: &str, ancestor: &str) -> bool {
    if ancestor.is_empty() {
        return !path.is_empty();
    }
    path.strip_prefix(ancestor)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// The dirty paths worth visiting: duplicates removed, and any path below
/// another dirty path dropped (the ancestor's walk or absence rule already
/// covers it). First-seen order is kept.
pub fn collapse_dirty_paths(paths: &[String]) -> Vec<&str> {
    let mut kept: Vec<&str> = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let covered = paths
            .iter()
            .enumerate()
            .any(|(j, other)| (other == path && j < i) || is_below(path, other));
        if !covered {
            kept.push(path);
        }
    }
    kept
}

/// Non-internal index keys equal to `bare` (when `include_self`) or below it.
fn keys_under<'a>(
    index: &'a Index,
    bare: &'a str,
    include_self: bool,
) -> impl Iterator<Item = &'a str> {
    index.entries.keys().filter(move |key| {
        !is_internal_cache_file(key) && ((include_self && *key == bare) || is_below(key, bare))
    })
}

/// Plan a scoped push walk over the dirty set (docs/sync.md#push-walk, scoped branch).
///
/// `stat` is called once per surviving dirty path (cache-relative). Files
/// become candidates; directories contribute all their files, and — when
/// `delete_absent` — every index key below the directory with no local file
/// is deleted (partial deletion); an absent path deletes its key and every
/// key below it (when `delete_absent`). Pass `delete_absent = false` while a
/// lazy pull is active.
pub fn plan_scoped_walk(
    dirty_paths: &[String],
    ns: Option<&str>,
    index: &Index,
    delete_absent: bool,
    mut stat: impl FnMut(&str) -> DirtyPathStat,
) -> WalkPlan {
    let ns = ns.filter(|n| !n.is_empty());
    let mut builder = PlanBuilder::default();
    for dirty in collapse_dirty_paths(dirty_paths) {
        // A dirty cache root, with a namespace bound, means the namespace dir.
        let dirty = match ns {
            Some(n) if dirty.is_empty() => n,
            _ => dirty,
        };
        let Some(bare_dir) = bare_rel(dirty, ns) else {
            builder.plan.skipped_outside_namespace += 1;
            continue;
        };
        match stat(dirty) {
            DirtyPathStat::File => {
                builder.consider(dirty, ns);
            }
            DirtyPathStat::Dir { files } => {
                let mut present: HashSet<String> = HashSet::new();
                for file in &files {
                    // A listing entry outside the directory is a caller bug;
                    // never let it count as "present" for the deletion rule.
                    if !is_below(file, dirty) {
                        builder.plan.skipped_unsafe += 1;
                        continue;
                    }
                    if let Some(bare) = builder.consider(file, ns) {
                        present.insert(bare);
                    }
                }
                if delete_absent && !bare_dir.is_empty() {
                    let gone: Vec<&str> = keys_under(index, bare_dir, false)
                        .filter(|key| !present.contains(*key))
                        .collect();
                    for key in gone {
                        builder.delete(key);
                    }
                }
            }
            DirtyPathStat::NotFound => {
                if delete_absent && !bare_dir.is_empty() {
                    let gone: Vec<&str> = keys_under(index, bare_dir, true).collect();
                    for key in gone {
                        builder.delete(key);
                    }
                }
            }
            DirtyPathStat::Unreadable => {}
        }
    }
    builder.finish()
}

/// Namespace directories visible in a full cache listing that a walk must not push from:
/// first segments `X` of files `X/.namespace.json`, except the bound namespace. In solo
/// mode every one of them (docs/hazards.md#namespace-directories-in-a-solo-walk; the
/// TypeScript client filters only when a namespace is bound, so its solo walk pushes
/// another repository's namespaced files as solo data).
pub fn namespace_dirs_from_listing<S: AsRef<str>>(files: &[S], ns: Option<&str>) -> Vec<String> {
    let ns = ns.filter(|n| !n.is_empty());
    let mut dirs: Vec<String> = Vec::new();
    for file in files {
        if let Some((dir, ".namespace.json")) = file.as_ref().split_once('/') {
            if Some(dir) != ns && !dirs.iter().any(|d| d == dir) {
                dirs.push(dir.to_string());
            }
        }
    }
    dirs
}

/// Plan a full push walk (docs/sync.md#push-walk, full branch) from a listing of every
/// file under the cache (cache-relative paths).
///
/// Files inside `namespace_dirs` (see [`namespace_dirs_from_listing`]) and,
/// with a namespace bound, outside `{ns}/` are skipped and counted (the
/// caller warns). With `delete_orphans`, every non-internal index key not
/// inside a namespace dir and without a local file is deleted — pass `false`
/// unless the dirty set overflowed, while lazy, **and whenever the listing
/// may be incomplete** (a failed walk would otherwise delete everything).
pub fn plan_full_walk<S: AsRef<str>>(
    files: &[S],
    ns: Option<&str>,
    index: &Index,
    namespace_dirs: &[String],
    delete_orphans: bool,
) -> WalkPlan {
    let ns = ns.filter(|n| !n.is_empty());
    let mut builder = PlanBuilder::default();
    let mut present: HashSet<String> = HashSet::new();
    for file in files {
        let file = file.as_ref();
        if is_internal_cache_file(file) {
            continue;
        }
        if is_inside_namespace_dir(file, namespace_dirs) {
            builder.plan.skipped_in_namespace_dirs += 1;
            continue;
        }
        if let Some(bare) = builder.consider(file, ns) {
            present.insert(bare);
        }
    }
    if delete_orphans {
        let orphans: Vec<&str> = index
            .entries
            .keys()
            .filter(|key| {
                !is_internal_cache_file(key)
                    && !is_inside_namespace_dir(key, namespace_dirs)
                    && !present.contains(*key)
            })
            .collect();
        for key in orphans {
            builder.delete(key);
        }
    }
    builder.finish()
}

/// `localHasAllRemoteEntries` (docs/sync.md#clean-transitions): every non-internal
/// entry exists locally (at `[ns/]{rel}`) with equal size. False when there is no index,
/// while lazy, when any entry is missing or differs, and — instead of throwing
/// (docs/hazards.md#unsafe-index-key-throws-out-of-push) — when a key is no safe cache
/// path. `stat_size` (key, path) returns the size of a regular file, `None` for anything else.
pub fn local_has_all_remote_entries(
    index: Option<&Index>,
    lazy_pull_active: bool,
    ns: Option<&str>,
    mut stat_size: impl FnMut(&str, &CachePath) -> Option<u64>,
) -> bool {
    let Some(index) = index else {
        return false;
    };
    if lazy_pull_active {
        return false;
    }
    index
        .entries
        .iter()
        .filter(|entry| !is_internal_cache_file(&entry.key))
        .all(|entry| {
            CachePath::for_key(ns, &entry.key)
                .is_ok_and(|path| stat_size(&entry.key, &path) == Some(entry.size))
        })
}

/// What the caller knows about a local file (from a stat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// Size in bytes.
    pub size: u64,
    /// `toISOString()` form of its mtime, when the platform reports one.
    pub mtime_iso: Option<String>,
}

/// A file to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullItem {
    /// Bare rel (index key; object key after the namespace prefix).
    pub rel: String,
    /// Where to write it.
    pub cache_rel: crate::paths::CachePath,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::core::index::IndexEntry;
    use std::collections::HashMap;

    fn index_of(keys: &[&str]) -> Index {
        let mut index = Index::new("t");
        for key in keys {
            index.entries.insert(IndexEntry::new(*key, 1, "t"));
        }
        index
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn rels(plan: &WalkPlan) -> Vec<&str> {
        plan.candidates.iter().map(|c| c.rel.as_str()).collect()
    }

    /// A fake cache: file path → present.
    fn fake_stat(files: &'static [&'static str]) -> impl FnMut(&str) -> DirtyPathStat {
        move |path: &str| {
            if files.contains(&path) {
                return DirtyPathStat::File;
            }
            let below: Vec<String> = files
                .iter()
                .filter(|f| is_below(f, path))
                .map(|f| f.to_string())
                .collect();
            if below.is_empty() {
                DirtyPathStat::NotFound
            } else {
                DirtyPathStat::Dir { files: below }
            }
        }
    }

    #[test]
    fn collapse_table() {
        let rows: &[(&[&str], &[&str])] = &[
            (&["a/b", "a"], &["a"]),
            (&["a", "a/b", "a"], &["a"]),
            (&["a", "ab"], &["a", "ab"]),
            (&["x/y", "x/y/z", "w"], &["x/y", "w"]),
            (&["a", ""], &[""]),
            (&["", ""], &[""]),
        ];
        for (input, want) in rows {
            assert_eq!(collapse_dirty_paths(&strings(input)), *want, "{input:?}");
        }
    }

    #[test]
    fn overlapping_dirty_paths_do_not_duplicate_work() {
        let index = index_of(&["d/old", "d/kept"]);
        let plan = plan_scoped_walk(
            &strings(&["d/kept", "d", "d/kept", "d/old"]),
            None,
            &index,
            true,
            fake_stat(&["d/kept", "d/new"]),
        );
        assert_eq!(rels(&plan), ["d/kept", "d/new"]);
        assert_eq!(plan.deletions, ["d/old"]);
    }

    #[test]
    fn scoped_walk_visits_only_dirty_paths() {
        let index = index_of(&["data/m1/a", "data/m2/b"]);
        let mut visited = Vec::new();
        let plan = plan_scoped_walk(&strings(&["data/m1"]), None, &index, true, |p| {
            visited.push(p.to_string());
            fake_stat(&["data/m1/a", "data/m2/b", "data/m2/c"])(p)
        });
        assert_eq!(visited, ["data/m1"]);
        assert_eq!(rels(&plan), ["data/m1/a"]);
        assert!(plan.deletions.is_empty());
    }

    #[test]
    fn absent_dirty_path_deletes_its_keys() {
        let index = index_of(&[
            "data/m1/a",
            "data/m1/b/c",
            "data/m10/x",
            "data/m1",
            "_index/x",
        ]);
        let plan = plan_scoped_walk(&strings(&["data/m1"]), None, &index, true, fake_stat(&[]));
        assert!(plan.candidates.is_empty());
        assert_eq!(plan.deletions, ["data/m1/a", "data/m1/b/c", "data/m1"]);
        // Lazy guard: nothing deleted.
        let plan = plan_scoped_walk(&strings(&["data/m1"]), None, &index, false, fake_stat(&[]));
        assert!(plan.deletions.is_empty());
    }

    #[test]
    fn partial_deletion_inside_surviving_directory() {
        let index = index_of(&["data/m1/a", "data/m1/b", "data/m2/z"]);
        let plan = plan_scoped_walk(
            &strings(&["data/m1"]),
            None,
            &index,
            true,
            fake_stat(&["data/m1/a", "data/m2/z"]),
        );
        assert_eq!(rels(&plan), ["data/m1/a"]);
        assert_eq!(plan.deletions, ["data/m1/b"]);
    }

    #[test]
    fn directory_listing_outside_the_directory_is_ignored() {
        let index = index_of(&["data/m1/a"]);
        let plan = plan_scoped_walk(&strings(&["data/m1"]), None, &index, true, |_| {
            DirtyPathStat::Dir {
                files: strings(&["data/m1/b", "data/m10/a", "data/m1"]),
            }
        });
        assert_eq!(rels(&plan), ["data/m1/b"]);
        assert_eq!(plan.skipped_unsafe, 2);
        assert_eq!(plan.deletions, ["data/m1/a"]);
    }

    #[test]
    fn unreadable_paths_are_skipped() {
        let index = index_of(&["data/a"]);
        let plan = plan_scoped_walk(&strings(&["data/a"]), None, &index, true, |_| {
            DirtyPathStat::Unreadable
        });
        assert_eq!(plan, WalkPlan::default());
    }

    #[test]
    fn scoped_walk_strips_namespace_and_guards_it() {
        let index = index_of(&["data/m1/a", "data/m1/gone"]);
        let plan = plan_scoped_walk(
            &strings(&["ns1/data/m1", "data/m1", "ns10/x"]),
            Some("ns1"),
            &index,
            true,
            fake_stat(&["ns1/data/m1/a", "ns1/data/m1/_catalog.db", "data/m1/a"]),
        );
        assert_eq!(rels(&plan), ["data/m1/a"]);
        assert_eq!(plan.candidates[0].cache_rel, "ns1/data/m1/a");
        assert_eq!(plan.deletions, ["data/m1/gone"]);
        assert_eq!(plan.skipped_outside_namespace, 2);
    }

    #[test]
    fn namespaced_internal_files_are_never_candidates() {
        let index = index_of(&[]);
        let plan = plan_scoped_walk(
            &strings(&["ns1"]),
            Some("ns1"),
            &index,
            true,
            fake_stat(&[
                "ns1/.datastore-index.json",
                "ns1/_index/_meta.json",
                "ns1/_control/k",
                "ns1/.namespace.json",
                "ns1/data/x",
            ]),
        );
        assert_eq!(rels(&plan), ["data/x"]);
    }

    #[test]
    fn dirty_cache_root_with_namespace_walks_the_namespace_dir() {
        let index = index_of(&["data/x", "data/y"]);
        let plan = plan_scoped_walk(
            &strings(&[""]),
            Some("ns1"),
            &index,
            true,
            fake_stat(&["ns1/data/x", "other/data/z"]),
        );
        assert_eq!(rels(&plan), ["data/x"]);
        // Root of the namespace: no partial deletion (as upstream).
        assert!(plan.deletions.is_empty());
    }

    #[test]
    fn full_walk_guards_and_orphans() {
        let files = strings(&[
            "ns1/data/a",
            "ns1/.namespace.json",
            "data/leftover",
            "foreign/.namespace.json",
            "foreign/data/b",
            ".datastore-sync-state.json",
            "ns1/_catalog.db-wal",
        ]);
        let dirs = namespace_dirs_from_listing(&files, Some("ns1"));
        assert_eq!(dirs, ["foreign"]);
        let index = index_of(&["data/a", "data/orphan", "foreign/x", "_index/k"]);
        let plan = plan_full_walk(&files, Some("ns1"), &index, &dirs, true);
        assert_eq!(rels(&plan), ["data/a"]);
        assert_eq!(plan.candidates[0].cache_rel, "ns1/data/a");
        assert_eq!(plan.skipped_outside_namespace, 1);
        assert_eq!(plan.skipped_in_namespace_dirs, 1);
        assert_eq!(plan.deletions, ["data/orphan"]);
        let plan = plan_full_walk(&files, Some("ns1"), &index, &dirs, false);
        assert!(plan.deletions.is_empty());
    }

    #[test]
    fn solo_full_walk_skips_namespace_directories_and_spares_their_entries() {
        let files = strings(&[
            "ns1/.namespace.json",
            "ns1/data/a",
            "ns2/.namespace.json",
            "data/b",
            "data/b",
            "plain/.namespace.json.bak",
        ]);
        let dirs = namespace_dirs_from_listing(&files, None);
        assert_eq!(dirs, ["ns1", "ns2"]);
        let index = index_of(&["ns1/data/old", "data/orphan"]);
        let plan = plan_full_walk(&files, None, &index, &dirs, true);
        assert_eq!(rels(&plan), ["data/b", "plain/.namespace.json.bak"]);
        // The manifests themselves are internal files, never pushed by any walk.
        assert_eq!(plan.skipped_in_namespace_dirs, 1);
        assert_eq!(
            plan.deletions,
            ["data/orphan"],
            "nothing below ns1/ is deleted"
        );
    }

    #[test]
    fn local_has_all_table() {
        let index = index_of(&["data/a", "_catalog.db"]);
        let sizes: HashMap<&str, u64> = [("ns1/data/a", 1)].into_iter().collect();
        let stat = |_: &str, p: &CachePath| sizes.get(p.as_str()).copied();
        assert!(local_has_all_remote_entries(
            Some(&index),
            false,
            Some("ns1"),
            stat
        ));
        assert!(!local_has_all_remote_entries(
            Some(&index),
            true,
            Some("ns1"),
            stat
        ));
        assert!(!local_has_all_remote_entries(
            Some(&index),
            false,
            None,
            stat
        ));
        assert!(!local_has_all_remote_entries(None, false, None, stat));
        let wrong_size: HashMap<&str, u64> = [("data/a", 2)].into_iter().collect();
        assert!(!local_has_all_remote_entries(
            Some(&index),
            false,
            None,
            |_, p| wrong_size.get(p.as_str()).copied()
        ));
        let evil = index_of(&["../etc/passwd"]);
        assert!(!local_has_all_remote_entries(
            Some(&evil),
            false,
            None,
            |_, _| Some(1)
        ));
        assert!(local_has_all_remote_entries(
            Some(&index_of(&[])),
            false,
            None,
            |_, _| None
        ));
    }
}
