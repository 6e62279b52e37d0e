//! Loading the component and opening sandboxed datastores.
//!
//! The component is loaded once per process: from the precompiled artefact of an earlier
//! run when there is a sound one (`code_cache.rs`, a few ms), else compiled (a release host
//! takes ~0.4 s, a debug host several seconds) and saved for the next run. It is then
//! pre-instantiated; every datastore then gets a fresh store with its own sandbox: one
//! preopened cache directory, optionally a read-only directory holding exactly the
//! credential files it needs, the environment variables the host chose, and HTTP only to
//! the allow-list.

use crate::bindings::{GcsDatastore, GcsDatastorePre};
use crate::code_cache;
use crate::datastore::Datastore;
#[cfg(feature = "faults")]
use crate::faults::FaultPlan;
use crate::guest_progress::{self, GuestProgress, StderrSplitter};
use crate::send::{new_pool, AllowList, Hooks, Pool};
use crate::traffic::Traffic;
use anyhow::{Context as _, Result};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// The component built by `build.rs`, embedded so the binaries work from any directory.
pub static COMPONENT_BYTES: &[u8] = include_bytes!(env!("GCS_DATASTORE_WASM_PATH"));

/// Where the cache appears inside the sandbox.
pub const GUEST_CACHE_DIR: &str = "/cache";
/// Where credential files appear inside the sandbox.
pub const GUEST_CREDENTIALS_DIR: &str = "/credentials";

/// Store state: WASI contexts and the HTTP hooks.
pub struct State {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: Hooks,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl crate::bindings::swamp::datastore::types::Host for State {}

fn engine_and_component() -> Result<&'static (Engine, Component)> {
    static LOADED: OnceLock<(Engine, Component)> = OnceLock::new();
    if let Some(l) = LOADED.get() {
        return Ok(l);
    }
    let mut config = Config::new();
    config.wasm_component_model(true);
    let engine = Engine::new(&config)?;
    let component = match std::env::var_os("SWAMP_GCS_COMPONENT") {
        Some(path) => std::fs::read(&path)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| code_cache::load_traced(&engine, &bytes))
            .map_err(|e| {
                anyhow::anyhow!(
                    "loading the component from SWAMP_GCS_COMPONENT={}: {e:#}",
                    Path::new(&path).display()
                )
            })?,
        None => code_cache::load_traced(&engine, COMPONENT_BYTES)
            .map_err(|e| anyhow::anyhow!("compiling the embedded component: {e:#}"))?,
    };
    Ok(LOADED.get_or_init(|| (engine, component)))
}

/// Imports with their function counts, and export names.
pub type ComponentInterfaces = (Vec<(String, usize)>, Vec<String>);

/// The component's imports, each with the number of functions it brings, and its export
/// names (`wasi:http/types@0.2.x`, ...), as wasmtime sees them: what the sandbox test
/// checks against the standard-WASI-only rule.
pub fn component_interfaces() -> Result<ComponentInterfaces> {
    use wasmtime::component::types::ComponentItem;
    let (engine, component) = engine_and_component()?;
    let ty = component.component_type();
    let imports = ty
        .imports(engine)
        .map(|(name, item)| {
            let funcs = match item.ty {
                ComponentItem::ComponentInstance(i) => i
                    .exports(engine)
                    .filter(|(_, e)| matches!(e.ty, ComponentItem::ComponentFunc(_)))
                    .count(),
                ComponentItem::ComponentFunc(_) => 1,
                _ => 0,
            };
            (name.to_string(), funcs)
        })
        .collect();
    let exports = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    Ok((imports, exports))
}

/// A file the guest may read, copied into its read-only credentials directory.
#[derive(Debug, Clone)]
pub struct CredentialFile {
    /// Name inside `/credentials` (may contain `/`).
    pub guest_name: String,
    /// The file on this machine.
    pub host_path: PathBuf,
}

/// How to open one datastore.
#[derive(Debug, Clone)]
pub struct DatastoreOptions {
    /// The cache directory on this machine (created if missing).
    pub cache_dir: PathBuf,
    /// Where the guest may connect.
    pub allow: AllowList,
    /// Environment variables the guest sees (nothing else is inherited).
    pub env: Vec<(String, String)>,
    /// Read-only files for credentials.
    pub credential_files: Vec<CredentialFile>,
    /// Forward the guest's stderr to ours (trace lines; progress lines never).
    pub inherit_stderr: bool,
    /// Ask the guest for progress events (published to [`Host::progress`]).
    pub progress: bool,
    /// Keep the tail of the guest's stderr and print it if the thread owning the datastore
    /// panics (tests: a failing test shows what the guest said).
    pub show_stderr_on_panic: bool,
}

