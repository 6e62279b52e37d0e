//! `demo`: a self-contained tour on this machine.
//!
//! Starts fake-gcs-server from the project's virtualenv on a free loopback port, creates a
//! bucket, seeds cache A from the sample tree embedded from `fixtures/sample-cache/`,
//! pushes it, marks one file dirty, edits it and pushes the delta, pulls into cache B (then
//! again, answered by the fast path), pulls one model into cache C, checks that the trees
//! agree, syncs B under the global lock, and finally stops the emulator and removes its
//! temporary directory. Everything it starts is owned by the tour's future: an error or a
//! Ctrl-C drops it, which kills the emulator and removes the directories.
//!
//! `SWAMP_GCS_DEMO_PAUSE_MS` pauses after each step (for presenting it, and for the test
//! that interrupts it half-way).

use super::args::Global;
use super::commands::{print_result, pull_options, run_pull, run_push};
use super::failure::Failure;
use super::output::{self, bytes, duration, millis, plural, requests_human, Transfer};
use super::progress::Display;
use super::session::{self, model_name, Cache, Resolved, Session};
use super::signals::{Interrupt, Second};
use super::sync::{locked_sync, SyncPlan};
use crate::cli_config::ConfigSource;
use gcs_host::datastore::{no_options, ModelRef, SyncOptions};
use gcs_host::emulator::FakeGcsServer;
use gcs_host::traffic::TrafficSnapshot;
use gcs_host::Host;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

macro_rules! sample {
    ($rel:literal) => {
        (
            $rel,
            include_bytes!(concat!("../../../fixtures/sample-cache/", $rel)) as &[u8],
        )
    };
}

/// The sample cache: `fixtures/sample-cache/`, embedded so the binary runs from anywhere.
/// Three models (`@demo/server/web-1`, `@demo/server/web-2`, `@demo/database/db-1`), a
/// workflow run and an audit log.
pub const SAMPLE: &[(&str, &[u8])] = &[
    sample!("audit/2026-08-01.jsonl"),
    sample!("data/@demo/database/db-1/backup/1/raw"),
    sample!("data/@demo/database/db-1/config/1/metadata.yaml"),
    sample!("data/@demo/database/db-1/config/1/raw"),
    sample!("data/@demo/server/web-1/config/1/metadata.yaml"),
    sample!("data/@demo/server/web-1/config/1/raw"),
    sample!("data/@demo/server/web-1/state/1/raw"),
    sample!("data/@demo/server/web-2/config/1/metadata.yaml"),
    sample!("data/@demo/server/web-2/config/1/raw"),
    sample!("data/@demo/server/web-2/state/1/raw"),
    sample!("workflow-runs/deploy/run-0001.yaml"),
];

const BUCKET: &str = "swamp-demo";
const EDITED: &str = "data/@demo/server/web-1/state/1/raw";
const EDIT: &str = "{\"status\":\"running\",\"ip\":\"10.0.0.11\",\"restarts\":1,\"note\":\"edited by the demo\"}\n";

/// `demo`.
pub async fn run(host: &Host, g: &Global) -> Result<(), Failure> {
    let interrupt = Interrupt::install(
        "interrupted: stopping the emulator and removing the demo's temp dir",
        Second::Ignore,
    )?;
    let start = Instant::now();
    let mut tour = Tour {
        json: g.json,
        steps: Vec::new(),
        facts: serde_json::Map::new(),
    };
    if !g.json {
        println!("swamp-gcs demo: a local fake-gcs-server, a sample cache and three sandboxes; nothing leaves this machine\n");
    }
    let outcome = tokio::select! {
        r = tour.run(host) => r,
        _ = interrupt.wait() => Err(Failure::interrupted("the demo was stopped; emulator stopped, temp dir removed")),
    };
    outcome?;
    let total = host.traffic.snapshot();
    if g.json {
        let mut v = tour.facts;
        v.insert("bucket".into(), json!(BUCKET));
        v.insert("steps".into(), Value::Array(tour.steps));
        v.insert("requests".into(), output::requests_json(&total));
        v.insert("elapsedMs".into(), json!(millis(start.elapsed())));
        print_result("demo", true, Value::Object(v));
    } else {
        println!(
            "\ndemo ok: {} in {}; nothing left running, nothing left on disk",
            requests_human(&total),
            duration(start.elapsed())
        );
    }
    Ok(())
}

