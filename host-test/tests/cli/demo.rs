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
