//! Results: one [`TrialSample`] per timed call, a [`ScenarioResult`] per scenario (what a
//! child prints as one JSON line), the [`RunReport`] the `--json` file holds, and the
//! plain-text tables. Field names are stable so runs can be compared.

use super::catalog::{self, Ts};
use super::measure::{round2, Machine, Stats};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Schema tag of the JSON file.
pub const SCHEMA: &str = "swamp-gcs-bench/1";

/// One guest phase of one call.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Phase {
    /// Trace name, e.g. `pushChanged.walk`.
    pub name: String,
    /// Milliseconds (the guest's clock, whole ms).
    pub millis: f64,
    /// Trace detail.
    pub detail: String,
}

/// One timed call.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrialSample {
    /// Wall time of the call, ms.
    pub wall_ms: f64,
    /// CPU time of the bench process (host + guest) during the call, ms.
    pub client_cpu_ms: f64,
    /// CPU time of the emulator during the call, ms (10 ms ticks).
    pub emulator_cpu_ms: Option<f64>,
    /// Requests by kind.
    pub requests: BTreeMap<String, u64>,
    /// Requests in all.
    pub requests_total: u64,
    /// Request body bytes.
    pub bytes_sent: u64,
    /// Response body bytes.
    pub bytes_received: u64,
    /// Bytes of index objects (monolith, partitions, meta) moved.
    pub index_bytes: u64,
    /// Files moved (the report's `files`).
    pub files: u64,
    /// Remote deletions / dangling entries.
    pub deleted: u64,
    /// File content bytes moved.
    pub content_bytes: u64,
    /// Answered by the one-request fast path.
    pub fast_path: bool,
    /// The guest's phases.
    pub phases: Vec<Phase>,
    /// Resident set when the call started (after setup, heap trimmed), KiB.
    pub rss_before_kib: u64,
    /// Peak resident set during the call, KiB.
    pub rss_peak_kib: u64,
}

impl TrialSample {
    /// The trace detail of phase `name` (empty when the call had no such phase).
    pub fn phase_detail(&self, name: &str) -> String {
        self.phases
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.detail.clone())
            .unwrap_or_default()
    }
}

/// Min/median/max of one phase over the trials.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PhaseStats {
    /// Phase name.
    pub name: String,
    /// Milliseconds.
    pub ms: Stats,
    /// Detail of the last trial.
    pub detail: String,
}

/// Memory of one scenario.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Memory {
    /// Resident set after the component was loaded, before any work, KiB.
    pub loaded_kib: u64,
    /// Highest resident set during the timed calls, KiB (high-water mark reset before
    /// each call).
    pub peak_kib: u64,
    /// Highest resident set at the start of a timed call, KiB.
    pub before_kib: u64,
    /// Whether the high-water mark could be reset (else `peak_kib` includes setup).
    pub reset_works: bool,
    /// Peak of the whole child process including setup (`wait4`), KiB.
    pub process_peak_kib: u64,
}

/// One scenario's result.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// Stable id, e.g. `v1-02-push-one`.
    pub id: String,
    /// Display name (the TypeScript suite's for the v1 scenarios).
    pub name: String,
    /// Group: `v1`, `native`, `sweep`, `scale`.
    pub group: String,
    /// Measured trials.
    pub trials: usize,
    /// Warm-up trials run first and discarded.
    pub warmup: usize,
    /// Wall time of the timed call, ms.
    pub wall_ms: Stats,
    /// CPU of the bench process during the call, ms.
    pub client_cpu_ms: Stats,
    /// CPU of the emulator during the call, ms.
    pub emulator_cpu_ms: Stats,
    /// Requests by kind of the first measured trial.
    pub requests: BTreeMap<String, u64>,
    /// Requests in all of the first measured trial.
    pub requests_total: u64,
    /// Whether every measured trial sent the same requests.
    pub requests_same_every_trial: bool,
    /// Bytes sent + received, median trial.
    pub bytes_moved: u64,
    /// Index bytes moved, median over trials.
    pub index_bytes: u64,
    /// Files moved in the first measured trial.
    pub files: u64,
    /// Phases over the trials.
    pub phases: Vec<PhaseStats>,
    /// Memory.
    pub memory: Memory,
    /// The correctness checks each trial passed.
    pub checks: Vec<String>,
    /// Parameters (concurrency, entries, ...).
    pub params: BTreeMap<String, serde_json::Value>,
    /// Every measured trial.
    pub samples: Vec<TrialSample>,
    /// The TypeScript baseline, when there is one.
    pub ts: Option<Ts>,
    /// Median wall / TypeScript average (mean of runs A and B).
    pub ratio_vs_ts: Option<f64>,
    /// Median wall / the native client's median for the same transfer.
    pub ratio_vs_native: Option<f64>,
    /// Error, when the scenario failed.
    pub error: Option<String>,
}

