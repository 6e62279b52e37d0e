//! PURE: control-plane keys: the rules a key or a listing prefix must follow, and the
//! mapping between keys and object keys `[{ns}/]_control/{key}`
//! (docs/control-plane.md#keys). No I/O.

use crate::error::{Error, ErrorKind, Result};

/// The directory of control-plane records, below the namespace (or at the root, solo).
pub const CONTROL_DIR: &str = "_control";

/// GCS refuses object names longer than this many bytes (UTF-8).
pub const MAX_OBJECT_NAME_BYTES: usize = 1024;

/// Longest key echoed back in an error message.
const MAX_KEY_IN_MESSAGE: usize = 200;

/// The one-line remedy every key error carries.
const KEY_HINT: &str = "a key is a relative slash path such as heartbeats/worker-1: no leading slash, no empty, `.` or `..` segments, no control characters";

/// `[{ns}/]_control/`: the object-key prefix of every record of `ns` (`None` = solo).
pub fn control_root(ns: Option<&str>) -> String {
    match ns {
        Some(ns) => format!("{ns}/{CONTROL_DIR}/"),
        None => format!("{CONTROL_DIR}/"),
    }
}

/// The object key (relative to the configured prefix) of record `key` of `ns`, after
/// checking the key.
pub fn object_key(ns: Option<&str>, key: &str) -> Result<String> {
    check_key(key)?;
    Ok(format!("{}{key}", control_root(ns)))
}

/// The listing prefix (relative to the configured prefix) of the records of `ns` whose
/// keys start with `prefix`, after checking the prefix (`""` lists every record).
pub fn list_prefix(ns: Option<&str>, prefix: &str) -> Result<String> {
    check_prefix(prefix)?;
    Ok(format!("{}{prefix}", control_root(ns)))
}

/// The record key of a listed object key, or `None` when it is not a record of the root
/// (outside it, the root itself, or a directory placeholder ending in `/`).
pub fn key_of<'a>(root: &str, object_key: &'a str) -> Option<&'a str> {
    object_key
        .strip_prefix(root)
        .filter(|k| !k.is_empty() && !k.ends_with('/'))
}

/// Check a record key: not empty, no leading slash, no control character, and no empty,
/// `.` or `..` segment (a trailing slash is an empty segment).
pub fn check_key(key: &str) -> Result<()> {
    let why = if key.is_empty() {
        Some("empty key")
    } else if key.starts_with('/') {
        Some("leading slash (keys are relative to the control-plane root)")
    } else if key.chars().any(char::is_control) {
        Some("control character")
    } else {
        key.split('/').find_map(bad_segment)
    };
    match why {
        Some(why) => Err(invalid("key", key, why)),
        None => Ok(()),
    }
}

/// Check a listing prefix: `""`, or a key's beginning: every complete segment (before
/// the last `/`) follows the key rules; the last one may be partial or empty.
pub fn check_prefix(prefix: &str) -> Result<()> {
    let why = if prefix.starts_with('/') {
        Some("leading slash (prefixes are relative to the control-plane root)")
    } else if prefix.chars().any(char::is_control) {
        Some("control character")
    } else {
        let complete = prefix.rsplit_once('/').map_or("", |(head, _)| head);
        if prefix.contains('/') {
            complete.split('/').find_map(bad_segment)
        } else {
            None
        }
    };
    match why {
        Some(why) => Err(invalid("prefix", prefix, why)),
        None => Ok(()),
    }
}

/// Check that the full object name (configured prefix included) of `key` fits GCS's limit.
pub fn check_name_length(full_name: &str, key: &str) -> Result<()> {
    if full_name.len() <= MAX_OBJECT_NAME_BYTES {
        return Ok(());
    }
    Err(invalid(
        "key",
        key,
        &format!(
            "too long: its object name would be {} bytes, GCS allows {MAX_OBJECT_NAME_BYTES}",
            full_name.len()
        ),
    ))
}

fn bad_segment(segment: &str) -> Option<&'static str> {
    match segment {
        "" => Some("empty segment"),
        "." => Some("`.` segment"),
        ".." => Some("`..` segment"),
        _ => None,
    }
}

