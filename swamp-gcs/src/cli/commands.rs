//! The one-call commands: `caps`, `verify`, `pull`, `push`, `mark-dirty`, `status`.

use super::args::{Global, MarkDirtyArgs, PullArgs, PushArgs, StatusArgs};
use super::failure::Failure;
use super::output::{self, bytes, duration, millis, plural, Direction, Transfer};
use super::progress::{Display, Progress};
use super::session::{self, model_name, Cache, Session};
use crate::cli_config::DATASTORE_TYPE;
use gcs_host::datastore::{no_options, IndexLayout, SyncContext, SyncOptions};
use gcs_host::{DatastoreOptions, Host};
use serde_json::{json, Value};
use std::time::Instant;

/// Print `fields` (after `ok: true` and `command`) as the one JSON object of the command.
pub fn print_json(command: &str, fields: Value) {
    print_result(command, true, fields);
}

/// Print `fields` (after `ok` and `command`) as the one JSON object of the command.
pub fn print_result(command: &str, ok: bool, fields: Value) {
    let mut out = serde_json::Map::new();
    out.insert("ok".into(), Value::Bool(ok));
    out.insert("command".into(), Value::from(command));
    if let Value::Object(m) = fields {
        for (k, v) in m {
            out.insert(k, v);
        }
    }
    println!("{}", Value::Object(out));
}

