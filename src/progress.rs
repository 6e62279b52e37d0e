//! Progress of a pull or push, reported to the host as marked lines on the guest's stderr.
//!
//! The world imports only standard WASI, so there is no progress callback: the guest
//! writes one line per event to `wasi:cli/stderr`, and a host that wants progress splits
//! its stderr into lines and picks out the marked ones.
//!
//! # Line protocol (version 1)
//!
//! ```text
//! \x1e{"v":1,"phase":"download","done":12,"total":1000,"bytes":4096,"bytesTotal":65536}\n
//! ```
//!
//! - The line starts with the ASCII record separator `\x1e` (never the first byte of
//!   anything else the guest writes) and is one compact JSON object ending in `\n`.
//! - `phase` is what the call is doing: `index` (fetching the remote index), `walk`
//!   (comparing it with the cache), `download` / `upload` (the transfers, with totals),
//!   `writeback` (publishing the index and the sidecar).
//! - `done` / `total` count files of the transfer phase (a push counts its remote
//!   deletions too); `bytes` / `bytesTotal` count their bytes. `total` and `bytesTotal`
//!   are `null` in the phases before the plan is known. `done` may pass `total` (a host
//!   must clamp, not fail), and a later event may carry a larger total.
//! - Hosts ignore fields they do not know and unmarked stderr lines keep their meaning.
//!
//! Nothing is written unless the host set `SWAMP_GCS_PROGRESS=1` in the guest's
//! environment. Events are rate-limited here: one at every phase change and when the plan
//! is known, then at most one per [`MIN_GAP_MS`] of transfer progress, plus one when the
//! last file of the plan is done. A 10,000-file pull therefore writes a few dozen lines.
//!
//! The guest is single-threaded: the state is a thread-local, so the sync engine reports
//! with one-line calls ([`phase`], [`plan`], [`file_done`]) and needs no handle.

use std::cell::RefCell;
use std::io::Write as _;
use std::time::Instant;

/// The environment variable a host sets to `1` to receive progress lines.
pub const ENABLE_VAR: &str = "SWAMP_GCS_PROGRESS";
/// The first byte of every progress line (ASCII record separator).
pub const MARKER: char = '\x1e';
/// Minimum milliseconds between two events of the same phase.
pub const MIN_GAP_MS: u64 = 200;

/// The progress state of the call in flight, and when it last wrote an event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tracker {
    phase: &'static str,
    done: u64,
    total: Option<u64>,
    bytes: u64,
    bytes_total: Option<u64>,
    last_emit_ms: Option<u64>,
}

impl Tracker {
    /// A new phase without totals (counts reset). Always reported.
    pub fn phase(&mut self, name: &'static str, now_ms: u64) -> Option<String> {
        *self = Tracker {
            phase: name,
            ..Tracker::default()
        };
        self.emit(now_ms)
    }

    /// The transfer phase with its totals (counts reset). Always reported.
    pub fn plan(
        &mut self,
        name: &'static str,
        files: u64,
        bytes: u64,
        now_ms: u64,
    ) -> Option<String> {
        *self = Tracker {
            phase: name,
            total: Some(files),
            bytes_total: Some(bytes),
            ..Tracker::default()
        };
        self.emit(now_ms)
    }

    /// One file of the plan finished, `bytes` long. Reported when [`MIN_GAP_MS`] passed
    /// since the last event or this was the plan's last file; ignored outside a plan
    /// (an on-demand hydration).
    pub fn file_done(&mut self, bytes: u64, now_ms: u64) -> Option<String> {
        let total = self.total?;
        self.done += 1;
        self.bytes += bytes;
        let due = self
            .last_emit_ms
            .is_none_or(|t| now_ms.saturating_sub(t) >= MIN_GAP_MS);
        (due || self.done == total).then(|| self.emit(now_ms))?
    }

    fn emit(&mut self, now_ms: u64) -> Option<String> {
        self.last_emit_ms = Some(now_ms);
        Some(self.line())
    }

    /// The event as a protocol line (marker, JSON object, newline).
    pub fn line(&self) -> String {
        let opt = |v: Option<u64>| v.map_or_else(|| "null".to_string(), |n| n.to_string());
        format!(
            "{MARKER}{{\"v\":1,\"phase\":\"{}\",\"done\":{},\"total\":{},\"bytes\":{},\"bytesTotal\":{}}}\n",
            self.phase,
            self.done,
            opt(self.total),
            self.bytes,
            opt(self.bytes_total)
        )
    }
}

