//! `gcs-bench`: the benchmark suite behind the `bench` binary (issue 5): the TypeScript
//! extension's v1 scenarios (plus corrected variants of 6 and 8), the native client as the
//! physical limit, a concurrency sweep and indexes of 1k/10k/100k entries. It hosts the
//! component through `gcs-host` and reuses the progress display of `swamp-gcs`; it needs no
//! fault injection, so it builds `gcs-host` without the `faults` feature.
//!
//! The parent process starts fake-gcs-server 1.54.0 (memory backend), and runs every
//! scenario in a child process (itself, re-executed with the hidden `--child ID`), so
//! each scenario's peak memory is its own. A child loads the component once, runs the
//! warm-up and measured trials — each with untimed setup in a fresh bucket and fresh
//! caches, then one timed call — checks the result, and prints one JSON line.
//!
//! | file | holds |
//! |---|---|
//! | `main.rs` | the `bench` binary: parses [`Args`], calls [`run::main`] |
//! | `catalog.rs` | scenario ids, names, kinds, TypeScript numbers |
//! | `seed.rs` | the TypeScript suite's seeding and edits (`BENCHMARKS.md#seeding`); scale seeds written into bucket and cache |
//! | `native.rs` | the plain native client on the host's pool |
//! | `driver.rs` | datastores opened as `swamp-gcs` opens them; the timing probe |
//! | `scenarios.rs` | one trial of each v1 / native / sweep scenario |
//! | `scale.rs` | one trial of each scale operation |
//! | `v2.rs` | one trial of each shard-first scenario (10–15) |
//! | `startup.rs` | one trial of a whole `swamp-gcs` process (help, caps, no-op pull; with and without the precompiled artefact) |
//! | `measure.rs` | statistics, RSS high-water marks, CPU clocks |
//! | `report.rs` | result types (the `--json` schema) and tables |
//! | `run.rs` | the parent: emulators, seeding, children, the report |

pub mod catalog;
pub mod driver;
pub mod measure;
pub mod native;
pub mod report;
pub mod run;
pub mod scale;
pub mod scenarios;
pub mod seed;
pub mod startup;
pub mod v2;

use clap::Parser;
use std::path::PathBuf;

/// Command line of the `bench` binary.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "bench",
    about = "Benchmark the gcs-datastore component against fake-gcs-server 1.54.0: the TypeScript extension's scenarios, the native limit, a concurrency sweep and 1k-100k entry indexes",
    after_help = "Examples:\n  cargo run --release -p gcs-bench --bin bench -- --trials 3 --json bench-results/latest.json\n  cargo run --release -p gcs-bench --bin bench -- --scenario v1 --scenario native\n  cargo run --release -p gcs-bench --bin bench -- --smoke"
)]
pub struct Args {
    /// Measured trials per scenario (one warm-up trial runs first)
    #[arg(long, default_value_t = 5)]
    pub trials: usize,
    /// Run only these scenarios: an id, an id prefix, a display name or a group (v1, v2,
    /// native, sweep, progress, startup, scale); repeatable
    #[arg(long = "scenario", value_name = "NAME")]
    pub scenarios: Vec<String>,
    /// Write every result to this JSON file
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// One trial of each scenario, no warm-up, no 100k level, sweep at 1 and 100 only:
    /// correctness checks for CI, no timing thresholds
    #[arg(long)]
    pub smoke: bool,
    /// Where caches and scratch files go (default: /dev/shm when it exists, so the
    /// numbers do not depend on the state of the disk's inode allocator; see
    /// BENCHMARKS.md)
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// List the scenarios and exit
    #[arg(long)]
    pub list: bool,
    /// Internal: run one scenario and print its result as JSON
    #[arg(long, hide = true)]
    pub child: Option<String>,
    /// Internal: the emulator endpoint for --child
    #[arg(long, hide = true)]
    pub endpoint: Option<String>,
    /// Internal: the emulator's pid for --child
    #[arg(long, hide = true)]
    pub emulator_pid: Option<u32>,
    /// Internal: the scale seed description for --child
    #[arg(long, hide = true)]
    pub seed: Option<PathBuf>,
    /// Internal: warm-up trials for --child
    #[arg(long, hide = true, default_value_t = 0)]
    pub warmup: usize,
}
