//! The bucket's index objects for one namespace, as one object: the monolith (with
//! discovery when it is missing, docs/sync.md#reading-the-index), the partition files and
//! `_meta.json` (docs/formats.md#partition-files, docs/formats.md#meta-file,
//! docs/sync.md#index-publish). Push, pull and status read and publish the index only
//! through [`IndexStore`].
//!
//! Rules that matter (docs/hazards.md#index-read-errors-taken-as-an-empty-index,
//! #partitions-written-before-the-monolith, #silent-fallback-from-an-unreadable-shard):
//! * Only a 404 means "no index"; every other failure of the index GET propagates, so a
//!   network blip can never make a push publish an empty index over everyone's entries.
//! * The monolith is read fresh on every slow path (never from the local copy:
//!   docs/hazards.md#local-index-reuse-within-sixty-seconds), and
//!   written with `ifGenerationMatch` of the index it was merged onto: on a lost race the
//!   index is read again and the changes merged onto it again ([`IndexStore::publish`]),
//!   so two pushers without a lock never lose each other's entries.
//! * Partition reads retry like every idempotent GET (inside the client); a 404 or a
//!   `version` ≠ 1 is "missing"; anything else propagates — no silent fallback.
//! * A shard-first (v2) `_meta.json` is never demoted: a v2 repository is read and
//!   written through its shards (`sync/shards.rs`), a monolith publish stops when a
//!   migration lands meanwhile (see [`refuse_v2`]), and the v1 meta write is conditional
//!   on the meta generation read at the start of the push.

use std::collections::HashSet;

use futures_util::stream::{self, StreamExt};

use super::core::index::{merge_onto, EntryMap, Index, IndexChanges, IndexEntry, ParseReport};
use super::core::keys::{index_key, meta_key, shard_key};
use super::core::partition::{group_by_partition, partition_keys_for_model};
use super::core::partition_files::{Meta, PartitionFile};
use super::shards::ShardView;
use crate::error::{Error, ErrorKind, Result};
use crate::gcs::generation::write_condition;
use crate::gcs::{Authorizer, GcsClient, Generation, ObjectMeta};
use crate::paths::{is_inside_namespace_dir, is_internal_cache_file, is_namespace_control_record};
use crate::timefmt::format_iso_ms;
use crate::transport::{Clock, Transport};

/// Attempts at the conditional monolith write before the push gives up. Each loss means
/// another writer published in between; ten in a row means heavy contention that a lock
/// should serialise instead.
pub const INDEX_WRITE_ATTEMPTS: u32 = 10;

/// Attempts at the conditional v1 `_meta.json` write before giving up (best effort).
const META_WRITE_ATTEMPTS: usize = 3;

/// The remote monolith as fetched for one call.
#[derive(Debug, Clone)]
pub struct RemoteIndex {
    /// The parsed (and scrubbed) index.
    pub index: Index,
    /// `x-goog-generation` of the bytes parsed; `None` when the object does not exist.
    pub generation: Option<Generation>,
    /// Internal entries were scrubbed or entries were discovered: the remote index must
    /// be written back even when nothing else changes.
    pub needs_writeback: bool,
    /// Entries found by discovery (the index object was missing).
    pub discovered: Option<usize>,
    /// What the tolerant parse dropped or flagged.
    pub report: ParseReport,
    /// Shard-first (v2): the meta and the shards the index was assembled from; `None` for
    /// the monolith.
    pub shards: Option<ShardView>,
}

impl RemoteIndex {
    /// `ifGenerationMatch` for a write over this index ([`write_condition`]).
    pub fn write_condition(&self) -> Option<&str> {
        write_condition(self.generation.as_ref())
    }

    /// The generation when it can serve as a fast-path fingerprint.
    pub fn fingerprint(&self) -> Option<&str> {
        self.generation.as_ref().and_then(Generation::fingerprint)
    }
}

/// `_meta.json` as read at the start of a push.
#[derive(Debug, Clone, Default)]
pub struct MetaState {
    /// The accepted meta (`None` when absent or of an unknown shape).
    pub meta: Option<Meta>,
    /// Generation of the object, when it exists.
    pub generation: Option<Generation>,
}

/// What writing the partition files did (best effort, like upstream).
#[derive(Debug, Clone, Default)]
pub struct PartitionOutcome {
    /// Shards written.
    pub written: usize,
    /// Emptied shards deleted.
    pub deleted: usize,
    /// Whether `_meta.json` was written.
    pub meta_written: bool,
    /// One-line failure messages.
    pub failures: Vec<String>,
}