struct Reporter {
    enabled: bool,
    origin: Instant,
    tracker: Tracker,
}

thread_local! {
    static REPORTER: RefCell<Reporter> = RefCell::new(Reporter {
        enabled: std::env::var(ENABLE_VAR).is_ok_and(|v| v == "1"),
        origin: Instant::now(),
        tracker: Tracker::default(),
    });
}

fn report(update: impl FnOnce(&mut Tracker, u64) -> Option<String>) {
    REPORTER.with(|r| {
        let mut r = r.borrow_mut();
        if !r.enabled {
            return;
        }
        let now = r.origin.elapsed().as_millis() as u64;
        if let Some(line) = update(&mut r.tracker, now) {
            // Best effort: progress must never fail a transfer.
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    });
}

/// Report a new phase without totals (`index`, `walk`, `writeback`).
pub fn phase(name: &'static str) {
    report(|t, now| t.phase(name, now));
}

/// Report the transfer phase (`download`, `upload`) with its totals: one size per file.
pub fn plan(name: &'static str, sizes: impl Iterator<Item = u64>) {
    report(|t, now| {
        let (files, bytes) = sizes.fold((0, 0), |(n, b), s| (n + 1, b + s));
        t.plan(name, files, bytes, now)
    });
}

/// Report one finished file of the plan.
pub fn file_done(bytes: u64) {
    report(|t, now| t.file_done(bytes, now));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(line: &str) -> serde_json::Value {
        let body = line
            .strip_prefix(MARKER)
            .expect("marker")
            .strip_suffix('\n');
        serde_json::from_str(body.expect("newline")).expect("JSON")
    }

    #[test]
    fn phases_and_plans_are_always_reported_and_lines_are_marked_json() {
        let mut t = Tracker::default();
        let l = t.phase("index", 0).expect("phase");
        assert_eq!(
            json(&l),
            serde_json::json!({"v":1,"phase":"index","done":0,"total":null,"bytes":0,"bytesTotal":null})
        );
        assert!(t.phase("walk", 1).is_some(), "a phase change right after");
        let l = t.plan("download", 3, 30, 2).expect("plan");
        assert_eq!(json(&l)["total"], 3);
        assert_eq!(json(&l)["bytesTotal"], 30);
        assert_eq!(l.matches('\n').count(), 1);
    }

    #[test]
    fn file_events_are_rate_limited_but_the_last_file_is_reported() {
        let mut t = Tracker::default();
        t.plan("upload", 100, 1000, 0);
        let mut lines = Vec::new();
        for i in 0..100u64 {
            // 100 files over 990 ms: without the limit, 100 lines.
            if let Some(l) = t.file_done(10, i * 10) {
                lines.push(json(&l));
            }
        }
        assert!(lines.len() <= 6, "{} lines", lines.len());
        let last = lines.last().expect("the last file");
        assert_eq!(
            (last["done"].as_u64(), last["bytes"].as_u64()),
            (Some(100), Some(1000))
        );
    }

    #[test]
    fn files_outside_a_plan_report_nothing() {
        let mut t = Tracker::default();
        assert_eq!(t.file_done(5, 1000), None);
        t.phase("walk", 0);
        assert_eq!(t.file_done(5, 1000), None, "hydration during no plan");
    }

    #[test]
    fn a_plan_of_zero_files_and_counts_past_the_total() {
        let mut t = Tracker::default();
        let l = t.plan("download", 0, 0, 0).expect("plan");
        assert_eq!(json(&l)["total"], 0);
        let mut t = Tracker::default();
        t.plan("download", 1, 5, 0);
        assert!(t.file_done(5, 1).is_some(), "the last file");
        let extra = t.file_done(5, 500).expect("due by time");
        assert_eq!(json(&extra)["done"], 2, "past the total, not clamped here");
    }

    #[test]
    fn disabled_without_the_variable() {
        // The test process does not set SWAMP_GCS_PROGRESS: nothing may be written.
        assert!(std::env::var(ENABLE_VAR).is_err());
        phase("index");
        plan("download", [1].into_iter());
        file_done(1);
        REPORTER.with(|r| assert_eq!(r.borrow().tracker, Tracker::default()));
    }
}
