//! `migrate-index`: make the bucket's index shard-first, under the global lock as swamp
//! runs it (docs/sync.md#migrate-index).

use super::args::Global;
use super::commands::{merge, print_json};
use super::failure::Failure;
use super::lock::{self, Holding};
use super::output::{self, duration, millis};
use super::session::{self, Cache};
use super::sync::GLOBAL_LOCK;
use gcs_host::datastore::{no_options, MigrateOutcome};
use gcs_host::Host;
use serde_json::json;
use std::time::Instant;

/// `migrate-index`.
pub async fn run(host: &Host, g: &Global) -> Result<(), Failure> {
    let config = session::resolve_config(g)?;
    let holding = Holding::acquire(
        host,
        &config,
        GLOBAL_LOCK,
        &lock::options(GLOBAL_LOCK, None, None),
    )
    .await?;
    let mut s = session::open_with(host, &config, Cache::scratch()?).await?;
    let before = host.traffic.snapshot();
    let start = Instant::now();
    let result = s.ds.migrate_index(&no_options()).await;
    let released = holding.release().await;
    let m = result?;
    let requests = output::delta(&before, &host.traffic.snapshot());
    let outcome = match m.outcome {
        MigrateOutcome::Migrated => "migrated",
        MigrateOutcome::AlreadyShardFirst => "already-shard-first",
        MigrateOutcome::MetaRebuilt => "meta-rebuilt",
    };
    if g.json {
        print_json(
            "migrate-index",
            merge(
                s.json_fields(),
                json!({
                    "outcome": outcome,
                    "version": 2,
                    "partitions": m.partitions,
                    "commitSeq": m.commit_seq,
                    "entries": m.entries,
                    "shardsWritten": m.shards_written,
                    "lockWarning": released.warning,
                    "requests": output::requests_json(&requests),
                    "elapsedMs": millis(start.elapsed()),
                }),
            ),
        );
    } else {
        match m.outcome {
            MigrateOutcome::Migrated => println!(
                "migrated: {} entries into {} shards; _index/_meta.json is version 2, commitSeq {}",
                m.entries, m.shards_written, m.commit_seq
            ),
            MigrateOutcome::AlreadyShardFirst => println!(
                "already shard-first: {} shards, commitSeq {}; nothing written",
                m.partitions.len(),
                m.commit_seq
            ),
            MigrateOutcome::MetaRebuilt => println!(
                "rebuilt _index/_meta.json from the shards in the bucket: {} shards, commitSeq {}",
                m.partitions.len(),
                m.commit_seq
            ),
        }
        if let Some(w) = &released.warning {
            eprintln!("warning: {w}");
        }
        println!(
            "requests: {} in {}",
            output::requests_human(&requests),
            duration(start.elapsed())
        );
    }
    Ok(())
}
