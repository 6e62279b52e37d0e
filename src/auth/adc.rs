//! Application Default Credentials discovery: which source to use
//! (`docs/gcs.md#credential-sources`).
//!
//! 1. The file named by `GOOGLE_APPLICATION_CREDENTIALS`: it was set on purpose, so every
//!    problem with it is an error.
//! 2. gcloud's ADC file. Absent is normal (fall through); present but unreadable, broken or
//!    later rejected is an error with its remedy. The TypeScript client swallowed those
//!    errors and reported "no credentials", hiding the session-expired hint
//!    (`docs/hazards.md#gcloud-adc-errors-swallowed`).
//! 3. The metadata server.
//!
//! Discovery runs on every refresh (about hourly), not once: a user who runs
//! `gcloud auth application-default login` mid-session is picked up without a restart.

use serde_json::Value;

use super::authorized_user::{self, AuthorizedUser};
use super::endpoint::{FetchedToken, Origin};
use super::hints;
use super::metadata;
use super::service_account::{self, ServiceAccountKey};
use super::CredentialEnv;
use crate::error::{Error, ErrorKind, Result};
use crate::transport::Transport;

/// File name gcloud writes under its config directory.
const GCLOUD_ADC_FILE: &str = "application_default_credentials.json";

/// The credential a refresh will use.
#[derive(Debug)]
pub(crate) enum Source {
    /// A service-account key.
    ServiceAccount(ServiceAccountKey, Origin),
    /// A user's refresh token.
    AuthorizedUser(AuthorizedUser, Origin),
    /// The metadata server at this host.
    Metadata(String),
}

impl Source {
    /// Fetch a token from this source.
    pub(crate) async fn fetch<T: Transport>(
        &self,
        transport: &T,
        unix_s: u64,
    ) -> Result<FetchedToken> {
        match self {
            Source::ServiceAccount(key, origin) => {
                service_account::fetch(key, origin, transport, unix_s).await
            }
            Source::AuthorizedUser(user, origin) => {
                authorized_user::fetch(user, origin, transport).await
            }
            Source::Metadata(host) => metadata::fetch(host, transport).await,
        }
    }
}

/// Pick the source, reading the environment and at most two files.
pub(crate) fn discover(env: &dyn CredentialEnv) -> Result<Source> {
    // An empty value is treated as unset: `export GOOGLE_APPLICATION_CREDENTIALS=` is how
    // people "unset" it in scripts, and the error for reading "" would only confuse.
    if let Some(path) = env
        .var("GOOGLE_APPLICATION_CREDENTIALS")
        .filter(|p| !p.trim().is_empty())
    {
        let origin = Origin::EnvFile(path.clone());
        let bytes = env.read_file(&path).map_err(|e| bad_file(&origin, &e))?;
        return parse_credential_file(&bytes, origin);
    }
    if let Some(path) = gcloud_adc_path(env) {
        match env.read_file(&path) {
            Ok(bytes) => return parse_credential_file(&bytes, Origin::GcloudFile(path)),
            // Not logged in with gcloud: the ordinary case on servers. Only "not found"
            // falls through; a permission error is a real problem with a real file.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(bad_file(&Origin::GcloudFile(path), &e)),
        }
    }
    Ok(Source::Metadata(metadata::metadata_host(env)))
}

/// Where gcloud keeps the ADC file: `$CLOUDSDK_CONFIG/…` when set, else
/// `$HOME/.config/gcloud/…`, else (Windows hosts) `%APPDATA%\gcloud\…`.
pub(crate) fn gcloud_adc_path(env: &dyn CredentialEnv) -> Option<String> {
    let nonempty = |name: &str| env.var(name).filter(|v| !v.is_empty());
    if let Some(dir) = nonempty("CLOUDSDK_CONFIG") {
        return Some(join(&dir, GCLOUD_ADC_FILE));
    }
    if let Some(home) = nonempty("HOME") {
        return Some(join(&join(&home, ".config/gcloud"), GCLOUD_ADC_FILE));
    }
    nonempty("APPDATA").map(|dir| join(&join(&dir, "gcloud"), GCLOUD_ADC_FILE))
}

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches(['/', '\\']))
}

/// Parse a credential file and pick its grant by `type`.
fn parse_credential_file(bytes: &[u8], origin: Origin) -> Result<Source> {
    // serde_json's messages give only a line and column, never file content.
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| bad_file(&origin, &format!("not valid JSON ({e})")))?;
    match v.get("type").and_then(Value::as_str) {
        Some("service_account") => {
            let key = ServiceAccountKey::from_json(&v, &origin)?;
            Ok(Source::ServiceAccount(key, origin))
        }
        Some("authorized_user") => {
            let user = AuthorizedUser::from_json(&v, &origin)?;
            Ok(Source::AuthorizedUser(user, origin))
        }
        Some(other) => {
            // Name the type (external_account, impersonated_service_account, …) so the user
            // knows exactly what is unsupported; the value is a short identifier, but cap it
            // in case the file is something else entirely.
            let shown: String = other.chars().take(64).collect();
            Err(Error::new(
                ErrorKind::Unauthenticated {
                    hint: hints::UNSUPPORTED_TYPE.to_string(),
                },
                format!("Unsupported credential type in {origin}: {shown}"),
            ))
        }
        None => Err(bad_file(&origin, &"no `type` field")),
    }
}