impl PartitionOutcome {
    /// Trace detail.
    pub fn detail(&self) -> String {
        let mut d = format!(
            "partitions={} emptied={} meta={}",
            self.written,
            self.deleted,
            if self.meta_written {
                "written"
            } else {
                "unchanged"
            }
        );
        if let Some(first) = self.failures.first() {
            d.push_str(&format!(" failed={} first: {first}", self.failures.len()));
        }
        d
    }
}

/// Stop a monolith publish when the repository became shard-first (v2) while the push
/// ran: a monolith written now would publish nothing a v2 reader reads. The uploads are
/// kept, and the next push commits them to the shards.
pub fn refuse_v2(meta: &MetaState, op: &str) -> Result<()> {
    match &meta.meta {
        Some(Meta::V2 { commit_seq, .. }) => Err(Error::new(ErrorKind::UnsupportedLayout, format!(
            "{op}: the bucket's index became shard-first (_index/_meta.json version 2, commitSeq {commit_seq}) during this push; the uploads are kept: push again to commit them to the shards"
        ))),
        _ => Ok(()),
    }
}

/// A parse failure of the sync file `key`: typed, so callers act on it without reading
/// the message.
fn malformed(e: Error, key: &str) -> Error {
    e.with_kind(ErrorKind::MalformedRemote {
        key: key.to_string(),
    })
}

/// The index objects of one namespace (`None` = solo) in the configured bucket.
pub(super) struct IndexStore<'a, P, A> {
    pub(super) client: &'a GcsClient<P, A>,
    pub(super) ns: Option<&'a str>,
    /// Whether an unscoped shard-first read also looks for an `_unpartitioned` shard the
    /// meta does not list (see `sync/shards.rs`). On by default; a pull or push whose
    /// cache never held a file without a partition key turns it off (nothing of its own
    /// to lose, one request fewer).
    pub(super) probe_unlisted: bool,
}

impl<'a, P: Transport + Clock, A: Authorizer> IndexStore<'a, P, A> {
    /// The store of namespace `ns`.
    pub fn new(client: &'a GcsClient<P, A>, ns: Option<&'a str>) -> Self {
        IndexStore {
            client,
            ns,
            probe_unlisted: true,
        }
    }

    fn now_iso(&self) -> String {
        format_iso_ms(self.client.platform().unix_ms()).unwrap_or_default()
    }

    /// The monolith's current generation by one metadata GET, for the fast paths. Any
    /// error is `None`: a miss, and the slow path reports real problems.
    pub async fn generation(&self) -> Option<Generation> {
        match self.client.stat(&index_key(self.ns)).await {
            Ok(Some(meta)) => Some(meta.generation),
            _ => None,
        }
    }

    /// Read `_meta.json` (404 → absent; other errors propagate).
    pub async fn read_meta(&self, op: &str) -> Result<MetaState> {
        let ns = self.ns;
        let key = meta_key(ns);
        match self.client.download(&key).await {
            Ok(d) => {
                let meta = Meta::parse(&d.data).map_err(|e| {
                    malformed(e, &key).context(format!("{op}: remote {key} is unreadable"))
                })?;
                Ok(MetaState {
                    meta,
                    generation: Some(d.generation),
                })
            }
            Err(e) if e.is_not_found() => Ok(MetaState::default()),
            Err(e) => Err(e.context(format!("{op}: read {key}"))),
        }
    }

    /// GET the monolith fresh; 404 → discovery. Internal entries are scrubbed.
    pub async fn fetch(&self, op: &str) -> Result<RemoteIndex> {
        let ns = self.ns;
        let key = index_key(ns);
        match self.client.download(&key).await {
            Ok(d) => {
                let (mut index, report) = Index::parse(&d.data).map_err(|e| {
                    malformed(e, &key).context(format!("{op}: remote index {key} is unreadable"))
                })?;
                let scrubbed = index.scrub();
                Ok(RemoteIndex {
                    index,
                    generation: Some(d.generation),
                    needs_writeback: scrubbed,
                    discovered: None,
                    report,
                    shards: None,
                })
            }
            Err(e) if e.is_not_found() => {
                let index = self
                    .discover()
                    .await
                    .map_err(|e| e.context(format!("{op}: discover files (no {key})")))?;
                let n = index.entries.len();
                Ok(RemoteIndex {
                    index,
                    generation: None,
                    needs_writeback: n > 0,
                    discovered: Some(n),
                    report: ParseReport::default(),
                    shards: None,
                })
            }
            Err(e) => Err(e.context(format!("{op}: read remote index {key}"))),
        }
    }

