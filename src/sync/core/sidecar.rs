//! The on-disk sync-state sidecar `.datastore-sync-state.json`
//! (docs/formats.md#sync-state-sidecar): load rules and the v2 writer. The in-memory state machine that decides *what*
//! to write lives in [`super::sync_state`].
//!
//! Load rules (upstream's, plus hardening): missing, larger than
//! [`MAX_SIDECAR_BYTES`], not JSON or not an object → no sidecar. Accepted
//! only if `remoteIndexGeneration` and `lastVerifiedAt` are strings and
//! `localDirty` is a boolean; then `version` 2 loads every field and
//! `version` 1 loads as v1 (no dirty set, flags false); any other version →
//! no sidecar. Boolean flags use JS truthiness (`!!x`) like upstream;
//! `dataKeyMigrated` counts only when it is literally `true`;
//! `commitSeq` only when it is an integer (a JS `===` against the meta's
//! number could match nothing else); `lastCatalogHash` only when a string.
//! Non-string `dirtyPaths` members are dropped and counted so the state
//! machine can fall back to a full walk.
//!
//! Writes are always version 2 with fields in the order `version,
//! remoteIndexGeneration, lastVerifiedAt, localDirty, dirtyPaths,
//! bulkInvalidated, lazyPullActive, dirtyPathsOverflowed?, commitSeq?,
//! lastCatalogHash?, dataKeyMigrated?, partitionsPending?` (absent optionals
//! omitted; `partitionsPending` only when true), pretty printed with two spaces
//! and no trailing newline. Unknown fields are not preserved: upstream rebuilds
//! the object on every write too.
//!
//! `partitionsPending` is ours (upstream has no such field; it ignores it and
//! drops it on its next write): a push published the monolith but may not have
//! finished its partition files and meta, so the next push must rewrite them.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;

use super::json_text::{js_safe_uint, js_truthy, parse_value, to_pretty};
use crate::error::Result;

/// Sidecar files larger than this are ignored (treated as missing). A real
/// sidecar holds at most 200 paths; 4 MiB leaves room for long paths while
/// bounding what a hostile file can make us allocate. Ignoring is safe: no
/// sidecar only means no fast path and a full walk.
pub const MAX_SIDECAR_BYTES: usize = 4 * 1024 * 1024;

/// The version written by this crate.
pub const SIDECAR_VERSION: u32 = 2;

/// One parsed sidecar file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sidecar {
    /// Version as loaded (1 or 2). Serialisation always writes 2.
    pub version: u32,
    /// Generation of the remote index last verified clean (`""` = none).
    pub remote_index_generation: String,
    /// ISO time of that verification (may be `""`).
    pub last_verified_at: String,
    /// Whether the cache may hold unpushed changes.
    pub local_dirty: bool,
    /// Cache-relative dirty paths in insertion order (string members only).
    pub dirty_paths: Vec<String>,
    /// Members of `dirtyPaths` that were not strings and were dropped.
    pub dirty_paths_rejected: usize,
    /// Per-path tracking abandoned: full walk needed.
    pub bulk_invalidated: bool,
    /// A metadata-only pull left raw files un-hydrated.
    pub lazy_pull_active: bool,
    /// Bulk was caused by the 200-path cap (enables orphan deletion).
    pub dirty_paths_overflowed: Option<bool>,
    /// Last v2 `commitSeq` verified clean.
    pub commit_seq: Option<u64>,
    /// SHA-256 hex of the last exported catalog payload.
    pub last_catalog_hash: Option<String>,
    /// Root → namespace data migration done.
    pub data_key_migrated: Option<bool>,
    /// The remote partitions may lag the monolith (see the module doc).
    pub partitions_pending: bool,
}

