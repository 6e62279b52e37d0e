//! Two-phase push (docs/sync.md#two-phase-push) and the push preview
//! (docs/sync.md#push-preview).
//!
//! `prepare-push` is a push without its publish: the same fast path, index read, walk
//! and transfer, then a [`PushManifest`] instead of an index write; the sidecar stays
//! dirty. swamp runs it outside the global lock. `commit-push`, under the lock, reads
//! the current remote index (the shards the manifest touches, or the monolith), merges
//! the manifest onto it and publishes exactly as a push does — conditional writes,
//! re-merged on a lost race — and only then may the sidecar turn clean: when the
//! prepare's walk was complete and no `mark-dirty` came in between (the dirty signals
//! still equal the manifest's snapshot). Upstream's shard-first commit wrote a clean
//! sidecar over a dirty set, so later edits were never pushed
//! (docs/hazards.md#clean-sidecar-with-a-stale-dirty-set).

use std::collections::BTreeSet;

use super::core::change::ChangeReason;
use super::core::manifest::{DirtySnapshot, PushManifest};
use super::core::report::SyncReport;
use super::core::shards::shard_of;
use super::push::dirty_path_shards;
use super::push_plan::PushWork;
use super::service::{SyncOptions, SyncService};
use super::shards::ShardFilter;
use crate::error::{Error, ErrorKind, Result};
use crate::gcs::Authorizer;
use crate::transport::{Clock, Transport};

/// What a push would do (swamp's `PushPreviewSummary`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushPreview {
    /// `new + changed + deleted`.
    pub total: usize,
    /// Files the remote does not have.
    pub new: usize,
    /// Files whose content differs from the remote.
    pub changed: usize,
    /// Remote files a push would delete.
    pub deleted: usize,
}

impl<P: Transport + Clock, A: Authorizer> SyncService<P, A> {
    fn dirty_snapshot(&self) -> DirtySnapshot {
        self.with_state(|s| DirtySnapshot {
            paths: s.dirty_paths().to_vec(),
            bulk: s.bulk_invalidated(),
            overflowed: s.dirty_paths_overflowed(),
        })
    }

    /// Phase 1: upload and delete what changed, publish nothing, keep the sidecar dirty.
    pub async fn prepare_push(&self, opts: &SyncOptions) -> Result<(PushManifest, SyncReport)> {
        let ns = self.bind_namespace(opts.namespace.as_deref())?;
        let mut run = self.push_run(ns.as_deref());
        self.client.check_deadline("preparePush")?;
        let mut manifest = PushManifest {
            namespace: ns.clone(),
            ..PushManifest::default()
        };
        let hit = self.push_fast_path(&run.store).await;
        self.record(
            &mut run,
            "preparePush.fastpath",
            if hit { "hit" } else { "miss" },
        );
        if hit {
            run.report.fast_path = true;
            manifest.complete = true;
            manifest.dirty = self.dirty_snapshot();
            return Ok((manifest, run.report));
        }
        crate::progress::phase("index");
        let base = self.read_base_for(&mut run.store);
        let (_, remote) = self.push_read_index(&mut run).await?;
        crate::progress::phase("walk");
        self.client.check_deadline("prepare walk")?;
        let work = self.plan_push(run.ns, &remote.index, base.as_ref())?;
        run.report.conflicts = work.conflicts.clone();
        let sizes = work.uploads.iter().map(|u| u.size);
        crate::progress::plan("upload", sizes.chain(work.deletions.iter().map(|_| 0)));
        let changes = self.push_transfer(&mut run, &work).await?;
        manifest.bytes = run.report.bytes;
        manifest.changes = changes;
        manifest.adopted = work.adopted;
        manifest.complete = work.complete;
        manifest.dirty = self.dirty_snapshot();
        let detail = format!(
            "pushed={} deleted={} partitions={}",
            manifest.changes.upserts.len(),
            manifest.changes.deletions.len(),
            manifest.dirty_partition_keys().len()
        );
        self.record(&mut run, "preparePush.manifest", detail);
        Ok((manifest, run.report))
    }

