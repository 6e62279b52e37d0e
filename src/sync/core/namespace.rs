//! Namespaces (docs/sync.md#namespaces-and-keys, docs/formats.md#namespace-manifest): the
//! slug rule every call that names a namespace applies, the manifest
//! `{ns}/.namespace.json` that registers one, and the reading of a listing into slugs.
//!
//! A slug is the first path segment of every key of its repository (`{ns}/…`) and of
//! every local path (`{cache}/{ns}/…`), so it must be exactly one segment. The TypeScript
//! client refuses `/`, `\`, `.`, `..` and NUL; we also refuse the empty slug there, where
//! it would make keys start with `/` (calls that take an optional namespace read `""` as
//! solo before the rule applies).

use serde::Serialize;
use serde_json::Value;

use super::json_text::{parse_value, to_pretty};
use super::keys::NAMESPACE_MANIFEST;
use crate::error::{Error, ErrorKind, Result};

/// A namespace slug as a JSON string, for messages (one line whatever it holds).
pub fn quoted(ns: &str) -> String {
    Value::String(ns.to_string()).to_string()
}

/// Check a namespace slug (see the module doc). The error is `invalid-config` on the
/// field `namespace`, where swamp users write it (`.swamp.yaml` `datastore.namespace`),
/// worded as the TypeScript client words it.
pub fn check_slug(ns: &str) -> Result<()> {
    let rule = if ns.is_empty() {
        "must not be empty"
    } else if ns.contains(['/', '\\', '\0']) || ns == "." || ns == ".." {
        "must not contain path separators, \"..\", or null bytes"
    } else {
        return Ok(());
    };
    Err(Error::new(
        ErrorKind::InvalidConfig {
            field: "namespace".into(),
            rule: rule.into(),
        },
        format!("Invalid namespace {}: {rule}", quoted(ns)),
    ))
}

/// The manifest `{ns}/.namespace.json`: which repository registered a namespace, and
/// when. Written pretty (`JSON.stringify(m, null, 2)`, no trailing newline), fields in
/// this order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    /// The slug.
    pub namespace: String,
    /// The registering repository's id (swamp's repo UUID).
    #[serde(rename = "repoId")]
    pub repo_id: String,
    /// When it was (re-)registered: ISO-8601, milliseconds, `Z`.
    #[serde(rename = "registeredAt")]
    pub registered_at: String,
}

impl Manifest {
    /// The file text.
    pub fn to_pretty_json(&self) -> Result<String> {
        to_pretty(self)
    }

    /// Read a manifest. The TypeScript client reads only `repoId`, so only `repoId` must
    /// be a string; a missing or ill-typed `namespace` or `registeredAt` reads as `""`.
    /// `Err` says what is wrong (not JSON, not an object, no string `repoId`).
    pub fn parse(bytes: &[u8]) -> std::result::Result<Manifest, &'static str> {
        let value = parse_value(bytes).map_err(|_| "not JSON")?;
        let obj = value.as_object().ok_or("not a JSON object")?;
        let text = |field: &str| obj.get(field).and_then(Value::as_str).map(str::to_string);
        Ok(Manifest {
            repo_id: text("repoId").ok_or("no string `repoId`")?,
            namespace: text("namespace").unwrap_or_default(),
            registered_at: text("registeredAt").unwrap_or_default(),
        })
    }
}

/// The error of registering `ns` for one repository when `owner` holds it: worded as the
/// TypeScript client words it.
pub fn taken(ns: &str, owner: &str) -> Error {
    Error::new(
        ErrorKind::NamespaceTaken {
            namespace: ns.to_string(),
            owner: owner.to_string(),
        },
        format!(
            "Namespace {} is already registered by repo {owner}",
            quoted(ns)
        ),
    )
}

/// Check a repository id before it is written into a manifest: an empty id cannot tell
/// two repositories apart, so it could never conflict.
pub fn check_repo_id(repo_id: &str) -> Result<()> {
    if repo_id.trim().is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidConfig {
                field: "repoId".into(),
                rule: "must not be empty".into(),
            },
            "Invalid repoId \"\": a namespace is registered for one repository, named by its id",
        ));
    }
    Ok(())
}

/// The slug a top-level listing prefix (`ns/`, relative to the configured prefix) would
/// register, if it is one segment that passes [`check_slug`].
pub fn slug_of_prefix(prefix: &str) -> Option<&str> {
    let slug = prefix.strip_suffix('/')?;
    check_slug(slug).ok().map(|()| slug)
}

