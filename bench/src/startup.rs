//! The `startup` group: a whole `swamp-gcs` process, from spawn to exit, as a user or
//! swamp meets it. `caps` (no config, no network) and a no-op pull (one request, the fast
//! path) run with an empty code cache (the run compiles the component and saves the
//! artefact) and with the artefact of an untimed earlier run present (the run loads it);
//! `--help` (no component at all) is the floor of starting the process.
//!
//! The process timed is this bench re-executed as `swamp-gcs` (with [`AS_SWAMP_GCS`] set,
//! `main` hands over to `swamp_gcs::cli::main`): the same command line code, host and
//! artefact loader as the `swamp-gcs` binary of this build, in a bigger executable. Set
//! [`BINARY_VAR`] to time a built `swamp-gcs` instead. Each run gets its own code cache
//! directory (`SWAMP_GCS_CODE_CACHE`) and reports how it loaded the component
//! (`SWAMP_GCS_CODE_CACHE_TRACE`), which the trial checks.

use super::catalog::StartupCommand;
use super::driver::Ctx;
use super::measure::{self, round2};
use super::report::TrialSample;
use super::scenarios::{pulled, pushed, State};
use anyhow::{bail, Context as _, Result};
use gcs_host::code_cache::{DIR_VAR, TRACE_VAR};
use serde_json::Value;
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Set on a re-executed bench: behave as `swamp-gcs`.
pub const AS_SWAMP_GCS: &str = "GCS_BENCH_AS_SWAMP_GCS";
/// A `swamp-gcs` binary to time instead of the re-executed bench.
pub const BINARY_VAR: &str = "SWAMP_BENCH_SWAMP_GCS";

/// What one timed process did. No memory figure: `wait4`'s peak of a child spawned
/// with vfork semantics (as `Command` does) starts from this process's own peak, since
/// exec keeps the high-water mark of the address space it replaces.
struct Exit {
    wall_ms: f64,
    cpu_ms: f64,
    stdout: String,
    stderr: String,
}

/// Run `args` as `swamp-gcs` with `code_cache` as its artefact directory; require exit 0.
fn swamp_gcs(args: &[&str], code_cache: &Path) -> Result<Exit> {
    let mut cmd = match std::env::var_os(BINARY_VAR) {
        Some(bin) => Command::new(bin),
        None => {
            let mut c = Command::new(std::env::current_exe()?);
            c.env(AS_SWAMP_GCS, "1");
            c
        }
    };
    cmd.args(args)
        .env(DIR_VAR, code_cache)
        .env(TRACE_VAR, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().context("starting swamp-gcs")?;
    let pid = child.id();
    // Both pipes are drained before waiting; the outputs are small, but a full stderr
    // pipe would otherwise block the child.
    let mut stderr = child.stderr.take().context("stderr")?;
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .context("stdout")?
        .read_to_string(&mut stdout)?;
    let usage = measure::wait_child_usage(pid)?;
    let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
    let stderr = err_reader.join().unwrap_or_default();
    if usage.code != 0 {
        bail!(
            "swamp-gcs {args:?} exited with {}: {}",
            usage.code,
            stderr.trim()
        );
    }
    Ok(Exit {
        wall_ms,
        cpu_ms: usage.cpu_ms,
        stdout,
        stderr,
    })
}

/// One trial: untimed setup (a bucket and an in-sync cache for the pull; the artefact
/// when `warm`), then one timed process.
pub async fn trial(
    ctx: &mut Ctx,
    st: &mut State,
    command: StartupCommand,
    warm: bool,
) -> Result<TrialSample> {
    let code_cache = ctx.new_dir("code-cache")?;
    if warm {
        swamp_gcs(&["caps"], &code_cache).context("filling the code cache")?;
    }
    let args: Vec<String> = match command {
        StartupCommand::Help => vec!["--help".into()],
        StartupCommand::Caps => vec!["caps".into(), "--json".into()],
        StartupCommand::NoopPull => {
            let seeded = pushed(ctx).await?;
            let cache = pulled(ctx, &seeded.bucket).await?;
            let config = ctx.config(&seeded.bucket, &Vec::new());
            vec![
                "pull".into(),
                "--cache".into(),
                cache.display().to_string(),
                "--config".into(),
                config,
                "--json".into(),
            ]
        }
    };
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let emulator_before = ctx.emulator_pid.and_then(measure::process_cpu_ms);
    let exit = swamp_gcs(&argv, &code_cache)?;
    let emulator_after = ctx.emulator_pid.and_then(measure::process_cpu_ms);
    let mut sample = TrialSample {
        wall_ms: round2(exit.wall_ms),
        client_cpu_ms: round2(exit.cpu_ms),
        emulator_cpu_ms: emulator_before
            .zip(emulator_after)
            .map(|(a, b)| round2(b - a)),
        ..TrialSample::default()
    };
    check_load(st, command, warm, &exit.stderr)?;
    match command {
        StartupCommand::Help => {
            st.check(exit.stdout.contains("Usage"), "prints the help", || {
                exit.stdout.clone()
            })?;
        }
        StartupCommand::Caps => {
            let v = json(&exit.stdout)?;
            st.check(
                v["datastoreType"] == "@swamp/gcs-datastore",
                "answers caps",
                || v.to_string(),
            )?;
        }
        StartupCommand::NoopPull => {
            let v = json(&exit.stdout)?;
            sample.fast_path = v["fastPath"] == true;
            sample.files = v["files"].as_u64().unwrap_or(u64::MAX);
            sample.requests_total = v["requests"]["total"].as_u64().unwrap_or(0);
            if let Some(by_kind) = v["requests"]["byKind"].as_object() {
                sample.requests = by_kind
                    .iter()
                    .filter_map(|(k, n)| Some((k.clone(), n.as_u64()?)))
                    .filter(|(_, n)| *n > 0)
                    .collect();
            }
            st.check(
                // The pull probes the monolith's generation and the meta together.
                sample.fast_path && sample.files == 0 && sample.requests_total == 2,
                "a no-op pull: the fast path, 2 requests, no file",
                || v.to_string(),
            )?;
        }
    }
    Ok(sample)
}

/// The trace line must say the component came the way the scenario claims.
fn check_load(st: &mut State, command: StartupCommand, warm: bool, stderr: &str) -> Result<()> {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("swamp-gcs: "))
        .unwrap_or("");
    match (command, warm) {
        (StartupCommand::Help, _) => {
            st.check(line.is_empty(), "loads no component", || line.to_string())
        }
        (_, true) => st.check(
            line.starts_with("swamp-gcs: loaded the precompiled component"),
            "loads the precompiled artefact",
            || line.to_string(),
        ),
        (_, false) => st.check(
            line.starts_with("swamp-gcs: compiled the component (no artefact yet); saved"),
            "compiles and saves the artefact",
            || line.to_string(),
        ),
    }
}

fn json(stdout: &str) -> Result<Value> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("no JSON on stdout: {stdout}"))?;
    Ok(serde_json::from_str(line)?)
}
