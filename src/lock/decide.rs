//! Pure decisions of the lock: staleness, how long to wait between attempts, heartbeat
//! cadence, nonces and the timeout message. No I/O, so each rule is a table test.

/// Shortest wait after stealing a stale lock before trying to create it.
///
/// The TypeScript client waits a random 200..=499 ms here. GCS allows about one mutation
/// per second per object name (docs/gcs.md#rate-limits), and a steal has just spent one
/// (the delete) with the create following: at 200 ms, and with several contenders stealing
/// at once, the create is likely to meet a 429. We wait 1000..=1499 ms instead
/// (docs/lock.md#stealing-a-stale-lock). The price is up to about a second of extra latency
/// on a path that only runs after a holder has been silent for a whole TTL (30 s by
/// default), and that a TS contender stealing at the same moment will usually win the race
/// for the freed name; both are harmless, a lock needs one winner.
pub const STEAL_BACKOFF_MIN_MS: u64 = 1000;

/// Width of the random part of the post-steal wait (`0..STEAL_BACKOFF_JITTER_MS` is
/// added), so contenders that stole together do not come back in lockstep.
pub const STEAL_BACKOFF_JITTER_MS: u64 = 500;

/// Whether a lock last written at `updated_unix_ms` (the object's server-side `updated`
/// time) has outlived its holder's TTL at local wall-clock time `now_unix_ms`.
///
/// Stale iff `now - updated > ttl` (strictly: a lock exactly `ttl` old is still live).
/// This compares the server's clock with ours, as the TS client does: a local clock that
/// runs ahead of GCS by more than the TTL would steal live locks, and one that runs behind
/// delays steals. An unknown `updated` is never stale, since we cannot prove the holder
/// gone.
pub fn is_stale(updated_unix_ms: Option<i64>, holder_ttl_ms: u64, now_unix_ms: i64) -> bool {
    match updated_unix_ms {
        // i128 so that no pair of i64 values and no u64 TTL can overflow.
        Some(updated) => i128::from(now_unix_ms) - i128::from(updated) > i128::from(holder_ttl_ms),
        None => false,
    }
}

/// What the last contended attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contended {
    /// Someone holds the lock (or we could not tell): wait the retry interval.
    Held,
    /// We deleted (or tried to delete) a stale lock: back off, then race for the name.
    Stole,
}

/// How long to wait before the next acquire attempt. `random` is any random value (the
/// jitter of a post-steal wait). Never 0: a zero retry interval would otherwise spin
/// without letting time pass on a fake or coarse clock.
pub fn next_wait_ms(after: Contended, retry_interval_ms: u64, random: u64) -> u64 {
    let wait = match after {
        // Fixed, as in the TS client: contenders are already spread by their start times
        // and a lock is usually held for much longer than one interval.
        Contended::Held => retry_interval_ms,
        Contended::Stole => STEAL_BACKOFF_MIN_MS + random % STEAL_BACKOFF_JITTER_MS,
    };
    wait.max(1)
}

/// `wait` shortened so that it ends no later than the acquire deadline: the timeout is then
/// reported on time instead of up to one wait late.
pub fn cap_wait_ms(wait: u64, elapsed_ms: u64, max_wait_ms: u64) -> u64 {
    wait.min(max_wait_ms.saturating_sub(elapsed_ms)).max(1)
}

#[cfg(test)]
/// Heartbeat period for a lock with `ttl_ms`: a third of the TTL, so two heartbeats can
/// fail before the lock goes stale. At least 1 ms so a zero TTL cannot make the host spin.
///
/// A TTL under 3 s makes heartbeats more frequent than GCS's one write per second per
/// object; those extends will then meet 429s (retried by the client).
pub fn heartbeat_interval_ms(ttl_ms: u64) -> u64 {
    (ttl_ms / 3).max(1)
}

/// The lock-timeout message, identical to the TS client's `LockTimeoutError` (and so to
/// swamp core's): `holder` is the current holder and pid when they could be read.
pub fn timeout_message(key: &str, holder: Option<(&str, u32)>, waited_ms: u64) -> String {
    match holder {
        Some((who, pid)) => {
            format!("Lock \"{key}\" held by {who} (pid {pid}) — timed out after {waited_ms}ms")
        }
        None => format!("Lock \"{key}\" — timed out after {waited_ms}ms"),
    }
}

