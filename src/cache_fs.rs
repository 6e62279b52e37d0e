//! The cache directory: the one preopened directory of the sandbox.
//!
//! Every local path is built here from a cache-relative key after the key was checked to
//! stay inside the cache, and every file is written atomically (temporary file in the same
//! directory, then rename) so a crash never leaves a half-written file under its real name.

use crate::error::{Error, Result};
use crate::paths::has_drive_prefix;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Where the host preopens the cache, unless it says otherwise in `SWAMP_GCS_CACHE_DIR`.
pub const DEFAULT_CACHE_MOUNT: &str = "/cache";

/// Suffix of temporary files; the walkers skip them and a rerun removes stale ones.
pub const TMP_SUFFIX: &str = ".swamp-tmp";

/// The cache root.
#[derive(Debug, Clone)]
pub struct CacheDir {
    root: PathBuf,
}

/// Check that a cache-relative key stays inside the cache: no absolute path, no drive
/// prefix (`C:` is absolute or drive-relative on Windows), no `..`, no empty or `.`
/// segment, no backslash (a TypeScript client on Windows would treat it as a separator),
/// no NUL.
pub fn check_rel(rel: &str) -> Result<()> {
    let reason = if rel.is_empty() {
        Some("empty path")
    } else if rel.starts_with('/') {
        Some("absolute path")
    } else if has_drive_prefix(rel) {
        Some("drive prefix")
    } else if rel.contains('\\') {
        Some("backslash in path")
    } else if rel.contains('\0') {
        Some("NUL byte in path")
    } else if rel.split('/').any(|s| s == "..") {
        Some("`..` segment escapes the cache")
    } else if rel.split('/').any(|s| s.is_empty() || s == ".") {
        Some("empty or `.` segment")
    } else if rel.len() > 4096 {
        Some("path longer than 4096 bytes")
    } else {
        None
    };
    match reason {
        Some(why) => Err(Error::unsafe_path(rel, why)),
        None => Ok(()),
    }
}

impl CacheDir {
    /// A cache rooted at `root` (a guest path).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        CacheDir { root: root.into() }
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The local path of a checked cache-relative key.
    pub fn path(&self, rel: &str) -> Result<PathBuf> {
        check_rel(rel)?;
        Ok(self.root.join(rel))
    }

    /// Read a whole file.
    pub fn read(&self, rel: &str) -> Result<Vec<u8>> {
        let p = self.path(rel)?;
        std::fs::read(&p).map_err(|e| Error::io("read", rel, &e))
    }

    /// Write a file atomically, creating parent directories.
    pub fn write_atomic(&self, rel: &str, data: &[u8], nonce: u64) -> Result<()> {
        let path = self.path(rel)?;
        write_atomic_path(&path, rel, data, nonce).map(drop)
    }
}

/// Bytes of a file's own name kept in its temporary sibling's name. The rest of that name
/// takes 28 bytes (`.`, `.`, 16 hex digits, the suffix), so a file whose name is at the
/// filesystem's limit (255 bytes) still gets a temporary name within it.
const TMP_STEM_MAX: usize = 200;
const _: () = assert!(1 + TMP_STEM_MAX + 1 + 16 + TMP_SUFFIX.len() <= 255);

/// The longest prefix of `name` of at most [`TMP_STEM_MAX`] bytes ending on a character
/// boundary.
pub(crate) fn tmp_stem(name: &str) -> &str {
    let mut end = name.len().min(TMP_STEM_MAX);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Write `data` to `path` through a temporary sibling and a rename, and return the
/// written file's metadata (read from the handle, so the caller needs no second stat; a
/// rename keeps the file's times).
///
/// The parent directory is created only when the temporary file cannot be created for
/// want of it: on a pull into an existing tree that saves a stat per file.
pub fn write_atomic_path(
    path: &Path,
    shown: &str,
    data: &[u8],
    nonce: u64,
) -> Result<std::fs::Metadata> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{}.{nonce:016x}{TMP_SUFFIX}", tmp_stem(name)));
    let file = match std::fs::File::create(&tmp) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io("create directory for", shown, &e))?;
            std::fs::File::create(&tmp)
        }
        other => other,
    };
    let result = file.and_then(|mut f| {
        f.write_all(data)?;
        f.sync_all().or_else(|e| {
            // Some hosts cannot fsync through the sandbox; the rename still keeps readers
            // from seeing a partial file.
            if e.kind() == std::io::ErrorKind::Unsupported {
                Ok(())
            } else {
                Err(e)
            }
        })?;
        let meta = f.metadata()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        Ok(meta)
    });
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("write", shown, &e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_keys_are_refused() {
        for bad in [
            "",
            "/etc/x",
            "../x",
            "a/../../x",
            "a\\..\\x",
            "a//b",
            "./a",
            "a/./b",
            "a/..",
            "a\0b",
            "C:",
            "c:x/y",
        ] {
            assert!(check_rel(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "a",
            "data/@test/model-type-000/u/file-0000.json",
            ".datastore-index.json",
            "a/..b/c..",
            "ü/ñ",
            "a/C:/x",
        ] {
            assert!(check_rel(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn temp_names_stay_within_the_file_name_limit() {
        let long = "n".repeat(255);
        assert_eq!(tmp_stem(&long).len(), TMP_STEM_MAX);
        // A multi-byte character straddling the limit is left out whole.
        let accented = format!("{}é", "a".repeat(TMP_STEM_MAX - 1));
        assert_eq!(tmp_stem(&accented), "a".repeat(TMP_STEM_MAX - 1));
        assert_eq!(tmp_stem("short.json"), "short.json");
    }

    #[test]
    fn atomic_write_leaves_no_temp_files() {
        let dir = std::env::temp_dir().join(format!("cachefs-test-{}", std::process::id()));
        let cache = CacheDir::new(&dir);
        cache.write_atomic("a/b/c.txt", b"one", 1).unwrap();
        cache.write_atomic("a/b/c.txt", b"two", 2).unwrap();
        assert_eq!(cache.read("a/b/c.txt").unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("c.txt")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn atomic_write_creates_missing_parents_and_returns_the_files_metadata() {
        let dir = std::env::temp_dir().join(format!("cachefs-meta-{}", std::process::id()));
        let path = dir.join("x/y/z.bin");
        let meta = write_atomic_path(&path, "x/y/z.bin", b"12345", 3).unwrap();
        let on_disk = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(meta.len(), 5);
        assert_eq!(meta.modified().unwrap(), on_disk.modified().unwrap());
        // A parent that is a file: an error, and no temporary file anywhere.
        let e = write_atomic_path(&path.join("under-a-file"), "x/y/z.bin/under-a-file", b"", 4)
            .unwrap_err();
        assert!(
            e.message.contains("x/y/z.bin/under-a-file"),
            "{}",
            e.message
        );
        let names: Vec<_> = std::fs::read_dir(dir.join("x/y"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("z.bin")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
