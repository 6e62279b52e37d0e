//! `pushChanged` (docs/sync.md#push, v1 layout), as phases: fast path; fresh index
//! ([`IndexStore`]); walk and decisions ([`super::push_plan`]); transfer (uploads and
//! deletions); then publish — monolith first, then only the touched partitions and the
//! v1 `_meta.json`, then the local copy and the sidecar — or, with nothing to publish,
//! settle (repair lagging partitions, record what this cache holds).
//!
//! Beyond upstream (deliberate):
//! * The monolith PUT carries `ifGenerationMatch` of the index the changes were merged
//!   onto (`"0"` when there was none). On 412 another writer got there first: re-fetch,
//!   re-merge our changes onto theirs, retry with backoff (bounded). Two pushers without
//!   a lock therefore never lose each other's entries.
//! * Uploads and deletes run with a sliding window of `pushConcurrency`.
//! * Before the first upload of a push that would otherwise leave a clean sidecar, the
//!   cache is marked dirty (bulk) once — not before every file, as upstream does — so a
//!   crash between the uploads and the index write cannot leave a clean sidecar that
//!   hides the unindexed files behind the fast path.
//! * No index entry is written for an upload that did not succeed: any failed upload or
//!   delete aborts the push before the writeback, leaving the sidecar dirty.
//! * The clean transition also needs a complete walk (see `push_plan.rs`).
//! * Change detection is three-way against the local index copy, the version this cache
//!   last synced ([`super::core::reconcile`]): a file merely older than the remote is not a
//!   change, so a bulk push never reverts a newer remote version; a file changed here
//!   while the remote moved on is reported as a conflict and neither uploaded nor
//!   deleted. The local copy records what this cache holds (not the merged remote index),
//!   and the sidecar is marked clean only when that covers the remote index.
//! * Partition writes are best effort, as upstream's, but not forgotten: the sidecar
//!   records `partitionsPending` before the monolith write and clears it once every
//!   partition and the meta are written. A push interrupted in between (a crash, or
//!   failed partition writes) leaves it set; the next push skips the fast path and
//!   rewrites every partition, even with nothing else to write. Upstream left the
//!   partitions stale until some later push happened to touch them.

use super::batch::{batch_error, run_bounded, split_results};
use super::core::change::sha256_hex;
use super::core::index::{Index, IndexChanges, IndexEntry};
use super::core::keys::bare_rel;
use super::core::keys::data_key;
use super::core::partition::dirty_partition_keys;
use super::core::plan::local_has_all_remote_entries;
use super::core::reconcile::{base_covers, push_next_base};
use super::core::report::{PhaseClock, SyncReport};
use super::core::shards::candidate_shards;
use super::core::sync_state::verified_at_baseline_ms;
use super::core::sync_state::WalkMode;
use super::push_plan::{Content, PushWork, Upload};
use super::remote_index::{IndexStore, MetaState, RemoteIndex};
use super::service::{SyncOptions, SyncService};
use super::shards::{ShardFilter, ShardView};
use crate::cache::is_absent;
use crate::error::{Error, Result};
use crate::gcs::Authorizer;
use crate::paths::CachePath;
use crate::transport::{Clock, Transport};
use std::collections::BTreeSet;
use std::collections::HashMap;

/// One push in progress: where it writes and what it has reported so far.
pub(super) struct PushRun<'a, P, A> {
    pub(super) ns: Option<&'a str>,
    pub(super) store: IndexStore<'a, P, A>,
    pub(super) report: SyncReport,
    pub(super) clock: PhaseClock,
}

impl<P: Transport + Clock, A: Authorizer> SyncService<P, A> {
    /// A push-side run (push, prepare, commit, preview) in namespace `ns`.
    pub(super) fn push_run<'a>(&'a self, ns: Option<&'a str>) -> PushRun<'a, P, A> {
        PushRun {
            ns,
            store: IndexStore::new(&self.client, ns),
            report: SyncReport::default(),
            clock: PhaseClock::start(self.now_ms()),
        }
    }

