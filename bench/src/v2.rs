//! The shard-first scenarios 10–15 (the v2 block of the TypeScript suite): a fresh bucket
//! per trial seeded like v1, pushed, then migrated with `migrate-index` (untimed), then
//! exactly one timed operation. Scenario 13 is corrected: the edit differs in every trial
//! and every trial pushes it.

use super::catalog::V2Op;
use super::driver::{dirty, expect_files, Ctx, Extra};
use super::report::TrialSample;
use super::scenarios::State;
use super::seed::{self, modify_one, seed_v1};
use anyhow::{anyhow, Result};
use gcs_host::datastore::{no_options, Datastore, MigrateOutcome, SyncReport};
use gcs_host::CallError;
use std::path::{Path, PathBuf};

fn no_extra() -> Extra {
    Vec::new()
}

/// A fresh bucket holding the v1 seed, pushed from `source`, migrated to shard-first, and
/// `source` pulled once so its sidecar records the `commitSeq`.
struct Migrated {
    bucket: String,
    models: Vec<seed::Model>,
    source: PathBuf,
}

async fn migrated(ctx: &mut Ctx) -> Result<Migrated> {
    let bucket = ctx.fresh_bucket().await?;
    let source = ctx.new_dir("source")?;
    let (models, _) = seed_v1(&source)?;
    let mut ds = ctx.open(&source, &bucket, &no_extra()).await?;
    expect_files("seed push", ds.push(&no_options()), seed::V1_FILES as u32).await?;
    migrate(&mut ds).await?;
    expect_files("pull after the migration", ds.pull(&no_options()), 0).await?;
    Ok(Migrated {
        bucket,
        models,
        source,
    })
}

/// `migrate-index`, which must migrate.
pub async fn migrate(ds: &mut Datastore) -> Result<()> {
    let m = ds
        .migrate_index(&no_options())
        .await
        .map_err(|e| anyhow!("migrate-index: {e}"))?;
    if m.outcome != MigrateOutcome::Migrated {
        return Err(anyhow!("migrate-index: {:?}, not migrated", m.outcome));
    }
    Ok(())
}

/// `prepare-push` then `commit-push` as one call: the prepare's report with the commit's
/// phases appended.
async fn two_phase(ds: &mut Datastore) -> Result<SyncReport, CallError> {
    let (manifest, mut report) = ds.prepare_push(&no_options()).await?;
    let commit = ds.commit_push(&manifest, &no_options()).await?;
    report.phases.extend(commit.phases);
    Ok(report)
}

fn downloads(s: &TrialSample) -> u64 {
    s.requests.get("download").copied().unwrap_or(0)
}

async fn open(ctx: &mut Ctx, cache: &Path, bucket: &str) -> Result<Datastore> {
    ctx.open(cache, bucket, &no_extra()).await
}

/// One trial of `op`.
pub async fn trial(ctx: &mut Ctx, st: &mut State, op: V2Op, v: usize) -> Result<TrialSample> {
    let m = migrated(ctx).await?;
    match op {
        V2Op::PushOne | V2Op::TwoPhaseOne => {
            let rel = modify_one(&m.source, &m.models, 0, v)?;
            let mut ds = open(ctx, &m.source, &m.bucket).await?;
            ds.mark_dirty(&dirty(&rel))
                .await
                .map_err(|e| anyhow!("mark dirty: {e}"))?;
            let p = ctx.probe(&m.bucket).await?;
            let r = if op == V2Op::PushOne {
                ds.push(&no_options()).await
            } else {
                two_phase(&mut ds).await
            };
            let s = ctx.finish(p, &m.bucket, r).await?;
            st.check(s.files == 1, "pushes exactly the 1 modified file", || {
                s.files.to_string()
            })?;
            // The meta and the model's shard (twice for two phases), never all 50.
            let most = if op == V2Op::PushOne { 2 } else { 4 };
            st.check(
                downloads(&s) <= most,
                "reads only the meta and the model's shard",
                || downloads(&s).to_string(),
            )?;
            st.check(
                s.requests.get("upload").copied() == Some(3),
                "writes the file, its shard and the meta",
                || format!("{:?}", s.requests),
            )?;
            Ok(s)
        }
        V2Op::NoopPush | V2Op::TwoPhaseNoop => {
            let mut ds = open(ctx, &m.source, &m.bucket).await?;
            let p = ctx.probe(&m.bucket).await?;
            let r = if op == V2Op::NoopPush {
                ds.push(&no_options()).await
            } else {
                two_phase(&mut ds).await
            };
            let s = ctx.finish(p, &m.bucket, r).await?;
            st.check(s.fast_path, "answered by the commitSeq fast path", || {
                "slow path".into()
            })?;
            st.check(s.requests_total == 1, "exactly 1 request", || {
                s.requests_total.to_string()
            })?;
            Ok(s)
        }
        V2Op::PullCold => {
            let cache = ctx.new_dir("pulled")?;
            let mut ds = open(ctx, &cache, &m.bucket).await?;
            let p = ctx.probe(&m.bucket).await?;
            let r = ds.pull(&no_options()).await;
            let s = ctx.finish(p, &m.bucket, r).await?;
            st.check(s.files == 1000, "pulls 1000 files", || s.files.to_string())?;
            let detail = s.phase_detail("pullChanged.pullIndex");
            st.check(
                detail.contains("shards=50 "),
                "assembles the index from the 50 shards",
                || detail.clone(),
            )?;
            Ok(s)
        }
        V2Op::NoopPull => {
            let mut ds = open(ctx, &m.source, &m.bucket).await?;
            let p = ctx.probe(&m.bucket).await?;
            let r = ds.pull(&no_options()).await;
            let s = ctx.finish(p, &m.bucket, r).await?;
            st.check(s.fast_path, "answered by the commitSeq fast path", || {
                "slow path".into()
            })?;
            st.check(s.requests_total == 1, "exactly 1 request", || {
                s.requests_total.to_string()
            })?;
            Ok(s)
        }
    }
}
