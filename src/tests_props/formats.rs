//! The index-family formats and the sidecar: hostile input never panics, anything
//! accepted survives write-then-read unchanged, what is kept faithfully reflects the
//! input, and valid structures written by the crate read back identically (value and,
//! through a second write, byte order).

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::{config, hostile, lit, number, shaped_object, text, with_bom};
use crate::paths::safe_index_key;
use crate::sync::core::index::{EntryMap, Index, IndexEntry, ParseReport};
use crate::sync::core::json_text::{
    js_safe_uint, parse_value, to_compact, to_pretty, utf16_cmp, MAX_SAFE_INTEGER,
};
use crate::sync::core::partition_files::{Meta, PartitionFile};
use crate::sync::core::sidecar::Sidecar;

// ---- generators of valid structures ----

/// Index keys: ordinary rels, JS array-index look-alikes (which JS orders first) and
/// anything at all (kept but flagged unsafe).
fn entry_key() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[a-z]{1,8}(/[a-z0-9._-]{1,8}){0,6}",
        1 => "(0|[1-9][0-9]{0,10}|0[0-9])",
        2 => text(),
    ]
    .boxed()
}

fn size() -> BoxedStrategy<u64> {
    prop_oneof![0u64..4096, Just(MAX_SAFE_INTEGER), 0..=MAX_SAFE_INTEGER].boxed()
}

fn index_entry() -> impl Strategy<Value = IndexEntry> {
    (
        entry_key(),
        size(),
        text(),
        prop::option::of(text()),
        prop::option::of(text()),
    )
        .prop_map(
            |(key, size, last_modified, local_mtime, sha256)| IndexEntry {
                key,
                size,
                last_modified,
                local_mtime,
                sha256,
            },
        )
}

fn entry_map() -> impl Strategy<Value = EntryMap> {
    prop::collection::vec(index_entry(), 0..10).prop_map(|e| e.into_iter().collect())
}

fn index() -> impl Strategy<Value = Index> {
    (text(), entry_map()).prop_map(|(last_pulled, entries)| Index {
        last_pulled,
        entries,
    })
}

fn meta() -> impl Strategy<Value = Meta> {
    let list = || prop::collection::vec(text(), 0..8);
    prop_oneof![
        list().prop_map(Meta::v1),
        (list(), 0..=MAX_SAFE_INTEGER).prop_map(|(p, seq)| Meta::v2(p, seq)),
        // As read from a bucket another client wrote: any order, duplicates kept.
        (list(), 0..=MAX_SAFE_INTEGER).prop_map(|(partitions, commit_seq)| Meta::V2 {
            partitions,
            commit_seq
        }),
    ]
}

/// A sidecar as this crate writes it: version 2, nothing rejected.
fn sidecar() -> impl Strategy<Value = Sidecar> {
    (
        (text(), text(), any::<bool>()),
        prop::collection::vec(text(), 0..6),
        (
            any::<bool>(),
            any::<bool>(),
            prop::option::of(any::<bool>()),
        ),
        prop::option::of(0..=MAX_SAFE_INTEGER),
        prop::option::of(text()),
        prop::option::of(any::<bool>()),
    )
        .prop_map(
            |(
                (remote_index_generation, last_verified_at, local_dirty),
                dirty_paths,
                (bulk_invalidated, lazy_pull_active, dirty_paths_overflowed),
                commit_seq,
                last_catalog_hash,
                data_key_migrated,
            )| Sidecar {
                version: 2,
                remote_index_generation,
                last_verified_at,
                local_dirty,
                dirty_paths,
                dirty_paths_rejected: 0,
                bulk_invalidated,
                lazy_pull_active,
                dirty_paths_overflowed,
                commit_seq,
                last_catalog_hash,
                data_key_migrated,
                partitions_pending: false,
            },
        )
}

// ---- shaped (mostly-right) objects for the tolerant readers ----

fn string_value() -> BoxedStrategy<String> {
    text().prop_map(|s| lit(&s)).boxed()
}

fn bool_value() -> BoxedStrategy<String> {
    any::<bool>().prop_map(|b| b.to_string()).boxed()
}

fn version_value(good: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::sample::select(good).prop_map(str::to_string),
        1 => number(),
        1 => prop::sample::select(good).prop_map(lit),
    ]
    .boxed()
}

/// An entry whose `key` usually matches its map key.
fn shaped_entry() -> BoxedStrategy<(String, String)> {
    entry_key()
        .prop_flat_map(|map_key| {
            let own_key = prop_oneof![4 => Just(lit(&map_key)), 1 => string_value()].boxed();
            let size_value = prop_oneof![3 => size().prop_map(|n| n.to_string()), 2 => number()];
            let body = shaped_object(vec![
                ("key", own_key),
                ("size", size_value.boxed()),
                ("lastModified", string_value()),
                (
                    "localMtime",
                    prop_oneof![string_value(), Just("null".to_string())].boxed(),
                ),
                (
                    "sha256",
                    prop_oneof![string_value(), Just("null".to_string())].boxed(),
                ),
            ]);
            (Just(map_key), body)
        })
        .boxed()
}

