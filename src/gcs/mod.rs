//! The GCS JSON-API client.
//!
//! - `generation.rs`: PURE generations: fingerprint, write condition, match.
//! - `encode.rs`: percent-encoding of object names (one path segment) and queries.
//! - `checksum.rs`: CRC32C and MD5 as GCS encodes them, `x-goog-hash` parsing and checks.
//! - `request.rs`: PURE request builders, one per API call.
//! - `response.rs`: PURE response models and the single error classification.
//! - `client.rs`: signing, sending, retries, integrity, resumable uploads, read-back.
//! - `create_only.rs`: create-only writes tagged with a claim, lost replies settled by it.

pub mod checksum;
pub mod client;
pub mod create_only;
pub mod encode;
pub mod generation;
pub mod request;
pub mod response;

#[cfg(test)]
pub use client::NoAuth;
pub use client::{Authorizer, GcsClient};
pub use create_only::CreateOnly;
pub use generation::Generation;
pub use response::ObjectMeta;
