//! Partition (shard) keys: which `_index/{key}.json` file an index entry
//! belongs to, the keys of a model for scoped pulls, and grouping a whole
//! index by partition (docs/formats.md#partition-keys).
//!
//! The key rule is a pure segment count, not semantics; it must be
//! reproduced exactly or two clients write the same entry to different
//! shards. Known consequence kept for interop
//! (docs/hazards.md#latest-markers-in-a-type-level-partition): a `latest` marker
//! (`data/{type…}/{id}/{name}/latest`) lands in a type-level partition.

use indexmap::IndexMap;

use super::index::{EntryMap, Index};

/// Partition key of root-level files (one segment, e.g. `.catalog-export.json`).
pub const ROOT_PARTITION: &str = "_root";

/// Top-level directories partitioned per model (`{subdir}/{type…}/{id}/…`).
const PER_MODEL_DIRS: [&str; 3] = ["data", "outputs", "definitions-evaluated"];

/// Top-level directories that form one shard each, at any depth ≥ 2.
const SINGLE_SHARD_DIRS: [&str; 6] = [
    "workflows-evaluated",
    "auto-definitions",
    "audit",
    "telemetry",
    "logs",
    "files",
];

/// Partition key of a bare rel, or `None` when no shard holds it.
///
/// Split on `/` (empty segments count, as in JS `split`):
/// * `""` → none; exactly one segment (non-empty) → `_root`;
/// * `data` / `outputs` / `definitions-evaluated`: fewer than 4 segments →
///   none; ≥ 6 segments → drop the last 3, else (4–5) drop the last 1; join
///   the rest with `--`;
/// * `workflow-runs`: fewer than 3 segments → none, else `workflow-runs--{seg1}`;
/// * `workflows-evaluated`, `auto-definitions`, `audit`, `telemetry`, `logs`,
///   `files` → the directory name;
/// * anything else (e.g. `secrets/…`) → none. Such entries vanish from a v2
///   (shard-first) repo (docs/hazards.md#unpartitionable-entries-vanish-from-shards);
///   callers must decide what to do with them.
pub fn partition_key_from_path(rel: &str) -> Option<String> {
    let segments: Vec<&str> = rel.split('/').collect();
    let first = *segments.first()?;
    if segments.len() == 1 {
        return (!first.is_empty()).then(|| ROOT_PARTITION.to_string());
    }
    if PER_MODEL_DIRS.contains(&first) {
        let n = segments.len();
        if n < 4 {
            return None;
        }
        let keep = if n >= 6 { n - 3 } else { n - 1 };
        return Some(segments.get(..keep)?.join("--"));
    }
    if first == "workflow-runs" {
        return match segments.get(1) {
            Some(run) if segments.len() >= 3 => Some(format!("workflow-runs--{run}")),
            _ => None,
        };
    }
    if SINGLE_SHARD_DIRS.contains(&first) {
        return Some(first.to_string());
    }
    None
}

/// The three partition keys of a model, in the order a scoped pull reads
/// them: `data--{slug}--{id}`, `outputs--{slug}--{id}`,
/// `definitions-evaluated--{slug}--{id}`, where `slug` is the model type with
/// every `/` replaced by `--` (no other escaping).
pub fn partition_keys_for_model(model_type: &str, model_id: &str) -> [String; 3] {
    let slug = model_type.replace('/', "--");
    PER_MODEL_DIRS.map(|dir| format!("{dir}--{slug}--{model_id}"))
}

/// An index split into partitions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grouping {
    /// Partition key → its entries, keys in first-seen order of the index's
    /// JS iteration order (the order a v1 `_meta.json` lists them in).
    pub partitions: IndexMap<String, EntryMap>,
    /// Rels with no partition (docs/hazards.md#unpartitionable-entries-vanish-from-shards),
    /// in index order.
    pub unpartitionable: Vec<String>,
}

/// Group every entry of `index` by [`partition_key_from_path`].
pub fn group_by_partition(index: &Index) -> Grouping {
    let mut grouping = Grouping::default();
    for entry in index.entries.iter() {
        match partition_key_from_path(&entry.key) {
            Some(key) => {
                grouping
                    .partitions
                    .entry(key)
                    .or_default()
                    .insert(entry.clone());
            }
            None => grouping.unpartitionable.push(entry.key.clone()),
        }
    }
    grouping
}

