//! Shard-first (v2) repositories on the wire (docs/sync.md#shard-first-repositories):
//! assembling the index from the shards `_meta.json` lists, reading only the shards a
//! scoped push can touch, and publishing a commit — the dirty shards, then the meta with
//! `commitSeq + 1`. The arithmetic is in [`super::core::shards`].
//!
//! Beyond the TypeScript client (deliberate):
//! * Every shard write carries `ifGenerationMatch` of the shard as read (`0` when it was
//!   absent) and the meta write that of the meta as read. A lost race re-reads that one
//!   object, re-applies only our changes and writes again, so two pushers without the
//!   lock lose no entry: shards hold the union, and the meta lists every shard either
//!   wrote (docs/hazards.md#unlocked-shard-first-commits).
//! * A shard the meta lists that cannot be read is an error naming it, never a fallback
//!   to the stale monolith.
//! * Entries no partition key covers live in the `_unpartitioned` shard instead of
//!   vanishing (docs/hazards.md#unpartitionable-entries-vanish-from-shards). A TypeScript
//!   writer's push drops that shard from the meta it writes; an unscoped assembly
//!   therefore also reads it when the meta does not list it (when this cache ever held
//!   such a file: `IndexStore::probe_unlisted`), and a commit that read it lists it again.

use std::collections::{BTreeSet, HashMap};

use futures_util::stream::{self, StreamExt};

use super::core::index::{EntryMap, Index, IndexChanges, ParseReport};
use super::core::keys::{meta_key, shard_key};
use super::core::partition_files::{Meta, PartitionFile};
use super::core::shards::{apply_to_shard, changes_by_shard, next_partitions, UNPARTITIONED};
use super::core::sync_state::Fingerprint;
use super::remote_index::{IndexStore, MetaState, RemoteIndex, INDEX_WRITE_ATTEMPTS};
use crate::error::{Error, ErrorKind, Result};
use crate::gcs::generation::write_condition;
use crate::gcs::{Authorizer, Generation};
use crate::transport::{Clock, Transport};

/// What a v2 read saw: the meta it was assembled from and the shards read.
#[derive(Debug, Clone)]
pub struct ShardView {
    /// `commitSeq` of the meta read.
    pub commit_seq: u64,
    /// Generation of the meta read (the precondition of the next meta write).
    pub meta_generation: Option<Generation>,
    /// Partitions the meta lists.
    pub partitions: Vec<String>,
    /// Each shard read, with its generation (`None`: absent).
    pub read: HashMap<String, Option<Generation>>,
    /// Whether every shard the meta lists was read (an unscoped read). A partial view
    /// (a scoped push) only knows the entries of the shards it read.
    pub complete: bool,
    /// Shards read that exist but hold no entries: what an emptying commit leaves
    /// (see [`IndexStore::publish_v2`]).
    pub empty: BTreeSet<String>,
}

impl ShardView {
    /// Whether the entry `rel` lives in a shard this view read.
    pub fn covers(&self, rel: &str) -> bool {
        self.complete || self.read.contains_key(&super::core::shards::shard_of(rel))
    }

    /// Shards read that exist but the meta does not list: a shard written by a commit
    /// cut off before its meta write, or `_unpartitioned` dropped by another client's
    /// meta. Their entries are in the view, so a commit based on it must list them
    /// (docs/hazards.md#interrupted-shard-first-commit-never-listed).
    pub fn unlisted(&self) -> impl Iterator<Item = &String> {
        self.existing()
            .filter(|(key, _)| !self.partitions.contains(key) && !self.empty.contains(*key))
            .map(|(key, _)| key)
    }

    /// Listed shards read that hold no entries, with their generation: an emptying
    /// commit cut off before its meta. The next commit stops listing them.
    pub fn listed_empty(&self) -> Vec<(String, Generation)> {
        self.existing()
            .filter(|(key, _)| self.empty.contains(*key) && self.partitions.contains(key))
            .map(|(key, generation)| (key.clone(), generation.clone()))
            .collect()
    }

    /// Whether committing this view changes the meta although nothing was transferred:
    /// it lists an empty shard, or a shard with entries exists that it does not list.
    pub fn needs_commit(&self) -> bool {
        self.unlisted().next().is_some() || !self.listed_empty().is_empty()
    }

    fn existing(&self) -> impl Iterator<Item = (&String, &Generation)> {
        self.read
            .iter()
            .filter_map(|(key, generation)| Some((key, generation.as_ref()?)))
    }
}

