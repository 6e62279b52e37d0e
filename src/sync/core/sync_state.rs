//! The in-memory sync state behind the sidecar: persisted dirty tracking
//! (`markDirty`, docs/sync.md#dirty-tracking), clean transitions (`markSynced`,
//! docs/sync.md#clean-transitions), the flags the fast paths and walks consult
//! (docs/sync.md#fast-paths, docs/sync.md#push), and the predicates built on
//! them.
//!
//! Usage: build with [`SyncState::load`] from the sidecar bytes (or `None`
//! when the file is missing), call the mutators, and whenever an
//! [`Outcome`] says `write_needed`, write [`SyncState::to_pretty_json`] to the
//! sidecar atomically. Write failures after a successful transfer may be
//! swallowed (best effort), as upstream does.
//!
//! # Invariant
//! `dirty_paths ≠ ∅ || bulk_invalidated ⇒ local_dirty`, and every clean
//! transition clears the dirty set, `bulk_invalidated` and
//! `dirty_paths_overflowed` together. Upstream's shard-first `commitPush`
//! broke this (clean sidecar with a stale dirty set ⇒ later marks were
//! swallowed and changes never pushed). A loaded sidecar that violates it
//! (e.g. written by such a TS client) is repaired on load — `local_dirty`
//! forced true — and the next mutator reports `write_needed` so the file is
//! repaired too (docs/hazards.md#clean-sidecar-with-a-stale-dirty-set).
//!
//! # Deliberate differences from upstream (see docs/hazards.md)
//! * [`SyncState::mark_synced`] keeps `dataKeyMigrated` (upstream drops it,
//!   re-running the root-migration probe on every namespaced push:
//!   docs/hazards.md#namespaced-pushes-never-take-the-fast-path).
//! * `commitSeq` survives `markDirty`, lazy-flag and catalog-hash writes
//!   (upstream drops it there). Like the generation, it records what the
//!   remote was when we last verified, which local edits do not change; the
//!   push fast path still refuses while `localDirty`. `mark_synced` (the v1,
//!   generation-based transition) does drop it, as upstream does
//!   (docs/hazards.md#commitseq-dropped-by-unrelated-writes).
//! * Dirty paths loaded from disk are re-validated: a member that is not a
//!   string or not already normalized (e.g. `../x` from a hostile file), or a
//!   set above the cap, turns into bulk invalidation (full walk, no orphan
//!   deletion) instead of being trusted as a path.

use super::sidecar::Sidecar;
use crate::error::Result;
use crate::gcs::generation::fingerprint_of;
use crate::paths::normalize_rel;
use crate::timefmt::{format_iso_ms, parse_iso_ms};

/// Maximum distinct dirty paths; the 201st flips to bulk + overflowed.
pub const DIRTY_PATHS_CAP: usize = 200;

/// What the sidecar on disk was when the state was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SidecarOrigin {
    /// Missing or rejected: no fast path, full walk.
    Missing,
    /// A version 1 file: no dirty set, full walk when dirty.
    V1,
    /// A version 2 file, or anything this process has written since.
    V2,
}

/// Result of a mutator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "write the sidecar when write_needed is true"]
pub struct Outcome {
    /// The caller must now persist [`SyncState::to_pretty_json`].
    pub write_needed: bool,
}

/// How the next push must find its candidate files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkMode<'a> {
    /// Visit only these cache-relative paths (files or directories).
    Scoped {
        /// The dirty set, in insertion order.
        paths: &'a [String],
        /// Whether absent paths may be deleted remotely (false while lazy).
        delete_absent: bool,
    },
    /// Walk the whole cache.
    Full {
        /// Whether index entries without a local file are deleted remotely:
        /// only after a dirty-set overflow and never while lazy
        /// (docs/hazards.md#deletion-without-a-dirty-signal).
        delete_orphans: bool,
    },
}

/// What the sidecar says the remote was when this cache last matched it: the value a
/// fast-path probe compares (docs/sync.md#fast-paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fingerprint {
    /// A shard-first (v2) repository at this `commitSeq`.
    CommitSeq(u64),
    /// A monolith at this generation.
    Generation(String),
}

/// The sync state of one cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncState {
    origin: SidecarOrigin,
    remote_index_generation: String,
    last_verified_at: String,
    local_dirty: bool,
    dirty_paths: Vec<String>,
    bulk_invalidated: bool,
    dirty_paths_overflowed: bool,
    lazy_pull_active: bool,
    commit_seq: Option<u64>,
    last_catalog_hash: Option<String>,
    data_key_migrated: Option<bool>,
    /// The remote partitions may lag the monolith (a push was interrupted
    /// between the two, or a partition write failed).
    partitions_pending: bool,
    /// The file on disk disagrees with this state (repaired at load).
    disk_stale: bool,
}

impl Default for SyncState {
    fn default() -> Self {
        Self::new()
    }
}

