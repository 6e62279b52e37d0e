//! The command line grammar: global options, commands and their help text.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const ABOUT: &str =
    "Sync a swamp cache with a Google Cloud Storage bucket, through the sandboxed gcs-datastore component";

const LONG_ABOUT: &str = "\
Sync a swamp cache with a Google Cloud Storage bucket.

The datastore runs as a WebAssembly component in a sandbox, hosted the way swamp hosts it: \
it sees only the cache directory and the credential files it needs, and may connect only to \
the configured endpoint and Google's auth endpoints.

The datastore config comes from --config (JSON), else the SWAMP_DATASTORE environment \
variable ('@swamp/gcs-datastore:{json}', swamp's format), else --config-file (a .swamp.yaml). \
Credentials are Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's \
application_default_credentials.json, or the metadata server); with `apiEndpoint` in the \
config, or STORAGE_EMULATOR_HOST, none are used.

Exit codes: 0 success; 1 operational failure (network, auth, missing bucket, lock timeout, \
integrity, unhealthy); 2 usage or configuration error; 3 `control put-if-absent` found a \
value; 130 interrupted.";

const AFTER_HELP: &str = "\
Examples:
  swamp-gcs demo                                   a self-contained tour on this machine
  swamp-gcs --config-file .swamp.yaml verify
  swamp-gcs --config-file .swamp.yaml --cache ~/.swamp/repos/<repoId> sync
  swamp-gcs pull --model aws/ec2/vpc/vpc-1 --cache ./cache --config '{\"bucket\":\"my-bucket\"}'
  SWAMP_DATASTORE='@swamp/gcs-datastore:{\"bucket\":\"b\"}' swamp-gcs status --cache c --json

Global options may come before or after the command name.";

/// `swamp-gcs`.
#[derive(Parser, Debug)]
#[command(
    name = "swamp-gcs",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true
)]
pub struct Cli {
    /// Options every command accepts.
    #[command(flatten)]
    pub global: Global,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts, before or after the command name.
#[derive(Args, Clone, Debug, Default)]
pub struct Global {
    /// Datastore config as a JSON object, e.g. '{"bucket":"my-bucket","prefix":"team"}'
    #[arg(long, global = true, value_name = "JSON")]
    pub config: Option<String>,
    /// Read the config from a swamp .swamp.yaml (datastore.type must be @swamp/gcs-datastore)
    #[arg(long, global = true, value_name = "PATH")]
    pub config_file: Option<PathBuf>,
    /// The local cache directory, created if missing. Required by pull, push, mark-dirty,
    /// sync and status, never defaulted (swamp keeps it at ~/.swamp/repos/<repoId>); the
    /// other commands do not use it
    #[arg(long, global = true, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Print one JSON object on stdout instead of a human summary (no progress display
    /// unless --progress=always, which writes progress as JSON lines on stderr)
    #[arg(long, global = true)]
    pub json: bool,
    /// Progress of pull, push and sync on stderr: auto draws a bar on a terminal (never
    /// with --json); always also prints a plain line every few seconds when stderr is not a
    /// terminal, or JSON lines with --json; never draws nothing
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value_t = ProgressMode::Auto
    )]
    pub progress: ProgressMode,
}