impl Serialize for Sidecar {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("version", &SIDECAR_VERSION)?;
        map.serialize_entry("remoteIndexGeneration", &self.remote_index_generation)?;
        map.serialize_entry("lastVerifiedAt", &self.last_verified_at)?;
        map.serialize_entry("localDirty", &self.local_dirty)?;
        map.serialize_entry("dirtyPaths", &self.dirty_paths)?;
        map.serialize_entry("bulkInvalidated", &self.bulk_invalidated)?;
        map.serialize_entry("lazyPullActive", &self.lazy_pull_active)?;
        if let Some(v) = self.dirty_paths_overflowed {
            map.serialize_entry("dirtyPathsOverflowed", &v)?;
        }
        if let Some(v) = self.commit_seq {
            map.serialize_entry("commitSeq", &v)?;
        }
        if let Some(v) = &self.last_catalog_hash {
            map.serialize_entry("lastCatalogHash", v)?;
        }
        if let Some(v) = self.data_key_migrated {
            map.serialize_entry("dataKeyMigrated", &v)?;
        }
        if self.partitions_pending {
            map.serialize_entry("partitionsPending", &true)?;
        }
        map.end()
    }
}

impl Sidecar {
    /// Parse sidecar bytes; `None` means "no sidecar" (see the module doc).
    /// Never panics, whatever the input.
    pub fn parse(bytes: &[u8]) -> Option<Sidecar> {
        if bytes.len() > MAX_SIDECAR_BYTES {
            return None;
        }
        let value = parse_value(bytes).ok()?;
        let obj = value.as_object()?;
        let remote_index_generation = obj.get("remoteIndexGeneration")?.as_str()?.to_string();
        let last_verified_at = obj.get("lastVerifiedAt")?.as_str()?.to_string();
        let local_dirty = obj.get("localDirty")?.as_bool()?;
        let mut sidecar = Sidecar {
            version: 0,
            remote_index_generation,
            last_verified_at,
            local_dirty,
            ..Sidecar::default()
        };
        match obj.get("version").and_then(js_safe_uint) {
            Some(1) => {
                sidecar.version = 1;
                Some(sidecar)
            }
            Some(2) => {
                sidecar.version = 2;
                if let Some(list) = obj.get("dirtyPaths").and_then(Value::as_array) {
                    for item in list {
                        match item.as_str() {
                            Some(p) => sidecar.dirty_paths.push(p.to_string()),
                            None => sidecar.dirty_paths_rejected += 1,
                        }
                    }
                }
                let truthy = |field: &str| obj.get(field).is_some_and(js_truthy);
                sidecar.bulk_invalidated = truthy("bulkInvalidated");
                sidecar.lazy_pull_active = truthy("lazyPullActive");
                sidecar.dirty_paths_overflowed = obj
                    .contains_key("dirtyPathsOverflowed")
                    .then(|| truthy("dirtyPathsOverflowed"));
                sidecar.commit_seq = obj.get("commitSeq").and_then(js_safe_uint);
                sidecar.last_catalog_hash = obj
                    .get("lastCatalogHash")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                sidecar.data_key_migrated = obj.get("dataKeyMigrated").and_then(Value::as_bool);
                sidecar.partitions_pending = truthy("partitionsPending");
                Some(sidecar)
            }
            _ => None,
        }
    }