impl SyncState {
    /// State with no sidecar.
    pub fn new() -> Self {
        SyncState {
            origin: SidecarOrigin::Missing,
            remote_index_generation: String::new(),
            last_verified_at: String::new(),
            local_dirty: false,
            dirty_paths: Vec::new(),
            bulk_invalidated: false,
            dirty_paths_overflowed: false,
            lazy_pull_active: false,
            commit_seq: None,
            last_catalog_hash: None,
            data_key_migrated: None,
            partitions_pending: false,
            disk_stale: false,
        }
    }

    /// State from the sidecar file's bytes (`None` = file missing or unreadable).
    pub fn load(bytes: Option<&[u8]>) -> Self {
        Self::from_sidecar(bytes.and_then(Sidecar::parse))
    }

    /// State from a parsed sidecar, validating the dirty set and repairing
    /// the dirty invariant (see the module doc).
    pub fn from_sidecar(sidecar: Option<Sidecar>) -> Self {
        let Some(s) = sidecar else {
            return Self::new();
        };
        let mut state = SyncState {
            origin: if s.version == 1 {
                SidecarOrigin::V1
            } else {
                SidecarOrigin::V2
            },
            remote_index_generation: s.remote_index_generation,
            last_verified_at: s.last_verified_at,
            local_dirty: s.local_dirty,
            ..Self::new()
        };
        if state.origin == SidecarOrigin::V1 {
            return state;
        }
        state.bulk_invalidated = s.bulk_invalidated;
        state.dirty_paths_overflowed = s.dirty_paths_overflowed.unwrap_or(false);
        state.lazy_pull_active = s.lazy_pull_active;
        state.commit_seq = s.commit_seq;
        state.last_catalog_hash = s.last_catalog_hash;
        state.data_key_migrated = s.data_key_migrated;
        state.partitions_pending = s.partitions_pending;
        let mut suspicious = s.dirty_paths_rejected > 0;
        for path in s.dirty_paths {
            if normalize_rel(&path).as_deref() != Some(path.as_str()) {
                suspicious = true;
            } else if !state.dirty_paths.contains(&path) {
                state.dirty_paths.push(path);
            }
        }
        if suspicious || state.dirty_paths.len() > DIRTY_PATHS_CAP {
            state.bulk_invalidated = true;
            state.disk_stale = true;
        }
        if state.bulk_invalidated {
            // Bulk makes the set irrelevant; dropping it keeps the file small.
            state.disk_stale |= !state.dirty_paths.is_empty();
            state.dirty_paths.clear();
        }
        if (state.bulk_invalidated || !state.dirty_paths.is_empty()) && !state.local_dirty {
            state.local_dirty = true;
            state.disk_stale = true;
        }
        state
    }

    /// The sidecar to write now (always version 2).
    pub fn to_sidecar(&self) -> Sidecar {
        Sidecar {
            version: 2,
            remote_index_generation: self.remote_index_generation.clone(),
            last_verified_at: self.last_verified_at.clone(),
            local_dirty: self.local_dirty,
            dirty_paths: self.dirty_paths.clone(),
            dirty_paths_rejected: 0,
            bulk_invalidated: self.bulk_invalidated,
            lazy_pull_active: self.lazy_pull_active,
            dirty_paths_overflowed: Some(self.dirty_paths_overflowed),
            commit_seq: self.commit_seq,
            last_catalog_hash: self.last_catalog_hash.clone(),
            data_key_migrated: self.data_key_migrated,
            partitions_pending: self.partitions_pending,
        }
    }

    /// The sidecar file text to write now.
    pub fn to_pretty_json(&self) -> Result<String> {
        self.to_sidecar().to_pretty_json()
    }

    /// Finish a mutation: `changed` says whether the state moved. A write
    /// also flushes any load-time repair, and from then on the file is v2.
    fn outcome(&mut self, changed: bool) -> Outcome {
        let write_needed = changed || self.disk_stale;
        if write_needed {
            self.disk_stale = false;
            self.origin = SidecarOrigin::V2;
        }
        Outcome { write_needed }
    }

    /// Switch to bulk invalidation (full walk) and mark dirty.
    fn go_bulk(&mut self, overflowed: bool) -> Outcome {
        self.bulk_invalidated = true;
        self.dirty_paths_overflowed |= overflowed;
        self.local_dirty = true;
        self.outcome(true)
    }