/// When to show progress (`--progress`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar on a terminal, nothing otherwise or with --json
    #[default]
    Auto,
    /// A bar on a terminal, plain lines otherwise, JSON lines with --json
    Always,
    /// Nothing
    Never,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print what this datastore implements (no config or network needed)
    #[command(after_help = "Example:\n  swamp-gcs caps --json")]
    Caps,

    /// Check that the bucket is reachable with the configured credentials (exit 1 if not)
    #[command(
        long_about = "Check that the bucket is reachable with the configured credentials: one \
bucket GET, as swamp does before every command. Prints the result; exits 1 when unhealthy.",
        after_help = "Example:\n  swamp-gcs --config-file .swamp.yaml verify"
    )]
    Verify,

    /// Download what changed in the bucket into the cache
    #[command(
        long_about = "Download what changed in the bucket into the cache (swamp's pullChanged). \
Answers with one request when nothing changed since the last sync (the fast path). With \
--model only those models' index partitions are read (a scoped pull).",
        after_help = "Examples:\n  swamp-gcs pull --cache ./cache --config-file .swamp.yaml\n  \
swamp-gcs pull --cache ./cache --model aws/ec2/vpc/vpc-1 --model aws/ec2/subnet/sn-2\n  \
swamp-gcs pull --cache ./cache --metadata-only\n  \
swamp-gcs pull --cache ./cache --namespace infra"
    )]
    Pull(PullArgs),

    /// Upload what changed in the cache and publish the index
    #[command(
        long_about = "Upload what changed in the cache and publish the index (swamp's \
pushChanged). When paths were marked dirty only those are checked; otherwise every file is \
walked. Remote files are deleted only for dirty paths that no longer exist locally. See \
`status` for a dry run.",
        after_help = "Examples:\n  swamp-gcs push --cache ./cache --config-file .swamp.yaml\n  \
swamp-gcs push --cache ./cache --two-phase\n  \
swamp-gcs push --cache ./cache --namespace infra\n  \
swamp-gcs status --cache ./cache     # what push would do, without doing it"
    )]
    Push(PushArgs),

    /// Record that a path (or, without REL, everything) is about to change
    #[command(
        name = "mark-dirty",
        long_about = "Record in the cache's sidecar that REL (a cache-relative path, file or \
directory) is about to change, so the next push checks only dirty paths; without REL the \
whole cache is marked dirty and the next push walks every file. Sends nothing.",
        after_help = "Examples:\n  swamp-gcs mark-dirty --cache ./cache data/aws/ec2/vpc/vpc-1\n  \
swamp-gcs mark-dirty --cache ./cache            # everything"
    )]
    MarkDirty(MarkDirtyArgs),

    /// Pull then push under the datastore lock, as swamp does around each command
    #[command(
        long_about = "What swamp does around each command: take the global lock \
(.datastore.lock), pull, push, release. The lock is heartbeated every ttl/3 from a second \
sandbox while the pull and push run, so long transfers keep it. With --model, per-model \
locks (data/{type}/{id}/.lock) are taken instead and the pull is scoped to those models, \
as swamp's scoped sync does. With a namespace the locks are swamp's namespaced ones: \
.locks/{ns}.lock, or {ns}/data/{type}/{id}/.lock per model.

If the lock is lost or at risk after the pull, the push is not started (exit 1). Ctrl-C \
finishes the call in flight, skips the rest and releases the lock; a second Ctrl-C quits \
at once (the lock then expires after its ttl).",
        after_help = "Examples:\n  swamp-gcs sync --cache ~/.swamp/repos/<repoId> --config-file .swamp.yaml\n  \
swamp-gcs sync --cache ./cache --model aws/ec2/vpc/vpc-1\n  \
swamp-gcs sync --cache ./cache --namespace infra     # lock .locks/infra.lock"
    )]
    Sync(SyncArgs),

    /// Show the sidecar and what a push would upload and delete (a dry run)
    #[command(
        long_about = "Show the cache's sync sidecar (dirty paths, bulk flag, last verified \
index generation) and what the next push would upload and delete. Only the index is read; \
no file is transferred.",
        after_help = "Examples:\n  swamp-gcs status --cache ./cache --json\n  \
swamp-gcs status --cache ./cache --namespace infra"
    )]
    Status(StatusArgs),

    /// Make the bucket's index shard-first (version 2), under the global lock
    #[command(
        name = "migrate-index",
        long_about = "Split the monolithic index into one shard per partition and write \
_index/_meta.json version 2 (commitSeq 1), holding the global lock (.datastore.lock) as swamp \
does. Idempotent: an index that is already shard-first is left as it is (a meta listing \
missing shards is rebuilt from the shards that exist). Nothing is written when an entry has \
no partition key. The monolith stays in place; shard-first clients no longer read it.",
        after_help = "Example:\n  swamp-gcs migrate-index --json"
    )]
    MigrateIndex,

    /// Inspect, take or release a lock object in the bucket
    #[command(after_help = "Examples:\n  swamp-gcs lock inspect\n  \
