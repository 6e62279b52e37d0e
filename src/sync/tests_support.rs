//! Test-only helpers for the sync service: temporary cache directories, a service on the
//! in-memory fake GCS, remote index readers and writers, upload logs.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use super::core::index::Index;
use super::service::{SyncOptions, SyncService};
use crate::gcs::NoAuth;
use crate::test_doubles::{run, FakeGcs};

/// The service type every test uses.
pub type Svc = SyncService<FakeGcs, NoAuth>;

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// A directory under the system temp dir, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A fresh empty directory whose name starts with `tag`.
    pub fn new(tag: &str) -> Self {
        let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("gcs-ds-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write `rel` (creating parents).
    pub fn write(&self, rel: &str, data: &[u8]) {
        let p = self.path.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, data).expect("write");
    }

    /// Read `rel`.
    pub fn read(&self, rel: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path.join(rel)).ok()
    }

    /// Whether `rel` exists.
    pub fn exists(&self, rel: &str) -> bool {
        self.path.join(rel).exists()
    }

    /// Remove a file or directory tree.
    pub fn remove(&self, rel: &str) {
        let p = self.path.join(rel);
        if p.is_dir() {
            std::fs::remove_dir_all(p).expect("rmdir");
        } else {
            std::fs::remove_file(p).expect("rm");
        }
    }

    /// Set the mtime of `rel` to `unix_ms`.
    pub fn set_mtime(&self, rel: &str, unix_ms: i64) {
        let f = std::fs::File::options()
            .write(true)
            .open(self.path.join(rel))
            .expect("open for mtime");
        let t = UNIX_EPOCH + Duration::from_millis(unix_ms as u64);
        f.set_modified(t).expect("set mtime");
    }

    /// Every file below the directory (relative, sorted), internal files included.
    pub fn files(&self) -> Vec<String> {
        let mut stats = crate::cache::WalkStats::default();
        crate::cache::LocalCache::new(&self.path).walk("", &mut stats)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A service on `fake` for `cache`; `extra` is appended to the client config JSON.
pub fn service(fake: &Rc<FakeGcs>, cache: &TempDir, extra: &str) -> Svc {
    SyncService::new(fake.client(extra), cache.path().to_path_buf())
}

/// Options with nothing set.
pub fn opts() -> SyncOptions {
    SyncOptions::default()
}

/// `markDirty({relPath})` options.
pub fn rel(path: &str) -> SyncOptions {
    SyncOptions {
        rel_path: Some(path.to_string()),
        ..SyncOptions::default()
    }
}

/// The remote monolith (solo key) parsed.
pub fn remote_index(fake: &FakeGcs) -> Index {
    remote_index_at(fake, ".datastore-index.json")
}

/// A remote index object parsed.
pub fn remote_index_at(fake: &FakeGcs, key: &str) -> Index {
    let bytes = fake.data(key).expect("remote index exists");
    Index::parse(&bytes).expect("remote index parses").0
}

/// The sidecar file as JSON.
pub fn sidecar(cache: &TempDir) -> serde_json::Value {
    let bytes = cache
        .read(".datastore-sync-state.json")
        .expect("sidecar exists");
    serde_json::from_slice(&bytes).expect("sidecar is JSON")
}

/// Run a push and unwrap.
pub fn push(svc: &Svc) -> super::SyncReport {
    run(svc.push(&opts())).expect("push")
}

/// Run an unscoped pull and unwrap.
pub fn pull(svc: &Svc) -> super::SyncReport {
    run(svc.pull(&opts())).expect("pull")
}

/// Mark `path` dirty and unwrap.
pub fn mark(svc: &Svc, path: &str) {
    run(svc.mark_dirty(&rel(path))).expect("markDirty");
}

/// One entry for [`put_remote_index`]: `(key, size, localMtime, sha256)`.
pub type EntrySpec<'a> = (&'a str, u64, Option<&'a str>, Option<&'a str>);

/// Store a monolith at `key` as another client would (compact JSON, `lastModified` fixed).
pub fn put_remote_index_at(fake: &FakeGcs, key: &str, entries: &[EntrySpec<'_>]) {
    let mut index = Index::new("2026-07-01T00:00:00.000Z");
    for (k, size, mtime, sha) in entries {
        index.entries.insert(super::core::index::IndexEntry {
            key: k.to_string(),
            size: *size,
            last_modified: "2026-07-01T00:00:00.000Z".to_string(),
            local_mtime: mtime.map(str::to_string),
            sha256: sha.map(str::to_string),
        });
    }
    fake.put(key, index.to_compact_json().expect("json").as_bytes(), 0);
}

/// [`put_remote_index_at`] for the solo monolith key.
pub fn put_remote_index(fake: &FakeGcs, entries: &[EntrySpec<'_>]) {
    put_remote_index_at(fake, ".datastore-index.json", entries);
}

/// Store data objects and a monolith listing them (what another client's push leaves).
pub fn put_remote_files(fake: &FakeGcs, files: &[(&str, &[u8])]) {
    let specs: Vec<EntrySpec<'_>> = files
        .iter()
        .map(|(k, d)| (*k, d.len() as u64, None, None))
        .collect();
    for (k, d) in files {
        fake.put(k, d, 0);
    }
    put_remote_index(fake, &specs);
}

/// Names of objects uploaded (in request order) since the log was last cleared.
pub fn uploaded(fake: &FakeGcs) -> Vec<String> {
    fake.log()
        .into_iter()
        .filter(|r| r.kind == crate::test_doubles::Kind::Upload)
        .map(|r| r.name)
        .collect()
}

/// Data objects uploaded (index objects excluded).
pub fn uploaded_data(fake: &FakeGcs) -> Vec<String> {
    uploaded(fake)
        .into_iter()
        .filter(|n| !n.ends_with(".datastore-index.json") && !n.contains("_index/"))
        .collect()
}

/// Local mtime of `rel` as the `localMtime` string.
pub fn mtime_iso(cache: &TempDir, rel: &str) -> String {
    stat_of(cache, rel)
        .expect("stat")
        .expect("file")
        .mtime_iso
        .expect("mtime")
}

/// Stat a file of a test cache through the cache object.
pub fn stat_of(cache: &TempDir, rel: &str) -> std::io::Result<Option<crate::cache::LocalStat>> {
    let path =
        crate::paths::CachePath::new(rel).map_err(|e| std::io::Error::other(e.to_string()))?;
    crate::cache::LocalCache::new(cache.path()).stat(&path)
}