/// The steps so far (JSON mode) and facts for the final object.
struct Tour {
    json: bool,
    steps: Vec<Value>,
    facts: serde_json::Map<String, Value>,
}

/// Where a step started: time and traffic.
struct Mark {
    at: Instant,
    traffic: TrafficSnapshot,
}

impl Tour {
    fn mark(host: &Host) -> Mark {
        Mark {
            at: Instant::now(),
            traffic: host.traffic.snapshot(),
        }
    }

    /// Record one step: printed at once for humans, collected for JSON.
    async fn step(&mut self, host: &Host, name: &str, detail: String, since: &Mark, extra: Value) {
        self.record(host, name, detail, since, extra);
        let pause = std::env::var("SWAMP_GCS_DEMO_PAUSE_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        if pause > 0 {
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    }

    fn record(&mut self, host: &Host, name: &str, detail: String, since: &Mark, extra: Value) {
        let requests = output::delta(&since.traffic, &host.traffic.snapshot());
        let elapsed = since.at.elapsed();
        let n = self.steps.len() + 1;
        if self.json {
            let v = super::commands::merge(
                json!({
                    "step": name,
                    "detail": detail,
                    "requests": output::requests_json(&requests),
                    "elapsedMs": millis(elapsed),
                }),
                extra,
            );
            self.steps.push(v);
            return;
        }
        self.steps.push(Value::Null);
        println!("{n:>2}. {name:<9} {detail}");
        println!(
            "    {:<9} {}, {}",
            "",
            requests_human(&requests),
            duration(elapsed)
        );
    }

    async fn transfer_step(
        &mut self,
        host: &Host,
        name: &str,
        note: &str,
        t: &Transfer,
        since: &Mark,
    ) {
        self.step(
            host,
            name,
            format!("{note}{}", t.headline()),
            since,
            t.json(),
        )
        .await;
    }

    async fn run(&mut self, host: &Host) -> Result<(), Failure> {
        // 1. The emulator and the bucket.
        let m = Self::mark(host);
        let mut server = FakeGcsServer::start()
            .map_err(|e| Failure::operational("emulator", format!("{e:#}")))
            .map_err(|f| {
                f.hint("run ./scripts/setup.sh: it installs fake-gcs-server into .venv")
            })?;
        server
            .create_bucket(BUCKET)
            .map_err(|e| Failure::operational("emulator", format!("{e:#}")))?;
        let endpoint = server.endpoint();
        let (port, pid) = (server.port(), server.pid());
        self.facts.insert(
            "emulator".into(),
            json!({"endpoint": endpoint, "port": port, "pid": pid}),
        );
        self.step(
            host,
            "start",
            format!("fake-gcs-server on {endpoint} (pid {pid}), bucket {BUCKET}"),
            &m,
            json!({"endpoint": endpoint}),
        )
        .await;
        let root = tempfile::Builder::new()
            .prefix("swamp-gcs-demo-")
            .tempdir()
            .map_err(|e| {
                Failure::operational("io", format!("creating the demo's temp dir: {e}"))
            })?;
        let root_path = root.path().to_path_buf();
        self.facts
            .insert("tempDir".into(), json!(root_path.display().to_string()));
        let config = Resolved {
            json: json!({"bucket": BUCKET, "apiEndpoint": endpoint}).to_string(),
            source: ConfigSource::Flag,
        };

        // 2. Seed cache A.
        let m = Self::mark(host);
        let cache_a = root_path.join("cache-a");
        let seeded: u64 = seed(&cache_a)?;
        self.step(
            host,
            "seed",
            format!(
                "cache A: {} ({}) from the built-in sample: 3 models, a workflow run, an audit log",
                plural(SAMPLE.len() as u64, "file"),
                bytes(seeded)
            ),
            &m,
            json!({"files": SAMPLE.len(), "bytes": seeded}),
        )
        .await;
        let mut a = session::open_with(host, &config, Cache::Given(cache_a.clone())).await?;

        // 3. Health check.
        let m = Self::mark(host);
        let h = a.ds.verify().await?;
        if !h.healthy {
            return Err(Failure::operational("unhealthy", h.message));
        }
        self.step(host, "verify", h.message, &m, json!({"healthy": true}))
            .await;

        // 4. The first push: every file.
        let m = Self::mark(host);
        let t = run_push(host, &mut a, &no_options(), Display::Off).await?;
        self.transfer_step(host, "push A", "", &t, &m).await;

        // 5. Mark one file dirty (before the write, as swamp does), then edit it.
        let m = Self::mark(host);
        a.ds.mark_dirty(&SyncOptions {
            rel_path: Some(EDITED.into()),
            ..no_options()
        })
        .await?;
        std::fs::write(cache_a.join(EDITED), EDIT)?;
        self.step(
            host,
            "edit A",
            format!("mark-dirty {EDITED}, then rewrite it"),
            &m,
            json!({"relPath": EDITED}),
        )
        .await;

        // 6. The dry run, then the delta push.
        let m = Self::mark(host);
        let st = a.ds.status(&no_options()).await?;
        let planned: Vec<String> = st
            .to_upload
            .iter()
            .map(|u| format!("{} ({})", u.rel_path, u.reason))
            .collect();
        self.step(
            host,
            "status A",
            format!(
                "{} walk: would upload {}{}, delete {}",
                st.walk,
                plural(st.to_upload.len() as u64, "file"),
                if planned.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", planned.join(", "))
                },
                st.to_delete.len()
            ),
            &m,
            json!({"walk": st.walk, "toUpload": st.to_upload.len(), "toDelete": st.to_delete.len()}),
        ).await;
        let m = Self::mark(host);
        let t = run_push(host, &mut a, &no_options(), Display::Off).await?;
        if t.report.files != 1 {
            return Err(Failure::operational(
                "integrity",
                format!(
                    "the delta push uploaded {} files, expected 1",
                    t.report.files
                ),
            ));
        }
        self.transfer_step(host, "push A", "the delta: ", &t, &m)
            .await;

        // 7. A second machine: a full pull, then a pull answered by the fast path.
        let cache_b = root_path.join("cache-b");
        let mut b = session::open_with(host, &config, Cache::Given(cache_b.clone())).await?;
        let m = Self::mark(host);
        let t = run_pull(host, &mut b, &no_options(), Display::Off).await?;
        self.transfer_step(host, "pull B", "", &t, &m).await;
        let m = Self::mark(host);
        let t = run_pull(host, &mut b, &no_options(), Display::Off).await?;
        self.transfer_step(host, "pull B", "again: ", &t, &m).await;

        // 8. A scoped pull of one model into a third cache.
        let model = ModelRef {
            model_type: "@demo/server".into(),
            model_id: "web-1".into(),
        };
        let cache_c = root_path.join("cache-c");
        let mut c = session::open_with(host, &config, Cache::Given(cache_c.clone())).await?;
        let m = Self::mark(host);
        let t = run_pull(
            host,
            &mut c,
            &pull_options(std::slice::from_ref(&model), false, None),
            Display::Off,
        )
        .await?;
        self.transfer_step(
            host,
            "pull C",
            &format!("--model {}: ", model_name(&model)),
            &t,
            &m,
        )
        .await;

        // 9. The trees agree.
        let m = Self::mark(host);
        let detail = check_trees(&cache_a, &cache_b, &cache_c, &model)?;
        self.facts.insert("treesAgree".into(), json!(true));
        self.step(host, "check", detail, &m, json!({"treesAgree": true}))
            .await;

        // 10. swamp's sync around a command, on B: lock, pull, push, release.
        let m = Self::mark(host);
        let plan = SyncPlan {
            models: &[],
            namespace: None,
            ttl_ms: 30_000,
            max_wait_ms: 10_000,
            progress: Display::Off,
            handle_signals: false,
        };
        let done = locked_sync(host, &config, &mut b, &plan).await?;
        self.step(
            host,
            "sync B",
            format!(
                "took .datastore.lock, pull: {}, push: {}, released",
                short(&done.pull, "pulled"),
                short(&done.push, "pushed")
            ),
            &m,
            json!({"pull": done.pull.json(), "push": done.push.json()}),
        )
        .await;

        // 11. Stop everything and clean up.
        let m = Self::mark(host);
        drop_sessions([a, b, c]);
        server.stop();
        drop(server);
        let closed = std::net::TcpStream::connect_timeout(
            &([127, 0, 0, 1], port).into(),
            Duration::from_millis(500),
        )
        .is_err();
        root.close().map_err(|e| {
            Failure::operational("io", format!("removing {}: {e}", root_path.display()))
        })?;
        self.facts.insert(
            "cleanup".into(),
            json!({"emulatorStopped": closed, "tempDirRemoved": !root_path.exists()}),
        );
        self.step(
            host,
            "stop",
            format!("emulator stopped (port {port} closed: {closed}), temp dir removed"),
            &m,
            json!({}),
        )
        .await;
        Ok(())
    }
}

