//! Helpers of the sync tests: [`Env`] (one server with a fresh bucket, the host whose
//! traffic is measured, and an "admin" datastore on a second host that reads and writes
//! the bucket behind the sync service's back without touching the measured counters),
//! which is the component's [`Driver`] of the shared scenarios (`sync-scenarios`), with
//! [`Component`] its [`Service`]; option builders and report readers of the host's types.
//! The rest (sidecar and index readers, bucket snapshots, the benchmark seeding, the
//! formats other clients write) comes from `sync_scenarios::support`.

use crate::common::*;
use gcs_host::datastore::{no_options, ModelRef, SyncContext, SyncOptions};
use gcs_host::faults::{FaultAction, FaultMatch, FaultRule};
use gcs_host::traffic::{LoggedRequest, RequestKind, TrafficSnapshot};
use gcs_host::{CallError, Datastore, Host};
use std::collections::BTreeMap;
use sync_scenarios as sc;

pub use sc::support::*;
pub use sc::Driver;

/// Which server a case runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The in-process fake (exact GCS semantics, preconditions included).
    Fake,
    /// fake-gcs-server 1.54.0.
    Emulator,
}

/// One server and bucket, the measured host, and the admin datastore.
pub struct Env {
    pub which: Which,
    pub server: Server,
    /// Every datastore under test is opened here; its traffic is what tests count.
    pub host: Host,
    _admin_host: Host,
    _admin_cache: Cache,
    admin: Datastore,
}

impl Env {
    /// A fresh server with bucket [`BUCKET`].
    pub async fn start(which: Which) -> Env {
        let server = match which {
            Which::Fake => Server::fake(BUCKET).await,
            Which::Emulator => Server::emulator(BUCKET),
        };
        let host = Host::new().expect("load the component");
        let admin_host = Host::new().expect("load the component");
        let admin_cache = Cache::new();
        let admin = open(&admin_host, &server, BUCKET, &admin_cache, "").await;
        Env {
            which,
            server,
            host,
            _admin_host: admin_host,
            _admin_cache: admin_cache,
            admin,
        }
    }

    /// A configured datastore on `cache` (a fresh "process": nothing in memory).
    pub async fn open(&self, cache: &Cache, extra: &str) -> Datastore {
        open(&self.host, &self.server, BUCKET, cache, extra).await
    }

    // ----- the measured traffic (the bucket is edited through the Driver methods) -----

    /// The measured counters.
    pub fn snap(&self) -> TrafficSnapshot {
        self.host.traffic.snapshot()
    }

    /// The measured request log.
    pub fn log(&self) -> Vec<LoggedRequest> {
        self.host.traffic.log()
    }
}

fn request_kind(kind: sc::Kind) -> RequestKind {
    match kind {
        sc::Kind::Metadata => RequestKind::Metadata,
        sc::Kind::Download => RequestKind::Download,
        sc::Kind::Upload => RequestKind::Upload,
        sc::Kind::Delete => RequestKind::Delete,
        sc::Kind::List => RequestKind::List,
        sc::Kind::Other => RequestKind::Other,
    }
}

fn scenario_kind(kind: RequestKind) -> sc::Kind {
    match kind {
        RequestKind::Metadata => sc::Kind::Metadata,
        RequestKind::Download => sc::Kind::Download,
        RequestKind::Upload => sc::Kind::Upload,
        RequestKind::Delete => sc::Kind::Delete,
        RequestKind::List => sc::Kind::List,
        _ => sc::Kind::Other,
    }
}

/// The component in wasmtime as the scenarios' driver: datastores opened on the measured
/// host, the bucket edited through the admin datastore, faults injected by the host.
impl sc::Driver for Env {
    type Service = Component;

    fn name(&self) -> String {
        format!("{:?}", self.which)
    }

    async fn open(&mut self, cache: &Cache, extra: &str) -> Component {
        Component(Env::open(self, cache, extra).await)
    }

