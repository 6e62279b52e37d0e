//! `pushChanged` (§3.15, v1 layout): fast path, fresh index, walk, uploads, deletions,
//! then the index writeback — monolith first, then only the touched partitions and the
//! v1 `_meta.json`, then the local copy and the sidecar.
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
//! * The clean transition also needs a complete walk (see `walk.rs`).
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
use super::core::index::{merge_onto, Index, IndexChanges, IndexEntry};
use super::core::keys::{data_key, index_key, local_rel_path};
use super::core::partition::dirty_partition_keys;
use super::core::plan::local_has_all_remote_entries;
use super::core::reconcile::{base_covers, push_next_base};
use super::core::report::{PhaseClock, SyncReport};
use super::core::sync_state::verified_at_baseline_ms;
use super::index_io::{refuse_v2, MetaState, RemoteIndex};
use super::local_fs;
use super::service::{SyncOptions, SyncService};
use super::walk::Upload;
use crate::error::{Error, Result};
use crate::gcs::Authorizer;
use crate::paths::safe_index_key;
use crate::retry::{backoff_delay, unit_from};
use crate::transport::{Clock, Transport};

/// Attempts at the conditional monolith write before the push gives up. Each loss means
/// another writer published in between; ten in a row means heavy contention that a lock
/// should serialise instead.
pub const INDEX_WRITE_ATTEMPTS: u32 = 10;

