//! Three-way sync decisions: the remote index, the local file, and the **base** — the
//! entry this cache recorded for a path when it last synced it (the local index copy,
//! `.datastore-index.json` in the cache root). Pure: the caller passes stats and a
//! hashing closure; nothing here touches the filesystem or the network.
//!
//! Why a base: comparing only the local file with the remote entry cannot tell "the
//! remote moved on" from "the local file changed". Upstream pulls by size alone and
//! never applies remote deletions, so an equal-size rewrite is never pulled and a later
//! bulk push reverts it. With the base:
//! * pull downloads a remote entry that differs from the base (by `sha256` when both
//!   have one, else by size and `lastModified`) when the local file is still the base
//!   version; a local file that also changed is a **conflict**: kept, reported;
//! * pull removes a file the remote no longer lists only when the local file is still
//!   the base version (otherwise kept and reported);
//! * push uploads only files changed since the base, and never over a remote entry that
//!   moved on since the base (a conflict, reported, not uploaded).
//!
//! The base index is rewritten after every pull and push ([`PullPlan::next_base`],
//! [`push_next_base`]) so it only ever names versions this cache actually holds; the
//! sidecar's fast-path fingerprint is recorded only when it covers the remote
//! ([`base_covers`]). The file keeps the index format, so the TypeScript client can still
//! read it.

use super::change::{classify_change, ChangeReason};
use super::index::{Index, IndexEntry};
use super::plan::{LocalFile, PullItem};
use crate::paths::CachePath;
use crate::paths::{is_internal_cache_file, is_lazy_skippable, safe_index_key};

/// Whether two entries describe the same content: equal `sha256` when both carry one,
/// else equal size and `lastModified` (entries written by old clients have no hash).
pub fn same_version(a: &IndexEntry, b: &IndexEntry) -> bool {
    match (a.sha256.as_deref(), b.sha256.as_deref()) {
        (Some(x), Some(y)) => x == y,
        _ => a.size == b.size && a.last_modified == b.last_modified,
    }
}

/// Whether the local file is provably still the version `base` records: the hash matches
/// when the entry has one, else size and mtime string match. Weaker evidence (an mtime
/// missing on either side) is not enough to overwrite or delete a file.
fn unchanged_since(
    base: &IndexEntry,
    local: &LocalFile,
    hash: &mut dyn FnMut() -> Option<String>,
) -> bool {
    let reason = classify_change(Some(base), local.size, local.mtime_iso.as_deref(), || {
        hash().ok_or(())
    });
    matches!(
        reason,
        Ok(ChangeReason::UnchangedHashVerified
            | ChangeReason::MtimeOnly
            | ChangeReason::UnchangedSameMtime)
    )
}

/// Whether the local file already holds `remote`'s content: by hash when the entry has
/// one, else by size alone (all an old client's entry allows).
fn holds(remote: &IndexEntry, local: &LocalFile, hash: &mut dyn FnMut() -> Option<String>) -> bool {
    local.size == remote.size
        && match remote.sha256.as_deref() {
            Some(want) => hash().as_deref() == Some(want),
            None => true,
        }
}

/// `entry` as this cache records it: the local file's mtime instead of the writer's.
fn with_local_mtime(entry: &IndexEntry, mtime: Option<&str>) -> IndexEntry {
    IndexEntry {
        local_mtime: mtime.map(str::to_string),
        ..entry.clone()
    }
}

/// Why a path was left alone although the remote changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    /// Changed locally and remotely since the last sync (or, never synced here, different
    /// on both sides): the local bytes are kept.
    BothChanged,
    /// Deleted remotely but changed locally: the local file is kept.
    DeletedRemotelyChangedLocally,
}

/// A path left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// Index key (bare rel).
    pub rel: String,
    /// What happened on each side.
    pub kind: ConflictKind,
}

impl Conflict {
    fn new(rel: &str, kind: ConflictKind) -> Self {
        Conflict {
            rel: rel.to_string(),
            kind,
        }
    }
}

/// What a pull must do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PullPlan {
    /// Files to download, in remote index order.
    pub to_pull: Vec<PullItem>,
    /// Local files to remove: the remote deleted them and they are still the synced version.
    pub to_delete: Vec<PullItem>,
    /// Paths left alone, reported to the caller.
    pub conflicts: Vec<Conflict>,
    /// Parent directories of lazily skipped raws, to create.
    pub lazy_dirs: Vec<CachePath>,
    /// Remote keys skipped because they are no safe cache path ([`CachePath::for_key`]).
    pub unsafe_keys: Vec<String>,
    /// The base to record once the downloads succeeded. Entries of [`Self::to_pull`]
    /// carry the remote's `localMtime` until the caller sets the written file's.
    pub next_base: Index,
}

