//! `control` commands against fake-gcs-server, as a person would use them: values from a
//! file or a pipe, bytes back on stdout, namespaces, put-if-absent's exit code, and the
//! errors of a bad key, a missing record and an unreadable file.

use super::{cmd, s, Env, Run};
use std::io::Write as _;
use std::process::Stdio;

impl Env {
    /// Run with `--config` appended and `input` piped into standard input.
    fn run_piped(&self, args: &[&str], input: &[u8]) -> Run {
        let config = self.config();
        let mut c = cmd(self.home.path());
        c.args(args).args(["--config", &config]);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("run swamp-gcs");
        child.stdin.take().unwrap().write_all(input).unwrap();
        let o = child.wait_with_output().unwrap();
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// `control get` with stdout as raw bytes.
    fn get_bytes(&self, args: &[&str]) -> (i32, Vec<u8>) {
        let config = self.config();
        let o = cmd(self.home.path())
            .args(["control", "get"])
            .args(args)
            .args(["--config", &config])
            .output()
            .unwrap();
        (o.status.code().unwrap_or(-1), o.stdout)
    }
}

#[test]
fn put_get_list_delete_from_files_and_pipes() {
    let env = Env::start("control-basic");
    let binary: Vec<u8> = (0..=255u8).rev().collect();
    let file = env.cache("value.bin");
    std::fs::write(&file, &binary).unwrap();
    let r = env.run(&["control", "put", "heartbeats/w1", s(&file)]);
    r.expect(0);
    assert_eq!(r.stdout.trim(), "wrote heartbeats/w1 (256 bytes)");
    env.run_piped(&["control", "put", "heartbeats/w2"], b"from a pipe")
        .expect(0);
    env.run_piped(&["control", "put", "pending/r1", "-"], b"dash")
        .expect(0);

    assert_eq!(env.get_bytes(&["heartbeats/w1"]), (0, binary.clone()));
    assert_eq!(env.get_bytes(&["heartbeats/w2"]).1, b"from a pipe");
    let r = env.run(&["control", "get", "heartbeats/w2", "--json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["value"], "from a pipe");
    assert_eq!(v["valueBase64"], "ZnJvbSBhIHBpcGU=");
    assert_eq!(v["size"], 11);
    let v = env
        .run(&["control", "get", "heartbeats/w1", "--json"])
        .json();
    assert!(v["value"].is_null(), "not UTF-8: {v}");

    let r = env.run(&["control", "list"]);
    r.expect(0);
    assert_eq!(r.stdout, "heartbeats/w1\nheartbeats/w2\npending/r1\n");
    let v = env
        .run(&["control", "list", "heartbeats/", "--json"])
        .json();
    assert_eq!(
        v["keys"],
        serde_json::json!(["heartbeats/w1", "heartbeats/w2"])
    );

    let r = env.run(&["control", "delete", "heartbeats/w1"]);
    r.expect(0);
    assert_eq!(r.stdout.trim(), "deleted heartbeats/w1");
    let r = env.run(&["control", "delete", "heartbeats/w1"]);
    r.expect(0);
    assert_eq!(
        r.stdout.trim(),
        "nothing to delete: heartbeats/w1 has no value"
    );
    let r = env.run(&["control", "get", "heartbeats/w1"]);
    r.expect(1);
    assert!(r.stdout.is_empty());
    assert_eq!(
        r.stderr.lines().collect::<Vec<_>>(),
        [
            "error: no control record heartbeats/w1",
            "hint: `swamp-gcs control list` shows the keys that exist"
        ]
    );
}

#[test]
fn namespaces_and_put_if_absent() {
    let env = Env::start("control-ns");
    let r = env.run_piped(
        &["control", "put-if-absent", "leader", "--namespace", "team"],
        b"worker-1",
    );
    r.expect(0);
    assert_eq!(
        r.stdout.trim(),
        "created leader in namespace team (8 bytes)"
    );
    let r = env.run_piped(
        &["control", "put-if-absent", "leader", "--namespace", "team"],
        b"worker-2",
    );
    r.expect(3);
    assert_eq!(
        r.stdout.trim(),
        "not created: leader in namespace team already has a value (left unchanged)"
    );
    assert!(r.stderr.is_empty(), "{r:?}");
    assert_eq!(
        env.get_bytes(&["leader", "--namespace", "team"]),
        (0, b"worker-1".to_vec())
    );
    let v = env
        .run_piped(
            &[
                "control",
                "put-if-absent",
                "leader",
                "--namespace",
                "team",
                "--json",
            ],
            b"worker-3",
        )
        .json();
    assert_eq!(v["created"], false);
    assert_eq!(v["namespace"], "team");

    // The solo records are others.
    assert_eq!(env.get_bytes(&["leader"]).0, 1);
    assert!(env.run(&["control", "list"]).expect(0).stdout.is_empty());
    let r = env.run(&["control", "list", "--namespace", "team"]);
    assert_eq!(r.stdout, "leader\n");
    let r = env.run_piped(&["control", "put-if-absent", "leader"], b"solo");
    r.expect(0);
    let r = env.run(&["control", "get", "leader", "--namespace", "team", "--json"]);
    assert_eq!(r.json()["value"], "worker-1");
}

#[test]
fn bad_keys_files_and_namespaces_are_usage_errors() {
    let env = Env::start("control-errors");
    for (args, message) in [
        (
            &["control", "get", "/abs"][..],
            "error: invalid control-plane key \"/abs\": leading slash",
        ),
        (
            &["control", "delete", "a//b"][..],
            "error: invalid control-plane key \"a//b\": empty segment",
        ),
        (
            &["control", "list", "../"][..],
            "error: invalid control-plane prefix \"../\": `..` segment",
        ),
    ] {
        let r = env.run(args);
        r.expect(2);
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{r:?}");
        assert!(lines[0].starts_with(message), "{r:?}");
        assert!(
            lines[1].starts_with("hint: a key is a relative slash path"),
            "{r:?}"
        );
    }
    let r = env.run_piped(&["control", "put", "x/../y"], b"v");
    r.expect(2);
    assert!(r.stderr.contains("`..` segment"), "{r:?}");

    let missing = env.cache("no-such-file");
    let r = env.run(&["control", "put", "k", s(&missing)]);
    r.expect(2);
    assert!(
        r.stderr.starts_with("error: cannot read the value from "),
        "{r:?}"
    );

    // A bad namespace is a configuration error (`invalid-config`, exit 2).
    let r = env.run_piped(&["control", "put", "k", "--namespace", "a/b"], b"v");
    r.expect(2);
    assert!(r.stderr.contains("Invalid namespace"), "{r:?}");

    let v = env.run(&["control", "get", "a/", "--json"]).json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["errorKind"], "config");
    assert!(
        v["hint"].as_str().unwrap().contains("no leading slash"),
        "{v}"
    );
}
