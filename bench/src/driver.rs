//! The child side's toolbox: one loaded component, fresh buckets and caches, datastores
//! opened exactly as `swamp-gcs` opens them (`launch::options_for`: sandbox, allow-list,
//! pooled send path, request counters), and the probe that turns one timed call into a
//! [`TrialSample`].

use super::measure::{self, round2};
use super::native::NativeGcs;
use super::report::{Phase, TrialSample};
use anyhow::{bail, Context as _, Result};
use gcs_host::datastore::{no_options, ModelRef, SyncContext, SyncOptions, SyncReport};
use gcs_host::launch::options_for;
use gcs_host::traffic::RequestKind;
use gcs_host::{Datastore, Host};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Key of the monolithic index.
pub const MONOLITH: &str = ".datastore-index.json";

/// What a child process works with.
pub struct Ctx {
    /// The component, loaded once.
    pub host: Host,
    /// The emulator's base URL.
    pub endpoint: String,
    /// The emulator's process id, for its CPU time.
    pub emulator_pid: Option<u32>,
    /// Scratch space, removed on drop.
    pub work: tempfile::TempDir,
    /// A native client (bucket creation, sizes, seeding); not counted as guest traffic.
    pub native: NativeGcs,
    /// Resident set right after the component was loaded, KiB.
    pub rss_loaded_kib: u64,
    seq: usize,
    tag: String,
}

