//! A temporary cache directory inside a temporary parent, so scenarios can check that
//! nothing was written next to the cache.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

static NEXT: AtomicU64 = AtomicU64::new(0);

/// The cache is `<parent>/cache`; both are removed on drop.
pub struct Cache {
    outer: PathBuf,
    root: PathBuf,
}

impl Default for Cache {
    fn default() -> Self {
        Cache::new()
    }
}

impl Cache {
    /// A fresh empty cache in a fresh parent under the system temp dir.
    pub fn new() -> Cache {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let outer =
            std::env::temp_dir().join(format!("swamp-gcs-test-{}-{n}-{nanos}", std::process::id()));
        let root = outer.join("cache");
        std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("create {}: {e}", root.display()));
        Cache { outer, root }
    }

    /// The cache directory (what the component sees as `/cache`).
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The directory holding the cache: outside the sandbox.
    pub fn outside(&self) -> &Path {
        &self.outer
    }

    /// The path of `rel` in the cache.
    pub fn file(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Write `rel`, creating its parents.
    pub fn write(&self, rel: &str, data: &[u8]) {
        let p = self.file(rel);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&p, data).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }

    /// The bytes of `rel`, which must exist.
    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.file(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// Whether `rel` exists.
    pub fn exists(&self, rel: &str) -> bool {
        self.file(rel).exists()
    }

    /// Remove a file or a directory tree.
    pub fn remove(&self, rel: &str) {
        let p = self.file(rel);
        if p.is_dir() {
            std::fs::remove_dir_all(p).expect("rmdir");
        } else {
            std::fs::remove_file(p).expect("rm");
        }
    }

    /// Unix milliseconds of the mtime of `rel` (truncated, like JS `Date`).
    pub fn mtime_ms(&self, rel: &str) -> i64 {
        let t = std::fs::metadata(self.file(rel))
            .and_then(|m| m.modified())
            .unwrap_or_else(|e| panic!("mtime of {rel}: {e}"));
        t.duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as i64
    }

    /// Every file and symlink under the cache, as sorted cache-relative paths.
    pub fn files(&self) -> Vec<String> {
        walk(&self.root)
            .into_iter()
            .map(|p| {
                p.strip_prefix(&self.root)
                    .expect("below the cache")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    /// Names directly inside the parent of the cache (normally just `cache`).
    pub fn outside_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.outer)
            .expect("read the parent")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.outer);
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}
