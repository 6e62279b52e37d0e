//! Every scenario: stable id, display name, group, what it does, and the TypeScript
//! numbers (measured elsewhere, see `BENCHMARKS.md`) where the scenario has a TypeScript
//! counterpart.

use serde::{Deserialize, Serialize};

/// Concurrency levels of the sweep.
pub const SWEEP: [usize; 5] = [1, 10, 25, 50, 100];
/// Default push concurrency (TypeScript's and ours).
pub const PUSH_DEFAULT: usize = 25;
/// Default pull concurrency.
pub const PULL_DEFAULT: usize = 50;

/// A scale level: label and files per model (1000 models).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    /// `1k`, `10k`, `100k`.
    pub label: &'static str,
    /// Files per model.
    pub files_per_model: usize,
}

/// Models of every scale level.
pub const SCALE_MODELS: usize = 1000;
/// The scale levels.
pub const LEVELS: [Level; 3] = [
    Level {
        label: "1k",
        files_per_model: 1,
    },
    Level {
        label: "10k",
        files_per_model: 10,
    },
    Level {
        label: "100k",
        files_per_model: 100,
    },
];

/// The operations measured at every scale level, in the order they must run (the
/// fast-path ones first: they need the seeded, unchanged remote).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleOp {
    /// No-op push on the in-sync template cache.
    NoopPush,
    /// No-op pull on the in-sync template cache.
    NoopPull,
    /// Modify, mark and push one file.
    PushOne,
    /// Another cache pushed a change to model 1; scoped pull of model 1.
    ScopedPull,
    /// Empty cache, scoped pull of model 2.
    ColdPullModel,
    /// The level's bucket migrated to shard-first (once, untimed); modify, mark and push
    /// one file: reads the meta and that model's shard only.
    V2PushOne,
}

impl ScaleOp {
    /// In run order.
    pub const ALL: [ScaleOp; 6] = [
        ScaleOp::NoopPush,
        ScaleOp::NoopPull,
        ScaleOp::PushOne,
        ScaleOp::ScopedPull,
        ScaleOp::ColdPullModel,
        ScaleOp::V2PushOne,
    ];

    fn slug(self) -> &'static str {
        match self {
            ScaleOp::NoopPush => "noop-push",
            ScaleOp::NoopPull => "noop-pull",
            ScaleOp::PushOne => "push-one",
            ScaleOp::ScopedPull => "scoped-pull",
            ScaleOp::ColdPullModel => "cold-pull-model",
            ScaleOp::V2PushOne => "v2-push-one",
        }
    }

    fn title(self) -> &'static str {
        match self {
            ScaleOp::NoopPush => "no-op push",
            ScaleOp::NoopPull => "no-op pull",
            ScaleOp::PushOne => "push 1 modified",
            ScaleOp::ScopedPull => "scoped pull of 1 model (remote changed)",
            ScaleOp::ColdPullModel => "cold pull of 1 model",
            ScaleOp::V2PushOne => "shard-first push 1 modified",
        }
    }
}

/// The shard-first scenarios (a bucket seeded like v1, then migrated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V2Op {
    /// 10: modify, mark and push one file.
    PushOne,
    /// 11: no-op push (the `commitSeq` fast path).
    NoopPush,
    /// 12: `prepare-push` + `commit-push` with nothing to push.
    TwoPhaseNoop,
    /// 13: modify, mark, `prepare-push` + `commit-push` (corrected: the work is done in
    /// every trial).
    TwoPhaseOne,
    /// 14: cold pull of 1000 files, the index assembled from the shards.
    PullCold,
    /// 15: no-op pull (the `commitSeq` fast path).
    NoopPull,
}

