//! Cache-relative path rules: normalisation of `markDirty` paths, the
//! internal-file predicate, lazy-hydration and namespace-directory tests, the
//! safety check every remote index key must pass, and [`CachePath`], the one
//! type a local file is named by (docs/sync.md#path-rules,
//! docs/hazards.md#unsafe-index-key-throws-out-of-push).
//!
//! All paths here are forward-slash strings relative to the cache directory.
//! None of these functions touch the filesystem: [`crate::cache::LocalCache`]
//! accepts only a [`CachePath`], so every local path was checked once, here.

use crate::error::{Error, Result};

/// Root-level files that belong to the sync machinery itself (rule 1 of
/// docs/sync.md#internal-files).
const INTERNAL_ROOT_FILES: [&str; 4] = [
    ".datastore-index.json",
    ".push-queue.json",
    ".datastore.lock",
    ".datastore-sync-state.json",
];

/// Normalise `rel` the way `path.relative(cache, path.normalize(path.join(cache, rel)))`
/// does for a `markDirty` relPath (docs/sync.md#dirty-path-normalisation), without knowing
/// the cache path.
///
/// * `.` and empty segments vanish, `..` pops: `a/./b/../c` → `a/c`,
///   `a//b/` → `a/b`; the cache root itself → `""`.
/// * An absolute path is joined, not rejected: `/x` → `x` (Node's
///   `join("/cache", "/x")` is `/cache/x`).
/// * `None` means "escapes the cache" and the caller must fall back to bulk
///   invalidation. That covers any `..` climbing above the root — even
///   `../<cache-name>/x`, which Node would accept after re-entering: we do
///   not know the cache's own name, and bulk is the safe answer.
/// * Stricter than Node, also for safety (the component may run on a host
///   where `\` separates paths): a NUL byte, a `..` between backslashes
///   (`a\..\..\x`), a drive-like first segment (`C:`) or a first segment
///   starting with a backslash (`\x`, `\\server\share`: rooted there) count as
///   an escape. Other backslashes are ordinary file-name characters, as on POSIX.
pub fn normalize_rel(rel: &str) -> Option<String> {
    if rel.contains('\0') {
        return None;
    }
    let mut kept: Vec<&str> = Vec::new();
    for segment in rel.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                kept.pop()?;
            }
            name => kept.push(name),
        }
    }
    if kept
        .iter()
        .any(|segment| segment.split('\\').any(|part| part == ".."))
    {
        return None;
    }
    if kept
        .first()
        .is_some_and(|first| has_drive_prefix(first) || first.starts_with('\\'))
    {
        return None;
    }
    Some(kept.join("/"))
}

/// `C:` / `c:...` at the start: absolute (or drive-relative) on Windows hosts.
pub(crate) fn has_drive_prefix(s: &str) -> bool {
    matches!(s.as_bytes(), [letter, b':', ..] if letter.is_ascii_alphabetic())
}