/// The typed error of a bad key or prefix: one line with the rule and the remedy.
fn invalid(field: &str, value: &str, why: &str) -> Error {
    let shown: String = value.chars().take(MAX_KEY_IN_MESSAGE).collect();
    let cut = if shown.len() < value.len() { "…" } else { "" };
    Error::new(
        ErrorKind::InvalidConfig {
            field: field.to_string(),
            rule: format!("{why}; {KEY_HINT}"),
        },
        format!("invalid control-plane {field} {shown:?}{cut}: {why} (hint: {KEY_HINT})"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_table() {
        let rows: &[(&str, Option<&str>)] = &[
            ("heartbeats/worker-1", None),
            ("x", None),
            ("pending-runs/2026-08-01T10:00:00Z", None),
            ("a b/ü/😀", None),
            ("a\\b", None),
            (".hidden/..x/x..", None),
            ("", Some("empty key")),
            ("/abs", Some("leading slash")),
            ("//x", Some("leading slash")),
            ("a//b", Some("empty segment")),
            ("a/", Some("empty segment")),
            ("./a", Some("`.` segment")),
            ("a/./b", Some("`.` segment")),
            ("..", Some("`..` segment")),
            ("a/../b", Some("`..` segment")),
            ("a/..", Some("`..` segment")),
            ("a\nb", Some("control character")),
            ("a\0b", Some("control character")),
            ("tab\there", Some("control character")),
            ("del\u{7f}", Some("control character")),
            ("c1\u{85}", Some("control character")),
        ];
        for (key, want) in rows {
            match (check_key(key), want) {
                (Ok(()), None) => {}
                (Err(e), Some(why)) => {
                    let ErrorKind::InvalidConfig { field, rule } = e.kind() else {
                        panic!("{key:?}: not invalid-config: {e:?}");
                    };
                    assert_eq!(field, "key");
                    assert!(rule.starts_with(why), "{key:?}: {rule}");
                    let m = e.message();
                    assert!(m.contains(why) && m.contains("hint:"), "{m}");
                    assert!(!m.contains('\n') && !m.contains('\0'), "one line: {m:?}");
                }
                (got, want) => panic!("{key:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn prefixes_table() {
        let rows: &[(&str, bool)] = &[
            ("", true),
            ("heartbeats/", true),
            ("heartbeats/w", true),
            ("heart", true),
            (".", true), // the start of `.x`
            ("a/.", true),
            ("a/..", true), // the start of `..x`
            ("/", false),
            ("/x", false),
            ("a//", false),
            ("a//b", false),
            ("../x", false),
            ("a/./", false),
            ("a\n", false),
        ];
        for (prefix, ok) in rows {
            let got = check_prefix(prefix);
            assert_eq!(got.is_ok(), *ok, "{prefix:?}: {got:?}");
            if let Err(e) = got {
                assert!(
                    matches!(e.kind(), ErrorKind::InvalidConfig { field, .. } if field == "prefix")
                );
            }
        }
    }

    #[test]
    fn mapping_table() {
        let rows: &[(Option<&str>, &str, &str)] = &[
            (None, "heartbeats/w1", "_control/heartbeats/w1"),
            (Some("team"), "heartbeats/w1", "team/_control/heartbeats/w1"),
            (Some("a b"), "x", "a b/_control/x"),
        ];
        for (ns, key, object) in rows {
            assert_eq!(object_key(*ns, key).unwrap(), *object);
            assert_eq!(key_of(&control_root(*ns), object), Some(*key));
        }
        assert_eq!(list_prefix(None, "").unwrap(), "_control/");
        assert_eq!(
            list_prefix(Some("team"), "heartbeats/").unwrap(),
            "team/_control/heartbeats/"
        );
        assert!(object_key(Some("team"), "../x").is_err());
    }

    #[test]
    fn listed_names_outside_the_root_or_placeholders_are_not_keys() {
        let root = control_root(Some("team"));
        let rows: &[(&str, Option<&str>)] = &[
            ("team/_control/a", Some("a")),
            ("team/_control/a/b", Some("a/b")),
            ("team/_control/", None),
            ("team/_control/dir/", None),
            ("_control/a", None),
            ("other/_control/a", None),
        ];
        for (name, want) in rows {
            assert_eq!(key_of(&root, name), *want, "{name}");
        }
    }

    #[test]
    fn long_names_are_refused_and_messages_stay_short() {
        assert!(check_name_length(&"x".repeat(1024), "k").is_ok());
        let e = check_name_length(&"x".repeat(1025), "k").unwrap_err();
        assert!(e.message().contains("1025 bytes"), "{}", e.message());
        let long = format!("{}\n", "k".repeat(5000));
        let m = check_key(&long).unwrap_err().message();
        assert!(m.len() < 600, "{}", m.len());
        assert!(m.contains('…'));
    }
}
