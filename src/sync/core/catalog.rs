//! Catalog exports and foreign content (docs/formats.md#catalog-export): the payload an
//! export writes to `{ns}/.catalog-export.json` and the hash that lets an unchanged export
//! skip its write; what a foreign export must be to be read; the rule a foreign content
//! path must pass.

use serde_json::Value;

use super::change::sha256_hex;
use super::json_text::{parse_value, strip_bom, to_compact};
use crate::error::{Error, ErrorKind, Result};

/// What an export uploads: the rows' compact JSON text (`JSON.stringify(rows)`) and its
/// SHA-256 (the sidecar's `lastCatalogHash`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogPayload {
    /// The object's bytes.
    pub text: String,
    /// SHA-256 hex of `text`.
    pub sha256: String,
}

/// The payload of an export of `rows_json`, which must be a JSON array (of any rows: the
/// readers accept any array). Text that is already compact (no whitespace outside
/// strings, as `JSON.stringify` writes it) is kept byte for byte, numbers included, so
/// the hash equals the TypeScript client's for the same rows; other text is rewritten
/// compactly.
pub fn catalog_payload(rows_json: &str) -> Result<CatalogPayload> {
    let rows_json = rows_json.strip_prefix('\u{FEFF}').unwrap_or(rows_json);
    let value = parse_value(rows_json.as_bytes()).map_err(|e| not_rows(&e.to_string()))?;
    if !value.is_array() {
        return Err(not_rows("not a JSON array"));
    }
    let text = if is_compact(rows_json) {
        rows_json.to_string()
    } else {
        to_compact(&value)?
    };
    let sha256 = sha256_hex(text.as_bytes());
    Ok(CatalogPayload { text, sha256 })
}

fn not_rows(why: &str) -> Error {
    Error::new(
        ErrorKind::InvalidConfig {
            field: "rows".into(),
            rule: "must be a JSON array of catalog rows".into(),
        },
        format!("catalog export: the rows must be a JSON array: {why}"),
    )
}

/// Whether valid JSON text has no whitespace outside its strings.
fn is_compact(json: &str) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if matches!(c, ' ' | '\t' | '\n' | '\r') {
            return false;
        }
    }
    true
}

/// The rows of a foreign export as stored, when it is a JSON array (an export
/// written by swamp itself is pretty with a trailing newline, the TypeScript client's
/// compact: both are read); `None` for anything else, which the reader skips.
pub fn foreign_catalog_rows(bytes: &[u8]) -> Option<String> {
    let bytes = strip_bom(bytes);
    let value = parse_value(bytes).ok()?;
    if !value.is_array() {
        return None;
    }
    String::from_utf8(bytes.to_vec()).ok()
}

/// Check a path of another namespace's content (`fetch-foreign-content`): refused, as the
/// TypeScript client refuses them, when it starts with `/` or `\` or has a `..` segment;
/// also when it is empty or holds a NUL (neither names a file). Other names are object
/// names like any other: the bytes are only returned, never written.
pub fn check_foreign_rel(rel: &str) -> Result<()> {
    let traversal = rel.starts_with('/')
        || rel.starts_with('\\')
        || rel.split('/').any(|segment| segment == "..");
    let why = if rel.is_empty() {
        "empty path"
    } else if rel.contains('\0') {
        "NUL byte in path"
    } else if traversal {
        "absolute path or `..` segment"
    } else {
        return Ok(());
    };
    Err(Error::new(
        ErrorKind::UnsafePath,
        format!(
            "Path traversal rejected: {} ({why})",
            Value::String(rel.to_string())
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_the_compact_array_and_its_sha256() {
        let rows = r#"[{"relPath":"data/file.txt","size":10,"lastModified":"2026-01-01"}]"#;
        let p = catalog_payload(rows).unwrap();
        assert_eq!(p.text, rows);
        assert_eq!(p.sha256, sha256_hex(rows.as_bytes()));
        // The empty export is `[]`, hashed like any other.
        assert_eq!(catalog_payload("[]").unwrap().text, "[]");
        assert_eq!(
            catalog_payload("[]").unwrap().sha256,
            "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
        );
    }

    #[test]
    fn compact_text_is_kept_byte_for_byte_and_other_text_is_compacted() {
        let rows: &[(&str, &str)] = &[
            // JSON.stringify's number forms survive untouched.
            (
                r#"[{"n":1e+21,"f":0.1,"z":-0}]"#,
                r#"[{"n":1e+21,"f":0.1,"z":-0}]"#,
            ),
            // Whitespace inside strings is content.
            (r#"[{"k":"a b\t\" c"}]"#, r#"[{"k":"a b\t\" c"}]"#),
            ("[\n  {\n    \"a\": 1\n  }\n]\n", r#"[{"a":1}]"#),
            (" [1, 2] ", "[1,2]"),
            ("\u{FEFF}[1]", "[1]"),
            (r#"[{"b":1,"a":2}]"#, r#"[{"b":1,"a":2}]"#),
        ];
        for (given, want) in rows {
            assert_eq!(catalog_payload(given).unwrap().text, *want, "{given:?}");
        }
    }

    #[test]
    fn anything_but_an_array_is_refused() {
        for bad in ["", "{}", "null", "\"[]\"", "[", "[1,]", "5"] {
            let e = catalog_payload(bad).unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::InvalidConfig { field, .. } if field == "rows"),
                "{bad:?}"
            );
            assert!(e
                .message()
                .starts_with("catalog export: the rows must be a JSON array"));
        }
    }

    #[test]
    fn foreign_exports_are_read_when_they_are_arrays() {
        let rows: &[(&[u8], Option<&str>)] = &[
            (b"[]", Some("[]")),
            (b"[{\"a\":1}]", Some("[{\"a\":1}]")),
            (
                b"[\n  {\n    \"a\": 1\n  }\n]\n",
                Some("[\n  {\n    \"a\": 1\n  }\n]\n"),
            ),
            (b"\xEF\xBB\xBF[1]", Some("[1]")),
            (b"{\"rows\":[]}", None),
            (b"null", None),
            (b"", None),
            (b"[", None),
            (b"[\"\xff\"]", None),
        ];
        for (bytes, want) in rows {
            assert_eq!(
                foreign_catalog_rows(bytes).as_deref(),
                *want,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn foreign_paths_refuse_traversal() {
        for ok in [
            "data/x/raw",
            ".catalog-export.json",
            "a..b/c",
            "a/..b",
            "a\\..\\b",
            "a//b",
            "./a",
        ] {
            assert!(check_foreign_rel(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "\\x",
            "..",
            "../x",
            "a/../b",
            "a/..",
            "a\0b",
        ] {
            let e = check_foreign_rel(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::UnsafePath, "{bad:?}");
            assert!(
                e.message().starts_with("Path traversal rejected: "),
                "{bad:?}"
            );
        }
    }
}
