//! Namespaces from the command line: `namespace register/list`, `--namespace` on pull,
//! push, status and sync (and `datastore.namespace` from a .swamp.yaml), `catalog
//! export/pull/fetch`.

use super::{run, s, write_tree, Env};
use std::io::Write as _;
use std::process::Stdio;

const REPO_A: &str = "6f1c2d3e-0000-4000-8000-00000000000a";
const REPO_B: &str = "6f1c2d3e-0000-4000-8000-00000000000b";

/// A .swamp.yaml for this env's bucket, with a repository id and a namespace.
fn swamp_yaml(env: &Env, repo_id: &str, namespace: &str) -> std::path::PathBuf {
    let path = env.home.path().join(format!("{namespace}.swamp.yaml"));
    let text = format!(
        "repoId: {repo_id}\ndatastore:\n  type: \"@swamp/gcs-datastore\"\n  namespace: {namespace}\n  config:\n    bucket: {}\n    apiEndpoint: {}\n",
        env.bucket,
        env.server.endpoint()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn register_list_and_a_taken_namespace() {
    let env = Env::start("ns-register");
    let r = env.run(&["namespace", "list"]);
    r.expect(0);
    assert!(r.stdout.contains("no namespaces registered"), "{r:#?}");

    let r = env.run(&[
        "namespace",
        "register",
        "alpha",
        "--repo-id",
        REPO_A,
        "--json",
    ]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["command"], "namespace register");
    assert_eq!(v["created"], true);
    assert_eq!(v["repoId"], REPO_A);
    assert!(v["registeredAt"].as_str().unwrap().ends_with('Z'));

    // The same repository again: refreshed, not refused.
    let r = env.run(&["namespace", "register", "alpha", "--repo-id", REPO_A]);
    r.expect(0);
    assert!(
        r.stdout.contains("already registered for repository"),
        "{r:#?}"
    );

    // Another repository: refused, naming the owner, with a hint; nothing written.
    let r = env.run(&["namespace", "register", "alpha", "--repo-id", REPO_B]);
    r.expect(1);
    assert!(
        r.stderr.contains(&format!(
            "Namespace \"alpha\" is already registered by repo {REPO_A}"
        )),
        "{r:#?}"
    );
    assert!(r.stderr.contains("choose another namespace"), "{r:#?}");
    let r = env.run(&[
        "namespace",
        "register",
        "alpha",
        "--repo-id",
        REPO_B,
        "--json",
    ]);
    r.expect(1);
    assert_eq!(r.json()["errorKind"], "namespace-taken");

    // The repository id from a .swamp.yaml.
    let yaml = swamp_yaml(&env, REPO_B, "beta");
    let r = run(
        env.home.path(),
        &["namespace", "register", "beta", "--config-file", s(&yaml)],
    );
    r.expect(0);
    assert!(
        r.stdout.contains(&format!("for repository {REPO_B}")),
        "{r:#?}"
    );

    let r = env.run(&["namespace", "list", "--json"]);
    r.expect(0);
    assert_eq!(r.json()["namespaces"], serde_json::json!(["alpha", "beta"]));
    let r = env.run(&["namespace", "list"]);
    assert_eq!(r.stdout, "alpha\nbeta\n");

    // Bad input: exit 2, before anything is written.
    let r = env.run(&["namespace", "register", "a/b", "--repo-id", REPO_A]);
    r.expect(2);
    assert!(r.stderr.contains("Invalid namespace \"a/b\""), "{r:#?}");
    env.run(&["namespace", "register", "gamma"]).expect(2);
}

#[test]
fn namespace_flag_and_yaml_scope_pull_push_status_and_sync() {
    let env = Env::start("ns-sync");
    env.run(&["namespace", "register", "alpha", "--repo-id", REPO_A])
        .expect(0);
    env.run(&["namespace", "register", "beta", "--repo-id", REPO_B])
        .expect(0);
    let (a, b) = (env.cache("a"), env.cache("b"));
    write_tree(
        &a,
        &[
            ("alpha/data/@t/box/m1/config/1/raw", "alpha 1\n"),
            ("alpha/workflow-runs/wf/run-1.yaml", "status: ok\n"),
        ],
    );
    write_tree(&b, &[("beta/data/@t/box/m1/config/1/raw", "beta 1\n")]);

    let r = env.run(&["status", "--cache", s(&a), "--namespace", "alpha", "--json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["namespace"], "alpha");
    assert_eq!(v["plan"]["toUpload"].as_array().unwrap().len(), 2);
    let r = env.run(&["push", "--cache", s(&a), "--namespace", "alpha", "--json"]);
    r.expect(0);
    assert_eq!(r.json()["files"], 2);
    env.run(&["push", "--cache", s(&b), "--namespace", "beta"])
        .expect(0);

    // A clone of alpha, through the namespace of its .swamp.yaml: alpha's files only.
    let yaml = swamp_yaml(&env, REPO_A, "alpha");
    let clone = env.cache("clone");
    let r = run(
        env.home.path(),
        &[
            "pull",
            "--cache",
            s(&clone),
            "--config-file",
            s(&yaml),
            "--json",
        ],
    );
    r.expect(0);
    let v = r.json();
    assert_eq!(
        (v["namespace"].as_str(), v["files"].as_u64()),
        (Some("alpha"), Some(2))
    );
    assert!(clone.join("alpha/data/@t/box/m1/config/1/raw").is_file());
    assert!(!clone.join("beta").exists());
    // `--namespace ""` overrides the yaml: solo, where there is nothing (the registered
    // namespaces' directories are not solo data).
    let solo = env.cache("solo");
    let r = run(
        env.home.path(),
        &[
            "pull",
            "--cache",
            s(&solo),
            "--config-file",
            s(&yaml),
            "--namespace",
            "",
            "--json",
        ],
    );
    r.expect(0);
    assert_eq!(r.json()["files"], 0);
    assert_eq!(r.json()["namespace"], serde_json::Value::Null);

    // sync takes swamp's namespaced lock.
    let r = env.run(&["sync", "--cache", s(&b), "--namespace", "beta", "--json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["locks"][0]["key"], ".locks/beta.lock");
    assert_eq!(v["namespace"], "beta");
    let r = env.run(&[
        "sync",
        "--cache",
        s(&b),
        "--namespace",
        "beta",
        "--model",
        "@t/box/m1",
        "--json",
    ]);
    r.expect(0);
    assert_eq!(r.json()["locks"][0]["key"], "beta/data/@t/box/m1/.lock");

    // A bad slug is a config error.
    let r = env.run(&["pull", "--cache", s(&a), "--namespace", ".."]);
    r.expect(2);
    assert!(r.stderr.contains("Invalid namespace"), "{r:#?}");
}

#[test]
fn catalog_export_pull_and_fetch() {
    let env = Env::start("ns-catalog");
    env.run(&["namespace", "register", "alpha", "--repo-id", REPO_A])
        .expect(0);
    env.run(&["namespace", "register", "beta", "--repo-id", REPO_B])
        .expect(0);
    let b = env.cache("b");
    write_tree(&b, &[("beta/outputs/report.txt", "beta report\n")]);
    env.run(&["push", "--cache", s(&b), "--namespace", "beta"])
        .expect(0);

    let rows_b =
        r#"[{"relPath":"outputs/report.txt","size":12,"lastModified":"2026-06-03T00:00:00.000Z"}]"#;
    let rows_file = env.home.path().join("rows.json");
    std::fs::write(&rows_file, rows_b).unwrap();
    let export = |extra: &[&str]| {
        let mut args = vec!["catalog", "export", "--cache", s(&b), "--namespace", "beta"];
        args.extend_from_slice(extra);
        env.run(&args)
    };
    let r = export(&["--rows", s(&rows_file), "--json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["written"], true);
    assert_eq!(v["key"], "beta/.catalog-export.json");
    assert_eq!(v["size"], rows_b.len());
    let r = export(&["--rows", s(&rows_file)]);
    r.expect(0);
    assert!(r.stdout.contains("unchanged"), "{r:#?}");

    // Rows from stdin; not an array: exit 2.
    let mut cmd = super::cmd(env.home.path());
    let config = env.config();
    cmd.args([
        "catalog",
        "export",
        "--cache",
        s(&b),
        "--namespace",
        "beta",
        "--rows",
        "-",
        "--config",
        &config,
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"{}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    export(&["--rows", s(&rows_file.with_extension("none"))]).expect(2);
    env.run(&[
        "catalog",
        "export",
        "--cache",
        s(&b),
        "--rows",
        s(&rows_file),
    ])
    .expect(2);

    // alpha reads the others' catalogs: every registered namespace but its own.
    let r = env.run(&["catalog", "pull", "--namespace", "alpha", "--json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["catalogs"][0]["namespace"], "beta");
    assert_eq!(v["catalogs"][0]["rows"][0]["relPath"], "outputs/report.txt");
    assert_eq!(v["catalogs"].as_array().unwrap().len(), 1);
    let r = env.run(&["catalog", "pull", "beta", "gamma"]);
    r.expect(0);
    assert!(
        r.stdout.contains("beta") && r.stdout.contains("1 row"),
        "{r:#?}"
    );
    assert!(r.stdout.contains("gamma") && r.stdout.contains("no readable export"));

    // One file of beta, to stdout or a file; absent: exit 1; traversal refused.
    let r = env.run(&["catalog", "fetch", "beta", "outputs/report.txt"]);
    r.expect(0);
    assert_eq!(r.stdout, "beta report\n");
    let out = env.home.path().join("report.txt");
    let r = env.run(&[
        "catalog",
        "fetch",
        "beta",
        "outputs/report.txt",
        "--output",
        s(&out),
        "--json",
    ]);
    r.expect(0);
    assert_eq!(r.json()["size"], 12);
    assert_eq!(std::fs::read(&out).unwrap(), b"beta report\n");
    let r = env.run(&["catalog", "fetch", "beta", "outputs/none.txt"]);
    r.expect(1);
    assert!(r.stderr.contains("has no file outputs/none.txt"), "{r:#?}");
    let r = env.run(&["catalog", "fetch", "beta", "../alpha/x"]);
    r.expect(1);
    assert!(r.stderr.contains("Path traversal rejected"), "{r:#?}");
    env.run(&["catalog", "fetch", "beta", "outputs/report.txt", "--json"])
        .expect(2);
}
