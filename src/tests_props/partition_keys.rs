//! Partition keys (`docs/formats.md#partition-keys`) and the object-key / local-path
//! helpers: total and deterministic on any string, the segment-count rules as that section
//! words them, model keys equal to the keys of the files they cover, and grouping
//! consistent with the per-path rule.

use proptest::prelude::*;

use super::{config, text};
use crate::sync::core::index::{Index, IndexEntry};
use crate::sync::core::keys::{bare_rel, data_key, local_rel_path, shard_key, shard_prefix};
use crate::sync::core::partition::{
    dirty_partition_keys, group_by_partition, partition_key_from_path, partition_keys_for_model,
    ROOT_PARTITION,
};

const PER_MODEL_DIRS: &[&str] = &["data", "outputs", "definitions-evaluated"];
const SINGLE_SHARD_DIRS: &[&str] = &[
    "workflows-evaluated",
    "auto-definitions",
    "audit",
    "telemetry",
    "logs",
    "files",
];

/// One `/`-free segment, possibly empty (JS `split` keeps empty segments).
fn segment() -> BoxedStrategy<String> {
    prop_oneof![3 => "[a-z0-9._-]{1,6}", 1 => "[^/]{0,4}"].boxed()
}

fn nonempty_segment() -> BoxedStrategy<String> {
    prop_oneof![3 => "[a-z0-9._-]{1,6}", 1 => "[^/]{1,4}"].boxed()
}