/// Config fields beyond bucket and endpoint (e.g. concurrency).
pub type Extra = Vec<(&'static str, Value)>;

impl Ctx {
    /// Load the component and set up scratch space under `work_root`. `tag` goes into
    /// bucket names.
    pub fn new(
        endpoint: &str,
        emulator_pid: Option<u32>,
        tag: &str,
        work_root: &Path,
    ) -> Result<Ctx> {
        let host = Host::new()?;
        let work = tempfile::Builder::new()
            .prefix("swamp-bench-")
            .tempdir_in(work_root)?;
        let tag: String = tag
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(30)
            .collect();
        Ok(Ctx {
            host,
            endpoint: endpoint.to_string(),
            emulator_pid,
            work,
            native: NativeGcs::new(endpoint, "unused"),
            // After compiling, with the compiler's garbage handed back.
            rss_loaded_kib: measure::reset_peak().0,
            seq: 0,
            tag,
        })
    }

    /// A new, empty directory under the scratch space.
    pub fn new_dir(&mut self, what: &str) -> Result<PathBuf> {
        self.seq += 1;
        let dir = self.work.path().join(format!("{what}-{}", self.seq));
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// Create a fresh bucket.
    pub async fn fresh_bucket(&mut self) -> Result<String> {
        self.seq += 1;
        let name = format!("bench-{}-{}-{}", self.tag, std::process::id(), self.seq);
        self.native.for_bucket(&name).create_bucket().await?;
        Ok(name)
    }

    /// The datastore config JSON for a bucket.
    pub fn config(&self, bucket: &str, extra: &Extra) -> String {
        let mut m = Map::new();
        m.insert("bucket".into(), Value::String(bucket.into()));
        m.insert("apiEndpoint".into(), Value::String(self.endpoint.clone()));
        for (k, v) in extra {
            m.insert((*k).into(), v.clone());
        }
        Value::Object(m).to_string()
    }

    /// Open and configure a datastore on `cache` the way `swamp-gcs` does.
    pub async fn open(&self, cache: &Path, bucket: &str, extra: &Extra) -> Result<Datastore> {
        self.open_with_progress(cache, bucket, extra, false).await
    }

    /// [`Ctx::open`], with the guest's progress events on or off.
    pub async fn open_with_progress(
        &self,
        cache: &Path,
        bucket: &str,
        extra: &Extra,
        progress: bool,
    ) -> Result<Datastore> {
        let config = self.config(bucket, extra);
        let mut opts = options_for(&config, cache);
        opts.progress = progress;
        let mut ds = self.host.open(&opts).await?;
        ds.configure(&config)
            .await
            .map_err(|e| anyhow::anyhow!("configure: {e}"))?;
        Ok(ds)
    }

    /// Start timing a call against `bucket`: zero the counters, note the index objects
    /// (sizes and generations), reset the memory high-water mark, read CPU clocks. Start
    /// the call right after.
    pub async fn probe(&self, bucket: &str) -> Result<Probe> {
        let pre = index_objects(&self.native.for_bucket(bucket)).await?;
        self.host.traffic.reset();
        let (rss_before, _) = measure::reset_peak();
        Ok(Probe {
            pre,
            rss_before,
            cpu: measure::self_cpu_ms(),
            emulator_cpu: self.emulator_cpu(),
            started: Instant::now(),
        })
    }

    fn emulator_cpu(&self) -> Option<f64> {
        self.emulator_pid.and_then(measure::process_cpu_ms)
    }

    /// Finish a component call started after `probe`.
    pub async fn finish(
        &self,
        probe: Probe,
        bucket: &str,
        result: Result<SyncReport, gcs_host::CallError>,
    ) -> Result<TrialSample> {
        let wall = probe.started.elapsed().as_secs_f64() * 1000.0;
        let mut sample = self.stop_clocks(&probe, wall);
        let report = result.map_err(|e| anyhow::anyhow!("{} error: {e}", e.kind()))?;
        let traffic = self.host.traffic.snapshot();
        sample.requests = traffic
            .by_kind
            .iter()
            .map(|(k, n)| (k.name().to_string(), *n))
            .collect();
        sample.requests_total = traffic.total;
        sample.bytes_sent = traffic.bytes_sent;
        sample.bytes_received = traffic.bytes_received;
        sample.files = u64::from(report.files);
        sample.deleted = u64::from(report.deleted);
        sample.content_bytes = report.bytes;
        sample.fast_path = report.fast_path;
        sample.phases = report
            .phases
            .iter()
            .map(|p| Phase {
                name: p.name.clone(),
                millis: p.millis,
                detail: p.detail.clone(),
            })
            .collect();
        sample.index_bytes = self.index_bytes(&probe, bucket).await?;
        Ok(sample)
    }

    /// Finish a native run (requests counted by the native client).
    pub fn finish_native(
        &self,
        probe: Probe,
        gcs: &NativeGcs,
        files: u64,
        bytes: u64,
    ) -> TrialSample {
        let wall = probe.started.elapsed().as_secs_f64() * 1000.0;
        let mut sample = self.stop_clocks(&probe, wall);
        let c = &gcs.counts;
        let mut requests = BTreeMap::new();
        for (k, v) in [
            ("upload", c.upload.load(Ordering::Relaxed)),
            ("download", c.download.load(Ordering::Relaxed)),
            ("metadata", c.metadata.load(Ordering::Relaxed)),
        ] {
            if v > 0 {
                requests.insert(k.to_string(), v);
            }
        }
        sample.requests_total = requests.values().sum();
        sample.requests = requests;
        sample.bytes_sent = c.sent.load(Ordering::Relaxed);
        sample.bytes_received = c.received.load(Ordering::Relaxed);
        sample.files = files;
        sample.content_bytes = bytes;
        sample
    }

    fn stop_clocks(&self, probe: &Probe, wall: f64) -> TrialSample {
        let cpu = measure::self_cpu_ms() - probe.cpu;
        let emulator = match (probe.emulator_cpu, self.emulator_cpu()) {
            (Some(a), Some(b)) => Some(round2(b - a)),
            _ => None,
        };
        TrialSample {
            wall_ms: round2(wall),
            client_cpu_ms: round2(cpu),
            emulator_cpu_ms: emulator,
            rss_before_kib: probe.rss_before,
            rss_peak_kib: measure::peak_kib(),
            ..TrialSample::default()
        }
    }

    /// Bytes of index objects (monolith, partitions, meta) moved by the call: each
    /// download at the object's size before the call, and each index object whose
    /// generation changed at its new size (the upload log cannot name multipart uploads;
    /// the listing can). Read natively, not counted as guest traffic.
    async fn index_bytes(&self, probe: &Probe, bucket: &str) -> Result<u64> {
        let post = index_objects(&self.native.for_bucket(bucket)).await?;
        let mut total = 0;
        for r in self.host.traffic.log() {
            let is_index = r.object == MONOLITH || r.object.starts_with("_index/");
            if is_index && r.status == 200 && r.kind == RequestKind::Download {
                total += probe.pre.get(&r.object).map_or(0, |(size, _)| *size);
            }
        }
        for (name, (size, generation)) in &post {
            if probe.pre.get(name).map(|(_, g)| g) != Some(generation) {
                total += size;
            }
        }
        Ok(total)
    }
}

/// Size and generation of the monolith and every object under `_index/`.
async fn index_objects(gcs: &NativeGcs) -> Result<HashMap<String, (u64, String)>> {
    let mut map: HashMap<String, (u64, String)> = gcs
        .list("_index/")
        .await?
        .into_iter()
        .map(|(name, size, generation)| (name, (size, generation)))
        .collect();
    for (name, size, generation) in gcs.list(MONOLITH).await? {
        if name == MONOLITH {
            map.insert(name, (size, generation));
        }
    }
    Ok(map)
}

/// A call being timed.
pub struct Probe {
    pre: HashMap<String, (u64, String)>,
    rss_before: u64,
    cpu: f64,
    emulator_cpu: Option<f64>,
    started: Instant,
}

impl Probe {
    /// A probe for native work (no index sizes).
    pub fn native(ctx: &Ctx) -> Probe {
        let (rss_before, _) = measure::reset_peak();
        Probe {
            pre: HashMap::new(),
            rss_before,
            cpu: measure::self_cpu_ms(),
            emulator_cpu: ctx.emulator_cpu(),
            started: Instant::now(),
        }
    }
}

/// Options for `mark-dirty` of one path.
pub fn dirty(rel: &str) -> SyncOptions {
    SyncOptions {
        rel_path: Some(rel.to_string()),
        ..no_options()
    }
}

/// Options for a pull scoped to one model.
pub fn scoped(model_type: &str, model_id: &str) -> SyncOptions {
    SyncOptions {
        context: Some(SyncContext {
            models: vec![ModelRef {
                model_type: model_type.to_string(),
                model_id: model_id.to_string(),
            }],
        }),
        ..no_options()
    }
}

/// Fail the scenario unless `ok`.
pub fn check(ok: bool, what: impl FnOnce() -> String) -> Result<()> {
    if !ok {
        bail!("check failed: {}", what());
    }
    Ok(())
}

/// Run a sync call outside any measurement and require `files` files moved.
pub async fn expect_files(
    what: &str,
    call: impl std::future::Future<Output = Result<SyncReport, gcs_host::CallError>>,
    files: u32,
) -> Result<SyncReport> {
    let r = call
        .await
        .map_err(|e| anyhow::anyhow!("{what}: {} error: {e}", e.kind()))
        .context("setup")?;
    check(r.files == files, || {
        format!("{what}: expected {files} files, got {}", r.files)
    })?;
    Ok(r)
}
