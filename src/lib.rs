//! gcs-datastore: swamp's Google Cloud Storage datastore as a WASI 0.2 component.
//!
//! The component keeps a swamp cache directory in sync with a bucket, wire- and
//! file-compatible with the TypeScript `@swamp/gcs-datastore` extension. It imports only
//! standard WASI (wasi:http for every request, wasi:filesystem for the one preopened cache
//! directory, clocks, random, environment) and exports the interfaces of `wit/world.wit`.
//!
//! # Layout
//! Where a pushed file goes: `mark-dirty` records it in the sidecar
//! ([`sync::core::sync_state`]); `push` walks the [`cache::LocalCache`] and decides in the
//! pure core ([`sync::core::plan`], [`sync::core::reconcile`]), reads and hashes each file
//! once, uploads it through [`gcs::GcsClient`], and publishes the merged index through the
//! `IndexStore` (`sync/remote_index.rs`). A pulled file goes the other way: `IndexStore`
//! fetch, a three-way plan in the core, download, and an atomic write by the cache.
//!
//! The edge (wasm only):
//! - `component.rs`: WIT bindings and conversions; no logic.
//! - `runtime.rs`: per-instance state: client, credentials, cache, sync service.
//! - `wasi_platform.rs`: the one `Transport`/`Clock` over wasi:http and clocks.
//!
//! The two I/O seams and their objects:
//! - `transport.rs`: requests and responses as values, `Transport`, `Clock`.
//! - `cache/`: [`cache::LocalCache`], the only code that touches the filesystem: stats,
//!   reads, atomic writes and crash debris, symlink-safe walks, the machinery's own files;
//!   inside the component its hot paths call wasi:filesystem directly (`cache/sys.rs`).
//! - `sync/remote_index.rs`: the bucket's index objects (monolith, partitions, meta).
//!
//! Pure rules and values (no I/O, unit-tested natively with tables):
//! - `sync/core/`: index, partitions, meta, sidecar, dirty tracking, change detection, walk
//!   plans, three-way reconcile, reports.
//! - `paths.rs`: cache-relative path rules and [`paths::CachePath`], checked once.
//! - `timefmt.rs`: the JavaScript-compatible time format.
//! - `gcs/generation.rs`: [`gcs::Generation`]: fingerprint, write condition, match.
//! - `error.rs`: the one error type; its kinds are the WIT error cases callers act on.
//! - `retry.rs`: backoff maths and [`retry::RetryBudget`], shared by every loop that retries.
//! - `config.rs`: the `.swamp.yaml` config object, validated once.
//!
//! The operations over them:
//! - `gcs/`: the JSON-API client: request builders, response parsing, integrity checks,
//!   resumable uploads, lost-reply resolution by read-back.
//! - `auth/`: Application Default Credentials and the token cache.
//! - `sync/`: [`sync::SyncService`]: mark-dirty, push, pull, status, hydrate, catalogs;
//!   registering and listing namespaces (`sync/namespaces.rs`).
//! - `control/`: the control-plane store: records at `[{ns}/]_control/{key}`, outside every
//!   index and walk; `put-if-absent` settles lost replies by a claim (`gcs/create_only.rs`).
//! - `lock/`: the generation-based distributed lock.
//! - `progress.rs`: progress events for the host, as marked lines on stderr.
//! - `verify.rs`: the health check.
//!
//! Tests only: `test_doubles/` (the in-memory GCS, a scripted transport, a settable clock
//! and the executor that runs them) and
//! `tests_props/` (property tests of the parsers, partition keys and path rules).
//!
//! # Design decisions
//! - Everything above the seam is generic over `Transport + Clock`, so the whole engine is
//!   unit-tested natively with in-memory fakes; the component adds only the WASI edge.
//! - No threads: concurrency is many requests in flight inside one call, driven by
//!   wasi:io polling (wstd's reactor) with a sliding window.
//! - Every conditional write carries a generation precondition; a 412 after an ambiguous
//!   failure is settled by reading the object back, never by guessing.
//! - Modules are crate-private: nothing outside the component uses the crate, so the
//!   compiler reports dead code. Natively the component's exports (`component.rs`) are not
//!   compiled and what only they use would look dead or unused, so those lints are left to the wasm32
//!   build (linted with `-D warnings` in CI).

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code, unused_imports))]

pub(crate) mod auth;
pub(crate) mod cache;
pub(crate) mod config;
pub(crate) mod control;
pub(crate) mod error;
pub(crate) mod gcs;
pub(crate) mod lock;
pub(crate) mod paths;
pub(crate) mod progress;
pub(crate) mod retry;
pub(crate) mod sync;
pub(crate) mod timefmt;
pub(crate) mod transport;
pub(crate) mod verify;

#[cfg(test)]
mod test_doubles;
#[cfg(test)]
mod tests_props;

#[cfg(target_arch = "wasm32")]
mod component;
#[cfg(target_arch = "wasm32")]
mod runtime;
#[cfg(target_arch = "wasm32")]
mod wasi_platform;