/// Which shards a scoped read needs, given the partitions the meta lists.
pub type ShardFilter<'f> = dyn Fn(&[String]) -> BTreeSet<String> + 'f;

/// One shard as read: entries and generation; `None` when the object is absent.
type ShardRead = Option<(EntryMap, Generation)>;

/// What publishing a v2 commit did.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The index as this view now knows it: the view read plus our changes, and what
    /// re-reads after lost races brought in.
    pub index: Index,
    /// The `commitSeq` written.
    pub commit_seq: u64,
    /// Whether another writer committed between our read and our writes (a lost race,
    /// or the meta moved): then `index` may lack its entries in shards we did not touch,
    /// and the new `commitSeq` must not be recorded as verified.
    pub raced: bool,
    /// Shards written and shards emptied (deleted).
    pub written: usize,
    /// Shards that became empty and were deleted.
    pub emptied: usize,
    /// Write attempts of the meta.
    pub meta_attempts: u32,
}

impl<'a, P: Transport + Clock, A: Authorizer> IndexStore<'a, P, A> {
    /// The fast-path probe (docs/sync.md#fast-paths): whether the remote is still what
    /// `fingerprint` recorded. For a `commitSeq`, one GET of `_meta.json`. For a
    /// generation, a metadata GET of the monolith — and, with `layout_check` (a pull), a
    /// GET of `_meta.json` in flight beside it: the generation proves nothing once the
    /// repository is shard-first (a v2 commit never rewrites the monolith), so a v2 meta
    /// is a miss (docs/hazards.md#stale-monolith-fingerprint-after-migration). A push
    /// skips that check: its fast path needs a clean cache, and a clean cache has nothing
    /// to push whatever the remote became. Any error is a miss: the slow path reports
    /// real problems.
    pub async fn probe(&self, fingerprint: &Fingerprint, layout_check: bool) -> bool {
        match fingerprint {
            Fingerprint::CommitSeq(seq) => matches!(
                self.read_meta("probe").await,
                Ok(MetaState { meta: Some(Meta::V2 { commit_seq, .. }), .. }) if commit_seq == *seq
            ),
            Fingerprint::Generation(g) if layout_check => {
                let (generation, meta) =
                    futures_util::future::join(self.generation(), self.read_meta("probe")).await;
                let v1 = matches!(&meta, Ok(m) if !m.meta.as_ref().is_some_and(Meta::is_v2));
                v1 && generation.is_some_and(|remote| remote.matches(Some(g)))
            }
            Fingerprint::Generation(g) => self
                .generation()
                .await
                .is_some_and(|remote| remote.matches(Some(g))),
        }
    }

    /// The remote index for a pull or push: assembled from the shards when `_meta.json` is
    /// v2, else the monolith (with discovery). `only` restricts a v2 read to those shards
    /// (a scoped push); `None` reads every listed shard.
    pub async fn read_index(
        &self,
        op: &str,
        only: Option<&ShardFilter<'_>>,
    ) -> Result<(MetaState, RemoteIndex)> {
        let meta = self.read_meta(op).await?;
        let remote = match &meta.meta {
            Some(Meta::V2 { partitions, .. }) => {
                let wanted = only.map(|f| f(partitions));
                self.assemble(&meta, wanted, op).await?
            }
            _ => self.fetch(op).await?,
        };
        Ok((meta, remote))
    }

