//! Walks and probes of the cache tree: which regular files lie below a directory, and
//! what is at a dirty path. Rules, all deliberate:
//! * Symlinks are never followed and never synced: walks use the entry's own file type,
//!   stats use `symlink_metadata`, and a path whose ancestor inside the cache is a symlink
//!   is refused. A symlink could otherwise lead a push to upload (or a pull to overwrite)
//!   files outside the cache. Skipped symlinks are counted so reports can show them.
//! * Our own temporary files (`*.swamp-tmp`, see [`super::atomic`]) are never synced;
//!   a walk removes the ones older than [`STALE_TMP_AGE`] (left by a crash), and leaves
//!   younger ones alone in case another process is mid-write.
//! * Names that are not UTF-8 cannot be index keys; they are skipped and counted. Inside
//!   the component such a name fails its directory entry; the listing ([`super::sys`])
//!   reads `wasi:filesystem` directly and goes on past failed entries, so the directory's
//!   other files are not silently left out of a push.
//! * Entries of a directory are visited in sorted order, so walks — and therefore upload
//!   order and the order new keys enter the index — are deterministic.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::atomic::TMP_SUFFIX;
use super::stat::{is_absent, local_path};
use super::sys;

/// Temporary files older than this are leftovers of a crash and are removed by walks.
pub const STALE_TMP_AGE: Duration = Duration::from_secs(10 * 60);

/// Whether a directory between the cache root and `cache_rel` (exclusive of both) is a
/// symlink. Missing ancestors are not symlinks.
pub fn symlink_ancestor(root: &Path, cache_rel: &str) -> bool {
    let mut path = root.to_path_buf();
    let mut segments = cache_rel.split('/').peekable();
    while let Some(segment) = segments.next() {
        if segments.peek().is_none() {
            break;
        }
        path.push(segment);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

/// Whether `cache_rel` is a symlink or lies below one (inside the cache): such a path is
/// never synced, so a walk that skipped it has not seen it "gone" either.
pub fn is_symlink_or_below(root: &Path, cache_rel: &str) -> bool {
    symlink_ancestor(root, cache_rel)
        || std::fs::symlink_metadata(local_path(root, cache_rel))
            .is_ok_and(|m| m.file_type().is_symlink())
}

/// What a walk found besides the files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalkStats {
    /// Symlinks seen and skipped.
    pub symlinks_skipped: usize,
    /// Stale temporary files removed.
    pub temp_removed: usize,
    /// Entries with names that are not UTF-8 (cannot be keys).
    pub non_utf8_skipped: usize,
    /// Directories or entries that could not be read: the listing is incomplete, so
    /// nothing may be concluded from a file's absence.
    pub unreadable: usize,
}

impl WalkStats {
    /// Add another walk's counts.
    pub fn add(&mut self, other: &WalkStats) {
        self.symlinks_skipped += other.symlinks_skipped;
        self.temp_removed += other.temp_removed;
        self.non_utf8_skipped += other.non_utf8_skipped;
        self.unreadable += other.unreadable;
    }
}

/// Every regular file below `start_rel` (cache-relative; `""` = the whole cache), as
/// cache-relative paths in sorted depth-first order. A missing start is an empty listing.
pub fn walk_files(root: &Path, start_rel: &str, stats: &mut WalkStats) -> Vec<String> {
    let mut files = Vec::new();
    let mut pending = vec![start_rel.to_string()];
    let now = SystemTime::now();
    while let Some(dir_rel) = pending.pop() {
        let listing = match sys::list_dir(&local_path(root, &dir_rel)) {
            Ok(listing) => listing,
            Err(e) if is_absent(&e) => continue,
            Err(_) => {
                stats.unreadable += 1;
                continue;
            }
        };
        stats.non_utf8_skipped += listing.non_utf8;
        stats.unreadable += listing.failed;
        let mut children = listing.children;
        children.sort_by(|a, b| a.0.cmp(&b.0));
        // Directories are pushed in reverse so the stack pops them in sorted order.
        let mut subdirs = Vec::new();
        for (name, kind) in children {
            let rel = if dir_rel.is_empty() {
                name.clone()
            } else {
                format!("{dir_rel}/{name}")
            };
            match kind {
                Kind::Symlink => stats.symlinks_skipped += 1,
                Kind::Dir => subdirs.push(rel),
                Kind::File if name.ends_with(TMP_SUFFIX) => {
                    remove_if_stale(&local_path(root, &rel), now, stats);
                }
                Kind::File => files.push(rel),
                Kind::Other => {}
            }
        }
        pending.extend(subdirs.into_iter().rev());
    }
    files
}

/// What a directory entry is, as far as walks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Dir,
    File,
    Symlink,
    Other,
}

