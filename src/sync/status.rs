//! A dry run of the next push for the CLI: the sidecar, the index's layout, and what a
//! push would upload and delete right now. Nothing is transferred except the index reads
//! (the meta, then the monolith or every shard), nothing is written (stale temporary
//! files found by the walk are still removed).

use super::core::index::Index;
use super::core::partition_files::Meta;
use super::core::report::{IndexLayout, PlannedUpload, StatusReport};
use super::remote_index::IndexStore;
use super::service::{SyncOptions, SyncService};
use crate::error::Result;
use crate::gcs::Authorizer;
use crate::transport::{Clock, Transport};

impl<P: Transport + Clock, A: Authorizer> SyncService<P, A> {
    /// What a push would do now. A missing remote index is reported as such (no listing:
    /// discovery would be more than one request); every other read error propagates.
    pub async fn status(&self, opts: &SyncOptions) -> Result<StatusReport> {
        let ns = self.bind_namespace(opts.namespace.as_deref())?;
        let ns = ns.as_deref();
        let store = IndexStore::new(&self.client, ns);
        let meta = store.read_meta("status").await?;
        let (index, generation, layout, commit_seq) = match &meta.meta {
            Some(Meta::V2 { commit_seq, .. }) => {
                let (_, remote) = store.read_index("status", None).await?;
                (
                    remote.index,
                    None,
                    IndexLayout::ShardFirst,
                    Some(*commit_seq),
                )
            }
            _ => match store.fetch_existing("status").await? {
                Some((index, generation)) => (
                    index,
                    Some(generation.into_string()),
                    IndexLayout::Monolith,
                    None,
                ),
                None => (Index::new(""), None, IndexLayout::None, None),
            },
        };
        let work = self.plan_push(ns, &index, self.read_base().as_ref())?;
        Ok(StatusReport {
            sidecar: self.sidecar_summary(),
            walk: if work.scoped { "scoped" } else { "full" }.to_string(),
            remote_index_found: layout != IndexLayout::None,
            layout,
            commit_seq,
            remote_generation: generation,
            remote_entries: index.entries.len(),
            to_upload: work
                .uploads
                .into_iter()
                .map(|u| PlannedUpload {
                    rel: u.rel,
                    size: u.size,
                    reason: u.reason,
                })
                .collect(),
            to_delete: work.deletions,
            skipped: work.skipped,
        })
    }
}