swamp-gcs lock acquire --hold-ms 60000\n  \
swamp-gcs lock inspect --key data/aws/ec2/vpc/vpc-1/.lock --json\n  \
swamp-gcs lock force-release 1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b")]
    Lock {
        /// The lock action.
        #[command(subcommand)]
        action: LockAction,
    },

    /// Register a namespace for a repository, or list the registered ones
    #[command(
        long_about = "Several repositories can share one bucket, each under its own namespace: \
its objects under NS/ in the bucket, its files under NS/ in the cache, and a manifest \
NS/.namespace.json naming the repository that registered it. `register` claims a namespace for \
a repository (refused, exit 1, when another repository holds it; the same repository may \
register again); `list` shows the registered ones. Then pass --namespace NS (or set \
datastore.namespace in .swamp.yaml) to pull, push, sync and status.",
        after_help = "Examples:\n  swamp-gcs namespace register infra --repo-id cf4778dc-7d8d-45df-a9b0-d76a666bc5e7\n  \
swamp-gcs namespace list --json"
    )]
    Namespace {
        /// The namespace action.
        #[command(subcommand)]
        action: NamespaceAction,
    },

    /// Export this namespace's catalog, or read other namespaces' catalogs and files
    #[command(
        long_about = "Catalogs let repositories sharing a bucket see each other's data. \
`export` writes a JSON array of catalog rows to NS/.catalog-export.json (skipped when the rows \
are the ones this cache last exported); `pull` reads other namespaces' exports; `fetch` reads \
one file of another namespace. The reads never write to a cache.",
        after_help = "Examples:\n  swamp-gcs catalog export --cache ./cache --namespace infra --rows rows.json\n  \
swamp-gcs catalog pull --namespace infra           # every other registered namespace\n  \
swamp-gcs catalog pull web db --json\n  \
swamp-gcs catalog fetch web data/aws/ec2/vpc/main/state/1/raw --output vpc.json"
    )]
    Catalog {
        /// The catalog action.
        #[command(subcommand)]
        action: CatalogAction,
    },

    /// Read and write control-plane records (`[{ns}/]_control/KEY`), outside every index
    #[command(
        long_about = "Read and write the control-plane store: small records at \
[{namespace}/]_control/KEY under the configured prefix, which swamp uses for heartbeats, \
claims and pending runs. They never enter an index, a cache or a sync. A KEY is a relative \
slash path such as heartbeats/worker-1 (no leading slash, no empty, `.` or `..` segments, \
no control characters). --namespace NS works on NS's records; without it, the solo ones.",
        after_help = "Examples:\n  swamp-gcs control put heartbeats/worker-1 beat.json\n  \
echo -n worker-1 | swamp-gcs control put-if-absent leader --namespace team\n  \
swamp-gcs control get leader --namespace team > leader.txt\n  \
swamp-gcs control list heartbeats/ --json\n  \
swamp-gcs control delete heartbeats/worker-1"
    )]
    Control {
        /// The control-plane action.
        #[command(subcommand)]
        action: ControlAction,
    },

    /// A self-contained tour: a local fake-gcs-server, a sample cache, push, pull, scoped pull
    #[command(
        long_about = "A self-contained tour on this machine. Starts fake-gcs-server (from the \
project's .venv, set up by ./scripts/setup.sh) on a free 127.0.0.1 port, creates a bucket, \
seeds a cache from the built-in sample (fixtures/sample-cache), pushes it, edits one file and \
pushes the delta, pulls into a second cache, does a scoped pull of one model into a third, \
checks the trees agree, syncs under the lock, and prints each step with its request counts. \
It stops the emulator and removes its temporary directories, also on Ctrl-C. Ignores \
--config, --config-file and --cache.",
        after_help = "Examples:\n  swamp-gcs demo\n  swamp-gcs demo --json"
    )]
    Demo,
}

/// `--namespace`, on the commands that sync a cache.
#[derive(Args, Debug, Clone, Default)]
pub struct NamespaceArg {
    /// Serve this namespace: objects under NS/ in the bucket, files under NS/ in the cache
    /// (swamp's `datastore.namespace`, read from --config-file's .swamp.yaml when this is
    /// not given; an empty NS means solo)
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
}

