//! Golden tests against the hand-written compatibility fixtures in
//! `fixtures/formats/` (bytes as the TS client writes them, following
//! docs/formats.md). Parse-then-serialise must reproduce each file exactly.

use super::catalog::{catalog_payload, foreign_catalog_rows};
use super::index::Index;
use super::namespace::Manifest;
use super::partition::group_by_partition;
use super::partition_files::{Meta, PartitionFile};
use super::sidecar::Sidecar;
use super::sync_state::{SidecarOrigin, SyncState, WalkMode};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/formats/",
            $name
        ))
    };
}

const INDEX_PRETTY: &str = fixture!("index-pretty.json");
const INDEX_COMPACT: &str = fixture!("index-compact.json");
const PARTITION_ABC: &str = fixture!("partition-data--aws--ec2--vpc--abc.json");
const META_V1: &str = fixture!("meta-v1.json");
const META_V2: &str = fixture!("meta-v2.json");
const SIDECAR_V1: &str = fixture!("sidecar-v1.json");
const SIDECAR_V2: &str = fixture!("sidecar-v2.json");
const SIDECAR_V2_FULL: &str = fixture!("sidecar-v2-full.json");
const LOCK_BODY: &str = fixture!("lock-body.json");
const NAMESPACE_MANIFEST: &str = fixture!("namespace-manifest.json");
const CATALOG_EXPORT: &str = fixture!("catalog-export.json");
const CATALOG_EXPORT_CORE: &str = fixture!("catalog-export-core.json");

#[test]
fn fixtures_have_no_trailing_newline() {
    for text in [
        INDEX_PRETTY,
        INDEX_COMPACT,
        PARTITION_ABC,
        META_V1,
        META_V2,
        SIDECAR_V1,
        SIDECAR_V2,
        SIDECAR_V2_FULL,
        LOCK_BODY,
        NAMESPACE_MANIFEST,
        CATALOG_EXPORT,
    ] {
        assert!(!text.ends_with('\n'));
    }
}

#[test]
fn golden_index_pretty_round_trip() {
    let (index, report) = Index::parse(INDEX_PRETTY.as_bytes()).unwrap();
    assert!(report.is_clean());
    assert_eq!(index.entries.len(), 6);
    assert_eq!(index.to_pretty_json().unwrap(), INDEX_PRETTY);
}

#[test]
fn golden_index_compact_round_trip() {
    let (index, report) = Index::parse(INDEX_COMPACT.as_bytes()).unwrap();
    assert!(report.is_clean());
    assert_eq!(index.to_compact_json().unwrap(), INDEX_COMPACT);
}

#[test]
fn pretty_and_compact_index_are_the_same_index() {
    let (pretty, _) = Index::parse(INDEX_PRETTY.as_bytes()).unwrap();
    let (compact, _) = Index::parse(INDEX_COMPACT.as_bytes()).unwrap();
    assert_eq!(pretty, compact);
    assert_eq!(pretty.to_compact_json().unwrap(), INDEX_COMPACT);
    assert_eq!(compact.to_pretty_json().unwrap(), INDEX_PRETTY);
}

#[test]
fn golden_partition_file_round_trip_and_derivation() {
    let (file, report) = PartitionFile::parse(PARTITION_ABC.as_bytes())
        .unwrap()
        .unwrap();
    assert!(report.is_clean());
    assert_eq!(file.to_compact_json().unwrap(), PARTITION_ABC);
    // The same bytes come out of grouping the index fixture.
    let (index, _) = Index::parse(INDEX_COMPACT.as_bytes()).unwrap();
    let grouping = group_by_partition(&index);
    let derived = PartitionFile {
        entries: grouping.partitions["data--aws--ec2--vpc--abc"].clone(),
    };
    assert_eq!(derived.to_compact_json().unwrap(), PARTITION_ABC);
    assert!(grouping.unpartitionable.is_empty());
}

#[test]
fn golden_meta_round_trips_and_derivation() {
    let v1 = Meta::parse(META_V1.as_bytes()).unwrap().unwrap();
    assert_eq!(v1.to_compact_json().unwrap(), META_V1);
    let v2 = Meta::parse(META_V2.as_bytes()).unwrap().unwrap();
    assert_eq!(v2.to_compact_json().unwrap(), META_V2);
    // v1 lists partitions in first-seen order, v2 sorted.
    let (index, _) = Index::parse(INDEX_COMPACT.as_bytes()).unwrap();
    let keys: Vec<String> = group_by_partition(&index)
        .partitions
        .keys()
        .cloned()
        .collect();
    assert_eq!(Meta::v1(keys.clone()).to_compact_json().unwrap(), META_V1);
    assert_eq!(Meta::v2(keys, 7).to_compact_json().unwrap(), META_V2);
}

