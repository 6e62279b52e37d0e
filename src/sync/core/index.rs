//! The monolithic index `.datastore-index.json` (docs/formats.md#monolithic-index) and
//! the ordered entry map shared with partition files (docs/formats.md#partition-files):
//! tolerant parsing, byte-exact serialisation, scrubbing and the merge used by
//! push/commit.
//!
//! # Ordering
//! JS objects keep insertion order (except "array index" keys such as `"17"`,
//! which JS always lists first, numerically). [`EntryMap`] reproduces exactly
//! that: updating an existing key keeps its position, removing then
//! re-inserting moves it to the end, and iteration / serialisation put
//! array-index keys first. So a parsed-then-serialised file is byte-identical
//! to what the TS client would write for the same object.
//!
//! # Tolerance (decided deliberately)
//! The top level must be an object with `version` 1 and an `entries` object,
//! otherwise [`Index::parse`] fails (the caller must not mistake a corrupt or
//! future-format index for an empty one,
//! docs/hazards.md#index-read-errors-taken-as-an-empty-index). Inside `entries`, one
//! bad entry does not poison the rest: an entry that is not an object, whose
//! `key` is missing or differs from its map key, whose `size` is not an
//! integer in 0..=2^53−1, whose `lastModified` is not a string, or whose
//! optional `localMtime` / `sha256` is neither absent, `null` nor a string is
//! **dropped** and counted in the [`ParseReport`]. Unknown fields are ignored
//! (and therefore not written back). A non-string `lastPulled` becomes `""`.
//! Duplicate JSON keys: the last value wins at the first key's position, as
//! with `JSON.parse`. Entry fields are always written in the canonical order
//! `key, size, lastModified, localMtime?, sha256?`; the TS client can, rarely,
//! append `localMtime` after `sha256` (when it sets the field on a parsed
//! entry lacking it) — the same JSON value, different bytes, and nothing
//! compares index bytes (only generations). Keys that fail [`safe_index_key`] are **kept** (they are
//! someone else's data; dropping them would delete them remotely on the next
//! write-back) but counted, so the caller can skip them when building paths.

use indexmap::IndexMap;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};

use super::json_text::{array_index_value, js_safe_uint, parse_value, to_compact, to_pretty};
use crate::error::{Error, Result};
use crate::paths::{is_internal_cache_file, safe_index_key};

/// The only index / partition-file `version` there is.
pub const INDEX_VERSION: u64 = 1;

/// How many dropped or unsafe keys a [`ParseReport`] keeps verbatim.
const REPORT_SAMPLE: usize = 10;

/// One file's entry (docs/formats.md#monolithic-index). Serialised with fields in the order
/// `key, size, lastModified, localMtime?, sha256?`, optional ones omitted
/// when `None`, exactly as the TS client writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Bare rel (no namespace prefix); equal to the map key.
    pub key: String,
    /// Byte length.
    pub size: u64,
    /// ISO time: upload time, or GCS `updated` for discovered entries.
    pub last_modified: String,
    /// `toISOString()` of the local file's mtime on the last machine that pushed or pulled it.
    pub local_mtime: Option<String>,
    /// Lowercase hex SHA-256 of the content at push time.
    pub sha256: Option<String>,
}

impl IndexEntry {
    /// An entry without the optional fields (as discovery and migration create them).
    pub fn new(key: impl Into<String>, size: u64, last_modified: impl Into<String>) -> Self {
        IndexEntry {
            key: key.into(),
            size,
            last_modified: last_modified.into(),
            local_mtime: None,
            sha256: None,
        }
    }

    /// Parse one entry value; `Err` carries the reason it must be dropped.
    fn from_value(map_key: &str, value: &Value) -> std::result::Result<Self, &'static str> {
        let obj = value.as_object().ok_or("entry is not an object")?;
        let key = obj
            .get("key")
            .and_then(Value::as_str)
            .ok_or("`key` missing or not a string")?;
        if key != map_key {
            return Err("`key` differs from its map key");
        }
        let size = obj
            .get("size")
            .and_then(js_safe_uint)
            .ok_or("`size` is not an integer in 0..=2^53-1")?;
        let last_modified = obj
            .get("lastModified")
            .and_then(Value::as_str)
            .ok_or("`lastModified` missing or not a string")?;
        let optional = |field: &str, why: &'static str| match obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(why),
        };
        Ok(IndexEntry {
            key: key.to_string(),
            size,
            last_modified: last_modified.to_string(),
            local_mtime: optional("localMtime", "`localMtime` is not a string")?,
            sha256: optional("sha256", "`sha256` is not a string")?,
        })
    }
}

