//! `demo` runs to success and leaves nothing behind: no emulator process, no open port, no
//! temporary directory.

use super::{cmd, has_control_bytes, Run};
use std::path::Path;

fn is_running_fake_gcs(pid: u64) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("fake-gcs-server"))
        .unwrap_or(false)
}

fn empty_dir(p: &Path) -> bool {
    std::fs::read_dir(p).unwrap().next().is_none()
}

#[test]
fn demo_json_succeeds_and_cleans_up() {
    let home = tempfile::tempdir().unwrap();
    let out = cmd(home.path()).args(["demo", "--json"]).output().unwrap();
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    r.expect(0);
    let v = r.json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["command"], "demo");
    assert_eq!(v["treesAgree"], true);
    assert_eq!(v["cleanup"]["emulatorStopped"], true);
    assert_eq!(v["cleanup"]["tempDirRemoved"], true);
    let steps = v["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
    for want in [
        "start", "push A", "pull B", "pull C", "check", "sync B", "stop",
    ] {
        assert!(names.contains(&want), "no step {want} in {names:?}");
    }
    // The delta push moved exactly one file; the second pull of B was the fast path.
    let pushes: Vec<&serde_json::Value> = steps.iter().filter(|s| s["step"] == "push A").collect();
    assert_eq!(pushes[0]["files"], 11);
    assert_eq!(pushes[1]["files"], 1);
    let pulls: Vec<&serde_json::Value> = steps.iter().filter(|s| s["step"] == "pull B").collect();
    assert_eq!(pulls[1]["fastPath"], true);
    assert!(v["requests"]["total"].as_u64().unwrap() > 0);

    // Nothing left running or listening.
    let pid = v["emulator"]["pid"].as_u64().unwrap();
    assert!(
        !is_running_fake_gcs(pid),
        "fake-gcs-server {pid} still running"
    );
    let port = v["emulator"]["port"].as_u64().unwrap() as u16;
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());

    // Nothing left in TMPDIR (the demo's caches, lock and scratch sandboxes).
    let tmp = home.path().join("tmp");
    assert!(
        empty_dir(&tmp),
        "left behind: {:?}",
        std::fs::read_dir(&tmp).unwrap().collect::<Vec<_>>()
    );
    assert!(!Path::new(v["tempDir"].as_str().unwrap()).exists());
}

#[test]
fn demo_human_output_is_plain_text() {
    let home = tempfile::tempdir().unwrap();
    let out = cmd(home.path()).arg("demo").output().unwrap();
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    r.expect(0);
    assert!(r.stdout.contains("demo ok: "), "{r:#?}");
    assert!(r.stdout.contains("11. check "), "{r:#?}");
    assert!(
        !has_control_bytes(&r.stdout) && !has_control_bytes(&r.stderr),
        "{r:#?}"
    );
    assert!(empty_dir(&home.path().join("tmp")));
}

/// SIGTERM in the middle: the emulator is stopped and the temp dir removed anyway.
#[test]
fn demo_interrupted_still_cleans_up() {
    let home = tempfile::tempdir().unwrap();
    let mut child = cmd(home.path())
        .arg("demo")
        .env("SWAMP_GCS_DEMO_PAUSE_MS", "2000")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the emulator is up (the first step is printed).
    use std::io::{BufRead as _, BufReader};
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut pid = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.split("(pid ").nth(1) {
            pid = rest.split(')').next().and_then(|p| p.parse::<u64>().ok());
            break;
        }
    }
    let pid = pid.expect("the start step names the emulator's pid");
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(
        !is_running_fake_gcs(pid),
        "fake-gcs-server {pid} still running"
    );
    assert!(empty_dir(&home.path().join("tmp")));
}

/// A copy of `scripts/demo.sh` in a scratch "repository" whose `scripts/setup.sh` is
/// `setup` and whose `cargo` (first on PATH) only records its arguments.
fn scripted_demo(setup: &str) -> (tempfile::TempDir, std::process::Command) {
    use std::os::unix::fs::PermissionsExt as _;
    let root = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let write_exe = |rel: &str, body: &str| {
        let p = root.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    write_exe(
        "scripts/demo.sh",
        &std::fs::read_to_string(repo.join("scripts/demo.sh")).unwrap(),
    );
    write_exe("scripts/setup.sh", &format!("#!/bin/sh\n{setup}\n"));
    write_exe("bin/cargo", "#!/bin/sh\necho \"cargo $*\"\n");
    write_exe("src/lib.rs", "");
    let mut c = std::process::Command::new(root.path().join("scripts/demo.sh"));
    let path = format!(
        "{}:{}",
        root.path().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    c.env("PATH", path)
        .env_remove("CARGO_TARGET_DIR")
        .stdin(std::process::Stdio::null());
    (root, c)
}

/// On a cold target directory the first line, within 5 s, says the first build takes
/// several minutes — even while the set-up is still busy (here it sleeps a minute).
#[test]
fn demo_script_says_first_that_the_first_build_takes_minutes() {
    use std::io::{BufRead as _, BufReader};
    use std::os::unix::process::CommandExt as _;
    let (_root, mut c) = scripted_demo("sleep 60");
    let start = std::time::Instant::now();
    let mut child = c
        .process_group(0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = rx.recv_timeout(std::time::Duration::from_secs(5));
    let waited = start.elapsed();
    // SAFETY: kill(2) on the process group of our own child (the script and its sleep).
    unsafe {
        libc::kill(-(child.id() as i32), libc::SIGTERM);
    }
    let _ = child.wait();
    let first = first.unwrap_or_else(|_| panic!("nothing printed within 5 s"));
    assert!(
        first.starts_with("demo: first run") && first.contains("several minutes"),
        "{first:?} after {waited:?}"
    );
}

/// The script's three cases: cold (say so, build with cargo's progress, run), sources
/// changed (say so, rebuild), everything built (nothing but the quiet run).
#[test]
fn demo_script_is_quiet_once_built() {
    let run = |c: &mut std::process::Command| {
        let o = c.output().unwrap();
        assert!(o.status.success(), "{o:?}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let (root, mut c) = scripted_demo("echo 'setup: ok'");
    let cold = run(&mut c);
    let lines: Vec<&str> = cold.lines().collect();
    assert!(lines[0].starts_with("demo: first run"), "{cold}");
    assert_eq!(
        &lines[1..],
        [
            "setup: ok",
            "cargo build --release -p swamp-gcs",
            "cargo run --release --quiet -p swamp-gcs -- demo",
        ],
        "{cold}"
    );

    // A binary older than a source file: rebuilt, and said so.
    let bin = root.path().join("target/release/swamp-gcs");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::write(&bin, "").unwrap();
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&bin)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let changed = run(&mut c);
    assert!(
        changed.starts_with("demo: the sources changed"),
        "{changed}"
    );
    assert!(changed.contains("cargo build --release"), "{changed}");

    // Built and up to date: only the set-up line and the quiet run.
    std::fs::File::options()
        .write(true)
        .open(&bin)
        .unwrap()
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
        .unwrap();
    c.arg("--json");
    let warm = run(&mut c);
    assert_eq!(
        warm,
        "setup: ok\ncargo run --release --quiet -p swamp-gcs -- demo --json\n"
    );
}
