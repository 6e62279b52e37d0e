//! The wasmtime host of the gcs-datastore component: the test harness, the `swamp-gcs`
//! command line and the benchmarks share it.
//!
//! - `host.rs`: compile the component once, open datastores in fresh sandboxed stores.
//! - `datastore.rs`: typed calls into one datastore's exports; `CallError`.
//! - `send.rs`: the HTTP send path: allow-list, pooled client, accounting, faults.
//! - `traffic.rs`: request classification (list, metadata, download, upload, ...) and counts.
//! - `faults.rs`: fault rules (delay, status, canned answer, reset, lost reply, truncate,
//!   short body, corrupt, stall).
//! - `guest_progress.rs`: the guest's stderr split into progress events and pass-through.
//! - `hints.rs`: the remedy under an error, by its kind (one table).
//! - `heartbeat.rs`: keeping a held lock alive (`extend` every ttl/3), `with_lock`.
//! - `emulator.rs`: start and stop fake-gcs-server from the project's virtualenv.
//! - `launch.rs`: sandbox options the way swamp would host a datastore (allow-list, env,
//!   credential files) for the CLI and benchmarks.
//! - `cli/`: the `swamp-gcs` command line (commands, output, progress, demo).
//! - `cli_config.rs`: config from `--config`, `SWAMP_DATASTORE` or `.swamp.yaml`.
//! - `bindings.rs`: `bindgen!` of the WIT world.
//! - `bench/`: the benchmark suite behind the `bench` binary (BENCHMARKS.md).

pub mod bench;
pub mod bindings;
pub mod cli;
pub mod cli_config;
pub mod datastore;
pub mod emulator;
pub mod faults;
pub mod guest_progress;
pub mod heartbeat;
pub mod hints;
pub mod host;
pub mod launch;
pub mod send;
pub mod traffic;

pub use datastore::{CallError, CallResult, Datastore};
pub use host::{DatastoreOptions, Host};
