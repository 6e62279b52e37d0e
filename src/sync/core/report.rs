//! What the sync service hands back: per-call reports with phase timings (named exactly
//! like the TypeScript client's `[gcs-sync] <phase>` trace lines,
//! docs/sync.md#trace-phases, so benchmarks can compare them), the dry-run status of a
//! push, and the capability flags.

use super::change::ChangeReason;

/// How long one phase of a call took.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseTiming {
    /// Trace phase name, e.g. `pushChanged.walk`.
    pub name: String,
    /// Elapsed milliseconds (monotonic clock).
    pub millis: f64,
    /// Detail as in the trace line, e.g. `toPush=3 toDelete=0`.
    pub detail: String,
}

/// What a pull or push did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncReport {
    /// Files downloaded (pull) or uploaded (push).
    pub files: u32,
    /// Remote objects deleted (push); local files removed because the remote deleted
    /// them, plus dangling index entries dropped (pull).
    pub deleted: u32,
    /// Bytes of file content moved.
    pub bytes: u64,
    /// True when the one-request fast path answered the call.
    pub fast_path: bool,
    /// Phase timings in order.
    pub phases: Vec<PhaseTiming>,
    /// Paths left alone because both sides changed since this cache last synced them
    /// (pull: local bytes kept; push: remote version not overwritten), or deleted
    /// remotely while changed locally (pull: kept).
    pub conflicts: Vec<String>,
}

impl SyncReport {
    #[cfg(test)]
    /// The detail of the first phase called `name`, if it ran.
    pub fn phase_detail(&self, name: &str) -> Option<&str> {
        self.phases
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.detail.as_str())
    }
}

/// Records phases against a monotonic clock: each phase lasts from the end of the
/// previous one (or the start of the call) to when it is recorded.
#[derive(Debug)]
pub(crate) struct PhaseClock {
    last_ms: u64,
}

impl PhaseClock {
    /// Start timing at `now_ms`.
    pub(crate) fn start(now_ms: u64) -> Self {
        PhaseClock { last_ms: now_ms }
    }

    /// Close a phase at `now_ms` and add it to `report`.
    pub(crate) fn record(
        &mut self,
        report: &mut SyncReport,
        now_ms: u64,
        name: &str,
        detail: impl Into<String>,
    ) {
        report.phases.push(PhaseTiming {
            name: name.to_string(),
            millis: now_ms.saturating_sub(self.last_ms) as f64,
            detail: detail.into(),
        });
        self.last_ms = now_ms;
    }
}

/// What the sync service implements, known without configuring it (the control plane is
/// `crate::control`).
pub const SUPPORTED_CAPABILITIES: Capabilities = Capabilities {
    scoped_sync: true,
    lazy_hydration: true,
    namespaced_sync: true,
    two_phase_sync: true,
    preview_push: true,
    control_plane: true,
};

/// The flags of what this service implements (swamp core's `SyncCapabilities`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Pulls honour the model list by reading only those partitions.
    pub scoped_sync: bool,
    /// Metadata-only pulls and [`hydrate_file`](crate::sync::SyncService::hydrate_file).
    pub lazy_hydration: bool,
    /// The `namespace` option is honoured.
    pub namespaced_sync: bool,
    /// `preparePush` / `commitPush`.
    pub two_phase_sync: bool,
    /// A dry-run push preview in core's `previewPush` shape.
    pub preview_push: bool,
    /// The `_control/` record store.
    pub control_plane: bool,
}

/// The sidecar as loaded (or as this process last wrote it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SidecarSummary {
    /// `None` = no usable sidecar; `Some(1)` = a v1 file; `Some(2)` = v2.
    pub version: Option<u32>,
    /// Generation of the index last verified clean (`""` = none).
    pub remote_index_generation: String,
    /// When that was verified.
    pub last_verified_at: String,
    /// Whether local changes may be unpushed.
    pub local_dirty: bool,
    /// Per-path dirty set.
    pub dirty_paths: Vec<String>,
    /// Full walk needed.
    pub bulk_invalidated: bool,
    /// Bulk came from the 200-path cap (orphan deletion on the full walk).
    pub dirty_paths_overflowed: bool,
    /// A metadata-only pull left raw files un-hydrated.
    pub lazy_pull_active: bool,
    /// `commitSeq` of a shard-first index last verified.
    pub commit_seq: Option<u64>,
}

/// One file a push would upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedUpload {
    /// Index key (bare rel).
    pub rel: String,
    /// Local size.
    pub size: u64,
    /// Why it would be uploaded.
    pub reason: ChangeReason,
}

/// Counts of things a walk skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkipCounts {
    /// Symlinks (never synced).
    pub symlinks: usize,
    /// Files outside the bound namespace directory.
    pub outside_namespace: usize,
    /// Names that cannot be index keys (unsafe or not UTF-8).
    pub unsafe_names: usize,
    /// Paths or directories that could not be read.
    pub unreadable: usize,
    /// Stale temporary files removed.
    pub temp_removed: usize,
}

/// A dry run of the next push (for the CLI's status command).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusReport {
    /// The sidecar.
    pub sidecar: SidecarSummary,
    /// `"scoped"` or `"full"`.
    pub walk: String,
    /// Whether the remote index exists.
    pub remote_index_found: bool,
    /// Its layout.
    pub layout: IndexLayout,
    /// `commitSeq` of a shard-first index.
    pub commit_seq: Option<u64>,
    /// Its generation when found.
    pub remote_generation: Option<String>,
    /// Entries in the remote index.
    pub remote_entries: usize,
    /// What a push would upload.
    pub to_upload: Vec<PlannedUpload>,
    /// What a push would delete remotely.
    pub to_delete: Vec<String>,
    /// What the walk skipped.
    pub skipped: SkipCounts,
}

/// How the bucket's index is laid out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IndexLayout {
    /// No index object and no shard-first meta.
    #[default]
    None,
    /// The monolith is authoritative.
    Monolith,
    /// `_meta.json` version 2: the shards are authoritative.
    ShardFirst,
}
