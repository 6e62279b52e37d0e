//! The sync engine: a pure core ([`core`]: formats, dirty tracking, change
//! detection, walk planning — no I/O; callers pass in bytes, stat results,
//! listings and hashing closures) and, on top of it, [`SyncService`], which
//! does the I/O: the cache through [`LocalCache`](crate::cache::LocalCache), the bucket
//! through [`GcsClient`](crate::gcs::GcsClient).
//!
//! Everything must stay byte- and behaviour-compatible with the TypeScript
//! client sharing the bucket and cache (docs/compatibility.md; docs/README.md lists the
//! rest of the documentation).
//!
//! The pure rules, no I/O:
//!
//! | file | holds |
//! |---|---|
//! | [`crate::timefmt`] | JS `toISOString()` formatting, ISO/RFC 3339 parsing, mtime → ms |
//! | [`crate::paths`] | `normalize_rel`, `is_internal_cache_file`, lazy/namespace tests, `safe_index_key`, `CachePath` |
//! | [`core`] | formats (index, partitions, meta, sidecar), dirty tracking, change detection, walk plans, three-way reconcile, reports — its own table lists the files |
//!
//! The service (I/O), generic over the transport/clock and the authorizer:
//!
//! | file | holds |
//! |---|---|
//! | `service.rs` | [`SyncService`], [`SyncOptions`], namespace binding, sidecar load/persist |
//! | `mark_dirty.rs` | `mark_dirty`: persist the pre-write hint |
//! | `push.rs` | `push` in phases: fast path, fresh index, walk, uploads/deletes, publish or settle |
//! | `pull.rs` | `pull`: fast path, scoped/monolith index, atomic downloads; `hydrate_file` |
//! | `status.rs` | `status`: dry run of the next push |
//! | `namespaces.rs` | registering and listing namespaces (provider level: a client, no cache) |
//! | `catalog.rs` | catalog export, foreign catalogs, foreign content |
//! | `push_plan.rs` | the push walk over the real cache + change detection and three-way verdicts |
//! | `remote_index.rs` | `IndexStore`: monolith GET (+ discovery), CAS publish, shards, `_meta.json` |
//! | `batch.rs` | sliding-window concurrency, batch errors |
//! | [`crate::cache`] | [`LocalCache`](crate::cache::LocalCache): symlink-safe walks, stats, reads, atomic writes |
//!
//! Layout support: v1 (monolith authoritative, partitions dual-written) only. A
//! bucket whose `_index/_meta.json` is version 2 (shard-first) is refused with a
//! clear error, never read stale or demoted (scoped pulls read partitions only,
//! so they work on either layout). Namespaces are supported (binding, registration,
//! catalogs) except the one-off root → namespace data migration and contamination repair
//! (docs/sync.md#not-implemented).
//!
//! Tests (native, in-memory fake GCS + temporary caches): `core/compat_fixtures.rs`
//! (golden formats); `scenarios_native.rs`, which runs the scenarios shared with the
//! component tests (the `sync-scenarios` crate in `scenarios/`: the tests of the seed change,
//! one regression per hazard of docs/hazards.md, 1000 files / 50 models with the request
//! budgets) on the in-memory fake; `tests_fake_only.rs` (what needs the fake itself:
//! in-flight counts, two pushers without a lock, a request hook, symlinks);
//! `tests_push.rs` / `tests_pull.rs` (the sync-service tests), named after their
//! TypeScript counterparts (docs/compatibility.md#counterparts-of-the-typescript-tests).

pub mod core;

mod batch;
mod catalog;
mod mark_dirty;
pub mod namespaces;
mod pull;
mod push;
mod push_plan;
mod push_v2;
mod remote_index;
mod service;
mod shards;
mod status;
mod two_phase;

pub use self::core::report::{SyncReport, SUPPORTED_CAPABILITIES};
pub use service::{SyncOptions, SyncService};
pub use shards::MigrateOutcome;

#[cfg(test)]
mod scenarios_native;
#[cfg(test)]
mod tests_fake_only;
#[cfg(test)]
mod tests_pull;
#[cfg(test)]
mod tests_push;
#[cfg(test)]
pub(crate) mod tests_support;