/// The key of the manifest below a top-level prefix `ns/`.
pub fn manifest_key_below(prefix: &str) -> String {
    format!("{prefix}{NAMESPACE_MANIFEST}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_as_the_typescript_client_checks_them_plus_empty() {
        let rows: &[(&str, Option<&str>)] = &[
            ("infra", None),
            ("team-a_1", None),
            ("...", None),
            ("..a", None),
            ("a..", None),
            ("ns.v2", None),
            ("É", None),
            ("", Some("must not be empty")),
            ("a/b", Some("path separators")),
            ("/a", Some("path separators")),
            ("a/", Some("path separators")),
            ("a\\b", Some("path separators")),
            ("..\\x", Some("path separators")),
            ("../x", Some("path separators")),
            (".", Some("path separators")),
            ("..", Some("path separators")),
            ("a\0b", Some("null bytes")),
        ];
        for (ns, want) in rows {
            match (check_slug(ns), want) {
                (Ok(()), None) => {}
                (Err(e), Some(words)) => {
                    assert!(e.message().contains(words), "{ns:?}: {}", e.message());
                    assert!(
                        matches!(e.kind(), ErrorKind::InvalidConfig { field, .. } if field == "namespace"),
                        "{ns:?}"
                    );
                    assert!(!e.message().contains('\0') && !e.message().contains('\n'));
                }
                (got, _) => panic!("{ns:?}: {got:?}"),
            }
        }
        assert_eq!(
            check_slug("a/b").unwrap_err().message(),
            "Invalid namespace \"a/b\": must not contain path separators, \"..\", or null bytes"
        );
    }

    #[test]
    fn manifest_is_json_stringify_indent_2() {
        let m = Manifest {
            namespace: "infra".into(),
            repo_id: "cf4778dc-7d8d-45df-a9b0-d76a666bc5e7".into(),
            registered_at: "2026-06-03T00:00:00.000Z".into(),
        };
        assert_eq!(
            m.to_pretty_json().unwrap(),
            "{\n  \"namespace\": \"infra\",\n  \"repoId\": \"cf4778dc-7d8d-45df-a9b0-d76a666bc5e7\",\n  \"registeredAt\": \"2026-06-03T00:00:00.000Z\"\n}"
        );
    }

    #[test]
    fn manifest_reading_needs_only_a_string_repo_id() {
        /// (bytes, Ok((repoId, namespace)) or the reason it is refused)
        type Row<'a> = (&'a [u8], std::result::Result<(&'a str, &'a str), &'a str>);
        let rows: &[Row] = &[
            (br#"{"repoId":"r1"}"#, Ok(("r1", ""))),
            (
                br#"{"namespace":"a","repoId":"r1","registeredAt":"t","x":1}"#,
                Ok(("r1", "a")),
            ),
            (br#"{"namespace":5,"repoId":"r2"}"#, Ok(("r2", ""))),
            (b"\xEF\xBB\xBF{\"repoId\":\"r3\"}", Ok(("r3", ""))),
            (br#"{"repoId":7}"#, Err("no string `repoId`")),
            (br#"{"namespace":"a"}"#, Err("no string `repoId`")),
            (br#"["repoId"]"#, Err("not a JSON object")),
            (b"null", Err("not a JSON object")),
            (b"", Err("not JSON")),
            (b"{", Err("not JSON")),
            (b"\xff", Err("not JSON")),
        ];
        for (bytes, want) in rows {
            let got = Manifest::parse(bytes).map(|m| (m.repo_id, m.namespace));
            let want = want.map(|(r, n)| (r.to_string(), n.to_string()));
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn conflict_names_the_owner() {
        let e = taken("infra", "repo-b");
        assert_eq!(
            e.message(),
            "Namespace \"infra\" is already registered by repo repo-b"
        );
        assert_eq!(
            e.kind(),
            ErrorKind::NamespaceTaken {
                namespace: "infra".into(),
                owner: "repo-b".into()
            }
        );
    }

    #[test]
    fn repo_ids() {
        assert!(check_repo_id("cf4778dc-7d8d-45df-a9b0-d76a666bc5e7").is_ok());
        assert!(check_repo_id("x").is_ok());
        for bad in ["", " ", "\t"] {
            assert!(
                matches!(check_repo_id(bad).unwrap_err().kind(), ErrorKind::InvalidConfig { field, .. } if field == "repoId")
            );
        }
    }

    #[test]
    fn listing_prefixes_to_slugs() {
        let rows = [
            ("infra/", Some("infra")),
            ("data/", Some("data")),
            ("./", None),
            ("../", None),
            ("a\\b/", None),
            ("/", None),
            ("infra", None),
        ];
        for (prefix, want) in rows {
            assert_eq!(slug_of_prefix(prefix), want, "{prefix:?}");
        }
        assert_eq!(manifest_key_below("infra/"), "infra/.namespace.json");
    }
}
