//! Each command's happy path against fake-gcs-server, with `--json` parsed and checked.

use super::{has_control_bytes, run, s, write_tree, Env, TREE};
use serde_json::Value;

/// Every request kind the JSON reports, always present.
const KINDS: [&str; 10] = [
    "bucket", "list", "metadata", "download", "upload", "delete", "copy", "patch", "auth", "other",
];

fn check_transfer(v: &Value, files: u64) {
    assert_eq!(v["files"], files, "{v}");
    for field in ["deleted", "bytes", "elapsedMs"] {
        assert!(v[field].is_u64(), "{field} in {v}");
    }
    assert!(v["fastPath"].is_boolean(), "{v}");
    let by_kind = v["requests"]["byKind"]
        .as_object()
        .expect("requests.byKind");
    for k in KINDS {
        assert!(by_kind[k].is_u64(), "{k} in {v}");
    }
    let sum: u64 = by_kind.values().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(v["requests"]["total"], sum);
    assert!(v["phases"].is_array());
}

#[test]
fn caps_needs_no_config() {
    let home = tempfile::tempdir().unwrap();
    let r = run(home.path(), &["caps", "--json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["datastoreType"], "@swamp/gcs-datastore");
    assert_eq!(v["scopedSync"], true);
    let r = run(home.path(), &["caps"]);
    r.expect(0);
    assert!(r.stdout.contains("scopedSync"));
}

#[test]
fn verify_healthy() {
    let env = Env::start("verify-bucket");
    let r = env.run(&["verify", "--json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["healthy"], true);
    assert_eq!(v["bucket"], "verify-bucket");
    assert!(v["latencyMs"].is_number());
    let r = env.run(&["verify"]);
    r.expect(0);
    assert!(r.stdout.starts_with("healthy: "), "{r:#?}");
}

#[test]
fn push_pull_status_mark_dirty_round_trip() {
    let env = Env::start("round-trip");
    let a = env.cache("a");
    write_tree(&a, TREE);

    // Status before the first push: everything would be uploaded.
    let r = env.run(&["status", "--cache", s(&a), "--json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["sidecar"]["version"], 0);
    assert_eq!(v["plan"]["toUpload"].as_array().unwrap().len(), TREE.len());
    assert_eq!(v["remoteIndex"]["found"], false);

    // Push.
    let r = env.run(&["push", "--cache", s(&a), "--json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["command"], "push");
    check_transfer(&v, TREE.len() as u64);
    assert!(v["requests"]["byKind"]["upload"].as_u64().unwrap() >= TREE.len() as u64);

    // A second push is answered by the fast path.
    let r = env.run(&["push", "--cache", s(&a), "--json"]);
    r.expect(0);
    let v = r.json();
    check_transfer(&v, 0);
    assert_eq!(v["fastPath"], true);

    // mark-dirty one file, change it: status plans exactly that upload.
    let rel = TREE[0].0;
    let r = env.run(&["mark-dirty", rel, "--cache", s(&a), "--json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["relPath"], rel);
    assert_eq!(v["bulkInvalidated"], false);
    assert_eq!(v["dirtyPaths"], serde_json::json!([rel]));
    std::fs::write(a.join(rel), "{\"size\":100}\n").unwrap();
    let r = env.run(&["status", "--cache", s(&a), "--json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["plan"]["walk"], "scoped");
    assert_eq!(v["plan"]["toUpload"][0]["relPath"], rel);
    assert_eq!(v["sidecar"]["dirtyPaths"], serde_json::json!([rel]));
    let human = env.run(&["status", "--cache", s(&a)]);
    human.expect(0);
    assert!(human.stdout.contains(&format!("+ {rel}")), "{human:#?}");

    // Push the delta (human summary).
    let r = env.run(&["push", "--cache", s(&a)]);
    r.expect(0);
    assert!(r.stdout.starts_with("pushed 1 file ("), "{r:#?}");
    assert!(r.stdout.contains("requests: "), "{r:#?}");

    // Pull into a fresh cache: the same tree.
    let b = env.cache("b");
    let r = env.run(&["pull", "--cache", s(&b), "--json"]);
    r.expect(0);
    let v = r.json();
    check_transfer(&v, TREE.len() as u64);
    assert_eq!(v["cache"], s(&b));
    for (rel, _) in TREE {
        assert_eq!(
            std::fs::read(a.join(rel)).unwrap(),
            std::fs::read(b.join(rel)).unwrap(),
            "{rel}"
        );
    }
    let r = env.run(&["pull", "--cache", s(&b)]);
    r.expect(0);
    assert!(
        r.stdout.starts_with("already in sync (fast path)"),
        "{r:#?}"
    );
    assert!(!has_control_bytes(&r.stderr));

    // mark-dirty without a path: bulk.
    let r = env.run(&["mark-dirty", "--cache", s(&b), "--json"]);
    r.expect(0);
    assert_eq!(r.json()["bulkInvalidated"], true);
    let r = env.run(&["status", "--cache", s(&b), "--json"]);
    assert_eq!(r.json()["plan"]["walk"], "full");
}

#[test]
fn scoped_and_metadata_only_pulls() {
    let env = Env::start("scoped");
    let a = env.cache("a");
    write_tree(&a, TREE);
    env.run(&["push", "--cache", s(&a)]).expect(0);

    let c = env.cache("c");
    let r = env.run(&["pull", "--model", "@t/box/m1", "--cache", s(&c), "--json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["models"], serde_json::json!(["@t/box/m1"]));
    check_transfer(&v, 2);
    assert!(c.join("data/@t/box/m1/config/1/raw").is_file());
    assert!(!c.join("data/@t/box/m2").exists());

    let d = env.cache("d");
    let r = env.run(&["pull", "--metadata-only", "--cache", s(&d), "--json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["metadataOnly"], true);
    assert!(!d.join("data/@t/box/m1/config/1/raw").exists());
    assert!(d.join("data/@t/box/m1/config/1/metadata.yaml").is_file());
    assert!(d.join("audit/day.jsonl").is_file());
}

#[test]
fn sync_takes_the_global_lock_or_model_locks() {
    let env = Env::start("sync-bucket");
    let a = env.cache("a");
    write_tree(&a, TREE);
    let r = env.run(&["sync", "--cache", s(&a), "--json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["command"], "sync");
    assert_eq!(v["locks"][0]["key"], ".datastore.lock");
    assert_eq!(v["locks"][0]["released"], true);
    check_transfer(&v["push"], TREE.len() as u64);
    check_transfer(&v["pull"], 0);
    assert!(v["requests"]["total"].as_u64().unwrap() > 0);

    let b = env.cache("b");
    let r = env.run(&[
        "sync",
        "--model",
        "@t/box/m2",
        "--model",
        "@t/box/m1",
        "--cache",
        s(&b),
        "--json",
    ]);
    r.expect(0);
    let v = r.json();
    let keys: Vec<&str> = v["locks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["data/@t/box/m1/.lock", "data/@t/box/m2/.lock"]);
    check_transfer(&v["pull"], 3);
    assert!(b.join("data/@t/box/m2/config/1/raw").is_file());

    // Nothing is left locked.
    let r = env.run(&["lock", "inspect", "--json"]);
    assert_eq!(r.json()["held"], false);

    // Human mode.
    let r = env.run(&["sync", "--cache", s(&a)]);
    r.expect(0);
    assert!(r.stdout.starts_with("locked   .datastore.lock"), "{r:#?}");
    assert!(r.stdout.contains("released 1 lock"), "{r:#?}");
}

#[test]
fn global_options_before_or_after_the_command() {
    let env = Env::start("global-opts");
    let a = env.cache("a");
    write_tree(&a, TREE);
    let config = env.config();
    let home = env.home.path();
    let before = run(
        home,
        &["--json", "--cache", s(&a), "--config", &config, "push"],
    );
    before.expect(0);
    assert_eq!(before.json()["files"], TREE.len() as u64);
    let after = run(
        home,
        &["push", "--json", "--cache", s(&a), "--config", &config],
    );
    after.expect(0);
    assert_eq!(after.json()["fastPath"], true);
    let mixed = run(home, &["--config", &config, "lock", "inspect", "--json"]);
    mixed.expect(0);
    assert_eq!(mixed.json()["held"], false);
    let nested = run(home, &["lock", "--json", "inspect", "--config", &config]);
    nested.expect(0);
    assert_eq!(nested.json()["command"], "lock inspect");
}

/// `status` plans a deletion for a dirty path that is gone, reads only the index to do so
/// (no upload, download of data, or delete), and the push then deletes exactly that file.
#[test]
fn status_plans_a_deletion_without_transferring() {
    let env = Env::start("status-delete");
    let a = env.cache("a");
    write_tree(&a, TREE);
    env.run(&["push", "--cache", s(&a)]).expect(0);
    let gone = TREE[1].0;
    std::fs::remove_file(a.join(gone)).unwrap();
    env.run(&["mark-dirty", gone, "--cache", s(&a)]).expect(0);

    let r = env.run(&["status", "--cache", s(&a), "--json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["plan"]["toDelete"], serde_json::json!([gone]), "{v}");
    assert_eq!(v["plan"]["toUpload"], serde_json::json!([]), "{v}");
    assert_eq!(v["remoteIndex"]["entries"], TREE.len(), "{v}");
    assert!(v["sidecar"]["remoteIndexGeneration"]
        .as_str()
        .is_some_and(|g| !g.is_empty()));
    let by_kind = &v["requests"]["byKind"];
    for kind in ["upload", "delete", "copy"] {
        assert_eq!(by_kind[kind], 0, "status must not {kind}: {v}");
    }
    assert!(
        by_kind["download"].as_u64().unwrap() <= 2,
        "at most the meta and the index are read: {v}"
    );
    let human = env.run(&["status", "--cache", s(&a)]);
    human.expect(0);
    assert!(human.stdout.contains(&format!("- {gone}")), "{human:#?}");

    let r = env.run(&["push", "--cache", s(&a), "--json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["deleted"], 1, "{v}");
    assert_eq!(v["files"], 0, "{v}");
    let b = env.cache("b");
    env.run(&["pull", "--cache", s(&b)]).expect(0);
    assert!(!b.join(gone).exists(), "the deletion reached the bucket");
    assert!(b.join(TREE[0].0).exists());
}

/// With `STORAGE_EMULATOR_HOST` (as Google's client libraries honour it) a config that
/// names only the bucket talks to the emulator, without credentials (without the variable
/// it would aim at storage.googleapis.com and need them).
#[test]
fn storage_emulator_host_selects_the_endpoint_without_credentials() {
    let env = Env::start("via-env");
    let home = env.home.path();
    let config = r#"{"bucket":"via-env"}"#;
    let host = format!("127.0.0.1:{}", env.server.port());
    let vars = [("STORAGE_EMULATOR_HOST", host.as_str())];
    let r = super::run_env(home, &["verify", "--config", config, "--json"], &vars);
    r.expect(0);
    assert_eq!(r.json()["healthy"], true, "{r:#?}");
    let a = env.cache("a");
    write_tree(&a, TREE);
    let r = super::run_env(
        home,
        &["push", "--cache", s(&a), "--config", config, "--json"],
        &vars,
    );
    r.expect(0);
    let v = r.json();
    assert_eq!(v["files"], TREE.len(), "{v}");
    assert_eq!(v["requests"]["byKind"]["auth"], 0, "no credentials: {v}");
}

#[test]
fn migrate_index_status_and_two_phase_push() {
    let env = Env::start("shard-first");
    let a = env.cache("a");
    write_tree(&a, TREE);
    env.run(&["push", "--cache", s(&a)]).expect(0);
    let r = env.run(&["status", "--cache", s(&a), "--json"]);
    r.expect(0);
    assert_eq!(r.json()["remoteIndex"]["layout"], "monolith");

    let r = env.run(&["migrate-index", "--json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["outcome"], "migrated", "{v}");
    assert_eq!(
        (v["version"].clone(), v["commitSeq"].clone()),
        (2.into(), 1.into())
    );
    assert_eq!(v["entries"], TREE.len());
    let r = env.run(&["migrate-index"]);
    r.expect(0);
    assert!(r.stdout.starts_with("already shard-first: "), "{r:#?}");

    env.run(&["pull", "--cache", s(&a)]).expect(0);
    let r = env.run(&["status", "--cache", s(&a)]);
    r.expect(0);
    assert!(
        r.stdout
            .contains("shard-first, commitSeq 1 (this cache verified it)"),
        "{r:#?}"
    );

    let (rel, _) = TREE[0];
    env.run(&["mark-dirty", rel, "--cache", s(&a)]).expect(0);
    std::fs::write(a.join(rel), "{\"size\":1, \"edited\": true}\n").unwrap();
    let r = env.run(&["push", "--two-phase", "--cache", s(&a), "--json"]);
    r.expect(0);
    let v = r.json();
    check_transfer(&v, 1);
    let phases: Vec<&str> = v["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(phases.contains(&"preparePush.manifest"), "{phases:?}");
    let r = env.run(&["status", "--cache", s(&a), "--json"]);
    r.expect(0);
    let v = r.json();
    assert_eq!(v["remoteIndex"]["layout"], "shard-first");
    assert_eq!(v["remoteIndex"]["commitSeq"], 2);
    assert_eq!(v["sidecar"]["commitSeq"], 2);
    assert_eq!(v["sidecar"]["localDirty"], false);

    let b = env.cache("b");
    env.run(&["pull", "--cache", s(&b)]).expect(0);
    assert_eq!(
        std::fs::read_to_string(b.join(rel)).unwrap(),
        "{\"size\":1, \"edited\": true}\n"
    );
}