/// A random (version 4) UUID from 128 random bits, lowercase 8-4-4-4-12 like
/// `crypto.randomUUID()`: the version nibble is set to 4 and the variant bits to `10`.
pub fn uuid_v4(high: u64, low: u64) -> String {
    let high = (high & !0xf000) | 0x4000;
    let low = (low & !(0b11 << 62)) | (0b10 << 62);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xffff,
        low >> 48,
        low & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staleness_table() {
        let now = 1_785_578_400_000;
        let table: &[(Option<i64>, u64, i64, bool)] = &[
            (Some(now - 30_001), 30_000, now, true),
            (Some(now - 30_000), 30_000, now, false),
            (Some(now - 120_000), 30_000, now, true),
            (Some(now), 30_000, now, false),
            // Server clock ahead of ours: never stale.
            (Some(now + 60_000), 30_000, now, false),
            (Some(now - 1), 0, now, true),
            (None, 0, now, false),
            (Some(i64::MIN), u64::MAX, i64::MAX, false),
            (Some(i64::MIN), u64::MAX - 1, i64::MAX, true),
            (Some(i64::MAX), 0, i64::MIN, false),
        ];
        for &(updated, ttl, at, want) in table {
            assert_eq!(is_stale(updated, ttl, at), want, "{updated:?} {ttl} {at}");
        }
    }

    #[test]
    fn waits_table() {
        let table: &[(Contended, u64, u64, u64)] = &[
            (Contended::Held, 1000, 7, 1000),
            (Contended::Held, 250, u64::MAX, 250),
            (Contended::Held, 0, 0, 1),
            (Contended::Stole, 1000, 0, 1000),
            (Contended::Stole, 1000, 499, 1499),
            (Contended::Stole, 1000, 500, 1000),
            (Contended::Stole, 50, u64::MAX, 1000 + u64::MAX % 500),
        ];
        for &(after, retry, random, want) in table {
            assert_eq!(
                next_wait_ms(after, retry, random),
                want,
                "{after:?} {retry} {random}"
            );
        }
        for random in [0, 1, 123_456_789, u64::MAX] {
            let w = next_wait_ms(Contended::Stole, 0, random);
            assert!((1000..1500).contains(&w), "{w}");
        }
    }

    #[test]
    fn capped_waits_end_at_the_deadline() {
        let table = [
            (1000, 0, 60_000, 1000),
            (1000, 59_500, 60_000, 500),
            (1000, 60_000, 60_000, 1),
            (1000, 70_000, 60_000, 1),
        ];
        for (wait, elapsed, max, want) in table {
            assert_eq!(cap_wait_ms(wait, elapsed, max), want);
        }
    }

    #[test]
    fn heartbeat_table() {
        for (ttl, want) in [
            (30_000, 10_000),
            (10, 3),
            (2, 1),
            (0, 1),
            (u64::MAX, u64::MAX / 3),
        ] {
            assert_eq!(heartbeat_interval_ms(ttl), want, "{ttl}");
        }
    }

    #[test]
    fn timeout_messages() {
        assert_eq!(
            timeout_message(".datastore.lock", Some(("alice@build-7", 12345)), 60000),
            "Lock \".datastore.lock\" held by alice@build-7 (pid 12345) — timed out after 60000ms"
        );
        assert_eq!(
            timeout_message(".locks/ns.lock", None, 5),
            "Lock \".locks/ns.lock\" — timed out after 5ms"
        );
    }

    #[test]
    fn uuids_are_version_4() {
        let table = [
            (0, 0, "00000000-0000-4000-8000-000000000000"),
            (u64::MAX, u64::MAX, "ffffffff-ffff-4fff-bfff-ffffffffffff"),
            (
                0x0123_4567_89ab_cdef,
                0xfedc_ba98_7654_3210,
                "01234567-89ab-4def-bedc-ba9876543210",
            ),
        ];
        for (high, low, want) in table {
            let got = uuid_v4(high, low);
            assert_eq!(got, want);
            assert_eq!(got.len(), 36);
        }
    }
}
