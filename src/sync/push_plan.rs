//! The push walk over the real cache: which files to upload and which remote objects to
//! delete, shared by `push` and `status` (docs/sync.md#change-detection,
//! docs/sync.md#push-walk).
//!
//! The decisions come from the pure planners in [`super::core::plan`] and
//! [`super::core::reconcile`] (three-way, against the local index copy: what this cache
//! last synced); this file feeds them from the [`LocalCache`](crate::cache::LocalCache)
//! and records whether the walk saw everything it was asked to. An incomplete walk (an
//! unreadable directory or dirty path) never deletes by absence and never lets the push
//! mark the cache clean — otherwise the unread changes would be forgotten.
//!
//! Each candidate is stat'ed once, here; a file whose decision needed its hash was read
//! and hashed once, here, and keeps those bytes for its upload (up to
//! [`KEPT_BYTES_MAX`] in all), so the upload neither stats, reads nor hashes it again.

use std::cell::Cell;

use super::core::change::{sha256_hex, ChangeReason};
use super::core::index::{Index, IndexEntry};
use super::core::keys::local_rel_path;
use super::core::plan::{
    namespace_dirs_from_listing, plan_full_walk, plan_scoped_walk, DirtyPathStat, LocalFile,
};
use super::core::reconcile::{decide_push, may_delete, PushVerdict};
use super::core::report::SkipCounts;
use super::core::sync_state::WalkMode;
use super::service::SyncService;
use crate::cache::{is_absent, Probe, WalkStats};
use crate::error::{Error, Result};
use crate::gcs::Authorizer;
use crate::paths::CachePath;
use crate::transport::{Clock, Transport};

/// Bytes read for hashing that a plan keeps for the uploads, in all. Beyond it a file is
/// read (and hashed) again at upload time: memory stays bounded on a push of large files
/// that all changed their mtime.
pub(super) const KEPT_BYTES_MAX: u64 = 64 << 20;

/// A file's bytes and their SHA-256 hex, read once.
#[derive(Debug)]
pub(super) struct Content {
    pub data: Vec<u8>,
    pub sha256: String,
}

/// One file to upload.
pub(super) struct Upload {
    /// Index key (bare rel).
    pub rel: String,
    /// Where it is in the cache (`{ns}/rel` when bound).
    pub path: CachePath,
    /// Local size at walk time.
    pub size: u64,
    /// Local mtime at walk time (taken before any read: if the file changes afterwards
    /// its mtime differs from the recorded one and the next push compares hashes).
    pub mtime_iso: Option<String>,
    /// Why.
    pub reason: ChangeReason,
    /// The bytes, when the decision already read them (taken by the upload).
    pub content: Cell<Option<Content>>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("rel", &self.rel)
            .field("size", &self.size)
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

/// What the next push must do.
#[derive(Debug, Default)]
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
                    match self.cache.probe(p, &mut stats) {
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
                // solo leftover or another namespace and is never pushed
                // (docs/hazards.md#files-outside-the-bound-namespace).
                let files = self.cache.walk(ns.unwrap_or(""), &mut stats);
                let complete = stats.unreadable == 0;
                // A solo walk sees the whole cache, namespace directories included
                // (docs/hazards.md#namespace-directories-in-a-solo-walk).
                let namespace_dirs = match ns {
                    None => namespace_dirs_from_listing(&files, None),
                    Some(_) => Vec::new(),
                };
                let plan = plan_full_walk(
                    &files,
                    ns,
                    index,
                    &namespace_dirs,
                    delete_orphans && complete,
                );
                (plan, false)
            }
        };
        // A symlink is never synced and never a reason to delete: the walks skip links,
        // so a remote object named like a local link (or a path below one) would
        // otherwise look gone — and be deleted — whenever its directory is walked.
        let (deletions, refused): (Vec<String>, Vec<String>) = plan
            .deletions
            .into_iter()
            .filter(|key| !self.cache.is_symlink_or_below(&local_rel_path(ns, key)))
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
        let mut kept = 0u64;
        for candidate in plan.candidates {
            // Backslashes are file-name characters here but separators for a Windows
            // client sharing the bucket; such names are never uploaded.
            let Ok(path) = CachePath::new(&candidate.cache_rel) else {
                work.skipped.unsafe_names += 1;
                continue;
            };
            let shown = format!("push {}", candidate.rel);
            let stat = self
                .cache
                .stat(&path)
                .map_err(|e| Error::io("stat", path.as_str(), &e).context(&shown))?;
            // Gone (or no longer a regular file) since the walk: nothing to upload.
            let Some(stat) = stat else { continue };
            let local = LocalFile {
                size: stat.size,
                mtime_iso: stat.mtime_iso,
            };
            let mut read = None;
            let decided = decide_push(base, index, &candidate.rel, &local, || {
                let data = self.cache.read(&path)?;
                let sha256 = sha256_hex(&data);
                read = Some(Content {
                    data,
                    sha256: sha256.clone(),
                });
                Ok::<_, std::io::Error>(sha256)
            });
            let verdict = match decided {
                Ok(verdict) => verdict,
                Err(e) if is_absent(&e) => continue,
                Err(e) => {
                    return Err(Error::io("read for hashing", path.as_str(), &e).context(&shown))
                }
            };
            match verdict {
                PushVerdict::Upload(reason) => {
                    let content = read.filter(|c| {
                        kept += c.data.len() as u64;
                        kept <= KEPT_BYTES_MAX
                    });
                    work.uploads.push(Upload {
                        rel: candidate.rel,
                        path,
                        size: local.size,
                        mtime_iso: local.mtime_iso,
                        reason,
                        content: Cell::new(content),
                    })
                }
                PushVerdict::Adopt(entry) => work.adopted.push(entry),
                PushVerdict::Conflict => work.conflicts.push(candidate.rel),
                PushVerdict::Unchanged => {}
            }
        }
        Ok(work)
    }
}