    /// `markDirty({relPath})` / `markDirty()` (docs/sync.md#dirty-tracking). `None` or
    /// `""` means no path. Rules, in order:
    /// 1. with a path and bulk already set → nothing (bulk wins);
    /// 2. a path escaping the cache ([`normalize_rel`] is `None`) → bulk;
    /// 3. a path already in the set → nothing to write;
    /// 4. the set already holds [`DIRTY_PATHS_CAP`] paths → bulk + overflowed;
    /// 5. otherwise add the normalized path (insertion order), mark dirty.
    ///
    /// Without a path: nothing if already dirty and bulk, else bulk (not overflowed).
    pub fn mark_dirty(&mut self, rel: Option<&str>) -> Outcome {
        let Some(rel) = rel.filter(|r| !r.is_empty()) else {
            if self.local_dirty && self.bulk_invalidated {
                return self.outcome(false);
            }
            return self.go_bulk(false);
        };
        if self.bulk_invalidated {
            return self.outcome(false);
        }
        let Some(normalized) = normalize_rel(rel) else {
            return self.go_bulk(false);
        };
        if self.dirty_paths.contains(&normalized) {
            return self.outcome(false);
        }
        if self.dirty_paths.len() >= DIRTY_PATHS_CAP {
            return self.go_bulk(true);
        }
        self.dirty_paths.push(normalized);
        self.local_dirty = true;
        self.outcome(true)
    }

    /// Clear every dirty signal together (the dirty invariant of the module doc).
    fn clear_dirty(&mut self) {
        self.dirty_paths.clear();
        self.bulk_invalidated = false;
        self.dirty_paths_overflowed = false;
        self.local_dirty = false;
    }

    /// `markSynced(generation)` (docs/sync.md#clean-transitions): record that the local
    /// cache matches the remote index with `generation`, verified at `verified_at_ms`
    /// (compute it with [`verified_at_baseline_ms`]). Empty or `"0"`
    /// generations are not fingerprints and are ignored (no write).
    ///
    /// The caller is responsible for the gates: the generation must come from
    /// the GET that delivered the walked bytes or from our own PUT, and (on
    /// push) local must hold every remote entry (`plan::local_has_all_remote_entries`).
    /// Drops `commitSeq`; keeps `lazyPullActive`, `lastCatalogHash` and
    /// (unlike upstream, docs/hazards.md#namespaced-pushes-never-take-the-fast-path)
    /// `dataKeyMigrated`.
    pub fn mark_synced(&mut self, generation: &str, verified_at_ms: i64) -> Outcome {
        if fingerprint_of(generation).is_none() {
            return self.outcome(false);
        }
        self.clear_dirty();
        self.remote_index_generation = generation.to_string();
        self.last_verified_at = format_iso_ms(verified_at_ms).unwrap_or_default();
        self.commit_seq = None;
        self.outcome(true)
    }

    /// The transition after a successful monolith pull: like [`Self::mark_synced`] when
    /// the cache is clean, but when local changes are still unpushed (a push failed
    /// earlier) only the fingerprint is recorded and every dirty signal is kept.
    ///
    /// Upstream calls `markSynced` here, which clears the dirty set: a same-size local
    /// edit that a failed push left behind was then never pushed, because the next push
    /// took the fast path (docs/hazards.md#dirty-signals-lost-on-pull; the invariant
    /// `dirty ⇒ localDirty` of the module doc). The push fast path refuses while
    /// `localDirty`, so keeping it costs one slow push, nothing more.
    pub fn mark_pulled(&mut self, generation: &str, verified_at_ms: i64) -> Outcome {
        if fingerprint_of(generation).is_none() {
            return self.outcome(false);
        }
        if !self.local_dirty {
            return self.mark_synced(generation, verified_at_ms);
        }
        self.remote_index_generation = generation.to_string();
        self.last_verified_at = format_iso_ms(verified_at_ms).unwrap_or_default();
        self.commit_seq = None;
        self.outcome(true)
    }

    /// Clean transition of a shard-first (v2) push or commit: clear every
    /// dirty signal, record `commit_seq`, reset the generation to `""` (a v2
    /// repo never rewrites the monolith, so its generation proves nothing,
    /// docs/hazards.md#stale-monolith-fingerprint-after-migration). `lastVerifiedAt` is
    /// kept. Apply only after the local-has-all-remote-entries gate passed.
    pub fn mark_synced_v2(&mut self, commit_seq: u64) -> Outcome {
        self.clear_dirty();
        self.commit_seq = Some(commit_seq);
        self.remote_index_generation.clear();
        self.outcome(true)
    }

    /// Our own commit moved the remote from a `commitSeq` this cache had verified to
    /// `commit_seq`, but the cache may not turn clean (a `mark-dirty` came in between, or
    /// the walk missed a path): record the new `commitSeq` and keep every dirty signal,
    /// so the next scoped push may still verify against it.
    pub fn note_commit_seq(&mut self, commit_seq: u64) -> Outcome {
        let changed =
            self.commit_seq != Some(commit_seq) || !self.remote_index_generation.is_empty();
        self.commit_seq = Some(commit_seq);
        self.remote_index_generation.clear();
        self.outcome(changed)
    }

