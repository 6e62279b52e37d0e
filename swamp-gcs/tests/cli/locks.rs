//! `lock` commands, and `sync` meeting a held lock.

use super::{cmd, s, Env, Run};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn acquire_holds_then_releases() {
    let env = Env::start("lock-hold");
    let r = env.run(&["lock", "inspect", "--json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["held"], false);
    assert_eq!(v["key"], ".datastore.lock");

    // Hold for 700 ms with a 300 ms ttl: heartbeats every 100 ms keep it.
    let r = env.run(&[
        "lock",
        "acquire",
        "--hold-ms",
        "700",
        "--ttl-ms",
        "300",
        "--json",
    ]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["released"], true);
    assert_eq!(v["endedBy"], "hold elapsed");
    assert!(v["heartbeats"].as_u64().unwrap() >= 3, "{v}");
    assert!(v["lock"]["nonce"].is_string());
    assert!(v["heldMs"].as_u64().unwrap() >= 700);

    let r = env.run(&["lock", "inspect"]);
    r.expect(0);
    assert_eq!(r.stdout.trim(), ".datastore.lock is free");

    // Human mode, another key.
    let r = env.run(&[
        "lock",
        "acquire",
        "--key",
        "data/@t/box/m1/.lock",
        "--hold-ms",
        "0",
    ]);
    r.expect(0);
    assert!(
        r.stdout.starts_with("acquired data/@t/box/m1/.lock as "),
        "{r:#?}"
    );
    assert!(r.stdout.contains("released data/@t/box/m1/.lock"), "{r:#?}");
}

/// A holder in the background; `inspect` sees it; a wrong nonce releases nothing; the
/// right one does; the holder's heartbeat then notices the loss and it exits 1; `sync`
/// meanwhile times out waiting.
#[test]
fn release_by_nonce_and_a_lost_holder() {
    let env = Env::start("lock-nonce");
    let config = env.config();
    let mut holder = cmd(env.home.path())
        .args([
            "lock",
            "acquire",
            "--hold-ms",
            "20000",
            // Long enough that a loaded machine delaying a heartbeat (every ttl/3) never
            // makes the lock look stale to the waiting sync below.
            "--ttl-ms",
            "6000",
            "--json",
            "--config",
            &config,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Wait until it holds the lock.
    let start = Instant::now();
    let info = loop {
        let r = env.run(&["lock", "inspect", "--json"]);
        r.expect(0);
        let v = r.json();
        if v["held"] == true {
            break v["lock"].clone();
        }
        assert!(start.elapsed() < Duration::from_secs(20), "never acquired");
        std::thread::sleep(Duration::from_millis(100));
    };
    let nonce = info["nonce"].as_str().unwrap().to_string();
    assert_eq!(info["stale"], false);
    let r = env.run(&["lock", "inspect"]);
    assert!(r.stdout.contains(&nonce), "{r:#?}");

    // A sync waiting for it times out (exit 1, with the hint to inspect).
    let a = env.cache("a");
    let r = env.run(&["sync", "--cache", s(&a), "--max-wait-ms", "1500"]);
    r.expect(1);
    assert!(r.stderr.contains("timed out"), "{r:#?}");
    assert!(r.stderr.contains("hint: `swamp-gcs lock inspect"), "{r:#?}");

    // A wrong nonce: nothing deleted, exit 1, the holder named.
    let r = env.run(&["lock", "force-release", "not-the-nonce", "--json"]);
    r.expect(1);
    let v = r.json();
    assert_eq!(v["released"], false);
    assert_eq!(v["holder"]["nonce"], nonce.as_str());

    // The right nonce, via `release`.
    let r = env.run(&["lock", "release", &nonce, "--json"]);
    r.expect(0);
    assert_eq!(r.json()["released"], true);
    let r = env.run(&["lock", "force-release", &nonce]);
    r.expect(0);
    assert!(r.stdout.contains("is free"), "{r:#?}");

    // The holder's next heartbeat finds the lock gone: lost, exit 1.
    let out = wait_with_timeout(holder.id(), &mut holder, Duration::from_secs(20));
    out.expect(1);
    let v = out.json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["lost"], true);
    assert_eq!(v["endedBy"], "lost");
}

fn wait_with_timeout(pid: u32, child: &mut std::process::Child, limit: Duration) -> Run {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("lock holder {pid} did not exit");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stdout = String::new();
    let mut stderr = String::new();
    use std::io::Read as _;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    Run {
        code: child.wait().unwrap().code().unwrap_or(-1),
        stdout,
        stderr,
    }
}
