//! The distributed lock: one object in the bucket whose existence means "held".
//!
//! - `body.rs`: the lock body, written byte-compatibly with the TypeScript client.
//! - `decide.rs`: PURE rules (staleness, waits, heartbeat period, nonce, timeout text).
//! - `distributed.rs`: the lock itself over [`GcsClient`](crate::gcs::GcsClient):
//!   create-only acquire, generation-CAS heartbeat and release, nonce-checked force release.
//!
//! Timestamps (`acquiredAt`, the object's `updated`) go through
//! [`sync::timefmt`](crate::timefmt), the crate's JS-compatible formatter and parser.
//!
//! Mutual exclusion rests on GCS preconditions alone: `ifGenerationMatch=0` lets exactly
//! one writer create the object, and every later write or delete names the generation it
//! expects, so nobody can touch a lock that changed hands without noticing.

pub mod body;
pub mod decide;
pub mod distributed;

pub use body::LockBody;
pub use distributed::{DistributedLock, LockIdentity, LockOptions};
