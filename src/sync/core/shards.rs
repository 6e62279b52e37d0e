//! Shard-first (v2) index arithmetic (docs/sync.md#shard-first-repositories): which shard
//! holds a path, which shards a dirty path can touch, how a push's changes split per
//! shard, and the partition list the next `_meta.json` carries. Pure: the I/O is in
//! `sync/shards.rs`.
//!
//! Paths no partition key covers (`secrets/…`, a two-segment `workflow-runs/x`, unknown
//! top-level directories) go to one extra shard, [`UNPARTITIONED`], instead of vanishing
//! as they do in the TypeScript client
//! (docs/hazards.md#unpartitionable-entries-vanish-from-shards). A TypeScript reader
//! assembles every shard the meta lists, whatever its name, so it sees them too.

use std::collections::BTreeSet;

use indexmap::IndexMap;

use super::index::{EntryMap, IndexChanges};
use super::partition::{partition_key_from_path, ROOT_PARTITION};

/// The shard of entries no partition key covers. No path maps to this name under the
/// key rule (`_root` is the only other key starting with `_`).
pub const UNPARTITIONED: &str = "_unpartitioned";

/// Top-level directories partitioned per model (mirrors the key rule).
const PER_MODEL_DIRS: [&str; 3] = ["data", "outputs", "definitions-evaluated"];

/// The shard that holds `rel` in a shard-first repository.
pub fn shard_of(rel: &str) -> String {
    partition_key_from_path(rel).unwrap_or_else(|| UNPARTITIONED.to_string())
}

/// Split a push's changes by shard, in first-seen order (uploads, then deletions).
pub fn changes_by_shard(changes: &IndexChanges) -> IndexMap<String, IndexChanges> {
    let mut out: IndexMap<String, IndexChanges> = IndexMap::new();
    for entry in &changes.upserts {
        out.entry(shard_of(&entry.key))
            .or_default()
            .upserts
            .push(entry.clone());
    }
    for key in &changes.deletions {
        out.entry(shard_of(key))
            .or_default()
            .deletions
            .push(key.clone());
    }
    out
}

/// Apply one shard's changes to its entries: upserts first, then deletions (a key both
/// uploaded and deleted ends up deleted, as in the monolith merge).
pub fn apply_to_shard(entries: &mut EntryMap, changes: &IndexChanges) {
    entries.extend(changes.upserts.iter().cloned());
    for key in &changes.deletions {
        entries.remove(key);
    }
}

/// The shards that can hold an entry at or below the bare (namespace-free) path `dirty`,
/// among `listed` (the meta's partitions), plus [`UNPARTITIONED`] when a path there can
/// have no key. A superset is safe (a shard read needlessly); a shard left out would hide
/// an entry from a scoped push, so when in doubt every listed shard is returned.
///
/// `dirty` may name a file or a directory. For a directory `s1/…/sk` under a per-model
/// top-level directory, a file's key is either a prefix of the directory's segments
/// (at least three) or the directory's segments followed by more; for `workflow-runs`
/// it is `workflow-runs--{s2}`; for the single-shard directories, the directory name.
pub fn candidate_shards(dirty: &str, listed: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let segments: Vec<&str> = dirty.split('/').filter(|s| !s.is_empty()).collect();
    let Some(&first) = segments.first() else {
        out.extend(listed.iter().cloned());
        out.insert(UNPARTITIONED.to_string());
        return out;
    };
    if segments.len() == 1 {
        // A root-level file, or a top-level directory.
        out.insert(ROOT_PARTITION.to_string());
    }
    // The path itself may be a file with a key, or a file without one.
    out.insert(shard_of(dirty));
    if PER_MODEL_DIRS.contains(&first) {
        let joined = segments.join("--");
        let below = format!("{joined}--");
        for key in listed {
            let prefix_of_dir = (3..=segments.len()).any(|m| *key == segments[..m].join("--"));
            if prefix_of_dir || *key == joined || key.starts_with(&below) {
                out.insert(key.clone());
            }
        }
        // Below three segments, a file below may have fewer than four: no key.
        if segments.len() < 3 {
            out.insert(UNPARTITIONED.to_string());
        }
    } else if first == "workflow-runs" {
        match segments.get(1) {
            Some(run) => {
                out.insert(format!("workflow-runs--{run}"));
            }
            None => {
                out.extend(
                    listed
                        .iter()
                        .filter(|k| k.starts_with("workflow-runs--"))
                        .cloned(),
                );
                // `workflow-runs/x` has no key.
                out.insert(UNPARTITIONED.to_string());
            }
        }
    } else if partition_key_from_path(&format!("{first}/x")).as_deref() == Some(first) {
        out.insert(first.to_string());
    } else {
        // An unknown top-level directory: nothing below it has a key.
        out.insert(UNPARTITIONED.to_string());
    }
    out
}

