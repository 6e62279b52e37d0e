//! Crashes mid-call, for every k from 1 to the call's total number of requests, in two
//! ways:
//! - `cut`: the host lets the first k requests through and breaks every later one
//!   before the server sees it (`FaultPlan::cut_after`); the call runs on into its own
//!   error handling, retries off, as after a network that died for good.
//! - `killed`: request k+1 never gets an answer and the host drops the call right there,
//!   store and all: the guest stops dead and nothing after that point runs — no error
//!   handling, no sidecar update — as after a `kill -9`.
//!
//! The crashed datastore is abandoned; a fresh one (a new process, same cache
//! directory) runs the same operation again, and the end state must equal that of an
//! uninterrupted run from the same starting state: bucket objects, remote index,
//! partitions, meta, local cache, local index, sidecar; no dirty path forgotten, no
//! temporary file left.
//!
//! A two-phase push runs `prepare-push` and `commit-push` in one process, so a crash
//! lands in either; its rerun is both phases again. On a shard-first repository the end
//! state holds the shards and the meta, `commitSeq` included (see `EndState` for why it
//! must match exactly).
//!
//! Between the crash and the rerun the invariants that must hold at every moment are
//! checked too: a shard-first meta lists only shards that exist, the published index
//! (the monolith, or the shards the meta lists) names only objects that exist and keeps
//! every entry the operation does not touch, a dirty path is either confirmed by it or
//! still dirty, the stale monolith of a shard-first repository (or of a migration) is
//! never written, and a cache file holds a whole version.

use crate::crash::world::*;
use crate::sync::support::*;
use gcs_host::datastore::MigrateOutcome;
use gcs_host::faults::{FaultAction, FaultMatch, FaultRule};
use gcs_host::traffic::RequestKind;
use gcs_host::CallResult;
use std::collections::BTreeSet;
use std::time::Duration;

/// The cut call gives up on its first failed request: nothing more goes out after the
/// cut, and the test stays fast.
const CUT_CONFIG: &str = r#""retryMaxAttempts":1"#;

