//! Keeping a distributed lock alive: the host side of the lock's heartbeat.
//!
//! The component has no threads and no timers that outlive a call, so the host must call
//! `extend` on a held lock every `ttl/3` (issue 4, `docs/lock.md#heartbeat`). Every other client
//! judges a lock stale once its object has not been rewritten for its TTL, and then steals
//! it; a holder that stops heartbeating for a TTL loses its lock while still working.
//!
//! # The constraint
//!
//! A [`Datastore`] is one wasmtime store, and a store runs one call at a time (`&mut`).
//! The heartbeat therefore cannot be slipped into the middle of a long call (a `push`) on
//! the store that holds the lock, and a call must never be cancelled half-way either:
//! dropping a wasmtime call future leaves the instance unusable, so the lock could then not
//! even be released. Everything below runs each `extend` to completion.
//!
//! # Three ways to drive it
//!
//! - [`HeldLock::tick`]: the owner of the store calls it between its own operations; it
//!   extends when a heartbeat is due and does nothing otherwise. Enough when every
//!   operation is much shorter than a third of the TTL.
//! - [`run_with_heartbeat`]: runs a future (the work) while extending on schedule through
//!   the lock's store, concurrently with the work. The work cannot borrow that store (the
//!   borrow checker enforces it), so it uses a second datastore: open two from the same
//!   [`Host`](crate::Host) and config, one holds the lock, the other does the work. Both
//!   carry the same identity, so the bucket sees one holder. This is what `swamp-gcs sync`
//!   and `swamp-gcs lock acquire` (hold until Ctrl-C: the work is the signal) want.
//! - [`LockKeeper`]: the same loop in a tokio task that owns the lock's store, for callers
//!   whose work is not a single future; [`LockKeeper::release`] stops it and releases.
//!
//! [`with_lock`] is swamp's `withLock(fn)` for one store: acquire, run the closure (which
//! may call [`HeldLock::tick`]), always release, return the closure's result.
//!
//! # What the driver reports
//!
//! [`LockState::Held`] after every successful extend; [`LockState::AtRisk`] once no extend
//! has succeeded for a whole TTL (errors other than a lost race keep the lock held in the
//! guest, but by then another client may have judged it stale); [`LockState::Lost`] when
//! `extend` returned `false` (the object changed hands: the guest never rewrites it). A
//! later successful extend turns `AtRisk` back into `Held` (a generation-conditional write
//! that succeeds proves nobody took the lock). `Lost` is final; the driver stops extending.
//! Work that must not run without the lock should watch the state (the [`LockWatch`]
//! handed to it) and stop; the driver itself never cancels work.

use crate::datastore::{CallError, CallResult, Datastore, LockInfo, LockOptions};
use std::future::Future;
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;
use wasmtime::component::ResourceAny;

/// The guest's default TTL, used when the options leave it unset.
pub const DEFAULT_TTL_MS: u32 = 30_000;

/// Heartbeat period for a TTL: a third, at least 1 ms (the guest's rule).
pub fn heartbeat_interval(ttl_ms: u32) -> Duration {
    Duration::from_millis(u64::from(ttl_ms / 3).max(1))
}

/// Where a held lock stands, as far as the heartbeat knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// The last extend (or the acquire) succeeded less than a TTL ago.
    Held,
    /// No extend has succeeded for a TTL: another client may already have stolen it.
    AtRisk,
    /// `extend` returned `false`: someone else's object is in place. Final.
    Lost,
}

/// A receiver of state changes, for work that must stop when the lock is lost.
pub type LockWatch = watch::Receiver<LockState>;

/// What the heartbeat did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatReport {
    /// The state at the end.
    pub state: LockState,
    /// Successful extends.
    pub extends: u32,
    /// Extends that failed with an error (the lock stayed held in the guest).
    pub failures: u32,
    /// The last such error.
    pub last_error: Option<String>,
}

/// A lock this host holds through one datastore, with its heartbeat schedule.
#[derive(Debug)]
pub struct HeldLock {
    lock: ResourceAny,
    ttl: Duration,
    interval: Duration,
    next_due: Instant,
    last_ok: Instant,
    lost: bool,
    extends: u32,
    failures: u32,
    last_error: Option<String>,
    tx: watch::Sender<LockState>,
}

