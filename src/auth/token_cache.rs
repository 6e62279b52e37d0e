//! When a cached token is still good, and how long to hold off after a failed fetch.
//!
//! Pure state with times passed in, so every rule here is tested without a clock.

use std::fmt;

use super::secret::Secret;
use crate::error::Error;

/// A token is refreshed this long before it expires: 3 min 45 s, the threshold
/// google-auth uses (`docs/gcs.md#token-caching`).
///
/// Why not more: the GKE metadata server hands out the *same* cached token until about
/// 4 minutes before its expiry. With a margin of 4 minutes or more, a token fresh from
/// that server would already count as stale, so every request would fetch again and get
/// the same token back — a request flood on the metadata server (apache/arrow-rs#6625,
/// with a 5-minute margin). Why not less: a request must not start with a token that
/// expires while it is still uploading.
pub const REFRESH_MARGIN_MS: u64 = 225_000;

// The reasoning above breaks if someone "rounds up" the margin to 4 or 5 minutes.
const _: () = assert!(
    REFRESH_MARGIN_MS < 240_000,
    "margin must stay under 4 minutes"
);

/// First pause after a failed fetch; doubles per consecutive failure.
const BACKOFF_FIRST_MS: u64 = 1_000;

/// Longest pause: short enough that a user who fixes their login mid-run is picked up soon.
const BACKOFF_MAX_MS: u64 = 30_000;

struct Cached {
    token: Secret,
    /// Monotonic time from which the token counts as stale.
    refresh_at_ms: u64,
}

struct Failure {
    /// The error every caller gets until `until_ms`.
    error: Error,
    /// Monotonic time before which no new fetch is attempted.
    until_ms: u64,
}

/// The cached token and the failure backoff of one token provider.
#[derive(Default)]
pub(crate) struct TokenCache {
    current: Option<Cached>,
    consecutive_failures: u32,
    failure: Option<Failure>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("has_token", &self.current.is_some())
            .field(
                "refresh_at_ms",
                &self.current.as_ref().map(|c| c.refresh_at_ms),
            )
            .field("consecutive_failures", &self.consecutive_failures)
            .finish()
    }
}

impl TokenCache {
    /// The cached token, unless it is within the refresh margin of its expiry at `now_ms`.
    pub(crate) fn fresh(&self, now_ms: u64) -> Option<String> {
        self.current
            .as_ref()
            .filter(|c| now_ms < c.refresh_at_ms)
            .map(|c| c.token.expose().to_string())
    }

    /// Keep a token that was requested at `requested_at_ms` and lives `lifetime_ms`.
    ///
    /// Counting from the request (not the answer) errs towards refreshing early. A token
    /// that lives less than twice the margin (a test server, or a metadata server near the
    /// end of its own cache) keeps half its remaining life instead, so that it is still
    /// cached for a while rather than refetched by every request.
    pub(crate) fn store(&mut self, token: Secret, requested_at_ms: u64, lifetime_ms: u64) {
        let margin = REFRESH_MARGIN_MS.min(lifetime_ms / 2);
        self.current = Some(Cached {
            token,
            refresh_at_ms: requested_at_ms.saturating_add(lifetime_ms - margin),
        });
        self.consecutive_failures = 0;
        self.failure = None;
    }

    #[cfg(test)]
    /// Forget the token, whatever its expiry says.
    pub(crate) fn invalidate(&mut self) {
        self.current = None;
    }

    /// Forget the token only if it is `rejected`: when many requests that carried the same
    /// token all get a 401, the first one's refresh must not be thrown away by the others.
    pub(crate) fn invalidate_if(&mut self, rejected: &str) {
        if self
            .current
            .as_ref()
            .is_some_and(|c| c.token.expose() == rejected)
        {
            self.current = None;
        }
    }

    /// Remember a failed fetch at `now_ms`: callers get `error` back without a new fetch
    /// for 1 s, then 2 s, 4 s … up to 30 s while failures continue. Without this, every
    /// queued request would retry the token endpoint at once (a stampede), and a dead
    /// metadata route would cost 2 s per request.
    pub(crate) fn record_failure(&mut self, error: Error, now_ms: u64) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let shift = (self.consecutive_failures - 1).min(16);
        let pause = (BACKOFF_FIRST_MS << shift).min(BACKOFF_MAX_MS);
        self.failure = Some(Failure {
            error,
            until_ms: now_ms.saturating_add(pause),
        });
    }

    /// The last failure, while its backoff lasts.
    pub(crate) fn backoff(&self, now_ms: u64) -> Option<Error> {
        self.failure
            .as_ref()
            .filter(|f| now_ms < f.until_ms)
            .map(|f| f.error.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_until_the_margin_before_expiry() {
        let mut c = TokenCache::default();
        assert_eq!(c.fresh(0), None);
        c.store(Secret::new("t1"), 1_000, 3_600_000);
        let stale_at = 1_000 + 3_600_000 - REFRESH_MARGIN_MS;
        assert_eq!(c.fresh(stale_at - 1).as_deref(), Some("t1"));
        assert_eq!(c.fresh(stale_at), None);
    }

    #[test]
    fn margin_is_under_the_metadata_servers_four_minutes() {
        // GKE may hand out its cached token with just over 4 min left. It must still count
        // as fresh for a while, or every request would fetch it again.
        let mut c = TokenCache::default();
        c.store(Secret::new("t"), 0, 241_000);
        assert!(c.fresh(100_000).is_some());
        assert!(c.fresh(120_500).is_none());
    }

    #[test]
    fn short_lived_token_keeps_half_its_life() {
        let mut c = TokenCache::default();
        c.store(Secret::new("t"), 0, 60_000);
        assert!(c.fresh(29_999).is_some());
        assert!(c.fresh(30_000).is_none());
    }

    #[test]
    fn invalidate_if_only_drops_the_rejected_token() {
        let mut c = TokenCache::default();
        c.store(Secret::new("new"), 0, 3_600_000);
        c.invalidate_if("old");
        assert!(c.fresh(1).is_some());
        c.invalidate_if("new");
        assert!(c.fresh(1).is_none());
    }

    #[test]
    fn backoff_doubles_and_is_capped_and_cleared_by_success() {
        let mut c = TokenCache::default();
        let e = Error::other("x");
        c.record_failure(e.clone(), 0);
        assert!(c.backoff(999).is_some());
        assert!(c.backoff(1_000).is_none());
        c.record_failure(e.clone(), 1_000);
        assert!(c.backoff(2_999).is_some());
        assert!(c.backoff(3_000).is_none());
        for _ in 0..20 {
            c.record_failure(e.clone(), 10_000);
        }
        assert!(c.backoff(39_999).is_some());
        assert!(c.backoff(40_000).is_none());
        c.store(Secret::new("t"), 10_000, 3_600_000);
        assert!(c.backoff(10_001).is_none());
    }

    #[test]
    fn debug_never_shows_the_token() {
        let mut c = TokenCache::default();
        c.store(Secret::new("ya29.SECRET"), 0, 3_600_000);
        assert!(!format!("{c:?}").contains("SECRET"));
    }
}
