//! `pullChanged` (§3.13, v1 layout) and on-demand hydration (§3.19).
//!
//! Order of a slow pull: fresh index (scoped partitions, or the monolith — never the
//! local copy), plan, downloads `pullConcurrency` at a time, then — monolith path only —
//! the index writeback when entries were pruned, scrubbed or discovered, the local index
//! copy, and last the sidecar (its `lastVerifiedAt` must come after the local index's
//! mtime, and its generation from the GET that delivered the bytes we compared, or from
//! our own PUT).
//!
//! Deliberate differences from upstream:
//! * Every file is written through a temporary sibling and a rename, after the client
//!   checked it against the server's hashes (H10): a failed or corrupt download never
//!   leaves a half-written or wrong file under the real name.
//! * Index keys that could escape the cache are skipped and counted, never turned into
//!   paths (H12), and nothing is written through a symlinked directory.
//! * Downloads use a sliding window, not sequential batches.
//! * Decisions are three-way against the local index copy, the version this cache last
//!   synced ([`super::core::reconcile`]): an equal-size remote rewrite is pulled, a remote
//!   deletion removes a file still at its synced version, and a file changed on both
//!   sides is kept and reported as a conflict. The local copy is written as what this
//!   cache now holds, not as the remote index.
//! * A pull that finds unpushed local changes keeps the sidecar dirty (see
//!   [`SyncState::mark_pulled`](super::core::sync_state::SyncState::mark_pulled)).
//! * Before writing a file, a pull removes that file's temporary siblings: debris of an
//!   earlier write killed between creating and renaming them. The walks' age rule
//!   (`local_fs::STALE_TMP_AGE`) would keep them for ten minutes, and a pull never walks.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use super::batch::{batch_error, run_bounded, split_results};
use super::core::change::sha256_hex;
use super::core::index::Index;
use super::core::keys::{data_key, index_key, local_rel_path};
use super::core::partition::{partition_key_from_path, partition_keys_for_model};
use super::core::plan::{LocalFile, PullItem};
use super::core::reconcile::{base_covers, plan_pull};
use super::core::report::{PhaseClock, SyncReport};
use super::core::sync_state::verified_at_baseline_ms;
use super::index_io::refuse_v2;
use super::local_fs;
use super::service::{SyncOptions, SyncService};
use crate::cache_fs::{check_rel, tmp_stem, write_atomic_path, TMP_SUFFIX};
use crate::error::{Error, ErrorKind, Result};
use crate::gcs::Authorizer;
use crate::paths::safe_index_key;
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

/// Temporary file names found per cache-relative directory, each listed once per call.
type TmpListing = RefCell<HashMap<String, Vec<String>>>;

/// The file a temporary name `.{name}.{16 hex digits}{TMP_SUFFIX}` belongs to (`name`
/// cut to [`tmp_stem`] for long names, as `write_atomic_path` makes it).
fn tmp_target(tmp: &str) -> Option<&str> {
    let rest = tmp.strip_prefix('.')?.strip_suffix(TMP_SUFFIX)?;
    let (name, nonce) = rest.rsplit_once('.')?;
    (nonce.len() == 16 && nonce.bytes().all(|b| b.is_ascii_hexdigit())).then_some(name)
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
}

struct MonolithInfo {
    fingerprint: Option<String>,
    write_condition: Option<String>,
    needs_writeback: bool,
}