    /// Upload what changed locally and publish the merged index. Returns the files pushed
    /// (`files`) and remote objects deleted (`deleted`).
    pub async fn push(&self, opts: &SyncOptions) -> Result<SyncReport> {
        let ns = self.bind_namespace(opts.namespace.as_deref())?;
        let ns = ns.as_deref();
        let mut run = self.push_run(ns);
        self.client.check_deadline("pushChanged")?;

        let hit = self.push_fast_path(&run.store).await;
        self.record(
            &mut run,
            "pushChanged.fastpath",
            if hit { "hit" } else { "miss" },
        );
        if hit {
            run.report.fast_path = true;
            return Ok(run.report);
        }

        crate::progress::phase("index");
        let base = self.read_base_for(&mut run.store);
        let (meta, remote) = self.push_read_index(&mut run).await?;
        crate::progress::phase("walk");
        self.client.check_deadline("push walk")?;
        let work = self.plan_push(ns, &remote.index, base.as_ref())?;
        run.report.conflicts = work.conflicts.clone();
        self.record(&mut run, "pushChanged.walk", walk_detail(&work));
        let sizes = work.uploads.iter().map(|u| u.size);
        crate::progress::plan("upload", sizes.chain(work.deletions.iter().map(|_| 0)));

        let changes = self.push_transfer(&mut run, &work).await?;
        self.push_finish(&mut run, meta, remote, base.as_ref(), &work, changes)
            .await?;
        Ok(run.report)
    }

    /// Phase 4 of a push (and of `commit-push`): publish `changes`, or with nothing to
    /// publish settle. A shard-first view left by an interrupted commit publishes even
    /// without changes: shards with entries that the meta does not list are listed —
    /// else their entries would stay invisible to every reader while this cache, holding
    /// them, turned clean (docs/hazards.md#interrupted-shard-first-commit-never-listed) —
    /// and listed shards it emptied are unlisted.
    pub(super) async fn push_finish(
        &self,
        run: &mut PushRun<'_, P, A>,
        meta: MetaState,
        remote: RemoteIndex,
        base: Option<&Index>,
        work: &PushWork,
        changes: IndexChanges,
    ) -> Result<()> {
        if let Some(view) = remote.shards.clone() {
            if changes.is_empty() && !view.needs_commit() {
                self.push_settle_v2(run, &view, &remote.index, base, work);
            } else {
                self.push_publish_v2(run, &view, remote.index, base, work, changes)
                    .await?;
            }
        } else if changes.is_empty() && !remote.needs_writeback {
            self.push_settle(run, &meta, &remote, base, work).await;
        } else {
            self.push_publish(run, meta, remote, base, work, changes)
                .await?;
        }
        Ok(())
    }

    /// Record a phase of `run`.
    pub(super) fn record(
        &self,
        run: &mut PushRun<'_, P, A>,
        phase: &str,
        detail: impl Into<String>,
    ) {
        run.clock
            .record(&mut run.report, self.now_ms(), phase, detail.into());
    }

    /// The push fast path: a clean sidecar with a fingerprint the remote still matches
    /// ([`IndexStore::probe`]).
    pub(super) async fn push_fast_path(&self, store: &IndexStore<'_, P, A>) -> bool {
        match self.with_state(|s| s.push_fingerprint()) {
            Some(fingerprint) => store.probe(&fingerprint, false).await,
            None => false,
        }
    }

