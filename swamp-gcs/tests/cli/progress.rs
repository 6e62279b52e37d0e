//! Progress on stderr: by default a bar on a terminal only (piped stderr gets no `\r` or
//! ANSI escape); `--progress=always` plain lines when piped and JSON lines with `--json`;
//! `--progress=never` nothing. `SWAMP_GCS_PROGRESS_DELAY_MS=0` makes the display start at
//! once (it normally waits 300 ms), so these checks do not depend on how long the transfers
//! take.

use super::{has_control_bytes, run_env, s, write_tree, Env};
use serde_json::Value;

const NOW: (&str, &str) = ("SWAMP_GCS_PROGRESS_DELAY_MS", "0");

/// 120 files, transferred one at a time.
fn slow_setup(env: &Env) -> (std::path::PathBuf, String) {
    let a = env.cache("a");
    let files: Vec<(String, String)> = (0..120)
        .map(|i| {
            (
                format!("data/@t/box/m{}/blob/1/f{i}", i % 6),
                format!("{i}\n").repeat(50),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_str()))
        .collect();
    write_tree(&a, &refs);
    let config = env.config_for(&env.bucket, r#""pullConcurrency":1,"pushConcurrency":1"#);
    (a, config)
}

#[test]
fn no_progress_bytes_when_piped() {
    let env = Env::start("progress-piped");
    let (a, config) = slow_setup(&env);
    let home = env.home.path();
    let push = run_env(
        home,
        &["push", "--cache", s(&a), "--config", &config],
        &[NOW],
    );
    push.expect(0);
    assert!(push.stdout.starts_with("pushed 120 files"), "{push:#?}");
    assert!(push.stderr.is_empty(), "{push:#?}");
    let b = env.cache("b");
    let pull = run_env(
        home,
        &["pull", "--cache", s(&b), "--config", &config],
        &[NOW],
    );
    pull.expect(0);
    assert!(pull.stderr.is_empty(), "{pull:#?}");
    let sync = run_env(
        home,
        &["sync", "--cache", s(&b), "--config", &config],
        &[NOW],
    );
    sync.expect(0);
    for r in [&push, &pull, &sync] {
        assert!(
            !has_control_bytes(&r.stdout) && !has_control_bytes(&r.stderr),
            "{r:#?}"
        );
    }
}

/// Under a pseudo-terminal (util-linux `script`) a pull draws its progress; with `--json`
/// or `--progress=never` it does not. Skipped when `script` is not installed.
#[test]
fn drawn_only_on_a_terminal_and_never_with_json_or_never() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let env = Env::start("progress-tty");
    let (a, config) = slow_setup(&env);
    let home = env.home.path();
    run_env(home, &["push", "--cache", s(&a), "--config", &config], &[]).expect(0);
    let run_script = |cache: &std::path::Path, flags: &str| {
        let cmdline = format!(
            "{} pull --cache '{}' --config '{}' {flags}",
            super::BIN,
            s(cache),
            config,
        );
        let mut c = std::process::Command::new("script");
        c.args(["-qefc", &cmdline, "/dev/null"])
            .env("TERM", "xterm")
            .env(NOW.0, NOW.1)
            .env("HOME", home)
            .env_remove("SWAMP_DATASTORE");
        let o = c.output().unwrap();
        assert!(o.status.success(), "{o:?}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let tty = run_script(&env.cache("tty"), "");
    assert!(tty.contains("pulled 120 files"), "{tty}");
    assert!(
        has_control_bytes(&tty.replace("\r\n", "\n")),
        "no progress on a terminal: {tty:?}"
    );
    let json = run_script(&env.cache("tty-json"), "--json");
    assert!(json.contains("\"ok\":true"), "{json}");
    assert!(
        !has_control_bytes(&json.replace("\r\n", "\n")),
        "progress drawn with --json: {json:?}"
    );
    let never = run_script(&env.cache("tty-never"), "--progress=never");
    assert!(never.contains("pulled 120 files"), "{never}");
    assert!(
        !has_control_bytes(&never.replace("\r\n", "\n")),
        "progress drawn with --progress=never: {never:?}"
    );
}

/// 1000 small files pushed from cache `a`; returns the config.
fn thousand_files(env: &Env) -> String {
    let a = env.cache("a");
    let files: Vec<(String, String)> = (0..1000)
        .map(|i| {
            (
                format!("data/@t/box/m{}/blob/1/f{i}", i % 20),
                format!("{i}\n").repeat(20),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_str()))
        .collect();
    write_tree(&a, &refs);
    let config = env.config();
    let push = run_env(
        env.home.path(),
        &["push", "--cache", s(&a), "--config", &config],
        &[],
    );
    push.expect(0);
    assert!(push.stdout.starts_with("pushed 1000 files"), "{push:#?}");
    config
}

#[test]
fn always_prints_plain_lines_when_piped_then_the_summary() {
    let env = Env::start("progress-always");
    let config = thousand_files(&env);
    let b = env.cache("b");
    let pull = run_env(
        env.home.path(),
        &[
            "pull",
            "--cache",
            s(&b),
            "--config",
            &config,
            "--progress=always",
        ],
        &[NOW],
    );
    pull.expect(0);
    assert!(pull.stdout.starts_with("pulled 1000 files"), "{pull:#?}");
    assert!(!has_control_bytes(&pull.stderr), "{pull:#?}");
    let lines: Vec<&str> = pull.stderr.lines().collect();
    assert!(
        lines.iter().all(|l| l.starts_with("pull")),
        "only progress lines: {pull:#?}"
    );
    // The last line is the final state: every file of the plan done.
    assert!(
        lines.iter().any(|l| l.contains("/1000 files")),
        "a line with the total: {pull:#?}"
    );
    let last = lines.last().expect("at least one progress line");
    assert!(
        last.contains("1000/1000 files") || last.contains("writing the index"),
        "{pull:#?}"
    );
    assert!(
        !pull.stdout.contains('\u{1e}') && !pull.stderr.contains('\u{1e}'),
        "a raw protocol line leaked: {pull:#?}"
    );

    // `never` prints nothing, even with the flag order reversed.
    let c = env.cache("c");
    let quiet = run_env(
        env.home.path(),
        &[
            "--progress",
            "never",
            "pull",
            "--cache",
            s(&c),
            "--config",
            &config,
        ],
        &[NOW],
    );
    quiet.expect(0);
    assert!(quiet.stderr.is_empty(), "{quiet:#?}");
}

#[test]
fn json_progress_lines_on_stderr_and_one_object_on_stdout() {
    let env = Env::start("progress-json");
    let config = thousand_files(&env);
    let b = env.cache("b");
    let pull = run_env(
        env.home.path(),
        &[
            "pull",
            "--cache",
            s(&b),
            "--config",
            &config,
            "--json",
            "--progress=always",
        ],
        &[NOW],
    );
    pull.expect(0);
    let result = pull.json();
    assert_eq!(result["files"], 1000, "{pull:#?}");
    let events: Vec<Value> = pull
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?} in {pull:#?}")))
        .collect();
    assert!(!events.is_empty(), "{pull:#?}");
    for e in &events {
        assert_eq!(e["progress"], "pull", "{e}");
        assert!(
            e["phase"].is_string() && e["done"].is_u64() && e["bytes"].is_u64(),
            "{e}"
        );
        assert!(e["elapsedMs"].is_u64(), "{e}");
    }
    let planned: Vec<&Value> = events.iter().filter(|e| e["total"] == 1000).collect();
    assert!(!planned.is_empty(), "the plan's total: {pull:#?}");
    let last = planned.last().unwrap();
    assert_eq!(last["done"], 1000, "{pull:#?}");
    assert_eq!(last["bytes"], last["bytesTotal"], "{pull:#?}");
    let dones: Vec<u64> = planned.iter().filter_map(|e| e["done"].as_u64()).collect();
    assert!(dones.windows(2).all(|w| w[0] <= w[1]), "{dones:?}");

    // `--json` alone keeps stderr empty.
    let c = env.cache("c");
    let plain = run_env(
        env.home.path(),
        &["pull", "--cache", s(&c), "--config", &config, "--json"],
        &[NOW],
    );
    plain.expect(0);
    plain.json();
    assert!(plain.stderr.is_empty(), "{plain:#?}");
}

#[test]
fn progress_flag_rejects_unknown_values() {
    let home = tempfile::tempdir().unwrap();
    let r = run_env(
        home.path(),
        &["pull", "--cache", "x", "--progress", "sometimes"],
        &[],
    );
    r.expect(2);
    assert!(r.stderr.contains("sometimes"), "{r:#?}");
    assert!(
        r.stderr.contains("possible values: auto, always, never"),
        "{r:#?}"
    );
}
