//! `swamp-gcs`: use the gcs-datastore component from a shell, hosted exactly as swamp would
//! host it (one sandbox per datastore, one preopened cache, an HTTP allow-list).
//!
//! Exit codes: 0 success, 1 operational failure, 2 usage or configuration error, 130
//! interrupted. The commands live in `swamp_gcs::cli`.

fn main() -> std::process::ExitCode {
    swamp_gcs::cli::main()
}
