//! Scale trials on a seeded level (1000 models × 1, 10 or 100 files; see `seed.rs`).
//! The parent seeds each level once and runs the operations in [`ScaleOp::ALL`] order,
//! each in its own child: the fast-path operations first, on the untouched template
//! cache; the mutating ones on hard-linked clones, so the template stays in sync.
//!
//! Unlike the v1 scenarios, the trials of a level share its bucket: re-seeding 100,000
//! objects per trial would dominate the run, and no trial here grows the bucket (each
//! rewrites at most one object and the index).

use super::catalog::{Level, ScaleOp};
use super::driver::{dirty, expect_files, scoped, Ctx, Extra};
use super::report::TrialSample;
use super::scenarios::State;
use super::seed::{link_tree, modified_content, replace_file, write_file, ScaleSeed};
use anyhow::{Context as _, Result};
use gcs_host::datastore::no_options;
use std::path::PathBuf;

fn no_extra() -> Extra {
    Vec::new()
}

fn clone_of(ctx: &mut Ctx, st: &mut State, seed: &ScaleSeed) -> Result<PathBuf> {
    if let Some(c) = &st.clone {
        return Ok(c.clone());
    }
    let dir = ctx.new_dir("clone")?;
    std::fs::remove_dir(&dir)?;
    link_tree(&seed.template, &dir)?;
    st.clone = Some(dir.clone());
    Ok(dir)
}

/// One trial of `op` at `level`.
pub async fn trial(
    ctx: &mut Ctx,
    st: &mut State,
    level: Level,
    op: ScaleOp,
    v: usize,
) -> Result<TrialSample> {
    let seed = st.seed.clone().context("scale scenario without a seed")?;
    let bucket = seed.bucket.clone();
    let fpm = level.files_per_model as u64;
    match op {
        ScaleOp::NoopPush | ScaleOp::NoopPull => {
            let mut ds = ctx.open(&seed.template, &bucket, &no_extra()).await?;
            let p = ctx.probe(&bucket).await?;
            let r = if op == ScaleOp::NoopPush {
                ds.push(&no_options()).await
            } else {
                ds.pull(&no_options()).await
            };
            let s = ctx.finish(p, &bucket, r).await?;
            st.check(s.fast_path, "answered by the fast path", || {
                "slow path".into()
            })?;
            // A pull also reads the meta, in flight beside the monolith's generation.
            let expected = if op == ScaleOp::NoopPush { 1 } else { 2 };
            st.check(
                s.requests_total == expected,
                &format!("exactly {expected} request(s)"),
                || s.requests_total.to_string(),
            )?;
            Ok(s)
        }
        ScaleOp::V2PushOne => {
            // The clone of the template, migrated once (the last operation of the level:
            // the v1 ones before it read the monolith) and pulled so its sidecar holds
            // the commitSeq; then the same edit as `PushOne`.
            let cache = clone_of(ctx, st, &seed)?;
            if !st.migrated {
                let mut ds = ctx.open(&cache, &bucket, &no_extra()).await?;
                super::v2::migrate(&mut ds).await?;
                ds.pull(&no_options())
                    .await
                    .map_err(|e| anyhow::anyhow!("pull after the migration: {e}"))?;
                st.migrated = true;
            }
            let rel = seed.models[0].file(0);
            replace_file(&cache, &rel, modified_content(0, 0, v + 1000).as_bytes())?;
            let mut ds = ctx.open(&cache, &bucket, &no_extra()).await?;
            ds.mark_dirty(&dirty(&rel))
                .await
                .map_err(|e| anyhow::anyhow!("mark dirty: {e}"))?;
            let p = ctx.probe(&bucket).await?;
            let r = ds.push(&no_options()).await;
            let s = ctx.finish(p, &bucket, r).await?;
            st.check(s.files == 1, "pushes exactly the 1 modified file", || {
                s.files.to_string()
            })?;
            let downloads = s.requests.get("download").copied().unwrap_or(0);
            st.check(
                downloads <= 2,
                "reads only the meta and the model's shard",
                || downloads.to_string(),
            )?;
            Ok(s)
        }
        ScaleOp::PushOne => {
            let cache = clone_of(ctx, st, &seed)?;
            let rel = seed.models[0].file(0);
            replace_file(&cache, &rel, modified_content(0, 0, v).as_bytes())?;
            let mut ds = ctx.open(&cache, &bucket, &no_extra()).await?;
            ds.mark_dirty(&dirty(&rel))
                .await
                .map_err(|e| anyhow::anyhow!("mark dirty: {e}"))?;
            let p = ctx.probe(&bucket).await?;
            let r = ds.push(&no_options()).await;
            let s = ctx.finish(p, &bucket, r).await?;
            st.check(s.files == 1, "pushes exactly the 1 modified file", || {
                s.files.to_string()
            })?;
            Ok(s)
        }
        ScaleOp::ScopedPull => {
            let cache = clone_of(ctx, st, &seed)?;
            let second = match &st.second {
                Some(d) => d.clone(),
                None => {
                    let d = ctx.new_dir("second")?;
                    st.second = Some(d.clone());
                    d
                }
            };
            let model = &seed.models[1];
            let rel = model.file(0);
            write_file(&second, &rel, modified_content(1, 0, v).as_bytes())?;
            let mut other = ctx.open(&second, &bucket, &no_extra()).await?;
            other
                .mark_dirty(&dirty(&rel))
                .await
                .map_err(|e| anyhow::anyhow!("mark dirty: {e}"))?;
            expect_files("second cache push", other.push(&no_options()), 1).await?;
            drop(other);
            let mut ds = ctx.open(&cache, &bucket, &no_extra()).await?;
            let p = ctx.probe(&bucket).await?;
            let r = ds.pull(&scoped(&model.model_type, &model.model_id)).await;
            let s = ctx.finish(p, &bucket, r).await?;
            st.check(!s.fast_path, "not answered by the fast path", || {
                "fast path".into()
            })?;
            st.check(s.files == 1, "pulls exactly the changed file", || {
                s.files.to_string()
            })?;
            let detail = s.phase_detail("pullChanged.pullIndex");
            st.check(
                detail.starts_with("scoped"),
                "reads the model's partitions",
                || detail.clone(),
            )?;
            Ok(s)
        }
        ScaleOp::ColdPullModel => {
            let cache = ctx.new_dir("cold-model")?;
            let model = &seed.models[2];
            let mut ds = ctx.open(&cache, &bucket, &no_extra()).await?;
            let p = ctx.probe(&bucket).await?;
            let r = ds.pull(&scoped(&model.model_type, &model.model_id)).await;
            let s = ctx.finish(p, &bucket, r).await?;
            st.check(s.files == fpm, "pulls every file of the model", || {
                s.files.to_string()
            })?;
            st.check(
                cache.join(model.file(0)).is_file(),
                "files land in the cache",
                || "missing".into(),
            )?;
            Ok(s)
        }
    }
}
