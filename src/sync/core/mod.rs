//! The pure core of the sync engine: formats, dirty tracking, change detection and plans.
//! Nothing here touches the filesystem, the network or WASI: callers pass in bytes, stat
//! results, listings and hashing closures, and get decisions back. Everything is
//! unit-tested natively with tables.
//!
//! | file | holds |
//! |---|---|
//! | [`keys`] | object keys (`[ns/]…`) and cache-relative local paths |
//! | [`json_text`] | JSON.parse/stringify compatibility helpers (key order, truthiness, sort) |
//! | [`index`] | the monolithic index, ordered entry map, tolerant parse, scrub, merge |
//! | [`manifest`] | the push manifest a two-phase push hands from prepare to commit |
//! | [`partition`] | partition keys from paths and models, grouping an index |
//! | [`partition_files`] | `_index/{key}.json` and `_index/_meta.json` v1/v2 |
//! | [`shards`] | shard-first (v2): shard of a path, candidate shards of a dirty path, per-shard changes, next partition list |
//! | [`namespace`] | namespace slugs, the manifest `{ns}/.namespace.json`, listing prefixes to slugs |
//! | [`catalog`] | the catalog export payload and its hash, foreign exports, foreign content paths |
//! | [`sidecar`] | `.datastore-sync-state.json` load rules and v2 writer |
//! | [`sync_state`] | markDirty / markSynced state machine, walk mode, fast-path predicates |
//! | [`change`] | the three-branch change test, `ChangeReason`, SHA-256 hex |
//! | [`plan`] | scoped/full push walk plans with deletions, completeness check |
//! | [`reconcile`] | three-way decisions against the last-synced base: pull plan, push verdicts, conflicts |
//! | [`report`] | what a call returns: [`report::SyncReport`], [`report::StatusReport`], capabilities |

pub mod catalog;
pub mod change;
pub mod index;
pub mod json_text;
pub mod keys;
pub mod manifest;
pub mod namespace;
pub mod partition;
pub mod partition_files;
pub mod plan;
pub mod reconcile;
pub mod report;
pub mod shards;
pub mod sidecar;
pub mod sync_state;

#[cfg(test)]
mod compat_fixtures;
