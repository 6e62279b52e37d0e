//! The push walk over the real cache: which files to upload and which remote objects to
//! delete, shared by `push` and `status` (§3.14, §3.15 step 6).
//!
//! The decisions come from the pure planners in [`super::core::plan`] and [`super::core::reconcile`]
//! (three-way, against the local index copy: what this cache last synced);
//! this file feeds them from the filesystem ([`super::local_fs`]) and records whether the
//! walk saw everything it was asked to. An incomplete walk (an unreadable directory or
//! dirty path) never deletes by absence and never lets the push mark the cache clean —
//! otherwise the unread changes would be forgotten.

use super::core::change::{sha256_hex, ChangeReason};
use super::core::index::{Index, IndexEntry};
use super::core::keys::local_rel_path;
use super::core::plan::{plan_full_walk, plan_scoped_walk, DirtyPathStat, LocalFile};
use super::core::reconcile::{decide_push, may_delete, PushVerdict};
use super::core::report::SkipCounts;
use super::core::sync_state::WalkMode;
use super::local_fs::{self, Probe, WalkStats};
use super::service::SyncService;
use crate::cache_fs::check_rel;
use crate::error::{Error, Result};
use crate::gcs::Authorizer;
use crate::transport::{Clock, Transport};

/// One file to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Upload {
    /// Index key (bare rel).
    pub rel: String,
    /// Path relative to the cache (`{ns}/rel` when bound).
    pub cache_rel: String,
    /// Local size at walk time.
    pub size: u64,
    /// Why.
    pub reason: ChangeReason,
}

/// What the next push must do.
#[derive(Debug, Clone, Default)]
pub(super) struct PushWork {
    /// Files to upload, in walk order.
    pub uploads: Vec<Upload>,
    /// Index keys whose objects must be deleted.
    pub deletions: Vec<String>,
    /// Local files that already hold the remote entry's content: recorded as synced.
    pub adopted: Vec<IndexEntry>,
    /// Changed here, but the remote moved on since this cache last synced them: not
    /// uploaded (or not deleted), reported.
    pub conflicts: Vec<String>,
    /// What was skipped.
    pub skipped: SkipCounts,
    /// Every path the walk was asked to look at was read.
    pub complete: bool,
    /// Scoped (dirty set) rather than full walk.
    pub scoped: bool,
}

/// The walk mode with the dirty set copied out of the state borrow.
enum Mode {
    Scoped {
        paths: Vec<String>,
        delete_absent: bool,
    },
    Full {
        delete_orphans: bool,
    },
}

impl<P: Transport + Clock, A: Authorizer> SyncService<P, A> {
    /// Walk the cache per the sidecar's walk mode and decide every candidate against
    /// `base` (the local index copy: what this cache last synced) and `index` (the
    /// freshly fetched remote index), see [`decide_push`].
    pub(super) fn plan_push(
        &self,
        ns: Option<&str>,
        index: &Index,
        base: Option<&Index>,
    ) -> Result<PushWork> {
        let mode = self.with_state(|s| match s.walk_mode() {
            WalkMode::Scoped {
                paths,
                delete_absent,
            } => Mode::Scoped {
                paths: paths.to_vec(),
                delete_absent,
            },
            WalkMode::Full { delete_orphans } => Mode::Full { delete_orphans },
        });
        let mut stats = WalkStats::default();
        let mut unreadable_paths = 0usize;
        let (plan, scoped) = match mode {
            Mode::Scoped {
                paths,
                delete_absent,
            } => {
                let plan = plan_scoped_walk(&paths, ns, index, delete_absent, |p| {
                    match local_fs::probe(&self.root, p, &mut stats) {
                        Probe::File => DirtyPathStat::File,
                        Probe::Dir(files) => DirtyPathStat::Dir { files },
                        Probe::Missing => DirtyPathStat::NotFound,
                        // A symlink is never synced and never a reason to delete.
                        Probe::Symlink => DirtyPathStat::Unreadable,
                        Probe::Unreadable => {
                            unreadable_paths += 1;
                            DirtyPathStat::Unreadable
                        }
                    }
                });
                (plan, true)
            }
            Mode::Full { delete_orphans } => {
                // With a namespace bound only `{ns}/` is walked: everything else is a
                // solo leftover or another namespace and is never pushed (§8.4 item 7).
                let files = local_fs::walk_files(&self.root, ns.unwrap_or(""), &mut stats);
                let complete = stats.unreadable == 0;
                let plan = plan_full_walk(&files, ns, index, &[], delete_orphans && complete);
                (plan, false)
            }
        };
        // A symlink is never synced and never a reason to delete: the walks skip links,
        // so a remote object named like a local link (or a path below one) would
        // otherwise look gone — and be deleted — whenever its directory is walked.
        let (deletions, refused): (Vec<String>, Vec<String>) = plan
            .deletions
            .into_iter()
            .filter(|key| !local_fs::is_symlink_or_below(&self.root, &local_rel_path(ns, key)))
            .partition(|key| may_delete(base, index, key));
        let mut work = PushWork {
            deletions,
            conflicts: refused,
            scoped,
            complete: stats.unreadable == 0 && unreadable_paths == 0,
            skipped: SkipCounts {
                symlinks: stats.symlinks_skipped,
                outside_namespace: plan.skipped_outside_namespace + plan.skipped_in_namespace_dirs,
                unsafe_names: plan.skipped_unsafe + stats.non_utf8_skipped,
                unreadable: stats.unreadable + unreadable_paths,
                temp_removed: stats.temp_removed,
            },
            ..PushWork::default()
        };
        for candidate in plan.candidates {
            // Backslashes are file-name characters here but separators for a Windows
            // client sharing the bucket; such names are never uploaded.
            if check_rel(&candidate.cache_rel).is_err() {
                work.skipped.unsafe_names += 1;
                continue;
            }
            let shown = format!("push {}", candidate.rel);
            let stat = local_fs::stat_file(&self.root, &candidate.cache_rel)
                .map_err(|e| Error::io("stat", &candidate.cache_rel, &e).context(&shown))?;
            // Gone (or no longer a regular file) since the walk: nothing to upload.
            let Some(stat) = stat else { continue };
            let local = LocalFile {
                size: stat.size,
                mtime_iso: stat.mtime_iso,
            };
            let decided = decide_push(base, index, &candidate.rel, &local, || {
                local_fs::read_file(&self.root, &candidate.cache_rel).map(|b| sha256_hex(&b))
            });
            let verdict = match decided {
                Ok(verdict) => verdict,
                Err(e) if local_fs::is_absent(&e) => continue,
                Err(e) => {
                    return Err(
                        Error::io("read for hashing", &candidate.cache_rel, &e).context(&shown)
                    )
                }
            };
            match verdict {
                PushVerdict::Upload(reason) => work.uploads.push(Upload {
                    rel: candidate.rel,
                    cache_rel: candidate.cache_rel,
                    size: local.size,
                    reason,
                }),
                PushVerdict::Adopt(entry) => work.adopted.push(entry),
                PushVerdict::Conflict => work.conflicts.push(candidate.rel),
                PushVerdict::Unchanged => {}
            }
        }
        Ok(work)
    }
}
