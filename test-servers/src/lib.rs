//! In-process test servers for the wasmtime harness. Every server binds 127.0.0.1 on a
//! free port and stops when its handle is dropped.
//!
//! - [`gcs`]: a Google Cloud Storage JSON-API fake that honours GCS semantics exactly
//!   (generations, preconditions, resumable uploads, pagination, error envelope, optional
//!   per-object write rate limit).
//! - [`token`]: an OAuth 2.0 token endpoint that verifies RS256 JWT assertions and refresh
//!   tokens, and a GCE metadata server.

pub mod gcs;
pub mod token;