/// How the call is interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crash {
    /// Every request after the k-th fails; the call handles the failure.
    Cut,
    /// The call is dropped while request k+1 hangs; the guest never runs again.
    Killed,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_cut_after_every_request_converges_on_rerun() {
    crash_after_every_request(Scenario::Push, Crash::Cut).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_killed_after_every_request_converges_on_rerun() {
    crash_after_every_request(Scenario::Push, Crash::Killed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_cut_after_every_request_converges_on_rerun() {
    crash_after_every_request(Scenario::Pull, Crash::Cut).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_killed_after_every_request_converges_on_rerun() {
    crash_after_every_request(Scenario::Pull, Crash::Killed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_rewrite_cut_after_every_request_converges_on_rerun() {
    crash_after_every_request(Scenario::IndexOnly, Crash::Cut).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_rewrite_killed_after_every_request_converges_on_rerun() {
    crash_after_every_request(Scenario::IndexOnly, Crash::Killed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_push_cut_after_every_request_converges_on_rerun() {
    crash_after_every_request(Scenario::PushV2, Crash::Cut).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_push_killed_after_every_request_converges_on_rerun() {
    crash_after_every_request(Scenario::PushV2, Crash::Killed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_push_emptying_a_shard_cut_after_every_request_converges_on_rerun() {
    crash_after_every_request(Scenario::EmptyShardV2, Crash::Cut).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_push_emptying_a_shard_killed_after_every_request_converges_on_rerun() {
    crash_after_every_request(Scenario::EmptyShardV2, Crash::Killed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_phase_v1_push_cut_after_every_request_converges_on_rerun() {
    crash_after_every_request(Scenario::TwoPhaseV1, Crash::Cut).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_phase_v1_push_killed_after_every_request_converges_on_rerun() {
    crash_after_every_request(Scenario::TwoPhaseV1, Crash::Killed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_phase_v2_push_cut_after_every_request_converges_on_rerun() {
    crash_after_every_request(Scenario::TwoPhaseV2, Crash::Cut).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_phase_v2_push_killed_after_every_request_converges_on_rerun() {
    crash_after_every_request(Scenario::TwoPhaseV2, Crash::Killed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_cut_after_every_request_converges_on_rerun() {
    crash_after_every_request(Scenario::Migrate, Crash::Cut).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_killed_after_every_request_converges_on_rerun() {
    crash_after_every_request(Scenario::Migrate, Crash::Killed).await;
}

/// The debris of a write killed between creating its temporary file and renaming it —
/// what the killed pull above leaves when the kill lands mid-write, which depends on
/// timing — is removed by the next pull that writes the same file. Deterministic here:
/// the debris is planted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_removes_the_temp_debris_of_the_file_it_writes() {
    let w = Scenario::Pull.prepare().await;
    let target = file(ALPHA, 0);
    let debris = format!("{ALPHA}/.file-0.json.0123456789abcdef.swamp-tmp");
    w.cache.write(&debris, br#"{"path":"half a wri"#);
    assert_eq!(temp_files(&w.cache), [debris]);
    Scenario::Pull.run(&w, "").await.expect("pull");
    assert_eq!(temp_files(&w.cache), Vec::<String>::new());
    assert_eq!(w.cache.read(&target), body(&target, 2));
}

fn outcome(r: &Option<CallResult<Done>>) -> String {
    match r {
        None => "nothing: it was killed".to_string(),
        Some(Ok(Done::Sync(report))) => {
            format!("Ok(files={} deleted={})", report.files, report.deleted)
        }
        Some(Ok(Done::Migrate(m))) => format!("Ok({:?} commitSeq={})", m.outcome, m.commit_seq),
        Some(Err(e)) => format!("Err({}: {e})", e.kind()),
    }
}

/// Run the operation with request k+1 (and every later one) hanging, and drop the call
/// as soon as that request has been sent. `None` when it was killed; the result when
/// it finished within k requests.
async fn run_until_killed(scenario: Scenario, w: &World, k: u64) -> Option<CallResult<Done>> {
    let after = u32::try_from(k).expect("a small request count");
    w.env
        .host
        .faults
        .add(FaultRule::new(FaultMatch::any(), FaultAction::Stall, None).after(after));
    let call = scenario.run(w, "");
    tokio::pin!(call);
    loop {
        tokio::select! {
            result = &mut call => return Some(result),
            // Polled between guest steps: when request k+1 is logged the guest is
            // suspended waiting for it, and dropping `call` drops its store there.
            _ = tokio::time::sleep(Duration::from_millis(2)) => {
                if w.env.log().len() as u64 > k {
                    return None;
                }
            }
        }
    }
}

async fn crash_after_every_request(scenario: Scenario, crash: Crash) {
    // The uninterrupted run: its request count and end state are the reference.
    let mut w = scenario.prepare().await;
    let before = w.env.objects().await;
    w.env.reset();
    let report = scenario
        .run(&w, "")
        .await
        .unwrap_or_else(|e| panic!("{scenario:?}: the uninterrupted run failed: {e}"));
    let total = w.env.snap().total;
    let written = written_between(&before, &w.env.objects().await);
    check_reference(scenario, &w, &report, &written);
    let reference = end_state(&w);
    assert_eq!(reference.temp_files, Vec::<String>::new());
    assert_eq!(reference.outside, ["cache"]);
    check_invariants(scenario, &w, "uninterrupted", true);

    for k in 1..=total {
        let w = scenario.prepare().await;
        w.env.reset();
        let crashed = match crash {
            Crash::Cut => {
                w.env.host.faults.cut_after(k);
                Some(scenario.run(&w, CUT_CONFIG).await)
            }
            Crash::Killed => run_until_killed(scenario, &w, k).await,
        };
        w.env.host.faults.clear();
        let when = format!(
            "{scenario:?} {crash:?} after request {k} of {total} (the crashed call returned {})",
            outcome(&crashed)
        );
        // The crash really happened where intended.
        let log = w.env.log();
        assert!(log.len() as u64 >= k, "{when}: only {} requests", log.len());
        if k < total {
            assert!(log.len() as u64 > k, "{when}: nothing was cut: {log:?}");
            match crash {
                Crash::Cut => assert!(
                    log[..k as usize].iter().all(|r| r.status != 0)
                        && log[k as usize..].iter().all(|r| r.status == 0),
                    "{when}: {log:?}"
                ),
                Crash::Killed => assert!(crashed.is_none(), "{when}"),
            }
        }
        check_invariants(scenario, &w, &format!("{when}, before the rerun"), false);
        check_cache_holds_whole_versions(
            &w,
            &format!("{when}, before the rerun"),
            crash == Crash::Killed,
        );

        scenario
            .run(&w, "")
            .await
            .unwrap_or_else(|e| panic!("{when}: the rerun failed: {e}"));
        let end = end_state(&w);
        let diff = differences(&end, &reference);
        assert!(
            diff.is_empty(),
            "{when}: the end state after the rerun differs from the uninterrupted run's:\n{}",
            diff.join("\n")
        );
        assert_eq!(end, reference, "{when}");
        check_invariants(scenario, &w, &format!("{when}, after the rerun"), true);
    }
}

/// The invariants that hold at every moment (`exact`: after a finished operation). The
/// published index is the monolith, or on a shard-first repository the shards the meta
/// lists (`published_index`), so each check reads what a reader would follow.
fn check_invariants(scenario: Scenario, w: &World, when: &str, exact: bool) {
    check_meta_lists_only_existing_shards(w, when);
    check_index_names_only_uploaded(w, when, exact);
    check_no_dirty_path_forgotten(w, when);
    check_untouched_entries_kept(w, when);
    if scenario.keeps_monolith() {
        assert_eq!(
            index_generation(&w.env),
            w.start_monolith,
            "{when}: the stale monolith was written"
        );
    }
}

/// The uninterrupted run did what the scenario is about (so a cut lands in each phase).
fn check_reference(scenario: Scenario, w: &World, done: &Done, written: &[String]) {
    let counts = || match done {
        Done::Sync(report) => (report.files, report.deleted),
        Done::Migrate(m) => panic!("{scenario:?}: a migration report: {m:?}"),
    };
    let position = |key: &str| {
        written
            .iter()
            .position(|k| k == key)
            .unwrap_or_else(|| panic!("{scenario:?}: {key} was not written: {written:?}"))
    };
    let data: BTreeSet<String> = data_only(written.to_vec()).into_iter().collect();
    let partitions: BTreeSet<String> = written
        .iter()
        .filter(|k| k.starts_with("_index/") && k.as_str() != META)
        .cloned()
        .collect();
    match scenario {
        Scenario::Push | Scenario::TwoPhaseV1 => {
            assert_eq!(counts(), (3, 1), "{scenario:?}");
            assert_eq!(
                data,
                BTreeSet::from([file(ALPHA, 0), file(GAMMA, 0), file(GAMMA, 1)])
            );
            assert_eq!(
                partitions,
                BTreeSet::from([partition_of(ALPHA), partition_of(BETA), partition_of(GAMMA)])
            );
            // Data first, then the monolith, then the partitions, the meta last.
            let index = position(INDEX);
            assert!(
                data.iter().all(|d| position(d.as_str()) < index),
                "{written:?}"
            );
            assert!(
                partitions.iter().all(|p| position(p.as_str()) > index),
                "{written:?}"
            );
            assert_eq!(
                written.last().map(String::as_str),
                Some(META),
                "{written:?}"
            );
            assert!(!bucket_bytes(&w.env).contains_key(&file(BETA, 1)));
            let s = sidecar(&w.cache);
            assert_eq!(s["localDirty"], false, "{s}");
            assert_eq!(w.env.snap().count(RequestKind::Delete), 1);
        }
        Scenario::Pull => {
            assert_eq!(counts(), (5, 1), "{scenario:?}");
            assert!(
                !w.cache.file(&file(BETA, 1)).exists(),
                "the remote deletion"
            );
            assert_eq!(
                w.cache.read(&file(BETA, 0)),
                same_size_rewrite(&file(BETA, 0)),
                "the equal-size rewrite"
            );
            assert!(
                written.is_empty(),
                "a pull writes nothing remote: {written:?}"
            );
            let source = w.source.as_ref().expect("the pushing cache");
            for (path, text) in cache_view(source) {
                assert_eq!(cache_view(&w.cache).get(&path), Some(&text), "{path}");
            }
            // The meta twice: the fast-path probe reads it beside the monolith's
            // generation (docs/sync.md#fast-paths), the index read again.
            let downloads: Vec<String> = w
                .env
                .log()
                .into_iter()
                .filter(|r| r.kind == RequestKind::Download)
                .map(|r| r.object)
                .collect();
            let meta_reads = downloads.iter().filter(|o| o.ends_with(META)).count();
            let index_reads = downloads.iter().filter(|o| o.ends_with(INDEX)).count();
            assert_eq!(
                (downloads.len(), meta_reads, index_reads),
                (8, 2, 1),
                "the meta twice, the index and the 5 files: {downloads:?}"
            );
        }
        Scenario::IndexOnly => {
            assert_eq!(counts(), (0, 0), "{scenario:?}");
            assert_eq!(data, BTreeSet::new(), "nothing uploaded");
            assert_eq!(
                written.first().map(String::as_str),
                Some(INDEX),
                "{written:?}"
            );
            assert_eq!(
                partitions,
                BTreeSet::from([
                    partition_of(ALPHA),
                    partition_of(BETA),
                    partition_of(DELTA),
                    "_index/audit.json".to_string()
                ])
            );
            assert_eq!(
                written.last().map(String::as_str),
                Some(META),
                "{written:?}"
            );
            let index = remote_index(&w.env).expect("the index");
            let keys = keys_of(&index["entries"]);
            assert!(keys.contains(&file(DELTA, 0)), "{keys:?}");
            assert!(!keys.contains(&"_catalog.db".to_string()), "{keys:?}");
        }
        Scenario::PushV2 | Scenario::TwoPhaseV2 => {
            assert_eq!(counts(), (3, 1), "{scenario:?}");
            assert_eq!(
                data,
                BTreeSet::from([file(ALPHA, 0), file(GAMMA, 0), file(GAMMA, 1)])
            );
            assert_eq!(
                partitions,
                BTreeSet::from([partition_of(ALPHA), partition_of(BETA), partition_of(GAMMA)])
            );
            assert!(
                !written.iter().any(|k| k == INDEX),
                "the stale monolith: {written:?}"
            );
            // Data first, then the shards, the meta last.
            let first_shard = partitions.iter().map(|p| position(p)).min();
            assert!(
                data.iter().all(|d| Some(position(d)) < first_shard),
                "{written:?}"
            );
            assert_eq!(
                written.last().map(String::as_str),
                Some(META),
                "{written:?}"
            );
            let meta = remote_meta(&w.env).expect("the meta");
            let mut listed = vec![shard_name(ALPHA), shard_name(BETA), shard_name(GAMMA)];
            listed.push("audit".into());
            listed.sort();
            assert_eq!(meta["version"], 2, "{meta}");
            assert_eq!(meta["partitions"], serde_json::json!(listed), "{meta}");
            assert_eq!(
                meta["commitSeq"], 2,
                "one commit after the migration: {meta}"
            );
            assert!(!bucket_bytes(&w.env).contains_key(&file(BETA, 1)));
            let s = sidecar(&w.cache);
            assert_eq!(s["localDirty"], false, "{s}");
            assert_eq!(s["commitSeq"], 2, "{s}");
            assert_eq!(w.env.snap().count(RequestKind::Delete), 1);
        }
        Scenario::EmptyShardV2 => {
            assert_eq!(counts(), (1, 2), "{scenario:?}");
            assert_eq!(data, BTreeSet::from([file(ALPHA, 0)]));
            assert_eq!(
                partitions,
                BTreeSet::from([partition_of(ALPHA), partition_of(BETA)])
            );
            // The emptied shard is written empty, not deleted (the meta read before this
            // commit lists it), and the meta stops listing it.
            let emptied = bucket_bytes(&w.env)
                .get(&partition_of(BETA))
                .map(|d| serde_json::from_slice::<serde_json::Value>(d).expect("JSON"));
            assert_eq!(
                emptied.as_ref().map(|v| v["entries"].clone()),
                Some(serde_json::json!({})),
                "the emptied shard: {emptied:?}"
            );
            assert!(!written.iter().any(|k| k == INDEX), "{written:?}");
            assert_eq!(
                written.last().map(String::as_str),
                Some(META),
                "{written:?}"
            );
            let meta = remote_meta(&w.env).expect("the meta");
            let mut listed = vec![shard_name(ALPHA), "audit".to_string()];
            listed.sort();
            assert_eq!(meta["partitions"], serde_json::json!(listed), "{meta}");
            assert_eq!(meta["commitSeq"], 2, "{meta}");
            let s = sidecar(&w.cache);
            assert_eq!(s["localDirty"], false, "{s}");
            assert_eq!(s["commitSeq"], 2, "{s}");
        }
        Scenario::Migrate => {
            let Done::Migrate(m) = done else {
                panic!("{scenario:?}: {done:?}");
            };
            assert_eq!(
                (m.outcome, m.commit_seq, m.entries, m.shards_written),
                (MigrateOutcome::Migrated, 1, 6, 4),
                "{m:?}"
            );
            assert_eq!(data, BTreeSet::new(), "nothing uploaded");
            assert_eq!(
                partitions,
                BTreeSet::from([
                    partition_of(ALPHA),
                    partition_of(BETA),
                    partition_of(DELTA),
                    "_index/audit.json".to_string()
                ])
            );
            assert!(
                !written.iter().any(|k| k == INDEX),
                "the monolith stays: {written:?}"
            );
            assert_eq!(
                written.last().map(String::as_str),
                Some(META),
                "{written:?}"
            );
            let mut listed = vec![shard_name(ALPHA), shard_name(BETA), shard_name(DELTA)];
            listed.push("audit".into());
            listed.sort();
            assert_eq!(m.partitions, listed);
            let meta = remote_meta(&w.env).expect("the meta");
            assert_eq!(
                (&meta["version"], &meta["partitions"], &meta["commitSeq"]),
                (&2.into(), &serde_json::json!(listed), &1.into()),
                "{meta}"
            );
            // The shards hold exactly what the monolith held.
            let shards = published_index(&w.env).map(|i| index_view(&i));
            assert_eq!(
                shards.as_ref().map(|i| &i["entries"]),
                w.start_index.as_ref().map(|i| &i["entries"])
            );
        }
    }
}
