//! One integration test binary; every test drives the real component in wasmtime.
//!
//! - `support`: the shared fixtures in `tests/common/mod.rs` (servers, caches, datastores).
//! - `smoke`: the component loads and answers through the harness.

mod smoke;
#[path = "../common/mod.rs"]
mod support;