    /// Read the shards of a v2 meta (all, or `wanted`) and merge them, later shards
    /// overriding earlier ones. A listed shard that is missing or not version 1 is an
    /// error: the index is corrupt, and reading the monolith instead would be stale.
    async fn assemble(
        &self,
        meta: &MetaState,
        wanted: Option<BTreeSet<String>>,
        op: &str,
    ) -> Result<RemoteIndex> {
        let Some(Meta::V2 {
            partitions,
            commit_seq,
        }) = &meta.meta
        else {
            return Err(Error::other(format!("{op}: assemble a non-v2 index")));
        };
        let complete = wanted.is_none();
        // Listed shards first (must exist), then the candidates the meta does not list
        // (may exist: a new shard of an interrupted commit, or `_unpartitioned` dropped by
        // another client's meta).
        let mut keys: Vec<(String, bool)> = partitions
            .iter()
            .filter(|k| wanted.as_ref().is_none_or(|w| w.contains(*k)))
            .map(|k| (k.clone(), true))
            .collect();
        let unlisted = match &wanted {
            Some(w) => w
                .iter()
                .filter(|k| !partitions.contains(k))
                .cloned()
                .collect(),
            None if self.probe_unlisted && !partitions.iter().any(|k| k == UNPARTITIONED) => {
                vec![UNPARTITIONED.to_string()]
            }
            None => Vec::new(),
        };
        keys.extend(unlisted.into_iter().map(|k| (k, false)));
        let limit = self.client.cfg.pull_concurrency.max(1) as usize;
        let results: Vec<((String, bool), Result<ShardRead>)> = stream::iter(keys)
            .map(|(key, listed)| async move {
                let read = self.read_shard_with_generation(&key).await;
                ((key, listed), read)
            })
            .buffered(limit)
            .collect()
            .await;
        let mut index = Index::new(format_now(self));
        let mut read = HashMap::new();
        let mut empty = BTreeSet::new();
        for ((key, listed), result) in results {
            match result.map_err(|e| e.context(op))? {
                Some((entries, generation)) => {
                    if entries.is_empty() {
                        empty.insert(key.clone());
                    }
                    index.entries.extend(entries.iter().cloned());
                    read.insert(key, Some(generation));
                }
                None if listed => {
                    let object = shard_key(self.ns, &key);
                    return Err(Error::new(
                        ErrorKind::MalformedRemote { key: object.clone() },
                        format!(
                            "{op}: shard {object} is listed in {} (commitSeq {commit_seq}) but missing or not version 1: the index is corrupt; run `swamp-gcs migrate-index` to rebuild the meta from the shards that exist",
                            meta_key(self.ns)
                        ),
                    ));
                }
                None => {
                    read.insert(key, None);
                }
            }
        }
        index.scrub();
        Ok(RemoteIndex {
            index,
            generation: None,
            needs_writeback: false,
            discovered: None,
            report: ParseReport::default(),
            shards: Some(ShardView {
                commit_seq: *commit_seq,
                meta_generation: meta.generation.clone(),
                partitions: partitions.clone(),
                read,
                complete,
                empty,
            }),
        })
    }

