//! The local cache: the one directory the sandbox preopens, and the only code in the crate
//! that touches the filesystem.
//!
//! Every file is named by a [`CachePath`] (checked once, where the name came from) or is
//! one of the sync machinery's own files ([`OwnFile`]). Rules kept here, all deliberate:
//! * Nothing is read, written or removed through a symlink: stats never follow links,
//!   reads refuse anything but a regular file, and a write or removal below a symlinked
//!   directory is refused (it could lead outside the cache).
//! * Every write is atomic ([`atomic`]): a crash never leaves a half-written file under
//!   its real name, and the debris of a killed writer is removed by the next write of the
//!   same file.
//! * Walks ([`walk`]) skip links, temporary files and names that cannot be index keys,
//!   and say whether they saw everything, so a push never deletes by absence after an
//!   incomplete walk.
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | [`LocalCache`]: stat, read, atomic write, removal, the machinery's own files |
//! | [`atomic`] | temporary siblings, rename, debris names |
//! | [`stat`] | [`LocalStat`]: size and mtime in the index's formats |
//! | [`sys`] | the hot paths' stat, read, write and listing in the fewest host calls |
//! | [`walk`] | sorted symlink-safe walks, dirty-path probes, [`WalkStats`] |

mod atomic;
mod stat;
mod sys;
mod walk;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

pub use atomic::TMP_SUFFIX;
pub use stat::{is_absent, LocalStat};
pub use walk::{Probe, WalkStats};

use crate::error::{Error, ErrorKind, Result};
use crate::paths::CachePath;
use crate::sync::core::keys::{INDEX_FILE, SYNC_STATE_FILE};
use stat::local_path;

/// Tests count the data-file stats and reads of this thread, to prove each file is read
/// once per push.
#[cfg(test)]
pub(crate) mod io_count {
    use std::cell::Cell;
    thread_local! {
        pub(crate) static STATS: Cell<usize> = const { Cell::new(0) };
        pub(crate) static READS: Cell<usize> = const { Cell::new(0) };
    }
    /// (stats, reads) since the last call, reset to zero.
    pub(crate) fn take() -> (usize, usize) {
        (STATS.with(|c| c.replace(0)), READS.with(|c| c.replace(0)))
    }
}

/// Where the host preopens the cache, unless it says otherwise in `SWAMP_GCS_CACHE_DIR`.
pub const DEFAULT_CACHE_MOUNT: &str = "/cache";

/// The sync machinery's own files in the cache root (never synced as data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnFile {
    /// `.datastore-index.json`: the index as this cache last synced it (the base of the
    /// three-way decisions).
    LocalIndex,
    /// `.datastore-sync-state.json`: the dirty set and the fast-path fingerprint.
    Sidecar,
}

impl OwnFile {
    /// The file name in the cache root.
    pub fn name(self) -> &'static str {
        match self {
            OwnFile::LocalIndex => INDEX_FILE,
            OwnFile::Sidecar => SYNC_STATE_FILE,
        }
    }
}

/// The cache directory.
#[derive(Debug, Clone)]
pub struct LocalCache {
    root: PathBuf,
}

impl LocalCache {
    /// The cache rooted at `root` (a guest path; created on the first write if missing).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalCache { root: root.into() }
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn local(&self, path: &CachePath) -> PathBuf {
        self.root.join(path.as_str())
    }

    // ----- data files -----

    /// Stat a regular file without following symlinks: `Ok(None)` when there is no
    /// regular file there (absent, a directory, a link, anything else).
    pub fn stat(&self, path: &CachePath) -> io::Result<Option<LocalStat>> {
        #[cfg(test)]
        io_count::STATS.with(|c| c.set(c.get() + 1));
        stat::stat_file(&self.root, path.as_str())
    }

