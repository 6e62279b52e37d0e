//! The sync engine: a pure core (formats, path rules, dirty tracking, change
//! detection, walk planning — no I/O; callers pass in bytes, stat results,
//! listings and hashing closures) and, on top of it, [`SyncService`], which
//! does the I/O: the cache through `std::fs`, the bucket through
//! [`GcsClient`](crate::gcs::GcsClient).
//!
//! Everything must stay byte- and behaviour-compatible with the TypeScript
//! client sharing the bucket and cache (`/work/shared/docs/behaviour.md`).
//!
//! | file | holds |
//! |---|---|
//! | [`timefmt`] | JS `toISOString()` formatting, ISO/RFC 3339 parsing, mtime → ms |
//! | [`paths`] | `normalize_rel`, `is_internal_cache_file`, lazy/namespace tests, `safe_index_key` |
//! | [`keys`] | object keys (`[ns/]…`) and cache-relative local paths |
//! | [`json_text`] | JSON.parse/stringify compatibility helpers (key order, truthiness, sort) |
//! | [`index`] | monolithic index, ordered entry map, tolerant parse, scrub, merge |
//! | [`partition`] | partition keys from paths and models, grouping an index |
//! | [`partition_files`] | `_index/{key}.json` and `_index/_meta.json` v1/v2 |
//! | [`sidecar`] | `.datastore-sync-state.json` load rules and v2 writer |
//! | [`sync_state`] | markDirty / markSynced state machine, walk mode, fast-path predicates |
//! | [`change`] | three-branch `fileNeedsPush`, `ChangeReason`, SHA-256 hex |
//! | [`plan`] | scoped/full push walk plans with deletions, completeness check |
//! | [`reconcile`] | three-way decisions against the last-synced base: pull plan, push verdicts, conflicts |
//!
//! The service (I/O), generic over the transport/clock and the authorizer:
//!
//! | file | holds |
//! |---|---|
//! | `service.rs` | [`SyncService`], [`SyncOptions`], namespace binding, sidecar load/persist |
//! | `mark_dirty.rs` | `mark_dirty`: persist the pre-write hint |
//! | `push.rs` | `push`: fast path, walk, uploads/deletes, CAS monolith write, partitions |
//! | `pull.rs` | `pull`: fast path, scoped/monolith index, atomic downloads; `hydrate_file` |
//! | `status.rs` | `status`: dry run of the next push |
//! | `walk.rs` | the push walk over the real cache + change detection |
//! | `index_io.rs` | monolith GET (+ discovery), shards, `_meta.json` |
//! | [`local_fs`] | symlink-safe walks, stats and reads |
//! | `batch.rs` | sliding-window concurrency, batch errors |
//! | [`report`] | [`SyncReport`], [`StatusReport`], [`Capabilities`] |
//!
//! Layout support: v1 (monolith authoritative, partitions dual-written) only. A
//! bucket whose `_index/_meta.json` is version 2 (shard-first) is refused with a
//! clear error, never read stale or demoted (scoped pulls read partitions only,
//! so they work on either layout). Namespaces are supported except the one-off
//! root → namespace data migration (§3.20).
//!
//! Tests (native, in-memory fake GCS + temporary caches): `compat_fixtures.rs`
//! (golden formats), `tests_seed.rs` (the 14 tests of the seed change, §4.5),
//! `tests_push.rs` / `tests_pull.rs` (the §5.4 sync tests), `tests_traps.rs`
//! (§8.4 traps, hazards H1/H10/H12/H15), `tests_scale.rs` (1000 files / 50
//! models: request budgets, round trip, two pushers without a lock).

pub mod core;

mod batch;
mod mark_dirty;
mod pull;
mod push;
mod push_plan;
mod remote_index;
mod service;
mod status;

pub use self::core::report::{
    Capabilities, PhaseTiming, PlannedUpload, SidecarSummary, SkipCounts, StatusReport, SyncReport,
    SUPPORTED_CAPABILITIES,
};
pub use remote_index::INDEX_WRITE_ATTEMPTS;
pub use service::{SyncOptions, SyncService};

#[cfg(test)]
mod tests_pull;
#[cfg(test)]
mod tests_push;
#[cfg(test)]
mod tests_scale;
#[cfg(test)]
mod tests_seed;
#[cfg(test)]
pub(crate) mod tests_support;
#[cfg(test)]
mod tests_traps;
