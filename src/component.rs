//! The component's face: WIT bindings, the per-instance state, and conversions between WIT
//! types and the crate's types. No logic of its own lives here.

use crate::cache::{LocalCache, DEFAULT_CACHE_MOUNT};
use crate::config::{Config, ConfigEnv};
use crate::error::{Error, ErrorKind, Missing, TransportKind};
use crate::gcs::{GcsClient, ObjectMeta};
use crate::paths::safe_index_key;
use crate::paths::{check_rel, CachePath};
use crate::runtime::{Datastore, DatastoreAuth};
use crate::sync::core::index::{IndexChanges, IndexEntry};
use crate::sync::core::manifest::{DirtySnapshot, PushManifest};
use crate::sync::core::report::IndexLayout;
use crate::sync::MigrateOutcome;
use crate::transport::Clock;
use crate::wasi_platform::WasiPlatform;
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

wit_bindgen::generate!({
    path: "wit",
    world: "gcs-datastore",
    generate_all,
});

use exports::swamp::datastore::{
    control_plane, datastore, lock, namespaces, objects, sync_service, verifier,
};
use swamp::datastore::types as wit;

struct Component;
export!(Component);

thread_local! {
    /// One datastore per component instance: the host gives every datastore its own store.
    static INSTANCE: RefCell<Option<Rc<Datastore>>> = const { RefCell::new(None) };
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The configured datastore, or the error telling the host to call `configure` first.
fn instance() -> Result<Rc<Datastore>, wit::Error> {
    INSTANCE.with(|i| i.borrow().clone()).ok_or_else(|| {
        wit::Error::InvalidConfig(wit::ConfigFailure {
            field: "(config)".into(),
            rule: "the datastore is not configured: call datastore.configure first".into(),
            message: "the datastore is not configured: call datastore.configure first".into(),
        })
    })
}

/// Run async work to completion on wstd's reactor; every export is a blocking call.
fn run<T>(fut: impl Future<Output = T>) -> T {
    wstd::runtime::block_on(fut)
}

/// Map the crate's error onto the closed WIT variant.
pub(crate) fn to_wit(e: Error) -> wit::Error {
    let msg = e.message();
    let gcs = e.gcs().cloned();
    match e.kind().clone() {
        ErrorKind::NotFound(missing) => wit::Error::NotFound(wit::NotFoundFailure {
            missing: match missing {
                Missing::Bucket => wit::Missing::Bucket,
                Missing::Object(key) => wit::Missing::Object(key),
                Missing::CacheFile(path) => wit::Missing::CacheFile(path),
            },
            message: msg,
        }),
        ErrorKind::PreconditionFailed => wit::Error::PreconditionFailed(msg),
        ErrorKind::Unauthenticated { hint } => {
            wit::Error::Unauthenticated(wit::CredentialFailure { message: msg, hint })
        }
        ErrorKind::PermissionDenied { hint } => {
            wit::Error::PermissionDenied(wit::CredentialFailure { message: msg, hint })
        }
        ErrorKind::RateLimited => wit::Error::RateLimited(msg),
        ErrorKind::Timeout => wit::Error::Timeout(msg),
        ErrorKind::InvalidConfig { field, rule } => wit::Error::InvalidConfig(wit::ConfigFailure {
            field,
            rule,
            message: msg,
        }),
        ErrorKind::Integrity => wit::Error::Integrity(msg),
        ErrorKind::UnsafePath => wit::Error::UnsafePath(msg),
        ErrorKind::Io => wit::Error::Io(msg),
        ErrorKind::Remote => {
            let g = gcs.unwrap_or_default();
            wit::Error::Remote(wit::RemoteFailure {
                status: g.status,
                reason: g.reason,
                message: msg,
                body_preview: g.body_preview,
                upload_id: g.upload_id,
            })
        }
        ErrorKind::LockTimeout {
            lock_key,
            holder,
            waited_ms,
        } => wit::Error::LockTimeout(wit::LockTimeoutFailure {
            lock_key,
            holder,
            waited_ms,
            message: msg,
        }),
        ErrorKind::Transport { kind, status } => wit::Error::Transport(wit::TransportFailure {
            kind: match kind {
                TransportKind::Unreachable => wit::TransportKind::Unreachable,
                TransportKind::Tls => wit::TransportKind::Tls,
                TransportKind::ConnectionLost => wit::TransportKind::ConnectionLost,
                TransportKind::BodyCutShort => wit::TransportKind::BodyCutShort,
                TransportKind::Denied => wit::TransportKind::Denied,
            },
            status,
            message: msg,
        }),
        ErrorKind::UnsupportedLayout => wit::Error::UnsupportedLayout(msg),
        ErrorKind::MalformedRemote { key } => {
            wit::Error::MalformedRemote(wit::MalformedFailure { key, message: msg })
        }
        ErrorKind::NamespaceMismatch { bound, requested } => {
            wit::Error::NamespaceMismatch(wit::NamespaceFailure {
                bound,
                requested,
                message: msg,
            })
        }
        ErrorKind::NamespaceTaken { namespace, owner } => {
            wit::Error::NamespaceTaken(wit::NamespaceTakenFailure {
                namespace,
                owner_repo_id: owner,
                message: msg,
            })
        }
        ErrorKind::Other => wit::Error::Other(msg),
    }
}

impl datastore::Guest for Component {
    fn configure(config_json: String) -> Result<datastore::EffectiveConfig, wit::Error> {
        let cfg_env = ConfigEnv {
            request_timeout_ms: env("SWAMP_GCS_REQUEST_TIMEOUT_MS"),
            storage_emulator_host: env("STORAGE_EMULATOR_HOST"),
        };
        let cfg = Config::parse(&config_json, &cfg_env).map_err(to_wit)?;
        let platform = Rc::new(WasiPlatform);
        let auth = DatastoreAuth::for_config(&cfg, platform.clone());
        let cache = LocalCache::new(
            env("SWAMP_GCS_CACHE_DIR").unwrap_or_else(|| DEFAULT_CACHE_MOUNT.into()),
        );
        let effective = datastore::EffectiveConfig {
            bucket: cfg.bucket.clone(),
            prefix: cfg.prefix.clone(),
            api_endpoint: cfg.api_endpoint.clone(),
            emulator: cfg.emulator,
            pull_concurrency: cfg.pull_concurrency,
            push_concurrency: cfg.push_concurrency,
            request_timeout_ms: cfg.request_timeout_ms,
        };
        let client = Rc::new(GcsClient::new(cfg, platform, auth));
        INSTANCE.with(|i| *i.borrow_mut() = Some(Rc::new(Datastore::new(client, cache))));
        Ok(effective)
    }
}

fn meta_to_wit(ds: &Datastore, m: ObjectMeta) -> objects::ObjectMeta {
    let key = ds
        .client
        .cfg
        .relative_key(&m.name)
        .unwrap_or(&m.name)
        .to_string();
    objects::ObjectMeta {
        key,
        size: m.size,
        generation: m.generation.into_string(),
        metageneration: m.metageneration,
        updated: m.updated,
        crc32c: m.crc32c,
        md5_hash: m.md5_hash,
    }
}

/// Run one export against the configured instance with an optional call deadline.
fn with_instance<T>(
    deadline_ms: Option<u64>,
    f: impl AsyncFnOnce(Rc<Datastore>) -> Result<T, Error>,
) -> Result<T, wit::Error> {
    let ds = instance()?;
    let deadline = deadline_ms.map(|d| ds.client.platform().now_ms() + d);
    ds.client.set_deadline(deadline);
    let out = run(f(ds.clone()));
    ds.client.set_deadline(None);
    out.map_err(to_wit)
}

impl objects::Guest for Component {
    fn put_file(
        rel_path: String,
        key: String,
        if_generation_match: Option<String>,
    ) -> Result<objects::ObjectMeta, wit::Error> {
        with_instance(None, async |ds| {
            check_rel(&key)?;
            let path = CachePath::new(&rel_path)?;
            let data = ds
                .cache
                .read_unwalked(&path)
                .map_err(|e| Error::io("read", path.as_str(), &e))?;
            let meta = ds
                .client
                .upload(&key, &data, if_generation_match.as_deref())
                .await?;
            Ok(meta_to_wit(&ds, meta))
        })
    }

    fn put_bytes(
        key: String,
        data: Vec<u8>,
        if_generation_match: Option<String>,
    ) -> Result<objects::ObjectMeta, wit::Error> {
        with_instance(None, async |ds| {
            check_rel(&key)?;
            let meta = ds
                .client
                .upload(&key, &data, if_generation_match.as_deref())
                .await?;
            Ok(meta_to_wit(&ds, meta))
        })
    }

    fn get_file(key: String, rel_path: String) -> Result<objects::ObjectMeta, wit::Error> {
        with_instance(None, async |ds| {
            check_rel(&key)?;
            // Refuse a bad destination before any byte is fetched.
            let path = CachePath::new(&rel_path)?;
            let dl = ds.client.download(&key).await?;
            ds.cache
                .writer()
                .write(&path, &dl.data, ds.client.platform().random_u64())?;
            // What GCS said about the object read; a hash it did not announce stays
            // unknown rather than computed here.
            Ok(objects::ObjectMeta {
                key,
                size: dl.data.len() as u64,
                generation: dl.generation.into_string(),
                metageneration: dl.metageneration,
                updated: None,
                crc32c: dl.hashes.crc32c,
                md5_hash: dl.hashes.md5,
            })
        })
    }

    fn get_bytes(key: String) -> Result<(Vec<u8>, String), wit::Error> {
        with_instance(None, async |ds| {
            check_rel(&key)?;
            let dl = ds.client.download(&key).await?;
            Ok((dl.data, dl.generation.into_string()))
        })
    }

    fn stat(key: String) -> Result<Option<objects::ObjectMeta>, wit::Error> {
        with_instance(None, async |ds| {
            check_rel(&key)?;
            Ok(ds.client.stat(&key).await?.map(|m| meta_to_wit(&ds, m)))
        })
    }

    fn list_page(
        prefix: Option<String>,
        delimiter: Option<String>,
        page_size: Option<u32>,
        page_token: Option<String>,
    ) -> Result<objects::ObjectPage, wit::Error> {
        with_instance(None, async |ds| {
            let page = ds
                .client
                .list_page(
                    prefix.as_deref(),
                    delimiter.as_deref(),
                    page_size,
                    page_token.as_deref(),
                )
                .await?;
            let cfg = &ds.client.cfg;
            Ok(objects::ObjectPage {
                prefixes: page
                    .prefixes
                    .iter()
                    .map(|p| cfg.relative_key(p).unwrap_or(p).to_string())
                    .collect(),
                items: page
                    .items
                    .into_iter()
                    .map(|m| meta_to_wit(&ds, m))
                    .collect(),
                next_page_token: page.next_page_token,
            })
        })
    }

    fn list_all(prefix: Option<String>) -> Result<Vec<objects::ObjectMeta>, wit::Error> {
        with_instance(None, async |ds| {
            let all = ds.client.list_all(prefix.as_deref()).await?;
            Ok(all.into_iter().map(|m| meta_to_wit(&ds, m)).collect())
        })
    }

    fn delete(key: String, if_generation_match: Option<String>) -> Result<bool, wit::Error> {
        with_instance(None, async |ds| {
            check_rel(&key)?;
            ds.client.delete(&key, if_generation_match.as_deref()).await
        })
    }

    fn copy(
        source_key: String,
        destination_key: String,
    ) -> Result<objects::ObjectMeta, wit::Error> {
        with_instance(None, async |ds| {
            check_rel(&source_key)?;
            check_rel(&destination_key)?;
            let meta = ds.client.copy(&source_key, &destination_key).await?;
            Ok(meta_to_wit(&ds, meta))
        })
    }
}

impl verifier::Guest for Component {
    fn verify() -> verifier::Health {
        let ds = match instance() {
            Ok(ds) => ds,
            Err(_) => {
                return verifier::Health {
                    healthy: false,
                    message: "GCS datastore is not configured".into(),
                    latency_ms: 0.0,
                    datastore_type: crate::verify::DATASTORE_TYPE.into(),
                    details: vec![],
                }
            }
        };
        let h = run(crate::verify::verify(&ds.client));
        verifier::Health {
            healthy: h.healthy,
            message: h.message,
            latency_ms: h.latency_ms,
            datastore_type: crate::verify::DATASTORE_TYPE.into(),
            details: h.details,
        }
    }
}

fn sync_options(o: &wit::SyncOptions) -> crate::sync::SyncOptions {
    crate::sync::SyncOptions {
        rel_path: o.rel_path.clone(),
        models: o
            .context
            .iter()
            .flat_map(|c| c.models.iter())
            .map(|m| (m.model_type.clone(), m.model_id.clone()))
            .collect(),
        namespace: o.namespace.clone(),
        metadata_only: o.metadata_only,
    }
}

fn entry_to_wit(e: IndexEntry) -> sync_service::IndexEntry {
    sync_service::IndexEntry {
        key: e.key,
        size: e.size,
        last_modified: e.last_modified,
        local_mtime: e.local_mtime,
        sha256: e.sha256,
    }
}

/// An entry handed back by the caller: its key must be a safe index key (a manifest is
/// caller-held data, so it is checked like any input).
fn manifest_key(key: &str) -> Result<(), Error> {
    safe_index_key(key).map(|_| ()).map_err(|_| {
        Error::new(
            ErrorKind::UnsafePath,
            format!(
                "commitPush: the manifest holds an unsafe key {key:?}; commit only a manifest prepare-push returned"
            ),
        )
    })
}

fn entry_from_wit(e: sync_service::IndexEntry) -> Result<IndexEntry, Error> {
    manifest_key(&e.key)?;
    Ok(IndexEntry {
        key: e.key,
        size: e.size,
        last_modified: e.last_modified,
        local_mtime: e.local_mtime,
        sha256: e.sha256,
    })
}

fn manifest_to_wit(m: PushManifest) -> sync_service::PushManifest {
    let dirty_partition_keys = m.dirty_partition_keys();
    sync_service::PushManifest {
        namespace: m.namespace,
        new_entries: m.changes.upserts.into_iter().map(entry_to_wit).collect(),
        deleted_keys: m.changes.deletions,
        dirty_partition_keys,
        adopted: m.adopted.into_iter().map(entry_to_wit).collect(),
        bytes: m.bytes,
        complete: m.complete,
        dirty: sync_service::DirtySnapshot {
            paths: m.dirty.paths,
            bulk: m.dirty.bulk,
            overflowed: m.dirty.overflowed,
        },
    }
}

fn manifest_from_wit(m: sync_service::PushManifest) -> Result<PushManifest, Error> {
    for key in &m.deleted_keys {
        manifest_key(key)?;
    }
    Ok(PushManifest {
        namespace: m.namespace.filter(|n| !n.is_empty()),
        changes: IndexChanges {
            upserts: m
                .new_entries
                .into_iter()
                .map(entry_from_wit)
                .collect::<Result<_, _>>()?,
            deletions: m.deleted_keys,
        },
        adopted: m
            .adopted
            .into_iter()
            .map(entry_from_wit)
            .collect::<Result<_, _>>()?,
        bytes: m.bytes,
        complete: m.complete,
        dirty: DirtySnapshot {
            paths: m.dirty.paths,
            bulk: m.dirty.bulk,
            overflowed: m.dirty.overflowed,
        },
    })
}

fn report_to_wit(r: crate::sync::SyncReport) -> sync_service::SyncReport {
    sync_service::SyncReport {
        files: r.files,
        deleted: r.deleted,
        bytes: r.bytes,
        fast_path: r.fast_path,
        phases: r
            .phases
            .into_iter()
            .map(|p| sync_service::PhaseTiming {
                name: p.name,
                millis: p.millis,
                detail: p.detail,
            })
            .collect(),
        conflicts: r.conflicts,
    }
}

impl sync_service::Guest for Component {
    fn capabilities() -> wit::SyncCapabilities {
        let c = crate::sync::SUPPORTED_CAPABILITIES;
        wit::SyncCapabilities {
            scoped_sync: c.scoped_sync,
            lazy_hydration: c.lazy_hydration,
            namespaced_sync: c.namespaced_sync,
            two_phase_sync: c.two_phase_sync,
            preview_push: c.preview_push,
            control_plane: c.control_plane,
        }
    }

    fn mark_dirty(options: wit::SyncOptions) -> Result<(), wit::Error> {
        with_instance(options.deadline_ms, async |ds| {
            ds.sync.mark_dirty(&sync_options(&options)).await
        })
    }

    fn pull_changed(options: wit::SyncOptions) -> Result<sync_service::SyncReport, wit::Error> {
        with_instance(options.deadline_ms, async |ds| {
            ds.sync
                .pull(&sync_options(&options))
                .await
                .map(report_to_wit)
        })
    }

    fn push_changed(options: wit::SyncOptions) -> Result<sync_service::SyncReport, wit::Error> {
        with_instance(options.deadline_ms, async |ds| {
            ds.sync
                .push(&sync_options(&options))
                .await
                .map(report_to_wit)
        })
    }

    fn hydrate_file(rel_path: String, options: wit::SyncOptions) -> Result<bool, wit::Error> {
        with_instance(options.deadline_ms, async |ds| {
            ds.sync
                .hydrate_file(&rel_path, options.namespace.as_deref())
                .await
        })
    }

    fn status(options: wit::SyncOptions) -> Result<sync_service::SyncStatus, wit::Error> {
        with_instance(options.deadline_ms, async |ds| {
            let s = ds.sync.status(&sync_options(&options)).await?;
            let sk = &s.skipped;
            Ok(sync_service::SyncStatus {
                sidecar_version: s.sidecar.version.unwrap_or(0),
                remote_index_generation: s.sidecar.remote_index_generation,
                last_verified_at: s.sidecar.last_verified_at,
                local_dirty: s.sidecar.local_dirty,
                dirty_paths: s.sidecar.dirty_paths,
                bulk_invalidated: s.sidecar.bulk_invalidated,
                walk: s.walk,
                remote_index_found: s.remote_index_found,
                layout: match s.layout {
                    IndexLayout::None => sync_service::IndexLayout::None,
                    IndexLayout::Monolith => sync_service::IndexLayout::Monolith,
                    IndexLayout::ShardFirst => sync_service::IndexLayout::ShardFirst,
                },
                commit_seq: s.commit_seq,
                verified_commit_seq: s.sidecar.commit_seq,
                remote_entries: u32::try_from(s.remote_entries).unwrap_or(u32::MAX),
                to_upload: s
                    .to_upload
                    .into_iter()
                    .map(|u| sync_service::PlannedUpload {
                        rel_path: u.rel,
                        size: u.size,
                        reason: u.reason.as_str().to_string(),
                    })
                    .collect(),
                to_delete: s.to_delete,
                skipped: u32::try_from(
                    sk.symlinks + sk.outside_namespace + sk.unsafe_names + sk.unreadable,
                )
                .unwrap_or(u32::MAX),
            })
        })
    }

    fn prepare_push(
        options: wit::SyncOptions,
    ) -> Result<(sync_service::PushManifest, sync_service::SyncReport), wit::Error> {
        with_instance(options.deadline_ms, async |ds| {
            let (m, report) = ds.sync.prepare_push(&sync_options(&options)).await?;
            Ok((manifest_to_wit(m), report_to_wit(report)))
        })
    }

    fn commit_push(
        manifest: sync_service::PushManifest,
        options: wit::SyncOptions,
    ) -> Result<sync_service::SyncReport, wit::Error> {
        with_instance(options.deadline_ms, async |ds| {
            let m = manifest_from_wit(manifest)?;
            let report = ds.sync.commit_push(&m, &sync_options(&options)).await?;
            Ok(report_to_wit(report))
        })
    }

    fn preview_push(options: wit::SyncOptions) -> Result<sync_service::PushPreview, wit::Error> {
        with_instance(options.deadline_ms, async |ds| {
            let p = ds.sync.preview_push(&sync_options(&options)).await?;
            let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
            Ok(sync_service::PushPreview {
                total: n(p.total),
                new: n(p.new),
                changed: n(p.changed),
                deleted: n(p.deleted),
            })
        })
    }

    fn migrate_index(options: wit::SyncOptions) -> Result<sync_service::MigrateReport, wit::Error> {
        with_instance(options.deadline_ms, async |ds| {
            let m = ds.sync.migrate_index(&sync_options(&options)).await?;
            Ok(sync_service::MigrateReport {
                outcome: match m.outcome {
                    MigrateOutcome::Migrated => sync_service::MigrateOutcome::Migrated,
                    MigrateOutcome::AlreadyShardFirst => {
                        sync_service::MigrateOutcome::AlreadyShardFirst
                    }
                    MigrateOutcome::MetaRebuilt => sync_service::MigrateOutcome::MetaRebuilt,
                },
                partitions: m.meta.partitions().to_vec(),
                commit_seq: m.meta.commit_seq().unwrap_or(0),
                entries: u32::try_from(m.entries).unwrap_or(u32::MAX),
                shards_written: u32::try_from(m.shards_written).unwrap_or(u32::MAX),
            })
        })
    }

    fn export_catalog(
        namespace: String,
        rows_json: String,
        deadline_ms: Option<u64>,
    ) -> Result<sync_service::CatalogExport, wit::Error> {
        with_instance(deadline_ms, async |ds| {
            let r = ds.sync.export_catalog(&namespace, &rows_json).await?;
            Ok(sync_service::CatalogExport {
                written: r.written,
                sha256: r.sha256,
                size: r.size,
            })
        })
    }

    fn pull_foreign_catalogs(
        namespaces: Vec<String>,
        deadline_ms: Option<u64>,
    ) -> Result<Vec<sync_service::ForeignCatalog>, wit::Error> {
        with_instance(deadline_ms, async |ds| {
            let got = ds.sync.pull_foreign_catalogs(&namespaces).await?;
            Ok(got
                .into_iter()
                .map(|c| sync_service::ForeignCatalog {
                    namespace: c.namespace,
                    rows_json: c.rows_json,
                })
                .collect())
        })
    }

    fn fetch_foreign_content(
        namespace: String,
        rel_path: String,
        deadline_ms: Option<u64>,
    ) -> Result<Option<Vec<u8>>, wit::Error> {
        with_instance(deadline_ms, async |ds| {
            ds.sync.fetch_foreign_content(&namespace, &rel_path).await
        })
    }
}

impl namespaces::Guest for Component {
    fn register_namespace(
        namespace: String,
        repo_id: String,
    ) -> Result<namespaces::Registration, wit::Error> {
        with_instance(None, async |ds| {
            let r = crate::sync::namespaces::register_namespace(&ds.client, &namespace, &repo_id)
                .await?;
            Ok(namespaces::Registration {
                created: r.created,
                registered_at: r.registered_at,
            })
        })
    }

    fn list_namespaces() -> Result<Vec<String>, wit::Error> {
        with_instance(None, async |ds| {
            crate::sync::namespaces::list_namespaces(&ds.client).await
        })
    }
}

impl control_plane::Guest for Component {
    fn put(namespace: Option<String>, key: String, value: Vec<u8>) -> Result<(), wit::Error> {
        with_instance(None, async |ds| {
            let store = ds.sync.control_plane(namespace.as_deref())?;
            store.put(&key, &value).await
        })
    }

    fn get(namespace: Option<String>, key: String) -> Result<Option<Vec<u8>>, wit::Error> {
        with_instance(None, async |ds| {
            ds.sync.control_plane(namespace.as_deref())?.get(&key).await
        })
    }

    fn delete(namespace: Option<String>, key: String) -> Result<bool, wit::Error> {
        with_instance(None, async |ds| {
            ds.sync
                .control_plane(namespace.as_deref())?
                .delete(&key)
                .await
        })
    }

    fn list(namespace: Option<String>, prefix: String) -> Result<Vec<String>, wit::Error> {
        with_instance(None, async |ds| {
            ds.sync
                .control_plane(namespace.as_deref())?
                .list(&prefix)
                .await
        })
    }

    fn put_if_absent(
        namespace: Option<String>,
        key: String,
        value: Vec<u8>,
    ) -> Result<bool, wit::Error> {
        with_instance(None, async |ds| {
            let store = ds.sync.control_plane(namespace.as_deref())?;
            store.put_if_absent(&key, &value).await
        })
    }
}

impl lock::Guest for Component {
    type DistributedLock = LockHandle;
}

/// One lock resource: the lock logic bound to this instance's client.
pub struct LockHandle {
    inner: Result<crate::lock::DistributedLock<WasiPlatform, DatastoreAuth>, wit::Error>,
}

fn lock_info(b: crate::lock::LockBody) -> lock::LockInfo {
    lock::LockInfo {
        holder: b.holder,
        hostname: b.hostname,
        pid: b.pid,
        acquired_at: b.acquired_at,
        ttl_ms: u32::try_from(b.ttl_ms).unwrap_or(u32::MAX),
        nonce: b.nonce,
    }
}

impl LockHandle {
    fn lock(
        &self,
    ) -> Result<&crate::lock::DistributedLock<WasiPlatform, DatastoreAuth>, wit::Error> {
        self.inner.as_ref().map_err(Clone::clone)
    }
}

impl lock::GuestDistributedLock for LockHandle {
    fn new(options: lock::LockOptions) -> Self {
        let inner = instance().map(|ds| {
            let opts = crate::lock::LockOptions::from_parts(
                options.key.as_deref(),
                options.ttl_ms,
                options.retry_interval_ms,
                options.max_wait_ms,
            );
            let identity = crate::lock::LockIdentity::from_env(
                env("USER").as_deref(),
                env("USERNAME").as_deref(),
                env("HOSTNAME").as_deref(),
                env("SWAMP_GCS_HOST_PID").as_deref(),
            );
            crate::lock::DistributedLock::new(ds.client.clone(), opts, identity)
        });
        LockHandle { inner }
    }

    fn acquire(&self) -> Result<lock::LockInfo, wit::Error> {
        let l = self.lock()?;
        run(l.acquire()).map(lock_info).map_err(to_wit)
    }

    fn extend(&self) -> Result<bool, wit::Error> {
        let l = self.lock()?;
        run(l.extend()).map_err(to_wit)
    }

    fn release(&self) -> Option<String> {
        match self.lock() {
            Ok(l) => run(l.release()),
            Err(_) => None,
        }
    }

    fn inspect(&self) -> Result<Option<lock::LockInfo>, wit::Error> {
        let l = self.lock()?;
        run(l.inspect()).map(|b| b.map(lock_info)).map_err(to_wit)
    }

    fn force_release(&self, nonce: String) -> Result<bool, wit::Error> {
        let l = self.lock()?;
        run(l.force_release(&nonce)).map_err(to_wit)
    }

    fn is_held(&self) -> bool {
        self.lock().map(|l| l.is_held()).unwrap_or(false)
    }
}