    /// Stats for one planning pass over many paths: a path whose directory does not exist
    /// is known absent without a stat of its own (see [`TreeStat`]).
    pub fn tree_stat(&self) -> TreeStat<'_> {
        TreeStat {
            cache: self,
            dirs: RefCell::new(HashMap::new()),
        }
    }

    /// Read a whole regular file; a link or anything else is refused. For files a walk
    /// found (never through a link); see [`Self::read_unwalked`] for named ones.
    pub fn read(&self, path: &CachePath) -> io::Result<Vec<u8>> {
        #[cfg(test)]
        io_count::READS.with(|c| c.set(c.get() + 1));
        sys::read_regular(&self.local(path))
    }

    /// Read a whole regular file named from outside a walk (a host argument): refused
    /// when the file or a directory above it inside the cache is a symlink, so a link can
    /// never hand out a file from elsewhere.
    pub fn read_unwalked(&self, path: &CachePath) -> io::Result<Vec<u8>> {
        if walk::symlink_ancestor(&self.root, path.as_str()) {
            return Err(io::Error::other(
                "refusing to read through a symlinked directory",
            ));
        }
        self.read(path)
    }

    /// A writer for one call: it remembers the directories it checked for links and the
    /// temporary names it found, so a pull of many files into one directory checks and
    /// lists it once.
    pub fn writer(&self) -> CacheWriter<'_> {
        CacheWriter {
            cache: self,
            checked_dirs: RefCell::new(HashSet::new()),
            tmp_listing: RefCell::new(HashMap::new()),
        }
    }

    /// Remove a file the remote deleted, then the directories that leaves empty, up to
    /// but not including the root or `keep_dir` (the namespace directory). Never a link,
    /// never through a symlinked directory. Returns whether the file is gone.
    pub fn remove_file(&self, path: &CachePath, keep_dir: Option<&str>) -> bool {
        if walk::symlink_ancestor(&self.root, path.as_str()) {
            return false;
        }
        let local = self.local(path);
        let gone = match std::fs::symlink_metadata(&local) {
            Ok(meta) if meta.is_file() => std::fs::remove_file(&local).is_ok(),
            Ok(_) => false,
            Err(e) => is_absent(&e),
        };
        if gone {
            let mut rel = path.as_str();
            while let Some((parent, _)) = rel.rsplit_once('/') {
                if Some(parent) == keep_dir
                    || std::fs::remove_dir(local_path(&self.root, parent)).is_err()
                {
                    break;
                }
                rel = parent;
            }
        }
        gone
    }

    /// `mkdir -p` of a directory (lazy pulls create the parents of the raws they skip, so
    /// the repository's layout exists); refused through a symlinked directory.
    pub fn create_dir(&self, dir: &CachePath) -> Result<()> {
        if walk::symlink_ancestor(&self.root, &format!("{dir}/x")) {
            return Err(Error::new(
                ErrorKind::UnsafePath,
                format!(
                    "refusing to create {:?} through a symlinked directory",
                    dir.as_str()
                ),
            ));
        }
        std::fs::create_dir_all(self.local(dir))
            .map_err(|e| Error::io("create directory", dir.as_str(), &e))
    }

    // ----- walks -----

    /// Every regular file below `start` (`""` = the whole cache), cache-relative, in
    /// sorted depth-first order. A missing start is an empty listing.
    pub fn walk(&self, start: &str, stats: &mut WalkStats) -> Vec<String> {
        walk::walk_files(&self.root, start, stats)
    }

    /// What is at a dirty path (normalised, `""` = the root), without following links.
    pub fn probe(&self, rel: &str, stats: &mut WalkStats) -> Probe {
        walk::probe(&self.root, rel, stats)
    }

    /// Whether `rel` is a link or lies below one: such a path is never synced, so a walk
    /// that skipped it has not seen it gone either.
    pub fn is_symlink_or_below(&self, rel: &str) -> bool {
        walk::is_symlink_or_below(&self.root, rel)
    }

    // ----- the machinery's own files -----

    /// Read one of the machinery's files: `None` when missing, not a regular file, larger
    /// than `max_bytes` or unreadable (each caller reads that as "no record", the safe
    /// reading).
    pub fn read_own(&self, file: OwnFile, max_bytes: u64) -> Option<Vec<u8>> {
        let local = self.root.join(file.name());
        let meta = std::fs::symlink_metadata(&local).ok()?;
        if !meta.is_file() || meta.len() > max_bytes {
            return None;
        }
        std::fs::read(local).ok()
    }

    /// Write one of the machinery's files atomically.
    pub fn write_own(&self, file: OwnFile, data: &[u8], nonce: u64) -> Result<()> {
        atomic::write_atomic_path(&self.root.join(file.name()), file.name(), data, nonce).map(drop)
    }

    /// Modification time of one of the machinery's files (unix ms), if it exists.
    pub fn own_mtime_ms(&self, file: OwnFile) -> Option<i64> {
        stat::stat_file(&self.root, file.name())
            .ok()
            .flatten()
            .and_then(|s| s.mtime_ms)
    }
}

/// Stats of many files in one pass (see [`LocalCache::tree_stat`]). It remembers which
/// directories exist, so a pull into an empty or partly empty cache asks once per missing
/// directory instead of once per file (a failed stat is the expensive kind under the
/// JavaScript host). Directories are looked at the way a stat of a file below them
/// resolves them, following links, so the answers are the ones [`LocalCache::stat`] gives.
pub struct TreeStat<'a> {
    cache: &'a LocalCache,
    /// Directory (cache-relative) → whether it exists.
    dirs: RefCell<HashMap<String, bool>>,
}

