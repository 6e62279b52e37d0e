//! The files under `_index/`: partition files `{key}.json`
//! (docs/formats.md#partition-files) and `_meta.json` (docs/formats.md#meta-file). Both
//! are written compact (as the TypeScript client writes them now; it once wrote them
//! pretty-printed); readers accept pretty or compact.
//!
//! Outcomes of parsing, chosen to match how upstream treats them:
//! * partition file: `Ok(None)` = "treat as missing" (`version` ≠ 1);
//!   `Err` = corrupt (not JSON, not an object, `entries` not an object) —
//!   which must propagate, because a v2 repo with an unreadable listed shard
//!   is corrupt and must never silently fall back to v1
//!   (docs/hazards.md#silent-fallback-from-an-unreadable-shard).
//!   Entries are parsed tolerantly exactly like the monolith's.
//! * meta: `Ok(None)` = absent (`version` not 1/2 or `partitions` not an
//!   array); `Err` = not JSON / not an object, **or** (our stricter choice) a
//!   partitions array with non-string members, or a v2 meta without an
//!   integer `commitSeq`. Treating those as "absent" would demote a v2 repo
//!   to the stale monolith (docs/hazards.md#stale-monolith-fingerprint-after-migration),
//!   so they fail loudly instead.
//!   `lastCompacted` is dropped on rewrite, as upstream does.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;

use super::index::{EntryMap, ParseReport, INDEX_VERSION};
use super::json_text::{js_safe_uint, parse_value, to_compact, utf16_cmp};
use crate::error::{Error, Result};

/// One `_index/{key}.json` file: `{"version":1,"entries":{…}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionFile {
    /// The partition's entries, in JS order.
    pub entries: EntryMap,
}

impl Serialize for PartitionFile {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("version", &INDEX_VERSION)?;
        map.serialize_entry("entries", &self.entries)?;
        map.end()
    }
}

impl PartitionFile {
    /// Parse a partition file; see the module doc for `Ok(None)` vs `Err`.
    pub fn parse(bytes: &[u8]) -> Result<Option<(PartitionFile, ParseReport)>> {
        let value = parse_value(bytes)
            .map_err(|e| Error::other(format!("partition file is not valid JSON: {e}")))?;
        let obj = value
            .as_object()
            .ok_or_else(|| Error::other("partition file is not a JSON object"))?;
        if obj.get("version").and_then(js_safe_uint) != Some(INDEX_VERSION) {
            return Ok(None);
        }
        let entries = obj
            .get("entries")
            .and_then(Value::as_object)
            .ok_or_else(|| Error::other("partition file `entries` is not an object"))?;
        let mut report = ParseReport::default();
        let entries = EntryMap::from_json_object(entries, &mut report);
        Ok(Some((PartitionFile { entries }, report)))
    }

    /// Compact JSON as written to GCS.
    pub fn to_compact_json(&self) -> Result<String> {
        to_compact(self)
    }
}

/// `_index/_meta.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meta {
    /// Dual-write era: the monolith is authoritative; partitions listed in
    /// first-seen order of the grouped index (not sorted).
    V1 {
        /// Partition keys.
        partitions: Vec<String>,
    },
    /// Shard-first: shards are authoritative.
    V2 {
        /// Partition keys (sorted when built with [`Meta::v2`]).
        partitions: Vec<String>,
        /// 1 after migration, +1 per commit.
        commit_seq: u64,
    },
}

impl Serialize for Meta {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Meta::V1 { partitions } => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("version", &1u32)?;
                map.serialize_entry("partitions", partitions)?;
                map.end()
            }
            Meta::V2 {
                partitions,
                commit_seq,
            } => {
                let mut map = serializer.serialize_map(Some(3))?;
                map.serialize_entry("version", &2u32)?;
                map.serialize_entry("partitions", partitions)?;
                map.serialize_entry("commitSeq", commit_seq)?;
                map.end()
            }
        }
    }
}

impl Meta {
    /// A v1 meta listing `partitions` in the given order.
    pub fn v1(partitions: impl IntoIterator<Item = String>) -> Self {
        Meta::V1 {
            partitions: partitions.into_iter().collect(),
        }
    }

    /// A v2 meta: partitions de-duplicated and sorted like JS `sort()`
    /// (UTF-16 code-unit order).
    pub fn v2(partitions: impl IntoIterator<Item = String>, commit_seq: u64) -> Self {
        let mut partitions: Vec<String> = partitions.into_iter().collect();
        partitions.sort_by(|a, b| utf16_cmp(a, b));
        partitions.dedup();
        Meta::V2 {
            partitions,
            commit_seq,
        }
    }

    /// The listed partition keys.
    pub fn partitions(&self) -> &[String] {
        match self {
            Meta::V1 { partitions } | Meta::V2 { partitions, .. } => partitions,
        }
    }

    /// `commitSeq` of a v2 meta.
    pub fn commit_seq(&self) -> Option<u64> {
        match self {
            Meta::V1 { .. } => None,
            Meta::V2 { commit_seq, .. } => Some(*commit_seq),
        }
    }

    /// Whether this is a shard-first (v2) meta.
    pub fn is_v2(&self) -> bool {
        matches!(self, Meta::V2 { .. })
    }