    async fn put(&mut self, key: &str, data: &[u8]) -> String {
        self.admin
            .put_bytes(key, data, None)
            .await
            .unwrap_or_else(|e| panic!("admin put {key}: {e}"))
            .generation
    }

    /// Straight to the server: the component's object API refuses names such as `../x`.
    fn put_raw(&self, key: &str, data: &[u8]) {
        match &self.server {
            Server::Fake(f) => {
                f.put_object(BUCKET, key, data);
            }
            Server::Emulator(e) => {
                let name =
                    percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC);
                let path = format!("/upload/storage/v1/b/{BUCKET}/o?uploadType=media&name={name}");
                let (status, body) = e.call("POST", &path, Some(data)).expect("emulator upload");
                assert_eq!(status, 200, "raw upload of {key}: {body}");
            }
            Server::Real(_) => unreachable!("the sync tests run on local servers only"),
        }
    }

    async fn get(&mut self, key: &str) -> Option<Vec<u8>> {
        match self.admin.get_bytes(key).await {
            Ok((data, _)) => Some(data),
            Err(e) if e.kind() == "not-found" => None,
            Err(e) => panic!("admin get {key}: {e}"),
        }
    }

    async fn generation(&mut self, key: &str) -> Option<String> {
        self.admin
            .stat(key)
            .await
            .unwrap_or_else(|e| panic!("admin stat {key}: {e}"))
            .map(|m| m.generation)
    }

    async fn objects(&mut self) -> BTreeMap<String, sc::Object> {
        self.admin
            .list_all(None)
            .await
            .expect("admin list")
            .into_iter()
            .map(|m| {
                let object = sc::Object {
                    generation: m.generation,
                    size: m.size,
                    md5: m.md5_hash.unwrap_or_default(),
                };
                (m.key, object)
            })
            .collect()
    }

    fn reset(&self) {
        self.host.traffic.reset();
    }

    fn requests(&self) -> Vec<sc::Request> {
        self.log()
            .into_iter()
            .map(|r| sc::Request {
                kind: scenario_kind(r.kind),
                object: r.object,
                status: r.status,
            })
            .collect()
    }

    fn fail(&self, kind: sc::Kind, object: &str, status: u16, times: Option<u32>) {
        self.host.faults.add(FaultRule::new(
            FaultMatch::kind(request_kind(kind)).object(object),
            FaultAction::Status(status),
            times,
        ));
    }

    fn corrupt(&self, object: &str) {
        self.host.faults.add(FaultRule::new(
            FaultMatch::kind(RequestKind::Download).object(object),
            FaultAction::Corrupt,
            None,
        ));
    }

    fn clear_faults(&self) {
        self.host.faults.clear();
    }
}

/// One datastore of the component as the scenarios' service.
pub struct Component(pub Datastore);

fn options(o: &sc::Options) -> SyncOptions {
    let context = (!o.models.is_empty()).then(|| SyncContext {
        models: o
            .models
            .iter()
            .map(|(t, i)| ModelRef {
                model_type: t.clone(),
                model_id: i.clone(),
            })
            .collect(),
    });
    SyncOptions {
        rel_path: o.rel_path.clone(),
        context,
        metadata_only: o.metadata_only,
        ..no_options()
    }
}

fn error(e: CallError) -> sc::Error {
    sc::Error {
        kind: e.kind().to_string(),
        message: e.to_string(),
    }
}

fn report(r: gcs_host::datastore::SyncReport) -> sc::Report {
    sc::Report {
        files: r.files,
        deleted: r.deleted,
        fast_path: r.fast_path,
        phases: r
            .phases
            .into_iter()
            .map(|p| sc::Phase {
                name: p.name,
                millis: p.millis,
                detail: p.detail,
            })
            .collect(),
    }
}

impl sc::Service for Component {
    async fn push(&mut self, o: &sc::Options) -> Result<sc::Report, sc::Error> {
        self.0.push(&options(o)).await.map(report).map_err(error)
    }

