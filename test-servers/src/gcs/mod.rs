//! An in-process fake of the Google Cloud Storage JSON API that honours GCS semantics
//! (see `docs/gcs.md`): generations and metagenerations, every precondition
//! on every object operation, resumable uploads that neither duplicate nor lose bytes,
//! key-based pagination, GCS's error envelope, and an optional per-object write rate limit.
//! Emulators that skip these let lock and CAS tests pass while proving nothing.
//!
//! Files:
//! - `mod.rs`: the public handle [`FakeGcs`] and the records it hands out.
//! - `server.rs`: accept loop, hyper glue, request log.
//! - `routes.rs`: method + path to handler; `fields=` and `x-guploader-uploadid`.
//! - `request.rs` / `reply.rs`: decoded request (path segments, query) and handler output.
//! - `store.rs`: the state behind one mutex; create/delete/metadata-update with checks.
//! - `preconditions.rs`: `if[Source](Meta)Generation(Not)Match` rules.
//! - `rate_limit.rs`: the optional per-object mutation limit (429 `rateLimitExceeded`).
//! - `buckets.rs`: bucket insert/get. `objects.rs`: object GET (JSON/media/Range), DELETE,
//!   PATCH. `list.rs`: listing and page tokens.
//! - `upload.rs`: media and multipart uploads; `multipart.rs`: the body parser;
//!   `resumable.rs`: resumable sessions.
//! - `rewrite.rs`: rewrite (with emulated partial progress) and copy.
//! - `resource.rs`: JSON resources; `hashes.rs`: CRC32C/MD5; `clock.rs`: time;
//!   `fields.rs`: the partial-response selector; `errors.rs`: the error envelope.
//!
//! Deliberate deviations from GCS are documented where they are made: failed `*NotMatch`
//! on writes is 412 (`preconditions.rs`), no object versioning (`store.rs`), `matchGlob` is
//! rejected (`list.rs`), rewrites take several calls (`rewrite.rs`).

mod buckets;
mod clock;
mod errors;
mod fields;
mod hashes;
mod list;
mod multipart;
mod objects;
mod preconditions;
mod rate_limit;
mod reply;
mod request;
mod resource;
mod resumable;
mod rewrite;
mod routes;
mod server;
mod store;
mod upload;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use store::{NewObject, Object, Shared};

/// A running fake. The server stops when this handle is dropped.
#[derive(Debug)]
pub struct FakeGcs {
    shared: Arc<Shared>,
    port: u16,
    accept: JoinHandle<()>,
}

/// A snapshot of a live object, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub data: Vec<u8>,
    pub generation: i64,
    pub metageneration: i64,
    pub updated_unix_ms: i64,
    pub content_type: String,
    pub metadata: BTreeMap<String, String>,
}

/// One handled request. `path` has percent-escapes decoded, so an object segment reads as
/// the object name (`a%2Fb` is logged as `a/b`); `query` is the raw query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
}

impl From<&Object> for StoredObject {
    fn from(o: &Object) -> StoredObject {
        StoredObject {
            data: o.data.to_vec(),
            generation: o.generation,
            metageneration: o.metageneration,
            updated_unix_ms: o.updated_ms,
            content_type: o.content_type.clone(),
            metadata: o.metadata.clone(),
        }
    }
}

impl FakeGcs {
    /// Binds 127.0.0.1 on a free port and serves on the current tokio runtime.
    pub async fn start() -> anyhow::Result<FakeGcs> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared::new(format!("http://127.0.0.1:{port}")));
        let accept = tokio::spawn(server::serve(listener, Arc::clone(&shared)));
        Ok(FakeGcs {
            shared,
            port,
            accept,
        })
    }

    /// `http://127.0.0.1:PORT`, suitable as an API endpoint / `STORAGE_EMULATOR_HOST`.
    pub fn endpoint(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates a bucket directly (no-op if it exists).
    pub fn create_bucket(&self, name: &str) {
        self.shared.state().create_bucket(name);
    }

    /// Writes an object directly, bypassing preconditions and the rate limit, and returns
    /// its new generation. Creates the bucket if needed.
    pub fn put_object(&self, bucket: &str, name: &str, data: &[u8]) -> i64 {
        let new = NewObject {
            data: Bytes::copy_from_slice(data),
            content_type: upload::DEFAULT_CONTENT_TYPE.to_owned(),
            metadata: BTreeMap::new(),
        };
        self.shared.state().insert(bucket, name, new).generation
    }

    pub fn get_object(&self, bucket: &str, name: &str) -> Option<StoredObject> {
        let state = self.shared.state();
        state
            .live(bucket, name)
            .ok()
            .flatten()
            .map(StoredObject::from)
    }

    /// Deletes directly; `false` if there was nothing to delete.
    pub fn delete_object(&self, bucket: &str, name: &str) -> bool {
        let mut state = self.shared.state();
        state
            .buckets
            .get_mut(bucket)
            .is_some_and(|b| b.objects.remove(name).is_some())
    }

    /// Object names in the bucket, in GCS (byte-wise) order.
    pub fn object_names(&self, bucket: &str) -> Vec<String> {
        let state = self.shared.state();
        state
            .bucket(bucket)
            .map(|b| b.objects.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Backdates (or sets) `updated`, e.g. to make a lock look stale. No-op if missing.
    pub fn set_updated(&self, bucket: &str, name: &str, unix_ms: i64) {
        let mut state = self.shared.state();
        if let Some(object) = state
            .buckets
            .get_mut(bucket)
            .and_then(|b| b.objects.get_mut(name))
        {
            object.updated_ms = unix_ms;
        }
    }

    /// Enables GCS's per-object mutation limit: a create, overwrite, delete, copy/rewrite
    /// destination or patch within `min_interval` of the previous successful mutation of the
    /// same object gets 429 `rateLimitExceeded`. `None` disables it (the default).
    pub fn set_write_rate_limit(&self, min_interval: Option<Duration>) {
        self.shared.state().rate_limit.set(min_interval);
    }

    /// Per-call rewrite progress when the client sends no `maxBytesRewrittenPerCall`
    /// (default 1 MiB; 0 finishes every rewrite in one call).
    pub fn set_rewrite_chunk(&self, bytes: u64) {
        self.shared.state().rewrite_chunk = bytes;
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.log().clone()
    }

    pub fn clear_requests(&self) {
        self.shared.log().clear();
    }
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