    /// Read one shard with its generation: `None` when missing or not version 1.
    pub async fn read_shard_with_generation(&self, key: &str) -> Result<ShardRead> {
        let object = shard_key(self.ns, key);
        match self.client.download(&object).await {
            Ok(d) => match PartitionFile::parse(&d.data) {
                Ok(Some((file, _))) => Ok(Some((file.entries, d.generation))),
                Ok(None) => Ok(None),
                Err(e) => Err(e
                    .with_kind(ErrorKind::MalformedRemote {
                        key: object.clone(),
                    })
                    .context(format!("read shard {object}"))),
            },
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.context(format!("read shard {object}"))),
        }
    }

    /// Publish `changes` as one v2 commit onto `view` (read by [`Self::read_index`]):
    /// write every dirty shard, then the meta with `commitSeq + 1`. Crash-safe order: a
    /// reader never sees a meta listing a shard that was not written, nor one that was
    /// deleted — a shard the changes empty is written empty and left in place, unlisted
    /// by the meta (docs/hazards.md#emptied-shard-deleted-while-listed). A commit cut off
    /// before its meta write is found again by the next push (the sidecar stays dirty;
    /// the view then holds shards the meta does not list, or lists empty ones, and is
    /// committed even with nothing new).
    pub async fn publish_v2(
        &self,
        mut index: Index,
        view: &ShardView,
        changes: &IndexChanges,
    ) -> Result<Committed> {
        let per_shard = changes_by_shard(changes);
        let limit = self.client.cfg.push_concurrency.max(1) as usize;
        let view_index = &index;
        let results: Vec<Result<ShardOutcome>> = stream::iter(per_shard.iter())
            .map(|(key, shard_changes)| async move {
                let known = view.read.get(key).cloned();
                self.commit_shard(key, shard_changes, view_index, known)
                    .await
            })
            .buffer_unordered(limit)
            .collect()
            .await;
        let mut raced = false;
        let mut written = Vec::new();
        // Emptied shards, with the generation of their empty version (`None`: none exists).
        let mut emptied: Vec<(String, Option<Generation>)> = Vec::new();
        let mut fresh: Vec<EntryMap> = Vec::new();
        for result in results {
            let outcome = result?;
            raced |= outcome.raced;
            if outcome.entries.is_empty() {
                emptied.push((outcome.key, outcome.generation));
            } else {
                written.push(outcome.key);
            }
            if outcome.raced {
                fresh.push(outcome.entries);
            }
        }
        // Empty shards the view found listed: an emptying commit cut off before its meta.
        for (key, generation) in view.listed_empty() {
            if !per_shard.contains_key(&key) {
                emptied.push((key, Some(generation)));
            }
        }
        // What the lost races brought in (their shards as written) joins our view.
        for entries in fresh {
            index.entries.extend(entries.iter().cloned());
        }
        super::core::index::merge_onto(&mut index, changes, &format_now(self));
        // Shards that exist but the meta does not list (`_unpartitioned` dropped by another
        // client's meta, a new shard of a commit cut off before its meta) are listed again.
        for key in view.unlisted() {
            if !emptied.iter().any(|(k, _)| k == key) && !written.contains(key) {
                written.push(key.clone());
            }
        }
        let (commit_seq, meta_raced, meta_attempts) =
            self.commit_meta(view, &written, &emptied).await?;
        Ok(Committed {
            index,
            commit_seq,
            raced: raced || meta_raced,
            written: written.len(),
            emptied: emptied.len(),
            meta_attempts,
        })
    }

    /// Write one shard: its entries as read (or re-read after a lost race) with our
    /// changes applied, conditional on the generation read; deleted when that leaves it
    /// empty.
    async fn commit_shard(
        &self,
        key: &str,
        changes: &IndexChanges,
        view_index: &Index,
        known: Option<Option<Generation>>,
    ) -> Result<ShardOutcome> {
        let object = shard_key(self.ns, key);
        let mut raced = false;
        // The first attempt works from what the view read, when it read this shard.
        let mut current: ShardRead = match known {
            Some(Some(generation)) => {
                let mut entries = EntryMap::new();
                for e in view_index.entries.iter() {
                    if super::core::shards::shard_of(&e.key) == key {
                        entries.insert(e.clone());
                    }
                }
                Some((entries, generation))
            }
            Some(None) => None,
            None => self.read_shard_with_generation(key).await?,
        };
        let mut budget = self
            .client
            .retry_budget()
            .with_max_attempts(INDEX_WRITE_ATTEMPTS);
        loop {
            self.client.check_deadline("push shard write")?;
            let (mut entries, generation) = match current.take() {
                Some((entries, generation)) => (entries, Some(generation)),
                None => (EntryMap::new(), None),
            };
            apply_to_shard(&mut entries, changes);
            let cond = write_condition(generation.as_ref());
            // A shard our changes empty is written empty, not deleted: the meta still
            // lists it until our meta write (and a reader may hold that meta for a
            // while after), and a listed shard must exist.
            let result = if entries.is_empty() && generation.is_none() {
                // Nothing there and nothing to write.
                Ok(None)
            } else {
                let body = PartitionFile {
                    entries: entries.clone(),
                }
                .to_compact_json()?;
                self.client
                    .upload(&object, body.as_bytes(), cond)
                    .await
                    .map(|m| Some(m.generation))
            };
            match result {
                Ok(generation) => {
                    return Ok(ShardOutcome {
                        key: key.to_string(),
                        entries,
                        raced,
                        generation,
                    })
                }
                Err(e) if e.is_precondition_failed() => {
                    raced = true;
                    if !budget.retry_after(false).await {
                        self.client.check_deadline("push shard retry")?;
                        return Err(Error::other(format!(
                            "push: write shard {object}: another writer changed it {} times in a row; the uploads are kept and the next push will publish them",
                            budget.attempts()
                        )));
                    }
                    current = self.read_shard_with_generation(key).await?;
                }
                Err(e) => return Err(e.context(format!("push: write shard {object}"))),
            }
        }
    }

    /// Write the meta of the commit: the partitions read plus those written minus those
    /// emptied, `commitSeq + 1`, conditional on the meta read. On a lost race the meta is
    /// read again and the commit re-based onto it: its partitions, its `commitSeq + 1`;
    /// a shard we emptied that the other writer lists stays listed unless it is still
    /// our empty version (or gone).
    async fn commit_meta(
        &self,
        view: &ShardView,
        written: &[String],
        emptied: &[(String, Option<Generation>)],
    ) -> Result<(u64, bool, u32)> {
        let key = meta_key(self.ns);
        let mut partitions = view.partitions.clone();
        let mut seq = view.commit_seq;
        let mut generation = view.meta_generation.clone();
        let mut emptied: Vec<(String, Option<Generation>)> = emptied.to_vec();
        let mut raced = false;
        let mut budget = self
            .client
            .retry_budget()
            .with_max_attempts(INDEX_WRITE_ATTEMPTS);
        loop {
            let names: Vec<String> = emptied.iter().map(|(k, _)| k.clone()).collect();
            let next = Meta::v2(next_partitions(&partitions, written, &names), seq + 1);
            let body = next.to_compact_json()?;
            let cond = write_condition(generation.as_ref());
            match self.client.upload(&key, body.as_bytes(), cond).await {
                Ok(_) => return Ok((seq + 1, raced, budget.attempts())),
                Err(e) if e.is_precondition_failed() => {
                    raced = true;
                    if !budget.retry_after(false).await {
                        self.client.check_deadline("push meta retry")?;
                        return Err(Error::other(format!(
                            "push: write {key}: another writer committed {} times in a row; the shards are written and the next push will list them",
                            budget.attempts()
                        )));
                    }
                    let theirs = self.read_meta("push").await?;
                    match theirs.meta {
                        Some(Meta::V2 {
                            partitions: p,
                            commit_seq,
                        }) => {
                            partitions = p;
                            seq = commit_seq;
                            generation = theirs.generation;
                        }
                        _ => {
                            return Err(Error::new(
                                ErrorKind::UnsupportedLayout,
                                format!("push: {key} stopped being shard-first (version 2) during this push; the uploads are kept: push again"),
                            ))
                        }
                    }
                    // A shard we emptied may have been written again since.
                    let mut still_empty = Vec::new();
                    for (k, ours) in emptied {
                        let now = match partitions.contains(&k) {
                            false => None,
                            true => self.client.stat(&shard_key(self.ns, &k)).await?,
                        };
                        let kept = now.is_some_and(|m| Some(&m.generation) != ours.as_ref());
                        if !kept {
                            still_empty.push((k, ours));
                        }
                    }
                    emptied = still_empty;
                }
                Err(e) => return Err(e.context(format!("push: write {key}"))),
            }
        }
    }
}

