//! Configuration errors (exit 2, naming the problem), precedence of the config sources,
//! and operational failures of a valid config (exit 1 with a hint).

use super::{run, run_env, s, Env};

#[test]
fn bad_json_names_the_source() {
    let home = tempfile::tempdir().unwrap();
    let r = run(home.path(), &["verify", "--config", "{bucket"]);
    r.expect(2);
    assert!(
        r.stderr.starts_with("error: --config: not valid JSON"),
        "{r:#?}"
    );
    assert_eq!(r.stderr.lines().count(), 1, "{r:#?}");
}

#[test]
fn invalid_field_is_named() {
    let home = tempfile::tempdir().unwrap();
    let r = run(
        home.path(),
        &[
            "--json",
            "verify",
            "--config",
            r#"{"bucket":"b-1","pullConcurrency":0}"#,
        ],
    );
    r.expect(2);
    let v = r.json();
    assert_eq!(v["errorKind"], "config");
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains("`pullConcurrency`"), "{msg}");
    assert!(msg.starts_with("--config:"), "{msg}");

    let r = run(home.path(), &["verify", "--config", r#"{"bucket":"A"}"#]);
    r.expect(2);
    assert!(r.stderr.contains("`bucket`"), "{r:#?}");
    assert!(!r.stderr.contains("backtrace") && !r.stderr.contains("Error {"));
}

#[test]
fn wrong_datastore_type_in_env_and_file() {
    let home = tempfile::tempdir().unwrap();
    let r = run_env(
        home.path(),
        &["verify"],
        &[("SWAMP_DATASTORE", r#"@swamp/s3-datastore:{"bucket":"b-1"}"#)],
    );
    r.expect(2);
    assert!(r.stderr.contains("is not @swamp/gcs-datastore"), "{r:#?}");

    let yaml = home.path().join(".swamp.yaml");
    std::fs::write(
        &yaml,
        "datastore:\n  type: \"@swamp/s3-datastore\"\n  config:\n    bucket: b-1\n",
    )
    .unwrap();
    let r = run(
        home.path(),
        &["verify", "--config-file", yaml.to_str().unwrap()],
    );
    r.expect(2);
    assert!(r.stderr.contains("field `datastore.type`"), "{r:#?}");

    std::fs::write(&yaml, "datastore: [\n").unwrap();
    let r = run(
        home.path(),
        &["verify", "--config-file", yaml.to_str().unwrap()],
    );
    r.expect(2);
    assert!(r.stderr.contains("not valid YAML"), "{r:#?}");
    assert_eq!(r.stderr.lines().count(), 1, "{r:#?}");
}

/// Three sources name three buckets; only one exists. Whichever source wins decides
/// whether `verify` succeeds.
#[test]
fn precedence_is_flag_then_env_then_file() {
    let env = Env::start("real-bucket");
    let home = env.home.path();
    let good = env.config_for("real-bucket", "");
    let bad = env.config_for("missing-bucket", "");
    let yaml = |bucket: &str| {
        let p = home.join(format!("{bucket}.swamp.yaml"));
        std::fs::write(
            &p,
            format!(
                "datastore:\n  type: \"@swamp/gcs-datastore\"\n  config:\n    bucket: {bucket}\n    apiEndpoint: {}\n",
                env.server.endpoint()
            ),
        )
        .unwrap();
        p.to_str().unwrap().to_string()
    };
    let good_file = yaml("real-bucket");
    let bad_file = yaml("missing-bucket");
    let good_env = format!("@swamp/gcs-datastore:{good}");
    let bad_env = format!("@swamp/gcs-datastore:{bad}");

    let verify = |flag: Option<&str>, envv: Option<&str>, file: Option<&str>| {
        let mut args = vec!["verify", "--json"];
        if let Some(f) = flag {
            args.extend(["--config", f]);
        }
        if let Some(f) = file {
            args.extend(["--config-file", f]);
        }
        let vars: Vec<(&str, &str)> = envv.map(|e| ("SWAMP_DATASTORE", e)).into_iter().collect();
        run_env(home, &args, &vars)
    };

    // The flag beats the environment and the file.
    let r = verify(Some(&good), Some(&bad_env), Some(&bad_file));
    r.expect(0);
    let v = r.json();
    assert_eq!(v["bucket"], "real-bucket");
    assert_eq!(v["configSource"], "--config");
    verify(Some(&bad), Some(&good_env), Some(&good_file)).expect(1);

    // The environment beats the file.
    let r = verify(None, Some(&good_env), Some(&bad_file));
    r.expect(0);
    assert_eq!(r.json()["configSource"], "SWAMP_DATASTORE");
    verify(None, Some(&bad_env), Some(&good_file)).expect(1);

    // The file alone.
    let r = verify(None, None, Some(&good_file));
    r.expect(0);
    assert_eq!(r.json()["configSource"], good_file.as_str());
}

#[test]
fn unreachable_endpoint_exits_1_with_a_hint() {
    let home = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        r#"{{"bucket":"b-1","apiEndpoint":"http://127.0.0.1:{port}","retryMaxAttempts":1}}"#
    );
    let r = run(home.path(), &["verify", "--config", &config]);
    r.expect(1);
    assert!(r.stdout.starts_with("unhealthy:"), "{r:#?}");

    let cache = home.path().join("c");
    let r = run(
        home.path(),
        &[
            "pull",
            "--cache",
            cache.to_str().unwrap(),
            "--config",
            &config,
        ],
    );
    r.expect(1);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{r:#?}");
    assert!(lines[0].starts_with("error: "), "{r:#?}");
    assert!(
        lines[1].starts_with("hint: ") && lines[1].contains(&port.to_string()),
        "{r:#?}"
    );

    let r = run(
        home.path(),
        &[
            "--json",
            "push",
            "--cache",
            cache.to_str().unwrap(),
            "--config",
            &config,
        ],
    );
    r.expect(1);
    let v = r.json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["exitCode"], 1);
    assert!(v["hint"].is_string(), "{v}");
}

#[test]
fn missing_bucket_says_so() {
    let env = Env::start("present");
    let config = env.config_for("absent-bucket", "\"retryMaxAttempts\":1");
    let home = env.home.path();
    let r = run(home, &["verify", "--config", &config]);
    r.expect(1);
    assert!(r.stdout.contains("does not exist"), "{r:#?}");
    let cache = home.join("c");
    let r = run(
        home,
        &[
            "push",
            "--cache",
            cache.to_str().unwrap(),
            "--config",
            &config,
        ],
    );
    r.expect(1);
    assert!(
        r.stderr
            .contains("hint: the bucket \"absent-bucket\" does not exist"),
        "{r:#?}"
    );
    let r = run(
        home,
        &[
            "pull",
            "--cache",
            cache.to_str().unwrap(),
            "--config",
            &config,
            "--json",
        ],
    );
    r.expect(1);
    assert!(
        r.json()["hint"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{r:#?}"
    );
}

/// No credential source at all (no `GOOGLE_APPLICATION_CREDENTIALS`, no gcloud file in the
/// private HOME, a metadata server that does not answer): exit 1, one error line and a
/// hint naming the ADC sources, in both output modes.
#[test]
fn missing_credentials_exit_1_naming_the_adc_sources() {
    let env = Env::start("auth");
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metadata = format!("127.0.0.1:{dead}");
    let config = env.config_for("auth", r#""credentials":"adc","retryMaxAttempts":1"#);
    let home = env.home.path();
    let cache = home.join("c");
    let no_creds = [("GCE_METADATA_HOST", metadata.as_str())];
    let r = run_env(
        home,
        &["push", "--cache", s(&cache), "--config", &config],
        &no_creds,
    );
    r.expect(1);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{r:#?}");
    assert!(lines[0].starts_with("error: "), "{r:#?}");
    assert!(
        lines[1].starts_with("hint: ")
            && lines[1].contains("GOOGLE_APPLICATION_CREDENTIALS")
            && lines[1].contains("gcloud auth application-default login"),
        "{r:#?}"
    );
    let r = run_env(
        home,
        &["pull", "--cache", s(&cache), "--config", &config, "--json"],
        &no_creds,
    );
    r.expect(1);
    let v = r.json();
    assert_eq!(v["exitCode"], 1);
    assert!(
        v["hint"]
            .as_str()
            .unwrap()
            .contains("GOOGLE_APPLICATION_CREDENTIALS"),
        "{v}"
    );
    assert!(!cache.join("data").exists(), "nothing was written");
}
