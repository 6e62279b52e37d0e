//! One opened datastore: typed calls into the component's exports.

use crate::bindings::exports::swamp::datastore::{
    datastore, lock, namespaces, objects, sync_service, verifier,
};
use crate::bindings::swamp::datastore::types as wit;
use crate::bindings::GcsDatastore;
use crate::guest_progress::StderrTail;
use crate::host::State;
use std::fmt;
use std::sync::Arc;
use wasmtime::component::ResourceAny;
use wasmtime::Store;

mod control_plane;

pub use datastore::EffectiveConfig;
pub use lock::{LockInfo, LockOptions};
pub use namespaces::Registration;
pub use objects::{ObjectMeta, ObjectPage};
pub use sync_service::{
    CatalogExport, ForeignCatalog, IndexLayout, MigrateOutcome, MigrateReport, PhaseTiming,
    PlannedUpload, PushManifest, PushPreview, SyncReport, SyncStatus,
};
pub use verifier::Health;
pub use wit::{ModelRef, SyncCapabilities, SyncContext, SyncOptions};

/// The component's error, as WIT defines it.
pub type GuestError = wit::Error;

/// A failed call: the component reported an error, or the host/runtime failed (a trap).
#[derive(Debug)]
pub enum CallError {
    /// The component's own error.
    Guest(GuestError),
    /// A trap or host failure.
    Host(wasmtime::Error),
}

impl CallError {
    /// The guest error, if that is what it is.
    pub fn guest(&self) -> Option<&GuestError> {
        match self {
            CallError::Guest(g) => Some(g),
            CallError::Host(_) => None,
        }
    }

    /// A short name of the error case (`not-found`, `integrity`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Guest(g) => kind_of(g),
            CallError::Host(_) => "host",
        }
    }

    /// The remedy to show (`hints.rs`), naming `target` where it helps.
    pub fn hint(&self, target: crate::hints::Target<'_>) -> Option<String> {
        match self {
            CallError::Guest(g) => crate::hints::hint(g, target),
            CallError::Host(_) => None,
        }
    }
}

/// The case name of a guest error.
pub fn kind_of(e: &GuestError) -> &'static str {
    match e {
        wit::Error::NotFound(_) => "not-found",
        wit::Error::PreconditionFailed(_) => "precondition-failed",
        wit::Error::Unauthenticated(_) => "unauthenticated",
        wit::Error::PermissionDenied(_) => "permission-denied",
        wit::Error::RateLimited(_) => "rate-limited",
        wit::Error::Timeout(_) => "timeout",
        wit::Error::InvalidConfig(_) => "invalid-config",
        wit::Error::Integrity(_) => "integrity",
        wit::Error::UnsafePath(_) => "unsafe-path",
        wit::Error::Remote(_) => "remote",
        wit::Error::Io(_) => "io",
        wit::Error::LockTimeout(_) => "lock-timeout",
        wit::Error::Transport(_) => "transport",
        wit::Error::UnsupportedLayout(_) => "unsupported-layout",
        wit::Error::MalformedRemote(_) => "malformed-remote",
        wit::Error::NamespaceMismatch(_) => "namespace-mismatch",
        wit::Error::NamespaceTaken(_) => "namespace-taken",
        wit::Error::Other(_) => "other",
    }
}

/// The one-line message of a guest error.
pub fn message_of(e: &GuestError) -> String {
    match e {
        wit::Error::PreconditionFailed(m)
        | wit::Error::RateLimited(m)
        | wit::Error::Timeout(m)
        | wit::Error::Integrity(m)
        | wit::Error::UnsafePath(m)
        | wit::Error::Io(m)
        | wit::Error::UnsupportedLayout(m)
        | wit::Error::Other(m) => m.clone(),
        wit::Error::NotFound(n) => n.message.clone(),
        wit::Error::Unauthenticated(c) | wit::Error::PermissionDenied(c) => c.message.clone(),
        wit::Error::InvalidConfig(c) => c.message.clone(),
        wit::Error::MalformedRemote(m) => m.message.clone(),
        wit::Error::NamespaceMismatch(n) => n.message.clone(),
        wit::Error::NamespaceTaken(n) => n.message.clone(),
        wit::Error::Remote(r) => r.message.clone(),
        wit::Error::LockTimeout(l) => l.message.clone(),
        wit::Error::Transport(t) => t.message.clone(),
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Guest(g) => f.write_str(&message_of(g)),
            CallError::Host(e) => write!(f, "component failed: {e:#}"),
        }
    }
}

