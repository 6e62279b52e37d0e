//! One integration test binary; every test drives the real component in wasmtime.
//!
//! - `support`: servers (in-process fake GCS, fake-gcs-server), caches, datastores.
//! - `smoke`: the component loads and answers through the harness.

mod smoke;
mod support;