impl<P: Transport + Clock, A: Authorizer> SyncService<P, A> {
    /// Download what is new or changed remotely into the cache and remove what the remote
    /// deleted. Returns the files pulled (`files`), local files removed plus dangling
    /// entries dropped (`deleted`) and the paths left alone as conflicts (`conflicts`).
    pub async fn pull(&self, opts: &SyncOptions) -> Result<SyncReport> {
        let ns = self.bind_namespace(opts.namespace.as_deref())?;
        let ns = ns.as_deref();
        let mut report = SyncReport::default();
        let mut clock = PhaseClock::start(self.now_ms());
        self.client.check_deadline("pullChanged")?;

        if self.with_state(|s| s.pull_fast_path_allowed(opts.metadata_only)) {
            let hit = self.pull_fast_path(ns).await;
            let verdict = if hit { "hit" } else { "miss" };
            clock.record(&mut report, self.now_ms(), "pullChanged.fastpath", verdict);
            if hit {
                report.fast_path = true;
                return Ok(report);
            }
        } else {
            // Raws skipped by a lazy pull are only fetched by a full pull, which the
            // fast path would answer with "nothing changed".
            clock.record(
                &mut report,
                self.now_ms(),
                "pullChanged.fastpath",
                "skip(lazy→full)",
            );
        }

        let (mut source, detail) = self
            .pull_source(ns, &opts.models, &mut report, &mut clock)
            .await?;
        clock.record(&mut report, self.now_ms(), "pullChanged.pullIndex", detail);
        self.client.check_deadline("pull walk")?;

        let root = &self.root;
        let base = self.read_base();
        let scope = source.scope.clone();
        let in_scope = |rel: &str| match &scope {
            None => true,
            Some(keys) => partition_key_from_path(rel).is_some_and(|k| keys.contains(&k)),
        };
        let mut plan = plan_pull(
            &source.index,
            base.as_ref(),
            ns,
            opts.metadata_only,
            in_scope,
            |p| {
                let stat = local_fs::stat_file(root, p).ok().flatten()?;
                Some(LocalFile {
                    size: stat.size,
                    mtime_iso: stat.mtime_iso,
                })
            },
            |p| local_fs::read_file(root, p).ok().map(|b| sha256_hex(&b)),
        );
        for dir in &plan.lazy_dirs {
            self.create_dir(dir)?;
        }
        let detail = format!(
            "toPull={} toRemove={} conflicts={} unsafeSkipped={} lazyDirs={}",
            plan.to_pull.len(),
            plan.to_delete.len(),
            plan.conflicts.len(),
            plan.unsafe_keys.len(),
            plan.lazy_dirs.len()
        );
        clock.record(&mut report, self.now_ms(), "pullChanged.walk", detail);
        self.client.check_deadline("pull download")?;

        let checked_dirs = RefCell::new(HashSet::new());
        let tmp_listing = TmpListing::default();
        let limit = self.client.cfg.pull_concurrency;
        let results = run_bounded(&plan.to_pull, limit, |item| {
            self.pull_one(ns, item, &checked_dirs, &tmp_listing)
        })
        .await;
        let (done, failed) = split_results(results);
        if !failed.is_empty() {
            return Err(batch_error("pull", "download", plan.to_pull.len(), failed));
        }
        let mut mutated = false;
        let next = &mut plan.next_base.entries;
        for (item, outcome) in plan.to_pull.iter().zip(done) {
            match outcome {
                Pulled::Written { size, mtime_iso } => {
                    report.files += 1;
                    report.bytes += size;
                    if let Some(m) = mtime_iso {
                        source.index.entries.set_local_mtime(&item.rel, m.as_str());
                        next.set_local_mtime(&item.rel, m);
                    }
                }
                Pulled::Dangling => {
                    source.index.entries.remove(&item.rel);
                    // Nothing was written: the file is still what the base recorded.
                    match base.as_ref().and_then(|b| b.entries.get(&item.rel)) {
                        Some(b) => next.insert(b.clone()),
                        None => next.remove(&item.rel),
                    };
                    report.deleted += 1;
                    mutated = true;
                }
            }
        }
        let detail = format!("pulled={} dangling={}", report.files, report.deleted);
        clock.record(&mut report, self.now_ms(), "pullChanged.download", detail);

        let removed = self.remove_synced_files(&plan.to_delete, ns);
        for (item, gone) in plan.to_delete.iter().zip(&removed) {
            if *gone {
                report.deleted += 1;
            } else if let Some(b) = base.as_ref().and_then(|b| b.entries.get(&item.rel)) {
                // Still there: keep its record, so the next pull tries again and a bulk
                // push does not take it for a new file.
                plan.next_base.entries.insert(b.clone());
            }
        }
        report.conflicts = plan.conflicts.iter().map(|c| c.rel.clone()).collect();
        let detail = format!(
            "removed={} conflicts={}",
            removed.iter().filter(|g| **g).count(),
            report.conflicts.len()
        );
        clock.record(&mut report, self.now_ms(), "pullChanged.remove", detail);

        match &source.monolith {
            Some(info) => {
                let detail = self
                    .finish_monolith_pull(ns, &source.index, &plan.next_base, info, mutated)
                    .await;
                clock.record(&mut report, self.now_ms(), "pullChanged.writeback", detail);
            }
            None => {
                // A scoped pull records no fingerprint, but what it fetched or removed
                // must be recorded as synced. Best effort: an old record only makes the
                // next pull compare hashes again.
                let written = plan
                    .next_base
                    .to_pretty_json()
                    .and_then(|text| self.write_local_index(&text));
                let detail = format!(
                    "localIndex={}",
                    if written.is_ok() { "written" } else { "failed" }
                );
                clock.record(&mut report, self.now_ms(), "pullChanged.writeback", detail);
            }
        }
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
        Ok(report)
    }

