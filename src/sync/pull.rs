//! `pullChanged` (docs/sync.md#pull, v1 layout) and on-demand hydration
//! (docs/sync.md#lazy-hydration).
//!
//! The phases of a slow pull: fresh index from the [`IndexStore`] (scoped partitions, or
//! the monolith — never the local copy); the plan ([`plan_pull`], three-way, fed by the
//! [`LocalCache`](crate::cache::LocalCache)); downloads `pullConcurrency` at a time, each
//! written atomically by the cache; removals; then — monolith path only —
//! the index writeback when entries were pruned, scrubbed or discovered, the local index
//! copy, and last the sidecar (its `lastVerifiedAt` must come after the local index's
//! mtime, and its generation from the GET that delivered the bytes we compared, or from
//! our own PUT).
//!
//! Deliberate differences from upstream:
//! * Every file is written through a temporary sibling and a rename, after the client
//!   checked it against the server's hashes (docs/hazards.md#downloads-written-in-place):
//!   a failed or corrupt download never leaves a half-written or wrong file under the real
//!   name.
//! * Index keys that could escape the cache are skipped and counted, never turned into
//!   paths (docs/hazards.md#unsafe-index-key-throws-out-of-push), and nothing is written
//!   through a symlinked directory.
//! * Downloads use a sliding window, not sequential batches.
//! * Decisions are three-way against the local index copy, the version this cache last
//!   synced ([`super::core::reconcile`]): an equal-size remote rewrite is pulled, a remote
//!   deletion removes a file still at its synced version, and a file changed on both
//!   sides is kept and reported as a conflict. The local copy is written as what this
//!   cache now holds, not as the remote index.
//! * A pull that finds unpushed local changes keeps the sidecar dirty (see
//!   [`SyncState::mark_pulled`](super::core::sync_state::SyncState::mark_pulled)).
//! * Before writing a file, a pull removes that file's temporary siblings: debris of an
//!   earlier write killed between creating and renaming them (see
//!   [`CacheWriter::write`](crate::cache::CacheWriter::write)).

use std::collections::HashSet;

use super::batch::{batch_error, run_bounded, split_results};
use super::core::change::sha256_hex;
use super::core::index::Index;
use super::core::keys::data_key;
use super::core::partition::partition_key_from_path;
use super::core::plan::{LocalFile, PullItem};
use super::core::reconcile::{base_covers, plan_pull, PullPlan};
use super::core::report::{PhaseClock, SyncReport};
use super::core::sync_state::verified_at_baseline_ms;
use super::remote_index::IndexStore;
use super::service::{SyncOptions, SyncService};
use crate::cache::CacheWriter;
use crate::error::Result;
use crate::gcs::{Authorizer, Generation};
use crate::paths::CachePath;
use crate::transport::{Clock, Transport};

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pulled {
    /// Written; the local mtime to record as `localMtime`.
    Written {
        size: u64,
        mtime_iso: Option<String>,
    },
    /// The object is gone (404): a dangling index entry.
    Dangling,
}

/// The index a pull works from.
struct Source {
    index: Index,
    /// Scoped pull: the partitions read. Only their keys can be remote deletions; the
    /// rest of the base is outside what this pull saw. `None` for the monolith.
    scope: Option<HashSet<String>>,
    /// Monolith path: the generation to record and whether the remote must be rewritten.
    /// `None` for a scoped (partition) pull, which never records a fingerprint.
    monolith: Option<MonolithInfo>,
    /// Unscoped pull of a shard-first (v2) repository: the `commitSeq` assembled.
    commit_seq: Option<u64>,
}

struct MonolithInfo {
    generation: Option<Generation>,
    needs_writeback: bool,
}

/// One pull in progress.
struct PullRun<'a, P, A> {
    ns: Option<&'a str>,
    store: IndexStore<'a, P, A>,
    report: SyncReport,
    clock: PhaseClock,
}