/// Plan a pull, three-way. `remote` is the fresh index (the monolith, or
/// the scoped partitions); `base` the local index copy (`None` when missing or
/// unreadable: nothing is then deleted, and an existing local file that differs from the
/// remote is a conflict). `in_scope(rel)` says whether `remote` is authoritative for a
/// base key (true for every key on a monolith pull; on a scoped pull, only the models'
/// partitions), so only those base keys can be taken as remote deletions. `stat` gets
/// cache-relative paths (`None` = no regular file); `hash` returns the SHA-256 hex of the
/// file at a cache-relative path, `None` when unreadable (never taken as a match).
pub fn plan_pull(
    remote: &Index,
    base: Option<&Index>,
    ns: Option<&str>,
    metadata_only: bool,
    in_scope: impl Fn(&str) -> bool,
    mut stat: impl FnMut(&CachePath) -> Option<LocalFile>,
    mut hash: impl FnMut(&CachePath) -> Option<String>,
) -> PullPlan {
    let mut plan = PullPlan {
        next_base: Index::new(remote.last_pulled.clone()),
        ..PullPlan::default()
    };
    let mut lazy_dirs = indexmap::IndexSet::new();
    for r in remote.entries.iter() {
        let rel = r.key.as_str();
        if is_internal_cache_file(rel) {
            continue;
        }
        let Ok(cache_rel) = CachePath::for_key(ns, rel) else {
            plan.unsafe_keys.push(rel.to_string());
            plan.next_base.entries.insert(r.clone());
            continue;
        };
        let b = base.and_then(|i| i.entries.get(rel));
        let local = stat(&cache_rel);
        let mut memo: Option<Option<String>> = None;
        let mut file_hash = || memo.get_or_insert_with(|| hash(&cache_rel)).clone();
        let item = || PullItem {
            rel: rel.to_string(),
            cache_rel: cache_rel.clone(),
        };
        if metadata_only && is_lazy_skippable(rel) {
            if let Ok(parent) = CachePath::new(cache_rel.parent()) {
                lazy_dirs.insert(parent);
            }
            // A raw not here yet is fetched later on demand; one already here keeps
            // whatever version it is recorded as.
            match (&local, b) {
                (None, _) => {
                    plan.next_base.entries.insert(r.clone());
                }
                (Some(_), Some(b)) => {
                    plan.next_base.entries.insert(b.clone());
                }
                (Some(_), None) => {}
            }
            continue;
        }
        let Some(local) = local else {
            plan.to_pull.push(item());
            plan.next_base.entries.insert(r.clone());
            continue;
        };
        let recorded = match b {
            Some(b) if same_version(b, r) => {
                // Unchanged remotely: keep the file whatever happened locally (a push
                // decides). A new mtime is recorded only where a hash still guards
                // against a same-size edit hiding behind it.
                let mtime = if r.sha256.is_some() {
                    local.mtime_iso.as_deref()
                } else {
                    b.local_mtime.as_deref()
                };
                Some(with_local_mtime(r, mtime))
            }
            Some(b) if unchanged_since(b, &local, &mut file_hash) => {
                plan.to_pull.push(item());
                Some(r.clone())
            }
            // Already the remote version (e.g. a rerun after a pull was cut short). Without
            // a remote hash only a cache with no record may go by size: with one, a
            // same-size local edit would be taken for the rewrite and never pushed.
            _ if (b.is_none() || r.sha256.is_some()) && holds(r, &local, &mut file_hash) => {
                Some(with_local_mtime(r, local.mtime_iso.as_deref()))
            }
            _ => {
                plan.conflicts
                    .push(Conflict::new(rel, ConflictKind::BothChanged));
                b.cloned()
            }
        };
        if let Some(entry) = recorded {
            plan.next_base.entries.insert(entry);
        }
    }
    for b in base.into_iter().flat_map(|i| i.entries.iter()) {
        let rel = b.key.as_str();
        if remote.entries.contains(rel) {
            continue;
        }
        if !in_scope(rel) {
            plan.next_base.entries.insert(b.clone());
            continue;
        }
        if is_internal_cache_file(rel) {
            continue;
        }
        let Ok(cache_rel) = CachePath::for_key(ns, rel) else {
            continue;
        };
        let Some(local) = stat(&cache_rel) else {
            continue;
        };
        if unchanged_since(b, &local, &mut || hash(&cache_rel)) {
            plan.to_delete.push(PullItem {
                rel: rel.to_string(),
                cache_rel,
            });
        } else {
            plan.conflicts.push(Conflict::new(
                rel,
                ConflictKind::DeletedRemotelyChangedLocally,
            ));
        }
    }
    plan.lazy_dirs = lazy_dirs.into_iter().collect();
    plan
}