    /// The v2 file text (pretty, two spaces, no trailing newline).
    pub fn to_pretty_json(&self) -> Result<String> {
        to_pretty(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_upstream_rejects() {
        let rows: &[&str] = &[
            "",
            "{",
            "null",
            "[]",
            "\"x\"",
            r#"{"version":2,"lastVerifiedAt":"","localDirty":false}"#,
            r#"{"version":2,"remoteIndexGeneration":5,"lastVerifiedAt":"","localDirty":false}"#,
            r#"{"version":2,"remoteIndexGeneration":"","lastVerifiedAt":null,"localDirty":false}"#,
            r#"{"version":2,"remoteIndexGeneration":"","lastVerifiedAt":"","localDirty":"false"}"#,
            r#"{"version":2,"remoteIndexGeneration":"","lastVerifiedAt":"","localDirty":0}"#,
            r#"{"version":3,"remoteIndexGeneration":"","lastVerifiedAt":"","localDirty":false}"#,
            r#"{"version":"2","remoteIndexGeneration":"","lastVerifiedAt":"","localDirty":false}"#,
            r#"{"remoteIndexGeneration":"","lastVerifiedAt":"","localDirty":false}"#,
        ];
        for text in rows {
            assert_eq!(Sidecar::parse(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn v1_loads_without_v2_fields() {
        let text = r#"{"version":1,"remoteIndexGeneration":"42","lastVerifiedAt":"t","localDirty":true,"dirtyPaths":["a"],"bulkInvalidated":true}"#;
        let s = Sidecar::parse(text.as_bytes()).unwrap();
        assert_eq!(s.version, 1);
        assert!(s.local_dirty);
        assert!(s.dirty_paths.is_empty());
        assert!(!s.bulk_invalidated);
    }

    #[test]
    fn v2_coerces_like_upstream() {
        let text = r#"{"version":2.0,"remoteIndexGeneration":"1","lastVerifiedAt":"t","localDirty":false,
            "dirtyPaths":["a",1,null,"b"],"bulkInvalidated":"yes","lazyPullActive":0,
            "dirtyPathsOverflowed":1,"commitSeq":"7","lastCatalogHash":5,"dataKeyMigrated":1,"junk":true}"#;
        let s = Sidecar::parse(text.as_bytes()).unwrap();
        assert_eq!(s.version, 2);
        assert_eq!(s.dirty_paths, ["a", "b"]);
        assert_eq!(s.dirty_paths_rejected, 2);
        assert!(s.bulk_invalidated);
        assert!(!s.lazy_pull_active);
        assert_eq!(s.dirty_paths_overflowed, Some(true));
        assert_eq!(s.commit_seq, None);
        assert_eq!(s.last_catalog_hash, None);
        assert_eq!(s.data_key_migrated, None);
        // dirtyPaths not an array: ignored (empty set), like upstream.
        let text = r#"{"version":2,"remoteIndexGeneration":"","lastVerifiedAt":"","localDirty":true,"dirtyPaths":"a"}"#;
        let s = Sidecar::parse(text.as_bytes()).unwrap();
        assert!(s.dirty_paths.is_empty());
        assert_eq!(s.dirty_paths_rejected, 0);
    }

    #[test]
    fn hostile_inputs_never_panic() {
        let deep = "[".repeat(100_000);
        let huge = vec![b' '; MAX_SIDECAR_BYTES + 1];
        let full = r#"{"version":2,"remoteIndexGeneration":"1","lastVerifiedAt":"t","localDirty":true,"dirtyPaths":["a","b"],"bulkInvalidated":false,"lazyPullActive":false}"#;
        let inputs: Vec<Vec<u8>> = vec![
            deep.into_bytes(),
            huge,
            vec![0xff, 0xfe, 0x00],
            b"\xEF\xBB\xBF".to_vec(),
            br#"{"version":2,"remoteIndexGeneration":"1","lastVerifiedAt":"t","localDirty":true,"dirtyPaths":[1e999]}"#.to_vec(),
        ];
        for input in &inputs {
            let _ = Sidecar::parse(input);
        }
        // Every truncation of a valid file parses or is rejected, never panics.
        for cut in 0..full.len() {
            let _ = Sidecar::parse(&full.as_bytes()[..cut]);
        }
        assert!(Sidecar::parse(full.as_bytes()).is_some());
    }

    #[test]
    fn writes_v2_even_for_a_v1_load() {
        let s = Sidecar::parse(
            br#"{"version":1,"remoteIndexGeneration":"42","lastVerifiedAt":"","localDirty":false}"#,
        )
        .unwrap();
        assert_eq!(
            s.to_pretty_json().unwrap(),
            "{\n  \"version\": 2,\n  \"remoteIndexGeneration\": \"42\",\n  \"lastVerifiedAt\": \"\",\n  \"localDirty\": false,\n  \"dirtyPaths\": [],\n  \"bulkInvalidated\": false,\n  \"lazyPullActive\": false\n}"
        );
    }
}