    /// Fetch one file into the cache on demand (lazy hydration). `rel` is the index key
    /// (no namespace prefix); the file lands at `[ns/]rel` for the namespace bound by the
    /// last pull/push. `Ok(false)` when the object does not exist. No index or sidecar
    /// change.
    pub async fn hydrate_file(&self, rel: &str) -> Result<bool> {
        let ns = self.bound_namespace();
        let ns = ns.as_deref();
        safe_index_key(rel).map_err(|e| e.context("hydrate"))?;
        let item = PullItem {
            rel: rel.to_string(),
            cache_rel: local_rel_path(ns, rel),
        };
        check_rel(&item.cache_rel).map_err(|e| e.context("hydrate"))?;
        let checked = RefCell::new(HashSet::new());
        Ok(matches!(
            self.pull_one(ns, &item, &checked, &TmpListing::default())
                .await?,
            Pulled::Written { .. }
        ))
    }

    /// The pull fast path (§3.11): a fingerprint, a local index older than the last
    /// verification, and one metadata GET whose generation equals the fingerprint.
    /// Unpushed local changes do not matter here: a pull cannot fix them, and a slow
    /// pull could only overwrite them.
    async fn pull_fast_path(&self, ns: Option<&str>) -> bool {
        let index_mtime = self.local_index_mtime_ms();
        let Some(fingerprint) = self.with_state(|s| {
            if s.pull_generation_probe_ready(index_mtime) {
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

    /// The index to pull from: the models' partitions when given and the `data--` one of
    /// each exists, else the monolith.
    async fn pull_source(
        &self,
        ns: Option<&str>,
        models: &[(String, String)],
        report: &mut SyncReport,
        clock: &mut PhaseClock,
    ) -> Result<(Source, String)> {
        if !models.is_empty() {
            if let Some((index, read)) = self.read_model_partitions(ns, models).await? {
                let detail = format!(
                    "scoped partitions={} entries={}",
                    read.len(),
                    index.entries.len()
                );
                return Ok((
                    Source {
                        index,
                        scope: Some(read),
                        monolith: None,
                    },
                    detail,
                ));
            }
        }
        let meta = self.read_meta(ns, "pull").await?;
        refuse_v2(&meta, "pull")?;
        let remote = self.fetch_index(ns, "pull").await?;
        if let Some(n) = remote.discovered {
            clock.record(
                report,
                self.now_ms(),
                "pullIndex.discover",
                format!("n={n}"),
            );
        }
        let detail = format!(
            "{}entries={} dropped={}",
            if models.is_empty() { "" } else { "fallback " },
            remote.index.entries.len(),
            remote.report.dropped
        );
        let info = MonolithInfo {
            fingerprint: remote.fingerprint().map(str::to_string),
            write_condition: remote.write_condition().map(str::to_string),
            needs_writeback: remote.needs_writeback,
        };
        Ok((
            Source {
                index: remote.index,
                scope: None,
                monolith: Some(info),
            },
            detail,
        ))
    }

    /// Read the three partitions of each model in order (data, outputs,
    /// definitions-evaluated), sequentially. `None` as soon as a model's `data--`
    /// partition is missing (the caller falls back to the monolith).
    async fn read_model_partitions(
        &self,
        ns: Option<&str>,
        models: &[(String, String)],
    ) -> Result<Option<(Index, HashSet<String>)>> {
        let mut index = Index::new(self.now_iso());
        let mut read = HashSet::new();
        for (model_type, model_id) in models {
            for (i, key) in partition_keys_for_model(model_type, model_id)
                .iter()
                .enumerate()
            {
                self.client.check_deadline("pull partitions")?;
                match self
                    .read_shard(ns, key)
                    .await
                    .map_err(|e| e.context("pull"))?
                {
                    Some(entries) => {
                        read.insert(key.clone());
                        index.entries.extend(entries.iter().cloned());
                    }
                    None if i == 0 => return Ok(None),
                    None => {}
                }
            }
        }
        index.scrub();
        Ok(Some((index, read)))
    }

    /// After a monolith pull: write back a pruned/scrubbed/discovered index (conditional
    /// on the generation we read, so a concurrent writer is never overwritten), then the
    /// local copy (`next_base`: what this cache now holds), then the sidecar — with the
    /// fingerprint only when that copy covers the remote index, so a conflict or a file
    /// left alone is looked at again by the next pull. Best effort: the files are already
    /// in place, and a failure here only means the next pull takes the slow path again.
    async fn finish_monolith_pull(
        &self,
        ns: Option<&str>,
        index: &Index,
        next_base: &Index,
        info: &MonolithInfo,
        pruned: bool,
    ) -> String {
        let mut fingerprint = info.fingerprint.clone();
        let mut remote = "unchanged";
        if pruned || info.needs_writeback {
            match self
                .put_index(ns, index, info.write_condition.as_deref())
                .await
            {
                Ok(generation) => {
                    fingerprint = Some(generation);
                    remote = "written";
                }
                Err(e) => {
                    fingerprint = None;
                    remote = if e.is_precondition_failed() {
                        "lost-race"
                    } else {
                        "failed"
                    };
                }
            }
        }
        let local = next_base
            .to_pretty_json()
            .and_then(|text| self.write_local_index(&text));
        let mut sidecar = "unchanged";
        if !base_covers(next_base, index) {
            sidecar = "behind";
        } else if let (Ok(()), Some(g)) = (&local, fingerprint.as_deref()) {
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

    /// Download one object and write it atomically under the cache.
    async fn pull_one(
        &self,
        ns: Option<&str>,
        item: &PullItem,
        checked_dirs: &RefCell<HashSet<String>>,
        tmp_listing: &TmpListing,
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
        self.check_no_symlink_dirs(&item.cache_rel, checked_dirs)
            .map_err(|e| e.context(&shown))?;
        self.remove_crash_debris(&item.cache_rel, tmp_listing);
        let path = local_fs::local_path(&self.root, &item.cache_rel);
        let nonce = self.client.platform().random_u64();
        let written = write_atomic_path(&path, &item.cache_rel, &data, nonce)
            .map_err(|e| e.context(&shown))?;
        let mtime_iso = local_fs::LocalStat::from_metadata(&written).mtime_iso;
        Ok(Pulled::Written {
            size: data.len() as u64,
            mtime_iso,
        })
    }

    /// Remove local files the remote deleted (the planner found each still the synced
    /// version), then the directories that leaves empty, up to but not including the
    /// cache root or the namespace directory. Never a link, never through a symlinked
    /// directory. Returns, per item, whether the file is gone.
    fn remove_synced_files(&self, items: &[PullItem], ns: Option<&str>) -> Vec<bool> {
        items
            .iter()
            .map(|item| {
                if local_fs::symlink_ancestor(&self.root, &item.cache_rel) {
                    return false;
                }
                let path = local_fs::local_path(&self.root, &item.cache_rel);
                let gone = match std::fs::symlink_metadata(&path) {
                    Ok(meta) if meta.is_file() => std::fs::remove_file(&path).is_ok(),
                    Ok(_) => false,
                    Err(e) => local_fs::is_absent(&e),
                };
                if gone {
                    self.remove_empty_parents(&item.cache_rel, ns);
                }
                gone
            })
            .collect()
    }

    /// `rmdir` each parent of `cache_rel` in turn until one is not empty (or is the
    /// namespace directory).
    fn remove_empty_parents(&self, cache_rel: &str, ns: Option<&str>) {
        let mut rel = cache_rel;
        while let Some((parent, _)) = rel.rsplit_once('/') {
            if Some(parent) == ns
                || std::fs::remove_dir(local_fs::local_path(&self.root, parent)).is_err()
            {
                break;
            }
            rel = parent;
        }
    }

    /// Remove the temporary siblings of `cache_rel` left by an earlier write of the same
    /// file whose process died between creating and renaming them. This call is about to
    /// replace the file anyway; a writer of the same file that is still alive would race
    /// with it regardless (the last rename wins, the other fails cleanly). The directory
    /// is listed once per call. Best effort: debris only costs space.
    fn remove_crash_debris(&self, cache_rel: &str, listing: &TmpListing) {
        let (dir, name) = cache_rel.rsplit_once('/').unwrap_or(("", cache_rel));
        let dir_path = local_fs::local_path(&self.root, dir);
        let mut listing = listing.borrow_mut();
        let found = listing.entry(dir.to_string()).or_insert_with(|| {
            std::fs::read_dir(&dir_path)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .filter(|n| n.ends_with(TMP_SUFFIX))
                        .collect()
                })
                .unwrap_or_default()
        });
        found.retain(|tmp| {
            if tmp_target(tmp) != Some(tmp_stem(name)) {
                return true;
            }
            let _ = std::fs::remove_file(dir_path.join(tmp));
            false
        });
    }

    /// Refuse to write below a symlinked directory (it could point outside the cache).
    /// Directories already checked in this pull are remembered.
    fn check_no_symlink_dirs(
        &self,
        cache_rel: &str,
        checked: &RefCell<HashSet<String>>,
    ) -> Result<()> {
        let parent = cache_rel.rsplit_once('/').map_or("", |(p, _)| p);
        if parent.is_empty() || checked.borrow().contains(parent) {
            return Ok(());
        }
        if local_fs::symlink_ancestor(&self.root, cache_rel) {
            return Err(Error::new(
                ErrorKind::UnsafePath,
                format!("refusing to write {cache_rel:?} through a symlinked directory"),
            ));
        }
        checked.borrow_mut().insert(parent.to_string());
        Ok(())
    }

    /// `mkdir -p` of a cache-relative directory (lazy pulls create the parents of the
    /// raws they skip, so the repository layout exists).
    fn create_dir(&self, cache_rel: &str) -> Result<()> {
        check_rel(cache_rel)?;
        if local_fs::symlink_ancestor(&self.root, &format!("{cache_rel}/x")) {
            return Err(Error::new(
                ErrorKind::UnsafePath,
                format!("refusing to create {cache_rel:?} through a symlinked directory"),
            ));
        }
        std::fs::create_dir_all(local_fs::local_path(&self.root, cache_rel))
            .map_err(|e| Error::io("create directory", cache_rel, &e).context("pull"))
    }
}

#[cfg(test)]
mod debris_tests {
    use super::*;

    #[test]
    fn temp_names_map_back_to_their_file_also_for_long_names() {
        let short = format!(".a.json.{:016x}{TMP_SUFFIX}", 0xdead_beef_u64);
        assert_eq!(tmp_target(&short), Some("a.json"));
        let long = "n".repeat(250);
        let tmp = format!(".{}.{:016x}{TMP_SUFFIX}", tmp_stem(&long), 7u64);
        assert_eq!(tmp_target(&tmp), Some(tmp_stem(&long)));
        assert_ne!(tmp_stem(&long), long, "the stem is cut");
        assert_eq!(tmp_target(&format!(".a.json.nothex{TMP_SUFFIX}")), None);
    }
}
