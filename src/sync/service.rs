//! The sync service object: what one cache + one bucket share across calls — the GCS
//! client, the cache root, the sync state loaded from the sidecar, and the namespace the
//! first pull/push bound. The operations live in sibling files (`mark_dirty.rs`,
//! `push.rs`, `pull.rs`, `status.rs`); this file holds the shared plumbing.
//!
//! The guest is single-threaded, so state sits in `RefCell`s and every method takes
//! `&self`. No borrow is ever held across an `.await`.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use super::core::index::Index;
use super::core::namespace::check_slug;
use super::core::report::SidecarSummary;
#[cfg(test)]
use super::core::report::{Capabilities, SUPPORTED_CAPABILITIES};
use super::core::sidecar::MAX_SIDECAR_BYTES;
use super::core::sync_state::{Outcome, SidecarOrigin, SyncState};
use crate::cache::{LocalCache, OwnFile};
use crate::control::ControlPlane;
use crate::error::{Error, ErrorKind, Result};
use crate::gcs::{Authorizer, GcsClient};
use crate::paths::CachePath;
use crate::timefmt::format_iso_ms;
use crate::transport::{Clock, Transport};

/// Options of one call (swamp core's `DatastoreSyncOptions`, minus the signal: the
/// deadline is set on the client by the caller).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOptions {
    /// `markDirty` only: cache-relative path about to be written; `None`/`""` = everything.
    pub rel_path: Option<String>,
    /// Pull only: `(modelType, modelId)` pairs of a scoped pull; empty = unscoped.
    pub models: Vec<(String, String)>,
    /// Restrict the call to `{namespace}/`; `None` or `""` = solo mode.
    pub namespace: Option<String>,
    /// Pull only: skip `data/**/raw` (lazy hydration).
    pub metadata_only: bool,
}

/// The sync service of one cache directory and one bucket (prefix).
pub struct SyncService<P, A> {
    pub(super) client: Rc<GcsClient<P, A>>,
    pub(super) cache: LocalCache,
    state: RefCell<Option<SyncState>>,
    /// `None` = not bound yet; `Some(None)` = bound to solo mode.
    bound: RefCell<Option<Option<String>>>,
}

impl<P: Transport + Clock, A: Authorizer> SyncService<P, A> {
    /// A service for the cache at `cache_root` (created on first write if missing).
    pub fn new(client: Rc<GcsClient<P, A>>, cache_root: PathBuf) -> Self {
        SyncService {
            client,
            cache: LocalCache::new(cache_root),
            state: RefCell::new(None),
            bound: RefCell::new(None),
        }
    }

    #[cfg(test)]
    /// What this service implements. Two-phase push, preview and the control plane are
    /// not implemented here.
    pub fn capabilities(&self) -> Capabilities {
        SUPPORTED_CAPABILITIES
    }

    #[cfg(test)]
    /// The client (for the caller to set deadlines).
    pub fn client(&self) -> &GcsClient<P, A> {
        &self.client
    }

    // ----- namespace -----

    /// Bind the namespace on the first pull/push/status and refuse a different one later
    /// (one instance serves one namespace; mixing would write one namespace's files under
    /// another's keys). `None` and `""` both mean solo.
    pub(super) fn bind_namespace(&self, requested: Option<&str>) -> Result<Option<String>> {
        let requested = requested.filter(|n| !n.is_empty()).map(str::to_string);
        if let Some(ns) = &requested {
            check_slug(ns)?;
        }
        let mut bound = self.bound.borrow_mut();
        match &*bound {
            None => {
                *bound = Some(requested.clone());
                Ok(requested)
            }
            Some(current) if *current == requested => Ok(requested),
            Some(current) => Err(mismatch(current.as_deref(), requested.as_deref())),
        }
    }

    /// The namespace of a call that never binds (hydration): the one asked for, which must
    /// agree with the bound one; else the bound one (`None` and `""` ask for nothing).
    pub(super) fn namespace_without_binding(
        &self,
        requested: Option<&str>,
    ) -> Result<Option<String>> {
        let bound = self.bound.borrow().clone();
        match (requested.filter(|n| !n.is_empty()), bound) {
            (None, bound) => Ok(bound.flatten()),
            (Some(r), None) => {
                check_slug(r)?;
                Ok(Some(r.to_string()))
            }
            (Some(r), Some(current)) if current.as_deref() == Some(r) => Ok(current),
            (Some(r), Some(current)) => Err(mismatch(current.as_deref(), Some(r))),
        }
    }