/// Whether `base` records, for every syncable entry of `remote`, the same version: only
/// then may the sidecar hold the remote generation as "in sync" (the fast paths would
/// otherwise hide the differing entries for good).
pub fn base_covers(base: &Index, remote: &Index) -> bool {
    remote
        .entries
        .iter()
        .filter(|r| !is_internal_cache_file(&r.key) && safe_index_key(&r.key).is_ok())
        .all(|r| base.entries.get(&r.key).is_some_and(|b| same_version(b, r)))
}

/// What a push does with one changed-looking local file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushVerdict {
    /// Upload it.
    Upload(ChangeReason),
    /// Not changed since the last sync (or equal to the remote): nothing to do.
    Unchanged,
    /// The local file already holds the remote entry's content: record it as synced.
    Adopt(IndexEntry),
    /// The remote moved on since the last sync and the local file changed too: do not
    /// overwrite, report.
    Conflict,
}

/// Decide a push candidate, three-way. Without a base index (a cache that never
/// synced, or whose copy is unreadable) the file is compared with the remote entry, as
/// upstream does (an equal one is adopted). With one, it is compared with its base entry, so a file that is merely
/// older than the remote is not a change; an upload over a remote entry that moved on
/// since the base (or that this cache never synced) is a conflict. `hash` returns the
/// file's SHA-256 hex; it runs at most once.
pub fn decide_push<E>(
    base: Option<&Index>,
    remote: &Index,
    rel: &str,
    local: &LocalFile,
    mut hash: impl FnMut() -> Result<String, E>,
) -> Result<PushVerdict, E> {
    let mut memo: Option<String> = None;
    let mut hashed = move || -> Result<String, E> {
        if let Some(h) = &memo {
            return Ok(h.clone());
        }
        let h = hash()?;
        memo = Some(h.clone());
        Ok(h)
    };
    let mtime = local.mtime_iso.as_deref();
    let r = remote.entries.get(rel);
    let Some(base) = base else {
        let reason = classify_change(r, local.size, mtime, &mut hashed)?;
        return Ok(match r {
            _ if reason.needs_push() => PushVerdict::Upload(reason),
            // Recorded, so this cache has a base from now on.
            Some(r) => PushVerdict::Adopt(with_local_mtime(r, mtime)),
            None => PushVerdict::Unchanged,
        });
    };
    if let Some(b) = base.entries.get(rel) {
        let reason = classify_change(Some(b), local.size, mtime, &mut hashed)?;
        if !reason.needs_push() {
            return Ok(PushVerdict::Unchanged);
        }
        // The remote is what we last synced, or it was deleted since: uploading loses
        // no version.
        if r.is_none_or(|r| same_version(b, r)) {
            return Ok(PushVerdict::Upload(reason));
        }
    }
    let Some(r) = r else {
        return Ok(PushVerdict::Upload(ChangeReason::New));
    };
    if classify_change(Some(r), local.size, mtime, &mut hashed)?.needs_push() {
        Ok(PushVerdict::Conflict)
    } else {
        Ok(PushVerdict::Adopt(with_local_mtime(r, mtime)))
    }
}

/// Whether a push may delete the remote object of `rel` (its local file is gone): only
/// when the remote still holds the version this cache last synced. An object this cache
/// never synced, or one rewritten since, is someone else's newer version. Without a base
/// index every deletion stands (upstream rule).
pub fn may_delete(base: Option<&Index>, remote: &Index, rel: &str) -> bool {
    let Some(base) = base else { return true };
    match (base.entries.get(rel), remote.entries.get(rel)) {
        (Some(b), Some(r)) => same_version(b, r),
        (_, None) => true,
        (None, Some(_)) => false,
    }
}

/// The base after a push: the previous base (or nothing) with the uploaded entries, the
/// adopted remote entries, and without the deleted keys.
pub fn push_next_base(
    base: Option<&Index>,
    last_pulled: &str,
    recorded: &[IndexEntry],
    deleted: &[String],
) -> Index {
    let mut next = base
        .cloned()
        .unwrap_or_else(|| Index::new(last_pulled.to_string()));
    next.last_pulled = last_pulled.to_string();
    next.entries.extend(recorded.iter().cloned());
    for key in deleted {
        next.entries.remove(key);
    }
    next
}

#[cfg(test)]
mod tests;
