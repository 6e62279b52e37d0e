//! `swamp-gcs`: the command line that hosts the gcs-datastore component through `gcs-host`
//! exactly as swamp would, and drives it. The library holds the commands so the benchmarks
//! can reuse the progress display; the binary is `main.rs`.
//!
//! - `main.rs`: the `swamp-gcs` binary (calls [`cli::main`]).
//! - `cli/`: the commands, output, progress, locks, signals, errors and the demo (its
//!   `mod.rs` maps the files).
//! - `cli_config.rs`: config from `--config`, `SWAMP_DATASTORE` or `.swamp.yaml`.
//! - `tests/cli/`: the integration tests of the built binary (`cargo test --release -p
//!   swamp-gcs --test cli`); they live here because only this package's tests get
//!   `CARGO_BIN_EXE_swamp-gcs`, the binary Cargo builds fresh before running them.

pub mod cli;
pub mod cli_config;
