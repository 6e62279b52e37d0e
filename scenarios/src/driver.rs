//! The driver seam: what a scenario may do to a sync service, its caches and its bucket,
//! and the plain types every driver converts its own results into.

use std::collections::BTreeMap;
use std::fmt;

use crate::cache::Cache;

/// One way of running the sync service: natively on the in-memory fake GCS, or through
/// the component in wasmtime against an HTTP server. A driver owns the bucket and the
/// request counter; caches are plain directories ([`Cache`]) the scenario creates.
#[allow(async_fn_in_trait)] // scenarios run on one thread; no `Send` needed
pub trait Driver {
    /// One configured sync service (one "process": nothing in memory when opened).
    type Service: Service;

    /// A short name for messages (`native`, `fake`, `emulator`).
    fn name(&self) -> String;

    /// A sync service on `cache` in a fresh process; `extra` holds config JSON members
    /// to add, without a leading comma (`"pullConcurrency":2`), or is empty.
    async fn open(&mut self, cache: &Cache, extra: &str) -> Self::Service;

    // ----- the bucket, behind the sync service's back (never counted) -----

    /// Write an object as another client would; returns its generation.
    async fn put(&mut self, key: &str, data: &[u8]) -> String;

    /// Write an object whose name an object API may refuse (`../x`), straight to the
    /// server.
    fn put_raw(&self, key: &str, data: &[u8]);

    /// An object's bytes, `None` when it does not exist.
    async fn get(&mut self, key: &str) -> Option<Vec<u8>>;

    /// An object's generation, `None` when it does not exist.
    async fn generation(&mut self, key: &str) -> Option<String>;

    /// Every object, by key.
    async fn objects(&mut self) -> BTreeMap<String, Object>;

    /// An object's bytes, which must exist.
    async fn must_get(&mut self, key: &str) -> Vec<u8> {
        self.get(key)
            .await
            .unwrap_or_else(|| panic!("{key} is missing from the bucket"))
    }

    /// An object parsed as JSON.
    async fn json(&mut self, key: &str) -> serde_json::Value {
        let bytes = self.must_get(key).await;
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{key} is not JSON: {e}"))
    }

    /// The keys of every object, sorted.
    async fn names(&mut self) -> Vec<String> {
        self.objects().await.into_keys().collect()
    }

    /// The entry keys of the remote monolith, in its order.
    async fn index_keys(&mut self) -> Vec<String> {
        crate::support::keys_of(&self.json(crate::support::INDEX).await["entries"])
    }

    // ----- the requests the service made -----

    /// Forget the requests counted so far.
    fn reset(&self);

    /// The requests the service made since the last [`reset`](Driver::reset), in order.
    fn requests(&self) -> Vec<Request>;

    // ----- faults -----

    /// Answer requests of `kind` on `object` with HTTP `status`: the next `times` of them,
    /// or every one (`None`).
    fn fail(&self, kind: Kind, object: &str, status: u16, times: Option<u32>);

    /// Serve every download of `object` with bytes that do not match its hashes.
    fn corrupt(&self, object: &str);

    /// Remove every fault.
    fn clear_faults(&self);

    // ----- counting (provided) -----

    /// Requests since the last reset.
    fn total(&self) -> usize {
        self.requests().len()
    }

    /// Requests of `kind` since the last reset.
    fn count(&self, kind: Kind) -> usize {
        self.requests().iter().filter(|r| r.kind == kind).count()
    }

    /// Requests of `kind` on exactly `object` since the last reset.
    fn count_on(&self, kind: Kind, object: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.kind == kind && r.object == object)
            .count()
    }

    /// "GET" requests in the sense of the TypeScript benchmark figures: metadata,
    /// downloads and listings.
    fn gets(&self) -> usize {
        self.requests().iter().filter(|r| r.kind.is_get()).count()
    }

    /// Uploads (every upload is one PUT/POST).
    fn puts(&self) -> usize {
        self.count(Kind::Upload)
    }

    /// Objects of the requests of `kind`, in order.
    fn objects_of(&self, kind: Kind) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.object)
            .collect()
    }

    /// "3 Download, 1 Metadata" style summary, for messages.
    fn summary(&self) -> String {
        let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
        for r in self.requests() {
            *by_kind.entry(format!("{:?}", r.kind)).or_default() += 1;
        }
        let parts: Vec<String> = by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
        if parts.is_empty() {
            "no requests".into()
        } else {
            parts.join(", ")
        }
    }
}