/// One shard's commit.
struct ShardOutcome {
    key: String,
    /// The shard's entries as written (empty: emptied, left empty and unlisted).
    entries: EntryMap,
    /// A lost race was re-read and re-applied.
    raced: bool,
    /// Generation written (`None`: nothing was written, the shard does not exist).
    generation: Option<Generation>,
}

fn format_now<P: Transport + Clock, A: Authorizer>(store: &IndexStore<'_, P, A>) -> String {
    crate::timefmt::format_iso_ms(store.client.platform().unix_ms()).unwrap_or_default()
}

/// Attempts at `migrate-index` when the meta keeps changing under it.
const META_RACE_ATTEMPTS: usize = 3;

/// How `migrate-index` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrateOutcome {
    /// The monolith was split into shards and a v2 meta written (`commitSeq` 1).
    Migrated,
    /// The repository was already shard-first with every listed shard present: nothing
    /// was written (a rerun never regresses later commits).
    AlreadyShardFirst,
    /// The meta was rebuilt from the `_index/` listing: the monolith was empty, or a
    /// v2 meta listed shards that do not exist.
    MetaRebuilt,
}

/// What `migrate-index` did; `meta` is the v2 meta in effect afterwards.
#[derive(Debug, Clone)]
pub struct Migrated {
    /// How it ended.
    pub outcome: MigrateOutcome,
    /// The v2 meta now in the bucket.
    pub meta: Meta,
    /// Entries written into shards (0 unless migrated).
    pub entries: usize,
    /// Shards written (0 unless migrated).
    pub shards_written: usize,
}

impl<P: Transport + Clock, A: Authorizer> super::service::SyncService<P, A> {
    /// `migrate-index` for the namespace of `opts` (docs/sync.md#migrate-index).
    pub async fn migrate_index(&self, opts: &super::service::SyncOptions) -> Result<Migrated> {
        let ns = self.bind_namespace(opts.namespace.as_deref())?;
        self.client.check_deadline("migrate-index")?;
        IndexStore::new(&self.client, ns.as_deref()).migrate().await
    }
}

