//! The cache directory: the one preopened directory of the sandbox.
//!
//! Every local path is built here from a cache-relative key after the key was checked to
//! stay inside the cache, and every file is written atomically (temporary file in the same
//! directory, then rename) so a crash never leaves a half-written file under its real name.

use super::stat::LocalStat;
use super::sys;
use crate::error::{Error, Result};
use std::path::Path;

/// Suffix of temporary files; the walkers skip them and a rerun removes stale ones.
pub const TMP_SUFFIX: &str = ".swamp-tmp";

/// Bytes of a file's own name kept in its temporary sibling's name. The rest of that name
/// takes 28 bytes (`.`, `.`, 16 hex digits, the suffix), so a file whose name is at the
/// filesystem's limit (255 bytes) still gets a temporary name within it.
const TMP_STEM_MAX: usize = 200;
const _: () = assert!(1 + TMP_STEM_MAX + 1 + 16 + TMP_SUFFIX.len() <= 255);

/// The longest prefix of `name` of at most [`TMP_STEM_MAX`] bytes ending on a character
/// boundary.
pub(super) fn tmp_stem(name: &str) -> &str {
    let mut end = name.len().min(TMP_STEM_MAX);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// The file a temporary name `.{name}.{16 hex digits}{TMP_SUFFIX}` belongs to (`name`
/// cut to [`tmp_stem`] for long names, as [`write_atomic_path`] makes it).
pub(super) fn tmp_target(tmp: &str) -> Option<&str> {
    let rest = tmp.strip_prefix('.')?.strip_suffix(TMP_SUFFIX)?;
    let (name, nonce) = rest.rsplit_once('.')?;
    (nonce.len() == 16 && nonce.bytes().all(|b| b.is_ascii_hexdigit())).then_some(name)
}

/// Write `data` to `path` through a temporary sibling and a rename, and return the
/// written file's stat (read from the handle, so the caller needs no second stat; a rename
/// keeps the file's times).
///
/// The parent directory is created only when the temporary file cannot be created for
/// want of it: on a pull into an existing tree that saves a stat per file.
pub(super) fn write_atomic_path(
    path: &Path,
    shown: &str,
    data: &[u8],
    nonce: u64,
) -> Result<LocalStat> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{}.{nonce:016x}{TMP_SUFFIX}", tmp_stem(name)));
    let result = match sys::write_then_rename(&tmp, path, data) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io("create directory for", shown, &e))?;
            sys::write_then_rename(&tmp, path, data)
        }
        other => other,
    };
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("write", shown, &e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let path = dir.join("a/b/c.txt");
        write_atomic_path(&path, "a/b/c.txt", b"one", 1).unwrap();
        write_atomic_path(&path, "a/b/c.txt", b"two", 2).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
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
        assert_eq!(meta, LocalStat::from_metadata(&on_disk));
        assert_eq!(meta.size, 5);
        // A parent that is a file: an error, and no temporary file anywhere.
        let e = write_atomic_path(&path.join("under-a-file"), "x/y/z.bin/under-a-file", b"", 4)
            .unwrap_err();
        assert!(
            e.message().contains("x/y/z.bin/under-a-file"),
            "{}",
            e.message()
        );
        let names: Vec<_> = std::fs::read_dir(dir.join("x/y"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("z.bin")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temp_names_map_back_to_their_file_also_for_long_names() {
        let short = format!(".a.json.{:016x}{TMP_SUFFIX}", 0xdead_beef_u64);
        assert_eq!(tmp_target(&short), Some("a.json"));
        let long = "n".repeat(250);
        let tmp = format!(".{}.{:016x}{TMP_SUFFIX}", tmp_stem(&long), 7u64);
        assert_eq!(tmp_target(&tmp), Some(tmp_stem(&long)));
        assert_ne!(tmp_stem(&long), long, "the stem is cut");
        assert_eq!(tmp_target(&format!(".a.json.nothex{TMP_SUFFIX}")), None);
    }
}