/// Partition keys touched by `rels` (uploads then deletions), de-duplicated
/// in first-seen order, unpartitionable rels skipped (docs/sync.md#index-publish).
pub fn dirty_partition_keys<'a>(rels: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for rel in rels {
        if let Some(key) = partition_key_from_path(rel) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::core::index::IndexEntry;

    #[test]
    fn partition_key_table() {
        let rows: &[(&str, Option<&str>)] = &[
            // data/ per-model key (the examples of docs/formats.md#partition-keys).
            ("data/t/m/d/1/raw", Some("data--t--m")),
            (
                "data/aws/ec2/vpc/abc/state-main/1/raw",
                Some("data--aws--ec2--vpc--abc"),
            ),
            // latest marker (7 segments) lands in the type-level partition
            // (docs/hazards.md#latest-markers-in-a-type-level-partition).
            (
                "data/aws/ec2/vpc/abc/state-main/latest",
                Some("data--aws--ec2--vpc"),
            ),
            ("data/t/m/metadata.yaml", Some("data--t--m")),
            ("data/t/m/d/x", Some("data--t--m--d")),
            ("data/t/m/d/1/raw", Some("data--t--m")),
            // Short data/ path returns none.
            ("data/a/b", None),
            ("data/a", None),
            ("data", Some("_root")),
            // outputs/ and definitions-evaluated/ per-model keys.
            ("outputs/t/m/d/1/raw", Some("outputs--t--m")),
            (
                "outputs/aws/s3/bucket/b1/out/3/raw",
                Some("outputs--aws--s3--bucket--b1"),
            ),
            (
                "definitions-evaluated/t/m/d/1/def.yaml",
                Some("definitions-evaluated--t--m"),
            ),
            (
                "definitions-evaluated/t/m/def.yaml",
                Some("definitions-evaluated--t--m"),
            ),
            // workflow-runs/ per-workflow key.
            ("workflow-runs/wf-1/run.yaml", Some("workflow-runs--wf-1")),
            ("workflow-runs/wf-1/a/b/c.yaml", Some("workflow-runs--wf-1")),
            ("workflow-runs/x.yaml", None),
            // Single-shard directories, any depth ≥ 2.
            ("workflows-evaluated/wf.yaml", Some("workflows-evaluated")),
            (
                "workflows-evaluated/a/b/c/wf.yaml",
                Some("workflows-evaluated"),
            ),
            ("auto-definitions/x.yaml", Some("auto-definitions")),
            ("audit/log1.json", Some("audit")),
            ("telemetry/t/1.json", Some("telemetry")),
            ("logs/x.log", Some("logs")),
            ("files/a/b", Some("files")),
            // Root-level file.
            (".catalog-export.json", Some("_root")),
            ("README", Some("_root")),
            // Empty and unknown.
            ("", None),
            ("secrets/x", None),
            ("unknown/dir/file", None),
            ("/x", None),
            ("a/", None),
        ];
        for (rel, want) in rows {
            assert_eq!(partition_key_from_path(rel).as_deref(), *want, "{rel:?}");
        }
    }

    #[test]
    fn model_keys() {
        assert_eq!(
            partition_keys_for_model("gcp/compute/instance", "abc"),
            [
                "data--gcp--compute--instance--abc",
                "outputs--gcp--compute--instance--abc",
                "definitions-evaluated--gcp--compute--instance--abc",
            ]
        );
        assert_eq!(partition_keys_for_model("t", "m")[0], "data--t--m");
    }

    #[test]
    fn model_keys_match_path_keys() {
        let [data, outputs, defs] = partition_keys_for_model("aws/ec2/vpc", "abc");
        assert_eq!(
            partition_key_from_path("data/aws/ec2/vpc/abc/state-main/1/raw"),
            Some(data)
        );
        assert_eq!(
            partition_key_from_path("outputs/aws/ec2/vpc/abc/o/2/raw"),
            Some(outputs)
        );
        assert_eq!(
            partition_key_from_path("definitions-evaluated/aws/ec2/vpc/abc/d/1/def"),
            Some(defs)
        );
    }

    #[test]
    fn grouping_keeps_first_seen_order_and_lists_leftovers() {
        let mut index = Index::new("t");
        for key in [
            "data/t2/m2/d/1/raw",
            "secrets/s",
            "data/t1/m1/d/1/raw",
            "audit/a.json",
            "data/t2/m2/d/2/raw",
            ".catalog-export.json",
            "workflow-runs/x.yaml",
        ] {
            index.entries.insert(IndexEntry::new(key, 1, "t"));
        }
        let g = group_by_partition(&index);
        let keys: Vec<&str> = g.partitions.keys().map(String::as_str).collect();
        assert_eq!(keys, ["data--t2--m2", "data--t1--m1", "audit", "_root"]);
        let m2: Vec<&str> = g.partitions["data--t2--m2"].keys().collect();
        assert_eq!(m2, ["data/t2/m2/d/1/raw", "data/t2/m2/d/2/raw"]);
        assert_eq!(g.unpartitionable, ["secrets/s", "workflow-runs/x.yaml"]);
    }

    #[test]
    fn dirty_keys_dedup_in_first_seen_order() {
        let keys = dirty_partition_keys([
            "data/t/m/d/1/raw",
            "secrets/x",
            "audit/a",
            "data/t/m/d/2/raw",
            "audit/b",
        ]);
        assert_eq!(keys, ["data--t--m", "audit"]);
    }
}