impl HeldLock {
    /// Create a lock handle in `ds` and acquire it (blocks up to the options' max wait).
    pub async fn acquire(
        ds: &mut Datastore,
        options: &LockOptions,
    ) -> CallResult<(HeldLock, LockInfo)> {
        let lock = ds.lock(options).await?;
        let info = ds.lock_acquire(lock).await?;
        let ttl = options.ttl_ms.unwrap_or(DEFAULT_TTL_MS);
        Ok((HeldLock::new(lock, ttl), info))
    }

    /// Track a lock that was just acquired through `lock` with time to live `ttl_ms`.
    pub fn new(lock: ResourceAny, ttl_ms: u32) -> HeldLock {
        let now = Instant::now();
        let interval = heartbeat_interval(ttl_ms);
        HeldLock {
            lock,
            ttl: Duration::from_millis(u64::from(ttl_ms)),
            interval,
            next_due: now + interval,
            last_ok: now,
            lost: false,
            extends: 0,
            failures: 0,
            last_error: None,
            tx: watch::channel(LockState::Held).0,
        }
    }

    /// The lock resource (for `inspect`, `release`, ...).
    pub fn resource(&self) -> ResourceAny {
        self.lock
    }

    /// The heartbeat period.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// When the next heartbeat is due.
    pub fn next_due(&self) -> Instant {
        self.next_due
    }

    /// The state now (`AtRisk` is judged against the clock, not only after a tick).
    pub fn state(&self) -> LockState {
        if self.lost {
            LockState::Lost
        } else if self.last_ok.elapsed() >= self.ttl {
            LockState::AtRisk
        } else {
            LockState::Held
        }
    }

    /// A receiver that sees every state change the heartbeat records.
    pub fn watch(&self) -> LockWatch {
        self.tx.subscribe()
    }

    /// The counters so far.
    pub fn report(&self) -> HeartbeatReport {
        HeartbeatReport {
            state: self.state(),
            extends: self.extends,
            failures: self.failures,
            last_error: self.last_error.clone(),
        }
    }

    /// Extend if a heartbeat is due; otherwise do nothing. Returns the state after.
    pub async fn tick(&mut self, ds: &mut Datastore) -> LockState {
        if !self.lost && Instant::now() >= self.next_due {
            self.beat(ds).await;
        }
        self.state()
    }

    /// Extend now (unless lost), and schedule the next heartbeat one period later.
    pub async fn beat(&mut self, ds: &mut Datastore) -> LockState {
        if self.lost {
            return LockState::Lost;
        }
        match ds.lock_extend(self.lock).await {
            Ok(true) => {
                self.extends += 1;
                self.last_ok = Instant::now();
            }
            Ok(false) => self.lost = true,
            Err(e) => {
                self.failures += 1;
                self.last_error = Some(e.to_string());
            }
        }
        self.next_due = Instant::now() + self.interval;
        let state = self.state();
        self.tx.send_replace(state);
        state
    }

    /// Release the lock (idempotent, never fails: `Some(warning)` when the delete did not
    /// happen, e.g. because a successor holds it). Returns the warning and the report.
    pub async fn release(
        self,
        ds: &mut Datastore,
    ) -> CallResult<(Option<String>, HeartbeatReport)> {
        let report = self.report();
        let warning = ds.lock_release(self.lock).await?;
        Ok((warning, report))
    }
}

/// Run `work` while heartbeating `held` through `ds`, and return the work's value.
///
/// `work` gets a [`LockWatch`] and must not use `ds` (use a second datastore for the work,
/// see the module docs). Extends run to completion even when the work finishes meanwhile;
/// the work keeps being polled while an extend is in flight. When the lock is lost the
/// heartbeat stops and the work runs on: it decides, through the watch, what to do.
pub async fn run_with_heartbeat<W, Fut, T>(ds: &mut Datastore, held: &mut HeldLock, work: W) -> T
where
    W: FnOnce(LockWatch) -> Fut,
    Fut: Future<Output = T>,
{
    let work = work(held.watch());
    tokio::pin!(work);
    loop {
        tokio::select! {
            biased;
            v = &mut work => return v,
            _ = tokio::time::sleep_until(held.next_due()), if held.state() != LockState::Lost => {}
        }
        let beat = held.beat(ds);
        tokio::pin!(beat);
        let mut finished = None;
        loop {
            tokio::select! {
                _ = &mut beat => break,
                v = &mut work, if finished.is_none() => finished = Some(v),
            }
        }
        if let Some(v) = finished {
            return v;
        }
    }
}

