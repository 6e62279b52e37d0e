//! Application Default Credentials end to end, against a local token endpoint that
//! verifies the JWT signature (`fixtures/auth/test-sa-key.pub.pem`) and a local metadata
//! server, with the in-process fake as GCS (`"credentials":"adc"` keeps auth on although
//! an `apiEndpoint` is set). The host hands the guest only the variables and read-only
//! credential files each source needs.

use crate::common::*;
use gcs_host::host::CredentialFile;
use gcs_host::send::AllowList;
use gcs_host::traffic::RequestKind;
use gcs_host::{CallError, Datastore, DatastoreOptions, Host};
use std::path::PathBuf;
use test_servers::gcs::FakeGcs;
use test_servers::token::{Grant, TokenServer, TokenServerConfig};

const SA_EMAIL: &str = "swamp-test@swamp-test-project.iam.gserviceaccount.com";
const CLIENT_ID: &str = "test-client.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "test-client-secret-xyz";
const REFRESH_TOKEN: &str = "1//test-refresh-token-abc";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/auth")
        .join(name)
}

fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

/// A fake GCS, a token/metadata server, a host and a cache; credential files are written
/// into `files` (outside the cache) and copied into the sandbox by the host.
struct Auth {
    gcs: FakeGcs,
    ts: TokenServer,
    host: Host,
    cache: Cache,
    files: tempfile::TempDir,
}

impl Auth {
    async fn start(reject_with_invalid_grant: bool) -> Auth {
        let gcs = FakeGcs::start().await.unwrap();
        gcs.create_bucket(BUCKET);
        gcs.put_object(BUCKET, "obj", b"hello");
        let ts = TokenServer::start(TokenServerConfig {
            public_key_pem: Some(read_fixture("test-sa-key.pub.pem")),
            client_email: Some(SA_EMAIL.into()),
            refresh_token: Some((CLIENT_ID.into(), CLIENT_SECRET.into(), REFRESH_TOKEN.into())),
            reject_with_invalid_grant,
            ..TokenServerConfig::default()
        })
        .await
        .unwrap();
        Auth {
            gcs,
            ts,
            host: Host::new().unwrap(),
            cache: Cache::new(),
            files: tempfile::tempdir().unwrap(),
        }
    }

    fn write_file(&self, name: &str, json: &serde_json::Value) -> PathBuf {
        let p = self.files.path().join(name);
        std::fs::write(&p, serde_json::to_vec_pretty(json).unwrap()).unwrap();
        p
    }

    fn service_account_json(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "service_account",
            "project_id": "swamp-test-project",
            "private_key_id": "test-key-1",
            "private_key": read_fixture("test-sa-key.pem"),
            "client_email": SA_EMAIL,
            "client_id": "1234567890",
            "token_uri": self.ts.token_uri(),
        })
    }

    fn authorized_user_json(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "authorized_user",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN,
            "token_uri": self.ts.token_uri(),
        })
    }

    /// Options allowing GCS and the token server only.
    fn options(&self) -> DatastoreOptions {
        let mut allow = AllowList::default();
        allow.allow_url(&self.gcs.endpoint());
        allow.allow_url(&self.ts.endpoint());
        DatastoreOptions {
            allow,
            ..DatastoreOptions::new(self.cache.path(), &self.gcs.endpoint())
        }
    }

    /// (a) `GOOGLE_APPLICATION_CREDENTIALS` naming a service-account key.
    fn service_account_options(&self) -> DatastoreOptions {
        let key = self.write_file("sa.json", &self.service_account_json());
        let mut opts = self
            .options()
            .env("GOOGLE_APPLICATION_CREDENTIALS", "/credentials/sa.json");
        opts.credential_files.push(CredentialFile {
            guest_name: "sa.json".into(),
            host_path: key,
        });
        opts
    }

    /// (b) gcloud's ADC file (authorized_user) under `CLOUDSDK_CONFIG`.
    fn gcloud_options(&self) -> DatastoreOptions {
        let file = self.write_file("adc.json", &self.authorized_user_json());
        let mut opts = self.options().env("CLOUDSDK_CONFIG", "/credentials/gcloud");
        opts.credential_files.push(CredentialFile {
            guest_name: "gcloud/application_default_credentials.json".into(),
            host_path: file,
        });
        opts
    }

    /// (c) the metadata server.
    fn metadata_options(&self) -> DatastoreOptions {
        self.options()
            .env("GCE_METADATA_HOST", &self.ts.metadata_host())
    }

    async fn open(&self, opts: &DatastoreOptions, extra: &str) -> Datastore {
        let mut ds = self.host.open(opts).await.unwrap();
        let extra = if extra.is_empty() {
            r#""credentials":"adc""#.to_string()
        } else {
            format!(r#""credentials":"adc",{extra}"#)
        };
        let effective = ds
            .configure(&config(&self.gcs.endpoint(), BUCKET, &extra))
            .await
            .unwrap();
        assert!(!effective.emulator);
        ds
    }

    fn grants(&self) -> Vec<Grant> {
        self.ts.issued().iter().map(|t| t.grant).collect()
    }

    /// Every GCS request (not the token requests) carried an Authorization header.
    fn assert_gcs_requests_authorized(&self, at_least: usize) {
        let log = self.host.traffic.log();
        let gcs: Vec<_> = log.iter().filter(|r| r.kind != RequestKind::Auth).collect();
        assert!(gcs.len() >= at_least, "{log:?}");
        assert!(gcs.iter().all(|r| r.authorized), "{log:?}");
        assert!(
            log.iter()
                .filter(|r| r.kind == RequestKind::Auth)
                .all(|r| !r.authorized),
            "token requests carry no bearer: {log:?}"
        );
    }

    /// No issued token, refresh token, client secret or key appears in the error.
    fn assert_secret_free(&self, e: &CallError) {
        let texts = [
            e.to_string(),
            e.hint(Default::default()).unwrap_or_default(),
            format!("{e:?}"),
        ];
        let key = read_fixture("test-sa-key.pem");
        let key_body = key.lines().nth(1).unwrap().to_string();
        let mut secrets = self.ts.issued_tokens();
        secrets.extend([
            REFRESH_TOKEN.to_string(),
            CLIENT_SECRET.to_string(),
            key_body,
        ]);
        for t in &texts {
            for s in &secrets {
                assert!(!t.contains(s.as_str()), "a secret leaked into {t:?}");
            }
        }
    }
}