/// The last `/`-separated segment of `rel` (the whole string if it has none).
fn basename(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

/// Whether `rel` names a file that must never cross the sync boundary
/// (docs/sync.md#internal-files, exactly):
/// 1. exactly `.datastore-index.json`, `.push-queue.json`, `.datastore.lock`
///    or `.datastore-sync-state.json` (root only);
/// 2. `_index` or anything under `_index/`;
/// 3. `_control` or anything under `_control/`;
/// 4. basename `.lock` or `.namespace.json` at any depth;
/// 5. basename `_catalog.db` or starting with `_catalog.db-` at any depth.
///
/// Rules 1–3 are anchored at the start of the string, so callers holding a
/// namespace-prefixed path (`ns/_index/x`) must also test the bare rel; the
/// walk planners in [`crate::sync::core::plan`] do both.
pub fn is_internal_cache_file(rel: &str) -> bool {
    if INTERNAL_ROOT_FILES.contains(&rel) {
        return true;
    }
    if rel == "_index" || rel.starts_with("_index/") {
        return true;
    }
    if rel == "_control" || rel.starts_with("_control/") {
        return true;
    }
    let base = basename(rel);
    base == ".lock"
        || base == ".namespace.json"
        || base == "_catalog.db"
        || base.starts_with("_catalog.db-")
}

/// Whether a key of a whole-bucket (solo) listing is a namespace's control-plane record,
/// `{ns}/_control` or below it (docs/sync.md#internal-files, the control-plane note). Rule 3
/// of [`is_internal_cache_file`] is anchored at the root, and a namespace whose
/// `{ns}/.namespace.json` was never written is not skipped as a namespace directory, so a
/// solo discovery would otherwise index such records as data.
pub fn is_namespace_control_record(rel: &str) -> bool {
    match rel.split_once('/') {
        Some((ns, rest)) => !ns.is_empty() && (rest == "_control" || rest.starts_with("_control/")),
        None => false,
    }
}

/// Whether a metadata-only (lazy) pull skips `rel`: at least three segments,
/// the first `data`, the last `raw` (docs/sync.md#lazy-skippable-files; `data/raw`
/// and `outputs/x/1/raw` are not skippable).
pub fn is_lazy_skippable(rel: &str) -> bool {
    let segments: Vec<&str> = rel.split('/').collect();
    segments.len() >= 3 && segments.first() == Some(&"data") && segments.last() == Some(&"raw")
}

/// Whether the first segment of `rel` is one of `namespace_dirs`
/// (an empty set never matches).
pub fn is_inside_namespace_dir<S: AsRef<str>>(rel: &str, namespace_dirs: &[S]) -> bool {
    let first = rel.split('/').next().unwrap_or(rel);
    namespace_dirs.iter().any(|dir| dir.as_ref() == first)
}

/// Longest key echoed back in an error message; longer keys are cut so a
/// hostile index cannot produce megabyte-sized errors.
const MAX_KEY_IN_MESSAGE: usize = 200;

/// Check a **remote** index key (or any rel about to become a local path)
/// before a local path is built from it.
///
/// Rejected, each with an [`ErrorKind::UnsafePath`](crate::error::ErrorKind::UnsafePath)
/// error naming the reason:
/// empty; NUL byte; absolute (`/x`, `\x`); drive prefix (`C:`, `c:x`);
/// any empty, `.` or `..` segment, splitting on both `/` and `\`
/// (`a//b`, `a/./b`, `a/`, `a\..\x`); anything [`normalize_rel`] would change.
///
/// Unlike upstream (which throws "Path traversal detected" from deep inside
/// a walk, docs/hazards.md#unsafe-index-key-throws-out-of-push), callers are expected to
/// skip and report such keys (docs/sync.md#safe-index-keys).
pub fn safe_index_key(key: &str) -> Result<&str> {
    let reason = if key.is_empty() {
        Some("empty key")
    } else if key.contains('\0') {
        Some("contains a NUL byte")
    } else if key.starts_with('/') || key.starts_with('\\') {
        Some("absolute path")
    } else if has_drive_prefix(key) {
        Some("drive prefix")
    } else {
        key.split(['/', '\\']).find_map(|segment| match segment {
            "" => Some("empty path segment"),
            "." => Some("`.` path segment"),
            ".." => Some("`..` path segment"),
            _ => None,
        })
    };
    let reason = reason.or_else(|| {
        (normalize_rel(key).as_deref() != Some(key)).then_some("not a normalized path")
    });
    match reason {
        None => Ok(key),
        Some(why) => Err(Error::unsafe_path(&shorten(key), why)),
    }
}

/// `key` cut to [`MAX_KEY_IN_MESSAGE`] characters (with a marker) for messages.
fn shorten(key: &str) -> String {
    match key.char_indices().nth(MAX_KEY_IN_MESSAGE) {
        None => key.to_string(),
        Some((cut, _)) => format!("{}…", &key[..cut]),
    }
}

/// Check that a cache-relative path stays inside the cache: no absolute path, no drive
/// prefix (`C:` is absolute or drive-relative on Windows), no `..`, no empty or `.`
/// segment, no backslash (a TypeScript client on Windows would treat it as a separator),
/// no NUL, at most 4096 bytes. The same rule guards object keys the host names directly.
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
        Some(why) => Err(Error::unsafe_path(&shorten(rel), why)),
        None => Ok(()),
    }
}