    /// Build an index from a listing (self-healing for a bucket with data but no index):
    /// every non-internal object under `{ns}/` (or, solo, everywhere outside namespace
    /// directories marked by `X/.namespace.json` and outside every `X/_control/`, a
    /// namespace's control-plane records). Directory placeholders (`…/`) are not
    /// files and are skipped.
    async fn discover(&self) -> Result<Index> {
        let ns = self.ns;
        let prefix = ns.map(|n| format!("{n}/"));
        let objects = self.client.list_all(prefix.as_deref()).await?;
        let cfg = &self.client.cfg;
        let keys: Vec<(&str, &ObjectMeta)> = objects
            .iter()
            .filter_map(|o| Some((cfg.relative_key(&o.name)?, o)))
            .collect();
        let namespace_dirs: Vec<&str> = if ns.is_some() {
            Vec::new()
        } else {
            keys.iter()
                .filter_map(|(k, _)| k.strip_suffix("/.namespace.json"))
                .filter(|slug| !slug.is_empty())
                .collect()
        };
        let now = self.now_iso();
        let mut index = Index::new(now.clone());
        for (key, object) in keys {
            let rel = match ns {
                Some(n) => match key.strip_prefix(n).and_then(|r| r.strip_prefix('/')) {
                    Some(rel) => rel,
                    None => continue,
                },
                None => key,
            };
            if rel.is_empty()
                || rel.ends_with('/')
                || is_internal_cache_file(rel)
                || (ns.is_none() && is_namespace_control_record(rel))
                || is_inside_namespace_dir(rel, &namespace_dirs)
            {
                continue;
            }
            let updated = object.updated.clone().unwrap_or_else(|| now.clone());
            index
                .entries
                .insert(IndexEntry::new(rel, object.size, updated));
        }
        Ok(index)
    }

    /// GET the monolith fresh when it exists, without discovery (status reports a
    /// missing index as such: discovery would be more than one request).
    pub async fn fetch_existing(&self, op: &str) -> Result<Option<(Index, Generation)>> {
        let key = index_key(self.ns);
        match self.client.download(&key).await {
            Ok(d) => {
                let (mut index, _) = Index::parse(&d.data).map_err(|e| {
                    malformed(e, &key).context(format!("{op}: remote index {key} is unreadable"))
                })?;
                index.scrub();
                Ok(Some((index, d.generation)))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.context(format!("{op}: read remote index {key}"))),
        }
    }

    /// PUT the monolith (compact) with `ifGenerationMatch = cond`; returns the new
    /// generation.
    pub async fn put(&self, index: &Index, cond: Option<&str>) -> Result<Generation> {
        let body = index.to_compact_json()?;
        let meta = self
            .client
            .upload(&index_key(self.ns), body.as_bytes(), cond)
            .await?;
        Ok(meta.generation)
    }

    /// Merge `changes` onto the fetched index and write it with `ifGenerationMatch`; on a
    /// lost race wait (backoff), read the meta (a v2 migration stops us) and the index
    /// again, merge again and retry, at most [`INDEX_WRITE_ATTEMPTS`] times. Returns the
    /// published index, its generation and the attempts used.
    pub async fn publish(
        &self,
        mut base: RemoteIndex,
        changes: &IndexChanges,
        meta: &mut MetaState,
    ) -> Result<(Index, Generation, u32)> {
        let key = index_key(self.ns);
        let mut budget = self
            .client
            .retry_budget()
            .with_max_attempts(INDEX_WRITE_ATTEMPTS);
        loop {
            let mut merged = base.index.clone();
            if !merge_onto(&mut merged, changes, &self.now_iso()) && base.discovered.is_some() {
                merged.last_pulled = self.now_iso();
            }
            match self.put(&merged, base.write_condition()).await {
                Ok(generation) => return Ok((merged, generation, budget.attempts())),
                Err(e) if e.is_precondition_failed() => {
                    if !budget.retry_after(false).await {
                        break;
                    }
                    *meta = self.read_meta("push").await?;
                    refuse_v2(meta, "push")?;
                    base = self.fetch("push").await?;
                }
                Err(e) => return Err(e.context(format!("push: write index {key}"))),
            }
        }
        // Out of budget: the call's deadline (a timeout), or too many lost races.
        self.client.check_deadline("push index retry")?;
        Err(Error::other(format!(
            "push: write index {key}: another writer changed it {} times in a row; the uploads are kept and the next push will publish them",
            budget.attempts()
        )))
    }