    /// Phase 2: merge `manifest` into the current remote index and publish it; then the
    /// local copy and, when nothing was marked dirty since the prepare, a clean sidecar.
    /// The manifest's namespace is the one used; `opts.namespace`, when given, must agree.
    pub async fn commit_push(
        &self,
        manifest: &PushManifest,
        opts: &SyncOptions,
    ) -> Result<SyncReport> {
        let wanted = opts.namespace.as_deref().filter(|n| !n.is_empty());
        if wanted.is_some() && wanted != manifest.namespace.as_deref() {
            return Err(Error::new(
                ErrorKind::NamespaceMismatch {
                    bound: manifest.namespace.clone(),
                    requested: wanted.map(str::to_string),
                },
                format!(
                    "commitPush: the manifest was prepared for {} but the commit asks for {}; commit it with the namespace it was prepared for",
                    shown(manifest.namespace.as_deref()),
                    shown(wanted)
                ),
            ));
        }
        let ns = self.bind_namespace(manifest.namespace.as_deref())?;
        let mut run = self.push_run(ns.as_deref());
        self.client.check_deadline("commitPush")?;
        run.report.files = manifest.changes.upserts.len() as u32;
        run.report.deleted = manifest.changes.deletions.len() as u32;
        run.report.bytes = manifest.bytes;
        if manifest.is_empty()
            && manifest.adopted.is_empty()
            && self.with_state(|s| s.push_fast_path_allowed())
        {
            // Nothing transferred, nothing adopted, nothing left to settle.
            self.record(&mut run, "commitPush.writeback", "empty manifest");
            return Ok(run.report);
        }
        // With nothing transferred the commit still settles, as a push with nothing to
        // upload does: a rerun after a commit cut off midway finds its files already
        // published or in shards the meta does not list yet, and must repair lagging
        // partitions, list those shards and record what the cache holds — else two-phase
        // pushes alone would never finish the interrupted commit. So besides the shards
        // the changes touch, the commit reads the adopted entries' shards (where such
        // unlisted shards are) and, after a scoped prepare, those its dirty paths can
        // touch, as a push would: what the cache records of the remote there (a deletion
        // the interrupted commit already published) is then known, not kept blindly.
        let rels: Vec<String> = manifest
            .changes
            .upserts
            .iter()
            .chain(&manifest.adopted)
            .map(|e| e.key.clone())
            .chain(manifest.changes.deletions.iter().cloned())
            .collect();
        let scoped: Vec<String> = if manifest.dirty.bulk {
            Vec::new()
        } else {
            manifest.dirty.paths.clone()
        };
        let ns_ref = run.ns;
        let only = move |listed: &[String]| -> BTreeSet<String> {
            rels.iter()
                .map(|r| shard_of(r))
                .chain(dirty_path_shards(&scoped, ns_ref, listed))
                .collect()
        };
        let (meta, remote) = run
            .store
            .read_index("commitPush", Some(&only as &ShardFilter<'_>))
            .await?;
        self.record(
            &mut run,
            "commitPush.pullIndex",
            format!("entries={}", remote.index.entries.len()),
        );
        let base = self.read_base();
        let work = PushWork {
            adopted: manifest.adopted.clone(),
            complete: manifest.complete && self.dirty_snapshot() == manifest.dirty,
            ..PushWork::default()
        };
        let changes = manifest.changes.clone();
        self.push_finish(&mut run, meta, remote, base.as_ref(), &work, changes)
            .await?;
        Ok(run.report)
    }

    /// What a push would do now, without transferring or writing anything (swamp's
    /// `previewPush`): the fast path when it answers (all zeros), else the index read
    /// and the walk of a push.
    pub async fn preview_push(&self, opts: &SyncOptions) -> Result<PushPreview> {
        let ns = self.bind_namespace(opts.namespace.as_deref())?;
        let mut run = self.push_run(ns.as_deref());
        self.client.check_deadline("previewPush")?;
        if self.push_fast_path(&run.store).await {
            return Ok(PushPreview::default());
        }
        let (_, remote) = self.push_read_index(&mut run).await?;
        let work = self.plan_push(run.ns, &remote.index, self.read_base().as_ref())?;
        let new = work
            .uploads
            .iter()
            .filter(|u| u.reason == ChangeReason::New)
            .count();
        let changed = work.uploads.len() - new;
        let deleted = work.deletions.len();
        Ok(PushPreview {
            total: new + changed + deleted,
            new,
            changed,
            deleted,
        })
    }
}

fn shown(ns: Option<&str>) -> String {
    match ns {
        Some(n) => format!("namespace \"{n}\""),
        None => "solo mode".to_string(),
    }
}