impl Serialize for IndexEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let len = 3 + usize::from(self.local_mtime.is_some()) + usize::from(self.sha256.is_some());
        let mut map = serializer.serialize_map(Some(len))?;
        map.serialize_entry("key", &self.key)?;
        map.serialize_entry("size", &self.size)?;
        map.serialize_entry("lastModified", &self.last_modified)?;
        if let Some(m) = &self.local_mtime {
            map.serialize_entry("localMtime", m)?;
        }
        if let Some(h) = &self.sha256 {
            map.serialize_entry("sha256", h)?;
        }
        map.end()
    }
}

/// One entry that [`Index::parse`] (or a partition-file parse) dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedEntry {
    /// The map key of the dropped entry.
    pub key: String,
    /// Why it was dropped.
    pub reason: &'static str,
}

/// What a tolerant parse skipped or flagged. Counts are exact; samples hold
/// the first few keys only, so a hostile file cannot make the report huge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseReport {
    /// Number of entries dropped as malformed.
    pub dropped: usize,
    /// The first dropped entries with their reasons.
    pub dropped_sample: Vec<DroppedEntry>,
    /// Number of kept entries whose key fails [`safe_index_key`].
    pub unsafe_keys: usize,
    /// The first such keys.
    pub unsafe_sample: Vec<String>,
    /// `lastPulled` was missing or not a string (replaced by `""`).
    pub last_pulled_invalid: bool,
}

impl ParseReport {
    #[cfg(test)]
    /// True when nothing was dropped or flagged.
    pub fn is_clean(&self) -> bool {
        self.dropped == 0 && self.unsafe_keys == 0 && !self.last_pulled_invalid
    }

    fn note_dropped(&mut self, key: &str, reason: &'static str) {
        self.dropped += 1;
        if self.dropped_sample.len() < REPORT_SAMPLE {
            self.dropped_sample.push(DroppedEntry {
                key: key.to_string(),
                reason,
            });
        }
    }

    fn note_unsafe(&mut self, key: &str) {
        self.unsafe_keys += 1;
        if self.unsafe_sample.len() < REPORT_SAMPLE {
            self.unsafe_sample.push(key.to_string());
        }
    }
}

/// Rel → entry, ordered like a JS object (see the module doc).
///
/// The map key always equals the entry's `key` field: entries go in through
/// [`EntryMap::insert`], which keys them by `entry.key`. (Equality via
/// `PartialEq` ignores order; compare serialisations to check order.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryMap {
    map: IndexMap<String, IndexEntry>,
    /// How many keys are JS array indices; when 0 (the normal case) plain
    /// insertion order is already JS order and iteration needs no sorting.
    array_index_keys: usize,
}

/// Iterator over an [`EntryMap`] in JS property order.
pub struct EntryIter<'a>(EntryIterInner<'a>);

enum EntryIterInner<'a> {
    Plain(indexmap::map::Values<'a, String, IndexEntry>),
    Ordered(std::vec::IntoIter<&'a IndexEntry>),
}

impl<'a> Iterator for EntryIter<'a> {
    type Item = &'a IndexEntry;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            EntryIterInner::Plain(it) => it.next(),
            EntryIterInner::Ordered(it) => it.next(),
        }
    }
}