/// Rels that reach every branch: known top-level directories with any tail, plus
/// arbitrary strings.
fn rel() -> BoxedStrategy<String> {
    let first = prop_oneof![
        prop::sample::select(PER_MODEL_DIRS).prop_map(str::to_string),
        prop::sample::select(SINGLE_SHARD_DIRS).prop_map(str::to_string),
        Just("workflow-runs".to_string()),
        Just("secrets".to_string()),
        segment(),
    ];
    prop_oneof![
        4 => (first, prop::collection::vec(segment(), 0..9))
            .prop_map(|(first, rest)| [vec![first], rest].concat().join("/")),
        1 => text(),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn partition_key_is_total_deterministic_and_flat(rel in rel()) {
        let key = partition_key_from_path(&rel);
        prop_assert_eq!(&partition_key_from_path(&rel), &key);
        let Some(key) = key else { return Ok(()) };
        // The key names the object `_index/{key}.json`: a `/` would nest it elsewhere.
        prop_assert!(!key.is_empty() && !key.contains('/'), "{:?}", key);
        match rel.split_once('/') {
            None => prop_assert_eq!(key, ROOT_PARTITION),
            Some((first, _)) => {
                prop_assert!(key.starts_with(first), "{:?} for {:?}", key, rel);
                prop_assert_ne!(key, ROOT_PARTITION);
            }
        }
    }

    /// The rule as `docs/formats.md#partition-keys` words it: fewer than 4 segments → none; ≥ 6 →
    /// drop the last 3; otherwise drop the last 1; join with `--` (a lone directory name is a root
    /// file).
    #[test]
    fn per_model_keys_follow_the_segment_count_rule(
        dir in prop::sample::select(PER_MODEL_DIRS),
        rest in prop::collection::vec(segment(), 0..9),
    ) {
        let segments = [vec![dir.to_string()], rest].concat();
        let n = segments.len();
        let expected = match n {
            1 => Some(ROOT_PARTITION.to_string()),
            2 | 3 => None,
            4 | 5 => Some(segments[..n - 1].join("--")),
            _ => Some(segments[..n - 3].join("--")),
        };
        prop_assert_eq!(partition_key_from_path(&segments.join("/")), expected);
    }

    /// A scoped pull reads the model's keys; every versioned file of the model
    /// (`{dir}/{type…}/{id}/{name}/{version}/{file}`) must be in exactly those shards.
    #[test]
    fn model_keys_cover_the_model_files(
        model_type in prop::collection::vec(nonempty_segment(), 1..4),
        id in nonempty_segment(),
        name in nonempty_segment(),
        version in nonempty_segment(),
        file in nonempty_segment(),
    ) {
        let model_type = model_type.join("/");
        let keys = partition_keys_for_model(&model_type, &id);
        for (dir, key) in PER_MODEL_DIRS.iter().zip(keys) {
            let rel = format!("{dir}/{model_type}/{id}/{name}/{version}/{file}");
            prop_assert_eq!(partition_key_from_path(&rel), Some(key));
        }
    }

    /// Kept for interop (`docs/hazards.md#latest-markers-in-a-type-level-partition`): the `latest`
    /// marker `data/{type…}/{id}/{name}/latest` of a multi-segment type lands in the type-level
    /// partition (no model id), not the model's.
    #[test]
    fn latest_marker_lands_in_the_type_level_partition(
        model_type in prop::collection::vec(nonempty_segment(), 2..5),
        id in nonempty_segment(),
        name in nonempty_segment(),
    ) {
        let rel = format!("data/{}/{id}/{name}/latest", model_type.join("/"));
        let key = partition_key_from_path(&rel);
        prop_assert_eq!(&key, &Some(format!("data--{}", model_type.join("--"))));
        let [model_key, ..] = partition_keys_for_model(&model_type.join("/"), &id);
        prop_assert_ne!(key, Some(model_key));
    }

    #[test]
    fn workflow_runs_and_single_shard_dirs(
        run in segment(),
        tail in prop::collection::vec(segment(), 1..6),
        single in prop::sample::select(SINGLE_SHARD_DIRS),
    ) {
        let tail = tail.join("/");
        prop_assert_eq!(
            partition_key_from_path(&format!("workflow-runs/{run}/{tail}")),
            Some(format!("workflow-runs--{run}"))
        );
        prop_assert_eq!(partition_key_from_path(&format!("workflow-runs/{run}")), None);
        let in_single = format!("{single}/{tail}");
        prop_assert_eq!(partition_key_from_path(&in_single), Some(single.to_string()));
    }

    /// Grouping and dirty-key collection are two uses of one rule: every entry sits in
    /// the partition of its own key (or in the leftovers when it has none), nothing is
    /// lost, and both list partitions in the same first-seen order.
    #[test]
    fn grouping_agrees_with_the_per_path_rule(rels in prop::collection::vec(rel(), 0..24)) {
        let mut index = Index::new("t");
        for rel in &rels {
            index.entries.insert(IndexEntry::new(rel.clone(), 1, "t"));
        }
        let grouping = group_by_partition(&index);
        let grouped: usize = grouping.partitions.values().map(|m| m.len()).sum();
        prop_assert_eq!(grouped + grouping.unpartitionable.len(), index.entries.len());
        for (key, entries) in &grouping.partitions {
            prop_assert!(!entries.is_empty());
            for rel in entries.keys() {
                prop_assert_eq!(partition_key_from_path(rel), Some(key.clone()));
            }
        }
        for rel in &grouping.unpartitionable {
            prop_assert_eq!(partition_key_from_path(rel), None);
        }
        let order: Vec<&String> = grouping.partitions.keys().collect();
        let dirty = dirty_partition_keys(index.entries.keys());
        prop_assert_eq!(order, dirty.iter().collect::<Vec<_>>());
    }

    /// #1483: push and pull must derive the same local path for an object, and the
    /// index key must come back from the local path.
    #[test]
    fn object_keys_and_local_paths_agree(
        ns in prop::option::of(prop_oneof![Just(String::new()), "[a-z0-9_-]{1,8}", text()]),
        rel in prop_oneof![rel(), text()],
        partition in text(),
    ) {
        let ns = ns.as_deref();
        let local = local_rel_path(ns, &rel);
        prop_assert_eq!(&data_key(ns, &rel), &local);
        prop_assert_eq!(bare_rel(&local, ns), Some(rel.as_str()));
        let shard = shard_key(ns, &partition);
        prop_assert!(shard.starts_with(&shard_prefix(ns)), "{:?}", shard);
        let file = format!("_index/{partition}.json");
        prop_assert!(shard.ends_with(&file), "{:?}", shard);
        if ns.is_none_or(str::is_empty) {
            // Solo mode, including an empty namespace, never yields a leading `/`.
            prop_assert_eq!(shard, file);
            prop_assert_eq!(local, rel);
        }
    }
}
