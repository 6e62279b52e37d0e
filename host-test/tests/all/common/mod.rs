//! Fixtures shared by every suite of the integration-test binary: servers (in-process
//! fake GCS, fake-gcs-server, optionally real GCS), temp caches, configured datastores
//! and small assertion helpers.

#![allow(dead_code)]

use gcs_host::datastore::GuestError;
use gcs_host::emulator::FakeGcsServer;
use gcs_host::host::CredentialFile;
use gcs_host::send::{authority_of_url, AllowList};
use gcs_host::{CallError, CallResult, Datastore, DatastoreOptions, Host};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use test_servers::gcs::FakeGcs;

/// Which GCS server a test runs against.
pub enum Server {
    /// The in-process fake that honours GCS semantics exactly.
    Fake(FakeGcs),
    /// fake-gcs-server 1.54.0 (ignores most preconditions).
    Emulator(FakeGcsServer),
    /// Real GCS, when `GCS_TEST_BUCKET` and credentials are set.
    Real(RealGcs),
}

/// Where real-GCS tests write: a bucket, a prefix unique to this test, and a credential.
#[derive(Debug, Clone)]
pub struct RealGcs {
    /// `GCS_TEST_BUCKET`.
    pub bucket: String,
    /// A fresh prefix so concurrent tests and runs never see each other's objects.
    pub prefix: String,
    /// The credential file and how the guest finds it.
    pub credential: RealCredential,
}

/// The host credential handed to the guest for real-GCS runs.
#[derive(Debug, Clone)]
pub enum RealCredential {
    /// `GOOGLE_APPLICATION_CREDENTIALS` names this file.
    EnvFile(PathBuf),
    /// gcloud's `application_default_credentials.json`.
    GcloudFile(PathBuf),
}

impl RealGcs {
    /// From the environment, or `None` (the caller reports the skip).
    pub fn from_env() -> Option<RealGcs> {
        let bucket = std::env::var("GCS_TEST_BUCKET")
            .ok()
            .filter(|b| !b.is_empty())?;
        let nonempty = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let credential = if let Some(p) = nonempty("GOOGLE_APPLICATION_CREDENTIALS") {
            RealCredential::EnvFile(PathBuf::from(p))
        } else {
            let dir = nonempty("CLOUDSDK_CONFIG")
                .map(PathBuf::from)
                .or_else(|| nonempty("HOME").map(|h| PathBuf::from(h).join(".config/gcloud")))?;
            let file = dir.join("application_default_credentials.json");
            if !file.is_file() {
                return None;
            }
            RealCredential::GcloudFile(file)
        };
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let prefix = format!(
            "swamp-gcs-conformance/{}-{nanos}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        Some(RealGcs {
            bucket,
            prefix,
            credential,
        })
    }

    fn options(&self, cache: &Path) -> DatastoreOptions {
        let mut allow = AllowList::default();
        allow.allow("storage.googleapis.com:443");
        allow.allow("oauth2.googleapis.com:443");
        let host_path = match &self.credential {
            RealCredential::EnvFile(p) | RealCredential::GcloudFile(p) => p.clone(),
        };
        // A credential file may name its own token endpoint.
        if let Some(uri) = std::fs::read(&host_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| {
                v.get("token_uri")
                    .and_then(|u| u.as_str())
                    .map(String::from)
            })
        {
            allow.allow_url(&uri);
        }
        let (guest_name, env) = match &self.credential {
            RealCredential::EnvFile(_) => (
                "application_credentials.json".to_string(),
                (
                    "GOOGLE_APPLICATION_CREDENTIALS".to_string(),
                    "/credentials/application_credentials.json".to_string(),
                ),
            ),
            RealCredential::GcloudFile(_) => (
                "gcloud/application_default_credentials.json".to_string(),
                (
                    "CLOUDSDK_CONFIG".to_string(),
                    "/credentials/gcloud".to_string(),
                ),
            ),
        };
        DatastoreOptions {
            cache_dir: cache.to_path_buf(),
            allow,
            env: vec![env],
            credential_files: vec![CredentialFile {
                guest_name,
                host_path,
            }],
            inherit_stderr: false,
            progress: false,
            show_stderr_on_panic: true,
        }
    }
}

impl Server {
    /// Start the in-process fake with a bucket.
    pub async fn fake(bucket: &str) -> Server {
        let f = FakeGcs::start().await.expect("start fake GCS");
        f.create_bucket(bucket);
        Server::Fake(f)
    }

    /// Start fake-gcs-server with a bucket.
    pub fn emulator(bucket: &str) -> Server {
        let e = FakeGcsServer::start().expect("start fake-gcs-server (run scripts/setup.sh first)");
        e.create_bucket(bucket).expect("create bucket");
        Server::Emulator(e)
    }