impl ScenarioResult {
    /// Summarise the measured samples.
    pub fn summarise(&mut self) {
        let s = &self.samples;
        let col = |f: &dyn Fn(&TrialSample) -> f64| Stats::of(&s.iter().map(f).collect::<Vec<_>>());
        self.wall_ms = col(&|t| t.wall_ms);
        self.client_cpu_ms = col(&|t| t.client_cpu_ms);
        self.emulator_cpu_ms = col(&|t| t.emulator_cpu_ms.unwrap_or(0.0));
        if let Some(first) = s.first() {
            self.requests = first.requests.clone();
            self.requests_total = first.requests_total;
            self.files = first.files;
            self.requests_same_every_trial = s.iter().all(|t| t.requests == first.requests);
        }
        self.bytes_moved = col(&|t| (t.bytes_sent + t.bytes_received) as f64).median as u64;
        self.index_bytes = col(&|t| t.index_bytes as f64).median as u64;
        self.memory.peak_kib = s.iter().map(|t| t.rss_peak_kib).max().unwrap_or(0);
        self.memory.before_kib = s.iter().map(|t| t.rss_before_kib).max().unwrap_or(0);
        let mut names: Vec<String> = Vec::new();
        for t in s {
            for p in &t.phases {
                if !names.contains(&p.name) {
                    names.push(p.name.clone());
                }
            }
        }
        self.phases = names
            .into_iter()
            .map(|name| {
                let ms: Vec<f64> = s
                    .iter()
                    .map(|t| {
                        t.phases
                            .iter()
                            .filter(|p| p.name == name)
                            .map(|p| p.millis)
                            .sum()
                    })
                    .collect();
                let detail = s
                    .iter()
                    .rev()
                    .find_map(|t| t.phases.iter().find(|p| p.name == name))
                    .map(|p| p.detail.clone())
                    .unwrap_or_default();
                PhaseStats {
                    name,
                    ms: Stats::of(&ms),
                    detail,
                }
            })
            .collect();
    }

    /// Median of one phase, if it ran.
    pub fn phase_median(&self, name: &str) -> Option<f64> {
        self.phases
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.ms.median)
    }
}

/// The whole run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunReport {
    /// [`SCHEMA`].
    pub schema: String,
    /// Start, ISO.
    pub started_at: String,
    /// Whole run, seconds.
    pub total_seconds: f64,
    /// The command line.
    pub command: String,
    /// Smoke mode.
    pub smoke: bool,
    /// Trials per scenario.
    pub trials: usize,
    /// Machine.
    pub machine: Machine,
    /// Emulator version and flags.
    pub emulator: String,
    /// Where caches lived.
    pub work_dir: String,
    /// Its filesystem type.
    pub work_fs: String,
    /// Scale seeds: entries, seconds, sizes.
    pub seeds: Vec<serde_json::Value>,
    /// Results in run order.
    pub scenarios: Vec<ScenarioResult>,
    /// Failed scenarios (ids).
    pub failures: Vec<String>,
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn bytes(b: u64) -> String {
    if b >= 1 << 20 {
        format!("{:.2} MiB", b as f64 / (1 << 20) as f64)
    } else if b >= 1 << 10 {
        format!("{:.1} KiB", b as f64 / 1024.0)
    } else {
        format!("{b} B")
    }
}