impl std::error::Error for CallError {}

impl From<wasmtime::Error> for CallError {
    fn from(e: wasmtime::Error) -> Self {
        CallError::Host(e)
    }
}

/// The result of a call into the component.
pub type CallResult<T> = Result<T, CallError>;

fn flatten<T>(r: wasmtime::Result<Result<T, GuestError>>) -> CallResult<T> {
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(g)) => Err(CallError::Guest(g)),
        Err(e) => Err(CallError::Host(e)),
    }
}

impl Drop for Datastore {
    /// A test that fails while it owns a datastore shows what the guest wrote to stderr
    /// (libtest prints a failing test's captured output).
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        if let Some(text) = self.guest_stderr().filter(|t| !t.trim().is_empty()) {
            eprintln!(
                "--- guest stderr (last {} bytes at most) ---\n{text}--- end of guest stderr ---",
                StderrTail::MAX
            );
        }
    }
}

/// A datastore in its own store.
pub struct Datastore {
    store: Store<State>,
    bindings: GcsDatastore,
    _credentials: Option<tempfile::TempDir>,
    stderr_tail: Option<Arc<StderrTail>>,
}

/// Sync options with everything unset.
pub fn no_options() -> SyncOptions {
    SyncOptions {
        rel_path: None,
        context: None,
        namespace: None,
        metadata_only: false,
        deadline_ms: None,
    }
}

impl Datastore {
    pub(crate) fn new(
        store: Store<State>,
        bindings: GcsDatastore,
        credentials: Option<tempfile::TempDir>,
        stderr_tail: Option<Arc<StderrTail>>,
    ) -> Self {
        Datastore {
            store,
            bindings,
            _credentials: credentials,
            stderr_tail,
        }
    }

    /// The tail of the guest's stderr, when the datastore was opened to keep it.
    pub fn guest_stderr(&self) -> Option<String> {
        self.stderr_tail.as_ref().map(|t| t.text())
    }

    /// Validate and apply the JSON config.
    pub async fn configure(&mut self, json: &str) -> CallResult<EffectiveConfig> {
        let r = self
            .bindings
            .swamp_datastore_datastore()
            .call_configure(&mut self.store, json)
            .await;
        flatten(r)
    }

    /// Capabilities.
    pub async fn capabilities(&mut self) -> CallResult<SyncCapabilities> {
        Ok(self
            .bindings
            .swamp_datastore_sync_service()
            .call_capabilities(&mut self.store)
            .await?)
    }

    /// `mark-dirty`.
    pub async fn mark_dirty(&mut self, options: &SyncOptions) -> CallResult<()> {
        let r = self
            .bindings
            .swamp_datastore_sync_service()
            .call_mark_dirty(&mut self.store, options)
            .await;
        flatten(r)
    }

    /// `pull-changed`.
    pub async fn pull(&mut self, options: &SyncOptions) -> CallResult<SyncReport> {
        let r = self
            .bindings
            .swamp_datastore_sync_service()
            .call_pull_changed(&mut self.store, options)
            .await;
        flatten(r)
    }

    /// `push-changed`.
    pub async fn push(&mut self, options: &SyncOptions) -> CallResult<SyncReport> {
        let r = self
            .bindings
            .swamp_datastore_sync_service()
            .call_push_changed(&mut self.store, options)
            .await;
        flatten(r)
    }

    /// `hydrate-file`.
    pub async fn hydrate_file(&mut self, rel: &str, options: &SyncOptions) -> CallResult<bool> {
        let r = self
            .bindings
            .swamp_datastore_sync_service()
            .call_hydrate_file(&mut self.store, rel, options)
            .await;
        flatten(r)
    }

    /// `status` (dry run of the next push).
    pub async fn status(&mut self, options: &SyncOptions) -> CallResult<SyncStatus> {
        let r = self
            .bindings
            .swamp_datastore_sync_service()
            .call_status(&mut self.store, options)
            .await;
        flatten(r)
    }

    /// `prepare-push`.
    pub async fn prepare_push(
        &mut self,
        options: &SyncOptions,
    ) -> CallResult<(PushManifest, SyncReport)> {
        let r = self
            .bindings
            .swamp_datastore_sync_service()
            .call_prepare_push(&mut self.store, options)
            .await;
        flatten(r)
    }

