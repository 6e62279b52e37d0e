//! Hostile input and concurrent writers (issue 6, "Hostile and broken input" and
//! "Concurrent writers"), through the real component in wasmtime against the in-process
//! fake GCS (exact GCS semantics, `ifGenerationMatch` honoured).
//!
//! Every case states its expected outcome in its doc comment: a typed error (a guest
//! error of a named kind, never a trap — a trap surfaces as `CallError::Host`) or a
//! documented safe fallback. Whatever the input, no file is written outside the cache
//! and no local file the test did not remove disappears.
//!
//! - `common`: shared fixtures (`tests/common/mod.rs`): servers, caches, `open`.
//! - `support`: the sync tests' `Env` (server + measured host + admin datastore), option
//!   builders, index/sidecar readers, seeding (`../sync/support.rs`).
//! - `checks`: the three invariants every hostile case asserts (no trap, nothing outside
//!   the cache, no local file lost or changed).
//! - `remote`: hostile monolith and partition files, a 50 MB index, objects that do not
//!   match their index entry.
//! - `local`: broken sidecars and local index copies, symlinks out of the cache,
//!   non-UTF-8 and very long file names, files vanishing before or during a push.
//! - `concurrent`: 2 and 4 writers on one bucket with and without the lock, the v1
//!   `_meta.json` written late by the first winner, and a TypeScript-format index written
//!   by "another client" in the middle of a push.

mod checks;
mod concurrent;
mod local;
mod remote;
