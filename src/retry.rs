//! Retries: which failures are worth repeating, how long to wait, and the one budget every
//! loop that retries spends ([`RetryBudget`]): the request loop ([`with_retry`]), the
//! resumable upload's chunk loop and the index publish's compare-and-swap loop.
//!
//! The maths is pure (`backoff_delay`) and the budget takes the clock as a parameter, so
//! the whole policy is tested natively without sleeping.

use crate::config::RetrySettings;
use crate::error::{Error, ErrorKind, Result};
use crate::transport::Clock;
use std::future::Future;

/// GCS allows about one mutation per second per object name; a retry sooner than that
/// after a `rateLimitExceeded` answer just earns another 429 (`docs/gcs.md#rate-limits`).
pub const RATE_LIMIT_MIN_DELAY_MS: u64 = 1000;

/// Whether an error is GCS's per-object (or per-bucket) rate limit.
pub fn is_rate_limit(err: &Error) -> bool {
    err.kind() == ErrorKind::RateLimited
        || err.gcs().as_ref().is_some_and(|g| {
            g.status == 429
                || matches!(
                    g.reason.as_deref(),
                    Some("rateLimitExceeded") | Some("userRateLimitExceeded")
                )
        })
}

/// Delay before retry number `retry` (0 = the first retry), given a uniform random value
/// `unit` in [0, 1). Exponential growth capped at `max_delay_ms`, with "equal jitter": half
/// the delay is fixed and half is random, so retries spread out but never fire at once.
pub fn backoff_delay(settings: &RetrySettings, retry: u32, unit: f64, rate_limited: bool) -> u64 {
    let exp = settings
        .initial_delay_ms
        .saturating_mul(1u64 << retry.min(30))
        .min(settings.max_delay_ms);
    let half = exp / 2;
    let jitter = ((exp - half) as f64 * unit.clamp(0.0, 1.0)) as u64;
    let delay = half + jitter;
    if rate_limited {
        // At least a second, plus up to half a second of jitter so that several writers
        // throttled on the same object do not return in lockstep.
        delay.max(RATE_LIMIT_MIN_DELAY_MS + (500.0 * unit) as u64)
    } else {
        delay
    }
}

/// Convert a random u64 to a unit interval value.
pub fn unit_from(random: u64) -> f64 {
    (random >> 11) as f64 / (1u64 << 53) as f64
}

/// The budget of one retried operation: attempts made, time spent, and the call's deadline.
/// Every loop that retries asks it, after a failure, whether to go on and how long to wait
/// first, so they all stop under the same rules (attempts, elapsed time, deadline).
pub struct RetryBudget<'a, C> {
    clock: &'a C,
    settings: &'a RetrySettings,
    max_attempts: u32,
    deadline_ms: Option<u64>,
    started_ms: u64,
    attempts: u32,
}

impl<'a, C: Clock> RetryBudget<'a, C> {
    /// A budget of `settings.max_attempts` attempts within `settings.max_elapsed_ms`, and
    /// never past `deadline_ms` (absolute monotonic time; the call's own deadline).
    pub fn new(clock: &'a C, settings: &'a RetrySettings, deadline_ms: Option<u64>) -> Self {
        RetryBudget {
            clock,
            settings,
            max_attempts: settings.max_attempts,
            deadline_ms,
            started_ms: clock.now_ms(),
            attempts: 1,
        }
    }

    /// The same budget with another attempt count (a loop whose repeats are not transport
    /// failures, like a compare-and-swap that lost a race).
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// Attempts made so far (1 before the first retry).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// After a failed attempt: wait the backoff and return `true` when another attempt may
    /// start; `false` (without waiting) when the attempts, the elapsed time or the
    /// deadline would be exceeded.
    pub async fn retry_after(&mut self, rate_limited: bool) -> bool {
        if self.attempts >= self.max_attempts {
            return false;
        }
        let delay = backoff_delay(
            self.settings,
            self.attempts - 1,
            unit_from(self.clock.random_u64()),
            rate_limited,
        );
        let now = self.clock.now_ms();
        if now.saturating_sub(self.started_ms) + delay > self.settings.max_elapsed_ms
            || self.deadline_ms.is_some_and(|d| now + delay >= d)
        {
            return false;
        }
        self.clock.sleep(delay).await;
        self.attempts += 1;
        true
    }
}

/// Run `op` until it succeeds, fails terminally, or the budget is spent.
///
/// `deadline_ms` is an absolute monotonic time after which no new attempt starts (the
/// call's own deadline). `op` gets the 1-based attempt number.
pub async fn with_retry<C, T, F, Fut>(
    clock: &C,
    settings: &RetrySettings,
    deadline_ms: Option<u64>,
    mut op: F,
) -> Result<T>
where
    C: Clock,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut budget = RetryBudget::new(clock, settings, deadline_ms);
    loop {
        let err = match op(budget.attempts()).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if !err.is_retryable() || !budget.retry_after(is_rate_limit(&err)).await {
            return Err(annotate(err, budget.attempts()));
        }
    }
}

