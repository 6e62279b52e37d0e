//! `bench`: the gcs-datastore benchmark suite (see `host_test::bench` and BENCHMARKS.md).
//!
//! `cargo run --release -p host-test --bin bench -- [--trials N] [--scenario NAME]...
//! [--json FILE] [--smoke] [--list]`

use clap::Parser as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    host_test::bench::run::main(host_test::bench::Args::parse())
}
