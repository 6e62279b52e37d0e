//! The remedies shown to the user next to a credential error.
//!
//! The texts follow the TypeScript client's so that users who met the old
//! messages recognise the new ones. Each one names what to do, not what went wrong: the
//! error message carries the "what".

/// Shown when a token endpoint answers `invalid_grant`: the refresh token or key was
/// revoked or expired, and only a new login fixes it. Retrying cannot help.
pub const SESSION_EXPIRED: &str = "Datastore session expired: your GCP Application Default Credentials have expired or been revoked. Run 'gcloud auth application-default login' to refresh, then retry.";

/// Shown when no credential source worked: no `GOOGLE_APPLICATION_CREDENTIALS`, no gcloud
/// ADC file, and no reachable metadata server.
pub const NO_CREDENTIALS: &str = "Could not obtain GCP credentials. Set GOOGLE_APPLICATION_CREDENTIALS, run 'gcloud auth application-default login', or run on a GCE instance with an attached service account.";

/// Shown for any other token-endpoint failure (a 5xx, a malformed answer, a broken key):
/// the credential source exists but could not be turned into a token.
pub const TOKEN_REFRESH_FAILED: &str = "Could not refresh the GCP access token: check GOOGLE_APPLICATION_CREDENTIALS, gcloud ADC, or the attached service account, then retry.";

/// Shown when a credential file names a type this datastore cannot use.
pub const UNSUPPORTED_TYPE: &str = "Use a service_account or authorized_user credential file (or unset GOOGLE_APPLICATION_CREDENTIALS to fall back to gcloud ADC or the metadata server).";

/// Shown when the file `GOOGLE_APPLICATION_CREDENTIALS` names cannot be read or parsed.
pub const BAD_ENV_FILE: &str = "Point GOOGLE_APPLICATION_CREDENTIALS at a readable service_account or authorized_user JSON key file, or unset it.";

/// Shown when gcloud's ADC file exists but cannot be read or parsed.
pub const BAD_GCLOUD_FILE: &str = "Run 'gcloud auth application-default login' to rewrite the gcloud ADC file, or set GOOGLE_APPLICATION_CREDENTIALS.";