    /// Real GCS when configured by the environment.
    pub fn real() -> Option<Server> {
        RealGcs::from_env().map(Server::Real)
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> String {
        match self {
            Server::Fake(f) => f.endpoint(),
            Server::Emulator(e) => e.endpoint(),
            Server::Real(_) => "https://storage.googleapis.com".into(),
        }
    }

    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Server::Fake(_) => "in-process fake",
            Server::Emulator(_) => "fake-gcs-server",
            Server::Real(_) => "real GCS",
        }
    }

    /// The in-process fake, when that is the server.
    pub fn as_fake(&self) -> Option<&FakeGcs> {
        match self {
            Server::Fake(f) => Some(f),
            _ => None,
        }
    }

    /// Sandbox options for a datastore on this server.
    pub fn options(&self, cache: &Cache) -> DatastoreOptions {
        match self {
            Server::Real(r) => r.options(cache.path()),
            _ => DatastoreOptions {
                show_stderr_on_panic: true,
                ..DatastoreOptions::new(cache.path(), &self.endpoint())
            },
        }
    }

    /// The config JSON for this server, with extra fields merged in. Real GCS uses its own
    /// bucket and a per-test prefix; `bucket` applies to the local servers.
    pub fn config(&self, bucket: &str, extra: &str) -> String {
        match self {
            Server::Real(r) => {
                let extra = if extra.is_empty() {
                    String::new()
                } else {
                    format!(",{extra}")
                };
                format!(
                    r#"{{"bucket":"{}","prefix":"{}"{extra}}}"#,
                    r.bucket, r.prefix
                )
            }
            _ => config(&self.endpoint(), bucket, extra),
        }
    }
}

/// A temp cache directory inside a temp parent (so tests can check that nothing was
/// written next to the cache); the sync scenarios' own, so both share one.
pub use sync_scenarios::Cache;

/// The config JSON for a server and bucket, with extra fields merged in.
pub fn config(endpoint: &str, bucket: &str, extra: &str) -> String {
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(",{extra}")
    };
    format!(r#"{{"bucket":"{bucket}","apiEndpoint":"{endpoint}","retryInitialDelayMs":20{extra}}}"#)
}

/// Open and configure a datastore on `cache`, allowing only what the server needs.
pub async fn open(
    host: &Host,
    server: &Server,
    bucket: &str,
    cache: &Cache,
    extra: &str,
) -> Datastore {
    let opts = server.options(cache);
    let mut ds = host.open(&opts).await.expect("open datastore");
    ds.configure(&server.config(bucket, extra))
        .await
        .expect("configure");
    ds
}

/// The error of a call that must fail.
#[track_caller]
pub fn expect_err<T: std::fmt::Debug>(r: CallResult<T>, what: &str) -> CallError {
    match r {
        Ok(v) => panic!("{what}: expected an error, got Ok({v:?})"),
        Err(e) => e,
    }
}

/// Assert that a call failed with the guest error `kind`.
#[track_caller]
pub fn assert_kind<T: std::fmt::Debug>(r: CallResult<T>, kind: &str, what: &str) -> CallError {
    let e = expect_err(r, what);
    assert_eq!(e.kind(), kind, "{what}: {e} ({e:?})");
    e
}

/// The guest error, panicking on a host failure.
#[track_caller]
pub fn guest(e: &CallError) -> &GuestError {
    e.guest()
        .unwrap_or_else(|| panic!("expected a guest error, got {e:?}"))
}

/// Print a line that cargo's output capture does not swallow (for skip notices).
pub fn notice(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Deterministic, non-repeating test bytes.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(7) as u8 ^ seed)
        .collect()
}

/// `authority_of_url` re-exported for tests that build allow-lists.
pub fn authority(url: &str) -> String {
    authority_of_url(url).expect("an http(s) URL")
}

/// The bucket the single-server tests use.
pub const BUCKET: &str = "bkt";

/// A server, a host, a cache and a datastore configured on them.
pub struct Setup {
    pub server: Server,
    pub host: Host,
    pub cache: Cache,
    pub ds: Datastore,
}

impl Setup {
    /// The in-process fake with bucket [`BUCKET`] and `extra` config fields.
    pub async fn fake(extra: &str) -> Setup {
        let server = Server::fake(BUCKET).await;
        let host = Host::new().expect("load the component");
        let cache = Cache::new();
        let ds = open(&host, &server, BUCKET, &cache, extra).await;
        Setup {
            server,
            host,
            cache,
            ds,
        }
    }

    /// The fake GCS (panics for other servers).
    pub fn gcs(&self) -> &FakeGcs {
        self.server.as_fake().expect("the in-process fake")
    }

    /// Requests of `kind` the host has seen so far.
    pub fn count(&self, kind: gcs_host::traffic::RequestKind) -> u64 {
        self.host.traffic.snapshot().count(kind)
    }
}