impl<P: Transport + Clock, A: Authorizer> SyncService<P, A> {
    /// Download what is new or changed remotely into the cache and remove what the remote
    /// deleted. Returns the files pulled (`files`), local files removed plus dangling
    /// entries dropped (`deleted`) and the paths left alone as conflicts (`conflicts`).
    pub async fn pull(&self, opts: &SyncOptions) -> Result<SyncReport> {
        let ns = self.bind_namespace(opts.namespace.as_deref())?;
        let ns = ns.as_deref();
        let mut run = PullRun {
            ns,
            store: IndexStore::new(&self.client, ns),
            report: SyncReport::default(),
            clock: PhaseClock::start(self.now_ms()),
        };
        self.client.check_deadline("pullChanged")?;
        crate::progress::phase("index");

        if self.with_state(|s| s.pull_fast_path_allowed(opts.metadata_only)) {
            let hit = self.pull_fast_path(&run.store).await;
            self.record_pull(
                &mut run,
                "pullChanged.fastpath",
                if hit { "hit" } else { "miss" },
            );
            if hit {
                run.report.fast_path = true;
                return Ok(run.report);
            }
        } else {
            // Raws skipped by a lazy pull are only fetched by a full pull, which the
            // fast path would answer with "nothing changed".
            self.record_pull(&mut run, "pullChanged.fastpath", "skip(lazy→full)");
        }

        let base = self.read_base_for(&mut run.store);
        let mut source = self.pull_source(&mut run, &opts.models).await?;
        crate::progress::phase("walk");
        self.client.check_deadline("pull walk")?;
        let mut plan = self.pull_plan(&mut run, &source, base.as_ref(), opts.metadata_only)?;
        let size = |i: &PullItem| source.index.entries.get(&i.rel).map_or(0, |e| e.size);
        crate::progress::plan("download", plan.to_pull.iter().map(size));
        self.client.check_deadline("pull download")?;
        let pruned = self
            .pull_download(&mut run, &mut source.index, &mut plan, base.as_ref())
            .await?;
        crate::progress::phase("writeback");
        self.pull_remove(&mut run, &mut plan, base.as_ref());
        let detail = match (&source.monolith, source.commit_seq) {
            (Some(info), _) => {
                self.finish_monolith_pull(&run.store, &source.index, &plan.next_base, info, pruned)
                    .await
            }
            (None, Some(seq)) => self.finish_v2_pull(&source.index, &plan.next_base, seq),
            // A scoped pull records no fingerprint, but what it fetched or removed must
            // be recorded as synced. Best effort: an old record only makes the next pull
            // compare hashes again.
            (None, None) => match self.write_local_index(&plan.next_base) {
                Ok(()) => "localIndex=written".to_string(),
                Err(_) => "localIndex=failed".to_string(),
            },
        };
        self.record_pull(&mut run, "pullChanged.writeback", detail);
        if opts.metadata_only {
            // Not best effort: without the persisted flag a later process would treat the
            // skipped raws as deleted files and remove them remotely.
            self.update_state(|s| s.set_lazy_pull_active(true))
                .map_err(|e| e.context("pull: record the lazy pull in the sidecar"))?;
        } else if opts.models.is_empty() {
            // Best effort: a stale `true` only keeps deletions off and the fast path
            // skipped until the next full pull manages to clear it.
            self.update_state_best_effort(|s| s.set_lazy_pull_active(false));
        }
        Ok(run.report)
    }

    fn record_pull(&self, run: &mut PullRun<'_, P, A>, phase: &str, detail: impl Into<String>) {
        run.clock
            .record(&mut run.report, self.now_ms(), phase, detail.into());
    }

    /// Fetch one file into the cache on demand (lazy hydration). `rel` is the index key
    /// (no namespace prefix); the file lands at `[ns/]rel` for `namespace` (which must
    /// agree with the one a pull or push bound), or for the bound one when none is given.
    /// `Ok(false)` when the object does not exist. No index or sidecar change.
    pub async fn hydrate_file(&self, rel: &str, namespace: Option<&str>) -> Result<bool> {
        let ns = self.namespace_without_binding(namespace)?;
        let ns = ns.as_deref();
        let item = PullItem {
            rel: rel.to_string(),
            cache_rel: CachePath::for_key(ns, rel).map_err(|e| e.context("hydrate"))?,
        };
        let written = self.pull_one(ns, &item, &self.cache.writer()).await?;
        Ok(matches!(written, Pulled::Written { .. }))
    }

    /// The pull fast path (docs/sync.md#fast-paths): a fingerprint the remote still matches
    /// ([`IndexStore::probe`]); a generation counts only with a local index older than
    /// the last verification.
    /// Unpushed local changes do not matter here: a pull cannot fix them, and a slow
    /// pull could only overwrite them.
    async fn pull_fast_path(&self, store: &IndexStore<'_, P, A>) -> bool {
        let index_mtime = self.local_index_mtime_ms();
        match self.with_state(|s| s.pull_fingerprint(index_mtime)) {
            Some(fingerprint) => store.probe(&fingerprint, true).await,
            None => false,
        }
    }

