//! Configuration through the component's `configure` export: invalid configs are rejected
//! with `invalid-config` naming the field (behaviour.md §3.0), defaults are applied,
//! unknown keys are ignored, and `SWAMP_GCS_REQUEST_TIMEOUT_MS` overrides the timeout.

use crate::common::*;
use host_test::datastore::GuestError;
use host_test::{CallError, Datastore, DatastoreOptions, Host};

async fn unconfigured(host: &Host, cache: &Cache, env: &[(&str, &str)]) -> Datastore {
    let mut opts = DatastoreOptions::new(cache.path(), "http://127.0.0.1:9");
    for (k, v) in env {
        opts = opts.env(k, v);
    }
    host.open(&opts).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_configs_are_rejected_naming_the_field() {
    let host = Host::new().unwrap();
    let cache = Cache::new();
    let mut ds = unconfigured(&host, &cache, &[]).await;
    let table: &[(&str, &str)] = &[
        // bucket rules
        (r#"{}"#, "bucket"),
        (r#"{"bucket":null}"#, "bucket"),
        (r#"{"projectId":"p"}"#, "bucket"),
        (r#"{"bucket":"ab"}"#, "bucket"),
        (&format!(r#"{{"bucket":"{}"}}"#, "a".repeat(64)), "bucket"),
        (r#"{"bucket":"MyBucket"}"#, "bucket"),
        (r#"{"bucket":"goog-reserved"}"#, "bucket"),
        (r#"{"bucket":"my-google-bucket"}"#, "bucket"),
        (r#"{"bucket":"-leading"}"#, "bucket"),
        (r#"{"bucket":"trailing."}"#, "bucket"),
        (r#"{"bucket":"has space"}"#, "bucket"),
        (r#"{"bucket":"slash/name"}"#, "bucket"),
        (r#"{"bucket":7}"#, "bucket"),
        // concurrency ranges (1..=1000, integers)
        (
            r#"{"bucket":"b-ok","pullConcurrency":0}"#,
            "pullConcurrency",
        ),
        (
            r#"{"bucket":"b-ok","pullConcurrency":1001}"#,
            "pullConcurrency",
        ),
        (
            r#"{"bucket":"b-ok","pullConcurrency":-5}"#,
            "pullConcurrency",
        ),
        (
            r#"{"bucket":"b-ok","pullConcurrency":2.5}"#,
            "pullConcurrency",
        ),
        (
            r#"{"bucket":"b-ok","pushConcurrency":0}"#,
            "pushConcurrency",
        ),
        (
            r#"{"bucket":"b-ok","pushConcurrency":1001}"#,
            "pushConcurrency",
        ),
        (
            r#"{"bucket":"b-ok","pushConcurrency":"10"}"#,
            "pushConcurrency",
        ),
        // request timeout (1000..=600000)
        (
            r#"{"bucket":"b-ok","requestTimeoutMs":999}"#,
            "requestTimeoutMs",
        ),
        (
            r#"{"bucket":"b-ok","requestTimeoutMs":600001}"#,
            "requestTimeoutMs",
        ),
        (
            r#"{"bucket":"b-ok","requestTimeoutMs":"5000"}"#,
            "requestTimeoutMs",
        ),
        // endpoint must be a URL
        (
            r#"{"bucket":"b-ok","apiEndpoint":"not-a-url"}"#,
            "apiEndpoint",
        ),
        (
            r#"{"bucket":"b-ok","apiEndpoint":"ftp://h:1"}"#,
            "apiEndpoint",
        ),
        (
            r#"{"bucket":"b-ok","apiEndpoint":"http://"}"#,
            "apiEndpoint",
        ),
        (
            r#"{"bucket":"b-ok","apiEndpoint":"http://h:99999"}"#,
            "apiEndpoint",
        ),
        (r#"{"bucket":"b-ok","apiEndpoint":42}"#, "apiEndpoint"),
        // other wrong types and values
        (r#"{"bucket":"b-ok","prefix":5}"#, "prefix"),
        (r#"{"bucket":"b-ok","projectId":["p"]}"#, "projectId"),
        (r#"{"bucket":"b-ok","credentials":"maybe"}"#, "credentials"),
        (
            r#"{"bucket":"b-ok","retryMaxAttempts":0}"#,
            "retryMaxAttempts",
        ),
        (
            r#"{"bucket":"b-ok","resumableChunkBytes":300000}"#,
            "resumableChunkBytes",
        ),
        // the retry and resumable settings: each bound, and wrong types
        (
            r#"{"bucket":"b-ok","retryMaxAttempts":21}"#,
            "retryMaxAttempts",
        ),
        (
            r#"{"bucket":"b-ok","retryMaxAttempts":true}"#,
            "retryMaxAttempts",
        ),
        (
            r#"{"bucket":"b-ok","retryInitialDelayMs":0}"#,
            "retryInitialDelayMs",
        ),
        (
            r#"{"bucket":"b-ok","retryInitialDelayMs":60001}"#,
            "retryInitialDelayMs",
        ),
        (
            r#"{"bucket":"b-ok","retryMaxDelayMs":300001}"#,
            "retryMaxDelayMs",
        ),
        (
            r#"{"bucket":"b-ok","retryMaxDelayMs":[1]}"#,
            "retryMaxDelayMs",
        ),
        (
            r#"{"bucket":"b-ok","retryMaxElapsedMs":-1}"#,
            "retryMaxElapsedMs",
        ),
        (
            r#"{"bucket":"b-ok","resumableThresholdBytes":0}"#,
            "resumableThresholdBytes",
        ),
        (
            r#"{"bucket":"b-ok","resumableThresholdBytes":1.5}"#,
            "resumableThresholdBytes",
        ),
        (
            r#"{"bucket":"b-ok","resumableChunkBytes":0}"#,
            "resumableChunkBytes",
        ),
        (
            r#"{"bucket":"b-ok","resumableChunkBytes":{"n":262144}}"#,
            "resumableChunkBytes",
        ),
        // more bucket rules: inner characters, edges, length at the bounds
        (r#"{"bucket":"a_"}"#, "bucket"),
        (r#"{"bucket":"_ab"}"#, "bucket"),
        (r#"{"bucket":"ab."}"#, "bucket"),
        (r#"{"bucket":"a*b"}"#, "bucket"),
        (r#"{"bucket":"bücket"}"#, "bucket"),
        (r#"{"bucket":""}"#, "bucket"),
        (r#"{"bucket":"googbucket"}"#, "bucket"),
        (r#"{"bucket":"a-google"}"#, "bucket"),
        // not a JSON object at all
        (r#"[1,2]"#, "(config)"),
        (r#""bucket""#, "(config)"),
        (r#"{"bucket":"#, "(config)"),
        ("bucket: my-bucket", "(config)"),
        ("", "(config)"),
    ];
    for (json, field) in table {
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