impl<'a, P: Transport + Clock, A: Authorizer> IndexStore<'a, P, A> {
    /// Migrate the monolith to shards and a v2 meta (docs/sync.md#migrate-index). Run it
    /// under the global lock, as swamp does. Idempotent for real: on a shard-first
    /// repository whose listed shards all exist it writes nothing.
    pub async fn migrate(&self) -> Result<Migrated> {
        // A lost race on the meta means another client migrated or pushed meanwhile: look
        // again (its v2 meta then stands), a bounded number of times.
        for _ in 0..META_RACE_ATTEMPTS {
            if let Some(done) = self.migrate_once().await? {
                return Ok(done);
            }
        }
        Err(Error::other(format!(
            "migrate-index: {} changed {META_RACE_ATTEMPTS} times while migrating; hold the global lock (`swamp-gcs lock acquire`) and run it again",
            meta_key(self.ns)
        )))
    }

    /// One attempt of [`Self::migrate`]; `None` when the meta changed under it.
    async fn migrate_once(&self) -> Result<Option<Migrated>> {
        let op = "migrate-index";
        let meta = self.read_meta(op).await?;
        if let Some(Meta::V2 {
            partitions,
            commit_seq,
        }) = &meta.meta
        {
            let missing = self.missing_shards(partitions).await?;
            if missing.is_empty() {
                return Ok(Some(Migrated {
                    outcome: MigrateOutcome::AlreadyShardFirst,
                    meta: Meta::v2(partitions.clone(), *commit_seq),
                    entries: 0,
                    shards_written: 0,
                }));
            }
            // Rebuild the list from what exists; a new commitSeq so that no cache's
            // fingerprint of the broken meta matches.
            return self.rebuild_meta(&meta, commit_seq + 1).await;
        }
        let remote = self.fetch(op).await?;
        if remote.index.entries.is_empty() {
            return self.rebuild_meta(&meta, 1).await;
        }
        let grouping = super::core::partition::group_by_partition(&remote.index);
        if !grouping.unpartitionable.is_empty() {
            let sample: Vec<&str> = grouping
                .unpartitionable
                .iter()
                .take(10)
                .map(String::as_str)
                .collect();
            return Err(Error::new(
                ErrorKind::UnsupportedLayout,
                format!(
                    "{op}: aborted, nothing written: {} of {} index entries have no partition key ({}{}); move or remove them (e.g. `swamp-gcs rm`) and run it again, or keep the monolithic layout",
                    grouping.unpartitionable.len(),
                    remote.index.entries.len(),
                    sample.join(", "),
                    if grouping.unpartitionable.len() > sample.len() { ", …" } else { "" }
                ),
            ));
        }
        let limit = self.client.cfg.push_concurrency.max(1) as usize;
        let ns = self.ns;
        let writes: Vec<Result<()>> = stream::iter(grouping.partitions.iter())
            .map(|(key, entries)| async move {
                self.client.check_deadline("migrate-index shards")?;
                let object = shard_key(ns, key);
                let body = PartitionFile {
                    entries: entries.clone(),
                }
                .to_compact_json()?;
                self.client
                    .upload(&object, body.as_bytes(), None)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.context(format!("{op}: write shard {object}")))
            })
            .buffer_unordered(limit)
            .collect()
            .await;
        writes.into_iter().collect::<Result<Vec<()>>>()?;
        let next = Meta::v2(grouping.partitions.keys().cloned(), 1);
        let written = self.write_meta_over(&meta, &next).await?;
        Ok(written.then(|| Migrated {
            outcome: MigrateOutcome::Migrated,
            meta: next,
            entries: remote.index.entries.len(),
            shards_written: grouping.partitions.len(),
        }))
    }

    /// The listed shards that do not exist (one metadata GET each).
    async fn missing_shards(&self, partitions: &[String]) -> Result<Vec<String>> {
        let limit = self.client.cfg.pull_concurrency.max(1) as usize;
        let ns = self.ns;
        let found: Vec<(String, Result<bool>)> = stream::iter(partitions.iter().cloned())
            .map(|key| async move {
                let exists = self
                    .client
                    .stat(&shard_key(ns, &key))
                    .await
                    .map(|m| m.is_some());
                (key, exists)
            })
            .buffered(limit)
            .collect()
            .await;
        let mut missing = Vec::new();
        for (key, exists) in found {
            if !exists.map_err(|e| e.context("migrate-index: check shards"))? {
                missing.push(key);
            }
        }
        Ok(missing)
    }

    /// Write a v2 meta listing every shard object under `[ns/]_index/`.
    async fn rebuild_meta(&self, current: &MetaState, commit_seq: u64) -> Result<Option<Migrated>> {
        let prefix = super::core::keys::shard_prefix(self.ns);
        let listed = self
            .client
            .list_all(Some(&prefix))
            .await
            .map_err(|e| e.context("migrate-index: list the shards"))?;
        let cfg = &self.client.cfg;
        let shards: Vec<String> = listed
            .iter()
            .filter_map(|o| cfg.relative_key(&o.name))
            .filter_map(|k| k.strip_prefix(prefix.as_str()))
            .filter(|name| !name.contains('/') && *name != "_meta.json")
            .filter_map(|name| name.strip_suffix(".json"))
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect();
        let next = Meta::v2(shards, commit_seq);
        let written = self.write_meta_over(current, &next).await?;
        Ok(written.then_some(Migrated {
            outcome: MigrateOutcome::MetaRebuilt,
            meta: next,
            entries: 0,
            shards_written: 0,
        }))
    }

    /// Write `next` over the meta as read (`ifGenerationMatch`); `false` on a lost race.
    async fn write_meta_over(&self, current: &MetaState, next: &Meta) -> Result<bool> {
        let key = meta_key(self.ns);
        let body = next.to_compact_json()?;
        let cond = write_condition(current.generation.as_ref());
        match self.client.upload(&key, body.as_bytes(), cond).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_precondition_failed() => Ok(false),
            Err(e) => Err(e.context(format!("migrate-index: write {key}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A view of a meta listing `listed`, having read `read` (name, exists, empty).
    fn view(listed: &[&str], read: &[(&str, bool, bool)]) -> ShardView {
        ShardView {
            commit_seq: 3,
            meta_generation: Some(Generation::new("7")),
            partitions: listed.iter().map(|s| s.to_string()).collect(),
            read: read
                .iter()
                .map(|(k, exists, _)| (k.to_string(), exists.then(|| Generation::new("1"))))
                .collect(),
            complete: false,
            empty: read
                .iter()
                .filter(|(_, exists, empty)| *exists && *empty)
                .map(|(k, _, _)| k.to_string())
                .collect(),
        }
    }

    /// What an interrupted commit leaves, and whether the next commit must write a meta
    /// although nothing was transferred (docs/hazards.md#interrupted-shard-first-commit-never-listed,
    /// docs/hazards.md#emptied-shard-deleted-while-listed).
    #[test]
    fn a_view_left_by_an_interrupted_commit_needs_a_commit() {
        // (listed, read: (name, exists, empty), unlisted with entries, listed empty, commit)
        type Row<'r> = (
            &'r [&'r str],
            &'r [(&'r str, bool, bool)],
            &'r [&'r str],
            &'r [&'r str],
            bool,
        );
        let rows: &[Row<'_>] = &[
            // As committed: every shard read is listed and holds entries.
            (
                &["a", "b"],
                &[("a", true, false), ("b", true, false)],
                &[],
                &[],
                false,
            ),
            // A new shard written, its meta not: list it.
            (
                &["a"],
                &[("a", true, false), ("g", true, false)],
                &["g"],
                &[],
                true,
            ),
            // A candidate that does not exist is nothing.
            (
                &["a"],
                &[("a", true, false), ("g", false, false)],
                &[],
                &[],
                false,
            ),
            // A shard emptied, its meta not written: stop listing it.
            (
                &["a", "b"],
                &[("a", true, false), ("b", true, true)],
                &[],
                &["b"],
                true,
            ),
            // An emptied shard already unlisted: nothing to do, and never listed again.
            (
                &["a"],
                &[("a", true, false), ("b", true, true)],
                &[],
                &[],
                false,
            ),
        ];
        for (listed, read, unlisted, listed_empty, commit) in rows {
            let v = view(listed, read);
            let mut got: Vec<&String> = v.unlisted().collect();
            got.sort();
            assert_eq!(got, *unlisted, "{listed:?} {read:?}");
            let got: Vec<String> = v.listed_empty().into_iter().map(|(k, _)| k).collect();
            assert_eq!(got, *listed_empty, "{listed:?} {read:?}");
            assert_eq!(v.needs_commit(), *commit, "{listed:?} {read:?}");
        }
    }
}