impl TreeStat<'_> {
    /// [`LocalCache::stat`], answered without a stat when the file's directory is missing.
    pub fn stat(&self, path: &CachePath) -> io::Result<Option<LocalStat>> {
        let parent = path.parent();
        if !parent.is_empty() && !self.dir_exists(parent) {
            return Ok(None);
        }
        self.cache.stat(path)
    }

    fn dir_exists(&self, dir: &str) -> bool {
        if let Some(&known) = self.dirs.borrow().get(dir) {
            return known;
        }
        let exists = match dir.rsplit_once('/') {
            Some((up, _)) if !self.dir_exists(up) => false,
            _ => std::fs::metadata(local_path(&self.cache.root, dir)).is_ok_and(|m| m.is_dir()),
        };
        self.dirs.borrow_mut().insert(dir.to_string(), exists);
        exists
    }
}

/// Atomic writes of data files for one call (see [`LocalCache::writer`]).
pub struct CacheWriter<'a> {
    cache: &'a LocalCache,
    /// Parent directories already found free of links.
    checked_dirs: RefCell<HashSet<String>>,
    /// Temporary names found per directory, each directory listed once.
    tmp_listing: RefCell<HashMap<String, Vec<String>>>,
}

impl CacheWriter<'_> {
    /// Write `data` to `path` atomically, creating parents, and return the written file's
    /// stat. Refused below a symlinked directory. Before writing, the temporary siblings
    /// an earlier write of the same file left behind (its process killed between creating
    /// and renaming them) are removed: the walks' age rule would keep them for
    /// [`walk::STALE_TMP_AGE`], and a pull never walks.
    pub fn write(&self, path: &CachePath, data: &[u8], nonce: u64) -> Result<LocalStat> {
        self.check_no_symlink_dirs(path)?;
        self.remove_crash_debris(path);
        atomic::write_atomic_path(&self.cache.local(path), path.as_str(), data, nonce)
    }

    fn check_no_symlink_dirs(&self, path: &CachePath) -> Result<()> {
        let parent = path.parent();
        if parent.is_empty() || self.checked_dirs.borrow().contains(parent) {
            return Ok(());
        }
        if walk::symlink_ancestor(&self.cache.root, path.as_str()) {
            return Err(Error::new(
                ErrorKind::UnsafePath,
                format!(
                    "refusing to write {:?} through a symlinked directory",
                    path.as_str()
                ),
            ));
        }
        self.checked_dirs.borrow_mut().insert(parent.to_string());
        Ok(())
    }

    /// A live writer of the same file would race with this one regardless (the last
    /// rename wins, the other fails cleanly). Best effort: debris only costs space.
    fn remove_crash_debris(&self, path: &CachePath) {
        let dir = path.parent();
        let dir_path = local_path(&self.cache.root, dir);
        let mut listing = self.tmp_listing.borrow_mut();
        let found = listing.entry(dir.to_string()).or_insert_with(|| {
            std::fs::read_dir(&dir_path)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .filter(|n| n.ends_with(TMP_SUFFIX))
                        .collect()
                })
                .unwrap_or_default()
        });
        let stem = atomic::tmp_stem(path.file_name());
        found.retain(|tmp| {
            if atomic::tmp_target(tmp) != Some(stem) {
                return true;
            }
            let _ = std::fs::remove_file(dir_path.join(tmp));
            false
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::tests_support::TempDir;

    /// A planning pass answers exactly what single stats answer, and stats no file whose
    /// directory is missing (a cold pull into an empty cache makes one look in all).
    #[test]
    fn tree_stat_answers_like_stat_and_skips_files_of_missing_directories() {
        let dir = TempDir::new("tree-stat");
        dir.write("data/a/present", b"12345");
        dir.write("data/file-not-dir", b"x");
        let cache = LocalCache::new(dir.path());
        let paths = [
            "data/a/present",
            "data/a/absent",
            "data/missing/one",
            "data/missing/deeper/two",
            "data/file-not-dir/under",
            "top-level-absent",
        ];
        let single: Vec<_> = paths
            .iter()
            .map(|p| cache.stat(&CachePath::new(p).unwrap()).unwrap())
            .collect();
        io_count::take();
        let tree = cache.tree_stat();
        let planned: Vec<_> = paths
            .iter()
            .map(|p| tree.stat(&CachePath::new(p).unwrap()).unwrap())
            .collect();
        assert_eq!(planned, single);
        assert_eq!(planned[0].as_ref().map(|s| s.size), Some(5));
        // Only the files in existing directories were stat'ed.
        assert_eq!(io_count::take().0, 3, "present, absent, top-level-absent");

        let empty = TempDir::new("tree-stat-empty");
        let cache = LocalCache::new(empty.path().join("not-created-yet"));
        let tree = cache.tree_stat();
        for i in 0..100 {
            let p = CachePath::new(&format!("data/m{}/f{i}", i % 7)).unwrap();
            assert_eq!(tree.stat(&p).unwrap(), None);
        }
        assert_eq!(
            io_count::take().0,
            0,
            "no file of a missing tree is stat'ed"
        );
    }
}
