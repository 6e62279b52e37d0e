//! One trial of each v1, native and sweep scenario: untimed setup (a fresh bucket and
//! fresh caches every trial), then exactly one timed call, then correctness checks.
//! Scale trials live in `scale.rs`, start-up trials in `startup.rs`.

use super::catalog::{Def, Kind, PULL_DEFAULT, PUSH_DEFAULT};
use super::driver::{check, dirty, expect_files, scoped, Ctx, Extra};
use super::native::{pull_files, push_files};
use super::report::TrialSample;
use super::scale;
use super::seed::{self, copy_tree, modify_many, modify_one, seed_v1, Model, ScaleSeed};
use anyhow::Result;
use bytes::Bytes;
use gcs_host::datastore::no_options;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// State a scenario keeps across its trials.
#[derive(Default)]
pub struct State {
    /// The checks that passed.
    pub checks: BTreeSet<String>,
    /// The scale seed (scale scenarios).
    pub seed: Option<ScaleSeed>,
    /// A hard-linked clone of the scale template.
    pub clone: Option<PathBuf>,
    /// A second cache.
    pub second: Option<PathBuf>,
    /// The scale level's bucket was migrated to shard-first.
    pub migrated: bool,
}

impl State {
    /// Require `ok`; remember `what` as a passed check.
    pub fn check(&mut self, ok: bool, what: &str, got: impl FnOnce() -> String) -> Result<()> {
        check(ok, || format!("{what} (got {})", got()))?;
        self.checks.insert(what.to_string());
        Ok(())
    }
}

/// Run one trial of `def`. `variant` numbers the trial (warm-ups included) so every
/// edit differs from the previous one.
pub async fn trial(
    ctx: &mut Ctx,
    def: &Def,
    st: &mut State,
    variant: usize,
) -> Result<TrialSample> {
    let v = variant + 1;
    match def.kind {
        Kind::PushCold { concurrency } => push_cold(ctx, st, concurrency).await,
        Kind::PushOne => push_one(ctx, st, v).await,
        Kind::NoopPush => noop_push(ctx, st).await,
        Kind::Push201 => push_201(ctx, st, v).await,
        Kind::PullCold { concurrency } => pull_cold(ctx, st, concurrency).await,
        Kind::PullOneUncorrected => pull_one_uncorrected(ctx, st, v).await,
        Kind::PullOne => pull_one(ctx, st, v, false).await,
        Kind::NoopPull => noop_pull(ctx, st, false).await,
        Kind::ScopedUncorrected => noop_pull(ctx, st, true).await,
        Kind::Scoped => pull_one(ctx, st, v, true).await,
        Kind::Writeback10 => writeback_10(ctx, st, v).await,
        Kind::V2(op) => super::v2::trial(ctx, st, op, v).await,
        Kind::NativePush { concurrency } => native_push(ctx, st, concurrency).await,
        Kind::NativePull { concurrency } => native_pull(ctx, st, concurrency).await,
        Kind::PullColdProgress { shown } => pull_cold_progress(ctx, st, shown).await,
        Kind::Scale { level, op } => scale::trial(ctx, st, level, op, v).await,
        Kind::Startup { command, warm } => super::startup::trial(ctx, st, command, warm).await,
    }
}

fn no_extra() -> Extra {
    Vec::new()
}

/// A fresh bucket holding the v1 seed, pushed by the component from `source` (whose
/// sidecar is then clean).
pub(crate) struct Pushed {
    pub(crate) bucket: String,
    models: Vec<Model>,
    source: PathBuf,
}

pub(crate) async fn pushed(ctx: &mut Ctx) -> Result<Pushed> {
    let bucket = ctx.fresh_bucket().await?;
    let source = ctx.new_dir("source")?;
    let (models, _) = seed_v1(&source)?;
    let mut ds = ctx.open(&source, &bucket, &no_extra()).await?;
    expect_files("seed push", ds.push(&no_options()), seed::V1_FILES as u32).await?;
    Ok(Pushed {
        bucket,
        models,
        source,
    })
}

/// A new cache hydrated by a full pull.
pub(crate) async fn pulled(ctx: &mut Ctx, bucket: &str) -> Result<PathBuf> {
    let cache = ctx.new_dir("pulled")?;
    let mut ds = ctx.open(&cache, bucket, &no_extra()).await?;
    expect_files(
        "hydrating pull",
        ds.pull(&no_options()),
        seed::V1_FILES as u32,
    )
    .await?;
    Ok(cache)
}

