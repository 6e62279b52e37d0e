//! `gcs-host`: the wasmtime host of the gcs-datastore component. The `swamp-gcs` command
//! line (`swamp-gcs/`), the benchmarks (`bench/`) and the integration tests (`host-test/`)
//! share it. `build.rs` builds the guest component and embeds it.
//!
//! - `host.rs`: load the component once, open datastores in fresh sandboxed stores.
//! - `code_cache.rs`: the compiled component kept between runs, keyed by component and
//!   engine (`SWAMP_GCS_CODE_CACHE`, default `~/.cache/swamp-gcs`).
//! - `datastore.rs`: typed calls into one datastore's exports; `CallError`
//!   (`datastore/control_plane.rs`: the `control-plane` calls).
//! - `send.rs`: the HTTP send path: allow-list, pooled client, accounting.
//! - `traffic.rs`: request classification (list, metadata, download, upload, ...) and counts.
//! - `faults.rs` (feature `faults`, for tests only): fault rules (delay, status, canned
//!   answer, reset, lost reply, truncate, short body, corrupt, stall) and how the send path
//!   applies them.
//! - `guest_progress.rs`: the guest's stderr split into progress events and pass-through.
//! - `hints.rs`: the remedy under an error, by its kind (one table).
//! - `heartbeat.rs`: keeping a held lock alive (`extend` every ttl/3), `with_lock`.
//! - `emulator.rs`: start and stop fake-gcs-server from the project's virtualenv.
//! - `launch.rs`: sandbox options the way swamp would host a datastore (allow-list, env,
//!   credential files) for the CLI and benchmarks.
//! - `bindings.rs`: `bindgen!` of the WIT world.

pub mod bindings;
pub mod code_cache;
pub mod datastore;
pub mod emulator;
#[cfg(feature = "faults")]
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