fn shaped_entries() -> BoxedStrategy<String> {
    prop::collection::vec(shaped_entry(), 0..8)
        .prop_map(|pairs| super::object(&pairs))
        .boxed()
}

fn shaped_index() -> BoxedStrategy<String> {
    shaped_object(vec![
        ("version", version_value(&["1", "1.0", "1e0"])),
        ("lastPulled", string_value()),
        ("entries", shaped_entries()),
    ])
}

fn shaped_partition_file() -> BoxedStrategy<String> {
    shaped_object(vec![
        ("version", version_value(&["1", "1.0"])),
        ("entries", shaped_entries()),
    ])
}

fn shaped_meta() -> BoxedStrategy<String> {
    let list = prop::collection::vec(prop_oneof![4 => string_value(), 1 => number()], 0..6)
        .prop_map(|items| format!("[{}]", items.join(",")));
    shaped_object(vec![
        ("version", version_value(&["1", "2", "2.0"])),
        ("partitions", list.boxed()),
        ("commitSeq", number()),
        ("lastCompacted", string_value()),
    ])
}

fn shaped_sidecar() -> BoxedStrategy<String> {
    let paths = prop::collection::vec(prop_oneof![4 => string_value(), 1 => number()], 0..6)
        .prop_map(|items| format!("[{}]", items.join(",")));
    shaped_object(vec![
        ("version", version_value(&["1", "2", "2.0"])),
        ("remoteIndexGeneration", string_value()),
        ("lastVerifiedAt", string_value()),
        ("localDirty", bool_value()),
        ("dirtyPaths", paths.boxed()),
        ("bulkInvalidated", bool_value()),
        ("lazyPullActive", bool_value()),
        ("dirtyPathsOverflowed", bool_value()),
        ("commitSeq", number()),
        ("lastCatalogHash", string_value()),
        ("dataKeyMigrated", bool_value()),
    ])
}

fn valid_index_text() -> BoxedStrategy<String> {
    (index(), any::<bool>())
        .prop_map(|(i, pretty)| {
            if pretty {
                i.to_pretty_json().unwrap()
            } else {
                i.to_compact_json().unwrap()
            }
        })
        .boxed()
}

fn valid_partition_text() -> BoxedStrategy<String> {
    entry_map()
        .prop_map(|entries| PartitionFile { entries }.to_compact_json().unwrap())
        .boxed()
}

fn valid_meta_text() -> BoxedStrategy<String> {
    meta().prop_map(|m| m.to_compact_json().unwrap()).boxed()
}

fn valid_sidecar_text() -> BoxedStrategy<String> {
    sidecar().prop_map(|s| s.to_pretty_json().unwrap()).boxed()
}

// ---- checks shared by the hostile-input properties ----

/// The raw `entries` object of `bytes`, when it parses to an object holding one.
fn raw_entries(bytes: &[u8]) -> Option<Map<String, Value>> {
    match parse_value(bytes).ok()? {
        Value::Object(mut top) => match top.remove("entries")? {
            Value::Object(entries) => Some(entries),
            _ => None,
        },
        _ => None,
    }
}

/// Every raw entry is either kept or dropped, a kept one says exactly what the input
/// said, and the report's counts and samples agree with the result.
fn check_tolerant_entries(
    raw: &Map<String, Value>,
    entries: &EntryMap,
    report: &ParseReport,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(entries.len() + report.dropped, raw.len());
    prop_assert_eq!(report.dropped_sample.len(), report.dropped.min(10));
    for dropped in &report.dropped_sample {
        prop_assert!(raw.contains_key(&dropped.key) && !entries.contains(&dropped.key));
    }
    let mut unsafe_keys = 0;
    for entry in entries {
        let source = &raw[&entry.key];
        prop_assert_eq!(
            source.get("key").and_then(Value::as_str),
            Some(entry.key.as_str())
        );
        prop_assert_eq!(source.get("size").and_then(js_safe_uint), Some(entry.size));
        prop_assert!(entry.size <= MAX_SAFE_INTEGER);
        prop_assert_eq!(
            source.get("lastModified").and_then(Value::as_str),
            Some(entry.last_modified.as_str())
        );
        prop_assert_eq!(
            source.get("localMtime").and_then(Value::as_str),
            entry.local_mtime.as_deref()
        );
        prop_assert_eq!(
            source.get("sha256").and_then(Value::as_str),
            entry.sha256.as_deref()
        );
        unsafe_keys += usize::from(safe_index_key(&entry.key).is_err());
    }
    prop_assert_eq!(report.unsafe_keys, unsafe_keys);
    Ok(())
}

