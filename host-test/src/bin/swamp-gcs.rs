//! `swamp-gcs`: use the gcs-datastore component from a shell, hosted exactly as swamp would
//! host it (one sandbox per datastore, one preopened cache, an HTTP allow-list).
//!
//! Exit codes: 0 success, 1 operational failure, 2 usage or configuration error.

use clap::{Args, Parser, Subcommand};
use host_test::cli_config;
use host_test::datastore::{CallError, LockOptions};
use host_test::launch::options_for;
use host_test::{Datastore, Host};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "swamp-gcs",
    version,
    about = "Sync a swamp cache with a Google Cloud Storage bucket, through the sandboxed gcs-datastore component",
    long_about = "Sync a swamp cache with a Google Cloud Storage bucket.\n\nThe datastore runs as a WebAssembly component in a sandbox: it sees only the cache directory and the credential files it needs, and may connect only to the configured endpoint and Google's auth endpoints.\n\nConfig comes from --config (JSON), else SWAMP_DATASTORE='@swamp/gcs-datastore:{json}', else --config-file (a .swamp.yaml).",
    after_help = "Examples:\n  swamp-gcs demo\n  swamp-gcs --config '{\"bucket\":\"my-bucket\"}' --cache ~/.swamp/repos/r1 verify\n  swamp-gcs lock inspect --config-file .swamp.yaml"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Global {
    /// Datastore config as JSON, e.g. '{"bucket":"my-bucket","prefix":"team"}'
    #[arg(long, global = true, value_name = "JSON")]
    config: Option<String>,
    /// Read the config from a swamp .swamp.yaml (datastore.type must be @swamp/gcs-datastore)
    #[arg(long, global = true, value_name = "PATH")]
    config_file: Option<PathBuf>,
    /// The local cache directory (created if missing)
    #[arg(long, global = true, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Print one JSON object instead of a human summary
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Print what this datastore implements
    Caps,
    /// Check that the bucket is reachable with the configured credentials (exit 1 if not)
    Verify,
    /// Inspect, take or release a lock object in the bucket
    Lock {
        #[command(subcommand)]
        action: LockAction,
    },
}

#[derive(Subcommand)]
enum LockAction {
    /// Show who holds the lock, if anyone
    Inspect(LockArgs),
    /// Take the lock (waits up to --max-wait-ms) and keep it until released
    Acquire(LockArgs),
    /// Release a lock this process does not hold, by nonce (breakglass)
    ForceRelease {
        /// The nonce shown by `lock inspect`
        nonce: String,
        #[command(flatten)]
        args: LockArgs,
    },
}

#[derive(Args, Clone)]
struct LockArgs {
    /// Lock object key
    #[arg(long, default_value = ".datastore.lock")]
    key: String,
    /// Time to live of the lock without heartbeat
    #[arg(long, default_value_t = 30_000)]
    ttl_ms: u32,
    /// Give up acquiring after this long
    #[arg(long, default_value_t = 60_000)]
    max_wait_ms: u32,
}

/// A failure with its exit code and optional hint.
struct Failure {
    code: u8,
    message: String,
    hint: Option<String>,
    /// The outcome was already printed (e.g. an unhealthy `verify --json`); only exit.
    printed: bool,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
            hint: None,
            printed: false,
        }
    }
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        let code = match e.kind() {
            "invalid-config" => 2,
            _ => 1,
        };
        Failure {
            code,
            message: e.to_string(),
            hint: e.hint(),
            printed: false,
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure {
            code: 1,
            message: format!("{e:#}"),
            hint: None,
            printed: false,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.global.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return report(json, Failure::from(anyhow::Error::from(e))),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => report(json, f),
    }
}

fn report(json: bool, f: Failure) -> ExitCode {
    if f.printed {
        return ExitCode::from(f.code);
    }
    if json {
        println!(
            "{}",
            json!({ "ok": false, "error": f.message, "hint": f.hint, "exitCode": f.code })
        );
    } else {
        eprintln!("error: {}", f.message);
        if let Some(h) = &f.hint {
            eprintln!("hint: {h}");
        }
    }
    ExitCode::from(f.code)
}

