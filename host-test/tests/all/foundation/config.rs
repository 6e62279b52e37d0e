//! Configuration through the component's `configure` export: invalid configs are rejected with
//! `invalid-config` naming the field (`docs/swamp-contract.md#configuration`), defaults are
//! applied, unknown keys are ignored, and `SWAMP_GCS_REQUEST_TIMEOUT_MS` overrides the timeout.

use crate::common::*;
use gcs_host::datastore::GuestError;
use gcs_host::{CallError, Datastore, DatastoreOptions, Host};

async fn unconfigured(host: &Host, cache: &Cache, env: &[(&str, &str)]) -> Datastore {
    let mut opts = DatastoreOptions::new(cache.path(), "http://127.0.0.1:9");
    for (k, v) in env {
        opts = opts.env(k, v);
    }
    host.open(&opts).await.unwrap()
}

/// The one config table, shared with the extension's zod schema tests.
struct ConfigCases {
    valid: Vec<String>,
    invalid: Vec<(String, String)>,
}

fn config_cases() -> ConfigCases {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../../../../fixtures/config_cases.json")).unwrap();
    let texts = |v: &serde_json::Value| v.as_str().unwrap().to_string();
    ConfigCases {
        valid: doc["valid"].as_array().unwrap().iter().map(texts).collect(),
        invalid: doc["invalid"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (texts(&c["config"]), texts(&c["field"])))
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_configs_of_the_shared_table_are_accepted() {
    let host = Host::new().unwrap();
    let cache = Cache::new();
    let mut ds = unconfigured(&host, &cache, &[]).await;
    let cases = config_cases();
    assert!(cases.valid.len() >= 20, "the shared table is read");
    for json in &cases.valid {
        if let Err(e) = ds.configure(json).await {
            panic!("{json}: rejected: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_configs_are_rejected_naming_the_field() {
    let host = Host::new().unwrap();
    let cache = Cache::new();
    let mut ds = unconfigured(&host, &cache, &[]).await;
    let cases = config_cases();
    assert!(cases.invalid.len() >= 50, "the shared table is read");
    for (json, field) in &cases.invalid {
        let (json, field) = (json.as_str(), field.as_str());
        let e = expect_err(ds.configure(json).await, json);
        match &e {
            CallError::Guest(GuestError::InvalidConfig(c)) => {
                assert_eq!(c.field, *field, "{json}: {}", c.rule);
                assert!(!c.rule.is_empty(), "{json}: a rule is stated");
                assert!(
                    e.to_string().contains(field),
                    "{json}: the message names the field: {e}"
                );
            }
            other => panic!("{json}: expected invalid-config, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_before_configure_are_refused() {
    let host = Host::new().unwrap();
    let cache = Cache::new();
    let mut ds = unconfigured(&host, &cache, &[]).await;
    let e = assert_kind(
        ds.stat("k").await,
        "invalid-config",
        "stat before configure",
    );
    match e {
        CallError::Guest(GuestError::InvalidConfig(c)) => assert_eq!(c.field, "(config)"),
        other => panic!("{other:?}"),
    }
    // A rejected configure leaves the datastore unconfigured too.
    assert!(ds.configure(r#"{"bucket":"X"}"#).await.is_err());
    assert_kind(
        ds.stat("k").await,
        "invalid-config",
        "stat after a bad configure",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_and_unknown_keys() {
    let host = Host::new().unwrap();
    let cache = Cache::new();
    let mut ds = unconfigured(&host, &cache, &[]).await;
    let c = ds
        .configure(r#"{"bucket":"my-bucket","someFutureKey":{"x":1}}"#)
        .await
        .unwrap();
    assert_eq!(c.bucket, "my-bucket");
    assert_eq!(c.prefix, None);
    assert_eq!(c.api_endpoint, "https://storage.googleapis.com");
    assert!(!c.emulator);
    assert_eq!(
        (c.pull_concurrency, c.push_concurrency, c.request_timeout_ms),
        (50, 25, 30_000)
    );

    let c = ds
        .configure(
            r#"{"bucket":"my.dotted_bucket-1","prefix":"swamp","apiEndpoint":"http://127.0.0.1:4443/","pullConcurrency":1000,"pushConcurrency":1,"requestTimeoutMs":1000}"#,
        )
        .await
        .unwrap();
    assert_eq!(c.prefix.as_deref(), Some("swamp"));
    assert_eq!(c.api_endpoint, "http://127.0.0.1:4443");
    assert!(c.emulator, "an apiEndpoint means emulator mode (no auth)");
    assert_eq!(
        (c.pull_concurrency, c.push_concurrency, c.request_timeout_ms),
        (1000, 1, 1000)
    );
    let c = ds
        .configure(r#"{"bucket":"b-ok","apiEndpoint":"http://127.0.0.1:4443","credentials":"adc"}"#)
        .await
        .unwrap();
    assert!(
        !c.emulator,
        "credentials=adc keeps auth on with an endpoint"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_timeout_env_override() {
    let host = Host::new().unwrap();
    let cache = Cache::new();
    let cases: &[(&str, u32)] = &[
        ("5000", 5000),
        ("1500.7", 1500),
        ("999", 20_000),    // out of range: ignored
        ("600001", 20_000), // out of range: ignored
        ("soon", 20_000),   // not a number: ignored
    ];
    for (raw, want) in cases {
        let mut ds = unconfigured(&host, &cache, &[("SWAMP_GCS_REQUEST_TIMEOUT_MS", raw)]).await;
        let c = ds
            .configure(r#"{"bucket":"b-ok","requestTimeoutMs":20000}"#)
            .await
            .unwrap();
        assert_eq!(
            c.request_timeout_ms, *want,
            "SWAMP_GCS_REQUEST_TIMEOUT_MS={raw}"
        );
    }
    // Without the variable the config value stands; with it and no config value it wins
    // over the default.
    let mut ds = unconfigured(&host, &cache, &[]).await;
    let c = ds
        .configure(r#"{"bucket":"b-ok","requestTimeoutMs":20000}"#)
        .await
        .unwrap();
    assert_eq!(c.request_timeout_ms, 20_000);
    let mut ds = unconfigured(&host, &cache, &[("SWAMP_GCS_REQUEST_TIMEOUT_MS", "7000")]).await;
    assert_eq!(
        ds.configure(r#"{"bucket":"b-ok"}"#)
            .await
            .unwrap()
            .request_timeout_ms,
        7000
    );
    // STORAGE_EMULATOR_HOST stands in for apiEndpoint.
    let mut ds = unconfigured(
        &host,
        &cache,
        &[("STORAGE_EMULATOR_HOST", "127.0.0.1:9023")],
    )
    .await;
    let c = ds.configure(r#"{"bucket":"b-ok"}"#).await.unwrap();
    assert_eq!(c.api_endpoint, "http://127.0.0.1:9023");
    assert!(c.emulator);
}
