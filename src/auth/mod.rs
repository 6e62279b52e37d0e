//! Google Application Default Credentials (ADC) for the GCS client: finding a credential,
//! turning it into an OAuth access token, and caching that token.
//!
//! The module is pure of WASI. It reads variables and files only through the host-provided
//! [`CredentialEnv`], and makes HTTP requests and reads time only through the crate's
//! [`Transport`](crate::transport::Transport) and [`Clock`](crate::transport::Clock), so
//! every path below is unit-tested natively with fakes.
//!
//! Layout:
//! - `adc.rs`: source discovery: `GOOGLE_APPLICATION_CREDENTIALS`, then gcloud's ADC
//!   file, then the metadata server (`docs/gcs.md#credential-sources`).
//! - `service_account.rs`: RS256 JWT assertion and the JWT bearer grant
//!   (`docs/gcs.md#service-account-keys`).
//! - `authorized_user.rs`: the refresh-token grant (`docs/gcs.md#authorized-user-credentials`).
//! - `metadata.rs`: the GCE/GKE/Cloud Run metadata server (`docs/gcs.md#metadata-server`).
//! - `endpoint.rs`: one bounded token request and the mapping of its failures.
//! - `token_cache.rs`: refresh margin and failure backoff (`docs/gcs.md#token-caching`).
//! - `provider.rs`: [`TokenProvider`], the single-flight cache the GCS client calls.
//! - `hints.rs`: the remedies shown with credential errors (the TypeScript client's texts).
//! - `secret.rs`: redaction; no token, key, assertion or refresh token ever reaches an
//!   error message, a `Debug` string or a panic.
//!
//! Emulator mode (`apiEndpoint` / `STORAGE_EMULATOR_HOST`) is decided by the config: the
//! client then simply never asks for a token.

mod adc;
mod authorized_user;
mod endpoint;
pub mod hints;
mod metadata;
mod provider;
mod secret;
mod service_account;
mod token_cache;

#[cfg(test)]
mod test_support;

pub use provider::TokenProvider;

/// What auth may read from its environment (the host passes only these).
///
/// Variables consulted: `GOOGLE_APPLICATION_CREDENTIALS`, `CLOUDSDK_CONFIG`, `HOME`,
/// `APPDATA`, `GCE_METADATA_HOST`, `GCE_METADATA_ROOT`. Files read: the one
/// `GOOGLE_APPLICATION_CREDENTIALS` names and gcloud's
/// `application_default_credentials.json`. A missing file must be reported as
/// `std::io::ErrorKind::NotFound`: that is what lets discovery fall through past an absent
/// gcloud file, while any other error stops it.
pub trait CredentialEnv {
    /// The value of an environment variable, or `None` when unset.
    fn var(&self, name: &str) -> Option<String>;
    /// The whole content of a file.
    fn read_file(&self, path: &str) -> std::io::Result<Vec<u8>>;
}