fn remove_if_stale(path: &Path, now: SystemTime, stats: &mut WalkStats) {
    let age = std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|m| now.duration_since(m).ok());
    if age.is_some_and(|a| a >= STALE_TMP_AGE) && std::fs::remove_file(path).is_ok() {
        stats.temp_removed += 1;
    }
}

/// What is at a dirty path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// A regular file.
    File,
    /// A directory and its files (cache-relative).
    Dir(Vec<String>),
    /// Nothing (absence means delete, rule 2 of docs/swamp-contract.md#markdirty-rules).
    Missing,
    /// A symlink at or above the path: never synced, never deleted.
    Symlink,
    /// The path (or part of the directory below it) could not be read.
    Unreadable,
}

/// Probe a dirty path without following symlinks.
pub fn probe(root: &Path, cache_rel: &str, stats: &mut WalkStats) -> Probe {
    if symlink_ancestor(root, cache_rel) {
        stats.symlinks_skipped += 1;
        return Probe::Symlink;
    }
    match std::fs::symlink_metadata(local_path(root, cache_rel)) {
        Ok(meta) if meta.file_type().is_symlink() => {
            stats.symlinks_skipped += 1;
            Probe::Symlink
        }
        Ok(meta) if meta.is_file() => Probe::File,
        Ok(meta) if meta.is_dir() => {
            let mut own = WalkStats::default();
            let files = walk_files(root, cache_rel, &mut own);
            stats.add(&own);
            if own.unreadable > 0 {
                Probe::Unreadable
            } else {
                Probe::Dir(files)
            }
        }
        Ok(_) => Probe::Unreadable,
        Err(e) if is_absent(&e) => Probe::Missing,
        Err(_) => {
            stats.unreadable += 1;
            Probe::Unreadable
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::tests_support::TempDir;

    #[test]
    fn walk_is_sorted_skips_symlinks_and_temp_files() {
        let dir = TempDir::new("localfs-walk");
        dir.write("b/2.txt", b"2");
        dir.write("b/1.txt", b"1");
        dir.write("a.txt", b"a");
        dir.write("b/.x.0000000000000001.swamp-tmp", b"partial");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc", dir.path().join("link")).unwrap();
            std::os::unix::fs::symlink("/etc/hostname", dir.path().join("b/flink")).unwrap();
        }
        let mut stats = WalkStats::default();
        let files = walk_files(dir.path(), "", &mut stats);
        assert_eq!(files, ["a.txt", "b/1.txt", "b/2.txt"]);
        #[cfg(unix)]
        assert_eq!(stats.symlinks_skipped, 2);
        assert_eq!(stats.temp_removed, 0, "a fresh temp file may be in use");
        assert!(dir.path().join("b/.x.0000000000000001.swamp-tmp").exists());
        assert_eq!(
            walk_files(dir.path(), "missing", &mut stats),
            Vec::<String>::new()
        );
    }

    #[cfg(unix)]
    #[test]
    fn probe_refuses_paths_through_symlinks() {
        let dir = TempDir::new("localfs-probe");
        let outside = TempDir::new("localfs-outside");
        outside.write("secret.txt", b"s");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("data")).unwrap();
        let mut stats = WalkStats::default();
        assert_eq!(
            probe(dir.path(), "data/secret.txt", &mut stats),
            Probe::Symlink
        );
        assert_eq!(probe(dir.path(), "data", &mut stats), Probe::Symlink);
        assert_eq!(
            probe(dir.path(), "nothing/here", &mut stats),
            Probe::Missing
        );
        assert!(super::super::LocalCache::new(dir.path())
            .read(&crate::paths::CachePath::new("data").unwrap())
            .is_err());
        assert_eq!(stats.symlinks_skipped, 2);
    }
}