impl<P: Transport + Clock, A: Authorizer> SyncService<P, A> {
    /// Upload what changed locally and publish the merged index. Returns the files pushed
    /// (`files`) and remote objects deleted (`deleted`).
    pub async fn push(&self, opts: &SyncOptions) -> Result<SyncReport> {
        let ns = self.bind_namespace(opts.namespace.as_deref())?;
        let ns = ns.as_deref();
        let mut report = SyncReport::default();
        let mut clock = PhaseClock::start(self.now_ms());
        self.client.check_deadline("pushChanged")?;

        let hit = self.push_fast_path(ns).await;
        let verdict = if hit { "hit" } else { "miss" };
        clock.record(&mut report, self.now_ms(), "pushChanged.fastpath", verdict);
        if hit {
            report.fast_path = true;
            return Ok(report);
        }

        let mut meta = self.read_meta(ns, "push").await?;
        refuse_v2(&meta, "push")?;
        let partitions_pending = self.with_state(|s| s.partitions_pending());
        let remote = self.fetch_index(ns, "push").await?;
        if let Some(n) = remote.discovered {
            clock.record(
                &mut report,
                self.now_ms(),
                "pullIndex.discover",
                format!("n={n}"),
            );
        }
        let detail = format!(
            "entries={} dropped={}",
            remote.index.entries.len(),
            remote.report.dropped
        );
        clock.record(&mut report, self.now_ms(), "pushChanged.pullIndex", detail);
        self.client.check_deadline("push walk")?;

        let base = self.read_base();
        let work = self.plan_push(ns, &remote.index, base.as_ref())?;
        report.conflicts = work.conflicts.clone();
        let s = &work.skipped;
        let detail = format!(
            "toPush={} toDelete={} mode={} symlinksSkipped={} unsafeSkipped={} unreadable={} conflicts={}",
            work.uploads.len(),
            work.deletions.len(),
            if work.scoped { "scoped" } else { "full" },
            s.symlinks,
            s.unsafe_names,
            s.unreadable,
            work.conflicts.len()
        );
        clock.record(&mut report, self.now_ms(), "pushChanged.walk", detail);

        let has_work = !work.uploads.is_empty() || !work.deletions.is_empty();
        if has_work && !self.with_state(|s| s.local_dirty()) {
            self.update_state(|s| s.mark_dirty(None))
                .map_err(|e| e.context("push: mark the cache dirty before uploading"))?;
        }
        self.client.check_deadline("push upload")?;
        let (upserts, bytes) = self.upload_all(ns, &work.uploads).await?;
        clock.record(
            &mut report,
            self.now_ms(),
            "pushChanged.upload",
            format!("pushed={}", upserts.len()),
        );
        self.client.check_deadline("push delete")?;
        let deletions = self.delete_all(ns, &work.deletions).await?;
        clock.record(
            &mut report,
            self.now_ms(),
            "pushChanged.delete",
            format!("deleted={}", deletions.len()),
        );
        report.files = upserts.len() as u32;
        report.deleted = deletions.len() as u32;
        report.bytes = bytes;

        let changes = IndexChanges { upserts, deletions };
        if changes.is_empty() && !remote.needs_writeback {
            let next_base =
                self.next_base_after_push(ns, base.as_ref(), &remote.index, &work.adopted, &[]);
            let mut detail = String::new();
            if partitions_pending {
                // An earlier push published this monolith but not all its partitions.
                let repaired = self.write_partitions(ns, &remote.index, None, &meta).await;
                if repaired.failures.is_empty() {
                    self.update_state_best_effort(|s| s.set_partitions_pending(false));
                }
                detail = format!("repair {} ", repaired.detail());
            }
            // It may have died before writing the local copy too.
            let local = if partitions_pending || base.as_ref() != Some(&next_base) {
                let written = next_base
                    .to_pretty_json()
                    .and_then(|text| self.write_local_index(&text));
                if written.is_ok() {
                    "written"
                } else {
                    "failed"
                }
            } else {
                "unchanged"
            };
            detail.push_str(&format!("localIndex={local}"));
            clock.record(&mut report, self.now_ms(), "pushChanged.writeback", detail);
            // No writeback: the GET's generation describes exactly the index we compared
            // against, so it may arm the fast path — but only if this cache holds every
            // remote entry (a reader that never pulled must not look clean, #1225), and
            // holds each at the version the remote lists.
            if let Some(g) = remote.fingerprint() {
                if work.complete
                    && local != "failed"
                    && base_covers(&next_base, &remote.index)
                    && self.local_has_all(&remote.index, ns)
                {
                    self.mark_synced_best_effort(g);
                }
            }
            return Ok(report);
        }

        self.client.check_deadline("push writeback")?;
        // Persisted before the monolith write, so that a crash between it and the last
        // partition still tells the next push that the partitions lag. Best effort, like
        // every sidecar write after a successful transfer (§8.4 item 10): the uploads are
        // done and must be published; an unwritable sidecar only loses the repair hint.
        self.update_state_best_effort(|s| s.set_partitions_pending(true));
        let (merged, generation, attempts) =
            self.publish_merged(ns, remote, &changes, &mut meta).await?;
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
        let partitions = self.write_partitions(ns, &merged, dirty, &meta).await;
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
            self.next_base_after_push(ns, base.as_ref(), &merged, &recorded, &changes.deletions);
        let local_written = next_base
            .to_pretty_json()
            .and_then(|text| self.write_local_index(&text))
            .is_ok();
        let clean = work.complete
            && local_written
            && base_covers(&next_base, &merged)
            && self.local_has_all(&merged, ns);
        if clean {
            self.mark_synced_best_effort(&generation);
        }
        let detail = format!(
            "indexAttempts={attempts} {} localIndex={} sidecar={}",
            partitions.detail(),
            if local_written { "written" } else { "failed" },
            if clean { "clean" } else { "dirty" }
        );
        clock.record(&mut report, self.now_ms(), "pushChanged.writeback", detail);
        Ok(report)
    }

    /// The push fast path: a clean sidecar with a fingerprint and one metadata GET of the
    /// index whose generation equals it. Any error is a miss (the slow path will report
    /// real problems).
    async fn push_fast_path(&self, ns: Option<&str>) -> bool {
        let Some(fingerprint) = self.with_state(|s| {
            if s.push_fast_path_allowed() {
                s.generation_fingerprint().map(str::to_string)
            } else {
                None
            }
        }) else {
            return false;
        };
        match self.client.stat(&index_key(ns)).await {
            Ok(Some(meta)) => {
                !meta.generation.is_empty()
                    && meta.generation != "0"
                    && meta.generation == fingerprint
            }
            _ => false,
        }
    }

