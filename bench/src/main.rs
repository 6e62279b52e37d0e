//! `bench`: the gcs-datastore benchmark suite (see the `gcs_bench` library and BENCHMARKS.md).
//!
//! `cargo run --release -p gcs-bench --bin bench -- [--trials N] [--scenario NAME]...
//! [--json FILE] [--smoke] [--list]`

use clap::Parser as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    gcs_bench::run::main(gcs_bench::Args::parse())
}
