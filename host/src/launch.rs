//! Opening a datastore the way swamp would: one sandbox per datastore, the cache as its only
//! writable directory, copies of exactly the credential files ADC needs, a chosen set of
//! environment variables, and HTTP only to the endpoints this config can need.

use crate::host::{CredentialFile, DatastoreOptions, GUEST_CREDENTIALS_DIR};
use crate::send::{authority_of_url, AllowList};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Variables passed through to the guest when set here (nothing else is visible to it).
const PASSED_ENV: &[&str] = &[
    "SWAMP_GCS_REQUEST_TIMEOUT_MS",
    "SWAMP_GCS_SYNC_TRACE",
    "STORAGE_EMULATOR_HOST",
    "GCE_METADATA_HOST",
    "GCE_METADATA_ROOT",
    "USER",
    "USERNAME",
    "HOSTNAME",
];

/// OAuth and metadata endpoints ADC may call.
const AUTH_AUTHORITIES: &[&str] = &[
    "oauth2.googleapis.com:443",
    "accounts.google.com:443",
    "metadata.google.internal:80",
    "169.254.169.254:80",
];

/// Build sandbox options for `config_json` and a cache directory, reading the process
/// environment for credentials.
pub fn options_for(config_json: &str, cache_dir: &Path) -> DatastoreOptions {
    options_with_env(config_json, cache_dir, &|k| {
        std::env::var(k).ok().filter(|v| !v.is_empty())
    })
}

/// Same as [`options_for`] with an injectable environment (for tests).
pub fn options_with_env(
    config_json: &str,
    cache_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> DatastoreOptions {
    let config: Value = serde_json::from_str(config_json).unwrap_or(Value::Null);
    let endpoint = config
        .get("apiEndpoint")
        .and_then(Value::as_str)
        .map(String::from)
        .or_else(|| {
            env("STORAGE_EMULATOR_HOST").map(|h| {
                if h.contains("://") {
                    h
                } else {
                    format!("http://{h}")
                }
            })
        })
        .unwrap_or_else(|| "https://storage.googleapis.com".into());
    let mut allow = AllowList::default();
    allow.allow_url(&endpoint);
    for a in AUTH_AUTHORITIES {
        allow.allow(a);
    }
    if let Some(h) = env("GCE_METADATA_HOST").or_else(|| env("GCE_METADATA_ROOT")) {
        allow.allow_url(&format!("http://{h}"));
    }

    let mut opts = DatastoreOptions {
        cache_dir: cache_dir.to_path_buf(),
        allow,
        env: Vec::new(),
        credential_files: Vec::new(),
        inherit_stderr: false,
        progress: false,
        show_stderr_on_panic: false,
    };
    for k in PASSED_ENV {
        if let Some(v) = env(k) {
            opts.env.push((k.to_string(), v));
        }
    }
    opts.env
        .push(("SWAMP_GCS_HOST_PID".into(), std::process::id().to_string()));
    if env("HOSTNAME").is_none() {
        if let Some(h) = hostname() {
            opts.env.push(("HOSTNAME".into(), h));
        }
    }

    if let Some(path) = env("GOOGLE_APPLICATION_CREDENTIALS") {
        let path = PathBuf::from(path);
        allow_token_uri(&mut opts.allow, &path);
        opts.credential_files.push(CredentialFile {
            guest_name: "application_credentials.json".into(),
            host_path: path,
        });
        opts.env.push((
            "GOOGLE_APPLICATION_CREDENTIALS".into(),
            format!("{GUEST_CREDENTIALS_DIR}/application_credentials.json"),
        ));
    }
    let gcloud_dir = env("CLOUDSDK_CONFIG")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".config/gcloud")));
    if let Some(dir) = gcloud_dir {
        let adc = dir.join("application_default_credentials.json");
        if adc.is_file() {
            allow_token_uri(&mut opts.allow, &adc);
            opts.credential_files.push(CredentialFile {
                guest_name: "gcloud/application_default_credentials.json".into(),
                host_path: adc,
            });
            opts.env.push((
                "CLOUDSDK_CONFIG".into(),
                format!("{GUEST_CREDENTIALS_DIR}/gcloud"),
            ));
        }
    }
    opts
}

/// A credential file may name its own token endpoint; allow it.
fn allow_token_uri(allow: &mut AllowList, path: &Path) {
    let uri = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v.get("token_uri").and_then(Value::as_str).map(String::from));
    if let Some(uri) = uri {
        if authority_of_url(&uri).is_some() {
            allow.allow_url(&uri);
        }
    }
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_follows_the_config() {
        let env = |_: &str| None;
        let o = options_with_env(
            r#"{"bucket":"b","apiEndpoint":"http://127.0.0.1:4443"}"#,
            Path::new("/tmp/c"),
            &env,
        );
        assert!(o.allow.allows("127.0.0.1:4443"));
        assert!(!o.allow.allows("storage.googleapis.com:443"));
        let o = options_with_env(r#"{"bucket":"b"}"#, Path::new("/tmp/c"), &env);
        assert!(o.allow.allows("storage.googleapis.com:443"));
        assert!(o.allow.allows("oauth2.googleapis.com:443"));
    }

    #[test]
    fn only_chosen_variables_pass() {
        let env = |k: &str| match k {
            "SWAMP_GCS_REQUEST_TIMEOUT_MS" => Some("5000".to_string()),
            "SECRET_THING" => Some("x".to_string()),
            "STORAGE_EMULATOR_HOST" => Some("127.0.0.1:9000".to_string()),
            _ => None,
        };
        let o = options_with_env(r#"{"bucket":"b"}"#, Path::new("/tmp/c"), &env);
        let names: Vec<&str> = o.env.iter().map(|(k, _)| k.as_str()).collect();
        assert!(names.contains(&"SWAMP_GCS_REQUEST_TIMEOUT_MS"));
        assert!(!names.contains(&"SECRET_THING"));
        assert!(o.allow.allows("127.0.0.1:9000"));
    }
}