/// `3 download, 1 metadata` style.
pub fn requests_text(r: &BTreeMap<String, u64>) -> String {
    if r.is_empty() {
        return "none".into();
    }
    r.iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Fill in the TypeScript baselines and the native ratios.
pub fn add_comparisons(results: &mut [ScenarioResult]) {
    let native: BTreeMap<String, f64> = results
        .iter()
        .filter(|r| r.group == "native" || r.id.starts_with("sweep-native"))
        .filter(|r| r.error.is_none())
        .map(|r| (r.id.clone(), r.wall_ms.median))
        .collect();
    for r in results.iter_mut() {
        if r.error.is_some() {
            continue;
        }
        r.ts = catalog::ts_baseline(&r.id);
        if let Some(ts) = &r.ts {
            let ours = if ts.phase_only {
                r.phase_median("pushChanged.writeback")
                    .unwrap_or(r.wall_ms.median)
            } else {
                r.wall_ms.median
            };
            r.ratio_vs_ts = Some(round2(ours / ts.mean_ms().max(0.001)));
        }
        if let Some(native_id) = catalog::native_twin(&r.id) {
            if let Some(n) = native.get(&native_id) {
                r.ratio_vs_native = Some(round2(r.wall_ms.median / n.max(0.001)));
            }
        }
    }
}

fn level_of(r: &ScenarioResult) -> &str {
    r.params.get("level").and_then(|v| v.as_str()).unwrap_or("")
}

/// The human-readable tables.
pub fn tables(run: &RunReport) -> String {
    let mut out = String::new();
    let by_group = |g: &'static str| run.scenarios.iter().filter(move |r| r.group == g);

    let _ = writeln!(
        out,
        "\n## v1 scenarios (ms; median of {} trials, min–max)\n",
        run.trials
    );
    let _ = writeln!(out, "| scenario | ours median (min–max) | TS run A / run B avg | ratio | ours requests | TS requests | peak RSS MiB |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for r in by_group("v1") {
        let (ts, ratio, ts_req) = match &r.ts {
            Some(t) => (
                format!(
                    "{} / {}{}",
                    ms(t.run_a_ms),
                    ms(t.run_b_ms),
                    if t.phase_only {
                        " (writeback phase)"
                    } else {
                        ""
                    }
                ),
                r.ratio_vs_ts.map_or("-".into(), |v| format!("{v:.2}")),
                t.requests.to_string(),
            ),
            None => (
                "n/a (TS measured a fast-path hit)".into(),
                "-".into(),
                "-".into(),
            ),
        };
        let ours = if r.ts.as_ref().is_some_and(|t| t.phase_only) {
            let p = r.phases.iter().find(|p| p.name == "pushChanged.writeback");
            match p {
                Some(p) => format!(
                    "{} ({}–{}) writeback; wall {}",
                    ms(p.ms.median),
                    ms(p.ms.min),
                    ms(p.ms.max),
                    ms(r.wall_ms.median)
                ),
                None => format!(
                    "{} ({}–{})",
                    ms(r.wall_ms.median),
                    ms(r.wall_ms.min),
                    ms(r.wall_ms.max)
                ),
            }
        } else {
            format!(
                "{} ({}–{})",
                ms(r.wall_ms.median),
                ms(r.wall_ms.min),
                ms(r.wall_ms.max)
            )
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            if r.error.is_some() {
                "FAILED".into()
            } else {
                ours
            },
            ts,
            ratio,
            requests_text(&r.requests),
            ts_req,
            mib(r.memory.peak_kib)
        );
    }

    let _ = writeln!(out, "\n## Cold transfers against the native client\n");
    let _ = writeln!(out, "| scenario | median ms (min–max) | native median ms | ratio | client CPU ms | emulator CPU ms |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for r in run.scenarios.iter().filter(|r| r.ratio_vs_native.is_some()) {
        let native = catalog::native_twin(&r.id)
            .and_then(|id| run.scenarios.iter().find(|n| n.id == id))
            .map_or("-".into(), |n| ms(n.wall_ms.median));
        let _ = writeln!(
            out,
            "| {} | {} ({}–{}) | {} | {:.2} | {} | {} |",
            r.name,
            ms(r.wall_ms.median),
            ms(r.wall_ms.min),
            ms(r.wall_ms.max),
            native,
            r.ratio_vs_native.unwrap_or(0.0),
            ms(r.client_cpu_ms.median),
            ms(r.emulator_cpu_ms.median)
        );
    }

    let sweep: Vec<&ScenarioResult> = run
        .scenarios
        .iter()
        .filter(|r| r.params.contains_key("concurrency"))
        .collect();
    if !sweep.is_empty() {
        let _ = writeln!(out, "\n## Concurrency sweep (median ms)\n");
        let _ = writeln!(
            out,
            "| in flight | component push | native push | component pull | native pull |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|");
        for c in catalog::SWEEP {
            let find = |kind: &str| {
                sweep
                    .iter()
                    .find(|r| {
                        r.params.get("concurrency").and_then(|v| v.as_u64()) == Some(c as u64)
                            && r.params.get("kind").and_then(|v| v.as_str()) == Some(kind)
                    })
                    .map_or("-".into(), |r| ms(r.wall_ms.median))
            };
            let _ = writeln!(
                out,
                "| {c} | {} | {} | {} | {} |",
                find("component-push"),
                find("native-push"),
                find("component-pull"),
                find("native-pull")
            );
        }
    }

    let progress: Vec<&ScenarioResult> =
        by_group("progress").filter(|r| r.error.is_none()).collect();
    if let [off, on] = progress[..] {
        let _ = writeln!(
            out,
            "\n## Progress display (cold pull of 1000 files; median ms, min–max)\n"
        );
        let _ = writeln!(out, "| no progress | progress shown | difference |");
        let _ = writeln!(out, "|---|---|---|");
        let _ = writeln!(
            out,
            "| {} ({}–{}) | {} ({}–{}) | {:+.1} % |",
            ms(off.wall_ms.median),
            ms(off.wall_ms.min),
            ms(off.wall_ms.max),
            ms(on.wall_ms.median),
            ms(on.wall_ms.min),
            ms(on.wall_ms.max),
            (on.wall_ms.median / off.wall_ms.median.max(0.001) - 1.0) * 100.0
        );
    }

    startup_table(run, &mut out);

    let scale: Vec<&ScenarioResult> = by_group("scale").collect();
    if !scale.is_empty() {
        let levels: Vec<&str> = catalog::LEVELS
            .iter()
            .map(|l| l.label)
            .filter(|l| scale.iter().any(|r| level_of(r) == *l))
            .collect();
        let _ = writeln!(out, "\n## Scale curve (1000 models; median ms | requests | index bytes moved | peak RSS MiB)\n");
        let _ = writeln!(
            out,
            "| operation | {} |",
            levels
                .iter()
                .map(|l| format!("{l} entries"))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(out, "|---|{}", "---|".repeat(levels.len()));
        let mut ops: Vec<String> = Vec::new();
        for r in &scale {
            let op = r
                .name
                .split_once(": ")
                .map_or(r.name.clone(), |(_, o)| o.to_string());
            if !ops.contains(&op) {
                ops.push(op);
            }
        }
        for op in ops {
            let cells: Vec<String> = levels
                .iter()
                .map(|l| {
                    scale
                        .iter()
                        .find(|r| level_of(r) == *l && r.name.ends_with(&op))
                        .map_or("-".into(), |r| {
                            if r.error.is_some() {
                                "FAILED".into()
                            } else {
                                format!(
                                    "{} ms ({}–{}) · {} · {} · {} MiB",
                                    ms(r.wall_ms.median),
                                    ms(r.wall_ms.min),
                                    ms(r.wall_ms.max),
                                    r.requests_total,
                                    bytes(r.index_bytes),
                                    mib(r.memory.peak_kib)
                                )
                            }
                        })
                })
                .collect();
            let _ = writeln!(out, "| {op} | {} |", cells.join(" | "));
        }
    }

    let _ = writeln!(out, "\n## Phases (median ms)\n");
    for r in run.scenarios.iter().filter(|r| !r.phases.is_empty()) {
        let phases: Vec<String> = r
            .phases
            .iter()
            .map(|p| format!("{} {}", p.name, ms(p.ms.median)))
            .collect();
        let _ = writeln!(out, "- {}: {}", r.id, phases.join(", "));
    }
    if !run.failures.is_empty() {
        let _ = writeln!(out, "\nFAILED: {}", run.failures.join(", "));
        for r in run.scenarios.iter().filter(|r| r.error.is_some()) {
            let _ = writeln!(out, "- {}: {}", r.id, r.error.as_deref().unwrap_or(""));
        }
    }
    out
}

/// The startup group: each command with no artefact (the run compiles) and with one
/// (the run loads it), and the process floor.
fn startup_table(run: &RunReport, out: &mut String) {
    let find = |id: &str| {
        run.scenarios
            .iter()
            .find(|r| r.id == id && r.error.is_none())
    };
    let cell = |r: &ScenarioResult| {
        format!(
            "{} ({}–{})",
            ms(r.wall_ms.median),
            ms(r.wall_ms.min),
            ms(r.wall_ms.max)
        )
    };
    let rows: Vec<(&str, &ScenarioResult, &ScenarioResult)> = [
        ("swamp-gcs caps", "startup-caps-cold", "startup-caps-warm"),
        (
            "swamp-gcs pull (no-op)",
            "startup-noop-pull-cold",
            "startup-noop-pull-warm",
        ),
    ]
    .into_iter()
    .filter_map(|(label, cold, warm)| Some((label, find(cold)?, find(warm)?)))
    .collect();
    let floor = find("startup-help");
    if rows.is_empty() && floor.is_none() {
        return;
    }
    let _ = writeln!(
        out,
        "\n## Start-up (a whole swamp-gcs process, spawn to exit; median ms, min–max)\n"
    );
    let _ = writeln!(
        out,
        "| command | no artefact (compiles) | artefact present | warm / cold | CPU ms cold / warm |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for (label, cold, warm) in rows {
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {:.3} | {} / {} |",
            cell(cold),
            cell(warm),
            warm.wall_ms.median / cold.wall_ms.median.max(0.001),
            ms(cold.client_cpu_ms.median),
            ms(warm.client_cpu_ms.median)
        );
    }
    if let Some(f) = floor {
        let _ = writeln!(
            out,
            "| swamp-gcs --help (no component) | - | {} | - | - / {} |",
            cell(f),
            ms(f.client_cpu_ms.median)
        );
    }
}