/// What a scenario does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Fresh bucket, seeded cache, push everything.
    PushCold {
        /// Uploads in flight.
        concurrency: usize,
    },
    /// Modify one file, mark it, push.
    PushOne,
    /// Push from a clean cache.
    NoopPush,
    /// Modify 201 files, mark each (the 201st overflows), push with a full walk.
    Push201,
    /// Pull everything into an empty cache.
    PullCold {
        /// Downloads in flight.
        concurrency: usize,
    },
    /// The TypeScript suite's scenario 6 as written: the second cache edits without marking, its
    /// push fast-paths, the timed pull is a fast-path hit.
    PullOneUncorrected,
    /// A second cache pushes a real change first; the timed pull fetches it.
    PullOne,
    /// Pull on a clean cache.
    NoopPull,
    /// The TypeScript suite's scenario 8 as written: a scoped pull answered by the fast path.
    ScopedUncorrected,
    /// The remote changed in model 0 first; the scoped pull reads its partitions.
    Scoped,
    /// Modify file 0 of models 0–9, mark each model directory, push.
    Writeback10,
    /// Shard-first scenarios 10–15 (the v2 block of the TypeScript suite).
    V2(V2Op),
    /// Native multipart uploads of the 1000 seed files.
    NativePush {
        /// Uploads in flight.
        concurrency: usize,
    },
    /// Native downloads of the 1000 seed objects.
    NativePull {
        /// Downloads in flight.
        concurrency: usize,
    },
    /// [`Kind::PullCold`] at the default concurrency, the guest's progress events on and
    /// the `swamp-gcs` display consuming them (rendering every line, printing none), or
    /// both off: what the progress display costs.
    PullColdProgress {
        /// Events on and the display running.
        shown: bool,
    },
    /// A whole `swamp-gcs` process (`startup.rs`).
    Startup {
        /// What it runs.
        command: StartupCommand,
        /// With the artefact of an earlier run present (else an empty code cache).
        warm: bool,
    },
    /// A scale operation.
    Scale {
        /// The level.
        level: Level,
        /// The operation.
        op: ScaleOp,
    },
}

/// What a start-up scenario runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartupCommand {
    /// `swamp-gcs --help`: the process alone, no component.
    Help,
    /// `swamp-gcs caps --json`: the component, no config or network.
    Caps,
    /// `swamp-gcs pull --json` on an in-sync cache: the fast path, one request.
    NoopPull,
}

impl StartupCommand {
    /// As the command line reads.
    pub fn label(self) -> &'static str {
        match self {
            StartupCommand::Help => "swamp-gcs --help",
            StartupCommand::Caps => "swamp-gcs caps",
            StartupCommand::NoopPull => "swamp-gcs pull (no-op)",
        }
    }
}

/// One scenario.
#[derive(Debug, Clone)]
pub struct Def {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `v1`, `native`, `sweep`, `progress`, `startup`, `scale`.
    pub group: &'static str,
    /// What it does.
    pub kind: Kind,
}

impl Def {
    /// Whether a discarded warm-up trial can run first (every trial starts from its own
    /// fresh state, so a warm-up never changes what the measured trials see).
    pub fn allows_warmup(&self) -> bool {
        true
    }

    /// Concurrency and kind for the sweep table, plus scale parameters.
    pub fn params(&self) -> Vec<(&'static str, serde_json::Value)> {
        use serde_json::json;
        match self.kind {
            Kind::PushCold { concurrency } => vec![
                ("concurrency", json!(concurrency)),
                ("kind", json!("component-push")),
            ],
            Kind::PullCold { concurrency } => vec![
                ("concurrency", json!(concurrency)),
                ("kind", json!("component-pull")),
            ],
            Kind::NativePush { concurrency } => vec![
                ("concurrency", json!(concurrency)),
                ("kind", json!("native-push")),
            ],
            Kind::NativePull { concurrency } => vec![
                ("concurrency", json!(concurrency)),
                ("kind", json!("native-pull")),
            ],
            Kind::Startup { command, warm } => vec![
                ("command", json!(command.label())),
                ("artefact", json!(warm)),
            ],
            Kind::Scale { level, .. } => vec![
                ("entries", json!(level.files_per_model * SCALE_MODELS)),
                ("files_per_model", json!(level.files_per_model)),
                ("models", json!(SCALE_MODELS)),
                ("level", json!(level.label)),
            ],
            _ => Vec::new(),
        }
    }
}

fn def(id: impl Into<String>, name: impl Into<String>, group: &'static str, kind: Kind) -> Def {
    Def {
        id: id.into(),
        name: name.into(),
        group,
        kind,
    }
}