/// `push`.
#[derive(Args, Debug, Clone, Default)]
pub struct PushArgs {
    /// Push in two phases, as swamp does for model runs: prepare (upload and delete,
    /// publish nothing), then commit (merge into the current index and publish)
    #[arg(long)]
    pub two_phase: bool,
    #[command(flatten)]
    pub ns: NamespaceArg,
}

/// `status`.
#[derive(Args, Debug, Clone, Default)]
pub struct StatusArgs {
    #[command(flatten)]
    pub ns: NamespaceArg,
}

/// `namespace` actions.
#[derive(Subcommand, Debug)]
pub enum NamespaceAction {
    /// Claim NS for a repository: write NS/.namespace.json unless another repository holds it
    #[command(
        long_about = "Claim NS for the repository --repo-id: read NS/.namespace.json; when \
another repository's id is in it, exit 1 naming that repository and write nothing; when none \
exists, create it (a create-only write, so of two repositories racing for one namespace only \
one wins); when it is this repository's, refresh it. NS is one path segment (no /, \\, NUL, \
not . or ..).",
        after_help = "Example:\n  swamp-gcs namespace register infra --repo-id cf4778dc-7d8d-45df-a9b0-d76a666bc5e7"
    )]
    Register(NamespaceRegisterArgs),

    /// List the registered namespaces (none: the bucket is used solo)
    #[command(after_help = "Example:\n  swamp-gcs namespace list --json")]
    List,
}

/// `namespace register`.
#[derive(Args, Debug, Clone)]
pub struct NamespaceRegisterArgs {
    /// The namespace to claim
    #[arg(value_name = "NS")]
    pub namespace: String,
    /// The repository's id (swamp's repository UUID); defaults to the `repoId` of
    /// --config-file's .swamp.yaml when it has one
    #[arg(long, value_name = "ID")]
    pub repo_id: Option<String>,
}

/// `catalog` actions.
#[derive(Subcommand, Debug)]
pub enum CatalogAction {
    /// Write this namespace's catalog rows to NS/.catalog-export.json
    #[command(
        long_about = "Write the catalog rows (a JSON array, from --rows FILE or - for stdin) to \
NS/.catalog-export.json in compact form, NS being --namespace (or .swamp.yaml's \
datastore.namespace). The rows' hash is kept in the cache's sidecar: exporting the same rows \
again sends nothing.",
        after_help = "Examples:\n  swamp-gcs catalog export --cache ./cache --namespace infra --rows rows.json\n  \
generate-rows | swamp-gcs catalog export --cache ./cache --namespace infra --rows -"
    )]
    Export(CatalogExportArgs),

    /// Read other namespaces' catalog exports (skipping those without one)
    #[command(
        long_about = "Read NS/.catalog-export.json of each NS given, or, with none given, of \
every registered namespace but --namespace. A namespace without a readable export is \
skipped and named. Prints the row count of each (the rows themselves with --json).",
        after_help = "Examples:\n  swamp-gcs catalog pull --namespace infra\n  swamp-gcs catalog pull web db --json"
    )]
    Pull(CatalogPullArgs),

    /// Print one file of another namespace (never written to a cache)
    #[command(
        long_about = "Read NS/REL from the bucket and write it to stdout, or to --output FILE. \
REL is relative to the namespace; absolute paths and .. segments are refused. Exits 1 when \
there is no such file.",
        after_help = "Example:\n  swamp-gcs catalog fetch web data/aws/ec2/vpc/main/state/1/raw --output vpc.json"
    )]
    Fetch(CatalogFetchArgs),
}

/// `catalog export`.
#[derive(Args, Debug, Clone)]
pub struct CatalogExportArgs {
    #[command(flatten)]
    pub ns: NamespaceArg,
    /// The rows: a file holding a JSON array, or - for stdin
    #[arg(long, value_name = "FILE")]
    pub rows: PathBuf,
}

/// `catalog pull`.
#[derive(Args, Debug, Clone)]
pub struct CatalogPullArgs {
    /// The namespaces to read; none: every registered namespace but --namespace
    #[arg(value_name = "NS")]
    pub namespaces: Vec<String>,
    #[command(flatten)]
    pub ns: NamespaceArg,
}

