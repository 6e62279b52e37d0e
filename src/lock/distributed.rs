//! The lock object protocol (docs/lock.md), shared with TypeScript holders.
//!
//! - acquire: create-only write (`ifGenerationMatch=0`); on 412 read the holder and, when
//!   its `updated` time is older than its TTL, delete exactly that generation, back off
//!   and race again.
//! - extend (heartbeat): rewrite the body with `ifGenerationMatch=<our generation>`.
//! - release: delete with `ifGenerationMatch=<our generation>`.
//!
//! Every write and delete names the generation it expects, so a holder that lost the lock
//! (stolen after its TTL) can never overwrite or delete its successor's object.
//!
//! Lost replies. A write can commit on the server while its reply is lost. `GcsClient`
//! already settles the common case by reading the object back and comparing content. What
//! is left (the read-back failed too, or a stray 412) is settled here with the nonce: every
//! body we write carries the nonce of the current acquisition, so an object bearing our
//! nonce is ours. Acquire therefore never believes it holds a lock it did not get, and
//! neither acquire nor extend gives up a lock it actually won just because a reply was lost.
//!
//! Heartbeat failures. The host calls `extend` every `heartbeat_interval_ms` (ttl/3). A
//! 412 is final: someone else's generation is in place, the lock is lost, `extend` returns
//! `false` and never rewrites. Any other failure (network, 5xx after retries) returns the
//! error but keeps the lock held, because the object is most likely still ours and the next
//! tick may succeed. If no heartbeat succeeds for a whole TTL, though, another client may
//! judge the lock stale and steal it; the next `extend` then reports `false`. A caller that
//! needs certainty should stop its critical work when `extend` has failed for about a TTL.
//!
//! Single-threaded: state lives in a `RefCell`, and no borrow is held across an `.await`.

use super::body::LockBody;
#[cfg(test)]
use super::decide::heartbeat_interval_ms;
use super::decide::{cap_wait_ms, is_stale, next_wait_ms, timeout_message, uuid_v4, Contended};
use crate::error::{Error, ErrorKind, Result};
use crate::gcs::checksum::crc32c_b64;
use crate::gcs::{Authorizer, GcsClient, Generation};
use crate::timefmt::{format_iso_ms, parse_iso_ms, MAX_JS_TIME_MS};
use crate::transport::{Clock, Transport};
use std::cell::RefCell;
use std::rc::Rc;

/// Reads and conditional deletes a break-glass release tries while the holder keeps
/// rewriting the lock (each heartbeat is a new generation).
const FORCE_RELEASE_ATTEMPTS: usize = 3;

/// Key of the global lock when the options name none.
pub const DEFAULT_LOCK_KEY: &str = ".datastore.lock";
/// Default time to live of a lock that is not extended.
pub const DEFAULT_TTL_MS: u64 = 30_000;
/// Default wait between attempts while the lock is held by someone else.
pub const DEFAULT_RETRY_INTERVAL_MS: u64 = 1_000;
/// Default time `acquire` waits before failing.
pub const DEFAULT_MAX_WAIT_MS: u64 = 60_000;

/// Options of one lock (swamp core's `LockOptions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockOptions {
    /// Object key of the lock, relative to the configured prefix.
    pub key: String,
    /// Time to live written into the body; others may steal the lock once it has not been
    /// rewritten for this long.
    pub ttl_ms: u64,
    /// Wait between attempts while someone else holds the lock.
    pub retry_interval_ms: u64,
    /// `acquire` fails once this much time has passed.
    pub max_wait_ms: u64,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            key: DEFAULT_LOCK_KEY.to_string(),
            ttl_ms: DEFAULT_TTL_MS,
            retry_interval_ms: DEFAULT_RETRY_INTERVAL_MS,
            max_wait_ms: DEFAULT_MAX_WAIT_MS,
        }
    }
}