/// (a) A service-account key named by `GOOGLE_APPLICATION_CREDENTIALS`: a signed JWT is
/// exchanged for a token, which is cached for the next call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adc_service_account_key_file() {
    let a = Auth::start(false).await;
    let mut ds = a.open(&a.service_account_options(), "").await;
    let meta = ds.stat("obj").await.unwrap().expect("object");
    assert_eq!(meta.size, 5);
    assert_eq!(ds.get_bytes("obj").await.unwrap().0, b"hello");
    assert_eq!(a.grants(), [Grant::JwtBearer], "one token, reused");
    assert_eq!(a.host.traffic.snapshot().count(RequestKind::Auth), 1);
    a.assert_gcs_requests_authorized(2);
}

/// (b) gcloud's `application_default_credentials.json` (authorized_user): the refresh
/// token grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adc_gcloud_authorized_user_file() {
    let a = Auth::start(false).await;
    let mut ds = a.open(&a.gcloud_options(), "").await;
    assert!(ds.stat("obj").await.unwrap().is_some());
    assert!(ds.stat("missing").await.unwrap().is_none());
    assert_eq!(a.grants(), [Grant::RefreshToken]);
    a.assert_gcs_requests_authorized(2);
}

/// (c) The metadata server at `GCE_METADATA_HOST` (with `Metadata-Flavor: Google`, or the
/// server would answer 403).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adc_metadata_server() {
    let a = Auth::start(false).await;
    let mut ds = a.open(&a.metadata_options(), "").await;
    assert!(ds.stat("obj").await.unwrap().is_some());
    assert!(ds.put_bytes("new", b"x", None).await.is_ok());
    assert_eq!(a.grants(), [Grant::Metadata]);
    a.assert_gcs_requests_authorized(2);
    assert_eq!(a.gcs.get_object(BUCKET, "new").unwrap().data, b"x");
}

/// `GOOGLE_APPLICATION_CREDENTIALS` wins over the gcloud file and the metadata server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adc_order_env_file_first() {
    let a = Auth::start(false).await;
    let mut opts = a.service_account_options();
    let gcloud = a.gcloud_options();
    opts.env.extend(gcloud.env);
    opts.credential_files.extend(gcloud.credential_files);
    opts = opts.env("GCE_METADATA_HOST", &a.ts.metadata_host());
    let mut ds = a.open(&opts, "").await;
    assert!(ds.stat("obj").await.unwrap().is_some());
    assert_eq!(a.grants(), [Grant::JwtBearer]);
}

