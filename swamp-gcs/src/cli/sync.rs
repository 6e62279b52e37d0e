//! `sync`: what swamp does around each command. Take the global lock (or, with `--model`,
//! each model's lock, in key order), pull, push, release.
//!
//! The locks are held through their own sandboxes with a heartbeat task each
//! ([`Holding`]), so they are extended every ttl/3 even while one long pull or push call
//! runs on the cache's store. Calls are never cancelled half-way; between the pull and the
//! push the command checks that every lock is still held and that no Ctrl-C arrived.

use super::args::{Global, SyncArgs};
use super::commands::{merge, print_json, pull_options, run_pull, run_push};
use super::failure::Failure;
use super::lock::{self, Holding, Released};
use super::output::{self, duration, millis, plural, Transfer};
use super::progress::Display;
use super::session::{self, model_lock_key, model_name, Resolved, Session};
use super::signals::{Interrupt, Second};
use gcs_host::datastore::{no_options, ModelRef, SyncOptions};
use gcs_host::heartbeat::LockState;
use gcs_host::Host;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The global lock key.
pub const GLOBAL_LOCK: &str = ".datastore.lock";

/// How to run one locked sync.
pub struct SyncPlan<'a> {
    /// Models of a scoped sync (empty = global lock, unscoped pull).
    pub models: &'a [ModelRef],
    /// The namespace served (`None`: solo); it also picks swamp's namespaced lock keys.
    pub namespace: Option<&'a str>,
    /// Lock time to live.
    pub ttl_ms: u32,
    /// How long to wait for each lock.
    pub max_wait_ms: u32,
    /// How to show the progress of the pull and the push.
    pub progress: Display,
    /// Handle Ctrl-C (finish the call in flight, skip the rest, release).
    pub handle_signals: bool,
}

/// A lock that was held during the sync.
pub struct LockRecord {
    /// Key.
    pub key: String,
    /// Nonce of the acquisition.
    pub nonce: Option<String>,
    /// Time spent waiting for it.
    pub waited: Duration,
    /// What releasing it did.
    pub released: Option<Released>,
}

/// What a sync did.
pub struct SyncDone {
    /// The locks.
    pub locks: Vec<LockRecord>,
    /// The pull.
    pub pull: Transfer,
    /// The push.
    pub push: Transfer,
}

impl SyncDone {
    /// Successful heartbeats over all locks.
    pub fn heartbeats(&self) -> u32 {
        self.locks
            .iter()
            .filter_map(|l| l.released.as_ref())
            .map(|r| r.heartbeat.extends)
            .sum()
    }

    /// Release warnings.
    pub fn warnings(&self) -> Vec<String> {
        self.locks
            .iter()
            .filter_map(|l| l.released.as_ref()?.warning.clone())
            .collect()
    }
}