    /// Phase 1: the index to pull from: the models' partitions when given and the
    /// `data--` one of each exists, else the monolith (a v2 repository is refused).
    async fn pull_source(
        &self,
        run: &mut PullRun<'_, P, A>,
        models: &[(String, String)],
    ) -> Result<Source> {
        if !models.is_empty() {
            if let Some((index, read)) = run.store.read_model_partitions(models).await? {
                let detail = format!(
                    "scoped partitions={} entries={}",
                    read.len(),
                    index.entries.len()
                );
                self.record_pull(run, "pullChanged.pullIndex", detail);
                return Ok(Source {
                    index,
                    scope: Some(read),
                    monolith: None,
                    commit_seq: None,
                });
            }
        }
        let (_, remote) = run.store.read_index("pull", None).await?;
        if let Some(view) = &remote.shards {
            let detail = format!(
                "{}shards={} commitSeq={} entries={}",
                if models.is_empty() { "" } else { "fallback " },
                view.read.values().filter(|g| g.is_some()).count(),
                view.commit_seq,
                remote.index.entries.len()
            );
            self.record_pull(run, "pullChanged.pullIndex", detail);
            return Ok(Source {
                index: remote.index,
                scope: None,
                monolith: None,
                commit_seq: Some(view.commit_seq),
            });
        }
        if let Some(n) = remote.discovered {
            self.record_pull(run, "pullIndex.discover", format!("n={n}"));
        }
        let detail = format!(
            "{}entries={} dropped={}",
            if models.is_empty() { "" } else { "fallback " },
            remote.index.entries.len(),
            remote.report.dropped
        );
        self.record_pull(run, "pullChanged.pullIndex", detail);
        Ok(Source {
            index: remote.index,
            scope: None,
            monolith: Some(MonolithInfo {
                generation: remote.generation,
                needs_writeback: remote.needs_writeback,
            }),
            commit_seq: None,
        })
    }

    /// Phase 2: decide every path three-way against the local files; create the
    /// directories of lazily skipped raws.
    fn pull_plan(
        &self,
        run: &mut PullRun<'_, P, A>,
        source: &Source,
        base: Option<&Index>,
        metadata_only: bool,
    ) -> Result<PullPlan> {
        let in_scope = |rel: &str| match &source.scope {
            None => true,
            Some(keys) => partition_key_from_path(rel).is_some_and(|k| keys.contains(&k)),
        };
        let stats = self.cache.tree_stat();
        let plan = plan_pull(
            &source.index,
            base,
            run.ns,
            metadata_only,
            in_scope,
            |p| {
                let stat = stats.stat(p).ok().flatten()?;
                Some(LocalFile {
                    size: stat.size,
                    mtime_iso: stat.mtime_iso,
                })
            },
            |p| self.cache.read(p).ok().map(|b| sha256_hex(&b)),
        );
        for dir in &plan.lazy_dirs {
            self.cache.create_dir(dir).map_err(|e| e.context("pull"))?;
        }
        let detail = format!(
            "toPull={} toRemove={} conflicts={} unsafeSkipped={} lazyDirs={}",
            plan.to_pull.len(),
            plan.to_delete.len(),
            plan.conflicts.len(),
            plan.unsafe_keys.len(),
            plan.lazy_dirs.len()
        );
        self.record_pull(run, "pullChanged.walk", detail);
        Ok(plan)
    }

    /// Phase 3: download `pullConcurrency` at a time; record each written file's mtime in
    /// the index and the next base, drop dangling entries. Returns whether the remote
    /// index lost entries (it must then be written back).
    async fn pull_download(
        &self,
        run: &mut PullRun<'_, P, A>,
        index: &mut Index,
        plan: &mut PullPlan,
        base: Option<&Index>,
    ) -> Result<bool> {
        let writer = self.cache.writer();
        let limit = self.client.cfg.pull_concurrency;
        let ns = run.ns;
        let results = run_bounded(&plan.to_pull, limit, |item| {
            self.pull_one(ns, item, &writer)
        })
        .await;
        let (done, failed) = split_results(results);
        if !failed.is_empty() {
            return Err(batch_error("pull", "download", plan.to_pull.len(), failed));
        }
        let mut pruned = false;
        let next = &mut plan.next_base.entries;
        for (item, outcome) in plan.to_pull.iter().zip(done) {
            match outcome {
                Pulled::Written { size, mtime_iso } => {
                    run.report.files += 1;
                    run.report.bytes += size;
                    if let Some(m) = mtime_iso {
                        index.entries.set_local_mtime(&item.rel, m.as_str());
                        next.set_local_mtime(&item.rel, m);
                    }
                }
                Pulled::Dangling => {
                    index.entries.remove(&item.rel);
                    // Nothing was written: the file is still what the base recorded.
                    match base.and_then(|b| b.entries.get(&item.rel)) {
                        Some(b) => next.insert(b.clone()),
                        None => next.remove(&item.rel),
                    };
                    run.report.deleted += 1;
                    pruned = true;
                }
            }
        }
        let detail = format!(
            "pulled={} dangling={}",
            run.report.files, run.report.deleted
        );
        self.record_pull(run, "pullChanged.download", detail);
        Ok(pruned)
    }