/// A 401 from GCS (a token revoked before it expired): the guest fetches a new token once
/// and repeats the request, which succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_401_refreshes_the_token_once() {
    use gcs_host::faults::{FaultAction, FaultMatch, FaultRule};
    let a = Auth::start(false).await;
    let mut ds = a.open(&a.metadata_options(), "").await;
    a.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Metadata),
        FaultAction::Status(401),
        Some(1),
    ));
    assert!(ds.stat("obj").await.unwrap().is_some());
    assert_eq!(a.grants(), [Grant::Metadata, Grant::Metadata]);
    let stats: Vec<(u16, bool)> = a
        .host
        .traffic
        .log()
        .iter()
        .filter(|r| r.kind == RequestKind::Metadata)
        .map(|r| (r.status, r.authorized))
        .collect();
    assert_eq!(stats, [(401, true), (200, true)]);

    // A GCS that keeps answering 401: one refresh, then `unauthenticated` with the
    // credential hint, and no token in the error.
    a.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Metadata),
        FaultAction::Status(401),
        None,
    ));
    let e = assert_kind(ds.stat("obj").await, "unauthenticated", "persistent 401");
    assert_eq!(a.grants().len(), 3, "exactly one more refresh");
    let hint = e.hint(Default::default()).unwrap();
    assert!(hint.contains("GOOGLE_APPLICATION_CREDENTIALS"), "{hint}");
    a.assert_secret_free(&e);
}

/// A revoked login: the token endpoint answers `invalid_grant`. The call fails with
/// `unauthenticated` and the hint to log in again; GCS is never called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_grant_asks_for_a_new_login() {
    let a = Auth::start(true).await;
    let mut ds = a.open(&a.gcloud_options(), "").await;
    let e = assert_kind(ds.stat("obj").await, "unauthenticated", "invalid_grant");
    let hint = e.hint(Default::default()).unwrap();
    assert!(
        hint.contains("gcloud auth application-default login"),
        "{hint}"
    );
    assert!(e.to_string().contains("invalid_grant"), "{e}");
    a.assert_secret_free(&e);
    let snap = a.host.traffic.snapshot();
    assert_eq!(snap.count(RequestKind::Auth), 1, "{snap:?}");
    assert_eq!(snap.count(RequestKind::Metadata), 0, "GCS never called");
    assert!(a.ts.issued().is_empty());

    // The same for a service-account key whose grant is refused.
    let mut ds = a.open(&a.service_account_options(), "").await;
    let e = assert_kind(
        ds.stat("obj").await,
        "unauthenticated",
        "invalid_grant (SA)",
    );
    assert!(e
        .hint(Default::default())
        .unwrap()
        .contains("gcloud auth application-default login"));
    a.assert_secret_free(&e);
}

/// No credential file and no metadata server (its port is allowed but closed):
/// `unauthenticated` with the ADC hint, GCS never called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credentials_at_all() {
    let a = Auth::start(false).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut opts = a.options().env("GCE_METADATA_HOST", &closed.to_string());
    opts.allow.allow(&closed.to_string());
    let mut ds = a.open(&opts, "").await;
    let e = assert_kind(ds.stat("obj").await, "unauthenticated", "no credentials");
    let hint = e.hint(Default::default()).unwrap();
    assert!(hint.contains("GOOGLE_APPLICATION_CREDENTIALS"), "{hint}");
    assert!(
        hint.contains("gcloud auth application-default login"),
        "{hint}"
    );
    let snap = a.host.traffic.snapshot();
    assert_eq!(snap.count(RequestKind::Metadata), 0, "GCS never called");
    assert_eq!(
        snap.count(RequestKind::Auth),
        1,
        "one metadata-server attempt"
    );
    assert_eq!(
        snap.denied, 0,
        "the metadata host was allowed: refused by the OS"
    );
    assert_eq!(a.ts.requests(), 0);
}

/// Emulator mode (an `apiEndpoint` and no `credentials`): no token is fetched and no
/// Authorization header is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_mode_sends_no_credentials() {
    let a = Auth::start(false).await;
    // Every ADC source is offered; none may be used.
    let mut opts = a.service_account_options();
    opts = opts.env("GCE_METADATA_HOST", &a.ts.metadata_host());
    let mut ds = a.host.open(&opts).await.unwrap();
    let effective = ds
        .configure(&config(&a.gcs.endpoint(), BUCKET, ""))
        .await
        .unwrap();
    assert!(effective.emulator);
    assert!(ds.stat("obj").await.unwrap().is_some());
    let log = a.host.traffic.log();
    assert!(
        log.iter()
            .all(|r| !r.authorized && r.kind != RequestKind::Auth),
        "{log:?}"
    );
    assert_eq!(a.ts.requests(), 0);
}