/// A fast-path answer: `requests` probes (a push probes the monolith; a pull probes it
/// and the meta, in flight together).
fn fast_path_ok(st: &mut State, s: &TrialSample, requests: u64) -> Result<()> {
    st.check(s.fast_path, "answered by the fast path", || {
        "a slow path".into()
    })?;
    st.check(
        s.requests_total == requests,
        &format!("exactly {requests} request(s)"),
        || s.requests_total.to_string(),
    )?;
    st.check(s.files == 0, "moves no file", || s.files.to_string())
}

async fn push_cold(ctx: &mut Ctx, st: &mut State, concurrency: usize) -> Result<TrialSample> {
    let bucket = ctx.fresh_bucket().await?;
    let cache = ctx.new_dir("cache")?;
    seed_v1(&cache)?;
    let extra: Extra = if concurrency == PUSH_DEFAULT {
        no_extra()
    } else {
        vec![("pushConcurrency", json!(concurrency))]
    };
    let mut ds = ctx.open(&cache, &bucket, &extra).await?;
    let p = ctx.probe(&bucket).await?;
    let r = ds.push(&no_options()).await;
    let s = ctx.finish(p, &bucket, r).await?;
    st.check(s.files == 1000, "pushes 1000 files", || s.files.to_string())?;
    let uploads = s.requests.get("upload").copied().unwrap_or(0);
    st.check(uploads >= 1001, "1000 data uploads + index writes", || {
        uploads.to_string()
    })?;
    Ok(s)
}

async fn push_one(ctx: &mut Ctx, st: &mut State, v: usize) -> Result<TrialSample> {
    let seeded = pushed(ctx).await?;
    let rel = modify_one(&seeded.source, &seeded.models, 0, v)?;
    let mut ds = ctx
        .open(&seeded.source, &seeded.bucket, &no_extra())
        .await?;
    ds.mark_dirty(&dirty(&rel))
        .await
        .map_err(|e| anyhow::anyhow!("mark dirty: {e}"))?;
    let p = ctx.probe(&seeded.bucket).await?;
    let r = ds.push(&no_options()).await;
    let s = ctx.finish(p, &seeded.bucket, r).await?;
    st.check(s.files == 1, "pushes exactly the 1 modified file", || {
        s.files.to_string()
    })?;
    Ok(s)
}

async fn noop_push(ctx: &mut Ctx, st: &mut State) -> Result<TrialSample> {
    let seeded = pushed(ctx).await?;
    let mut ds = ctx
        .open(&seeded.source, &seeded.bucket, &no_extra())
        .await?;
    let p = ctx.probe(&seeded.bucket).await?;
    let r = ds.push(&no_options()).await;
    let s = ctx.finish(p, &seeded.bucket, r).await?;
    fast_path_ok(st, &s, 1)?;
    Ok(s)
}

async fn push_201(ctx: &mut Ctx, st: &mut State, v: usize) -> Result<TrialSample> {
    let seeded = pushed(ctx).await?;
    let rels = modify_many(&seeded.source, &seeded.models, 201, v)?;
    let mut ds = ctx
        .open(&seeded.source, &seeded.bucket, &no_extra())
        .await?;
    for rel in &rels {
        ds.mark_dirty(&dirty(rel))
            .await
            .map_err(|e| anyhow::anyhow!("mark dirty: {e}"))?;
    }
    let p = ctx.probe(&seeded.bucket).await?;
    let r = ds.push(&no_options()).await;
    let s = ctx.finish(p, &seeded.bucket, r).await?;
    st.check(s.files == 201, "pushes the 201 modified files", || {
        s.files.to_string()
    })?;
    let walk = s.phase_detail("pushChanged.walk");
    st.check(walk.contains("mode=full"), "walks the full cache", || {
        walk.clone()
    })?;
    Ok(s)
}

