//! Seed #13 of the TypeScript client's partitioning tests, through the component. The other
//! 13 are shared scenarios (`scenarios/src/seed.rs`, run by `scenarios.rs`); this one stays here
//! because it measures concurrency with a host-injected delay (`gcs_host::faults`) — the native
//! counterpart counts in-flight requests on the in-memory fake (`src/sync/tests_fake_only.rs`).

use crate::common::*;
use crate::sync::support::*;
use gcs_host::faults::{FaultAction, FaultMatch, FaultRule};
use gcs_host::traffic::RequestKind;
use std::time::Duration;

on_both_servers!(configurable_concurrency_respects_custom_pull_concurrency);

/// #13 "configurable concurrency: respects custom pullConcurrency": with
/// `pullConcurrency: 2` all three files are pulled, and (every download delayed 500 ms)
/// the downloads take two rounds: not three at once, not one at a time.
async fn configurable_concurrency_respects_custom_pull_concurrency(mut env: Env) {
    put_remote_files(
        &mut env,
        &[("audit/a", b"a"), ("audit/b", b"bb"), ("audit/c", b"ccc")],
    )
    .await;
    env.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Download).object("audit/"),
        FaultAction::Delay(Duration::from_millis(500)),
        None,
    ));
    let cache = Cache::new();
    let mut ds = env.open(&cache, r#""pullConcurrency":2"#).await;
    let report = ds.pull(&opts()).await.unwrap();
    assert_eq!(report.files, 3);
    assert_eq!(cache.read("audit/c"), b"ccc");
    let ms = phase_millis(&report, "pullChanged.download");
    assert!(
        (1000.0..1500.0).contains(&ms),
        "two rounds of 500 ms expected, downloads took {ms} ms"
    );
}