    /// Phase 4: remove the files the remote deleted (each still the synced version), and
    /// the directories that leaves empty; a file that could not be removed keeps its
    /// record, so the next pull tries again and a bulk push does not take it for new.
    fn pull_remove(&self, run: &mut PullRun<'_, P, A>, plan: &mut PullPlan, base: Option<&Index>) {
        let mut removed = 0;
        for item in &plan.to_delete {
            if self.cache.remove_file(&item.cache_rel, run.ns) {
                run.report.deleted += 1;
                removed += 1;
            } else if let Some(b) = base.and_then(|b| b.entries.get(&item.rel)) {
                plan.next_base.entries.insert(b.clone());
            }
        }
        run.report.conflicts = plan.conflicts.iter().map(|c| c.rel.clone()).collect();
        let detail = format!("removed={removed} conflicts={}", run.report.conflicts.len());
        self.record_pull(run, "pullChanged.remove", detail);
    }

    /// Phase 5, monolith path: write back a pruned/scrubbed/discovered index (conditional
    /// on the generation we read, so a concurrent writer is never overwritten), then the
    /// local copy (`next_base`: what this cache now holds), then the sidecar — with the
    /// fingerprint only when that copy covers the remote index, so a conflict or a file
    /// left alone is looked at again by the next pull. Best effort: the files are already
    /// in place, and a failure here only means the next pull takes the slow path again.
    async fn finish_monolith_pull(
        &self,
        store: &IndexStore<'_, P, A>,
        index: &Index,
        next_base: &Index,
        info: &MonolithInfo,
        pruned: bool,
    ) -> String {
        let mut generation = info.generation.clone();
        let mut remote = "unchanged";
        if pruned || info.needs_writeback {
            let cond = crate::gcs::generation::write_condition(info.generation.as_ref());
            match store.put(index, cond).await {
                Ok(written) => {
                    generation = Some(written);
                    remote = "written";
                }
                Err(e) => {
                    generation = None;
                    remote = if e.is_precondition_failed() {
                        "lost-race"
                    } else {
                        "failed"
                    };
                }
            }
        }
        let local = self.write_local_index(next_base);
        let mut sidecar = "unchanged";
        let fingerprint = generation.as_ref().and_then(Generation::fingerprint);
        if !base_covers(next_base, index) {
            sidecar = "behind";
        } else if let (Ok(()), Some(g)) = (&local, fingerprint) {
            let at = verified_at_baseline_ms(self.unix_ms(), self.local_index_mtime_ms());
            if self.update_state_best_effort(|s| s.mark_pulled(g, at)) {
                sidecar = "verified";
            }
        }
        format!(
            "remoteIndex={remote} localIndex={} sidecar={sidecar}",
            if local.is_ok() { "written" } else { "failed" }
        )
    }

    /// Unscoped pull of a shard-first repository: the local copy, then the `commitSeq`
    /// when that copy covers the remote (dangling entries are not written back: a v2
    /// commit belongs to a push).
    fn finish_v2_pull(&self, index: &Index, next_base: &Index, seq: u64) -> String {
        let local = self.write_local_index(next_base);
        let mut sidecar = "unchanged";
        if !base_covers(next_base, index) {
            sidecar = "behind";
        } else if local.is_ok() && self.update_state_best_effort(|s| s.mark_pulled_v2(seq)) {
            sidecar = "verified";
        }
        format!(
            "commitSeq={seq} localIndex={} sidecar={sidecar}",
            if local.is_ok() { "written" } else { "failed" }
        )
    }

    /// Download one object and write it atomically under the cache.
    async fn pull_one(
        &self,
        ns: Option<&str>,
        item: &PullItem,
        writer: &CacheWriter<'_>,
    ) -> Result<Pulled> {
        let shown = format!("pull {}", item.rel);
        let key = data_key(ns, &item.rel);
        let mut download = self.client.download(&key).await;
        if ns.is_some() && download.as_ref().is_err_and(|e| e.is_not_found()) {
            // Data pushed before namespace-prefixed data keys lived at the bare key.
            download = self.client.download(&item.rel).await;
        }
        let data = match download {
            Ok(d) => d.data,
            Err(e) if e.is_not_found() => return Ok(Pulled::Dangling),
            Err(e) => return Err(e.context(&shown)),
        };
        let nonce = self.client.platform().random_u64();
        let written = writer
            .write(&item.cache_rel, &data, nonce)
            .map_err(|e| e.context(&shown))?;
        crate::progress::file_done(data.len() as u64);
        Ok(Pulled::Written {
            size: data.len() as u64,
            mtime_iso: written.mtime_iso,
        })
    }
}