/// The partitions the next v2 `_meta.json` lists: the current ones, plus the shards
/// written, minus the shards emptied (and deleted). Sorting and de-duplication happen in
/// [`super::partition_files::Meta::v2`].
pub fn next_partitions(current: &[String], written: &[String], emptied: &[String]) -> Vec<String> {
    current
        .iter()
        .chain(written)
        .filter(|k| !emptied.contains(k))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::core::index::IndexEntry;

    fn listed() -> Vec<String> {
        [
            "_root",
            "audit",
            "data--aws--ec2--vpc",
            "data--aws--ec2--vpc--abc",
            "data--aws--ec2--vpc--abd",
            "data--t--m",
            "data--t--m--d",
            "outputs--t--m",
            "workflow-runs--r1",
            "workflow-runs--r2",
            UNPARTITIONED,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn shard_of_falls_back_to_the_unpartitioned_shard() {
        let rows = [
            ("data/t/m/d/1/raw", "data--t--m"),
            ("secrets/vault/key", UNPARTITIONED),
            ("workflow-runs/x.yaml", UNPARTITIONED),
            ("data/a/b", UNPARTITIONED),
            (".catalog-export.json", "_root"),
        ];
        for (rel, shard) in rows {
            assert_eq!(shard_of(rel), shard, "{rel}");
        }
    }

    #[test]
    fn candidate_shards_cover_every_file_below_a_dirty_path() {
        // (dirty path, files that could live below it) — every file's shard must be a
        // candidate (each is listed, or the unpartitioned shard).
        let rows: &[(&str, &[&str])] = &[
            (
                "data/aws/ec2/vpc/abc/state-main",
                &[
                    "data/aws/ec2/vpc/abc/state-main/1/raw",
                    "data/aws/ec2/vpc/abc/state-main/latest",
                ],
            ),
            (
                "data/aws/ec2/vpc/abc/state-main/1",
                &["data/aws/ec2/vpc/abc/state-main/1/raw"],
            ),
            ("data/t/m/d", &["data/t/m/d/1/raw", "data/t/m/d/latest"]),
            (
                "data/aws",
                &[
                    "data/aws/ec2/vpc/abc/state-main/1/raw",
                    "data/aws/ec2/vpc/abd/s/1/raw",
                ],
            ),
            ("data", &["data/t/m/d/1/raw", "data/a/b"]),
            ("workflow-runs/r1", &["workflow-runs/r1/step.yaml"]),
            (
                "workflow-runs",
                &["workflow-runs/r2/a.yaml", "workflow-runs/x.yaml"],
            ),
            ("audit", &["audit/log1.json", "audit/deep/x.json"]),
            ("audit/deep", &["audit/deep/x.json"]),
            ("secrets", &["secrets/vault/key"]),
            (".catalog-export.json", &[".catalog-export.json"]),
        ];
        for (dirty, files) in rows {
            let got = candidate_shards(dirty, &listed());
            for file in *files {
                assert!(
                    listed().contains(&shard_of(file)),
                    "{file}: list it in the table"
                );
                assert!(
                    got.contains(&shard_of(file)),
                    "{dirty}: {file} not covered: {got:?}"
                );
            }
        }
    }

    #[test]
    fn candidate_shards_leave_unrelated_models_out() {
        let got = candidate_shards("data/aws/ec2/vpc/abc/state-main", &listed());
        assert!(!got.contains("data--aws--ec2--vpc--abd"));
        assert!(!got.contains("data--t--m"));
        assert!(!got.contains("audit"));
        let got = candidate_shards("data/t/m/d", &listed());
        // `data/t/m/d/latest` has five segments: its key is `data--t--m--d`. Nothing
        // below four segments lacks a key.
        let expected: BTreeSet<String> = ["data--t--m", "data--t--m--d"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(got, expected);
        let got = candidate_shards("workflow-runs/r1/x.yaml", &listed());
        assert!(!got.contains("workflow-runs--r2"));
        // An empty path could be anything.
        assert_eq!(candidate_shards("", &listed()).len(), listed().len());
        // Paths that can be, or hold, a file without a key.
        for dirty in [
            "secrets",
            "secrets/vault/key",
            "data/a/b",
            "data",
            "workflow-runs",
        ] {
            assert!(
                candidate_shards(dirty, &listed()).contains(UNPARTITIONED),
                "{dirty}"
            );
        }
        for dirty in [
            "audit",
            "audit/x.json",
            "data/t/m/d",
            "workflow-runs/r1/x.yaml",
        ] {
            assert!(
                !candidate_shards(dirty, &listed()).contains(UNPARTITIONED),
                "{dirty}"
            );
        }
    }

    #[test]
    fn changes_split_by_shard_and_apply_in_merge_order() {
        let changes = IndexChanges {
            upserts: vec![
                IndexEntry::new("data/t/m/d/1/raw", 1, "t"),
                IndexEntry::new("secrets/k", 2, "t"),
                IndexEntry::new("data/t/m/d/2/raw", 3, "t"),
            ],
            deletions: vec!["data/t/m/d/2/raw".into(), "audit/a.json".into()],
        };
        let split = changes_by_shard(&changes);
        let keys: Vec<&str> = split.keys().map(String::as_str).collect();
        assert_eq!(keys, ["data--t--m", UNPARTITIONED, "audit"]);
        let mut entries = EntryMap::new();
        entries.insert(IndexEntry::new("data/t/m/d/0/raw", 9, "t"));
        apply_to_shard(&mut entries, &split["data--t--m"]);
        let left: Vec<&str> = entries.keys().collect();
        assert_eq!(left, ["data/t/m/d/0/raw", "data/t/m/d/1/raw"]);
    }

    #[test]
    fn next_partitions_add_written_and_drop_emptied() {
        let current: Vec<String> = vec!["a".into(), "b".into()];
        let got = next_partitions(&current, &["c".into(), "a".into()], &["b".into()]);
        assert_eq!(got, ["a", "c", "a"]);
    }
}
