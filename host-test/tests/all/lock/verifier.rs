//! The verifier (`docs/swamp-contract.md#verifier`): one bucket GET; healthy on both local servers;
//! unhealthy, never an error, with the remedy for a missing bucket, a 403, a 401 and a
//! timeout (which the TypeScript verifier does not honour,
//! `docs/hazards.md#verifier-ignores-the-request-timeout`; ours does).

use crate::common::{Cache, Server, BUCKET};
use crate::lock::support::*;
use gcs_host::datastore::Health;
use gcs_host::faults::{FaultAction, FaultMatch, FaultRule};
use gcs_host::traffic::RequestKind;
use std::time::{Duration, Instant};

const DATASTORE_TYPE: &str = "@swamp/gcs-datastore";

fn detail<'a>(h: &'a Health, k: &str) -> Option<&'a str> {
    h.details
        .iter()
        .find(|(key, _)| key == k)
        .map(|(_, v)| v.as_str())
}

#[track_caller]
fn assert_healthy(h: &Health) {
    assert!(h.healthy, "{h:?}");
    assert_eq!(h.message, format!("GCS bucket '{BUCKET}' is accessible"));
    assert_eq!(h.datastore_type, DATASTORE_TYPE);
    assert!(h.latency_ms >= 0.0 && h.latency_ms < 10_000.0, "{h:?}");
    assert_eq!(detail(h, "bucket"), Some(BUCKET));
}

#[track_caller]
fn assert_unhealthy(h: &Health, bucket: &str, hint: &str) {
    assert!(!h.healthy, "{h:?}");
    assert_eq!(h.datastore_type, DATASTORE_TYPE);
    assert!(
        h.message
            .starts_with(&format!("Cannot access GCS bucket '{bucket}': ")),
        "{}",
        h.message
    );
    assert!(
        h.message.contains(hint),
        "expected {hint:?} in {:?}",
        h.message
    );
    assert!(h.latency_ms >= 0.0, "{h:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_on_the_fake() {
    let mut rig = Rig::fake().await;
    let mut ds = rig.open(ALICE, "").await;
    assert_healthy(&ds.verify().await.unwrap());
    assert_eq!(rig.count(RequestKind::Bucket), 1, "one bucket GET");
    assert_eq!(rig.host.traffic.snapshot().total, 1, "and nothing else");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_on_fake_gcs_server() {
    let mut rig = Rig::emulator();
    let mut ds = rig.open(ALICE, "").await;
    assert_healthy(&ds.verify().await.unwrap());
    assert_eq!(rig.count(RequestKind::Bucket), 1);
}

/// A bucket that does not exist, on both servers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_bucket_says_it_does_not_exist() {
    for server in [Server::fake(BUCKET).await, Server::emulator(BUCKET)] {
        let host = gcs_host::Host::new().unwrap();
        let cache = Cache::new();
        let mut ds = host.open(&server.options(&cache)).await.unwrap();
        ds.configure(&server.config("no-such-bucket", ""))
            .await
            .unwrap();
        let h = ds.verify().await.unwrap();
        assert_unhealthy(
            &h,
            "no-such-bucket",
            "The bucket 'no-such-bucket' does not exist.",
        );
        assert!(
            h.message.contains("404"),
            "{} on {}",
            h.message,
            server.name()
        );
    }
}

/// 403: the hint names the missing permission.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_names_storage_buckets_get() {
    let mut rig = Rig::fake().await;
    let mut ds = rig.open(ALICE, "").await;
    rig.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Bucket),
        FaultAction::Status(403),
        None,
    ));
    let h = ds.verify().await.unwrap();
    assert_unhealthy(&h, BUCKET, "storage.buckets.get");
    assert!(h.message.contains("403"), "{}", h.message);
    assert_eq!(rig.count(RequestKind::Bucket), 1, "a 403 is not retried");
}

/// 401: the hint says how to configure credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_says_how_to_set_credentials() {
    let mut rig = Rig::fake().await;
    let mut ds = rig.open(ALICE, "").await;
    rig.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Bucket),
        FaultAction::Status(401),
        None,
    ));
    let h = ds.verify().await.unwrap();
    assert_unhealthy(&h, BUCKET, "Configure GCP credentials");
    assert!(
        h.message.contains("GOOGLE_APPLICATION_CREDENTIALS"),
        "{}",
        h.message
    );
    assert!(h.message.contains("credentials"), "{}", h.message);
    assert!(h.message.contains("401"), "{}", h.message);
}

/// A bucket GET that never answers: unhealthy after about `requestTimeoutMs`, not an
/// error and not a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_endpoint_is_unhealthy_within_the_timeout() {
    let mut rig = Rig::fake().await;
    let mut ds = rig
        .open(ALICE, r#""requestTimeoutMs":1000,"retryMaxAttempts":1"#)
        .await;
    rig.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Bucket),
        FaultAction::Stall,
        None,
    ));
    let start = Instant::now();
    let h = tokio::time::timeout(Duration::from_secs(10), ds.verify())
        .await
        .expect("verify honours requestTimeoutMs")
        .expect("verify never fails");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "took {took:?}"
    );
    assert_unhealthy(&h, BUCKET, "requestTimeoutMs");
    assert!(h.latency_ms >= 900.0 && h.latency_ms < 4000.0, "{h:?}");
}
