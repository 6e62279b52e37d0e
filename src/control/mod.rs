//! The control-plane store (swamp's `ControlPlaneStore`): small records that bypass the
//! index and the cache, at `[{ns}/]_control/{key}` under the configured prefix
//! (docs/control-plane.md). `put`, `get`, `delete`, `list`, and `put-if-absent`, a
//! create-only write for claims: of racing callers exactly one wins.
//!
//! - `keys.rs`: PURE: the key and prefix rules, the key ↔ object-key mapping.
//! - `store.rs`: [`ControlPlane`], the requests.
//! - `tests.rs`: the store against the in-memory GCS (races, lost replies, faults).
//!
//! Records never enter an index or a walk: `_control/` is internal
//! (docs/sync.md#internal-files), and a solo discovery also skips `{ns}/_control/`.

pub mod keys;
mod store;

pub use store::ControlPlane;

#[cfg(test)]
mod tests;