impl EntryMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The entry for `rel`.
    pub fn get(&self, rel: &str) -> Option<&IndexEntry> {
        self.map.get(rel)
    }

    /// Whether `rel` has an entry.
    pub fn contains(&self, rel: &str) -> bool {
        self.map.contains_key(rel)
    }

    /// Insert or replace the entry keyed by `entry.key`; a replaced key keeps
    /// its position (like `obj[k] = v` in JS). Returns the previous entry.
    pub fn insert(&mut self, entry: IndexEntry) -> Option<IndexEntry> {
        let is_index = array_index_value(&entry.key).is_some();
        let previous = self.map.insert(entry.key.clone(), entry);
        if previous.is_none() && is_index {
            self.array_index_keys += 1;
        }
        previous
    }

    /// Remove `rel`, keeping the order of the others (like `delete obj[k]`).
    pub fn remove(&mut self, rel: &str) -> Option<IndexEntry> {
        let removed = self.map.shift_remove(rel);
        if removed.is_some() && array_index_value(rel).is_some() {
            self.array_index_keys -= 1;
        }
        removed
    }

    /// Set `localMtime` of `rel`; returns false when `rel` has no entry.
    pub fn set_local_mtime(&mut self, rel: &str, local_mtime: impl Into<String>) -> bool {
        match self.map.get_mut(rel) {
            Some(entry) => {
                entry.local_mtime = Some(local_mtime.into());
                true
            }
            None => false,
        }
    }

    /// Keep only entries for which `keep` is true; returns how many were removed.
    pub fn retain(&mut self, mut keep: impl FnMut(&IndexEntry) -> bool) -> usize {
        let before = self.map.len();
        self.map.retain(|_, entry| keep(entry));
        self.array_index_keys = self
            .map
            .keys()
            .filter(|k| array_index_value(k).is_some())
            .count();
        before - self.map.len()
    }

    /// Insert every entry of `other` in its order (later values override,
    /// existing keys keep their position) — shard assembly and scoped pull.
    pub fn extend(&mut self, other: impl IntoIterator<Item = IndexEntry>) {
        for entry in other {
            self.insert(entry);
        }
    }

    /// Entries in JS property order (array-index keys first, numerically).
    pub fn iter(&self) -> EntryIter<'_> {
        if self.array_index_keys == 0 {
            return EntryIter(EntryIterInner::Plain(self.map.values()));
        }
        let mut numeric: Vec<(u32, &IndexEntry)> = Vec::with_capacity(self.array_index_keys);
        let mut named: Vec<&IndexEntry> = Vec::with_capacity(self.map.len());
        for (key, entry) in &self.map {
            match array_index_value(key) {
                Some(n) => numeric.push((n, entry)),
                None => named.push(entry),
            }
        }
        numeric.sort_by_key(|(n, _)| *n);
        let ordered: Vec<&IndexEntry> = numeric
            .into_iter()
            .map(|(_, entry)| entry)
            .chain(named)
            .collect();
        EntryIter(EntryIterInner::Ordered(ordered.into_iter()))
    }

    /// Keys (bare rels) in JS property order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.iter().map(|entry| entry.key.as_str())
    }

    /// Tolerant parse of an `entries` object (see the module doc).
    pub(crate) fn from_json_object(obj: &Map<String, Value>, report: &mut ParseReport) -> Self {
        let mut entries = EntryMap::new();
        for (map_key, value) in obj {
            match IndexEntry::from_value(map_key, value) {
                Ok(entry) => {
                    if safe_index_key(map_key).is_err() {
                        report.note_unsafe(map_key);
                    }
                    entries.insert(entry);
                }
                Err(reason) => report.note_dropped(map_key, reason),
            }
        }
        entries
    }
}

impl<'a> IntoIterator for &'a EntryMap {
    type Item = &'a IndexEntry;
    type IntoIter = EntryIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl FromIterator<IndexEntry> for EntryMap {
    fn from_iter<I: IntoIterator<Item = IndexEntry>>(iter: I) -> Self {
        let mut map = EntryMap::new();
        map.extend(iter);
        map
    }
}

impl Serialize for EntryMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for entry in self.iter() {
            map.serialize_entry(&entry.key, entry)?;
        }
        map.end()
    }
}

/// The monolithic index. `version` is always 1 and not stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Index {
    /// ISO time of the last push that changed something / discovery / merge.
    pub last_pulled: String,
    /// The entries.
    pub entries: EntryMap,
}

impl Serialize for Index {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("version", &INDEX_VERSION)?;
        map.serialize_entry("lastPulled", &self.last_pulled)?;
        map.serialize_entry("entries", &self.entries)?;
        map.end()
    }
}