impl DatastoreOptions {
    /// Options for a cache directory, allowing only the authority of `endpoint`.
    pub fn new(cache_dir: impl Into<PathBuf>, endpoint: &str) -> Self {
        let mut allow = AllowList::default();
        allow.allow_url(endpoint);
        DatastoreOptions {
            cache_dir: cache_dir.into(),
            allow,
            env: Vec::new(),
            credential_files: Vec::new(),
            inherit_stderr: false,
            progress: false,
            show_stderr_on_panic: false,
        }
    }

    /// Add an environment variable for the guest.
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.to_string(), v.to_string()));
        self
    }
}

/// A loaded component plus the shared HTTP machinery; opens datastores.
pub struct Host {
    engine: Engine,
    pre: GcsDatastorePre<State>,
    pool: Pool,
    /// Request counters of every datastore opened from this host.
    pub traffic: Arc<Traffic>,
    /// Fault rules applied to every datastore opened from this host (feature `faults`).
    #[cfg(feature = "faults")]
    pub faults: Arc<FaultPlan>,
    /// Progress events of every datastore opened from this host with `progress: true`.
    pub progress: Arc<GuestProgress>,
}

impl Host {
    /// Load the component (compiled once per process) and build a linker with only the
    /// standard WASI 0.2 interfaces and wasi:http. Must run inside a tokio runtime.
    pub fn new() -> Result<Host> {
        let (engine, component) = engine_and_component()?;
        let mut linker: Linker<State> = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        GcsDatastore::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;
        let pre = GcsDatastorePre::new(linker.instantiate_pre(component)?)?;
        Ok(Host {
            engine: engine.clone(),
            pre,
            pool: new_pool(),
            traffic: Arc::new(Traffic::default()),
            #[cfg(feature = "faults")]
            faults: Arc::new(FaultPlan::default()),
            progress: Arc::new(GuestProgress::default()),
        })
    }

    /// Open a datastore in a fresh store with its own sandbox.
    pub async fn open(&self, opts: &DatastoreOptions) -> Result<Datastore> {
        std::fs::create_dir_all(&opts.cache_dir).with_context(|| {
            format!("creating the cache directory {}", opts.cache_dir.display())
        })?;
        let mut b = WasiCtx::builder();
        // Must precede preopened_dir: the flag is copied into each directory when it is
        // added, and without it guest file access is 35-40x slower
        // (docs/wasm-host.md#blocking-file-access).
        b.allow_blocking_current_thread(true);
        b.preopened_dir(&opts.cache_dir, GUEST_CACHE_DIR, FsPerms::ReadWrite)
            .map_err(|e| {
                anyhow::anyhow!(
                    "opening the cache directory {}: {e}",
                    opts.cache_dir.display()
                )
            })?;
        let credentials = if opts.credential_files.is_empty() {
            None
        } else {
            let dir = tempfile::Builder::new()
                .prefix("swamp-gcs-cred-")
                .tempdir()?;
            for f in &opts.credential_files {
                let dest = dir.path().join(&f.guest_name);
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::copy(&f.host_path, &dest).with_context(|| {
                    format!("reading credential file {}", f.host_path.display())
                })?;
            }
            b.preopened_dir(dir.path(), GUEST_CREDENTIALS_DIR, FsPerms::ReadOnly)?;
            Some(dir)
        };
        b.env("SWAMP_GCS_CACHE_DIR", GUEST_CACHE_DIR);
        for (k, v) in &opts.env {
            b.env(k, v);
        }
        if opts.progress {
            b.env(guest_progress::ENABLE_VAR, "1");
        }
        let tail = opts
            .show_stderr_on_panic
            .then(|| Arc::new(guest_progress::StderrTail::default()));
        b.stderr(StderrSplitter::new(
            self.progress.clone(),
            opts.inherit_stderr,
            tail.clone(),
        ));
        let state = State {
            table: ResourceTable::new(),
            wasi: b.build(),
            http: WasiHttpCtx::new(),
            hooks: Hooks {
                allow: Arc::new(opts.allow.clone()),
                pool: self.pool.clone(),
                traffic: self.traffic.clone(),
                #[cfg(feature = "faults")]
                faults: self.faults.clone(),
                default_timeout: Duration::from_secs(600),
            },
        };
        let mut store = Store::new(&self.engine, state);
        let bindings = self.pre.instantiate_async(&mut store).await?;
        Ok(Datastore::new(store, bindings, credentials, tail))
    }
}
