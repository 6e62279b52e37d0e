//! The foundation tests (issue 2, "Done when"): every test drives the real component in
//! wasmtime through the harness (`Host::new`, `host.open`, `ds.configure`).
//!
//! - `common`: shared fixtures (`tests/common/mod.rs`): servers, caches, datastores.
//! - `conformance`: one set of client cases run against the in-process fake, against
//!   fake-gcs-server 1.54.0 and, when `GCS_TEST_BUCKET` and credentials are set, against
//!   real GCS; the emulator's deviations are stated and proven, not skipped.
//! - `integrity`: corrupted or truncated downloads are caught and nothing is written.
//! - `retries`: 503 and 429 retried to success, 412 not retried, a stalled response timed
//!   out, a lost reply to a conditional write resolved by read-back, a resumable upload
//!   surviving a broken chunk.
//! - `replies`: success replies cut short or mangled are settled (session status query,
//!   read-back) rather than failed or repeated; a body cut after N bytes is an honest
//!   `transport` error; odd GCS error bodies still read as one line.
//! - `sandbox`: the component imports standard WASI 0.2 only (no sockets); a denied host
//!   is refused before any connection; no access outside the
//!   cache (`..`, absolute paths, symlinks out).
//! - `config`: invalid configs rejected naming the field; defaults and the env override.
//! - `auth`: the three ADC sources against a local token endpoint that verifies the JWT
//!   signature; 401 refresh, `invalid_grant`, no credentials; tokens never in errors.

mod auth;
mod config;
mod conformance;
mod integrity;
mod replies;
mod retries;
mod sandbox;