async fn pull_cold(ctx: &mut Ctx, st: &mut State, concurrency: usize) -> Result<TrialSample> {
    let seeded = pushed(ctx).await?;
    let cache = ctx.new_dir("cold")?;
    let extra: Extra = if concurrency == PULL_DEFAULT {
        no_extra()
    } else {
        vec![("pullConcurrency", json!(concurrency))]
    };
    let mut ds = ctx.open(&cache, &seeded.bucket, &extra).await?;
    let p = ctx.probe(&seeded.bucket).await?;
    let r = ds.pull(&no_options()).await;
    let s = ctx.finish(p, &seeded.bucket, r).await?;
    st.check(s.files == 1000, "pulls 1000 files", || s.files.to_string())?;
    let first = seeded.models[0].file(0);
    st.check(
        cache.join(&first).is_file(),
        "files land in the cache",
        || format!("{first} missing"),
    )?;
    Ok(s)
}

/// A cold pull of the 1000 seed files with the progress pipeline on (guest events,
/// stderr splitter, the CLI's display task rendering every line into nothing) or off.
async fn pull_cold_progress(ctx: &mut Ctx, st: &mut State, shown: bool) -> Result<TrialSample> {
    use swamp_gcs::cli::progress::{Display, Progress};
    let seeded = pushed(ctx).await?;
    let cache = ctx.new_dir("cold")?;
    let mut ds = ctx
        .open_with_progress(&cache, &seeded.bucket, &no_extra(), shown)
        .await?;
    let events_before = ctx.host.progress.events();
    let display = if shown { Display::Silent } else { Display::Off };
    let p = ctx.probe(&seeded.bucket).await?;
    let progress = Progress::start(&ctx.host, "pull", display);
    let r = ds.pull(&no_options()).await;
    progress.finish().await;
    let s = ctx.finish(p, &seeded.bucket, r).await?;
    st.check(s.files == 1000, "pulls 1000 files", || s.files.to_string())?;
    let events = ctx.host.progress.events() - events_before;
    if shown {
        // index, walk, the plan, the last file, writeback: at least five.
        st.check(events >= 5, "the guest reports progress", || {
            format!("{events} events")
        })?;
    } else {
        st.check(events == 0, "no progress events when off", || {
            format!("{events} events")
        })?;
    }
    Ok(s)
}

/// The TypeScript suite's scenario 6 as written: the scratch copy edits without `markDirty`, its
/// push takes the fast path, so the timed pull has nothing to do.
async fn pull_one_uncorrected(ctx: &mut Ctx, st: &mut State, v: usize) -> Result<TrialSample> {
    let seeded = pushed(ctx).await?;
    let cache = pulled(ctx, &seeded.bucket).await?;
    let scratch = ctx.new_dir("scratch")?;
    copy_tree(&cache, &scratch)?;
    modify_one(&scratch, &seeded.models, 0, v)?;
    let mut other = ctx.open(&scratch, &seeded.bucket, &no_extra()).await?;
    expect_files("unmarked scratch push", other.push(&no_options()), 0).await?;
    let mut ds = ctx.open(&cache, &seeded.bucket, &no_extra()).await?;
    let p = ctx.probe(&seeded.bucket).await?;
    let r = ds.pull(&no_options()).await;
    let s = ctx.finish(p, &seeded.bucket, r).await?;
    fast_path_ok(st, &s, 2)?;
    Ok(s)
}

/// Corrected scenarios 6 and 8: the source cache (a second cache) modifies model 0's
/// first file, marks it and pushes; then the hydrated cache pulls (all, or scoped to
/// model 0) and must fetch exactly that file.
async fn pull_one(ctx: &mut Ctx, st: &mut State, v: usize, scope: bool) -> Result<TrialSample> {
    let seeded = pushed(ctx).await?;
    let cache = pulled(ctx, &seeded.bucket).await?;
    let rel = modify_one(&seeded.source, &seeded.models, 0, v)?;
    let mut other = ctx
        .open(&seeded.source, &seeded.bucket, &no_extra())
        .await?;
    other
        .mark_dirty(&dirty(&rel))
        .await
        .map_err(|e| anyhow::anyhow!("mark dirty: {e}"))?;
    expect_files("second cache push", other.push(&no_options()), 1).await?;
    let mut ds = ctx.open(&cache, &seeded.bucket, &no_extra()).await?;
    let opts = if scope {
        let m = &seeded.models[0];
        scoped(&m.model_type, &m.model_id)
    } else {
        no_options()
    };
    let p = ctx.probe(&seeded.bucket).await?;
    let r = ds.pull(&opts).await;
    let s = ctx.finish(p, &seeded.bucket, r).await?;
    st.check(!s.fast_path, "not answered by the fast path", || {
        "fast path".into()
    })?;
    st.check(s.files == 1, "pulls exactly the changed file", || {
        s.files.to_string()
    })?;
    let got = std::fs::read(cache.join(&rel))?;
    let want = std::fs::read(seeded.source.join(&rel))?;
    st.check(got == want, "the cache holds the new content", || {
        "old content".into()
    })?;
    if scope {
        let detail = s.phase_detail("pullChanged.pullIndex");
        st.check(
            detail.starts_with("scoped"),
            "reads the model's partitions",
            || detail.clone(),
        )?;
    }
    Ok(s)
}