    /// Parse `_meta.json`; see the module doc for `Ok(None)` vs `Err`.
    pub fn parse(bytes: &[u8]) -> Result<Option<Meta>> {
        let value = parse_value(bytes)
            .map_err(|e| Error::other(format!("_meta.json is not valid JSON: {e}")))?;
        let obj = value
            .as_object()
            .ok_or_else(|| Error::other("_meta.json is not a JSON object"))?;
        let version = obj.get("version").and_then(js_safe_uint);
        let Some(list) = obj.get("partitions").and_then(Value::as_array) else {
            return Ok(None);
        };
        if version != Some(1) && version != Some(2) {
            return Ok(None);
        }
        let partitions = list
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| Error::other("_meta.json `partitions` holds a non-string"))?;
        if version == Some(1) {
            return Ok(Some(Meta::V1 { partitions }));
        }
        let commit_seq = obj
            .get("commitSeq")
            .and_then(js_safe_uint)
            .ok_or_else(|| Error::other("_meta.json v2 has no integer `commitSeq`"))?;
        Ok(Some(Meta::V2 {
            partitions,
            commit_seq,
        }))
    }

    /// Compact JSON as written to GCS.
    pub fn to_compact_json(&self) -> Result<String> {
        to_compact(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::core::index::IndexEntry;

    #[test]
    fn partition_file_round_trip_and_version_gate() {
        let text =
            r#"{"version":1,"entries":{"audit/a":{"key":"audit/a","size":3,"lastModified":"t"}}}"#;
        let (file, report) = PartitionFile::parse(text.as_bytes()).unwrap().unwrap();
        assert!(report.is_clean());
        assert_eq!(file.to_compact_json().unwrap(), text);

        let pretty = "{\n  \"version\": 1,\n  \"entries\": {}\n}";
        let (file, _) = PartitionFile::parse(pretty.as_bytes()).unwrap().unwrap();
        assert!(file.entries.is_empty());
        assert_eq!(
            file.to_compact_json().unwrap(),
            r#"{"version":1,"entries":{}}"#
        );

        for missing in [
            r#"{"version":2,"entries":{}}"#,
            r#"{"entries":{}}"#,
            r#"{"version":"1","entries":{}}"#,
        ] {
            assert_eq!(
                PartitionFile::parse(missing.as_bytes()).unwrap(),
                None,
                "{missing}"
            );
        }
        for corrupt in [
            "",
            "[",
            "[]",
            "null",
            r#"{"version":1}"#,
            r#"{"version":1,"entries":[]}"#,
        ] {
            assert!(
                PartitionFile::parse(corrupt.as_bytes()).is_err(),
                "{corrupt}"
            );
        }
    }

    #[test]
    fn partition_file_from_entries() {
        let file = PartitionFile {
            entries: [IndexEntry::new("data/t/m/d/1/raw", 1, "t")]
                .into_iter()
                .collect(),
        };
        assert_eq!(
            file.to_compact_json().unwrap(),
            r#"{"version":1,"entries":{"data/t/m/d/1/raw":{"key":"data/t/m/d/1/raw","size":1,"lastModified":"t"}}}"#
        );
    }

    #[test]
    fn meta_parse_table() {
        let v1 = Meta::parse(br#"{"version":1,"partitions":["b","a"]}"#).unwrap();
        assert_eq!(v1, Some(Meta::v1(["b".to_string(), "a".to_string()])));
        let v2 = Meta::parse(
            br#"{"version":2,"partitions":["a","b"],"commitSeq":7,"lastCompacted":"t"}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(v2.commit_seq(), Some(7));
        assert!(v2.is_v2());
        assert_eq!(
            v2.to_compact_json().unwrap(),
            r#"{"version":2,"partitions":["a","b"],"commitSeq":7}"#
        );
        for absent in [
            r#"{"version":3,"partitions":[]}"#,
            r#"{"partitions":[]}"#,
            r#"{"version":1}"#,
            r#"{"version":2,"partitions":"a"}"#,
            r#"{"version":"2","partitions":[]}"#,
        ] {
            assert_eq!(Meta::parse(absent.as_bytes()).unwrap(), None, "{absent}");
        }
        for corrupt in [
            "",
            "{",
            "[]",
            "7",
            r#"{"version":1,"partitions":[1]}"#,
            r#"{"version":2,"partitions":[]}"#,
            r#"{"version":2,"partitions":[],"commitSeq":-1}"#,
            r#"{"version":2,"partitions":[],"commitSeq":"7"}"#,
        ] {
            assert!(Meta::parse(corrupt.as_bytes()).is_err(), "{corrupt}");
        }
    }

    #[test]
    fn meta_v2_sorts_like_js_and_dedups() {
        let meta = Meta::v2(
            [
                "workflows-evaluated",
                "_root",
                "data--t1--m1",
                "audit",
                "_root",
                "\u{1F600}",
                "\u{FF5E}",
            ]
            .map(String::from),
            7,
        );
        assert_eq!(
            meta.partitions(),
            [
                "_root",
                "audit",
                "data--t1--m1",
                "workflows-evaluated",
                "\u{1F600}",
                "\u{FF5E}"
            ]
        );
        let v1 = Meta::v1(["b", "a"].map(String::from));
        assert_eq!(
            v1.to_compact_json().unwrap(),
            r#"{"version":1,"partitions":["b","a"]}"#
        );
        assert_eq!(v1.commit_seq(), None);
    }
}
