//! The sync service (issue 3) through the real component in wasmtime, against real HTTP
//! servers: the in-process fake (`test_servers::gcs::FakeGcs`, exact GCS semantics) and
//! fake-gcs-server 1.54.0. A case whose behaviour needs no precondition runs on both
//! (`<module>::fake::<case>` and `<module>::emulator::<case>`); a case that needs
//! `ifGenerationMatch` races runs on the fake only. Every test gets a fresh server.
//!
//! - `common`: shared fixtures (`tests/common/mod.rs`): servers, caches, `open`.
//! - `support`: `Env` (server + measured host + an admin datastore that edits the bucket
//!   behind the sync's back; the shared scenarios' driver), option builders of the host's
//!   types, and, re-exported from `sync_scenarios::support`, sidecar/index readers, bucket
//!   snapshots (`written_between`: which objects a call wrote, in write order), seeding.
//! - `scenarios`: the scenarios shared with the native tests (`scenarios/`, crate
//!   `sync-scenarios`), on both servers, with `Env` as their driver: the 14 partitioning and
//!   dirty-path tests of the TypeScript client but #13
//!   (`docs/compatibility.md#counterparts-of-the-typescript-tests`), the regressions for the
//!   hazards of `docs/hazards.md`, and 1000 files / 50 models (the benchmark seeding,
//!   `BENCHMARKS.md#method`: round trip and request budgets, scoped pulls, dirty-only
//!   partition writes).
//! - `seed`: #13 of the partitioning tests (`pullConcurrency`), measured with a host-injected
//!   delay.
//! - `control`: the control-plane store: round trips under a prefix, namespaces,
//!   put-if-absent (a race of instances and a lost reply on the fake), bad keys, and
//!   records kept out of every index and cache.
//! - `race`: two pushers on different models without a lock (fake only).
//! - `shard_first`: `migrate-index` (a rerun after commits changes nothing, refusal of
//!   unpartitionable entries, meta rebuild) and two unlocked pushers committing to one v2
//!   repository (fake only).
//! - `compat`: the TypeScript-format fixtures (`fixtures/formats/`) read by the component,
//!   and a golden test of what it writes (field names, key formats, timestamps).
//! - `remote_changes`: issue 10, two caches: equal-size rewrites, rewrites without a hash
//!   or back to earlier bytes, remote deletions, conflicts, scoped and namespaced pulls;
//!   a bulk push never reverts a newer remote version.
//! - `namespaces`: issue 15, two repositories in their namespaces and a solo one in one
//!   bucket: registration and listing, pushes and pulls that never cross, catalog exports,
//!   foreign catalogs and content, a taken slug, the TypeScript manifest and catalog
//!   bytes; the create-only races on the fake.

/// Turn `async fn case(env: Env)` functions into two tests each: `fake::case` on the
/// in-process fake and `emulator::case` on fake-gcs-server.
macro_rules! on_both_servers {
    ($($case:ident),+ $(,)?) => {
        /// On the in-process fake.
        mod fake {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let env = crate::sync::support::Env::start(crate::sync::support::Which::Fake).await;
                    super::$case(env).await;
                }
            )+
        }

        /// On fake-gcs-server 1.54.0.
        mod emulator {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let env = crate::sync::support::Env::start(crate::sync::support::Which::Emulator).await;
                    super::$case(env).await;
                }
            )+
        }
    };
}

pub(crate) mod support;

mod compat;
mod control;
mod namespaces;
mod race;
mod remote_changes;
mod scenarios;
mod seed;
mod shard_first;
