//! Crash and wire-fault tests of the sync service (issue 6) through the real component
//! in wasmtime, against the in-process fake GCS (exact GCS semantics, preconditions
//! included). Faults are injected by the host between the guest and the server, so the
//! component cannot tell them from a real network or a real crash.
//!
//! - `common`: shared fixtures (`tests/common/mod.rs`): servers, caches, `open`.
//! - `support`: the sync tests' helpers (`../sync/support.rs`): `Env`, option
//!   builders, `sidecar()`, `local_index()`, `written_between`, `temp_files`, ...
//! - `world`: the starting states (a push with uploads, a deletion, a new model — on the
//!   monolith layout, on a shard-first one, and in two phases on each; a shard-first push
//!   that empties a shard; a pull of what another cache pushed, with replacements (one of
//!   equal size) and a deletion; a push that only rewrites the index; `migrate-index` of
//!   a monolith repository), the end-state snapshot the crash tests compare, and the
//!   invariants, which read the shards the meta lists on a shard-first repository.
//! - `crashes`: for each of them, interrupt the call after its k-th request for every k
//!   — either every later request fails (`cut`) or the host drops the call, store and
//!   all, while request k+1 hangs (`killed`) — rerun in a fresh datastore, and require
//!   the end state of an uninterrupted run (issues 6 and 14).
//! - `replies`: a push's resumable upload interrupted at every request and every reply
//!   ends complete, or failed and still dirty, never failed over a stored object.
//! - `wire`: 503s beyond the retry budget on an upload, a truncated and a corrupted
//!   download, 429 `rateLimitExceeded` on the index write, an index read cut short.

mod crashes;
mod replies;
mod wire;
mod world;