/// A path relative to the cache root that was checked, once, to stay inside it
/// ([`check_rel`]). Built at the boundary (from an index key, a walk entry or a host
/// argument) and the only kind of path the local cache accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CachePath(String);

impl CachePath {
    /// Check a cache-relative path.
    pub fn new(rel: &str) -> Result<CachePath> {
        check_rel(rel)?;
        Ok(CachePath(rel.to_string()))
    }

    /// Where the file of index key `key` lives for namespace `ns` (`[ns/]key`). The key
    /// must be a safe index key and the joined path a safe cache path: an index may hold
    /// keys that are fine as object names (a backslash) but never become local files.
    pub fn for_key(ns: Option<&str>, key: &str) -> Result<CachePath> {
        safe_index_key(key)?;
        CachePath::new(&crate::sync::core::keys::local_rel_path(ns, key))
    }

    /// The path as a string (forward slashes, no leading `/`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parent directory (`""` for a file at the root).
    pub fn parent(&self) -> &str {
        self.0.rsplit_once('/').map_or("", |(p, _)| p)
    }

    /// The last segment.
    pub fn file_name(&self) -> &str {
        self.0.rsplit_once('/').map_or(self.0.as_str(), |(_, n)| n)
    }
}

impl std::fmt::Display for CachePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<&str> for CachePath {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn normalize_rel_table() {
        let rows: &[(&str, Option<&str>)] = &[
            ("a/./b/../c", Some("a/c")),
            ("data/aws/ec2", Some("data/aws/ec2")),
            ("a//b/", Some("a/b")),
            ("./a", Some("a")),
            (".", Some("")),
            ("a/..", Some("")),
            ("/x", Some("x")),
            ("//x/y", Some("x/y")),
            ("/etc/passwd", Some("etc/passwd")),
            ("a\\b", Some("a\\b")),
            ("a/\\b", Some("a/\\b")),
            ("\\x", None),
            ("/\\\\server\\share", None),
            ("..", None),
            ("../../etc/passwd", None),
            ("a/../..", None),
            ("a/../../cache/x", None),
            ("a\\..\\..\\x", None),
            ("C:/x", None),
            ("c:", None),
            ("a/C:/x", Some("a/C:/x")),
            ("a\0b", None),
        ];
        for (input, want) in rows {
            assert_eq!(normalize_rel(input).as_deref(), *want, "{input:?}");
        }
    }

    #[test]
    fn internal_cache_files_positive() {
        for rel in [
            ".datastore-index.json",
            ".push-queue.json",
            ".datastore.lock",
            ".datastore-sync-state.json",
            "_index",
            "_index/_meta.json",
            "_index/data--t--m.json",
            "_control",
            "_control/leases/x",
            ".lock",
            "data/@m/.lock",
            "data/aws/ec2/vpc/abc/.lock",
            ".namespace.json",
            "ns1/.namespace.json",
            "_catalog.db",
            "_catalog.db-wal",
            "_catalog.db-shm",
            "ns/_catalog.db-journal",
        ] {
            assert!(is_internal_cache_file(rel), "{rel} should be internal");
        }
    }

    #[test]
    fn internal_cache_files_negative() {
        for rel in [
            "data/index/file.json",
            "data/@m/.locked.yaml",
            "data/@m/lock",
            "namespace.json",
            "data/control-panel/file.yaml",
            // Anchored rules do not apply below the root.
            "ns/.datastore-index.json",
            "ns/_index/x.json",
            "ns/_control/x",
            "_indexes/x",
            "_controller",
            "x_catalog.db",
            "_catalog.dbx",
            "",
        ] {
            assert!(!is_internal_cache_file(rel), "{rel} should not be internal");
        }
    }

