//! The spinner is drawn on a terminal only: piped stderr gets no `\r` or ANSI escape.
//! `SWAMP_GCS_PROGRESS_DELAY_MS=0` makes the spinner start at once (it normally waits
//! 300 ms), so these checks do not depend on how long the transfers take.

use super::{has_control_bytes, run_env, s, write_tree, Env};

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

/// Under a pseudo-terminal (util-linux `script`) a pull draws a spinner; with `--json` it
/// does not. Skipped when `script` is not installed.
#[test]
fn spinner_only_on_a_terminal_and_never_with_json() {
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
    let run_script = |cache: &std::path::Path, json: bool| {
        let cmdline = format!(
            "{} pull --cache '{}' --config '{}'{}",
            super::BIN,
            s(cache),
            config,
            if json { " --json" } else { "" }
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
    let tty = run_script(&env.cache("tty"), false);
    assert!(tty.contains("pulled 120 files"), "{tty}");
    assert!(
        has_control_bytes(&tty.replace("\r\n", "\n")),
        "no spinner on a terminal: {tty:?}"
    );
    let json = run_script(&env.cache("tty-json"), true);
    assert!(json.contains("\"ok\":true"), "{json}");
    assert!(
        !has_control_bytes(&json.replace("\r\n", "\n")),
        "spinner with --json: {json:?}"
    );
}
