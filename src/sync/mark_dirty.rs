//! `markDirty` (docs/sync.md#dirty-tracking, docs/swamp-contract.md#markdirty-rules): a
//! cheap, idempotent pre-write hint. It only records — no stat, no network — and
//! persists the v2 sidecar so a restart keeps the set. The rules themselves live in
//! [`SyncState::mark_dirty`](super::core::sync_state::SyncState::mark_dirty).

use super::service::{SyncOptions, SyncService};
use crate::error::Result;
use crate::gcs::Authorizer;
use crate::transport::{Clock, Transport};

impl<P: Transport + Clock, A: Authorizer> SyncService<P, A> {
    /// Record that `opts.rel_path` (cache-relative; `None`/`""` = everything) is about to
    /// change. A failure to persist is returned: core relies on the hint surviving a
    /// crash, so losing it silently could lose the change.
    pub async fn mark_dirty(&self, opts: &SyncOptions) -> Result<()> {
        let rel = opts.rel_path.as_deref();
        self.update_state(|s| s.mark_dirty(rel)).map_err(|e| {
            let what = rel.filter(|r| !r.is_empty()).unwrap_or("(everything)");
            e.context(format!("markDirty {what}: persist the sync-state sidecar"))
        })
    }
}
