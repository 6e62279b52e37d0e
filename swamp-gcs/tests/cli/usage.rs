//! Usage errors exit 2 with one `error:` line; help reads well.

use super::{has_control_bytes, run, s};

#[test]
fn unknown_flag_exits_2() {
    let home = tempfile::tempdir().unwrap();
    let r = run(home.path(), &["pull", "--bogus"]);
    r.expect(2);
    assert!(r.stderr.contains("unexpected argument '--bogus'"), "{r:#?}");
    assert!(r.stdout.is_empty());
    let r = run(home.path(), &["frobnicate"]);
    r.expect(2);
}

#[test]
fn unknown_flag_with_json_prints_one_json_object() {
    let home = tempfile::tempdir().unwrap();
    let r = run(home.path(), &["--json", "push", "--bogus"]);
    r.expect(2);
    let v = r.json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["exitCode"], 2);
    assert_eq!(v["errorKind"], "usage");
    assert!(v["error"].as_str().unwrap().contains("--bogus"));
}

#[test]
fn cache_is_required_for_cache_commands() {
    let home = tempfile::tempdir().unwrap();
    for command in ["pull", "push", "mark-dirty", "sync", "status"] {
        let r = run(home.path(), &[command, "--config", r#"{"bucket":"b-1"}"#]);
        r.expect(2);
        assert!(
            r.stderr
                .starts_with(&format!("error: `{command}` needs --cache DIR")),
            "{r:#?}"
        );
        assert!(r.stderr.contains("hint: "), "{r:#?}");
        assert_eq!(
            r.stderr.lines().count(),
            2,
            "one error line and one hint: {r:#?}"
        );
    }
}

#[test]
fn bad_model_exits_2() {
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("c");
    let r = run(
        home.path(),
        &[
            "pull",
            "--model",
            "no-slash",
            "--cache",
            s(&cache),
            "--json",
        ],
    );
    r.expect(2);
    let v = r.json();
    assert!(v["error"].as_str().unwrap().contains("expected TYPE/ID"));
}

#[test]
fn ttl_must_be_positive() {
    let home = tempfile::tempdir().unwrap();
    run(home.path(), &["lock", "acquire", "--ttl-ms", "0"]).expect(2);
}

#[test]
fn help_reads_well_for_every_command() {
    let home = tempfile::tempdir().unwrap();
    let top = run(home.path(), &["--help"]);
    top.expect(0);
    for needle in [
        "Examples:",
        "Exit codes",
        "SWAMP_DATASTORE",
        "--config-file",
        "demo",
    ] {
        assert!(top.stdout.contains(needle), "--help lacks {needle}");
    }
    let commands: &[&[&str]] = &[
        &["caps"],
        &["verify"],
        &["pull"],
        &["push"],
        &["mark-dirty"],
        &["sync"],
        &["status"],
        &["demo"],
        &["lock"],
        &["lock", "inspect"],
        &["lock", "acquire"],
        &["lock", "release"],
        &["lock", "force-release"],
    ];
    for c in commands {
        let mut args = c.to_vec();
        args.push("--help");
        let r = run(home.path(), &args);
        r.expect(0);
        assert!(r.stdout.contains("Example"), "{c:?} --help has no example");
        assert!(
            r.stdout.contains("--json"),
            "{c:?} --help lacks the global options"
        );
        assert!(!has_control_bytes(&r.stdout));
    }
    let v = run(home.path(), &["--version"]);
    v.expect(0);
    assert!(v.stdout.starts_with("swamp-gcs "));
}

#[test]
fn no_config_is_a_config_error() {
    let home = tempfile::tempdir().unwrap();
    let r = run(home.path(), &["verify"]);
    r.expect(2);
    assert!(r.stderr.starts_with("error: no datastore config"), "{r:#?}");
}