    /// The control-plane store of namespace `requested`; none or `""` means the bound
    /// namespace (solo when unbound). Never binds, like hydration
    /// (docs/control-plane.md#namespaces).
    pub fn control_plane(&self, requested: Option<&str>) -> Result<ControlPlane<'_, P, A>> {
        let ns = self.namespace_without_binding(requested)?;
        Ok(ControlPlane::new(&self.client, ns))
    }

    // ----- sync state (sidecar) -----

    /// Load the sidecar once per instance. Any read failure means "no sidecar", which is
    /// the safe reading: no fast path, full walk.
    fn ensure_state(&self) {
        if self.state.borrow().is_some() {
            return;
        }
        let bytes = self
            .cache
            .read_own(OwnFile::Sidecar, MAX_SIDECAR_BYTES as u64);
        *self.state.borrow_mut() = Some(SyncState::load(bytes.as_deref()));
    }

    /// Read the state.
    pub(super) fn with_state<R>(&self, f: impl FnOnce(&SyncState) -> R) -> R {
        self.ensure_state();
        let state = self.state.borrow();
        f(state.as_ref().unwrap_or(&SyncState::new()))
    }

    /// Change the state and persist it when the change asks for a write. Errors are
    /// returned (the in-memory state keeps the change either way).
    pub(super) fn update_state(&self, f: impl FnOnce(&mut SyncState) -> Outcome) -> Result<()> {
        self.ensure_state();
        let text = {
            let mut slot = self.state.borrow_mut();
            let state = slot.get_or_insert_with(SyncState::new);
            if !f(state).write_needed {
                return Ok(());
            }
            state.to_pretty_json()?
        };
        let nonce = self.client.platform().random_u64();
        self.cache
            .write_own(OwnFile::Sidecar, text.as_bytes(), nonce)
    }

    /// [`Self::update_state`] for writes after a successful transfer: a failure to
    /// persist must not fail the sync (docs/hazards.md#best-effort-sidecar-writes); the
    /// worst outcome is a slow path.
    pub(super) fn update_state_best_effort(
        &self,
        f: impl FnOnce(&mut SyncState) -> Outcome,
    ) -> bool {
        self.update_state(f).is_ok()
    }

    /// The sidecar for reports.
    pub(super) fn sidecar_summary(&self) -> SidecarSummary {
        self.with_state(|s| SidecarSummary {
            version: match s.origin() {
                SidecarOrigin::Missing => None,
                SidecarOrigin::V1 => Some(1),
                SidecarOrigin::V2 => Some(2),
            },
            remote_index_generation: s.remote_index_generation().to_string(),
            last_verified_at: s.last_verified_at().to_string(),
            local_dirty: s.local_dirty(),
            dirty_paths: s.dirty_paths().to_vec(),
            bulk_invalidated: s.bulk_invalidated(),
            dirty_paths_overflowed: s.dirty_paths_overflowed(),
            lazy_pull_active: s.lazy_pull_active(),
            commit_seq: s.commit_seq(),
        })
    }

    // ----- local index file -----

    /// Modification time of the local index copy (unix ms), if it exists.
    pub(super) fn local_index_mtime_ms(&self) -> Option<i64> {
        self.cache.own_mtime_ms(OwnFile::LocalIndex)
    }

    /// Whether `base` records a file no partition key covers (its shard-first home is the
    /// `_unpartitioned` shard).
    fn base_has_unpartitioned(base: Option<&Index>) -> bool {
        base.is_some_and(|b| {
            b.entries
                .keys()
                .any(|k| super::core::partition::partition_key_from_path(k).is_none())
        })
    }

    /// The local index copy as this cache last wrote it: the base of the three-way
    /// decisions ([`super::core::reconcile`]). `None` when missing, not a regular file (a
    /// link is never followed), larger than [`MAX_LOCAL_INDEX_BYTES`] or unreadable as an
    /// index: with no record of the last sync, nothing is deleted and no local file
    /// that differs from the remote is overwritten.
    pub(super) fn read_base(&self) -> Option<Index> {
        let bytes = self
            .cache
            .read_own(OwnFile::LocalIndex, MAX_LOCAL_INDEX_BYTES)?;
        let (mut index, _) = Index::parse(&bytes).ok()?;
        index.scrub();
        Some(index)
    }

    /// [`Self::read_base`] for a pull or push reading through `store`: a cache that never
    /// held a file without a partition key has nothing of its own in an unlisted
    /// `_unpartitioned` shard, so its reads skip looking for one.
    pub(super) fn read_base_for<P2, A2>(
        &self,
        store: &mut super::remote_index::IndexStore<'_, P2, A2>,
    ) -> Option<Index> {
        let base = self.read_base();
        store.probe_unlisted = Self::base_has_unpartitioned(base.as_ref());
        base
    }

    /// Write the local index copy (pretty, atomically).
    pub(super) fn write_local_index(&self, index: &Index) -> Result<()> {
        let text = index.to_pretty_json()?;
        let nonce = self.client.platform().random_u64();
        self.cache
            .write_own(OwnFile::LocalIndex, text.as_bytes(), nonce)
    }

    // ----- clocks -----

    /// Monotonic milliseconds (for phase timings).
    pub(super) fn now_ms(&self) -> u64 {
        self.client.platform().now_ms()
    }

    /// Wall-clock "now" as a JS ISO string (`lastModified`, `lastPulled`).
    pub(super) fn now_iso(&self) -> String {
        format_iso_ms(self.client.platform().unix_ms()).unwrap_or_default()
    }

    /// Wall-clock unix milliseconds.
    pub(super) fn unix_ms(&self) -> i64 {
        self.client.platform().unix_ms()
    }

    /// The size of the regular file at `path` (`None` for anything else).
    pub(super) fn stat_size(&self, path: &CachePath) -> Option<u64> {
        self.cache.stat(path).ok().flatten().map(|s| s.size)
    }
}

/// Above this the local index copy is not read (a remote index of 100 000 entries is
/// about 30 MB).
const MAX_LOCAL_INDEX_BYTES: u64 = 256 << 20;

/// The error of a call for namespace `requested` on a service bound to `bound`.
fn mismatch(bound: Option<&str>, requested: Option<&str>) -> Error {
    Error::new(
        ErrorKind::NamespaceMismatch {
            bound: bound.map(str::to_string),
            requested: requested.map(str::to_string),
        },
        format!(
            "Namespace mismatch: bound to {} but called with {}",
            json_or_null(bound),
            json_or_null(requested)
        ),
    )
}

fn json_or_null(ns: Option<&str>) -> String {
    match ns {
        Some(n) => serde_json::Value::String(n.to_string()).to_string(),
        None => "null".to_string(),
    }
}