    /// Read the three partitions of each model in order (data, outputs,
    /// definitions-evaluated), sequentially. `None` as soon as a model's `data--`
    /// partition is missing (the caller falls back to the monolith). Returns the entries
    /// and the partition keys read.
    pub async fn read_model_partitions(
        &self,
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
                match self.read_shard(key).await.map_err(|e| e.context("pull"))? {
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

    /// Read one partition file: `None` when missing or not version 1.
    pub async fn read_shard(&self, key: &str) -> Result<Option<EntryMap>> {
        let object = shard_key(self.ns, key);
        match self.client.download(&object).await {
            Ok(d) => match PartitionFile::parse(&d.data) {
                Ok(Some((file, _))) => Ok(Some(file.entries)),
                Ok(None) => Ok(None),
                Err(e) => Err(malformed(e, &object).context(format!("read partition {object}"))),
            },
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.context(format!("read partition {object}"))),
        }
    }

    /// Write the partitions of `index` named in `dirty` (all when `None`) and the v1
    /// `_meta.json` listing every partition. Written only after the monolith (crash-safety
    /// order). A dirty partition that became empty is deleted, so a scoped pull falls back
    /// to the monolith instead of reading entries that no longer exist. Failures are
    /// collected, not raised: the monolith is authoritative in a v1 repo.
    pub async fn write_partitions(
        &self,
        index: &Index,
        dirty: Option<Vec<String>>,
        meta: &MetaState,
    ) -> PartitionOutcome {
        let ns = self.ns;
        let grouping = group_by_partition(index);
        let mut outcome = PartitionOutcome::default();
        let keys: Vec<String> =
            dirty.unwrap_or_else(|| grouping.partitions.keys().cloned().collect());
        let concurrency = self.client.cfg.push_concurrency.max(1) as usize;
        let grouping_ref = &grouping;
        let results: Vec<(bool, Result<bool>)> = stream::iter(keys)
            .map(|key| async move {
                let object = shard_key(ns, &key);
                let result = match grouping_ref.partitions.get(&key) {
                    Some(entries) => {
                        let file = PartitionFile {
                            entries: entries.clone(),
                        };
                        match file.to_compact_json() {
                            Ok(body) => self
                                .client
                                .upload(&object, body.as_bytes(), None)
                                .await
                                .map(|_| true),
                            Err(e) => Err(e),
                        }
                    }
                    None => self.client.delete(&object, None).await,
                };
                let wrote = grouping_ref.partitions.contains_key(&key);
                (
                    wrote,
                    result.map_err(|e| e.context(format!("write partition {object}"))),
                )
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for (wrote, result) in results {
            match result {
                Ok(true) if wrote => outcome.written += 1,
                Ok(true) => outcome.deleted += 1,
                Ok(false) => {}
                Err(e) => outcome.failures.push(e.message()),
            }
        }
        let all: Vec<String> = grouping.partitions.keys().cloned().collect();
        if !all.is_empty() {
            match self.write_meta_v1(all, meta.clone()).await {
                Ok(written) => outcome.meta_written = written,
                Err(e) => outcome.failures.push(e.message()),
            }
        }
        outcome
    }

    /// Write `{"version":1,"partitions":[…]}` unless the meta already says exactly that or
    /// is v2. Conditional on the generation read, so a concurrent v2 migration is never
    /// demoted; on 412 the meta is re-read and the decision made again — keeping the
    /// partitions the other writer listed: its index write may have come after ours (so
    /// our merge never saw its entries), and a partition left out of the list is invisible
    /// to whatever enumerates it, while one listed needlessly only reads as missing.
    async fn write_meta_v1(
        &self,
        mut partitions: Vec<String>,
        mut current: MetaState,
    ) -> Result<bool> {
        let key = meta_key(self.ns);
        for _ in 0..META_WRITE_ATTEMPTS {
            let wanted = Meta::v1(partitions.clone());
            match &current.meta {
                Some(Meta::V2 { .. }) => return Ok(false),
                Some(existing) if *existing == wanted => return Ok(false),
                _ => {}
            }
            let body = wanted.to_compact_json()?;
            let cond = write_condition(current.generation.as_ref());
            match self.client.upload(&key, body.as_bytes(), cond).await {
                Ok(_) => return Ok(true),
                Err(e) if e.is_precondition_failed() => {
                    current = self.read_meta("write partitions").await?;
                    if let Some(Meta::V1 { partitions: theirs }) = &current.meta {
                        for p in theirs {
                            if !partitions.contains(p) {
                                partitions.push(p.clone());
                            }
                        }
                    }
                }
                Err(e) => return Err(e.context(format!("write {key}"))),
            }
        }
        Err(Error::other(format!(
            "write {key}: changed concurrently {META_WRITE_ATTEMPTS} times"
        )))
    }
}
