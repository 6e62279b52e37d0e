//! `lock inspect | acquire | release | force-release`.
//!
//! A lock is held through its own datastore (a second sandbox with a scratch directory):
//! the heartbeat ([`LockKeeper`]) owns that store and extends every ttl/3 while the holder
//! waits or works, so no call on another store ever delays it.

use super::args::{Global, LockAcquireArgs, LockAction, LockNonceArgs};
use super::commands::{merge, print_json, print_result};
use super::failure::Failure;
use super::output::{duration, millis, plural};
use super::session::{self, Cache, Resolved};
use super::signals::{Interrupt, Second};
use gcs_host::datastore::{CallError, GuestError, LockInfo, LockOptions};
use gcs_host::heartbeat::{HeartbeatReport, HeldLock, LockKeeper, LockState};
use gcs_host::Host;
use serde_json::{json, Value};
use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Lock options for `key`.
pub fn options(key: &str, ttl_ms: Option<u32>, max_wait_ms: Option<u32>) -> LockOptions {
    LockOptions {
        key: Some(key.to_string()),
        ttl_ms,
        retry_interval_ms: None,
        max_wait_ms,
    }
}

/// A failed acquire, with the hint to inspect or break the lock.
pub fn acquire_failure(key: &str, e: CallError) -> Failure {
    let timed_out = matches!(e.guest(), Some(GuestError::LockTimeout(_)));
    let mut f = Failure::from(e);
    if timed_out {
        f.hint = Some(format!(
            "`swamp-gcs lock inspect --key {key}` shows the holder; a holder that stops heartbeating loses the lock after its ttl, and a dead holder's lock can be broken with `swamp-gcs lock force-release NONCE --key {key}`"
        ));
    }
    f
}

/// A held lock and its heartbeat, in its own sandbox.
pub struct Holding {
    /// The key.
    pub key: String,
    /// The body written by the acquire.
    pub info: LockInfo,
    /// How long the acquire waited.
    pub waited: Duration,
    keeper: LockKeeper,
    _scratch: Cache,
}

/// What releasing a lock did.
pub struct Released {
    /// The key.
    pub key: String,
    /// A warning when the delete did not happen (e.g. a successor holds it).
    pub warning: Option<String>,
    /// What the heartbeat did.
    pub heartbeat: HeartbeatReport,
}

impl Holding {
    /// Open a lock sandbox for `config`, acquire `key` (waiting up to the max wait), and
    /// start its heartbeat.
    pub async fn acquire(
        host: &Host,
        config: &Resolved,
        key: &str,
        options: &LockOptions,
    ) -> Result<Holding, Failure> {
        let s = session::open_with(host, config, Cache::scratch()?).await?;
        let session::Session { mut ds, cache, .. } = s;
        let start = Instant::now();
        let (held, info) = HeldLock::acquire(&mut ds, options)
            .await
            .map_err(|e| acquire_failure(key, e))?;
        Ok(Holding {
            key: key.to_string(),
            info,
            waited: start.elapsed(),
            keeper: LockKeeper::spawn(ds, held),
            _scratch: cache,
        })
    }

    /// The heartbeat's view of the lock.
    pub fn state(&self) -> LockState {
        self.keeper.state()
    }

    /// Resolves when the lock is lost.
    pub async fn lost(&self) {
        let mut w = self.keeper.watch();
        let _ = w.wait_for(|s| *s == LockState::Lost).await;
    }

    /// Stop the heartbeat and release (never fails: problems become the warning).
    pub async fn release(self) -> Released {
        let key = self.key;
        match self.keeper.release().await {
            Ok((_ds, warning, heartbeat)) => Released {
                key,
                warning,
                heartbeat,
            },
            Err(e) => Released {
                key,
                warning: Some(format!(
                    "release failed: {e}; the lock expires after its ttl"
                )),
                heartbeat: HeartbeatReport {
                    state: LockState::AtRisk,
                    extends: 0,
                    failures: 0,
                    last_error: None,
                },
            },
        }
    }
}

/// `lock ...`.
pub async fn run(host: &Host, g: &Global, action: &LockAction) -> Result<(), Failure> {
    match action {
        LockAction::Inspect(a) => inspect(host, g, &a.key).await,
        LockAction::Acquire(a) => acquire(host, g, a).await,
        LockAction::Release(a) => release_by_nonce(host, g, a, "release").await,
        LockAction::ForceRelease(a) => release_by_nonce(host, g, a, "force-release").await,
    }
}

async fn inspect(host: &Host, g: &Global, key: &str) -> Result<(), Failure> {
    let mut s = session::open(host, g, Cache::scratch()?).await?;
    let lock = s.ds.lock(&options(key, None, None)).await?;
    let info = s.ds.lock_inspect(lock).await?;
    if g.json {
        print_json(
            "lock inspect",
            json!({"key": key, "held": info.is_some(), "lock": info.as_ref().map(lock_json)}),
        );
        return Ok(());
    }
    match info {
        None => println!("{key} is free"),
        Some(i) => {
            println!("{key} is held by {} (pid {})", i.holder, i.pid);
            println!("  since     {}{}", i.acquired_at, age_note(&i));
            println!(
                "  ttl       {}",
                duration(Duration::from_millis(u64::from(i.ttl_ms)))
            );
            println!("  nonce     {}", i.nonce.as_deref().unwrap_or("-"));
        }
    }
    Ok(())
}

fn age_note(i: &LockInfo) -> String {
    match age_ms(i) {
        Some(age) if age > i64::from(i.ttl_ms) => format!(
            " ({} ago: stale, the next acquire will take it over)",
            duration(Duration::from_millis(age as u64))
        ),
        Some(age) if age >= 0 => format!(" ({} ago)", duration(Duration::from_millis(age as u64))),
        _ => String::new(),
    }
}