    async fn pull(&mut self, o: &sc::Options) -> Result<sc::Report, sc::Error> {
        self.0.pull(&options(o)).await.map(report).map_err(error)
    }

    async fn mark_dirty(&mut self, o: &sc::Options) -> Result<(), sc::Error> {
        self.0.mark_dirty(&options(o)).await.map_err(error)
    }

    async fn status(&mut self, o: &sc::Options) -> Result<sc::Status, sc::Error> {
        let s = self.0.status(&options(o)).await.map_err(error)?;
        Ok(sc::Status {
            sidecar_version: s.sidecar_version,
            local_dirty: s.local_dirty,
            dirty_paths: s.dirty_paths,
            walk: s.walk,
        })
    }

    type Manifest = gcs_host::datastore::PushManifest;

    async fn prepare_push(
        &mut self,
        o: &sc::Options,
    ) -> Result<(Self::Manifest, sc::Report), sc::Error> {
        let (m, r) = self.0.prepare_push(&options(o)).await.map_err(error)?;
        Ok((m, report(r)))
    }

    async fn commit_push(
        &mut self,
        m: &Self::Manifest,
        o: &sc::Options,
    ) -> Result<sc::Report, sc::Error> {
        self.0
            .commit_push(m, &options(o))
            .await
            .map(report)
            .map_err(error)
    }

    async fn preview_push(&mut self, o: &sc::Options) -> Result<sc::Preview, sc::Error> {
        let p = self.0.preview_push(&options(o)).await.map_err(error)?;
        Ok(sc::Preview {
            total: p.total,
            new: p.new,
            changed: p.changed,
            deleted: p.deleted,
        })
    }

    async fn migrate_index(&mut self) -> Result<String, sc::Error> {
        let m = self.0.migrate_index(&no_options()).await.map_err(error)?;
        Ok(match m.outcome {
            gcs_host::datastore::MigrateOutcome::Migrated => "migrated",
            gcs_host::datastore::MigrateOutcome::AlreadyShardFirst => "already-shard-first",
            gcs_host::datastore::MigrateOutcome::MetaRebuilt => "meta-rebuilt",
        }
        .to_string())
    }

    async fn capabilities(&mut self) -> Result<sc::Capabilities, sc::Error> {
        let c = self.0.capabilities().await.map_err(error)?;
        Ok(sc::Capabilities {
            scoped_sync: c.scoped_sync,
            two_phase_sync: c.two_phase_sync,
            preview_push: c.preview_push,
            control_plane: c.control_plane,
        })
    }
}

// ----- options -----

/// Options with nothing set.
pub fn opts() -> SyncOptions {
    no_options()
}

/// `mark-dirty` options for one path.
pub fn rel(path: &str) -> SyncOptions {
    SyncOptions {
        rel_path: Some(path.to_string()),
        ..no_options()
    }
}

/// Scoped-pull options for `(modelType, modelId)` pairs.
pub fn models(list: &[(&str, &str)]) -> SyncOptions {
    SyncOptions {
        context: Some(SyncContext {
            models: list
                .iter()
                .map(|(t, i)| ModelRef {
                    model_type: t.to_string(),
                    model_id: i.to_string(),
                })
                .collect(),
        }),
        ..no_options()
    }
}

/// The detail of the phase `name` of a report.
pub fn phase<'a>(report: &'a gcs_host::datastore::SyncReport, name: &str) -> &'a str {
    report
        .phases
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.detail.as_str())
        .unwrap_or_else(|| panic!("no phase {name} in {:?}", report.phases))
}

/// Milliseconds of the phase `name` of a report.
pub fn phase_millis(report: &gcs_host::datastore::SyncReport, name: &str) -> f64 {
    report
        .phases
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.millis)
        .unwrap_or_else(|| panic!("no phase {name} in {:?}", report.phases))
}