/// Every scenario in run order. `smoke` drops the 100k level and the middle sweep
/// levels.
pub fn all(smoke: bool) -> Vec<Def> {
    let mut v = vec![
        def(
            "v1-01-push-cold",
            "Push 1000 files (cold)",
            "v1",
            Kind::PushCold {
                concurrency: PUSH_DEFAULT,
            },
        ),
        def(
            "v1-02-push-one",
            "Push 1 modified / 1000",
            "v1",
            Kind::PushOne,
        ),
        def(
            "v1-03-noop-push",
            "No-op push (fast path)",
            "v1",
            Kind::NoopPush,
        ),
        def(
            "v1-04-push-201",
            "Push >200 dirty paths (full walk)",
            "v1",
            Kind::Push201,
        ),
        def(
            "v1-05-pull-cold",
            "Pull 1000 files (cold)",
            "v1",
            Kind::PullCold {
                concurrency: PULL_DEFAULT,
            },
        ),
        def(
            "v1-06u-pull-one-uncorrected",
            "Pull 1 changed / 1000 (uncorrected)",
            "v1",
            Kind::PullOneUncorrected,
        ),
        def(
            "v1-06-pull-one",
            "Pull 1 changed / 1000 (corrected)",
            "v1",
            Kind::PullOne,
        ),
        def(
            "v1-07-noop-pull",
            "No-op pull (fast path)",
            "v1",
            Kind::NoopPull,
        ),
        def(
            "v1-08u-scoped-uncorrected",
            "Scoped pull 1/50 models (uncorrected)",
            "v1",
            Kind::ScopedUncorrected,
        ),
        def(
            "v1-08-scoped",
            "Scoped pull 1/50 models (corrected)",
            "v1",
            Kind::Scoped,
        ),
        def(
            "v1-09-writeback-10",
            "Writeback partitioned (10 models dirty)",
            "v1",
            Kind::Writeback10,
        ),
        def(
            "v2-10-push-one",
            "v2: Push 1 modified / 1000",
            "v2",
            Kind::V2(V2Op::PushOne),
        ),
        def(
            "v2-11-noop-push",
            "v2: No-op push",
            "v2",
            Kind::V2(V2Op::NoopPush),
        ),
        def(
            "v2-12-two-phase-noop",
            "v2: Two-phase no-op",
            "v2",
            Kind::V2(V2Op::TwoPhaseNoop),
        ),
        def(
            "v2-13-two-phase-one",
            "v2: Two-phase push 1 modified (corrected)",
            "v2",
            Kind::V2(V2Op::TwoPhaseOne),
        ),
        def(
            "v2-14-pull-cold",
            "v2: Pull 1000 files (cold, shard assembly)",
            "v2",
            Kind::V2(V2Op::PullCold),
        ),
        def(
            "v2-15-noop-pull",
            "v2: No-op pull",
            "v2",
            Kind::V2(V2Op::NoopPull),
        ),
        def(
            "native-push",
            "Native push 1000 files (25 in flight)",
            "native",
            Kind::NativePush {
                concurrency: PUSH_DEFAULT,
            },
        ),
        def(
            "native-pull",
            "Native pull 1000 files (50 in flight)",
            "native",
            Kind::NativePull {
                concurrency: PULL_DEFAULT,
            },
        ),
    ];
    for (shown, id, name) in [
        (
            false,
            "progress-pull-cold-off",
            "Pull 1000 files (cold), no progress",
        ),
        (
            true,
            "progress-pull-cold-on",
            "Pull 1000 files (cold), progress shown",
        ),
    ] {
        v.push(def(id, name, "progress", Kind::PullColdProgress { shown }));
    }
    v.push(def(
        "startup-help",
        "swamp-gcs --help (process floor)",
        "startup",
        Kind::Startup {
            command: StartupCommand::Help,
            warm: false,
        },
    ));
    for command in [StartupCommand::Caps, StartupCommand::NoopPull] {
        let slug = match command {
            StartupCommand::Caps => "caps",
            _ => "noop-pull",
        };
        for (warm, when, how) in [(false, "cold", "no artefact"), (true, "warm", "artefact")] {
            v.push(def(
                format!("startup-{slug}-{when}"),
                format!("{} ({how})", command.label()),
                "startup",
                Kind::Startup { command, warm },
            ));
        }
    }
    let levels: Vec<usize> = if smoke { vec![1, 100] } else { SWEEP.to_vec() };
    for c in levels {
        if c != PUSH_DEFAULT {
            v.push(def(
                format!("sweep-push-c{c}"),
                format!("Push 1000 cold, {c} in flight"),
                "sweep",
                Kind::PushCold { concurrency: c },
            ));
            v.push(def(
                format!("sweep-native-push-c{c}"),
                format!("Native push 1000, {c} in flight"),
                "sweep",
                Kind::NativePush { concurrency: c },
            ));
        }
        if c != PULL_DEFAULT {
            v.push(def(
                format!("sweep-pull-c{c}"),
                format!("Pull 1000 cold, {c} in flight"),
                "sweep",
                Kind::PullCold { concurrency: c },
            ));
            v.push(def(
                format!("sweep-native-pull-c{c}"),
                format!("Native pull 1000, {c} in flight"),
                "sweep",
                Kind::NativePull { concurrency: c },
            ));
        }
    }
    for level in LEVELS {
        if smoke && level.files_per_model > 10 {
            continue;
        }
        for op in ScaleOp::ALL {
            v.push(def(
                format!("scale-{}-{}", level.label, op.slug()),
                format!("Scale {}: {}", level.label, op.title()),
                "scale",
                Kind::Scale { level, op },
            ));
        }
    }
    v
}

/// The scenario with this id.
pub fn find(id: &str) -> Option<Def> {
    all(false).into_iter().find(|d| d.id == id)
}