/// Merge two JSON objects (`b` wins).
pub fn merge(a: Value, b: Value) -> Value {
    let mut out = match a {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    if let Value::Object(m) = b {
        out.extend(m);
    }
    Value::Object(out)
}

/// `caps`: the capabilities, from a datastore that is never configured.
pub async fn caps(host: &Host, g: &Global) -> Result<(), Failure> {
    let scratch = Cache::scratch()?;
    let mut ds = host
        .open(&DatastoreOptions::new(scratch.path(), "http://127.0.0.1:1"))
        .await?;
    let c = ds.capabilities().await?;
    let flags = [
        (
            "scopedSync",
            c.scoped_sync,
            "pull only the models asked for",
        ),
        (
            "lazyHydration",
            c.lazy_hydration,
            "metadata-only pulls, files fetched on demand",
        ),
        (
            "namespacedSync",
            c.namespaced_sync,
            "several repositories in one bucket",
        ),
        ("twoPhaseSync", c.two_phase_sync, "prepare/commit pushes"),
        ("previewPush", c.preview_push, "push preview"),
        (
            "controlPlane",
            c.control_plane,
            "the _control/ record store",
        ),
    ];
    if g.json {
        let mut v = serde_json::Map::new();
        v.insert("datastoreType".into(), json!(DATASTORE_TYPE));
        for (name, on, _) in flags {
            v.insert(name.into(), json!(on));
        }
        print_json("caps", Value::Object(v));
    } else {
        println!("{DATASTORE_TYPE}");
        for (name, on, what) in flags {
            println!("  {name:<15} {:<4} {what}", if on { "yes" } else { "no" });
        }
    }
    Ok(())
}

/// `verify`: the health check; exit 1 when unhealthy.
pub async fn verify(host: &Host, g: &Global) -> Result<(), Failure> {
    let mut s = session::open(host, g, Cache::scratch()?).await?;
    let h = s.ds.verify().await?;
    let details: serde_json::Map<String, Value> = h
        .details
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    if g.json {
        let mut fields = session_json(&s);
        if let Value::Object(m) = &mut fields {
            m.remove("cache");
        }
        print_result(
            "verify",
            h.healthy,
            merge(
                fields,
                json!({
                    "healthy": h.healthy,
                    "message": h.message,
                    "latencyMs": h.latency_ms,
                    "datastoreType": h.datastore_type,
                    "details": details,
                }),
            ),
        );
    } else if h.healthy {
        println!("healthy: {} ({:.0} ms)", h.message, h.latency_ms);
    } else {
        println!("unhealthy: {} ({:.0} ms)", h.message, h.latency_ms);
    }
    if h.healthy {
        Ok(())
    } else {
        Err(Failure::operational("unhealthy", h.message).printed())
    }
}

fn session_json(s: &Session) -> Value {
    s.json_fields()
}

/// Run one pull with its progress display, counting its traffic.
pub async fn run_pull(
    host: &Host,
    s: &mut Session,
    options: &SyncOptions,
    display: Display,
) -> Result<Transfer, Failure> {
    let before = host.traffic.snapshot();
    let start = Instant::now();
    let spinner = Progress::start(host, "pull", display);
    let r = s.ds.pull(options).await;
    spinner.finish().await;
    let report = r?;
    Ok(Transfer {
        direction: Direction::Pull,
        report,
        requests: output::delta(&before, &host.traffic.snapshot()),
        elapsed: start.elapsed(),
    })
}

/// Run one push with its progress display, counting its traffic.
pub async fn run_push(
    host: &Host,
    s: &mut Session,
    options: &SyncOptions,
    display: Display,
) -> Result<Transfer, Failure> {
    let before = host.traffic.snapshot();
    let start = Instant::now();
    let spinner = Progress::start(host, "push", display);
    let r = s.ds.push(options).await;
    spinner.finish().await;
    let report = r?;
    Ok(Transfer {
        direction: Direction::Push,
        report,
        requests: output::delta(&before, &host.traffic.snapshot()),
        elapsed: start.elapsed(),
    })
}

/// `prepare-push` then `commit-push`: one transfer whose report is the prepare's, with
/// the commit's phases after its own.
pub async fn run_push_two_phase(
    host: &Host,
    s: &mut Session,
    options: &SyncOptions,
    display: Display,
) -> Result<Transfer, Failure> {
    let before = host.traffic.snapshot();
    let start = Instant::now();
    let spinner = Progress::start(host, "push", display);
    let prepared = s.ds.prepare_push(options).await;
    spinner.finish().await;
    let (manifest, mut report) = prepared?;
    let committed = s.ds.commit_push(&manifest, options).await?;
    report.phases.extend(committed.phases);
    Ok(Transfer {
        direction: Direction::Push,
        report,
        requests: output::delta(&before, &host.traffic.snapshot()),
        elapsed: start.elapsed(),
    })
}

/// Pull options for `--model` values, `--metadata-only` and the namespace.
pub fn pull_options(
    models: &[gcs_host::datastore::ModelRef],
    metadata_only: bool,
    namespace: Option<&str>,
) -> SyncOptions {
    SyncOptions {
        context: (!models.is_empty()).then(|| SyncContext {
            models: models.to_vec(),
        }),
        metadata_only,
        namespace: namespace.map(str::to_string),
        ..no_options()
    }
}

/// `pull`.
pub async fn pull(host: &Host, g: &Global, args: &PullArgs) -> Result<(), Failure> {
    let models = session::parse_models(&args.models)?;
    let cache = session::required_cache(g, "pull")?;
    let mut s = session::open_for(host, g, cache, &args.ns).await?;
    let options = pull_options(&models, args.metadata_only, s.namespace.as_deref());
    let t = run_pull(
        host,
        &mut s,
        &options,
        Display::for_options(g.progress, g.json),
    )
    .await?;
    let names: Vec<String> = models.iter().map(model_name).collect();
    if g.json {
        print_json(
            "pull",
            merge(
                session_json(&s),
                merge(
                    json!({"models": names, "metadataOnly": args.metadata_only}),
                    t.json(),
                ),
            ),
        );
    } else {
        if !names.is_empty() {
            println!("scoped to {}", names.join(", "));
        }
        t.print_human();
    }
    Ok(())
}

/// `push`.
pub async fn push(host: &Host, g: &Global, args: &PushArgs) -> Result<(), Failure> {
    let cache = session::required_cache(g, "push")?;
    let mut s = session::open_for(host, g, cache, &args.ns).await?;
    let options = s.sync_options();
    let display = Display::for_options(g.progress, g.json);
    let t = if args.two_phase {
        run_push_two_phase(host, &mut s, &options, display).await?
    } else {
        run_push(host, &mut s, &options, display).await?
    };
    if g.json {
        print_json("push", merge(session_json(&s), t.json()));
    } else {
        t.print_human();
    }
    Ok(())
}

/// The JSON name of an index layout.
fn layout_name(layout: IndexLayout) -> &'static str {
    match layout {
        IndexLayout::None => "none",
        IndexLayout::Monolith => "monolith",
        IndexLayout::ShardFirst => "shard-first",
    }
}

/// `mark-dirty [REL]`.
pub async fn mark_dirty(host: &Host, g: &Global, args: &MarkDirtyArgs) -> Result<(), Failure> {
    let cache = session::required_cache(g, "mark-dirty")?;
    let mut s = session::open(host, g, cache).await?;
    let rel = args.rel.clone().filter(|r| !r.is_empty());
    s.ds.mark_dirty(&SyncOptions {
        rel_path: rel.clone(),
        ..no_options()
    })
    .await?;
    let status = s.ds.status(&no_options()).await.ok();
    let bulk = status.as_ref().is_some_and(|st| st.bulk_invalidated);
    if g.json {
        print_json(
            "mark-dirty",
            merge(
                session_json(&s),
                json!({
                    "relPath": rel,
                    "bulkInvalidated": bulk,
                    "dirtyPaths": status.as_ref().map(|st| st.dirty_paths.clone()),
                }),
            ),
        );
    } else if bulk {
        match &rel {
            Some(r) => println!(
                "marked {r} dirty; the cache is bulk-dirty, so the next push walks every file"
            ),
            None => println!("marked the whole cache dirty: the next push walks every file"),
        }
    } else if let Some(r) = &rel {
        let n = status.map(|st| st.dirty_paths.len()).unwrap_or(1);
        println!(
            "marked {r} dirty ({} recorded): the next push checks only dirty paths",
            plural(n as u64, "path")
        );
    }
    Ok(())
}

