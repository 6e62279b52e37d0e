//! `host-test`: the integration tests of the gcs-datastore component in the wasmtime host
//! (`gcs-host`). The library is empty; everything is in one test binary:
//!
//! - `tests/all/main.rs`: the suites as modules (`common`, `smoke`, `foundation`, `lock`,
//!   `sync`, `hostile`, `crash`), run alone with `cargo test --release -p host-test --test
//!   all <suite>::`.
//! - The tests of the `swamp-gcs` binary are in that crate (`swamp-gcs/tests/cli`), where
//!   Cargo builds the binary before them.
//!
//! This crate turns on `gcs-host`'s test-only `faults` feature (a dev-dependency).