impl Index {
    /// An empty index (`{version:1, lastPulled, entries:{}}`).
    pub fn new(last_pulled: impl Into<String>) -> Self {
        Index {
            last_pulled: last_pulled.into(),
            entries: EntryMap::new(),
        }
    }

    /// Parse index bytes (pretty or compact, BOM tolerated); see the module
    /// doc for what fails and what is dropped.
    pub fn parse(bytes: &[u8]) -> Result<(Index, ParseReport)> {
        let value = parse_value(bytes)
            .map_err(|e| Error::other(format!("index is not valid JSON: {e}")))?;
        let obj = value
            .as_object()
            .ok_or_else(|| Error::other("index is not a JSON object"))?;
        if obj.get("version").and_then(js_safe_uint) != Some(INDEX_VERSION) {
            return Err(Error::other("index `version` is not 1"));
        }
        let entries = obj
            .get("entries")
            .and_then(Value::as_object)
            .ok_or_else(|| Error::other("index `entries` is not an object"))?;
        let mut report = ParseReport::default();
        let last_pulled = match obj.get("lastPulled") {
            Some(Value::String(s)) => s.clone(),
            _ => {
                report.last_pulled_invalid = true;
                String::new()
            }
        };
        let entries = EntryMap::from_json_object(entries, &mut report);
        Ok((
            Index {
                last_pulled,
                entries,
            },
            report,
        ))
    }

    /// Compact JSON as written to GCS (`JSON.stringify(index)`).
    pub fn to_compact_json(&self) -> Result<String> {
        to_compact(self)
    }

    /// Pretty JSON as written to the local cache copy
    /// (`JSON.stringify(index, null, 2)`, no trailing newline).
    pub fn to_pretty_json(&self) -> Result<String> {
        to_pretty(self)
    }

    /// Remove entries for internal files (docs/sync.md#internal-files); true if any was removed
    /// (the caller then marks the index mutated so it is written back).
    pub fn scrub(&mut self) -> bool {
        self.entries
            .retain(|entry| !is_internal_cache_file(&entry.key))
            > 0
    }
}

/// Local results to merge onto a freshly fetched remote index: uploaded
/// entries and deleted keys (what a push publishes, docs/sync.md#index-publish).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexChanges {
    /// Entries to insert or replace, in upload order.
    pub upserts: Vec<IndexEntry>,
    /// Keys whose remote objects were deleted.
    pub deletions: Vec<String>,
}

impl IndexChanges {
    /// True when there is nothing to merge.
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.deletions.is_empty()
    }
}