/// `status`: the sidecar and a dry run of the next push.
pub async fn status(host: &Host, g: &Global, args: &StatusArgs) -> Result<(), Failure> {
    let cache = session::required_cache(g, "status")?;
    let mut s = session::open_for(host, g, cache, &args.ns).await?;
    let before = host.traffic.snapshot();
    let start = Instant::now();
    let st = s.ds.status(&s.sync_options()).await?;
    let requests = output::delta(&before, &host.traffic.snapshot());
    let elapsed = start.elapsed();
    let upload_bytes: u64 = st.to_upload.iter().map(|u| u.size).sum();
    if g.json {
        let uploads: Vec<Value> = st
            .to_upload
            .iter()
            .map(|u| json!({"relPath": u.rel_path, "size": u.size, "reason": u.reason}))
            .collect();
        print_json(
            "status",
            merge(
                session_json(&s),
                json!({
                    "sidecar": {
                        "version": st.sidecar_version,
                        "remoteIndexGeneration": st.remote_index_generation,
                        "lastVerifiedAt": st.last_verified_at,
                        "localDirty": st.local_dirty,
                        "dirtyPaths": st.dirty_paths,
                        "bulkInvalidated": st.bulk_invalidated,
                        "commitSeq": st.verified_commit_seq,
                    },
                    "remoteIndex": {
                        "found": st.remote_index_found,
                        "layout": layout_name(st.layout),
                        "commitSeq": st.commit_seq,
                        "entries": st.remote_entries,
                    },
                    "plan": {
                        "walk": st.walk,
                        "toUpload": uploads,
                        "uploadBytes": upload_bytes,
                        "toDelete": st.to_delete,
                        "skipped": st.skipped,
                    },
                    "requests": output::requests_json(&requests),
                    "elapsedMs": millis(elapsed),
                }),
            ),
        );
        return Ok(());
    }
    if let Some(ns) = &s.namespace {
        println!("namespace:    {ns} (objects under {ns}/, files under {ns}/ in the cache)");
    }
    if st.sidecar_version == 0 {
        println!("sidecar:      none (this cache has not synced yet)");
    } else {
        let generation = if st.remote_index_generation.is_empty() {
            "none".to_string()
        } else {
            format!(
                "{} (verified {})",
                st.remote_index_generation, st.last_verified_at
            )
        };
        println!(
            "sidecar:      v{}, index generation {generation}",
            st.sidecar_version
        );
        let dirty = if st.bulk_invalidated {
            "everything (bulk)".to_string()
        } else if st.local_dirty {
            plural(st.dirty_paths.len() as u64, "path")
        } else {
            "nothing".to_string()
        };
        println!("dirty:        {dirty}");
        if !st.bulk_invalidated {
            for p in &st.dirty_paths {
                println!("  {p}");
            }
        }
    }
    if st.remote_index_found {
        let layout = match (st.layout, st.commit_seq) {
            (IndexLayout::ShardFirst, Some(seq)) => format!(
                "shard-first, commitSeq {seq}{}",
                match st.verified_commit_seq {
                    Some(v) if v == seq => " (this cache verified it)".to_string(),
                    Some(v) => format!(" (this cache last verified {v})"),
                    None => String::new(),
                }
            ),
            _ => "monolithic".to_string(),
        };
        println!(
            "remote index: {}, {layout}",
            output::count(u64::from(st.remote_entries), "entry", "entries")
        );
    } else {
        println!("remote index: none yet");
    }
    println!(
        "next push:    {} walk, {} ({}) to upload, {} to delete",
        st.walk,
        plural(st.to_upload.len() as u64, "file"),
        bytes(upload_bytes),
        plural(st.to_delete.len() as u64, "file")
    );
    for u in &st.to_upload {
        println!("  + {} ({}, {})", u.rel_path, u.reason, bytes(u.size));
    }
    for d in &st.to_delete {
        println!("  - {d}");
    }
    if st.skipped > 0 {
        println!(
            "skipped:      {} (symlinks, unsafe names or unreadable)",
            output::count(u64::from(st.skipped), "local entry", "local entries")
        );
    }
    println!(
        "requests: {} in {}",
        output::requests_human(&requests),
        duration(elapsed)
    );
    Ok(())
}