/// A held lock whose heartbeat runs in its own tokio task, which owns the lock's datastore.
///
/// Dropping a keeper without [`release`](Self::release) stops the heartbeat (after any
/// extend in flight) without releasing: the lock then expires after its TTL.
pub struct LockKeeper {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<(Datastore, HeldLock)>,
    watch: LockWatch,
}

impl LockKeeper {
    /// Start heartbeating `held` through `ds` (which the task owns until `release`).
    pub fn spawn(mut ds: Datastore, mut held: HeldLock) -> LockKeeper {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let watch = held.watch();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    _ = &mut stopped => break,
                    _ = tokio::time::sleep_until(held.next_due()), if held.state() != LockState::Lost => {}
                }
                // Not inside the select: an extend in flight is never cancelled.
                held.beat(&mut ds).await;
            }
            (ds, held)
        });
        LockKeeper {
            stop: Some(stop),
            task,
            watch,
        }
    }

    /// The state as of the last heartbeat.
    pub fn state(&self) -> LockState {
        *self.watch.borrow()
    }

    /// A receiver of state changes.
    pub fn watch(&self) -> LockWatch {
        self.watch.clone()
    }

    /// Stop the heartbeat (after any extend in flight), release the lock, and hand the
    /// datastore back with the release warning and the heartbeat report.
    pub async fn release(mut self) -> CallResult<(Datastore, Option<String>, HeartbeatReport)> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let (mut ds, held) = (&mut self.task).await.map_err(|e| {
            CallError::Host(wasmtime::Error::msg(format!("heartbeat task failed: {e}")))
        })?;
        let (warning, report) = held.release(&mut ds).await?;
        Ok((ds, warning, report))
    }
}

/// The error of [`with_lock`].
#[derive(Debug)]
pub enum WithLockError<E> {
    /// The lock was not acquired; the closure did not run.
    Acquire(CallError),
    /// The closure failed; the lock was released anyway.
    Work {
        /// The closure's error.
        error: E,
        /// The release warning, if the delete did not happen.
        release_warning: Option<String>,
    },
}

/// The result of [`with_lock`] when the closure succeeded.
#[derive(Debug)]
pub struct Locked<T> {
    /// The closure's value.
    pub value: T,
    /// The release warning, if the delete did not happen.
    pub release_warning: Option<String>,
    /// What the heartbeat did (only the closure's own `tick` calls extend).
    pub heartbeat: HeartbeatReport,
}

/// Swamp's `withLock(fn)`: acquire, run `f`, always release (on success and on error),
/// return `f`'s result. `f` gets the datastore and the held lock, and should call
/// [`HeldLock::tick`] between its operations when it may run for more than a third of the
/// TTL. A panic inside `f` skips the release; the lock then expires after its TTL.
pub async fn with_lock<T, E, F>(
    ds: &mut Datastore,
    options: &LockOptions,
    f: F,
) -> Result<Locked<T>, WithLockError<E>>
where
    F: AsyncFnOnce(&mut Datastore, &mut HeldLock) -> Result<T, E>,
{
    let (mut held, _info) = HeldLock::acquire(ds, options)
        .await
        .map_err(WithLockError::Acquire)?;
    let result = f(ds, &mut held).await;
    let heartbeat = held.report();
    // A trap here means the store is unusable; the lock then expires after its TTL.
    let release_warning = match ds.lock_release(held.resource()).await {
        Ok(w) => w,
        Err(e) => Some(format!("release failed: {e}")),
    };
    match result {
        Ok(value) => Ok(Locked {
            value,
            release_warning,
            heartbeat,
        }),
        Err(error) => Err(WithLockError::Work {
            error,
            release_warning,
        }),
    }
}