fn short(t: &Transfer, verb: &str) -> String {
    if t.report.fast_path {
        "fast path".into()
    } else {
        format!("{verb} {}", plural(u64::from(t.report.files), "file"))
    }
}

fn drop_sessions<const N: usize>(sessions: [Session; N]) {
    drop(sessions);
}

/// Write the sample into `cache`; returns the bytes written.
fn seed(cache: &Path) -> Result<u64, Failure> {
    let mut total = 0u64;
    for (rel, data) in SAMPLE {
        let path = cache.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, data)?;
        total += data.len() as u64;
    }
    Ok(total)
}

/// Whether a cache-relative path is sync machinery rather than data.
fn internal(rel: &str) -> bool {
    let base = rel.rsplit('/').next().unwrap_or(rel);
    matches!(
        rel,
        ".datastore-index.json" | ".datastore-sync-state.json" | ".push-queue.json"
    ) || rel.starts_with("_index/")
        || rel.starts_with("_control/")
        || base == ".lock"
}

/// Every data file under `root`: relative path → content.
fn tree(root: &Path) -> Result<BTreeMap<String, Vec<u8>>, Failure> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) -> std::io::Result<()> {
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let path: PathBuf = e.path();
            if e.file_type()?.is_dir() {
                walk(root, &path, out)?;
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                if !internal(&rel) {
                    out.insert(rel, std::fs::read(&path)?);
                }
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out)?;
    Ok(out)
}

