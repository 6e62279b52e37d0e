//! The per-object mutation limit of real GCS (about one create/overwrite/delete/patch per
//! second per object name, `docs/gcs.md#rate-limits`), off by default.
//!
//! Only mutations that succeed are remembered: a request rejected with 412 or 429 changed
//! nothing, so it does not push the next allowed write further out.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::errors::GcsError;

#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    min_interval: Option<Duration>,
    last_mutation: HashMap<(String, String), Instant>,
}

impl RateLimiter {
    pub fn set(&mut self, min_interval: Option<Duration>) {
        self.min_interval = min_interval;
        self.last_mutation.clear();
    }

    /// 429 `rateLimitExceeded` when the object was mutated less than the interval ago.
    pub fn check(&self, bucket: &str, name: &str) -> Result<(), GcsError> {
        let Some(interval) = self.min_interval else {
            return Ok(());
        };
        let key = (bucket.to_owned(), name.to_owned());
        match self.last_mutation.get(&key) {
            Some(last) if last.elapsed() < interval => Err(GcsError::rate_limited(bucket, name)),
            _ => Ok(()),
        }
    }

    pub fn record(&mut self, bucket: &str, name: &str) {
        if self.min_interval.is_some() {
            self.last_mutation
                .insert((bucket.to_owned(), name.to_owned()), Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_name_only_when_enabled() {
        let mut rl = RateLimiter::default();
        rl.record("b", "o");
        assert!(rl.check("b", "o").is_ok());

        rl.set(Some(Duration::from_secs(60)));
        rl.record("b", "o");
        let err = rl.check("b", "o").expect_err("limited");
        assert_eq!(err.status.as_u16(), 429);
        assert!(rl.check("b", "other").is_ok());
        assert!(rl.check("other", "o").is_ok());

        rl.set(Some(Duration::ZERO));
        rl.record("b", "o");
        assert!(rl.check("b", "o").is_ok());
    }
}