/// Merge `changes` onto `remote` (always a freshly fetched index, never a
/// cached one — docs/hazards.md#index-read-errors-taken-as-an-empty-index):
/// upserts first, then deletions, so a key that is both uploaded and deleted
/// ends up deleted (same order as upstream's commit). Entries not mentioned are
/// preserved. When there is anything to merge, `lastPulled` becomes `now_iso`.
/// Returns whether anything was merged.
pub fn merge_onto(remote: &mut Index, changes: &IndexChanges, now_iso: &str) -> bool {
    if changes.is_empty() {
        return false;
    }
    remote.entries.extend(changes.upserts.iter().cloned());
    for key in &changes.deletions {
        remote.entries.remove(key);
    }
    remote.last_pulled = now_iso.to_string();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, size: u64) -> IndexEntry {
        IndexEntry::new(key, size, "2026-08-01T10:00:00.000Z")
    }

    #[test]
    fn empty_index_serialises_like_js() {
        let index = Index::new("2026-08-01T10:00:00.000Z");
        assert_eq!(
            index.to_compact_json().unwrap(),
            r#"{"version":1,"lastPulled":"2026-08-01T10:00:00.000Z","entries":{}}"#
        );
        assert_eq!(
            index.to_pretty_json().unwrap(),
            "{\n  \"version\": 1,\n  \"lastPulled\": \"2026-08-01T10:00:00.000Z\",\n  \"entries\": {}\n}"
        );
    }

    #[test]
    fn entry_fields_in_order_and_optionals_omitted() {
        let mut e = entry("a", 1);
        e.sha256 = Some("ab".into());
        assert_eq!(
            to_compact(&e).unwrap(),
            r#"{"key":"a","size":1,"lastModified":"2026-08-01T10:00:00.000Z","sha256":"ab"}"#
        );
        e.local_mtime = Some("m".into());
        assert_eq!(
            to_compact(&e).unwrap(),
            r#"{"key":"a","size":1,"lastModified":"2026-08-01T10:00:00.000Z","localMtime":"m","sha256":"ab"}"#
        );
    }

    #[test]
    fn parse_rejects_bad_top_level() {
        let rows: &[&[u8]] = &[
            b"",
            b"not json",
            b"[]",
            b"null",
            b"{\"version\":1,\"lastPulled\":\"x\",\"entries\":{}",
            b"{\"lastPulled\":\"x\",\"entries\":{}}",
            b"{\"version\":2,\"lastPulled\":\"x\",\"entries\":{}}",
            b"{\"version\":\"1\",\"lastPulled\":\"x\",\"entries\":{}}",
            b"{\"version\":1,\"lastPulled\":\"x\"}",
            b"{\"version\":1,\"lastPulled\":\"x\",\"entries\":[]}",
            b"\xff\xfe{}",
        ];
        for bytes in rows {
            assert!(
                Index::parse(bytes).is_err(),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn parse_drops_bad_entries_and_keeps_the_rest() {
        let text = r#"{"version":1.0,"lastPulled":7,"extra":true,"entries":{
            "ok":{"key":"ok","size":1,"lastModified":"t","unknown":1},
            "float":{"key":"float","size":2.0,"lastModified":"t","localMtime":null},
            "neg":{"key":"neg","size":-1,"lastModified":"t"},
            "frac":{"key":"frac","size":1.5,"lastModified":"t"},
            "huge":{"key":"huge","size":9007199254740992,"lastModified":"t"},
            "str":{"key":"str","size":"1","lastModified":"t"},
            "nokey":{"size":1,"lastModified":"t"},
            "mismatch":{"key":"other","size":1,"lastModified":"t"},
            "nolm":{"key":"nolm","size":1},
            "badmtime":{"key":"badmtime","size":1,"lastModified":"t","localMtime":5},
            "badhash":{"key":"badhash","size":1,"lastModified":"t","sha256":[]},
            "scalar":3,
            "../evil":{"key":"../evil","size":1,"lastModified":"t"}
        }}"#;
        let (index, report) = Index::parse(text.as_bytes()).unwrap();
        let keys: Vec<&str> = index.entries.keys().collect();
        assert_eq!(keys, ["ok", "float", "../evil"]);
        assert_eq!(index.entries.get("float").unwrap().size, 2);
        assert_eq!(index.entries.get("float").unwrap().local_mtime, None);
        assert_eq!(report.dropped, 10);
        assert_eq!(report.dropped_sample.len(), 10);
        assert_eq!(report.dropped_sample[0].key, "neg");
        assert_eq!(report.unsafe_keys, 1);
        assert_eq!(report.unsafe_sample, ["../evil"]);
        assert!(report.last_pulled_invalid);
        assert_eq!(index.last_pulled, "");
        // Unknown fields are not written back.
        assert!(!index.to_compact_json().unwrap().contains("unknown"));
    }

    #[test]
    fn duplicate_entry_keys_last_wins_first_position() {
        let text = r#"{"version":1,"lastPulled":"t","entries":{
            "a":{"key":"a","size":1,"lastModified":"t"},
            "b":{"key":"b","size":2,"lastModified":"t"},
            "a":{"key":"a","size":3,"lastModified":"t"}}}"#;
        let (index, _) = Index::parse(text.as_bytes()).unwrap();
        let got: Vec<(&str, u64)> = index
            .entries
            .iter()
            .map(|e| (e.key.as_str(), e.size))
            .collect();
        assert_eq!(got, [("a", 3), ("b", 2)]);
    }

    #[test]
    fn array_index_keys_serialise_first_like_js() {
        let mut map = EntryMap::new();
        map.insert(entry("b", 1));
        map.insert(entry("10", 1));
        map.insert(entry("a", 1));
        map.insert(entry("2", 1));
        map.insert(entry("02", 1));
        let keys: Vec<&str> = map.keys().collect();
        assert_eq!(keys, ["2", "10", "b", "a", "02"]);
        map.remove("2");
        map.remove("10");
        let keys: Vec<&str> = map.keys().collect();
        assert_eq!(keys, ["b", "a", "02"]);
        map.insert(entry("7", 1));
        assert_eq!(map.retain(|e| e.key != "a"), 1);
        let keys: Vec<&str> = map.keys().collect();
        assert_eq!(keys, ["7", "b", "02"]);
    }

    #[test]
    fn insert_keeps_position_remove_then_insert_moves_to_end() {
        let mut map: EntryMap = [entry("a", 1), entry("b", 1), entry("c", 1)]
            .into_iter()
            .collect();
        map.insert(entry("a", 9));
        assert_eq!(map.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        map.remove("a");
        map.insert(entry("a", 9));
        assert_eq!(map.keys().collect::<Vec<_>>(), ["b", "c", "a"]);
        assert!(map.set_local_mtime("b", "m"));
        assert!(!map.set_local_mtime("zz", "m"));
        assert_eq!(map.get("b").unwrap().local_mtime.as_deref(), Some("m"));
    }

    #[test]
    fn scrub_removes_internal_entries() {
        let mut index = Index::new("t");
        for key in [
            "data/a/raw",
            "_catalog.db",
            "_catalog.db-wal",
            ".datastore-index.json",
            "_index/_meta.json",
            "data/x/.lock",
            "ns/.namespace.json",
            "_control/k",
            "audit/log.json",
        ] {
            index.entries.insert(entry(key, 1));
        }
        assert!(index.scrub());
        assert_eq!(
            index.entries.keys().collect::<Vec<_>>(),
            ["data/a/raw", "audit/log.json"]
        );
        assert!(!index.scrub());
    }

    #[test]
    fn merge_preserves_remote_entries_and_applies_changes() {
        let mut remote = Index::new("old");
        remote.entries.insert(entry("keep", 1));
        remote.entries.insert(entry("update", 1));
        remote.entries.insert(entry("gone", 1));
        let changes = IndexChanges {
            upserts: vec![entry("update", 2), entry("new", 3), entry("both", 4)],
            deletions: vec!["gone".into(), "both".into(), "never-there".into()],
        };
        assert!(merge_onto(&mut remote, &changes, "now"));
        assert_eq!(remote.last_pulled, "now");
        let got: Vec<(&str, u64)> = remote
            .entries
            .iter()
            .map(|e| (e.key.as_str(), e.size))
            .collect();
        assert_eq!(got, [("keep", 1), ("update", 2), ("new", 3)]);
        assert!(!merge_onto(&mut remote, &IndexChanges::default(), "later"));
        assert_eq!(remote.last_pulled, "now");
    }

    #[test]
    fn truncated_or_mangled_input_never_panics() {
        let text = r#"{"version":1,"lastPulled":"t","entries":{"a":{"key":"a","size":1,"lastModified":"t","sha256":"x"}}}"#;
        for cut in 0..text.len() {
            assert!(Index::parse(&text.as_bytes()[..cut]).is_err(), "cut {cut}");
        }
        let mut bytes = text.as_bytes().to_vec();
        for i in 0..bytes.len() {
            let saved = bytes[i];
            for replacement in [b'"', b'{', b'}', b'9', 0xff, b'-', b'\\'] {
                bytes[i] = replacement;
                let _ = Index::parse(&bytes);
            }
            bytes[i] = saved;
        }
        let deep = format!(
            r#"{{"version":1,"lastPulled":"t","entries":{{"a":{}}}}}"#,
            "[".repeat(10_000)
        );
        assert!(Index::parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn non_ascii_keys_are_not_escaped() {
        let mut index = Index::new("t");
        index.entries.insert(entry("data/ü/名前", 1));
        let text = index.to_compact_json().unwrap();
        assert!(text.contains("\"data/ü/名前\""));
        let (back, report) = Index::parse(text.as_bytes()).unwrap();
        assert!(report.is_clean());
        assert_eq!(back.to_compact_json().unwrap(), text);
    }
}
