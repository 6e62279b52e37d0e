//! A dry run of the next push for the CLI: the sidecar, and what a push would upload and
//! delete right now. Nothing is transferred except the index GET, nothing is written
//! (stale temporary files found by the walk are still removed).

use super::core::index::Index;
use super::core::report::{PlannedUpload, StatusReport};
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
        let (index, generation) = match IndexStore::new(&self.client, ns)
            .fetch_existing("status")
            .await?
        {
            Some((index, generation)) => (index, Some(generation.into_string())),
            None => (Index::new(""), None),
        };
        let work = self.plan_push(ns, &index, self.read_base().as_ref())?;
        Ok(StatusReport {
            sidecar: self.sidecar_summary(),
            walk: if work.scoped { "scoped" } else { "full" }.to_string(),
            remote_index_found: generation.is_some(),
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