    /// `commit-push`.
    pub async fn commit_push(
        &mut self,
        manifest: &PushManifest,
        options: &SyncOptions,
    ) -> CallResult<SyncReport> {
        let r = self
            .bindings
            .swamp_datastore_sync_service()
            .call_commit_push(&mut self.store, manifest, options)
            .await;
        flatten(r)
    }

    /// `preview-push`.
    pub async fn preview_push(&mut self, options: &SyncOptions) -> CallResult<PushPreview> {
        let r = self
            .bindings
            .swamp_datastore_sync_service()
            .call_preview_push(&mut self.store, options)
            .await;
        flatten(r)
    }

    /// `migrate-index`.
    pub async fn migrate_index(&mut self, options: &SyncOptions) -> CallResult<MigrateReport> {
        let r = self
            .bindings
            .swamp_datastore_sync_service()
            .call_migrate_index(&mut self.store, options)
            .await;
        flatten(r)
    }

    // ----- catalogs across namespaces (sync service) -----

    /// `export-catalog`: write `rows_json` (a JSON array) as `{ns}/.catalog-export.json`
    /// unless unchanged since the last export.
    pub async fn export_catalog(
        &mut self,
        namespace: &str,
        rows_json: &str,
        deadline_ms: Option<u64>,
    ) -> CallResult<CatalogExport> {
        let r = self
            .bindings
            .swamp_datastore_sync_service()
            .call_export_catalog(&mut self.store, namespace, rows_json, deadline_ms)
            .await;
        flatten(r)
    }

    /// `pull-foreign-catalogs`: the exports of `namespaces` that can be read.
    pub async fn pull_foreign_catalogs(
        &mut self,
        namespaces: &[String],
        deadline_ms: Option<u64>,
    ) -> CallResult<Vec<ForeignCatalog>> {
        let r = self
            .bindings
            .swamp_datastore_sync_service()
            .call_pull_foreign_catalogs(&mut self.store, namespaces, deadline_ms)
            .await;
        flatten(r)
    }

    /// `fetch-foreign-content`: another namespace's file, or `None` when absent.
    pub async fn fetch_foreign_content(
        &mut self,
        namespace: &str,
        rel_path: &str,
        deadline_ms: Option<u64>,
    ) -> CallResult<Option<Vec<u8>>> {
        let r = self
            .bindings
            .swamp_datastore_sync_service()
            .call_fetch_foreign_content(&mut self.store, namespace, rel_path, deadline_ms)
            .await;
        flatten(r)
    }

    // ----- namespaces (provider level) -----

    /// `register-namespace`.
    pub async fn register_namespace(
        &mut self,
        namespace: &str,
        repo_id: &str,
    ) -> CallResult<Registration> {
        let r = self
            .bindings
            .swamp_datastore_namespaces()
            .call_register_namespace(&mut self.store, namespace, repo_id)
            .await;
        flatten(r)
    }

    /// `list-namespaces`.
    pub async fn list_namespaces(&mut self) -> CallResult<Vec<String>> {
        let r = self
            .bindings
            .swamp_datastore_namespaces()
            .call_list_namespaces(&mut self.store)
            .await;
        flatten(r)
    }

    /// `verify`.
    pub async fn verify(&mut self) -> CallResult<Health> {
        Ok(self
            .bindings
            .swamp_datastore_verifier()
            .call_verify(&mut self.store)
            .await?)
    }

    /// `objects.put-file`.
    pub async fn put_file(
        &mut self,
        rel: &str,
        key: &str,
        if_generation_match: Option<&str>,
    ) -> CallResult<ObjectMeta> {
        let r = self
            .bindings
            .swamp_datastore_objects()
            .call_put_file(&mut self.store, rel, key, if_generation_match)
            .await;
        flatten(r)
    }

    /// `objects.put-bytes`.
    pub async fn put_bytes(
        &mut self,
        key: &str,
        data: &[u8],
        if_generation_match: Option<&str>,
    ) -> CallResult<ObjectMeta> {
        let r = self
            .bindings
            .swamp_datastore_objects()
            .call_put_bytes(&mut self.store, key, data, if_generation_match)
            .await;
        flatten(r)
    }

    /// `objects.get-file`.
    pub async fn get_file(&mut self, key: &str, rel: &str) -> CallResult<ObjectMeta> {
        let r = self
            .bindings
            .swamp_datastore_objects()
            .call_get_file(&mut self.store, key, rel)
            .await;
        flatten(r)
    }

