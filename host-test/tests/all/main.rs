//! The one integration-test binary: every test drives the real component in wasmtime,
//! against fake-gcs-server 1.54.0 or the in-process fake GCS started by the test. One
//! binary links wasmtime once; each suite is a module, run alone with `cargo test --release
//! -p host-test --test all <suite>::`. The tests of the `swamp-gcs` executable are in
//! `swamp-gcs/tests/cli` (`cargo test --release -p swamp-gcs --test cli`), where Cargo
//! builds the binary first and names it in `CARGO_BIN_EXE_swamp-gcs`.
//!
//! | module | proves |
//! |---|---|
//! | `common` | shared fixtures: servers, caches, datastores, guest stderr on failure |
//! | `smoke` | the component loads and moves one object through the harness |
//! | `foundation` | config, auth, the objects interface, integrity, retries, replies, sandbox |
//! | `lock` | the distributed lock: format, exclusion, steal, heartbeat, lost replies |
//! | `sync` | push and pull: seed scenarios, traps, compatibility fixtures, scale, races, remote changes |
//! | `hostile` | a hostile cache and bucket, concurrent writers |
//! | `crash` | a process killed or a reply cut after every request converges on a rerun |

mod common;
mod crash;
mod foundation;
mod hostile;
mod lock;
mod smoke;
mod sync;