    /// The transition after an unscoped pull of a shard-first (v2) repository: like
    /// [`Self::mark_synced_v2`] when the cache is clean; with unpushed local changes only
    /// `commit_seq` is recorded and every dirty signal kept (as [`Self::mark_pulled`]).
    /// Upstream records no fingerprint on a v2 pull, so every pull of a v2 repo stayed
    /// slow until a push (docs/hazards.md#commitseq-dropped-by-unrelated-writes).
    pub fn mark_pulled_v2(&mut self, commit_seq: u64) -> Outcome {
        if !self.local_dirty {
            return self.mark_synced_v2(commit_seq);
        }
        let changed =
            self.commit_seq != Some(commit_seq) || !self.remote_index_generation.is_empty();
        self.commit_seq = Some(commit_seq);
        self.remote_index_generation.clear();
        self.outcome(changed)
    }

    /// Set or clear `lazyPullActive` (metadata-only pull sets it; a full
    /// unscoped pull clears it). Writes only when the value changes
    /// (or a load-time repair is pending).
    pub fn set_lazy_pull_active(&mut self, active: bool) -> Outcome {
        let changed = self.lazy_pull_active != active;
        self.lazy_pull_active = active;
        self.outcome(changed)
    }

    /// Record the hash of the last exported catalog payload.
    pub fn set_last_catalog_hash(&mut self, hash: &str) -> Outcome {
        let changed = self.last_catalog_hash.as_deref() != Some(hash);
        if changed {
            self.last_catalog_hash = Some(hash.to_string());
        }
        self.outcome(changed)
    }

    #[allow(dead_code)] // kept for the namespace and control-plane calls, not wired in yet
    /// Record whether the root → namespace data migration is complete.
    pub fn set_data_key_migrated(&mut self, migrated: bool) -> Outcome {
        let changed = self.data_key_migrated != Some(migrated);
        self.data_key_migrated = Some(migrated);
        self.outcome(changed)
    }

    /// Record whether the remote partition files and meta may lag the
    /// monolith. A push sets it (persisted) before its monolith write and
    /// clears it once every partition and the meta are written; a crash or a
    /// failed partition write in between leaves it set, and the next push then
    /// rewrites every partition even when it has nothing else to write (the
    /// interrupted push's set of dirty partitions is unknown). Survives every
    /// other transition, clean ones included: they say nothing about partitions.
    pub fn set_partitions_pending(&mut self, pending: bool) -> Outcome {
        let changed = self.partitions_pending != pending;
        self.partitions_pending = pending;
        self.outcome(changed)
    }

    /// Whether the remote partitions may lag the monolith.
    pub fn partitions_pending(&self) -> bool {
        self.partitions_pending
    }

    /// Where the state came from (see [`SidecarOrigin`]).
    pub fn origin(&self) -> SidecarOrigin {
        self.origin
    }

    /// Whether a sidecar exists (loaded or written by us).
    pub fn is_present(&self) -> bool {
        self.origin != SidecarOrigin::Missing
    }

    /// `remoteIndexGeneration` as stored (`""` = none).
    pub fn remote_index_generation(&self) -> &str {
        &self.remote_index_generation
    }

    /// `lastVerifiedAt` as stored.
    pub fn last_verified_at(&self) -> &str {
        &self.last_verified_at
    }

    /// Whether the cache may hold unpushed changes.
    pub fn local_dirty(&self) -> bool {
        self.local_dirty
    }

    /// The per-path dirty set, in insertion order.
    pub fn dirty_paths(&self) -> &[String] {
        &self.dirty_paths
    }

    /// Whether per-path tracking was abandoned.
    pub fn bulk_invalidated(&self) -> bool {
        self.bulk_invalidated
    }

    /// Whether bulk came from the dirty-path cap.
    pub fn dirty_paths_overflowed(&self) -> bool {
        self.dirty_paths_overflowed
    }

    /// Whether a metadata-only pull left raws un-hydrated.
    pub fn lazy_pull_active(&self) -> bool {
        self.lazy_pull_active
    }

    /// `commitSeq` last verified clean (v2 repos).
    pub fn commit_seq(&self) -> Option<u64> {
        self.commit_seq
    }

    /// Hash of the last exported catalog payload.
    pub fn last_catalog_hash(&self) -> Option<&str> {
        self.last_catalog_hash.as_deref()
    }

    #[allow(dead_code)] // kept for the namespace and control-plane calls, not wired in yet
    /// Whether the root → namespace data migration is recorded as done
    /// (only a literal `true` counts).
    pub fn data_key_migrated(&self) -> bool {
        self.data_key_migrated == Some(true)
    }

