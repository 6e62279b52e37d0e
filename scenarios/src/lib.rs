//! The sync scenarios, written once and run twice: natively, on the guest crate's
//! in-memory fake GCS (`src/sync/scenarios_native.rs`), and through the real component in
//! wasmtime against the in-process fake HTTP server and fake-gcs-server
//! (`host-test/tests/all/sync/scenarios.rs`).
//!
//! - [`driver`]: the seam — [`Driver`] (open a sync service on a [`Cache`], edit the
//!   bucket behind its back, count its requests by [`Kind`], inject faults) and
//!   [`Service`] (push, pull, mark-dirty, status, capabilities), with the plain
//!   report and error types every driver converts into.
//! - [`cache`]: [`Cache`], a temporary cache directory inside a temporary parent.
//! - [`support`]: option builders, sidecar and index readers, bucket snapshots, the
//!   benchmark seeding, the formats other clients write.
//! - [`seed`]: the partitioning and dirty-path tests of the TypeScript client's seed
//!   change (`docs/compatibility.md#counterparts-of-the-typescript-tests`).
//! - [`traps`]: one regression per hazard of `docs/hazards.md`.
//! - [`shard_first`]: shard-first (v2) buckets written by the TypeScript client: pulled
//!   and pushed through their shards, never through the stale monolith.
//! - [`two_phase`]: prepare/commit on both layouts, the dirty set a commit may clear,
//!   the push preview.
//! - [`scale`]: 1000 files / 50 models: request budgets, round trip, scoped pulls,
//!   dirty-only partition writes.
//!
//! Every scenario is `pub async fn name<D: Driver>(d: &mut D)`; [`for_each_scenario!`]
//! lists them all, so a runner cannot miss one.

pub mod cache;
pub mod driver;
pub mod scale;
pub mod seed;
pub mod shard_first;
pub mod support;
pub mod traps;
pub mod two_phase;

pub use cache::Cache;
pub use driver::{
    Capabilities, Driver, Error, Kind, Object, Options, Phase, Preview, Report, Request, Service,
    Status,
};

/// Call `$runner!` with every scenario, grouped by module (`seed: [name, ...], traps: [...]`):
/// a runner macro turns each into one test.
#[macro_export]
macro_rules! for_each_scenario {
    ($runner:ident) => {
        $runner!(
            seed: [
                internal_cache_file_excludes_index_partition_directory,
                mark_dirty_with_rel_path_tracks_individual_dirty_paths,
                mark_dirty_with_rel_path_caps_at_200_and_flips_bulk_invalidated,
                mark_dirty_with_rel_path_path_escape_triggers_bulk_invalidated,
                mark_dirty_without_rel_path_bulk_invalidation_legacy_path,
                push_scoped_walk_only_visits_dirty_paths,
                push_sha256_prevents_redundant_push_when_only_mtime_changed,
                push_sha256_mismatch_triggers_push_even_with_same_size,
                push_writes_partitioned_index_alongside_monolithic,
                pull_scoped_pull_reads_partition_files_when_context_models_provided,
                pull_scoped_pull_falls_back_to_monolithic_when_partition_missing,
                capabilities_returns_scoped_sync_true,
                v1_sidecar_migration_version_1_sidecar_triggers_full_walk,
            ],
            traps: [
                index_read_errors_other_than_404_are_never_an_empty_index,
                push_merges_onto_a_freshly_fetched_remote_index,
                fingerprint_only_from_the_compared_get_or_our_put_and_only_when_complete,
                mark_dirty_is_a_persisted_pre_write_hint,
                deletion_only_from_dirty_signals,
                v1_write_order_monolith_first_then_dirty_partitions_then_meta,
                pull_writes_atomically_corrupt_download_leaves_no_file_and_no_temp_file,
                index_key_escaping_the_cache_is_never_written_outside_it,
                overlapping_dirty_paths_upload_once_and_delete_once,
                local_mtime_is_js_iso_and_written_back_after_pull,
                partition_reads_retry_404_falls_back_other_errors_fail,
                sidecar_write_failures_never_fail_a_successful_push_but_fail_mark_dirty,
                pushed_hash_matches_uploaded_bytes,
                solo_walk_skips_namespace_directories,
            ],
            shard_first: [
                v2_bucket_is_pulled_and_pushed_through_its_shards,
                v2_unpartitionable_files_are_kept_and_emptied_shards_unlisted,
                v1_fingerprint_never_hides_commits_after_a_migration,
                v2_listed_shard_missing_is_an_error_not_a_fallback,
            ],
            two_phase: [
                two_phase_push_publishes_only_at_commit,
                commit_clears_the_dirty_set_only_when_nothing_was_marked_since,
                preview_push_counts_and_changes_nothing,
            ],
            scale: [
                round_trip_1000_files_50_models_with_request_budgets,
                scoped_pull_of_one_model_reads_only_its_partitions_not_the_monolith,
                overflow_to_full_walk_writes_only_touched_partitions,
            ],
        );
    };
}