#[test]
fn golden_sidecar_v2_full_round_trip() {
    let sidecar = Sidecar::parse(SIDECAR_V2_FULL.as_bytes()).unwrap();
    assert_eq!(sidecar.to_pretty_json().unwrap(), SIDECAR_V2_FULL);
    // Through the state machine as well: nothing needs repair, same bytes.
    let state = SyncState::from_sidecar(Some(sidecar));
    assert_eq!(state.to_pretty_json().unwrap(), SIDECAR_V2_FULL);
    assert_eq!(state.commit_seq_probe(), Some(7));
    assert!(state.data_key_migrated());
}

#[test]
fn seed_sidecar_v2_loads_and_gains_lazy_and_overflow_flags() {
    let sidecar = Sidecar::parse(SIDECAR_V2.as_bytes()).unwrap();
    // Writers always emit lazyPullActive; the sidecar itself round-trips
    // with only that field added.
    let expected = SIDECAR_V2.replace(
        "\"bulkInvalidated\": false\n}",
        "\"bulkInvalidated\": false,\n  \"lazyPullActive\": false\n}",
    );
    assert_eq!(sidecar.to_pretty_json().unwrap(), expected);
    let state = SyncState::from_sidecar(Some(sidecar));
    assert_eq!(
        state.walk_mode(),
        WalkMode::Scoped {
            paths: &[
                "data/aws/ec2/vpc/abc/state-main".to_string(),
                "workflow-runs/wf-1".to_string()
            ],
            delete_absent: true
        }
    );
    assert!(state
        .to_pretty_json()
        .unwrap()
        .ends_with("\"lazyPullActive\": false,\n  \"dirtyPathsOverflowed\": false\n}"));
}

#[test]
fn v1_sidecar_fixture_means_full_walk() {
    let state = SyncState::load(Some(SIDECAR_V1.as_bytes()));
    assert_eq!(state.origin(), SidecarOrigin::V1);
    assert!(state.local_dirty());
    assert_eq!(
        state.walk_mode(),
        WalkMode::Full {
            delete_orphans: false
        }
    );
    assert_eq!(state.generation_fingerprint(), Some("1716585443123456"));
}

#[test]
fn lock_body_fixture_is_json_stringify_indent_2() {
    // The lock lives elsewhere; this pins that serde_json's pretty writer
    // reproduces the TS lock body byte for byte.
    let value: serde_json::Value = serde_json::from_str(LOCK_BODY).unwrap();
    assert_eq!(super::json_text::to_pretty(&value).unwrap(), LOCK_BODY);
}

#[test]
fn golden_namespace_manifest_round_trip() {
    let m = Manifest::parse(NAMESPACE_MANIFEST.as_bytes()).unwrap();
    assert_eq!(m.namespace, "infra");
    assert_eq!(m.repo_id, "cf4778dc-7d8d-45df-a9b0-d76a666bc5e7");
    assert_eq!(m.registered_at, "2026-06-03T00:00:00.000Z");
    assert_eq!(m.to_pretty_json().unwrap(), NAMESPACE_MANIFEST);
}

#[test]
fn golden_catalog_export_is_written_as_given_and_hashed() {
    // The extension method's export: rows uploaded as `JSON.stringify(rows)`; the sidecar's
    // `lastCatalogHash` is the SHA-256 of exactly these bytes.
    let p = catalog_payload(CATALOG_EXPORT).unwrap();
    assert_eq!(p.text, CATALOG_EXPORT);
    assert_eq!(
        p.sha256,
        "968b4234979b7874102910425dce9382aab746cd02ee27f810339c23cc4257cc"
    );
    assert_eq!(
        foreign_catalog_rows(CATALOG_EXPORT.as_bytes()).as_deref(),
        Some(CATALOG_EXPORT)
    );
}

#[test]
fn core_written_catalog_export_is_read_as_stored() {
    // swamp core writes its export itself: pretty, with a trailing newline.
    assert!(CATALOG_EXPORT_CORE.ends_with("}\n]\n"));
    assert_eq!(
        foreign_catalog_rows(CATALOG_EXPORT_CORE.as_bytes()).as_deref(),
        Some(CATALOG_EXPORT_CORE)
    );
    let rows: serde_json::Value = serde_json::from_str(CATALOG_EXPORT_CORE).unwrap();
    assert_eq!(rows[0].as_object().unwrap().len(), 23);
    // Exported again through us, the same rows come out compact.
    let p = catalog_payload(CATALOG_EXPORT_CORE).unwrap();
    assert_eq!(p.text, super::json_text::to_compact(&rows).unwrap());
}