impl LockOptions {
    /// Options from optional parts (the WIT `lock-options` record); each absent part takes
    /// its default. An empty key also means the default: an empty object name is invalid.
    pub fn from_parts(
        key: Option<&str>,
        ttl_ms: Option<u32>,
        retry_interval_ms: Option<u32>,
        max_wait_ms: Option<u32>,
    ) -> Self {
        let d = LockOptions::default();
        LockOptions {
            key: key.filter(|k| !k.is_empty()).map_or(d.key, String::from),
            ttl_ms: ttl_ms.map_or(d.ttl_ms, u64::from),
            retry_interval_ms: retry_interval_ms.map_or(d.retry_interval_ms, u64::from),
            max_wait_ms: max_wait_ms.map_or(d.max_wait_ms, u64::from),
        }
    }
}

/// Who we are, as written into the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockIdentity {
    /// `user@hostname`.
    pub holder: String,
    /// Host name.
    pub hostname: String,
    /// Process id of the host process (the guest has none of its own).
    pub pid: u32,
}

impl LockIdentity {
    /// The identity from environment values: `USER`, else `USERNAME`, else `unknown` for
    /// the user; `HOSTNAME`, else `unknown`; `SWAMP_GCS_HOST_PID` parsed, else 0. Empty
    /// values count as absent, so a blank variable cannot produce a holder like `@host`.
    pub fn from_env(
        user: Option<&str>,
        username: Option<&str>,
        hostname: Option<&str>,
        pid: Option<&str>,
    ) -> Self {
        let user = present(user).or(present(username)).unwrap_or("unknown");
        let hostname = present(hostname).unwrap_or("unknown");
        LockIdentity {
            holder: format!("{user}@{hostname}"),
            hostname: hostname.to_string(),
            pid: present(pid).and_then(|p| p.parse().ok()).unwrap_or(0),
        }
    }
}

