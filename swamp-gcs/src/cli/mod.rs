//! The `swamp-gcs` command line: hosts the gcs-datastore component exactly as swamp would
//! (one sandbox per datastore, one preopened cache, an HTTP allow-list) and drives it.
//!
//! | file | holds |
//! |---|---|
//! | `args.rs` | the clap grammar and every help text |
//! | `session.rs` | config and cache resolution, opening configured datastores, `--model` |
//! | `commands.rs` | `caps`, `verify`, `pull`, `push`, `mark-dirty`, `status` |
//! | `sync.rs` | `sync`: locks with heartbeat, pull, push, release |
//! | `lock.rs` | `lock inspect/acquire/release/force-release`; [`lock::Holding`] |
//! | `namespaces.rs` | `namespace register/list`, `catalog export/pull/fetch` |
//! | `control.rs` | `control get/put/put-if-absent/list/delete`: the control-plane store |
//! | `demo.rs` | `demo`: the self-contained tour against fake-gcs-server |
//! | `output.rs` | request counts, sizes, durations; the pull/push JSON shape |
//! | `progress.rs` | progress on stderr: a bar, plain lines or JSON lines (`--progress`) |
//! | `signals.rs` | Ctrl-C / SIGTERM for commands that must clean up |
//! | `failure.rs` | one-line errors with hints and exit codes |
//!
//! Exit codes: 0 success, 1 operational failure, 2 usage or configuration error, 3
//! `control put-if-absent` found a value, 130 interrupted.

pub mod args;
pub mod commands;
pub mod control;
pub mod demo;
pub mod failure;
pub mod lock;
pub mod migrate;
pub mod namespaces;
pub mod output;
pub mod progress;
pub mod session;
pub mod signals;
pub mod sync;

use args::{Cli, Command};
use clap::error::ErrorKind;
use clap::Parser as _;
use failure::{report, Failure};
use gcs_host::Host;
use serde_json::json;
use std::process::ExitCode;

/// Parse the command line, run the command, and return the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let json = cli.global.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return report(json, Failure::from(e)),
    };
    quiet_panics();
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(run(cli))));
    let code = match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(f)) => report(json, f),
        Err(panic) => report(json, panic_failure(panic.as_ref())),
    };
    // Do not wait for blocking work left behind (there is none on success paths).
    runtime.shutdown_background();
    code
}

/// A bug in the host must still end as one line and exit 1, not Rust's panic text and
/// 101: the default hook is replaced by a silent one, and `main` reports the payload.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|_| {}));
}

/// The failure reported for a panic payload.
fn panic_failure(payload: &(dyn std::any::Any + Send)) -> Failure {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    Failure::operational("host", format!("internal error in swamp-gcs: {what}"))
        .hint("this is a bug; please report it with the command you ran")
}

/// clap's own errors exit 2 (help and version exit 0); with `--json` somewhere on the
/// command line, one JSON object is printed on stdout as well.
fn usage_error(e: clap::Error) -> ExitCode {
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let wants_json = std::env::args_os().any(|a| a == "--json");
    let _ = e.print();
    if wants_json {
        let rendered = e.render().to_string();
        let message = rendered
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("usage error")
            .trim_start_matches("error: ")
            .to_string();
        println!(
            "{}",
            json!({"ok": false, "error": message, "errorKind": "usage", "hint": "see --help", "exitCode": failure::USAGE})
        );
    }
    ExitCode::from(failure::USAGE)
}

/// Run one parsed command.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let host = Host::new()
        .map_err(|e| Failure::operational("host", format!("loading the component: {e:#}")))?;
    let g = &cli.global;
    match &cli.command {
        Command::Caps => commands::caps(&host, g).await,
        Command::Verify => commands::verify(&host, g).await,
        Command::Pull(a) => commands::pull(&host, g, a).await,
        Command::Push(a) => commands::push(&host, g, a).await,
        Command::MarkDirty(a) => commands::mark_dirty(&host, g, a).await,
        Command::Status(a) => commands::status(&host, g, a).await,
        Command::MigrateIndex => migrate::run(&host, g).await,
        Command::Sync(a) => sync::run(&host, g, a).await,
        Command::Lock { action } => lock::run(&host, g, action).await,
        Command::Namespace { action } => namespaces::namespace(&host, g, action).await,
        Command::Catalog { action } => namespaces::catalog(&host, g, action).await,
        Command::Control { action } => control::run(&host, g, action).await,
        Command::Demo => demo::run(&host, g).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_panic_becomes_one_operational_line_with_a_hint() {
        let payload = std::panic::catch_unwind(|| panic!("index {} out of range", 3)).unwrap_err();
        let f = panic_failure(payload.as_ref());
        assert_eq!(f.code, failure::OPERATIONAL);
        assert_eq!(
            f.message,
            "internal error in swamp-gcs: index 3 out of range"
        );
        assert!(f.hint.as_deref().unwrap().contains("bug"));
        let payload = std::panic::catch_unwind(|| panic!("static text")).unwrap_err();
        assert!(panic_failure(payload.as_ref())
            .message
            .ends_with("static text"));
    }

    #[test]
    fn global_options_go_before_or_after_the_command() {
        for argv in [
            &["swamp-gcs", "--cache", "c", "--json", "push"][..],
            &["swamp-gcs", "push", "--cache", "c", "--json"][..],
            &["swamp-gcs", "lock", "inspect", "--json", "--cache", "c"][..],
        ] {
            let cli = Cli::try_parse_from(argv).unwrap();
            assert!(cli.global.json);
            assert_eq!(cli.global.cache.as_deref(), Some(std::path::Path::new("c")));
        }
    }
}