async fn acquire(host: &Host, g: &Global, a: &LockAcquireArgs) -> Result<(), Failure> {
    let key = &a.key.key;
    let config = session::resolve_config(g)?;
    let opts = options(key, Some(a.ttl_ms), Some(a.max_wait_ms));
    let holding = Holding::acquire(host, &config, key, &opts).await?;
    let interval = gcs_host::heartbeat::heartbeat_interval(a.ttl_ms);
    let interrupt = Interrupt::install("", Second::Exit("the lock expires after its ttl"))?;
    if !g.json {
        println!(
            "acquired {key} as {} (nonce {})",
            holding.info.holder,
            holding.info.nonce.as_deref().unwrap_or("-")
        );
        let until = match a.hold_ms {
            Some(ms) => format!("for {}", duration(Duration::from_millis(ms))),
            None => "until Ctrl-C".to_string(),
        };
        eprintln!("holding {until}, heartbeat every {}", duration(interval));
        let _ = std::io::stdout().flush();
    }
    let held_since = Instant::now();
    let hold = a.hold_ms.map(Duration::from_millis);
    let end = tokio::select! {
        _ = interrupt.wait() => "interrupted",
        _ = async { tokio::time::sleep(hold.unwrap_or_default()).await }, if hold.is_some() => "hold elapsed",
        _ = holding.lost() => "lost",
    };
    let held_for = held_since.elapsed();
    let info = holding.info.clone();
    let waited = holding.waited;
    let r = holding.release().await;
    let lost = end == "lost" || r.heartbeat.state == LockState::Lost;
    if g.json {
        print_result(
            "lock acquire",
            !lost,
            json!({
                "key": key,
                "lock": lock_json(&info),
                "waitedMs": millis(waited),
                "heldMs": millis(held_for),
                "endedBy": end,
                "heartbeats": r.heartbeat.extends,
                "heartbeatFailures": r.heartbeat.failures,
                "lost": lost,
                "released": r.warning.is_none() && !lost,
                "warning": r.warning,
            }),
        );
    } else {
        if let Some(w) = &r.warning {
            eprintln!("warning: {w}");
        }
        if !lost {
            println!(
                "released {key} after {} ({})",
                duration(held_for),
                plural(u64::from(r.heartbeat.extends), "heartbeat")
            );
        }
    }
    if lost {
        let f = Failure::operational(
            "lock-lost",
            format!("lost {key} while holding it: another client took it over"),
        )
        .hint("heartbeats failed for longer than the ttl (network?); raise --ttl-ms");
        return Err(if g.json { f.printed() } else { f });
    }
    Ok(())
}

async fn release_by_nonce(
    host: &Host,
    g: &Global,
    a: &LockNonceArgs,
    command: &str,
) -> Result<(), Failure> {
    let key = &a.key.key;
    let mut s = session::open(host, g, Cache::scratch()?).await?;
    let lock = s.ds.lock(&options(key, None, None)).await?;
    let released = s.ds.lock_force_release(lock, &a.nonce).await?;
    // Say why nothing was deleted: free, or someone else's.
    let current = if released {
        None
    } else {
        s.ds.lock_inspect(lock).await?
    };
    let other = current
        .as_ref()
        .filter(|i| i.nonce.as_deref() != Some(&a.nonce));
    let label = format!("lock {command}");
    if g.json {
        print_result(
            &label,
            other.is_none(),
            json!({
                "key": key,
                "released": released,
                "free": current.is_none(),
                "holder": other.map(lock_json),
            }),
        );
    } else if released {
        println!("released {key}");
    } else if let Some(i) = other {
        println!(
            "not released: {key} is held by {} under nonce {}, not {}",
            i.holder,
            i.nonce.as_deref().unwrap_or("-"),
            a.nonce
        );
    } else {
        println!("nothing to release: {key} is free");
    }
    match other {
        Some(_) => Err(Failure::operational("lock-held", "held under another nonce").printed()),
        None => Ok(()),
    }
}

/// The lock body as JSON, with its age and staleness by this machine's clock.
pub fn lock_json(i: &LockInfo) -> Value {
    let age = age_ms(i);
    merge(
        json!({
            "holder": i.holder,
            "hostname": i.hostname,
            "pid": i.pid,
            "acquiredAt": i.acquired_at,
            "ttlMs": i.ttl_ms,
            "nonce": i.nonce,
        }),
        json!({
            "ageMs": age,
            "stale": age.map(|a| a > i64::from(i.ttl_ms)),
        }),
    )
}

/// Milliseconds since the body's `acquiredAt` (last heartbeat), by the local clock.
fn age_ms(i: &LockInfo) -> Option<i64> {
    let then = parse_iso_ms(&i.acquired_at)?;
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_millis(),
    )
    .ok()?;
    Some(now - then)
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z` to Unix milliseconds.
fn parse_iso_ms(s: &str) -> Option<i64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-');
    let (y, m, day): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':');
    let (hh, mm, ss): (i64, i64, i64) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    let ms: i64 = format!("{frac:0<3}").get(..3)?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_parse() {
        assert_eq!(parse_iso_ms("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            parse_iso_ms("2026-08-01T10:00:00.250Z"),
            Some(1_785_578_400_250)
        );
        assert_eq!(parse_iso_ms("2000-03-01T00:00:01Z"), Some(951_868_801_000));
        assert_eq!(parse_iso_ms("garbage"), None);
    }
}