/// `catalog fetch`.
#[derive(Args, Debug, Clone)]
pub struct CatalogFetchArgs {
    /// The other namespace
    #[arg(value_name = "NS")]
    pub namespace: String,
    /// The file, relative to NS/
    #[arg(value_name = "REL")]
    pub rel: String,
    /// Write the bytes here instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `pull`.
#[derive(Args, Debug, Clone, Default)]
pub struct PullArgs {
    /// Pull only this model (repeatable): its type and id, e.g. aws/ec2/vpc/vpc-1 (the id
    /// is the last segment)
    #[arg(long = "model", value_name = "TYPE/ID")]
    pub models: Vec<String>,
    /// Download metadata only: skip data/**/raw files (fetched later on demand)
    #[arg(long)]
    pub metadata_only: bool,
    #[command(flatten)]
    pub ns: NamespaceArg,
}

/// `mark-dirty`.
#[derive(Args, Debug, Clone)]
pub struct MarkDirtyArgs {
    /// Cache-relative path (file or directory); omit it to mark everything dirty
    #[arg(value_name = "REL")]
    pub rel: Option<String>,
}

/// `sync`.
#[derive(Args, Debug, Clone)]
pub struct SyncArgs {
    /// Sync only this model (repeatable), under its own lock data/{type}/{id}/.lock
    #[arg(long = "model", value_name = "TYPE/ID")]
    pub models: Vec<String>,
    /// Lock time to live: another client may steal the lock once it has not been
    /// heartbeated for this long
    #[arg(long, value_name = "MS", default_value_t = 30_000, value_parser = clap::value_parser!(u32).range(3..))]
    pub ttl_ms: u32,
    /// Give up waiting for a held lock after this long (exit 1)
    #[arg(long, value_name = "MS", default_value_t = 60_000)]
    pub max_wait_ms: u32,
    #[command(flatten)]
    pub ns: NamespaceArg,
}

/// `lock` actions.
#[derive(Subcommand, Debug)]
pub enum LockAction {
    /// Show who holds the lock, if anyone (nothing is written)
    #[command(after_help = "Example:\n  swamp-gcs lock inspect --key .datastore.lock --json")]
    Inspect(LockKeyArgs),

    /// Take the lock and hold it, heartbeating, until Ctrl-C or --hold-ms; then release it
    #[command(
        long_about = "Take the lock (waiting up to --max-wait-ms while someone else holds it) \
and hold it, heartbeating every ttl/3, until Ctrl-C (or SIGTERM) or until --hold-ms has \
elapsed; then release it. Useful to fence off a bucket by hand, or to test how other clients \
wait. The nonce is printed when the lock is taken; with --json the one JSON object is \
printed after the release.",
        after_help = "Examples:\n  swamp-gcs lock acquire                 # hold until Ctrl-C\n  \
swamp-gcs lock acquire --hold-ms 5000 --json"
    )]
    Acquire(LockAcquireArgs),

    /// Delete the lock if its nonce matches NONCE (same check as force-release)
    #[command(
        long_about = "Delete the lock if its stored nonce equals NONCE. A new process holds no \
handle to a lock taken by another (even by an earlier `lock acquire`), so this is the same \
nonce-checked delete as force-release: it never deletes a lock taken under another nonce. \
Exits 0 when released or already free, 1 when the lock is held under another nonce.",
        after_help = "Example:\n  swamp-gcs lock release 1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"
    )]
    Release(LockNonceArgs),

    /// Break a lock left by a dead holder: delete it if its nonce matches NONCE
    #[command(
        name = "force-release",
        long_about = "Break a lock left by a dead holder: read the lock, and delete it only if \
its stored nonce equals NONCE (from `lock inspect`), so a lock re-taken meanwhile by someone \
else is never deleted. Exits 0 when released or already free, 1 when the lock is held under \
another nonce. A lock whose holder stopped heartbeating is also stolen automatically by the \
next acquire once its ttl has passed.",
        after_help = "Example:\n  swamp-gcs lock inspect\n  \
swamp-gcs lock force-release 1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"
    )]
    ForceRelease(LockNonceArgs),
}