/// The calls of one sync service.
#[allow(async_fn_in_trait)] // scenarios run on one thread; no `Send` needed
pub trait Service {
    /// `pushChanged`.
    async fn push(&mut self, options: &Options) -> Result<Report, Error>;
    /// `pullChanged`.
    async fn pull(&mut self, options: &Options) -> Result<Report, Error>;
    /// `markDirty`.
    async fn mark_dirty(&mut self, options: &Options) -> Result<(), Error>;
    /// A dry run of the next push.
    async fn status(&mut self, options: &Options) -> Result<Status, Error>;
    /// What the service implements.
    async fn capabilities(&mut self) -> Result<Capabilities, Error>;
    /// What `prepare-push` returns for `commit-push` (each driver's own type).
    type Manifest: Clone;
    /// `preparePush`: the manifest and the transfer's report.
    async fn prepare_push(&mut self, options: &Options) -> Result<(Self::Manifest, Report), Error>;
    /// `commitPush`.
    async fn commit_push(
        &mut self,
        manifest: &Self::Manifest,
        options: &Options,
    ) -> Result<Report, Error>;
    /// `previewPush`.
    async fn preview_push(&mut self, options: &Options) -> Result<Preview, Error>;
    /// `migrate-index`: the outcome's name (`migrated`, `already-shard-first`, `meta-rebuilt`).
    async fn migrate_index(&mut self) -> Result<String, Error>;
}

/// What a push would do (`previewPush`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Preview {
    /// `new + changed + deleted`.
    pub total: u32,
    /// Files the remote lacks.
    pub new: u32,
    /// Files that differ.
    pub changed: u32,
    /// Remote files to delete.
    pub deleted: u32,
}

/// What a call is asked to do (the options the scenarios use).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `markDirty` only: the path about to be written; `None` = everything.
    pub rel_path: Option<String>,
    /// Pull only: `(modelType, modelId)` pairs of a scoped pull; empty = unscoped.
    pub models: Vec<(String, String)>,
    /// Pull only: skip `data/**/raw` (lazy hydration).
    pub metadata_only: bool,
}

/// One phase of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// `pushChanged.walk`, ...
    pub name: String,
    /// How long it took.
    pub millis: f64,
    /// Its detail line (`files=3 ... mode=scoped`).
    pub detail: String,
}

/// What a push or pull did.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Files transferred.
    pub files: u32,
    /// Remote objects deleted.
    pub deleted: u32,
    /// Answered by the fast path (one request).
    pub fast_path: bool,
    /// The phases, in order.
    pub phases: Vec<Phase>,
}

impl Report {
    /// The detail of the phase `name` (panics when there is none).
    pub fn phase(&self, name: &str) -> &str {
        self.phases
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.detail.as_str())
            .unwrap_or_else(|| panic!("no phase {name} in {:?}", self.phases))
    }
}

/// A dry run of the next push (the fields the scenarios read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Sidecar version found (0 = none).
    pub sidecar_version: u32,
    /// Unpushed local work is recorded.
    pub local_dirty: bool,
    /// The dirty paths recorded.
    pub dirty_paths: Vec<String>,
    /// How the next push walks: `scoped` or `full`.
    pub walk: String,
}

/// What the service implements (the flags the scenarios read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Scoped pulls read only the models' partitions.
    pub scoped_sync: bool,
    /// Two-phase push.
    pub two_phase_sync: bool,
    /// Push preview.
    pub preview_push: bool,
    /// The `_control/` record store.
    pub control_plane: bool,
}

/// A failed call: the error case, in the component's names (`integrity`,
/// `unsupported-layout`, ...), and its one-line message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The case name.
    pub kind: String,
    /// The message.
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.kind)
    }
}

/// One object of the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Its generation (numeric, increasing with time).
    pub generation: String,
    /// Its size.
    pub size: u64,
    /// Base64 MD5, as GCS lists it.
    pub md5: String,
}

/// What kind of request the service made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Object metadata GET.
    Metadata,
    /// Media download.
    Download,
    /// Upload.
    Upload,
    /// DELETE.
    Delete,
    /// Listing page.
    List,
    /// Anything else.
    Other,
}

impl Kind {
    /// GETs of any sort (metadata, media, listing), as request budgets count them.
    pub fn is_get(self) -> bool {
        matches!(self, Kind::Metadata | Kind::Download | Kind::List)
    }
}

/// One request the service made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Its kind.
    pub kind: Kind,
    /// The object (decoded), the listing prefix, or `""` when the driver cannot name it
    /// (the component's multipart uploads carry the name in the body).
    pub object: String,
    /// The answer's status, 0 when none arrived.
    pub status: u16,
}
