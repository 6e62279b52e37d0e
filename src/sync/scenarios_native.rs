//! The shared sync scenarios (the `sync-scenarios` crate: seed, traps, scale) run
//! natively: [`Native`] drives [`SyncService`] on the in-memory [`FakeGcs`], and one
//! `#[test]` per scenario runs it through [`run`]. The same scenarios run through the
//! component in `host-test/tests/all/sync/scenarios.rs`.

use std::collections::BTreeMap;
use std::rc::Rc;

use sync_scenarios as sc;

use super::service::{SyncOptions, SyncService};
use super::SyncReport;
use crate::error::{Error, ErrorKind};
use crate::gcs::checksum::md5_b64;
use crate::gcs::NoAuth;
use crate::test_doubles::{run, FakeGcs};

/// The in-memory bucket; every [`Driver::open`](sc::Driver::open) is a fresh service.
pub struct Native {
    fake: Rc<FakeGcs>,
}

impl Native {
    /// An empty bucket.
    pub fn new() -> Self {
        Native {
            fake: FakeGcs::new(),
        }
    }
}

impl sc::Driver for Native {
    type Service = SyncService<FakeGcs, NoAuth>;

    fn name(&self) -> String {
        "native".into()
    }

    async fn open(&mut self, cache: &sc::Cache, extra: &str) -> Self::Service {
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(",{extra}")
        };
        SyncService::new(self.fake.client(&extra), cache.path().to_path_buf())
    }

    async fn put(&mut self, key: &str, data: &[u8]) -> String {
        self.fake.put(key, data, 0);
        self.fake.generation(key).expect("just put").to_string()
    }

    fn put_raw(&self, key: &str, data: &[u8]) {
        self.fake.put(key, data, 0);
    }

    async fn get(&mut self, key: &str) -> Option<Vec<u8>> {
        self.fake.data(key)
    }

    async fn generation(&mut self, key: &str) -> Option<String> {
        self.fake.generation(key).map(|g| g.to_string())
    }

    async fn objects(&mut self) -> BTreeMap<String, sc::Object> {
        self.fake
            .keys()
            .into_iter()
            .filter_map(|k| {
                let data = self.fake.data(&k)?;
                let generation = self.fake.generation(&k)?.to_string();
                let object = sc::Object {
                    generation,
                    size: data.len() as u64,
                    md5: md5_b64(&data),
                };
                Some((k, object))
            })
            .collect()
    }

    fn reset(&self) {
        self.fake.clear_log();
    }

    fn requests(&self) -> Vec<sc::Request> {
        self.fake
            .log()
            .into_iter()
            .map(|r| sc::Request {
                kind: r.kind,
                object: r.name,
                status: r.status,
            })
            .collect()
    }

    fn fail(&self, kind: sc::Kind, object: &str, status: u16, times: Option<u32>) {
        self.fake
            .fail(object, kind, status, times.unwrap_or(u32::MAX));
    }

    fn corrupt(&self, object: &str) {
        self.fake.corrupt(object);
    }

    fn clear_faults(&self) {
        self.fake.clear_faults();
    }
}

fn options(o: &sc::Options) -> SyncOptions {
    SyncOptions {
        rel_path: o.rel_path.clone(),
        models: o.models.clone(),
        namespace: None,
        metadata_only: o.metadata_only,
    }
}

/// The component's name of an error case (the WIT `error` variant).
fn error(e: Error) -> sc::Error {
    let kind = match e.kind() {
        ErrorKind::NotFound(_) => "not-found",
        ErrorKind::PreconditionFailed => "precondition-failed",
        ErrorKind::Unauthenticated { .. } => "unauthenticated",
        ErrorKind::PermissionDenied { .. } => "permission-denied",
        ErrorKind::RateLimited => "rate-limited",
        ErrorKind::Timeout => "timeout",
        ErrorKind::InvalidConfig { .. } => "invalid-config",
        ErrorKind::Integrity => "integrity",
        ErrorKind::UnsafePath => "unsafe-path",
        ErrorKind::Remote => "remote",
        ErrorKind::Io => "io",
        ErrorKind::LockTimeout { .. } => "lock-timeout",
        ErrorKind::Transport { .. } => "transport",
        ErrorKind::UnsupportedLayout => "unsupported-layout",
        ErrorKind::MalformedRemote { .. } => "malformed-remote",
        ErrorKind::NamespaceMismatch { .. } => "namespace-mismatch",
        ErrorKind::NamespaceTaken { .. } => "namespace-taken",
        ErrorKind::Other => "other",
    };
    sc::Error {
        kind: kind.to_string(),
        message: e.message(),
    }
}

