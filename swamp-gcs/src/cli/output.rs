//! Output shared by the commands: request counts, sizes and durations in words, and the
//! JSON shape of a pull or push report.
//!
//! JSON field names are camelCase and stable: scripts may rely on them. Every kind of
//! request appears in `requests.byKind`, with 0 when none was sent.

use gcs_host::datastore::SyncReport;
use gcs_host::traffic::{RequestKind, TrafficSnapshot};
use serde_json::{json, Map, Value};
use std::time::Duration;

/// The difference `after - before` of two traffic snapshots.
pub fn delta(before: &TrafficSnapshot, after: &TrafficSnapshot) -> TrafficSnapshot {
    let by_kind = RequestKind::ALL
        .iter()
        .filter_map(|k| {
            let n = after.count(*k).saturating_sub(before.count(*k));
            (n > 0).then_some((*k, n))
        })
        .collect();
    TrafficSnapshot {
        by_kind,
        total: after.total.saturating_sub(before.total),
        bytes_sent: after.bytes_sent.saturating_sub(before.bytes_sent),
        bytes_received: after.bytes_received.saturating_sub(before.bytes_received),
        denied: after.denied.saturating_sub(before.denied),
    }
}

/// `{"total": n, "byKind": {...every kind...}, "bytesSent", "bytesReceived", "denied"}`.
pub fn requests_json(s: &TrafficSnapshot) -> Value {
    let by_kind: Map<String, Value> = RequestKind::ALL
        .iter()
        .map(|k| (k.name().to_string(), json!(s.count(*k))))
        .collect();
    json!({
        "total": s.total,
        "byKind": by_kind,
        "bytesSent": s.bytes_sent,
        "bytesReceived": s.bytes_received,
        "denied": s.denied,
    })
}

/// "14 requests (1 list, 12 upload, 1 metadata)", or "no requests".
pub fn requests_human(s: &TrafficSnapshot) -> String {
    match s.total {
        0 => "no requests".into(),
        n => format!("{} ({})", plural(n, "request"), s.summary()),
    }
}

/// "1 file", "3 files".
pub fn plural(n: u64, word: &str) -> String {
    count(n, word, &format!("{word}s"))
}

/// "1 entry", "3 entries".
pub fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// "512 B", "4.1 KiB", "2.0 MiB".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// "35 ms", "1.24 s", "2 min 5 s".
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// Milliseconds as an integer for JSON.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Which way a transfer went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Bucket to cache.
    Pull,
    /// Cache to bucket.
    Push,
}

/// What one pull or push did, with the traffic it caused.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// Pull or push.
    pub direction: Direction,
    /// The component's report.
    pub report: SyncReport,
    /// Requests sent during the call.
    pub requests: TrafficSnapshot,
    /// Wall time.
    pub elapsed: Duration,
}

impl Transfer {
    /// `files, deleted, bytes, fastPath, conflicts, requests, elapsedMs, phases`.
    pub fn json(&self) -> Value {
        let phases: Vec<Value> = self
            .report
            .phases
            .iter()
            .map(|p| json!({"name": p.name, "millis": p.millis, "detail": p.detail}))
            .collect();
        json!({
            "files": self.report.files,
            "deleted": self.report.deleted,
            "bytes": self.report.bytes,
            "fastPath": self.report.fast_path,
            "conflicts": self.report.conflicts,
            "requests": requests_json(&self.requests),
            "elapsedMs": millis(self.elapsed),
            "phases": phases,
        })
    }

    /// One line: "pulled 12 files (4.1 KiB) in 85 ms", "pushed 1 file (79 B), 0 deletions
    /// in 31 ms", "already in sync (fast path) in 1 ms".
    pub fn headline(&self) -> String {
        let r = &self.report;
        if r.fast_path {
            return format!("already in sync (fast path) in {}", duration(self.elapsed));
        }
        let (verb, deletions) = match (self.direction, r.deleted) {
            (Direction::Pull, 0) => ("pulled", String::new()),
            (Direction::Pull, n) => ("pulled", format!(", {}", plural(u64::from(n), "removal"))),
            (Direction::Push, n) => ("pushed", format!(", {}", plural(u64::from(n), "deletion"))),
        };
        let conflicts = match r.conflicts.len() {
            0 => String::new(),
            n => format!(", {}", plural(n as u64, "conflict")),
        };
        format!(
            "{verb} {} ({}){deletions}{conflicts} in {}",
            plural(u64::from(r.files), "file"),
            bytes(r.bytes),
            duration(self.elapsed)
        )
    }

    /// One line per conflict: the path and what was done about it.
    pub fn conflict_lines(&self) -> Vec<String> {
        self.report
            .conflicts
            .iter()
            .map(|rel| {
                format!(
                    "conflict {rel}: changed here and in the bucket since the last sync; \
                     the local file and the bucket's version were both left as they are"
                )
            })
            .collect()
    }

    /// The headline and a request line, for humans.
    pub fn print_human(&self) {
        println!("{}", self.headline());
        for line in self.conflict_lines() {
            println!("{line}");
        }
        println!("requests: {}", requests_human(&self.requests));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(4200), "4.1 KiB");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(duration(Duration::from_millis(35)), "35 ms");
        assert_eq!(duration(Duration::from_millis(1240)), "1.24 s");
        assert_eq!(duration(Duration::from_secs(125)), "2 min 5 s");
        assert_eq!(plural(1, "file"), "1 file");
        assert_eq!(plural(0, "file"), "0 files");
    }

    #[test]
    fn conflicts_are_in_the_summary_and_the_json() {
        let t = Transfer {
            direction: Direction::Pull,
            report: SyncReport {
                files: 1,
                deleted: 2,
                bytes: 4,
                fast_path: false,
                phases: Vec::new(),
                conflicts: vec!["data/t/m/d/1/raw".to_string()],
            },
            requests: TrafficSnapshot::default(),
            elapsed: Duration::from_millis(3),
        };
        assert_eq!(
            t.headline(),
            "pulled 1 file (4 B), 2 removals, 1 conflict in 3 ms"
        );
        let lines = t.conflict_lines();
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].starts_with("conflict data/t/m/d/1/raw: "),
            "{lines:?}"
        );
        assert_eq!(t.json()["conflicts"], json!(["data/t/m/d/1/raw"]));
    }

    #[test]
    fn every_kind_is_in_the_json() {
        let v = requests_json(&TrafficSnapshot::default());
        assert_eq!(
            v["byKind"].as_object().unwrap().len(),
            RequestKind::ALL.len()
        );
        assert_eq!(v["total"], 0);
    }
}
