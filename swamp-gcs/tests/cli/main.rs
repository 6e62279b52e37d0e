//! Tests of the built `swamp-gcs` binary (issue 7): every test runs the real executable
//! with `std::process::Command`, against fake-gcs-server 1.54.0 started here. They live in
//! the `swamp-gcs` package because Cargo builds a package's binaries, fresh, before its
//! integration tests and names them in `CARGO_BIN_EXE_<name>`; run them with `cargo test
//! --release -p swamp-gcs --test cli`.
//!
//! - `usage`: clap errors, missing `--cache`, bad `--model` (exit 2); help text.
//! - `config`: bad JSON/YAML, wrong datastore type, invalid field (exit 2, naming it);
//!   precedence flag > SWAMP_DATASTORE > .swamp.yaml; unreachable endpoint and missing
//!   bucket (exit 1 with a hint).
//! - `commands`: caps, verify, push, pull (full, scoped, metadata-only), mark-dirty, status,
//!   sync (global and per-model locks); `--json` parsed; global options before or after.
//! - `errors`: every error path under `RUST_BACKTRACE=1` and `full` is at most two lines
//!   (error, hint), the hint chosen by the kind of failure.
//! - `control`: the control-plane commands: values from files and pipes, bytes on stdout,
//!   namespaces, put-if-absent's exit code 3, bad keys and files (exit 2 with a hint).
//! - `locks`: inspect, acquire/hold/release, release and force-release by nonce, a held
//!   lock making `sync` time out, a released holder noticing the loss.
//! - `namespaces`: `namespace register/list` (a taken slug refused naming its owner),
//!   `--namespace` and `.swamp.yaml`'s `datastore.namespace` on pull, push, status and sync
//!   (swamp's namespaced locks), `catalog export/pull/fetch`.
//! - `demo`: runs to success, leaves no process, port or temp dir behind.
//! - `progress`: no progress bytes when stderr is piped; a bar on a terminal; `--progress`
//!   always (plain lines, JSON lines) and never.
//! - `startup`: the precompiled component kept between runs: loaded by a second run,
//!   replaced when damaged or keyed for another component, safe under concurrent first runs.

mod commands;
mod config;
mod control;
mod demo;
mod errors;
mod locks;
mod namespaces;
mod progress;
mod startup;
mod usage;

use gcs_host::emulator::FakeGcsServer;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_swamp-gcs");

/// What one run printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// stdout as the one JSON object (panics with both streams otherwise).
    pub fn json(&self) -> Value {
        let lines: Vec<&str> = self
            .stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(lines.len(), 1, "expected one JSON line: {self:#?}");
        serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON ({e}): {self:#?}"))
    }

    /// Assert the exit code, showing the output on failure.
    pub fn expect(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "unexpected exit code: {self:#?}");
        self
    }
}

/// A command for the binary with a clean environment: none of the caller's datastore,
/// emulator or credential variables, a private HOME and TMPDIR (so the precompiled
/// component goes to the private `HOME/.cache/swamp-gcs`).
pub fn cmd(home: &Path) -> Command {
    let mut c = Command::new(BIN);
    for k in [
        "SWAMP_DATASTORE",
        "STORAGE_EMULATOR_HOST",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "CLOUDSDK_CONFIG",
        "GCE_METADATA_HOST",
        "GCE_METADATA_ROOT",
        "SWAMP_GCS_REQUEST_TIMEOUT_MS",
        "XDG_CACHE_HOME",
        gcs_host::code_cache::DIR_VAR,
        gcs_host::code_cache::TRACE_VAR,
    ] {
        c.env_remove(k);
    }
    c.env("HOME", home).env("TMPDIR", home.join("tmp"));
    std::fs::create_dir_all(home.join("tmp")).unwrap();
    c.stdin(Stdio::null());
    c
}

/// Run with arguments in a clean environment.
pub fn run(home: &Path, args: &[&str]) -> Run {
    run_env(home, args, &[])
}

/// Run with arguments and extra environment variables.
pub fn run_env(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = cmd(home);
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    Run::from(c.output().expect("run swamp-gcs"))
}

/// An emulator with a bucket, a private home and helpers to build configs.
pub struct Env {
    pub server: FakeGcsServer,
    pub home: tempfile::TempDir,
    pub bucket: String,
}

impl Env {
    /// Start fake-gcs-server and create `bucket`.
    pub fn start(bucket: &str) -> Env {
        let server = FakeGcsServer::start().expect("start fake-gcs-server (run scripts/setup.sh)");
        server.create_bucket(bucket).unwrap();
        Env {
            server,
            home: tempfile::tempdir().unwrap(),
            bucket: bucket.to_string(),
        }
    }

    /// `{"bucket": bucket, "apiEndpoint": endpoint}` plus `extra` fields.
    pub fn config_for(&self, bucket: &str, extra: &str) -> String {
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(",{extra}")
        };
        format!(
            r#"{{"bucket":"{bucket}","apiEndpoint":"{}"{extra}}}"#,
            self.server.endpoint()
        )
    }

    /// The config of this env's bucket.
    pub fn config(&self) -> String {
        self.config_for(&self.bucket, "")
    }

    /// A cache directory (not created).
    pub fn cache(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    /// Run with `--config` of this env's bucket appended.
    pub fn run(&self, args: &[&str]) -> Run {
        let config = self.config();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--config", &config]);
        run(self.home.path(), &all)
    }
}

/// Write `files` (relative path, content) under `root`.
pub fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (rel, body) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
}

/// A small swamp-like tree: two models, a workflow run, an audit file.
pub const TREE: &[(&str, &str)] = &[
    ("data/@t/box/m1/config/1/raw", "{\"size\":1}\n"),
    ("data/@t/box/m1/config/1/metadata.yaml", "version: 1\n"),
    ("data/@t/box/m2/config/1/raw", "{\"size\":2}\n"),
    ("workflow-runs/wf/run-1.yaml", "status: ok\n"),
    ("audit/day.jsonl", "{\"a\":1}\n"),
];

/// The path as a &str.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Whether stderr carries terminal control bytes (progress drawing).
pub fn has_control_bytes(s: &str) -> bool {
    s.contains('\r') || s.contains('\u{1b}')
}