    /// How the next push walks: scoped over the dirty set when it is
    /// non-empty and not bulk; otherwise a full walk (this covers a missing
    /// or v1 sidecar, whose dirty set is empty).
    pub fn walk_mode(&self) -> WalkMode<'_> {
        if !self.bulk_invalidated && !self.dirty_paths.is_empty() {
            WalkMode::Scoped {
                paths: &self.dirty_paths,
                delete_absent: !self.lazy_pull_active,
            }
        } else {
            WalkMode::Full {
                delete_orphans: self.dirty_paths_overflowed && !self.lazy_pull_active,
            }
        }
    }

    #[cfg(test)]
    /// Whether the next push must walk the whole cache.
    pub fn full_walk_needed(&self) -> bool {
        matches!(self.walk_mode(), WalkMode::Full { .. })
    }

    /// The stored generation when it can serve as a fingerprint
    /// (non-empty, not `"0"`).
    pub fn generation_fingerprint(&self) -> Option<&str> {
        fingerprint_of(&self.remote_index_generation)
    }

    /// `commitSeq` for the commitSeq fast path: requires a v2 sidecar.
    pub fn commit_seq_probe(&self) -> Option<u64> {
        if self.origin == SidecarOrigin::V2 {
            self.commit_seq
        } else {
            None
        }
    }

    /// The fingerprint the push fast path probes: none while the cache is dirty or a
    /// partition write is pending; a v2 `commitSeq` before a generation.
    pub fn push_fingerprint(&self) -> Option<Fingerprint> {
        if !self.push_fast_path_allowed() {
            return None;
        }
        if let Some(seq) = self.commit_seq_probe() {
            return Some(Fingerprint::CommitSeq(seq));
        }
        self.generation_fingerprint()
            .map(|g| Fingerprint::Generation(g.to_string()))
    }

    /// The fingerprint the pull fast path probes: a v2 `commitSeq` as it stands (a v2
    /// clean transition keeps `lastVerifiedAt`, so the local index's mtime says nothing
    /// there), else the generation when [`Self::pull_generation_probe_ready`].
    pub fn pull_fingerprint(&self, local_index_mtime_ms: Option<i64>) -> Option<Fingerprint> {
        if let Some(seq) = self.commit_seq_probe() {
            return Some(Fingerprint::CommitSeq(seq));
        }
        self.pull_generation_probe_ready(local_index_mtime_ms)
            .then(|| self.generation_fingerprint())
            .flatten()
            .map(|g| Fingerprint::Generation(g.to_string()))
    }

    /// Whether `pushChanged` may try its fast paths: a sidecar exists, the
    /// cache is not dirty and no partition write is pending.
    pub fn push_fast_path_allowed(&self) -> bool {
        self.is_present() && !self.local_dirty && !self.partitions_pending
    }

    /// Whether `pullChanged` may try its fast paths: skipped when a lazy
    /// pull left raws behind and this pull is not metadata-only.
    pub fn pull_fast_path_allowed(&self, metadata_only: bool) -> bool {
        metadata_only || !self.lazy_pull_active
    }

    /// Local preconditions of the **pull** generation probe, before any
    /// request: a fingerprint exists, the local index file exists and its
    /// mtime is strictly earlier than `lastVerifiedAt` (unparsable → false).
    /// The push probe skips the mtime test (use [`Self::generation_fingerprint`]).
    /// Then the caller HEADs the index and compares with
    /// [`Self::generation_matches`]. Also never accept the generation probe when
    /// `_meta.json` is v2: the monolith is stale there
    /// (docs/hazards.md#stale-monolith-fingerprint-after-migration).
    pub fn pull_generation_probe_ready(&self, local_index_mtime_ms: Option<i64>) -> bool {
        if self.generation_fingerprint().is_none() {
            return false;
        }
        match (local_index_mtime_ms, parse_iso_ms(&self.last_verified_at)) {
            (Some(mtime), Some(verified)) => mtime < verified,
            _ => false,
        }
    }

    #[cfg(test)]
    /// Whether a remote generation equals our fingerprint (empty / `"0"`
    /// never match).
    pub fn generation_matches(&self, remote_generation: &str) -> bool {
        crate::gcs::Generation::new(remote_generation).matches(self.generation_fingerprint())
    }
}