/// Resolve config + cache and open a configured datastore.
async fn open(host: &Host, g: &Global) -> Result<Datastore, Failure> {
    let env = std::env::var("SWAMP_DATASTORE").ok();
    let (config, _source) = cli_config::resolve(
        g.config.as_deref(),
        env.as_deref(),
        g.config_file.as_deref(),
    )
    .map_err(|e| Failure::usage(e.0))?;
    let cache = match &g.cache {
        Some(c) => c.clone(),
        None => std::env::current_dir()
            .map_err(anyhow::Error::from)?
            .join(".swamp-gcs-cache"),
    };
    let opts = options_for(&config, &cache);
    let mut ds = host.open(&opts).await?;
    ds.configure(&config).await?;
    Ok(ds)
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let host = Host::new()?;
    let g = &cli.global;
    match &cli.command {
        Command::Caps => {
            let scratch = tempfile::tempdir().map_err(anyhow::Error::from)?;
            let mut ds = host
                .open(&host_test::DatastoreOptions::new(
                    scratch.path(),
                    "http://127.0.0.1:1",
                ))
                .await?;
            let c = ds.capabilities().await?;
            let v = json!({
                "datastoreType": cli_config::DATASTORE_TYPE,
                "scopedSync": c.scoped_sync, "lazyHydration": c.lazy_hydration,
                "namespacedSync": c.namespaced_sync, "twoPhaseSync": c.two_phase_sync,
                "previewPush": c.preview_push, "controlPlane": c.control_plane,
            });
            if g.json {
                println!("{v}");
            } else {
                println!("{}", cli_config::DATASTORE_TYPE);
                for (k, val) in v.as_object().into_iter().flatten().skip(1) {
                    println!(
                        "  {k:<15} {}",
                        if val.as_bool() == Some(true) {
                            "yes"
                        } else {
                            "no"
                        }
                    );
                }
            }
            Ok(())
        }
        Command::Verify => {
            let mut ds = open(&host, g).await?;
            let h = ds.verify().await?;
            let details: serde_json::Map<_, _> = h
                .details
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            if g.json {
                println!(
                    "{}",
                    json!({"ok": h.healthy, "healthy": h.healthy, "message": h.message, "latencyMs": h.latency_ms, "datastoreType": h.datastore_type, "details": details})
                );
            } else {
                println!(
                    "{} {} ({:.0} ms)",
                    if h.healthy { "healthy:" } else { "unhealthy:" },
                    h.message,
                    h.latency_ms
                );
            }
            if h.healthy {
                Ok(())
            } else {
                Err(Failure {
                    code: 1,
                    message: h.message,
                    hint: None,
                    printed: true,
                })
            }
        }
        Command::Lock { action } => lock_command(&host, g, action).await,
    }
}

async fn lock_command(host: &Host, g: &Global, action: &LockAction) -> Result<(), Failure> {
    let args = match action {
        LockAction::Inspect(a) | LockAction::Acquire(a) => a,
        LockAction::ForceRelease { args, .. } => args,
    };
    let mut ds = open(host, g).await?;
    let options = LockOptions {
        key: Some(args.key.clone()),
        ttl_ms: Some(args.ttl_ms),
        retry_interval_ms: None,
        max_wait_ms: Some(args.max_wait_ms),
    };
    let lock = ds.lock(&options).await?;
    match action {
        LockAction::Inspect(_) => {
            let info = ds.lock_inspect(lock).await?;
            match (&info, g.json) {
                (_, true) => println!(
                    "{}",
                    json!({"ok": true, "key": args.key, "held": info.is_some(), "holder": info.as_ref().map(lock_json)})
                ),
                (Some(i), false) => println!(
                    "{} held by {} (pid {}) since {}, ttl {} ms, nonce {}",
                    args.key,
                    i.holder,
                    i.pid,
                    i.acquired_at,
                    i.ttl_ms,
                    i.nonce.as_deref().unwrap_or("-")
                ),
                (None, false) => println!("{} is free", args.key),
            }
            Ok(())
        }
        LockAction::Acquire(_) => {
            let start = Instant::now();
            let info = ds.lock_acquire(lock).await?;
            if g.json {
                println!(
                    "{}",
                    json!({"ok": true, "key": args.key, "lock": lock_json(&info), "waitedMs": start.elapsed().as_millis() as u64})
                );
            } else {
                println!("acquired {} as {} (nonce {}); release with: swamp-gcs lock force-release {} --key {}", args.key, info.holder, info.nonce.as_deref().unwrap_or("-"), info.nonce.as_deref().unwrap_or("-"), args.key);
            }
            Ok(())
        }
        LockAction::ForceRelease { nonce, .. } => {
            let deleted = ds.lock_force_release(lock, nonce).await?;
            if g.json {
                println!(
                    "{}",
                    json!({"ok": deleted, "key": args.key, "released": deleted})
                );
            } else if deleted {
                println!("released {}", args.key);
            } else {
                println!(
                    "not released: {} is free or held under another nonce",
                    args.key
                );
            }
            if deleted {
                Ok(())
            } else {
                Err(Failure {
                    code: 1,
                    message: String::new(),
                    hint: None,
                    printed: true,
                })
            }
        }
    }
}

fn lock_json(i: &host_test::datastore::LockInfo) -> serde_json::Value {
    json!({"holder": i.holder, "hostname": i.hostname, "pid": i.pid, "acquiredAt": i.acquired_at, "ttlMs": i.ttl_ms, "nonce": i.nonce})
}