/// Whether `filter` selects `d`: its id, its name, its group, or an id prefix.
pub fn selects(filter: &str, d: &Def) -> bool {
    let f = filter.to_ascii_lowercase();
    d.id == f || d.name.eq_ignore_ascii_case(filter) || d.group == f || d.id.starts_with(&f)
}

/// The native scenario that moves the same bytes as `id`.
pub fn native_twin(id: &str) -> Option<String> {
    let d = find(id)?;
    Some(match d.kind {
        Kind::PushCold { concurrency } if concurrency == PUSH_DEFAULT => "native-push".into(),
        Kind::PushCold { concurrency } => format!("sweep-native-push-c{concurrency}"),
        Kind::PullCold { concurrency } if concurrency == PULL_DEFAULT => "native-pull".into(),
        Kind::PullCold { concurrency } => format!("sweep-native-pull-c{concurrency}"),
        _ => return None,
    })
}

/// A TypeScript figure, measured elsewhere (see the introduction of `BENCHMARKS.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ts {
    /// Run A average, ms.
    pub run_a_ms: f64,
    /// Run B average, ms.
    pub run_b_ms: f64,
    /// Requests per trial.
    pub requests: String,
    /// The TypeScript figure is the `pushChanged.writeback` phase, not the wall time.
    pub phase_only: bool,
    /// What the comparison means.
    pub note: String,
}

impl Ts {
    /// Mean of the two runs' averages.
    pub fn mean_ms(&self) -> f64 {
        (self.run_a_ms + self.run_b_ms) / 2.0
    }
}

/// The TypeScript baseline for a scenario id.
pub fn ts_baseline(id: &str) -> Option<Ts> {
    let t = |a: f64, b: f64, req: &str, note: &str| Ts {
        run_a_ms: a,
        run_b_ms: b,
        requests: req.into(),
        phase_only: false,
        note: note.into(),
    };
    Some(match id {
        "v1-01-push-cold" => t(
            2539.0,
            3008.0,
            "1052 PUT, 3 GET, 1 list",
            "TS trials shared one bucket (0.9–5.1 s); ours use a fresh bucket each",
        ),
        "v1-02-push-one" => t(59.0, 75.0, "4 PUT, 3 GET", ""),
        "v1-03-noop-push" => t(1.0, 1.0, "1 metadata GET", "1 ms clock resolution in TS"),
        "v1-04-push-201" => t(475.0, 532.0, "244 PUT, 3 GET", ""),
        "v1-05-pull-cold" => t(559.0, 675.0, "1002 GET", ""),
        "v1-06u-pull-one-uncorrected" => t(2.0, 2.0, "1 metadata GET", "measures a fast-path hit"),
        "v1-07-noop-pull" => t(1.0, 1.0, "1 metadata GET", ""),
        "v1-08u-scoped-uncorrected" => t(1.0, 1.0, "1 metadata GET", "measures a fast-path hit"),
        "v2-10-push-one" => t(68.0, 78.0, "51 GET, 3 PUT", ""),
        "v2-11-noop-push" => t(1.0, 1.0, "1 GET", ""),
        "v2-12-two-phase-noop" => t(1.0, 1.0, "2 GET", ""),
        "v2-13-two-phase-one" => t(
            13.0,
            24.0,
            "56 in the first trial, 2 after",
            "TS does the work only in trial 1 (its commit leaves the edit unpushed after)",
        ),
        "v2-14-pull-cold" => t(660.0, 638.0, "1051 GET", ""),
        "v2-15-noop-pull" => t(1.0, 1.0, "1 GET", ""),
        "v1-09-writeback-10" => Ts {
            phase_only: true,
            ..t(
                129.0,
                155.0,
                "22 PUT, 3 GET",
                "TS reports only the pushChanged.writeback phase",
            )
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_findable() {
        let all = all(false);
        let mut ids: Vec<&str> = all.iter().map(|d| d.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), all.len());
        for d in &all {
            assert_eq!(find(&d.id).unwrap().id, d.id);
        }
        assert_eq!(
            native_twin("v1-01-push-cold").as_deref(),
            Some("native-push")
        );
        assert_eq!(
            native_twin("sweep-pull-c1").as_deref(),
            Some("sweep-native-pull-c1")
        );
        assert!(find(&native_twin("sweep-push-c100").unwrap()).is_some());
        assert!(all.iter().filter(|d| d.group == "v1").count() == 11);
    }

    #[test]
    fn filters() {
        let d = find("v1-03-noop-push").unwrap();
        assert!(selects("v1", &d));
        assert!(selects("No-op push (fast path)", &d));
        assert!(selects("v1-03", &d));
        assert!(!selects("scale", &d));
    }
}
