//! `bench`: the gcs-datastore benchmark suite (see the `gcs_bench` library and BENCHMARKS.md).
//!
//! `cargo run --release -p gcs-bench --bin bench -- [--trials N] [--scenario NAME]...
//! [--json FILE] [--smoke] [--list]`

use clap::Parser as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    // The startup group times this executable re-run as `swamp-gcs` (`startup.rs`).
    if std::env::var_os(gcs_bench::startup::AS_SWAMP_GCS).is_some() {
        return swamp_gcs::cli::main();
    }
    gcs_bench::run::main(gcs_bench::Args::parse())
}