async fn noop_pull(ctx: &mut Ctx, st: &mut State, scope: bool) -> Result<TrialSample> {
    let seeded = pushed(ctx).await?;
    let cache = pulled(ctx, &seeded.bucket).await?;
    let mut ds = ctx.open(&cache, &seeded.bucket, &no_extra()).await?;
    let opts = if scope {
        let m = &seeded.models[0];
        scoped(&m.model_type, &m.model_id)
    } else {
        no_options()
    };
    let p = ctx.probe(&seeded.bucket).await?;
    let r = ds.pull(&opts).await;
    let s = ctx.finish(p, &seeded.bucket, r).await?;
    fast_path_ok(st, &s, 2)?;
    Ok(s)
}

async fn writeback_10(ctx: &mut Ctx, st: &mut State, v: usize) -> Result<TrialSample> {
    let seeded = pushed(ctx).await?;
    for m in 0..10 {
        modify_one(&seeded.source, &seeded.models, m, v)?;
    }
    let mut ds = ctx
        .open(&seeded.source, &seeded.bucket, &no_extra())
        .await?;
    for model in &seeded.models[..10] {
        ds.mark_dirty(&dirty(&model.dir()))
            .await
            .map_err(|e| anyhow::anyhow!("mark dirty: {e}"))?;
    }
    let p = ctx.probe(&seeded.bucket).await?;
    let r = ds.push(&no_options()).await;
    let s = ctx.finish(p, &seeded.bucket, r).await?;
    st.check(s.files == 10, "pushes the 10 modified files", || {
        s.files.to_string()
    })?;
    let wb = s.phase_detail("pushChanged.writeback");
    st.check(
        wb.contains("partitions=10"),
        "writes exactly the 10 dirty partitions",
        || wb.clone(),
    )?;
    Ok(s)
}

async fn native_push(ctx: &mut Ctx, st: &mut State, concurrency: usize) -> Result<TrialSample> {
    let bucket = ctx.fresh_bucket().await?;
    let cache = ctx.new_dir("native-src")?;
    let (_, rels) = seed_v1(&cache)?;
    let gcs = ctx.native.for_bucket(&bucket);
    let p = super::driver::Probe::native(ctx);
    let bytes = push_files(&gcs, &cache, &rels, concurrency).await?;
    let s = ctx.finish_native(p, &gcs, rels.len() as u64, bytes);
    st.check(
        s.requests.get("upload") == Some(&1000),
        "1000 uploads",
        || format!("{:?}", s.requests),
    )?;
    Ok(s)
}

async fn native_pull(ctx: &mut Ctx, st: &mut State, concurrency: usize) -> Result<TrialSample> {
    let bucket = ctx.fresh_bucket().await?;
    let src = ctx.new_dir("native-seed")?;
    let (_, rels) = seed_v1(&src)?;
    let gcs = ctx.native.for_bucket(&bucket);
    let mut items = Vec::with_capacity(rels.len());
    for rel in &rels {
        items.push((rel.clone(), Bytes::from(std::fs::read(src.join(rel))?)));
    }
    gcs.upload_many(items, PUSH_DEFAULT).await?;
    gcs.counts.reset();
    let dest = ctx.new_dir("native-dest")?;
    let p = super::driver::Probe::native(ctx);
    let bytes = pull_files(&gcs, &dest, &rels, concurrency).await?;
    let s = ctx.finish_native(p, &gcs, rels.len() as u64, bytes);
    st.check(
        s.requests.get("download") == Some(&1000),
        "1000 downloads",
        || format!("{:?}", s.requests),
    )?;
    st.check(
        dest.join(&rels[999]).is_file(),
        "files land on disk",
        || "missing".into(),
    )?;
    Ok(s)
}