fn bad_file(origin: &Origin, why: &dyn std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Unauthenticated {
            hint: origin.bad_file_hint().to_string(),
        },
        format!("cannot use {origin}: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::test_support::{test_key_json, user_json, FakeEnv};

    const GCLOUD: &str = "/users/u/.config/gcloud/application_default_credentials.json";

    #[test]
    fn env_file_wins_over_gcloud_file() {
        let env = FakeEnv::new()
            .var("GOOGLE_APPLICATION_CREDENTIALS", "/k/sa.json")
            .var("HOME", "/users/u")
            .file("/k/sa.json", &test_key_json("https://t/token"))
            .file(GCLOUD, &user_json("https://t/token"));
        match discover(&env).unwrap() {
            Source::ServiceAccount(k, Origin::EnvFile(p)) => {
                assert_eq!(p, "/k/sa.json");
                assert_eq!(k.token_uri, "https://t/token");
            }
            s => panic!("{s:?}"),
        }
    }

    #[test]
    fn gcloud_file_used_when_env_unset_or_empty() {
        let env = FakeEnv::new()
            .var("GOOGLE_APPLICATION_CREDENTIALS", "")
            .var("HOME", "/users/u/")
            .file(GCLOUD, &user_json("https://t/token"));
        assert!(matches!(
            discover(&env).unwrap(),
            Source::AuthorizedUser(_, Origin::GcloudFile(p)) if p == GCLOUD
        ));
    }

    #[test]
    fn cloudsdk_config_overrides_home() {
        let env = FakeEnv::new()
            .var("CLOUDSDK_CONFIG", "/cfg")
            .var("HOME", "/users/u");
        assert_eq!(
            gcloud_adc_path(&env).unwrap(),
            "/cfg/application_default_credentials.json"
        );
        assert_eq!(
            gcloud_adc_path(&FakeEnv::new().var("HOME", "/users/u")).unwrap(),
            GCLOUD
        );
        assert_eq!(gcloud_adc_path(&FakeEnv::new()), None);
    }

    #[test]
    fn metadata_when_no_file() {
        let env = FakeEnv::new()
            .var("HOME", "/users/u")
            .var("GCE_METADATA_HOST", "127.0.0.1:9");
        assert!(matches!(discover(&env).unwrap(), Source::Metadata(h) if h == "127.0.0.1:9"));
    }

    #[test]
    fn missing_env_file_is_an_error_not_a_fallthrough() {
        let env = FakeEnv::new()
            .var("GOOGLE_APPLICATION_CREDENTIALS", "/nope.json")
            .var("HOME", "/users/u")
            .file(GCLOUD, &user_json("https://t/token"));
        let err = discover(&env).unwrap_err();
        assert!(err.message().contains("/nope.json"), "{}", err.message());
        assert!(
            matches!(err.kind(), ErrorKind::Unauthenticated { ref hint } if hint == hints::BAD_ENV_FILE)
        );
    }

    #[test]
    fn broken_gcloud_file_is_an_error_not_a_fallthrough() {
        let env = FakeEnv::new()
            .var("HOME", "/users/u")
            .file(GCLOUD, "{ not json");
        let err = discover(&env).unwrap_err();
        assert!(
            err.message().contains("gcloud ADC file"),
            "{}",
            err.message()
        );
        assert!(
            matches!(err.kind(), ErrorKind::Unauthenticated { ref hint } if hint == hints::BAD_GCLOUD_FILE)
        );
    }

    #[test]
    fn unreadable_gcloud_file_is_an_error() {
        let env = FakeEnv::new().var("HOME", "/users/u").unreadable(GCLOUD);
        assert!(discover(&env).is_err());
    }

    #[test]
    fn unsupported_type_is_named() {
        let env = FakeEnv::new()
            .var("GOOGLE_APPLICATION_CREDENTIALS", "/k/wif.json")
            .file(
                "/k/wif.json",
                r#"{"type":"external_account","audience":"//iam.googleapis.com/x"}"#,
            );
        let err = discover(&env).unwrap_err();
        assert_eq!(
            err.message(),
            "Unsupported credential type in GOOGLE_APPLICATION_CREDENTIALS file /k/wif.json: external_account"
        );
        assert!(
            matches!(err.kind(), ErrorKind::Unauthenticated { ref hint } if hint == hints::UNSUPPORTED_TYPE)
        );
    }
}
