//! Path rules: whatever string comes in (`..`, `/`, `\`, NUL, drive letters, Unicode,
//! empty segments, absolute paths), what the crate accepts or produces never leaves the
//! cache on any host we may run on, normalising is idempotent and does what `path.join`
//! would, and the three checkers (`normalize_rel`, `safe_index_key`, `check_rel`) agree.

use std::path::{Component, Path};

use proptest::prelude::*;

use super::config;
use crate::paths::{check_rel, CachePath};
use crate::paths::{normalize_rel, safe_index_key};

/// Why `p`, joined to a cache root on a POSIX or a Windows host, could name something
/// outside it. Deliberately written without the crate's helpers.
fn escape_reason(p: &str) -> Option<&'static str> {
    let b = p.as_bytes();
    if p.contains('\0') {
        Some("NUL byte")
    } else if p.starts_with('/') || p.starts_with('\\') {
        Some("absolute")
    } else if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        Some("drive prefix")
    } else if p.split(['/', '\\']).any(|c| c == "..") {
        Some("`..` component")
    } else {
        None
    }
}

const FRAGMENTS: &[&str] = &[
    "..",
    ".",
    "",
    "/",
    "//",
    "\\",
    "\0",
    "C:",
    "c:",
    "a",
    "b",
    "data",
    "ü",
    "名前",
    "\u{202e}",
    "%2e%2e",
    "...",
    " ",
    "\u{ff0e}\u{ff0e}",
];

/// Path-like strings: fragments glued directly (so `/` and `\` fragments act as
/// separators), segments joined by `/` or `\`, or arbitrary Unicode.
fn hostile_path() -> BoxedStrategy<String> {
    let piece = || {
        prop_oneof![
            3 => prop::sample::select(FRAGMENTS).prop_map(str::to_string),
            1 => "[a-z]{1,3}",
            1 => any::<String>(),
        ]
    };
    prop_oneof![
        2 => prop::collection::vec(piece(), 0..10).prop_map(|p| p.concat()),
        2 => prop::collection::vec(piece(), 0..8).prop_map(|p| p.join("/")),
        1 => prop::collection::vec(piece(), 0..8).prop_map(|p| p.join("\\")),
        1 => any::<String>(),
    ]
    .boxed()
}

/// A plain file-name segment: never `.`/`..`, no separator, no drive-like `x:` start.
fn clean_segment() -> BoxedStrategy<String> {
    prop_oneof!["[a-z0-9_ü-]{1,6}", "\\.[a-z]{1,4}", Just("...".to_string())].boxed()
}

/// Detours that `path.normalize` removes in front of a segment.
const DETOURS: &[&str] = &["", "", "./", "/", "x/../", "x/y/../../", "./x/./../"];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn normalize_rel_never_escapes_and_is_idempotent(rel in hostile_path()) {
        let Some(normalized) = normalize_rel(&rel) else { return Ok(()) };
        prop_assert_eq!(escape_reason(&normalized), None, "{:?} -> {:?}", rel, normalized);
        if !normalized.is_empty() {
            prop_assert!(
                normalized.split('/').all(|s| !s.is_empty() && s != "."),
                "{:?} -> {:?}", rel, normalized
            );
        }
        prop_assert_eq!(normalize_rel(&normalized), Some(normalized.clone()));
    }

    /// `path.relative(cache, path.normalize(path.join(cache, rel)))` of a path made of
    /// plain segments with detours, doubled and leading slashes is the plain path.
    #[test]
    fn normalize_rel_removes_detours(
        parts in prop::collection::vec((prop::sample::select(DETOURS), clean_segment()), 1..8),
        leading_slash in any::<bool>(),
        trailing_slash in any::<bool>(),
    ) {
        let plain: Vec<&str> = parts.iter().map(|(_, s)| s.as_str()).collect();
        let mut rel: String = parts.iter().map(|(d, s)| format!("{d}{s}/")).collect();
        if !trailing_slash {
            rel.pop();
        }
        if leading_slash {
            rel.insert(0, '/');
        }
        prop_assert_eq!(normalize_rel(&rel), Some(plain.join("/")), "{:?}", rel);
    }

    /// Climbing back to the root is fine; one step further is an escape.
    #[test]
    fn normalize_rel_refuses_to_climb_above_the_root(
        segments in prop::collection::vec(clean_segment(), 0..6),
        below in prop::collection::vec(clean_segment(), 0..3),
    ) {
        let depth = segments.len();
        let base = segments.join("/");
        let up = |n: usize| {
            let climbs = std::iter::repeat_n("..", n);
            [base.as_str()].into_iter().chain(climbs).collect::<Vec<_>>().join("/")
        };
        prop_assert_eq!(normalize_rel(&up(depth)), Some(String::new()));
        let tail = if below.is_empty() { String::new() } else { format!("/{}", below.join("/")) };
        prop_assert_eq!(normalize_rel(&format!("{}{tail}", up(depth + 1))), None);
    }

    /// Every key `safe_index_key` lets through is a plain relative path on both
    /// separator conventions and already normalised.
    #[test]
    fn safe_index_key_accepts_only_plain_relative_paths(key in hostile_path()) {
        let Ok(accepted) = safe_index_key(&key) else { return Ok(()) };
        prop_assert_eq!(accepted, key.as_str());
        prop_assert_eq!(escape_reason(&key), None, "{:?}", key);
        prop_assert!(
            key.split(['/', '\\']).all(|s| !s.is_empty() && s != "." && s != ".."),
            "{:?}", key
        );
        prop_assert_eq!(normalize_rel(&key), Some(key.clone()));
    }

    /// A `CachePath` names every local file; what it accepts cannot leave the cache, is
    /// normalised, and is also a safe index key (the stricter checker must not let
    /// through what the index check refuses).
    #[test]
    fn cache_paths_stay_inside_the_cache(rel in hostile_path()) {
        let checked = check_rel(&rel);
        let built = CachePath::new(&rel);
        prop_assert_eq!(checked.is_ok(), built.is_ok());
        let Ok(path) = built else { return Ok(()) };
        let path = Path::new("/cache").join(path.as_str());
        prop_assert_eq!(escape_reason(&rel), None, "{:?}", rel);
        prop_assert_eq!(normalize_rel(&rel), Some(rel.clone()));
        prop_assert!(safe_index_key(&rel).is_ok(), "{:?}", rel);
        let below = path.strip_prefix(Path::new("/cache"));
        prop_assert!(below.is_ok(), "{:?}", path);
        prop_assert!(
            below.unwrap().components().all(|c| matches!(c, Component::Normal(_))),
            "{:?}", path
        );
    }

    /// A normalised markDirty path without backslashes is one every other check takes.
    #[test]
    fn normalized_paths_pass_the_other_checks(rel in hostile_path()) {
        let Some(normalized) = normalize_rel(&rel) else { return Ok(()) };
        if normalized.is_empty() || normalized.contains('\\') || normalized.len() > 4096 {
            return Ok(());
        }
        prop_assert!(check_rel(&normalized).is_ok(), "{:?}", normalized);
        prop_assert!(safe_index_key(&normalized).is_ok(), "{:?}", normalized);
    }
}