/// B must equal A; C must hold exactly A's files of `model`.
fn check_trees(a: &Path, b: &Path, c: &Path, model: &ModelRef) -> Result<String, Failure> {
    let (ta, tb, tc) = (tree(a)?, tree(b)?, tree(c)?);
    let mismatch =
        |what: String| Failure::operational("integrity", format!("demo check failed: {what}"));
    if ta != tb {
        let differ: Vec<&String> = ta
            .keys()
            .chain(tb.keys())
            .filter(|k| ta.get(*k) != tb.get(*k))
            .take(3)
            .collect();
        return Err(mismatch(format!(
            "cache B differs from cache A at {differ:?}"
        )));
    }
    let prefix = format!("data/{}/{}/", model.model_type, model.model_id);
    let want: BTreeMap<&String, &Vec<u8>> =
        ta.iter().filter(|(k, _)| k.starts_with(&prefix)).collect();
    let got: BTreeMap<&String, &Vec<u8>> = tc.iter().collect();
    if want != got {
        return Err(mismatch(format!(
            "cache C holds {:?}, expected exactly {:?}",
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>()
        )));
    }
    if tb.get(EDITED).map(Vec::as_slice) != Some(EDIT.as_bytes()) {
        return Err(mismatch(format!("cache B lacks the edit of {EDITED}")));
    }
    Ok(format!(
        "B = A ({}, byte for byte, with the edit); C = A's {} ({})",
        plural(ta.len() as u64, "file"),
        model_name(model),
        plural(tc.len() as u64, "file")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded list and `fixtures/sample-cache/` must not drift apart.
    #[test]
    fn sample_matches_the_fixture_directory() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sample-cache");
        let on_disk = tree(&dir).unwrap();
        let embedded: BTreeMap<String, Vec<u8>> = SAMPLE
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn internal_files_are_not_data() {
        assert!(internal(".datastore-index.json"));
        assert!(internal("_index/data--a--b.json"));
        assert!(internal("data/a/b/.lock"));
        assert!(!internal("data/@demo/server/web-1/state/1/raw"));
    }
}