fn clean_except_unsafe(report: &ParseReport) -> bool {
    report.dropped == 0 && !report.last_pulled_invalid
}

proptest! {
    #![proptest_config(config())]

    // ---- monolithic index ----

    #[test]
    fn index_write_then_read_is_identity(index in index()) {
        let compact = index.to_compact_json().unwrap();
        let pretty = index.to_pretty_json().unwrap();
        let unsafe_keys = index.entries.keys().filter(|k| safe_index_key(k).is_err()).count();
        for written in [&compact, &pretty] {
            let (back, report) = Index::parse(written.as_bytes()).unwrap();
            prop_assert_eq!(&back, &index);
            // `EntryMap` equality ignores order; the bytes of a second write do not.
            prop_assert_eq!(&back.to_compact_json().unwrap(), &compact);
            prop_assert!(clean_except_unsafe(&report), "{:?}", report);
            prop_assert_eq!(report.unsafe_keys, unsafe_keys);
        }
    }

    #[test]
    fn index_sizes_beyond_js_integers_are_dropped_not_rounded(
        index in index(),
        extra in 1u64..=u64::MAX - MAX_SAFE_INTEGER,
    ) {
        let mut big = index.clone();
        let key = "data/t/m/d/1/big";
        big.entries.insert(IndexEntry::new(key, MAX_SAFE_INTEGER + extra, "t"));
        let (back, report) = Index::parse(big.to_compact_json().unwrap().as_bytes()).unwrap();
        prop_assert!(!back.entries.contains(key));
        prop_assert_eq!(report.dropped, 1);
        let mut expected = big;
        expected.entries.remove(key);
        prop_assert_eq!(back, expected);
    }

    #[test]
    fn index_hostile_input_is_refused_or_read_faithfully(
        bytes in hostile(valid_index_text(), shaped_index()),
        bom in any::<bool>(),
    ) {
        let bytes = with_bom(bytes, bom);
        match Index::parse(&bytes) {
            Err(e) => prop_assert!(e.message().len() < 1000, "{}", e.message().len()),
            Ok((index, report)) => {
                let raw = raw_entries(&bytes).expect("an accepted index has an entries object");
                check_tolerant_entries(&raw, &index.entries, &report)?;
                let rewritten = index.to_compact_json().unwrap();
                let (again, report) = Index::parse(rewritten.as_bytes()).unwrap();
                prop_assert_eq!(&again, &index);
                prop_assert!(clean_except_unsafe(&report), "{:?}", report);
            }
        }
    }

    // ---- partition files ----

    #[test]
    fn partition_file_write_then_read_is_identity(entries in entry_map()) {
        let file = PartitionFile { entries };
        let compact = file.to_compact_json().unwrap();
        // Readers must also take the pretty files of seed-era clients.
        let pretty = to_pretty(&file).unwrap();
        for written in [&compact, &pretty] {
            let (back, report) = PartitionFile::parse(written.as_bytes()).unwrap().unwrap();
            prop_assert_eq!(&back, &file);
            prop_assert_eq!(&back.to_compact_json().unwrap(), &compact);
            prop_assert!(clean_except_unsafe(&report), "{:?}", report);
        }
    }

    #[test]
    fn partition_file_hostile_input_is_refused_or_read_faithfully(
        bytes in hostile(valid_partition_text(), shaped_partition_file()),
        bom in any::<bool>(),
    ) {
        let bytes = with_bom(bytes, bom);
        match PartitionFile::parse(&bytes) {
            Err(e) => prop_assert!(e.message().len() < 1000, "{}", e.message().len()),
            Ok(None) => {
                // "Missing" is only for a readable object with another version.
                let value = parse_value(&bytes).expect("treated as missing, so it is JSON");
                prop_assert!(value.is_object());
                prop_assert_ne!(value.get("version").and_then(js_safe_uint), Some(1));
            }
            Ok(Some((file, report))) => {
                let raw = raw_entries(&bytes).expect("an accepted file has an entries object");
                check_tolerant_entries(&raw, &file.entries, &report)?;
                let rewritten = file.to_compact_json().unwrap();
                let again = PartitionFile::parse(rewritten.as_bytes()).unwrap();
                prop_assert_eq!(again.map(|(f, _)| f), Some(file));
            }
        }
    }

    // ---- _meta.json ----

    #[test]
    fn meta_write_then_read_is_identity(meta in meta()) {
        let compact = meta.to_compact_json().unwrap();
        let pretty = to_pretty(&meta).unwrap();
        for written in [&compact, &pretty] {
            prop_assert_eq!(Meta::parse(written.as_bytes()).unwrap(), Some(meta.clone()));
        }
    }

    #[test]
    fn meta_v2_lists_each_partition_once_in_js_order(
        partitions in prop::collection::vec(prop_oneof![text(), "[a-c]{1,2}"], 0..12),
        seq in 0..=MAX_SAFE_INTEGER,
    ) {
        let meta = Meta::v2(partitions.clone(), seq);
        let listed = meta.partitions();
        for pair in listed.windows(2) {
            prop_assert_eq!(utf16_cmp(&pair[0], &pair[1]), std::cmp::Ordering::Less);
        }
        for p in &partitions {
            prop_assert!(listed.contains(p));
        }
        prop_assert!(listed.iter().all(|p| partitions.contains(p)));
        prop_assert_eq!(meta.commit_seq(), Some(seq));
    }

    #[test]
    fn meta_hostile_input_is_refused_or_read_faithfully(
        bytes in hostile(valid_meta_text(), shaped_meta()),
        bom in any::<bool>(),
    ) {
        let bytes = with_bom(bytes, bom);
        match Meta::parse(&bytes) {
            Err(e) => prop_assert!(e.message().len() < 1000, "{}", e.message().len()),
            Ok(None) => {
                let value = parse_value(&bytes).expect("treated as absent, so it is JSON");
                prop_assert!(value.is_object());
            }
            Ok(Some(meta)) => {
                let value = parse_value(&bytes).unwrap();
                let raw: Vec<&str> = value["partitions"]
                    .as_array()
                    .expect("an accepted meta lists partitions")
                    .iter()
                    .map(|v| v.as_str().expect("only strings are accepted"))
                    .collect();
                prop_assert_eq!(meta.partitions(), raw.as_slice());
                let seq = value.get("commitSeq").and_then(js_safe_uint);
                prop_assert_eq!(meta.commit_seq(), seq.filter(|_| meta.is_v2()));
                let rewritten = meta.to_compact_json().unwrap();
                prop_assert_eq!(Meta::parse(rewritten.as_bytes()).unwrap(), Some(meta));
            }
        }
    }

    // ---- sidecar ----

    #[test]
    fn sidecar_write_then_read_is_identity(sidecar in sidecar()) {
        let pretty = sidecar.to_pretty_json().unwrap();
        let compact = to_compact(&sidecar).unwrap();
        for written in [&pretty, &compact] {
            prop_assert_eq!(Sidecar::parse(written.as_bytes()), Some(sidecar.clone()));
        }
    }

    #[test]
    fn sidecar_hostile_input_follows_the_load_rules(
        bytes in hostile(valid_sidecar_text(), shaped_sidecar()),
        bom in any::<bool>(),
    ) {
        let bytes = with_bom(bytes, bom);
        let loaded = Sidecar::parse(&bytes);
        // The load rules of docs/formats.md#sync-state-sidecar, stated over the raw JSON.
        let value = parse_value(&bytes).ok();
        let field = |name: &str| value.as_ref().and_then(|v| v.get(name));
        let accepted = value.as_ref().is_some_and(Value::is_object)
            && field("remoteIndexGeneration").is_some_and(Value::is_string)
            && field("lastVerifiedAt").is_some_and(Value::is_string)
            && field("localDirty").is_some_and(Value::is_boolean)
            && matches!(field("version").and_then(js_safe_uint), Some(1 | 2));
        prop_assert_eq!(loaded.is_some(), accepted);
        let Some(sidecar) = loaded else { return Ok(()) };
        prop_assert_eq!(
            field("remoteIndexGeneration").and_then(Value::as_str),
            Some(sidecar.remote_index_generation.as_str())
        );
        prop_assert_eq!(field("localDirty").and_then(Value::as_bool), Some(sidecar.local_dirty));
        if sidecar.version == 1 {
            prop_assert!(sidecar.dirty_paths.is_empty() && !sidecar.bulk_invalidated);
            prop_assert_eq!(sidecar.commit_seq, None);
        } else {
            let listed = field("dirtyPaths").and_then(Value::as_array).map_or(0, Vec::len);
            prop_assert_eq!(sidecar.dirty_paths.len() + sidecar.dirty_paths_rejected, listed);
        }
        // What is written back (always v2) reads back as the same state.
        let expected = Sidecar { version: 2, dirty_paths_rejected: 0, ..sidecar.clone() };
        let rewritten = sidecar.to_pretty_json().unwrap();
        prop_assert_eq!(Sidecar::parse(rewritten.as_bytes()), Some(expected));
    }
}