    /// `objects.get-bytes`.
    pub async fn get_bytes(&mut self, key: &str) -> CallResult<(Vec<u8>, String)> {
        let r = self
            .bindings
            .swamp_datastore_objects()
            .call_get_bytes(&mut self.store, key)
            .await;
        flatten(r)
    }

    /// `objects.stat`.
    pub async fn stat(&mut self, key: &str) -> CallResult<Option<ObjectMeta>> {
        let r = self
            .bindings
            .swamp_datastore_objects()
            .call_stat(&mut self.store, key)
            .await;
        flatten(r)
    }

    /// `objects.list-page`.
    pub async fn list_page(
        &mut self,
        prefix: Option<&str>,
        delimiter: Option<&str>,
        page_size: Option<u32>,
        token: Option<&str>,
    ) -> CallResult<ObjectPage> {
        let r = self
            .bindings
            .swamp_datastore_objects()
            .call_list_page(&mut self.store, prefix, delimiter, page_size, token)
            .await;
        flatten(r)
    }

    /// `objects.list-all`.
    pub async fn list_all(&mut self, prefix: Option<&str>) -> CallResult<Vec<ObjectMeta>> {
        let r = self
            .bindings
            .swamp_datastore_objects()
            .call_list_all(&mut self.store, prefix)
            .await;
        flatten(r)
    }

    /// `objects.delete`.
    pub async fn delete(
        &mut self,
        key: &str,
        if_generation_match: Option<&str>,
    ) -> CallResult<bool> {
        let r = self
            .bindings
            .swamp_datastore_objects()
            .call_delete(&mut self.store, key, if_generation_match)
            .await;
        flatten(r)
    }

    /// `objects.copy`.
    pub async fn copy(&mut self, src: &str, dst: &str) -> CallResult<ObjectMeta> {
        let r = self
            .bindings
            .swamp_datastore_objects()
            .call_copy(&mut self.store, src, dst)
            .await;
        flatten(r)
    }

    /// Create a lock handle (nothing is sent yet).
    pub async fn lock(&mut self, options: &LockOptions) -> CallResult<ResourceAny> {
        Ok(self
            .bindings
            .swamp_datastore_lock()
            .distributed_lock()
            .call_constructor(&mut self.store, options)
            .await?)
    }

    /// `lock.acquire`.
    pub async fn lock_acquire(&mut self, lock: ResourceAny) -> CallResult<LockInfo> {
        let r = self
            .bindings
            .swamp_datastore_lock()
            .distributed_lock()
            .call_acquire(&mut self.store, lock)
            .await;
        flatten(r)
    }

    /// `lock.extend` (heartbeat): false when the lock was lost.
    pub async fn lock_extend(&mut self, lock: ResourceAny) -> CallResult<bool> {
        let r = self
            .bindings
            .swamp_datastore_lock()
            .distributed_lock()
            .call_extend(&mut self.store, lock)
            .await;
        flatten(r)
    }

    /// `lock.release`: a warning when nothing was deleted.
    pub async fn lock_release(&mut self, lock: ResourceAny) -> CallResult<Option<String>> {
        Ok(self
            .bindings
            .swamp_datastore_lock()
            .distributed_lock()
            .call_release(&mut self.store, lock)
            .await?)
    }

    /// `lock.inspect`.
    pub async fn lock_inspect(&mut self, lock: ResourceAny) -> CallResult<Option<LockInfo>> {
        let r = self
            .bindings
            .swamp_datastore_lock()
            .distributed_lock()
            .call_inspect(&mut self.store, lock)
            .await;
        flatten(r)
    }

    /// `lock.force-release`.
    pub async fn lock_force_release(&mut self, lock: ResourceAny, nonce: &str) -> CallResult<bool> {
        let r = self
            .bindings
            .swamp_datastore_lock()
            .distributed_lock()
            .call_force_release(&mut self.store, lock, nonce)
            .await;
        flatten(r)
    }

    /// `lock.is-held`.
    pub async fn lock_is_held(&mut self, lock: ResourceAny) -> CallResult<bool> {
        Ok(self
            .bindings
            .swamp_datastore_lock()
            .distributed_lock()
            .call_is_held(&mut self.store, lock)
            .await?)
    }
}
