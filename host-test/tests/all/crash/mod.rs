//! Crash and wire-fault tests of the sync service (issue 6) through the real component
//! in wasmtime, against the in-process fake GCS (exact GCS semantics, preconditions
//! included). Faults are injected by the host between the guest and the server, so the
//! component cannot tell them from a real network or a real crash.
//!
//! - `common`: shared fixtures (`tests/common/mod.rs`): servers, caches, `open`.
//! - `support`: the sync tests' helpers (`../sync/support.rs`): `Env`, option
//!   builders, `sidecar()`, `local_index()`, `written_between`, `temp_files`, ...
//! - `world`: the three starting states (a push with uploads, a deletion, a new model;
//!   a pull of what another cache pushed, with replacements (one of equal size) and a
//!   deletion; a push that only rewrites the index) and the
//!   end-state snapshot the crash tests compare.
//! - `crashes`: for push, pull and the index-only push, interrupt the call after its
//!   k-th request for every k — either every later request fails (`cut`) or the host
//!   drops the call, store and all, while request k+1 hangs (`killed`) — rerun in a
//!   fresh datastore, and require the end state of an uninterrupted run.
//! - `replies`: a push's resumable upload interrupted at every request and every reply
//!   ends complete, or failed and still dirty, never failed over a stored object.
//! - `wire`: 503s beyond the retry budget on an upload, a truncated and a corrupted
//!   download, 429 `rateLimitExceeded` on the index write, an index read cut short.

mod crashes;
mod replies;
mod wire;
mod world;