/// The lock key.
#[derive(Args, Debug, Clone)]
pub struct LockKeyArgs {
    /// Lock object key: .datastore.lock (global), data/{type}/{id}/.lock (one model)
    #[arg(long, value_name = "KEY", default_value = ".datastore.lock")]
    pub key: String,
}

/// `lock acquire`.
#[derive(Args, Debug, Clone)]
pub struct LockAcquireArgs {
    #[command(flatten)]
    pub key: LockKeyArgs,
    /// Lock time to live without a heartbeat
    #[arg(long, value_name = "MS", default_value_t = 30_000, value_parser = clap::value_parser!(u32).range(3..))]
    pub ttl_ms: u32,
    /// Give up waiting for a held lock after this long (exit 1)
    #[arg(long, value_name = "MS", default_value_t = 60_000)]
    pub max_wait_ms: u32,
    /// Release after this long instead of waiting for Ctrl-C
    #[arg(long, value_name = "MS")]
    pub hold_ms: Option<u64>,
}

/// `lock release` / `lock force-release`.
#[derive(Args, Debug, Clone)]
pub struct LockNonceArgs {
    /// The lock's nonce, as printed by `lock acquire` or `lock inspect`
    pub nonce: String,
    #[command(flatten)]
    pub key: LockKeyArgs,
}

/// `control` actions.
#[derive(Subcommand, Debug)]
pub enum ControlAction {
    /// Write the value of KEY from FILE, or from standard input (replaces any value)
    #[command(
        after_help = "Examples:\n  swamp-gcs control put heartbeats/worker-1 beat.json\n  \
date -u +%FT%TZ | swamp-gcs control put heartbeats/worker-1 --namespace team"
    )]
    Put(ControlPutArgs),

    /// Create KEY from FILE or standard input only if it has no value (exit 3 if it has)
    #[command(
        name = "put-if-absent",
        long_about = "Create KEY with the value from FILE (or standard input) only if KEY has \
no value: a create-only write, so of several callers racing for one key exactly one \
succeeds. Exits 0 when this call created KEY, 3 when KEY already had a value (left \
unchanged).",
        after_help = "Example:\n  echo -n worker-1 | swamp-gcs control put-if-absent leader && echo leading"
    )]
    PutIfAbsent(ControlPutArgs),

    /// Write the value of KEY to standard output, as stored (exit 1 if KEY has none)
    #[command(
        after_help = "Examples:\n  swamp-gcs control get leader > leader.txt\n  \
swamp-gcs control get leader --json        # value as text and base64"
    )]
    Get(ControlKeyArgs),

    /// List the keys starting with PREFIX (all keys without it), one a line
    #[command(after_help = "Examples:\n  swamp-gcs control list\n  \
swamp-gcs control list heartbeats/ --namespace team --json")]
    List(ControlListArgs),

    /// Delete KEY (nothing to delete is not an error)
    #[command(after_help = "Example:\n  swamp-gcs control delete heartbeats/worker-1")]
    Delete(ControlKeyArgs),
}

/// The namespace of a control-plane action.
#[derive(Args, Debug, Clone, Default)]
pub struct ControlNamespace {
    /// Work on the records of this namespace ({NS}/_control/); without it, the solo ones
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
}

/// `control get` / `control delete`.
#[derive(Args, Debug, Clone)]
pub struct ControlKeyArgs {
    /// The record's key, e.g. heartbeats/worker-1
    pub key: String,
    #[command(flatten)]
    pub ns: ControlNamespace,
}

/// `control put` / `control put-if-absent`.
#[derive(Args, Debug, Clone)]
pub struct ControlPutArgs {
    /// The record's key, e.g. heartbeats/worker-1
    pub key: String,
    /// Read the value from this file; `-` or nothing reads standard input
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub ns: ControlNamespace,
}

/// `control list`.
#[derive(Args, Debug, Clone)]
pub struct ControlListArgs {
    /// Only keys starting with this (e.g. heartbeats/); all keys without it
    #[arg(default_value = "")]
    pub prefix: String,
    #[command(flatten)]
    pub ns: ControlNamespace,
}