/// `lastVerifiedAt` baseline for [`SyncState::mark_synced`]: `now_ms`, or
/// the local index file's mtime + 1 ms when that is not earlier than now —
/// the pull probe requires index mtime < lastVerifiedAt strictly, so a tie
/// would defeat the next fast path.
pub fn verified_at_baseline_ms(now_ms: i64, local_index_mtime_ms: Option<i64>) -> i64 {
    match local_index_mtime_ms {
        Some(mtime) if mtime >= now_ms => mtime.saturating_add(1),
        _ => now_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_from(text: &str) -> SyncState {
        SyncState::load(Some(text.as_bytes()))
    }

    /// The dirty invariant of the module doc holds
    /// (docs/hazards.md#clean-sidecar-with-a-stale-dirty-set).
    fn assert_dirty_invariant(state: &SyncState) {
        if state.bulk_invalidated() || !state.dirty_paths().is_empty() {
            assert!(
                state.local_dirty(),
                "dirty invariant violated (docs/hazards.md#clean-sidecar-with-a-stale-dirty-set): {state:?}"
            );
        }
    }

    #[test]
    fn tracks_individual_dirty_paths() {
        let mut s = SyncState::new();
        assert!(s.mark_dirty(Some("data/aws/ec2/vpc/abc")).write_needed);
        assert!(s.mark_dirty(Some("workflow-runs/wf-1/")).write_needed);
        assert_eq!(
            s.dirty_paths(),
            ["data/aws/ec2/vpc/abc", "workflow-runs/wf-1"]
        );
        assert!(s.local_dirty());
        assert!(!s.bulk_invalidated());
        let text = s.to_pretty_json().unwrap();
        let back = SyncState::load(Some(text.as_bytes()));
        assert_eq!(back.dirty_paths(), s.dirty_paths());
        assert!(back.local_dirty());
        assert_eq!(back.origin(), SidecarOrigin::V2);
    }

    #[test]
    fn dedup_does_not_write() {
        let mut s = SyncState::new();
        assert!(s.mark_dirty(Some("a/./b/../c")).write_needed);
        assert!(!s.mark_dirty(Some("a/c")).write_needed);
        assert!(!s.mark_dirty(Some("/a/c/")).write_needed);
        assert_eq!(s.dirty_paths(), ["a/c"]);
    }

    #[test]
    fn cap_200_then_bulk_and_overflowed() {
        let mut s = SyncState::new();
        for i in 0..DIRTY_PATHS_CAP {
            assert!(s.mark_dirty(Some(&format!("data/p{i}"))).write_needed);
        }
        assert!(!s.bulk_invalidated());
        assert_eq!(s.dirty_paths().len(), 200);
        // A path already present is still deduplicated at the cap.
        assert!(!s.mark_dirty(Some("data/p0")).write_needed);
        assert!(s.mark_dirty(Some("data/p200")).write_needed);
        assert!(s.bulk_invalidated());
        assert!(s.dirty_paths_overflowed());
        assert_eq!(
            s.walk_mode(),
            WalkMode::Full {
                delete_orphans: true
            }
        );
        // Bulk wins: nothing more to write.
        assert!(!s.mark_dirty(Some("data/other")).write_needed);
        assert!(!s.mark_dirty(None).write_needed);
        assert_dirty_invariant(&s);
    }

    #[test]
    fn escape_triggers_bulk_without_overflow() {
        let mut s = SyncState::new();
        assert!(s.mark_dirty(Some("data/a")).write_needed);
        assert!(s.mark_dirty(Some("../../etc/passwd")).write_needed);
        assert!(s.bulk_invalidated());
        assert!(!s.dirty_paths_overflowed());
        assert!(s.local_dirty());
        assert_eq!(
            s.walk_mode(),
            WalkMode::Full {
                delete_orphans: false
            }
        );
    }

    #[test]
    fn no_rel_path_is_bulk_and_idempotent() {
        let mut s = SyncState::new();
        assert!(s.mark_dirty(None).write_needed);
        assert!(s.bulk_invalidated());
        assert!(s.local_dirty());
        assert!(!s.mark_dirty(None).write_needed);
        assert!(!s.mark_dirty(Some("")).write_needed);
        let mut s = SyncState::new();
        assert!(
            s.mark_dirty(Some("")).write_needed,
            "empty string = no relPath"
        );
        assert!(s.bulk_invalidated());
    }

    #[test]
    fn cache_root_is_a_valid_dirty_path() {
        let mut s = SyncState::new();
        assert!(s.mark_dirty(Some(".")).write_needed);
        assert_eq!(s.dirty_paths(), [""]);
        let back = SyncState::load(Some(s.to_pretty_json().unwrap().as_bytes()));
        assert_eq!(back.dirty_paths(), [""]);
        assert!(!back.bulk_invalidated());
    }

    #[test]
    fn mark_synced_clears_everything_together() {
        let mut s = SyncState::new();
        for i in 0..=DIRTY_PATHS_CAP {
            let _ = s.mark_dirty(Some(&format!("p{i}")));
        }
        let _ = s.set_data_key_migrated(true);
        let _ = s.set_last_catalog_hash("abc");
        let _ = s.set_lazy_pull_active(true);
        let _ = s.mark_synced_v2(3);
        assert_eq!(s.commit_seq(), Some(3));
        let ms = 1_785_578_400_000;
        assert!(!s.mark_synced("", ms).write_needed);
        assert!(!s.mark_synced("0", ms).write_needed);
        assert_eq!(
            s.commit_seq(),
            Some(3),
            "ignored generations change nothing"
        );
        let _ = s.mark_dirty(Some("x"));
        assert!(s.mark_synced("1716585443123456", ms).write_needed);
        assert!(!s.local_dirty());
        assert!(s.dirty_paths().is_empty());
        assert!(!s.bulk_invalidated());
        assert!(!s.dirty_paths_overflowed());
        assert_eq!(s.remote_index_generation(), "1716585443123456");
        assert_eq!(s.last_verified_at(), "2026-08-01T10:00:00.000Z");
        assert_eq!(s.commit_seq(), None);
        assert!(
            s.data_key_migrated(),
            "kept (namespaced pushes never take the fast path)"
        );
        assert_eq!(s.last_catalog_hash(), Some("abc"));
        assert!(s.lazy_pull_active());
        assert_eq!(
            s.to_pretty_json().unwrap(),
            "{\n  \"version\": 2,\n  \"remoteIndexGeneration\": \"1716585443123456\",\n  \"lastVerifiedAt\": \"2026-08-01T10:00:00.000Z\",\n  \"localDirty\": false,\n  \"dirtyPaths\": [],\n  \"bulkInvalidated\": false,\n  \"lazyPullActive\": true,\n  \"dirtyPathsOverflowed\": false,\n  \"lastCatalogHash\": \"abc\",\n  \"dataKeyMigrated\": true\n}"
        );
    }

    #[test]
    fn repeated_edits_after_a_clean_commit_are_not_lost() {
        // push → commit (clean with commitSeq) → same path marked again.
        let mut s = SyncState::new();
        let _ = s.mark_dirty(Some("data/t/m"));
        let _ = s.mark_synced_v2(2);
        assert!(!s.local_dirty());
        assert!(s.mark_dirty(Some("data/t/m")).write_needed);
        assert!(s.local_dirty());
        assert!(!s.push_fast_path_allowed());
        assert_eq!(
            s.commit_seq(),
            Some(2),
            "kept across markDirty (commitSeq dropped by unrelated writes)"
        );
    }

    #[test]
    fn sidecar_breaking_the_dirty_invariant_is_repaired_on_load() {
        let text = r#"{"version":2,"remoteIndexGeneration":"","lastVerifiedAt":"","localDirty":false,
            "dirtyPaths":["data/t/m"],"bulkInvalidated":false,"lazyPullActive":false,"commitSeq":4}"#;
        let mut s = state_from(text);
        assert!(s.local_dirty());
        assert!(!s.push_fast_path_allowed());
        assert_dirty_invariant(&s);
        // Dedup would not write, but the pending repair forces one write.
        assert!(s.mark_dirty(Some("data/t/m")).write_needed);
        assert!(!s.mark_dirty(Some("data/t/m")).write_needed);
        let text = r#"{"version":2,"remoteIndexGeneration":"","lastVerifiedAt":"","localDirty":false,
            "dirtyPaths":[],"bulkInvalidated":true,"lazyPullActive":false}"#;
        let s = state_from(text);
        assert!(s.local_dirty());
        assert!(s.full_walk_needed());
    }

    #[test]
    fn hostile_dirty_paths_become_bulk() {
        for paths in [
            r#"["../etc"]"#,
            r#"["a//b"]"#,
            r#"["/abs"]"#,
            r#"["ok", 5]"#,
            r#"["a\\..\\..\\x"]"#,
        ] {
            let text = format!(
                r#"{{"version":2,"remoteIndexGeneration":"","lastVerifiedAt":"","localDirty":true,"dirtyPaths":{paths},"bulkInvalidated":false,"lazyPullActive":false}}"#
            );
            let s = state_from(&text);
            assert!(s.bulk_invalidated(), "{paths}");
            assert!(!s.dirty_paths_overflowed(), "{paths}");
            assert!(s.dirty_paths().is_empty(), "{paths}");
            assert_eq!(
                s.walk_mode(),
                WalkMode::Full {
                    delete_orphans: false
                }
            );
        }
        let many: Vec<String> = (0..=DIRTY_PATHS_CAP).map(|i| format!("\"p{i}\"")).collect();
        let text = format!(
            r#"{{"version":2,"remoteIndexGeneration":"","lastVerifiedAt":"","localDirty":true,"dirtyPaths":[{}],"bulkInvalidated":false,"lazyPullActive":false}}"#,
            many.join(",")
        );
        assert!(state_from(&text).bulk_invalidated());
        // Duplicates are merged silently (a Set upstream).
        let text = r#"{"version":2,"remoteIndexGeneration":"","lastVerifiedAt":"","localDirty":true,"dirtyPaths":["a","a","b"],"bulkInvalidated":false,"lazyPullActive":false}"#;
        assert_eq!(state_from(text).dirty_paths(), ["a", "b"]);
    }

    #[test]
    fn v1_and_missing_sidecars_need_a_full_walk() {
        let v1 = state_from(
            r#"{"version":1,"remoteIndexGeneration":"9","lastVerifiedAt":"","localDirty":true}"#,
        );
        assert_eq!(v1.origin(), SidecarOrigin::V1);
        assert!(v1.full_walk_needed());
        assert_eq!(
            v1.walk_mode(),
            WalkMode::Full {
                delete_orphans: false
            }
        );
        assert!(!v1.push_fast_path_allowed());
        assert_eq!(v1.commit_seq_probe(), None);
        let missing = SyncState::load(None);
        assert!(!missing.is_present());
        assert!(missing.full_walk_needed());
        assert!(!missing.push_fast_path_allowed());
        let garbage = SyncState::load(Some(b"{not json"));
        assert_eq!(garbage.origin(), SidecarOrigin::Missing);
    }

    #[test]
    fn walk_mode_respects_lazy_guard() {
        let mut s = SyncState::new();
        let _ = s.mark_dirty(Some("data/a"));
        assert_eq!(
            s.walk_mode(),
            WalkMode::Scoped {
                paths: &["data/a".to_string()],
                delete_absent: true
            }
        );
        assert!(s.set_lazy_pull_active(true).write_needed);
        assert!(!s.set_lazy_pull_active(true).write_needed);
        assert!(matches!(
            s.walk_mode(),
            WalkMode::Scoped {
                delete_absent: false,
                ..
            }
        ));
        assert!(!s.pull_fast_path_allowed(false));
        assert!(s.pull_fast_path_allowed(true));
    }

    #[test]
    fn fast_path_predicates() {
        let mut s = state_from(
            r#"{"version":2,"remoteIndexGeneration":"77","lastVerifiedAt":"2026-08-01T10:00:00.124Z","localDirty":false,"dirtyPaths":[],"bulkInvalidated":false,"lazyPullActive":false,"commitSeq":7}"#,
        );
        assert!(s.push_fast_path_allowed());
        assert_eq!(s.commit_seq_probe(), Some(7));
        assert_eq!(s.generation_fingerprint(), Some("77"));
        assert!(s.generation_matches("77"));
        assert!(!s.generation_matches("78"));
        assert!(!s.generation_matches(""));
        let verified = 1_785_578_400_124;
        assert!(s.pull_generation_probe_ready(Some(verified - 1)));
        assert!(!s.pull_generation_probe_ready(Some(verified)));
        assert!(!s.pull_generation_probe_ready(None));
        let _ = s.mark_dirty(None);
        assert!(!s.push_fast_path_allowed());
        for generation in ["", "0"] {
            let s = state_from(&format!(
                r#"{{"version":2,"remoteIndexGeneration":"{generation}","lastVerifiedAt":"2026-08-01T10:00:00.124Z","localDirty":false}}"#
            ));
            assert_eq!(s.generation_fingerprint(), None);
            assert!(!s.generation_matches(generation));
            assert!(!s.pull_generation_probe_ready(Some(0)));
        }
        let bad_time = state_from(
            r#"{"version":2,"remoteIndexGeneration":"5","lastVerifiedAt":"yesterday","localDirty":false}"#,
        );
        assert!(!bad_time.pull_generation_probe_ready(Some(0)));
    }

    #[test]
    fn baseline_is_strictly_after_the_index_mtime() {
        assert_eq!(verified_at_baseline_ms(1000, None), 1000);
        assert_eq!(verified_at_baseline_ms(1000, Some(999)), 1000);
        assert_eq!(verified_at_baseline_ms(1000, Some(1000)), 1001);
        assert_eq!(verified_at_baseline_ms(1000, Some(5000)), 5001);
        assert_eq!(verified_at_baseline_ms(0, Some(i64::MAX)), i64::MAX);
    }

    #[test]
    fn mark_pulled_keeps_unpushed_dirty_signals() {
        let mut s = SyncState::new();
        let _ = s.mark_dirty(Some("data/a"));
        assert!(s.mark_pulled("12", 1_000).write_needed);
        assert_eq!(s.remote_index_generation(), "12");
        assert_eq!(s.dirty_paths(), ["data/a".to_string()]);
        assert!(s.local_dirty());
        assert_dirty_invariant(&s);
        assert!(!s.push_fast_path_allowed());
        let mut clean = SyncState::new();
        assert!(clean.mark_pulled("12", 1_000).write_needed);
        assert!(!clean.local_dirty());
        assert!(!clean.mark_pulled("0", 1_000).write_needed);
    }

    #[test]
    fn catalog_hash_and_migration_flag_write_only_on_change() {
        let mut s = SyncState::new();
        assert!(s.set_last_catalog_hash("h1").write_needed);
        assert!(!s.set_last_catalog_hash("h1").write_needed);
        assert!(s.set_data_key_migrated(false).write_needed);
        assert!(!s.data_key_migrated());
        assert!(s.set_data_key_migrated(true).write_needed);
        assert!(!s.set_data_key_migrated(true).write_needed);
        assert!(s.is_present(), "a write makes the sidecar present");
    }
}
