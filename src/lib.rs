//! gcs-datastore: swamp's Google Cloud Storage datastore as a WASI 0.2 component.
//!
//! The component keeps a swamp cache directory in sync with a bucket, wire- and
//! file-compatible with the TypeScript `@swamp/gcs-datastore` extension. It imports only
//! standard WASI (wasi:http for every request, wasi:filesystem for the one preopened cache
//! directory, clocks, random, environment) and exports the interfaces of `wit/world.wit`.
//!
//! # Layout
//! - `component.rs` (wasm only): WIT bindings and conversions; no logic.
//! - `runtime.rs` (wasm only): per-instance state: client, credentials, cache, sync service.
//! - `wasi_platform.rs` (wasm only): the one `Transport`/`Clock` over wasi:http and clocks.
//! - `transport.rs`: the I/O seam: requests/responses as values, `Transport`, `Clock`.
//! - `config.rs`: the `.swamp.yaml` config object, validated once.
//! - `error.rs`: the one error type (kind, retryability, GCS detail).
//! - `retry.rs`: retry classification, backoff maths, the retry loop.
//! - `gcs/`: the JSON-API client: pure request builders and response parsing, integrity
//!   checks, resumable uploads, lost-reply resolution by read-back.
//! - `auth/`: Application Default Credentials and the token cache.
//! - `cache_fs.rs`: cache paths checked to stay inside the cache; atomic writes.
//! - `sync/`: the sync engine: a pure core (index, partitions, sidecar, change detection,
//!   plans) and the push/pull orchestration over it.
//! - `lock/`: the generation-based distributed lock.
//! - `progress.rs`: progress events for the host, as marked lines on stderr.
//! - `verify.rs`: the health check.
//! - `tests_props/` (tests only): property tests of the parsers, partition keys and path
//!   rules.
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
//!   compiled and what only they use would look dead, so that lint is left to the wasm32
//!   build (linted with `-D warnings` in CI).

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

pub(crate) mod auth;
pub(crate) mod cache;
pub(crate) mod config;
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
mod test_fake;
#[cfg(test)]
mod tests_props;

#[cfg(target_arch = "wasm32")]
mod component;
#[cfg(target_arch = "wasm32")]
mod runtime;
#[cfg(target_arch = "wasm32")]
mod wasi_platform;