fn report(r: SyncReport) -> sc::Report {
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

impl sc::Service for SyncService<FakeGcs, NoAuth> {
    async fn push(&mut self, o: &sc::Options) -> Result<sc::Report, sc::Error> {
        SyncService::push(self, &options(o))
            .await
            .map(report)
            .map_err(error)
    }

    async fn pull(&mut self, o: &sc::Options) -> Result<sc::Report, sc::Error> {
        SyncService::pull(self, &options(o))
            .await
            .map(report)
            .map_err(error)
    }

    async fn mark_dirty(&mut self, o: &sc::Options) -> Result<(), sc::Error> {
        SyncService::mark_dirty(self, &options(o))
            .await
            .map_err(error)
    }

    async fn status(&mut self, o: &sc::Options) -> Result<sc::Status, sc::Error> {
        let s = SyncService::status(self, &options(o))
            .await
            .map_err(error)?;
        Ok(sc::Status {
            sidecar_version: s.sidecar.version.unwrap_or(0),
            local_dirty: s.sidecar.local_dirty,
            dirty_paths: s.sidecar.dirty_paths,
            walk: s.walk,
        })
    }

    type Manifest = crate::sync::core::manifest::PushManifest;

    async fn prepare_push(
        &mut self,
        o: &sc::Options,
    ) -> Result<(Self::Manifest, sc::Report), sc::Error> {
        let (m, r) = SyncService::prepare_push(self, &options(o))
            .await
            .map_err(error)?;
        Ok((m, report(r)))
    }

    async fn commit_push(
        &mut self,
        m: &Self::Manifest,
        o: &sc::Options,
    ) -> Result<sc::Report, sc::Error> {
        SyncService::commit_push(self, m, &options(o))
            .await
            .map(report)
            .map_err(error)
    }

    async fn preview_push(&mut self, o: &sc::Options) -> Result<sc::Preview, sc::Error> {
        let p = SyncService::preview_push(self, &options(o))
            .await
            .map_err(error)?;
        Ok(sc::Preview {
            total: p.total as u32,
            new: p.new as u32,
            changed: p.changed as u32,
            deleted: p.deleted as u32,
        })
    }

    async fn migrate_index(&mut self) -> Result<String, sc::Error> {
        let m = SyncService::migrate_index(self, &crate::sync::SyncOptions::default())
            .await
            .map_err(error)?;
        Ok(match m.outcome {
            crate::sync::MigrateOutcome::Migrated => "migrated",
            crate::sync::MigrateOutcome::AlreadyShardFirst => "already-shard-first",
            crate::sync::MigrateOutcome::MetaRebuilt => "meta-rebuilt",
        }
        .to_string())
    }

    async fn capabilities(&mut self) -> Result<sc::Capabilities, sc::Error> {
        let c = SyncService::capabilities(self);
        Ok(sc::Capabilities {
            scoped_sync: c.scoped_sync,
            two_phase_sync: c.two_phase_sync,
            preview_push: c.preview_push,
            control_plane: c.control_plane,
        })
    }
}

/// One `#[test]` per scenario, in a module per scenario module.
macro_rules! native_tests {
    ($($module:ident: [$($case:ident),* $(,)?]),* $(,)?) => {
        $(
            mod $module {
                $(
                    #[test]
                    fn $case() {
                        let mut driver = super::Native::new();
                        super::run(sync_scenarios::$module::$case(&mut driver));
                    }
                )*
            }
        )*
    };
}

sync_scenarios::for_each_scenario!(native_tests);