/// The lock keys of a plan, in acquisition order (sorted, so two scoped syncs never wait
/// on each other in a cycle): swamp's global lock (`.locks/{ns}.lock` in a namespace), or
/// its per-model locks.
pub fn lock_keys(models: &[ModelRef], namespace: Option<&str>) -> Vec<String> {
    if models.is_empty() {
        return vec![match namespace {
            Some(ns) => format!(".locks/{ns}.lock"),
            None => GLOBAL_LOCK.to_string(),
        }];
    }
    let mut keys: Vec<String> = models
        .iter()
        .map(|m| model_lock_key(m, namespace))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

async fn release_all(held: Vec<Holding>) -> Vec<LockRecord> {
    let mut out = Vec::new();
    // Release in reverse order of acquisition.
    for h in held.into_iter().rev() {
        let (key, nonce, waited) = (h.key.clone(), h.info.nonce.clone(), h.waited);
        let released = h.release().await;
        out.push(LockRecord {
            key,
            nonce,
            waited,
            released: Some(released),
        });
    }
    out.reverse();
    out
}

/// Take the locks, pull, push, release: the work of `sync` (and of the demo's sync step).
pub async fn locked_sync(
    host: &Host,
    config: &Resolved,
    work: &mut Session,
    plan: &SyncPlan<'_>,
) -> Result<SyncDone, Failure> {
    let mut held: Vec<Holding> = Vec::new();
    for key in lock_keys(plan.models, plan.namespace) {
        let opts = lock::options(&key, Some(plan.ttl_ms), Some(plan.max_wait_ms));
        match Holding::acquire(host, config, &key, &opts).await {
            Ok(h) => held.push(h),
            Err(f) => {
                release_all(held).await;
                return Err(f);
            }
        }
    }
    let interrupt = if plan.handle_signals {
        Some(Interrupt::install(
            "interrupted: finishing the call in flight, then releasing the lock (Ctrl-C again to quit now)",
            Second::Exit("the lock expires after its ttl"),
        )?)
    } else {
        None
    };
    let interrupted = || interrupt.as_ref().is_some_and(Interrupt::requested);

    let options = pull_options(plan.models, false, plan.namespace);
    let pull = match run_pull(host, work, &options, plan.progress).await {
        Ok(t) => t,
        Err(f) => {
            release_all(held).await;
            return Err(f);
        }
    };
    if interrupted() {
        release_all(held).await;
        return Err(Failure::interrupted(
            "the pull finished, the push was skipped, the lock released",
        ));
    }
    if let Some(h) = held.iter().find(|h| h.state() != LockState::Held) {
        let (kind, what) = match h.state() {
            LockState::Lost => ("lock-lost", "was taken over by another client"),
            _ => ("lock-at-risk", "could not be heartbeated for a whole ttl"),
        };
        let msg = format!("{} {what} during the pull; the push was not started", h.key);
        release_all(held).await;
        return Err(Failure::operational(kind, msg)
            .hint("check the network, raise --ttl-ms, then run sync again"));
    }
    let push_options = SyncOptions {
        namespace: plan.namespace.map(str::to_string),
        ..no_options()
    };
    let push = match run_push(host, work, &push_options, plan.progress).await {
        Ok(t) => t,
        Err(f) => {
            release_all(held).await;
            return Err(f);
        }
    };
    let locks = release_all(held).await;
    Ok(SyncDone { locks, pull, push })
}

/// `sync`.
pub async fn run(host: &Host, g: &Global, args: &SyncArgs) -> Result<(), Failure> {
    let models = session::parse_models(&args.models)?;
    let cache = session::required_cache(g, "sync")?;
    let config = session::resolve_config(g)?;
    let namespace = session::namespace(&args.ns, &config)?;
    let mut work = session::open_with(host, &config, cache).await?;
    work.namespace = namespace.clone();
    let before = host.traffic.snapshot();
    let start = Instant::now();
    let plan = SyncPlan {
        models: &models,
        namespace: namespace.as_deref(),
        ttl_ms: args.ttl_ms,
        max_wait_ms: args.max_wait_ms,
        progress: Display::for_options(g.progress, g.json),
        handle_signals: true,
    };
    let done = locked_sync(host, &config, &mut work, &plan).await?;
    let requests = output::delta(&before, &host.traffic.snapshot());
    let elapsed = start.elapsed();
    let names: Vec<String> = models.iter().map(model_name).collect();
    if g.json {
        let locks: Vec<Value> = done
            .locks
            .iter()
            .map(|l| {
                json!({
                    "key": l.key,
                    "nonce": l.nonce,
                    "waitedMs": millis(l.waited),
                    "heartbeats": l.released.as_ref().map(|r| r.heartbeat.extends),
                    "released": l.released.as_ref().map(|r| r.warning.is_none()),
                })
            })
            .collect();
        print_json(
            "sync",
            merge(
                work.json_fields(),
                json!({
                    "models": names,
                    "locks": locks,
                    "pull": done.pull.json(),
                    "push": done.push.json(),
                    "heartbeats": done.heartbeats(),
                    "warnings": done.warnings(),
                    "requests": output::requests_json(&requests),
                    "elapsedMs": millis(elapsed),
                }),
            ),
        );
        return Ok(());
    }
    let keys: Vec<&str> = done.locks.iter().map(|l| l.key.as_str()).collect();
    println!("locked   {}", keys.join(", "));
    for t in [&done.pull, &done.push] {
        let verb = if t.direction == output::Direction::Pull {
            "pull"
        } else {
            "push"
        };
        println!("{verb:<8} {}", t.headline());
        for line in t.conflict_lines() {
            println!("         {line}");
        }
    }
    println!(
        "released {} ({})",
        plural(keys.len() as u64, "lock"),
        plural(u64::from(done.heartbeats()), "heartbeat")
    );
    for w in done.warnings() {
        eprintln!("warning: {w}");
    }
    println!(
        "requests: {} in {}",
        output::requests_human(&requests),
        duration(elapsed)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_locks_are_sorted_and_unique() {
        let m = |t: &str, i: &str| ModelRef {
            model_type: t.into(),
            model_id: i.into(),
        };
        assert_eq!(lock_keys(&[], None), vec![".datastore.lock"]);
        assert_eq!(
            lock_keys(&[m("b", "2"), m("a", "1"), m("b", "2")], None),
            vec!["data/a/1/.lock", "data/b/2/.lock"]
        );
        assert_eq!(lock_keys(&[], Some("infra")), vec![".locks/infra.lock"]);
        assert_eq!(
            lock_keys(&[m("a", "1")], Some("infra")),
            vec!["infra/data/a/1/.lock"]
        );
    }
}