fn annotate(err: Error, attempts: u32) -> Error {
    if attempts <= 1 {
        return err;
    }
    let err = err.noted(format_args!("after {attempts} attempts"));
    if err.gcs().is_some_and(|g| g.status == 429) {
        err.with_kind(ErrorKind::RateLimited)
    } else {
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::GcsDetail;
    use crate::test_doubles::{run, FakeClock};
    use std::cell::Cell;

    /// The retry tests' clock: at 1000 ms, random values mid-range (half jitter).
    fn test_clock() -> FakeClock {
        FakeClock::new().at(1_000).with_random(u64::MAX / 2)
    }

    fn status_error(status: u16, reason: Option<&str>) -> Error {
        Error::new(ErrorKind::Remote, format!("HTTP {status}"))
            .retryable(status == 429 || status >= 500 || status == 408)
            .with_gcs(GcsDetail {
                status,
                reason: reason.map(String::from),
                ..Default::default()
            })
    }

    fn settings() -> RetrySettings {
        RetrySettings {
            max_attempts: 5,
            initial_delay_ms: 100,
            max_delay_ms: 1_000,
            max_elapsed_ms: 60_000,
        }
    }

    #[test]
    fn backoff_grows_and_caps() {
        let s = settings();
        let table = [
            (0, 0.0, 50),
            (0, 1.0, 100),
            (1, 0.0, 100),
            (2, 1.0, 400),
            (5, 1.0, 1000),
            (40, 0.5, 750),
        ];
        for (retry, unit, want) in table {
            assert_eq!(
                backoff_delay(&s, retry, unit, false),
                want,
                "retry {retry} unit {unit}"
            );
        }
    }

    #[test]
    fn rate_limit_waits_at_least_a_second() {
        let s = settings();
        for retry in 0..4 {
            for unit in [0.0, 0.3, 0.99] {
                assert!(backoff_delay(&s, retry, unit, true) >= RATE_LIMIT_MIN_DELAY_MS);
            }
        }
    }

    #[test]
    fn retries_transient_errors_until_success() {
        let clock = test_clock();
        let calls = Cell::new(0);
        let out = run(with_retry(&clock, &settings(), None, |_| {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(status_error(503, None))
                } else {
                    Ok(n)
                }
            }
        }));
        assert_eq!(out.unwrap(), 3);
        assert_eq!(clock.sleeps().len(), 2);
    }

    #[test]
    fn terminal_errors_are_not_retried() {
        for status in [400, 401, 403, 404, 412] {
            let clock = test_clock();
            let calls = Cell::new(0);
            let out: Result<()> = run(with_retry(&clock, &settings(), None, |_| {
                calls.set(calls.get() + 1);
                async move { Err(status_error(status, None)) }
            }));
            assert!(out.is_err());
            assert_eq!(calls.get(), 1, "status {status}");
        }
    }

    #[test]
    fn one_budget_bounds_attempts_elapsed_time_and_the_deadline() {
        let clock = test_clock();
        let cfg = settings();
        // Attempts: a compare-and-swap loop of three.
        let mut b = RetryBudget::new(&clock, &cfg, None).with_max_attempts(3);
        assert!(run(b.retry_after(false)));
        assert!(run(b.retry_after(false)));
        assert!(!run(b.retry_after(false)), "third attempt was the last");
        assert_eq!(b.attempts(), 3);
        // The deadline: no wait that would end past it, and no sleep at all then.
        let slept = clock.sleeps().len();
        let mut b = RetryBudget::new(&clock, &cfg, Some(clock.now_ms() + 1));
        assert!(!run(b.retry_after(false)));
        assert_eq!(clock.sleeps().len(), slept, "gave up without sleeping");
        // Elapsed time: once spent, no more retries whatever the attempts left.
        let mut b = RetryBudget::new(&clock, &cfg, None).with_max_attempts(u32::MAX);
        while run(b.retry_after(false)) {}
        let spent = clock.now_ms() - 1_000;
        assert!(spent <= cfg.max_elapsed_ms + cfg.max_delay_ms, "{spent}");
        assert!(b.attempts() < 1_000, "{}", b.attempts());
    }

    #[test]
    fn attempts_are_bounded_and_reported() {
        let clock = test_clock();
        let calls = Cell::new(0);
        let out: Result<()> = run(with_retry(&clock, &settings(), None, |_| {
            calls.set(calls.get() + 1);
            async move { Err(status_error(429, Some("rateLimitExceeded"))) }
        }));
        let err = out.unwrap_err();
        assert_eq!(calls.get(), 5);
        assert!(
            err.message().ends_with("(after 5 attempts)"),
            "{}",
            err.message()
        );
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert!(clock.sleeps().iter().all(|&d| d >= 1000));
    }

    #[test]
    fn elapsed_budget_and_deadline_stop_retries() {
        let clock = test_clock();
        let tight = RetrySettings {
            max_elapsed_ms: 120,
            ..settings()
        };
        let calls = Cell::new(0);
        let _: Result<()> = run(with_retry(&clock, &tight, None, |_| {
            calls.set(calls.get() + 1);
            async move { Err(status_error(500, None)) }
        }));
        assert_eq!(
            calls.get(),
            2,
            "75 ms + 150 ms would pass the 120 ms budget"
        );

        let clock = test_clock();
        let calls = Cell::new(0);
        let deadline = Some(clock.now_ms() + 10);
        let _: Result<()> = run(with_retry(&clock, &settings(), deadline, |_| {
            calls.set(calls.get() + 1);
            async move { Err(status_error(500, None)) }
        }));
        assert_eq!(calls.get(), 1);
    }
}