    /// Merge `changes` onto the fetched index and write it with `ifGenerationMatch`; on a
    /// lost race re-fetch (and re-check the meta), re-merge and retry. Returns the
    /// published index, its generation and the attempts used.
    async fn publish_merged(
        &self,
        ns: Option<&str>,
        mut base: RemoteIndex,
        changes: &IndexChanges,
        meta: &mut MetaState,
    ) -> Result<(Index, String, u32)> {
        let key = index_key(ns);
        for attempt in 1..=INDEX_WRITE_ATTEMPTS {
            let mut merged = base.index.clone();
            if !merge_onto(&mut merged, changes, &self.now_iso()) && base.discovered.is_some() {
                merged.last_pulled = self.now_iso();
            }
            match self.put_index(ns, &merged, base.write_condition()).await {
                Ok(generation) => return Ok((merged, generation, attempt)),
                Err(e) if e.is_precondition_failed() => {
                    let unit = unit_from(self.client.platform().random_u64());
                    let wait = backoff_delay(&self.client.cfg.retry, attempt - 1, unit, false);
                    self.client.platform().sleep(wait).await;
                    self.client.check_deadline("push index retry")?;
                    *meta = self.read_meta(ns, "push").await?;
                    refuse_v2(meta, "push")?;
                    base = self.fetch_index(ns, "push").await?;
                }
                Err(e) => return Err(e.context(format!("push: write index {key}"))),
            }
        }
        Err(Error::other(format!(
            "push: write index {key}: another writer changed it {INDEX_WRITE_ATTEMPTS} times in a row; the uploads are kept and the next push will publish them"
        )))
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

    /// Read, hash and upload one file; its entry records what was uploaded. The mtime is
    /// taken before the read: if the file changes afterwards its mtime differs from the
    /// recorded one and the next push compares hashes (and uploads the new content).
    async fn upload_one(&self, ns: Option<&str>, upload: &Upload) -> Result<IndexEntry> {
        let shown = format!("push {}", upload.rel);
        let stat = local_fs::stat_file(&self.root, &upload.cache_rel)
            .map_err(|e| Error::io("stat", &upload.cache_rel, &e).context(&shown))?
            .ok_or_else(|| Error::other(format!("{shown}: the file disappeared before upload")))?;
        let data = local_fs::read_file(&self.root, &upload.cache_rel)
            .map_err(|e| Error::io("read", &upload.cache_rel, &e).context(&shown))?;
        let sha256 = sha256_hex(&data);
        self.client
            .upload(&data_key(ns, &upload.rel), &data, None)
            .await
            .map_err(|e| e.context(&shown))?;
        Ok(IndexEntry {
            key: upload.rel.clone(),
            size: data.len() as u64,
            last_modified: self.now_iso(),
            local_mtime: stat.mtime_iso,
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
    fn next_base_after_push(
        &self,
        ns: Option<&str>,
        base: Option<&Index>,
        remote: &Index,
        recorded: &[IndexEntry],
        deleted: &[String],
    ) -> Index {
        let mut next = push_next_base(base, &remote.last_pulled, recorded, deleted);
        next.entries.retain(|e| {
            remote.entries.contains(&e.key)
                || (safe_index_key(&e.key).is_ok()
                    && self.stat_size(&local_rel_path(ns, &e.key)).is_some())
        });
        next
    }

    /// `localHasAllRemoteEntries` against the real cache.
    pub(super) fn local_has_all(&self, index: &Index, ns: Option<&str>) -> bool {
        let lazy = self.with_state(|s| s.lazy_pull_active());
        local_has_all_remote_entries(Some(index), lazy, ns, |p| self.stat_size(p))
    }

    /// `markSynced(generation)`; a failed sidecar write only costs a slow path later.
    pub(super) fn mark_synced_best_effort(&self, generation: &str) {
        let at = verified_at_baseline_ms(self.unix_ms(), self.local_index_mtime_ms());
        self.update_state_best_effort(|s| s.mark_synced(generation, at));
    }
}
