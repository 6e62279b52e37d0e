//! The sync engine's pure core: formats, path rules, dirty tracking, change
//! detection and walk planning. Nothing here does I/O — callers pass in bytes
//! they read, stat results, listings and hashing closures, and get back
//! values, decisions and bytes to write. The push/pull orchestration (HTTP,
//! filesystem, locking, retries) is built on top of this API.
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
//! | [`plan`] | scoped/full push walk plans with deletions, pull plan, completeness check |
//!
//! Golden tests against `fixtures/formats/` live in `compat_fixtures.rs`.

// The crate has one error type (`crate::error::Error`, ~160 bytes because it
// carries GCS details). Its size is that module's decision; boxing it only in
// this corner would make `?` across modules awkward, so the lint is waived here.

pub mod change;
pub mod index;
pub mod json_text;
pub mod keys;
pub mod partition;
pub mod partition_files;
pub mod paths;
pub mod plan;
pub mod sidecar;
pub mod sync_state;
pub mod timefmt;

#[cfg(test)]
mod compat_fixtures;