/// A trimmed, non-empty environment value.
fn present(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// What this handle holds.
#[derive(Debug, Clone)]
struct Held {
    /// Nonce of the acquisition, in every body we write until release.
    nonce: String,
    /// Generation of our last write; every write or delete is conditional on it.
    generation: Generation,
    /// The body of that write.
    body: LockBody,
}

/// The lock object as it is now.
struct Current {
    /// The parsed body; `None` when the object is not a lock body.
    body: Option<LockBody>,
    /// The generation of exactly those bytes; empty when it could not be established.
    generation: Generation,
}

impl Current {
    /// True when the object bears `nonce`, i.e. one of our own writes is in place.
    fn is_ours(&self, nonce: &str) -> bool {
        self.generation.is_known()
            && self.body.as_ref().and_then(|b| b.nonce.as_deref()) == Some(nonce)
    }
}

/// The outcome of one contended acquire attempt.
enum Step {
    /// The object bears our nonce: an attempt of ours had in fact succeeded.
    Won(Current),
    /// Wait and try again.
    Wait(Contended),
}

/// A failure after which the server may or may not have carried out the request (broken
/// connection, timeout, 5xx). A 429 is retryable but certain: nothing was written.
fn is_ambiguous(err: &Error) -> bool {
    err.is_retryable() && err.kind() != ErrorKind::RateLimited
}

/// One named lock in the bucket (swamp core's `DistributedLock`).
pub struct DistributedLock<P, A> {
    client: Rc<GcsClient<P, A>>,
    options: LockOptions,
    identity: LockIdentity,
    held: RefCell<Option<Held>>,
}

impl<P: Transport + Clock, A: Authorizer> DistributedLock<P, A> {
    /// A lock handle; nothing is sent until [`acquire`](Self::acquire).
    pub fn new(client: Rc<GcsClient<P, A>>, options: LockOptions, identity: LockIdentity) -> Self {
        DistributedLock {
            client,
            options,
            identity,
            held: RefCell::new(None),
        }
    }

    #[cfg(test)]
    /// How often the host should call [`extend`](Self::extend) while holding the lock.
    pub fn heartbeat_interval_ms(&self) -> u64 {
        heartbeat_interval_ms(self.options.ttl_ms)
    }

    /// Whether this handle believes it holds the lock.
    pub fn is_held(&self) -> bool {
        self.held.borrow().is_some()
    }

    #[cfg(test)]
    /// The nonce of the current acquisition, while held.
    pub fn nonce(&self) -> Option<String> {
        self.held.borrow().as_ref().map(|h| h.nonce.clone())
    }

    /// Block until the lock is ours and return the body written; steal a lock whose holder
    /// has not rewritten it for longer than its TTL; fail with the lock-timeout message
    /// after `max_wait_ms`.
    ///
    /// Not re-entrant: while held, a second call returns the current body without a request
    /// (one `release` frees it). Failures of the create write other than 412 propagate, so
    /// that a network outage is not mistaken for contention.
    pub async fn acquire(&self) -> Result<LockBody> {
        if let Some(h) = self.held.borrow().as_ref() {
            return Ok(h.body.clone());
        }
        let clock = self.client.platform();
        let key = self.options.key.as_str();
        let nonce = uuid_v4(clock.random_u64(), clock.random_u64());
        let start = clock.now_ms();
        loop {
            let elapsed = clock.now_ms().saturating_sub(start);
            if elapsed >= self.options.max_wait_ms {
                return Err(self.timeout_error(elapsed).await);
            }
            let body = self.fresh_body(&nonce);
            let step = match self
                .client
                .upload(key, body.to_json().as_bytes(), Some("0"))
                .await
            {
                Ok(meta) => return Ok(self.take_hold(nonce, meta.generation, body)),
                Err(e) if e.is_precondition_failed() => self.contended(&nonce).await?,
                Err(e) if is_ambiguous(&e) => match self.current().await {
                    // The create landed although its reply (and the client's read-back)
                    // did not reach us.
                    Ok(Some(cur)) if cur.is_ours(&nonce) => Step::Won(cur),
                    _ => return Err(e.context(format!("acquire lock {key}"))),
                },
                Err(e) => return Err(e.context(format!("acquire lock {key}"))),
            };
            let after = match step {
                Step::Won(cur) => {
                    let stored = cur.body.unwrap_or(body);
                    return Ok(self.take_hold(nonce, cur.generation, stored));
                }
                Step::Wait(after) => after,
            };
            let wait = next_wait_ms(after, self.options.retry_interval_ms, clock.random_u64());
            let elapsed = clock.now_ms().saturating_sub(start);
            clock
                .sleep(cap_wait_ms(wait, elapsed, self.options.max_wait_ms))
                .await;
        }
    }

    /// After a 412 on the create: is it ours after all, stale (steal it), or live (wait)?
    async fn contended(&self, nonce: &str) -> Result<Step> {
        let key = self.options.key.as_str();
        // Read errors are not fatal here (TS parity): the next attempt reads again.
        let cur = match self.current().await {
            Ok(Some(cur)) => cur,
            Ok(None) | Err(_) => return Ok(Step::Wait(Contended::Held)),
        };
        if cur.is_ours(nonce) {
            return Ok(Step::Won(cur));
        }
        // Staleness is judged with the holder's TTL. A body that is not a lock body at all
        // (foreign or corrupt) is judged with ours; the TS client never steals it, which
        // would leave the name blocked until someone deletes it by hand.
        let ttl = cur.body.as_ref().map_or(self.options.ttl_ms, |b| b.ttl_ms);
        let Some(meta) = self.client.stat(key).await? else {
            return Ok(Step::Wait(Contended::Held));
        };
        let updated = meta.updated.as_deref().and_then(parse_iso_ms);
        let now = self.client.platform().unix_ms();
        if !meta.generation.is_known() || !is_stale(updated, ttl, now) {
            return Ok(Step::Wait(Contended::Held));
        }
        // Only the generation judged stale: if the holder heartbeated or another contender
        // stole it meanwhile, this fails with 412 and the newer lock survives. Every error
        // is ignored, the next create attempt tells us where we stand.
        let _ = self
            .client
            .delete(key, Some(meta.generation.as_str()))
            .await;
        Ok(Step::Wait(Contended::Stole))
    }

    /// Heartbeat: rewrite the body (fresh `acquiredAt`) conditionally on our generation.
    ///
    /// `Ok(true)` when extended; `Ok(false)` when not held or the lock was lost (412 and the
    /// object is not ours: the state is cleared and nothing is rewritten); `Err` for other
    /// failures, with the lock still held (see the module docs for what that means).
    pub async fn extend(&self) -> Result<bool> {
        let Some((nonce, mut generation)) = self
            .held
            .borrow()
            .as_ref()
            .map(|h| (h.nonce.clone(), h.generation.clone()))
        else {
            return Ok(false);
        };
        let key = self.options.key.as_str();
        // At most two writes: the second only after finding that an earlier write of ours
        // landed unseen, to refresh the lock from the generation we now know.
        for _ in 0..2 {
            let body = self.fresh_body(&nonce);
            let err = match self
                .client
                .upload(key, body.to_json().as_bytes(), Some(generation.as_str()))
                .await
            {
                Ok(meta) => return Ok(self.after_extend(&nonce, meta.generation, body).await),
                Err(e) => e,
            };
            let precondition = err.is_precondition_failed();
            if !precondition && !is_ambiguous(&err) {
                return Err(err.context(format!("extend lock {key}")));
            }
            let cur = match self.current().await {
                Ok(cur) => cur,
                // After a 412 the object has moved past our generation and we cannot see
                // to whom: assume the worst, two holders are worse than an early release.
                Err(_) if precondition => return Ok(self.lose(&nonce)),
                Err(_) => return Err(err.context(format!("extend lock {key}"))),
            };
            let Some(cur) = cur.filter(|c| c.is_ours(&nonce)) else {
                return Ok(self.lose(&nonce));
            };
            if cur.body.as_ref() == Some(&body) {
                // This very write landed; only its reply was lost.
                return Ok(self.after_extend(&nonce, cur.generation, body).await);
            }
            if cur.generation == generation {
                // Unchanged: the write did not land. Still ours; the host retries next tick.
                return Err(err.context(format!("extend lock {key}")));
            }
            // An earlier write of ours landed unseen (its reply was lost): adopt it.
            generation = cur.generation;
            if let Some(h) = self.held.borrow_mut().as_mut().filter(|h| h.nonce == nonce) {
                h.generation = generation.clone();
                h.body = cur.body.unwrap_or_else(|| h.body.clone());
            }
        }
        Err(Error::other(format!(
            "extend lock {key}: the lock object kept changing under our nonce"
        )))
    }

    /// Record a successful heartbeat write. If the lock was released while the write was in
    /// flight (only possible when futures on one handle are interleaved), the write just
    /// put our lock back: delete it again, best effort.
    async fn after_extend(&self, nonce: &str, generation: Generation, body: LockBody) -> bool {
        if let Some(h) = self.held.borrow_mut().as_mut().filter(|h| h.nonce == nonce) {
            h.generation = generation;
            h.body = body;
            return true;
        }
        let _ = self
            .client
            .delete(&self.options.key, Some(generation.as_str()))
            .await;
        false
    }

    /// Forget the acquisition `nonce` (the lock was lost); returns `false` for `extend`.
    fn lose(&self, nonce: &str) -> bool {
        let mut held = self.held.borrow_mut();
        if held.as_ref().is_some_and(|h| h.nonce == nonce) {
            *held = None;
        }
        false
    }

    /// Release if held. Idempotent, never fails: when the delete does not happen the
    /// returned warning says why (e.g. a successor already holds the lock, which is left
    /// alone). The local state is cleared in every case.
    pub async fn release(&self) -> Option<String> {
        let held = self.held.borrow_mut().take()?;
        let key = self.options.key.as_str();
        // Ok(false) is a 404: already gone (stolen and released, or force-released).
        let err = match self
            .client
            .delete(key, Some(held.generation.as_str()))
            .await
        {
            Ok(_) => return None,
            Err(e) => e,
        };
        if err.is_precondition_failed() {
            // The object moved past our generation. If it still bears our nonce, a write of
            // ours landed unseen: delete that generation. Otherwise it is a successor's.
            if let Ok(Some(cur)) = self.current().await {
                if cur.is_ours(&held.nonce) {
                    return match self.client.delete(key, Some(cur.generation.as_str())).await {
                        Ok(_) => None,
                        Err(e) => Some(release_warning(key, &e)),
                    };
                }
            }
        }
        Some(release_warning(key, &err))
    }

    /// The current holder's body without acquiring; `None` when free or when the object is
    /// not a readable lock body. Failures other than 404 propagate.
    pub async fn inspect(&self) -> Result<Option<LockBody>> {
        match self.client.download(&self.options.key).await {
            Ok(d) => Ok(LockBody::parse(&d.data)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Break-glass release: delete the lock only when its stored nonce equals `nonce`, and
    /// only the generation whose nonce was checked. `Ok(false)` when absent, when the nonce
    /// differs or is missing, or when the object kept changing before the delete. A 412
    /// means the object moved on since it was read: most often the holder's own heartbeat,
    /// so it is read again and, while the nonce still matches, deleted at its new
    /// generation (a few times at most).
    pub async fn force_release(&self, nonce: &str) -> Result<bool> {
        for _ in 0..FORCE_RELEASE_ATTEMPTS {
            let Some(cur) = self.current().await? else {
                return Ok(false);
            };
            if !cur.is_ours(nonce) {
                return Ok(false);
            }
            match self
                .client
                .delete(&self.options.key, Some(cur.generation.as_str()))
                .await
            {
                Ok(deleted) => {
                    if deleted {
                        // If it was this handle's own acquisition, it is no longer held.
                        self.lose(nonce);
                    }
                    return Ok(deleted);
                }
                Err(e) if e.is_precondition_failed() => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// A body for `nonce` stamped now.
    fn fresh_body(&self, nonce: &str) -> LockBody {
        LockBody {
            holder: self.identity.holder.clone(),
            hostname: self.identity.hostname.clone(),
            pid: self.identity.pid,
            acquired_at: iso_now(self.client.platform().unix_ms()),
            ttl_ms: self.options.ttl_ms,
            nonce: Some(nonce.to_string()),
        }
    }

    fn take_hold(&self, nonce: String, generation: Generation, body: LockBody) -> LockBody {
        *self.held.borrow_mut() = Some(Held {
            nonce,
            generation,
            body: body.clone(),
        });
        body
    }

    /// The lock object now: parsed body and the generation of those bytes; `None` if absent.
    async fn current(&self) -> Result<Option<Current>> {
        let key = self.options.key.as_str();
        let d = match self.client.download(key).await {
            Ok(d) => d,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut generation = d.generation;
        if !generation.is_known() {
            // A server that omits `x-goog-generation`: take the metadata's, but only when
            // its checksum ties it to the bytes we read (the object may have moved on).
            let crc = crc32c_b64(&d.data);
            if let Some(meta) = self.client.stat(key).await? {
                if meta.crc32c.as_deref() == Some(crc.as_str()) {
                    generation = meta.generation;
                }
            }
        }
        Ok(Some(Current {
            body: LockBody::parse(&d.data),
            generation,
        }))
    }

    /// The lock-timeout error, naming the holder when its body can be read.
    async fn timeout_error(&self, waited_ms: u64) -> Error {
        let holder = match self.current().await {
            Ok(Some(Current { body: Some(b), .. })) => Some(b),
            _ => None,
        };
        let who = holder.as_ref().map(|b| (b.holder.as_str(), b.pid));
        Error::new(
            ErrorKind::LockTimeout {
                lock_key: self.options.key.clone(),
                holder: holder.as_ref().map(|b| b.holder.clone()),
                waited_ms,
            },
            timeout_message(&self.options.key, who, waited_ms),
        )
    }
}

/// `acquiredAt` for wall-clock time `unix_ms`. A clock beyond the range of a JS `Date`
/// (±8.64e15 ms, where `toISOString()` throws) is broken; it is clamped so the body stays
/// well-formed instead of failing the lock.
fn iso_now(unix_ms: i64) -> String {
    format_iso_ms(unix_ms.clamp(-MAX_JS_TIME_MS, MAX_JS_TIME_MS)).unwrap_or_default()
}

fn release_warning(key: &str, err: &Error) -> String {
    format!("Failed to delete lock {key} during release: {err}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_doubles::{run, FakeGcs, Fault, Kind};

    const KEY: &str = ".datastore.lock";

    fn identity(user: &str) -> LockIdentity {
        LockIdentity::from_env(Some(user), None, Some("build-7"), Some("12345"))
    }

    fn lock(
        fake: &Rc<FakeGcs>,
        user: &str,
        options: LockOptions,
    ) -> DistributedLock<FakeGcs, crate::gcs::NoAuth> {
        DistributedLock::new(fake.client(""), options, identity(user))
    }

    fn quick(max_wait_ms: u64) -> LockOptions {
        LockOptions {
            max_wait_ms,
            ..LockOptions::default()
        }
    }

    fn stored(fake: &FakeGcs) -> Option<LockBody> {
        fake.data(KEY).and_then(|d| LockBody::parse(&d))
    }

    #[test]
    fn identity_and_options_defaults() {
        let id = LockIdentity::from_env(None, Some("bob"), None, Some("x"));
        assert_eq!(
            (id.holder.as_str(), id.hostname.as_str(), id.pid),
            ("bob@unknown", "unknown", 0)
        );
        let id = LockIdentity::from_env(Some(" "), None, Some("h"), Some("77"));
        assert_eq!((id.holder.as_str(), id.pid), ("unknown@h", 77));
        assert_eq!(
            LockOptions::from_parts(Some(""), None, None, None),
            LockOptions::default()
        );
        let o = LockOptions::from_parts(Some(".locks/ns.lock"), Some(5), Some(6), Some(7));
        assert_eq!(
            (o.key.as_str(), o.ttl_ms, o.retry_interval_ms, o.max_wait_ms),
            (".locks/ns.lock", 5, 6, 7)
        );
    }

    #[test]
    fn acquired_at_survives_a_broken_clock() {
        assert_eq!(iso_now(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_now(i64::MAX), "+275760-09-13T00:00:00.000Z");
        assert_eq!(iso_now(i64::MIN), "-271821-04-20T00:00:00.000Z");
    }

    #[test]
    fn acquire_release_then_inspect_is_empty() {
        let fake = FakeGcs::new();
        let a = lock(&fake, "alice", LockOptions::default());
        assert_eq!(run(a.inspect()).unwrap(), None);
        let body = run(a.acquire()).unwrap();
        assert!(a.is_held());
        assert_eq!(body.holder, "alice@build-7");
        assert_eq!(body.acquired_at, "2026-08-01T10:00:00.000Z");
        assert_eq!(body.nonce, a.nonce());
        assert_eq!(run(a.inspect()).unwrap(), Some(body.clone()));
        assert_eq!(fake.data(KEY).unwrap(), body.to_json().into_bytes());
        assert_eq!(
            run(a.acquire()).unwrap(),
            body,
            "a second acquire is a no-op"
        );
        assert_eq!(run(a.release()), None);
        assert!(!a.is_held());
        assert_eq!(run(a.inspect()).unwrap(), None);
        let before = fake.request_count();
        assert_eq!(run(a.release()), None, "release is idempotent");
        assert_eq!(
            fake.request_count(),
            before,
            "and sends nothing when not held"
        );
    }

    #[test]
    fn second_acquire_times_out_naming_the_holder() {
        let fake = FakeGcs::new();
        let a = lock(&fake, "alice", LockOptions::default());
        run(a.acquire()).unwrap();
        let b = lock(&fake, "bob", quick(3000));
        let err = run(b.acquire()).unwrap_err();
        assert_eq!(
            err.message(),
            "Lock \".datastore.lock\" held by alice@build-7 (pid 12345) — timed out after 3000ms"
        );
        assert!(!b.is_held());
        assert_eq!(
            fake.uploads(),
            1 + 3,
            "alice's create, then bob at 0, 1000 and 2000 ms"
        );
        assert_eq!(stored(&fake).unwrap().holder, "alice@build-7");
    }

    #[test]
    fn stale_lock_is_stolen_and_the_old_holder_cannot_touch_it() {
        let fake = FakeGcs::new();
        let a = lock(&fake, "alice", LockOptions::default());
        run(a.acquire()).unwrap();
        // Alice stops heartbeating; bob waits out her 30 s TTL.
        let b = lock(&fake, "bob", quick(120_000));
        let won = run(b.acquire()).unwrap();
        assert!(
            fake.now() > 30_000,
            "stolen only after the TTL: {}",
            fake.now()
        );
        assert!(fake.now() < 33_000, "{}", fake.now());
        assert_eq!(stored(&fake), Some(won.clone()));
        // DEF-4: alice's release must not delete bob's lock.
        let warning = run(a.release()).expect("a warning, not a delete");
        assert!(
            warning.starts_with("Failed to delete lock .datastore.lock during release:"),
            "{warning}"
        );
        assert_eq!(stored(&fake), Some(won));
        assert!(b.is_held());
    }

    #[test]
    fn steals_are_rate_limited() {
        // A perpetually stale lock (deletes are acknowledged but never happen), like the TS
        // DEF-3B test: few create attempts per second, and at least a second after a steal.
        let fake = FakeGcs::new();
        let a = lock(&fake, "alice", LockOptions::default());
        let stale = LockBody {
            nonce: Some("n".into()),
            ..a.fresh_body("n")
        };
        fake.put(KEY, stale.to_json().as_bytes(), -120_000);
        fake.ignore_deletes.set(true);
        let b = lock(&fake, "bob", quick(1200));
        let err = run(b.acquire()).unwrap_err();
        assert!(
            err.message().contains("held by alice@build-7"),
            "{}",
            err.message()
        );
        assert!(fake.uploads() <= 2, "{} attempts in 1.2 s", fake.uploads());
        assert!(fake.sleeps.borrow().first().is_some_and(|&s| s >= 1000));
    }

    #[test]
    fn unreadable_lock_is_stolen_after_our_ttl() {
        let fake = FakeGcs::new();
        fake.put(KEY, b"not a lock body", -29_000);
        let b = lock(&fake, "bob", quick(10_000));
        let won = run(b.acquire()).unwrap();
        // Live at 0 and 1000 ms (29 and 30 s old), stale at 2000 ms, then the steal backoff.
        assert!((3_000..3_500).contains(&fake.now()), "{}", fake.now());
        assert_eq!(stored(&fake), Some(won));
    }

    #[test]
    fn heartbeat_extends_then_reports_loss() {
        let fake = FakeGcs::new();
        let a = lock(&fake, "alice", LockOptions::default());
        run(a.acquire()).unwrap();
        assert_eq!(a.heartbeat_interval_ms(), 10_000);
        let first = fake.generation(KEY).unwrap();
        fake.advance(10_000);
        assert!(run(a.extend()).unwrap());
        assert_ne!(fake.generation(KEY).unwrap(), first);
        assert_eq!(
            stored(&fake).unwrap().acquired_at,
            "2026-08-01T10:00:10.000Z"
        );
        assert_eq!(stored(&fake).unwrap().nonce, a.nonce());
        // Someone overwrites the lock (e.g. stole it after a long pause).
        let theirs = LockBody {
            holder: "eve@x".into(),
            nonce: Some("other".into()),
            ..stored(&fake).unwrap()
        };
        fake.put(KEY, theirs.to_json().as_bytes(), 0);
        let uploads = fake.uploads();
        assert!(!run(a.extend()).unwrap());
        assert_eq!(fake.uploads(), uploads + 1, "no rewrite after the 412");
        assert!(!a.is_held());
        assert_eq!(run(a.release()), None);
        assert_eq!(stored(&fake), Some(theirs));
        assert!(!run(a.extend()).unwrap(), "not held: nothing to extend");
    }

    #[test]
    fn force_release_needs_the_right_nonce() {
        let fake = FakeGcs::new();
        let a = lock(&fake, "alice", LockOptions::default());
        let body = run(a.acquire()).unwrap();
        let b = lock(&fake, "bob", LockOptions::default());
        assert!(!run(b.force_release("not-the-nonce")).unwrap());
        assert!(stored(&fake).is_some());
        assert!(run(b.force_release(body.nonce.as_deref().unwrap())).unwrap());
        assert_eq!(run(b.inspect()).unwrap(), None);
        assert!(
            !run(b.force_release(body.nonce.as_deref().unwrap())).unwrap(),
            "nothing left"
        );
        assert_eq!(run(a.release()), None, "the 404 is not worth a warning");
        // Force-releasing our own acquisition clears our state.
        run(a.acquire()).unwrap();
        assert!(run(a.force_release(&a.nonce().unwrap())).unwrap());
        assert!(!a.is_held());
    }

    #[test]
    fn force_release_outlasts_a_heartbeat_between_its_read_and_its_delete() {
        let fake = FakeGcs::new();
        let a = lock(&fake, "alice", LockOptions::default());
        let body = run(a.acquire()).unwrap();
        // The holder rewrites its lock (same nonce, new generation) just before the
        // delete arrives: the delete fails its precondition, and the release reads again.
        let rewritten = body.to_json();
        fake.on_request(Kind::Delete, KEY, move |f| {
            f.put(KEY, rewritten.as_bytes(), 0)
        });
        let b = lock(&fake, "bob", LockOptions::default());
        assert!(run(b.force_release(body.nonce.as_deref().unwrap())).unwrap());
        assert_eq!(fake.data(KEY), None);
        assert_eq!(
            fake.count(Kind::Delete),
            2,
            "one lost to the heartbeat, one landed"
        );
    }

    #[test]
    fn lost_create_reply_still_acquires_exactly_once() {
        // The client's own read-back settles it.
        let fake = FakeGcs::new();
        fake.script(&[Fault::CommitThenDrop]);
        let a = lock(&fake, "alice", LockOptions::default());
        let body = run(a.acquire()).unwrap();
        assert_eq!(stored(&fake), Some(body));
        assert_eq!(fake.generation(KEY), Some(1), "one object, written once");
        assert_eq!(run(a.release()), None);
        assert_eq!(fake.data(KEY), None);

        // The client's read-back fails too: the nonce settles it.
        let fake = FakeGcs::new();
        fake.script(&[Fault::CommitThenDrop, Fault::Drop]);
        let a = DistributedLock::new(
            fake.client(r#","retryMaxAttempts":1"#),
            LockOptions::default(),
            identity("alice"),
        );
        let body = run(a.acquire()).unwrap();
        assert!(a.is_held());
        assert_eq!(stored(&fake), Some(body));
        assert_eq!(fake.uploads(), 1);
        assert_eq!(run(a.release()), None);
        assert_eq!(fake.data(KEY), None);
    }

    #[test]
    fn network_failure_is_not_contention() {
        let fake = FakeGcs::new();
        fake.script(&[Fault::Drop]);
        let a = DistributedLock::new(
            fake.client(r#","retryMaxAttempts":1"#),
            LockOptions::default(),
            identity("alice"),
        );
        let err = run(a.acquire()).unwrap_err();
        assert!(
            err.message().starts_with("acquire lock .datastore.lock: "),
            "{}",
            err.message()
        );
        assert!(
            matches!(
                err.kind(),
                ErrorKind::Transport {
                    kind: crate::error::TransportKind::ConnectionLost,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!a.is_held());
        assert_eq!(fake.data(KEY), None);
    }

    #[test]
    fn lost_heartbeat_replies_do_not_lose_the_lock() {
        let fake = FakeGcs::new();
        let a = DistributedLock::new(
            fake.client(r#","retryMaxAttempts":1"#),
            LockOptions::default(),
            identity("alice"),
        );
        run(a.acquire()).unwrap();
        // The write lands, its reply and the client's read-back are lost.
        fake.advance(10_000);
        fake.script(&[Fault::CommitThenDrop, Fault::Drop]);
        assert!(run(a.extend()).unwrap());
        assert_eq!(
            stored(&fake).unwrap().acquired_at,
            "2026-08-01T10:00:10.000Z"
        );
        // The write does not land: an error, still held, and the next tick works. (Time
        // moves on so the new body differs from the stored one.)
        fake.advance(10_000);
        fake.script(&[Fault::Drop]);
        assert!(run(a.extend()).is_err());
        assert!(a.is_held());
        assert!(run(a.extend()).unwrap());
        assert_eq!(run(a.release()), None);
        assert_eq!(
            fake.data(KEY),
            None,
            "released the generation actually stored"
        );
    }

    #[test]
    fn unseen_earlier_writes_of_ours_are_adopted() {
        let fake = FakeGcs::new();
        let a = lock(&fake, "alice", LockOptions::default());
        let body = run(a.acquire()).unwrap();
        // An earlier write of ours that landed without us knowing: same nonce, newer
        // generation.
        let ours = LockBody {
            acquired_at: "2026-08-01T10:00:05.000Z".into(),
            ..body.clone()
        };
        fake.put(KEY, ours.to_json().as_bytes(), 0);
        fake.advance(10_000);
        assert!(run(a.extend()).unwrap());
        assert_eq!(
            stored(&fake).unwrap().acquired_at,
            "2026-08-01T10:00:10.000Z"
        );
        fake.put(KEY, ours.to_json().as_bytes(), 0);
        assert_eq!(run(a.release()), None);
        assert_eq!(fake.data(KEY), None);
    }
}
