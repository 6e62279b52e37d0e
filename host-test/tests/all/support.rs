//! Shared fixtures: servers, temp caches and configured datastores.

#![allow(dead_code)]

use host_test::emulator::FakeGcsServer;
use host_test::{Datastore, DatastoreOptions, Host};
use std::path::{Path, PathBuf};
use test_servers::gcs::FakeGcs;

/// Which GCS server a test runs against.
pub enum Server {
    /// The in-process fake that honours GCS semantics exactly.
    Fake(FakeGcs),
    /// fake-gcs-server 1.54.0 (ignores preconditions).
    Emulator(FakeGcsServer),
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

    /// The endpoint URL.
    pub fn endpoint(&self) -> String {
        match self {
            Server::Fake(f) => f.endpoint(),
            Server::Emulator(e) => e.endpoint(),
        }
    }

    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Server::Fake(_) => "in-process fake",
            Server::Emulator(_) => "fake-gcs-server",
        }
    }
}

/// A temp cache directory that is removed on drop.
pub struct Cache {
    pub dir: tempfile::TempDir,
}

impl Cache {
    pub fn new() -> Cache {
        Cache {
            dir: tempfile::Builder::new()
                .prefix("swamp-gcs-test-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, data: &[u8]) {
        let p = self.file(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.file(rel)).unwrap()
    }
}

/// The config JSON for a server and bucket, with extra fields merged in.
pub fn config(endpoint: &str, bucket: &str, extra: &str) -> String {
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(",{extra}")
    };
    format!(r#"{{"bucket":"{bucket}","apiEndpoint":"{endpoint}","retryInitialDelayMs":20{extra}}}"#)
}

/// Open and configure a datastore on `cache`, allowing only the server.
pub async fn open(
    host: &Host,
    server: &Server,
    bucket: &str,
    cache: &Cache,
    extra: &str,
) -> Datastore {
    let opts = DatastoreOptions::new(cache.path(), &server.endpoint());
    let mut ds = host.open(&opts).await.expect("open datastore");
    ds.configure(&config(&server.endpoint(), bucket, extra))
        .await
        .expect("configure");
    ds
}