    /// Phase 1: the index, fresh: the monolith, or a shard-first repository's shards —
    /// for a scoped walk only those its dirty paths can touch (pushing one file stays
    /// flat however large the repository is).
    pub(super) async fn push_read_index(
        &self,
        run: &mut PushRun<'_, P, A>,
    ) -> Result<(MetaState, RemoteIndex)> {
        let ns = run.ns;
        let dirty: Option<Vec<String>> = self.with_state(|s| match s.walk_mode() {
            WalkMode::Scoped { paths, .. } => Some(paths.to_vec()),
            WalkMode::Full { .. } => None,
        });
        let only = dirty.map(|paths| {
            move |listed: &[String]| -> BTreeSet<String> { dirty_path_shards(&paths, ns, listed) }
        });
        let only_ref = only.as_ref().map(|f| f as &ShardFilter<'_>);
        let (meta, remote) = run.store.read_index("push", only_ref).await?;
        if let Some(n) = remote.discovered {
            self.record(run, "pullIndex.discover", format!("n={n}"));
        }
        let layout = match &remote.shards {
            Some(v) => format!(
                "shards={}/{} commitSeq={} ",
                v.read.values().filter(|g| g.is_some()).count(),
                v.partitions.len(),
                v.commit_seq
            ),
            None => String::new(),
        };
        let detail = format!(
            "{layout}entries={} dropped={}",
            remote.index.entries.len(),
            remote.report.dropped
        );
        self.record(run, "pushChanged.pullIndex", detail);
        Ok((meta, remote))
    }

    /// Phase 3: mark the cache dirty before the first upload (a crash between the uploads
    /// and the index write must not leave a clean sidecar), upload, delete. Any failure
    /// fails the push before anything is published.
    pub(super) async fn push_transfer(
        &self,
        run: &mut PushRun<'_, P, A>,
        work: &PushWork,
    ) -> Result<IndexChanges> {
        let has_work = !work.uploads.is_empty() || !work.deletions.is_empty();
        if has_work && !self.with_state(|s| s.local_dirty()) {
            self.update_state(|s| s.mark_dirty(None))
                .map_err(|e| e.context("push: mark the cache dirty before uploading"))?;
        }
        self.client.check_deadline("push upload")?;
        let (upserts, bytes) = self.upload_all(run.ns, &work.uploads).await?;
        self.record(
            run,
            "pushChanged.upload",
            format!("pushed={}", upserts.len()),
        );
        self.client.check_deadline("push delete")?;
        let deletions = self.delete_all(run.ns, &work.deletions).await?;
        self.record(
            run,
            "pushChanged.delete",
            format!("deleted={}", deletions.len()),
        );
        run.report.files = upserts.len() as u32;
        run.report.deleted = deletions.len() as u32;
        run.report.bytes = bytes;
        crate::progress::phase("writeback");
        Ok(IndexChanges { upserts, deletions })
    }

    /// Phase 4, nothing to publish: repair partitions an earlier push left behind, record
    /// what this cache holds, and arm the fast path when that covers the remote. The
    /// GET's generation describes exactly the index compared against, so it may serve as
    /// the fingerprint — but only if this cache holds every remote entry (a reader that
    /// never pulled must not look clean), each at the version the remote lists.
    async fn push_settle(
        &self,
        run: &mut PushRun<'_, P, A>,
        meta: &MetaState,
        remote: &RemoteIndex,
        base: Option<&Index>,
        work: &PushWork,
    ) {
        let ns = run.ns;
        let partitions_pending = self.with_state(|s| s.partitions_pending());
        let next_base =
            self.next_base_after_push(ns, base, &remote.index, &work.adopted, &[], None);
        let mut detail = String::new();
        if partitions_pending {
            // An earlier push published this monolith but not all its partitions.
            let repaired = run.store.write_partitions(&remote.index, None, meta).await;
            if repaired.failures.is_empty() {
                self.update_state_best_effort(|s| s.set_partitions_pending(false));
            }
            detail = format!("repair {} ", repaired.detail());
        }
        // It may have died before writing the local copy too.
        let local = if partitions_pending || base != Some(&next_base) {
            match self.write_local_index(&next_base) {
                Ok(()) => "written",
                Err(_) => "failed",
            }
        } else {
            "unchanged"
        };
        detail.push_str(&format!("localIndex={local}"));
        self.record(run, "pushChanged.writeback", detail);
        if let Some(g) = remote.fingerprint() {
            if work.complete
                && local != "failed"
                && base_covers(&next_base, &remote.index)
                && self.local_has_all(&remote.index, ns, &[])
            {
                self.mark_synced_best_effort(g);
            }
        }
    }

    /// Phase 4, publish: the merged monolith (conditional, re-merged on a lost race), the
    /// touched partitions and the meta, the local copy, and the sidecar — clean only when
    /// the walk was complete and this cache holds what was published.
    pub(super) async fn push_publish(
        &self,
        run: &mut PushRun<'_, P, A>,
        mut meta: MetaState,
        remote: RemoteIndex,
        base: Option<&Index>,
        work: &PushWork,
        changes: IndexChanges,
    ) -> Result<()> {
        let ns = run.ns;
        let partitions_pending = self.with_state(|s| s.partitions_pending());
        self.client.check_deadline("push writeback")?;
        // Persisted before the monolith write, so that a crash between it and the last
        // partition still tells the next push that the partitions lag. Best effort, like
        // every sidecar write after a successful transfer
        // (docs/hazards.md#best-effort-sidecar-writes): the uploads are done and must be
        // published; an unwritable sidecar only loses the repair hint.
        self.update_state_best_effort(|s| s.set_partitions_pending(true));
        let (merged, generation, attempts) = run.store.publish(remote, &changes, &mut meta).await?;
        let dirty = if changes.is_empty() || partitions_pending {
            // Scrub or discovery only (upstream writes all too), or an earlier push left
            // partitions unwritten and we do not know which: every partition.
            None
        } else {
            let rels = changes
                .upserts
                .iter()
                .map(|e| e.key.as_str())
                .chain(changes.deletions.iter().map(String::as_str));
            Some(dirty_partition_keys(rels))
        };
        let partitions = run.store.write_partitions(&merged, dirty, &meta).await;
        if partitions.failures.is_empty() {
            self.update_state_best_effort(|s| s.set_partitions_pending(false));
        }
        let recorded: Vec<IndexEntry> = changes
            .upserts
            .iter()
            .chain(&work.adopted)
            .cloned()
            .collect();
        let next_base =
            self.next_base_after_push(ns, base, &merged, &recorded, &changes.deletions, None);
        let local_written = self.write_local_index(&next_base).is_ok();
        let clean = work.complete
            && local_written
            && base_covers(&next_base, &merged)
            && self.local_has_all(&merged, ns, &changes.upserts);
        if clean {
            if let Some(g) = generation.fingerprint() {
                self.mark_synced_best_effort(g);
            }
        }
        let detail = format!(
            "indexAttempts={attempts} {} localIndex={} sidecar={}",
            partitions.detail(),
            if local_written { "written" } else { "failed" },
            if clean { "clean" } else { "dirty" }
        );
        self.record(run, "pushChanged.writeback", detail);
        Ok(())
    }

    /// Upload every file, `pushConcurrency` at a time. All or nothing for the index:
    /// any failure fails the push with a batch error.
    async fn upload_all(
        &self,
        ns: Option<&str>,
        uploads: &[Upload],
    ) -> Result<(Vec<IndexEntry>, u64)> {
        let limit = self.client.cfg.push_concurrency;
        let results = run_bounded(uploads, limit, |u| self.upload_one(ns, u)).await;
        let (entries, failed) = split_results(results);
        if !failed.is_empty() {
            return Err(batch_error("push", "upload", uploads.len(), failed));
        }
        let bytes = entries.iter().map(|e| e.size).sum();
        Ok((entries, bytes))
    }

    /// Upload one file; its entry records what was uploaded, with the mtime the walk saw
    /// before any read. The bytes the plan read for hashing are used as they are;
    /// otherwise the file is read and hashed here, once.
    async fn upload_one(&self, ns: Option<&str>, upload: &Upload) -> Result<IndexEntry> {
        let shown = format!("push {}", upload.rel);
        let Content { data, sha256 } = match upload.content.take() {
            Some(content) => content,
            None => {
                let data = self.cache.read(&upload.path).map_err(|e| {
                    if is_absent(&e) {
                        Error::other(format!("{shown}: the file disappeared before upload"))
                    } else {
                        Error::io("read", upload.path.as_str(), &e).context(&shown)
                    }
                })?;
                let sha256 = sha256_hex(&data);
                Content { data, sha256 }
            }
        };
        self.client
            .upload(&data_key(ns, &upload.rel), &data, None)
            .await
            .map_err(|e| e.context(&shown))?;
        crate::progress::file_done(data.len() as u64);
        Ok(IndexEntry {
            key: upload.rel.clone(),
            size: data.len() as u64,
            last_modified: self.now_iso(),
            local_mtime: upload.mtime_iso.clone(),
            sha256: Some(sha256),
        })
    }

    /// Delete remote objects, `pushConcurrency` at a time; a missing object counts as
    /// deleted (its entry must go either way).
    async fn delete_all(&self, ns: Option<&str>, keys: &[String]) -> Result<Vec<String>> {
        let limit = self.client.cfg.push_concurrency;
        let results = run_bounded(keys, limit, |key: &String| async move {
            self.client
                .delete(&data_key(ns, key), None)
                .await
                .map(|_| key.clone())
                .inspect(|_| crate::progress::file_done(0))
                .map_err(|e| e.context(format!("delete {key}")))
        })
        .await;
        let (deleted, failed) = split_results(results);
        if !failed.is_empty() {
            return Err(batch_error("push", "delete", keys.len(), failed));
        }
        Ok(deleted)
    }

    /// The base to record after a push ([`push_next_base`]), without entries for files
    /// gone both here and from `remote` (a deletion an interrupted push already
    /// published): nothing is left to sync there.
    pub(super) fn next_base_after_push(
        &self,
        ns: Option<&str>,
        base: Option<&Index>,
        remote: &Index,
        recorded: &[IndexEntry],
        deleted: &[String],
        view: Option<&ShardView>,
    ) -> Index {
        let mut next = push_next_base(base, &remote.last_pulled, recorded, deleted);
        next.entries.retain(|e| {
            // Outside a partial shard view nothing is known about the remote: keep.
            view.is_some_and(|v| !v.covers(&e.key))
                || remote.entries.contains(&e.key)
                || CachePath::for_key(ns, &e.key).is_ok_and(|p| self.stat_size(&p).is_some())
        });
        next
    }

    /// `localHasAllRemoteEntries` against the real cache. The files this push just
    /// uploaded (`uploaded`) were stat'ed and read moments ago: their recorded sizes stand
    /// in for a second stat of each.
    pub(super) fn local_has_all(
        &self,
        index: &Index,
        ns: Option<&str>,
        uploaded: &[IndexEntry],
    ) -> bool {
        let lazy = self.with_state(|s| s.lazy_pull_active());
        let known: HashMap<&str, u64> = uploaded.iter().map(|e| (e.key.as_str(), e.size)).collect();
        local_has_all_remote_entries(Some(index), lazy, ns, |key, p| match known.get(key) {
            Some(&size) => Some(size),
            None => self.stat_size(p),
        })
    }

    /// `markSynced(generation)`; a failed sidecar write only costs a slow path later.
    pub(super) fn mark_synced_best_effort(&self, generation: &str) {
        let at = verified_at_baseline_ms(self.unix_ms(), self.local_index_mtime_ms());
        self.update_state_best_effort(|s| s.mark_synced(generation, at));
    }
}

/// The shards among `listed` that a scoped walk over the dirty `paths` (cache-relative,
/// namespace included) can touch.
pub(super) fn dirty_path_shards(
    paths: &[String],
    ns: Option<&str>,
    listed: &[String],
) -> BTreeSet<String> {
    paths
        .iter()
        .filter_map(|p| bare_rel(p, ns))
        .flat_map(|bare| candidate_shards(bare, listed))
        .collect()
}

/// The walk phase's trace detail.
fn walk_detail(work: &PushWork) -> String {
    let s = &work.skipped;
    format!(
        "toPush={} toDelete={} mode={} symlinksSkipped={} unsafeSkipped={} unreadable={} conflicts={}",
        work.uploads.len(),
        work.deletions.len(),
        if work.scoped { "scoped" } else { "full" },
        s.symlinks,
        s.unsafe_names,
        s.unreadable,
        work.conflicts.len()
    )
}