    #[test]
    fn namespace_control_records_table() {
        let rows: &[(&str, bool)] = &[
            ("team/_control/heartbeats/w1", true),
            ("team/_control", true),
            ("a b/_control/x", true),
            ("_control/x", false), // rule 3 of is_internal_cache_file covers the root
            ("/_control/x", false),
            ("team/_controller/x", false),
            ("team/x/_control/y", false),
            ("data/control/x", false),
            ("team", false),
            ("", false),
        ];
        for (rel, want) in rows {
            assert_eq!(is_namespace_control_record(rel), *want, "{rel}");
        }
    }

    #[test]
    fn lazy_skippable_table() {
        let rows: &[(&str, bool)] = &[
            ("data/aws/ec2/vpc/abc/state/1/raw", true),
            ("data/x/raw", true),
            ("data/raw", false),
            ("data/aws/ec2/vpc/abc/state/1/metadata.yaml", false),
            ("data/aws/ec2/vpc/abc/state/latest", false),
            ("outputs/x/1/raw", false),
            ("workflow-runs/wf/raw", false),
            ("raw", false),
            ("", false),
        ];
        for (rel, want) in rows {
            assert_eq!(is_lazy_skippable(rel), *want, "{rel}");
        }
    }

    #[test]
    fn namespace_dir_membership() {
        let dirs = ["ns1".to_string(), "ns2".to_string()];
        assert!(is_inside_namespace_dir("ns1/data/x", &dirs));
        assert!(is_inside_namespace_dir("ns2", &dirs));
        assert!(!is_inside_namespace_dir("ns3/data/x", &dirs));
        assert!(!is_inside_namespace_dir("data/ns1/x", &dirs));
        let empty: [&str; 0] = [];
        assert!(!is_inside_namespace_dir("ns1/data/x", &empty));
    }

    #[test]
    fn safe_index_key_table() {
        for ok in [
            "data/aws/ec2/vpc/abc/state-main/1/raw",
            ".catalog-export.json",
            "a",
            "data/ü/名前",
            "a/C:/x",
            "a..b/c.",
            "...",
        ] {
            assert_eq!(safe_index_key(ok).ok(), Some(ok), "{ok:?}");
        }
        let rows: &[(&str, &str)] = &[
            ("", "empty key"),
            ("/etc/passwd", "absolute path"),
            ("\\x", "absolute path"),
            ("C:\\x", "drive prefix"),
            ("c:x", "drive prefix"),
            ("a/../x", "`..` path segment"),
            ("..", "`..` path segment"),
            ("a\\..\\x", "`..` path segment"),
            ("a/b/..", "`..` path segment"),
            ("a//b", "empty path segment"),
            ("a/", "empty path segment"),
            ("a/./b", "`.` path segment"),
            (".", "`.` path segment"),
            ("a\0b", "contains a NUL byte"),
        ];
        for (key, reason) in rows {
            let err = safe_index_key(key).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UnsafePath, "{key:?}");
            assert!(err.message().contains(reason), "{key:?}: {}", err.message());
        }
    }

    #[test]
    fn unsafe_key_messages_stay_short() {
        let long = format!("../{}", "x".repeat(10_000));
        let err = safe_index_key(&long).unwrap_err();
        assert!(err.message().len() < 400, "{}", err.message().len());
    }

    #[test]
    fn unsafe_cache_paths_are_refused() {
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
            assert!(CachePath::new(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "a",
            "data/@test/model-type-000/u/file-0000.json",
            ".datastore-index.json",
            "a/..b/c..",
            "ü/ñ",
            "a/C:/x",
        ] {
            assert_eq!(CachePath::new(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn cache_paths_of_index_keys() {
        let p = CachePath::for_key(Some("ns1"), "data/a/b").unwrap();
        assert_eq!(
            (p.as_str(), p.parent(), p.file_name()),
            ("ns1/data/a/b", "ns1/data/a", "b")
        );
        let root = CachePath::for_key(None, "top").unwrap();
        assert_eq!((root.parent(), root.file_name()), ("", "top"));
        // A fine object name, never a local file.
        assert!(safe_index_key("a\\b").is_ok());
        assert!(CachePath::for_key(None, "a\\b").is_err());
        assert!(CachePath::for_key(None, "a/../b").is_err());
    }
}
