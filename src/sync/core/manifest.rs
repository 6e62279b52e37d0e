//! The push manifest of a two-phase push (docs/sync.md#two-phase-push): what `prepare-push`
//! transferred, held by the caller until `commit-push` merges it into the index. It
//! carries its namespace, so a commit can never land in another one
//! (docs/hazards.md#commit-without-the-namespace), and the dirty signals as prepare left
//! them, so a commit clears them only when no `mark-dirty` came in between
//! (docs/hazards.md#clean-sidecar-with-a-stale-dirty-set).

use super::index::{IndexChanges, IndexEntry};
use super::partition::dirty_partition_keys;

/// The dirty signals of the sidecar at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirtySnapshot {
    /// The dirty paths, in insertion order.
    pub paths: Vec<String>,
    /// Bulk invalidation.
    pub bulk: bool,
    /// Bulk from the 200-path cap.
    pub overflowed: bool,
}

/// What a prepared push did and what its commit publishes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushManifest {
    /// The namespace it was prepared for (`None` = solo).
    pub namespace: Option<String>,
    /// Uploaded entries and deleted keys.
    pub changes: IndexChanges,
    /// Local files found already holding the remote entry's content (recorded as synced).
    pub adopted: Vec<IndexEntry>,
    /// Bytes uploaded.
    pub bytes: u64,
    /// Every path the walk was asked to look at was read (a clean transition is possible).
    pub complete: bool,
    /// The dirty signals right after the transfer.
    pub dirty: DirtySnapshot,
}

impl PushManifest {
    /// Nothing was transferred.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Partition keys of the changes, uploads then deletions, first-seen order
    /// (swamp's `dirtyPartitionKeys`).
    pub fn dirty_partition_keys(&self) -> Vec<String> {
        let rels = self
            .changes
            .upserts
            .iter()
            .map(|e| e.key.as_str())
            .chain(self.changes.deletions.iter().map(String::as_str));
        dirty_partition_keys(rels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirty_partition_keys_follow_uploads_then_deletions() {
        let m = PushManifest {
            changes: IndexChanges {
                upserts: vec![
                    IndexEntry::new("data/t/m/d/1/raw", 1, "t"),
                    IndexEntry::new("audit/a", 1, "t"),
                ],
                deletions: vec![
                    "data/t/n/d/1/raw".into(),
                    "audit/b".into(),
                    "secrets/x".into(),
                ],
            },
            ..PushManifest::default()
        };
        assert_eq!(
            m.dirty_partition_keys(),
            ["data--t--m", "audit", "data--t--n"]
        );
        assert!(!m.is_empty());
        assert!(PushManifest::default().is_empty());
    }
}
