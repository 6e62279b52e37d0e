//! The last phase of a push to a shard-first (v2) repository
//! (docs/sync.md#shard-first-repositories): publish the commit (dirty shards, then the
//! meta, [`IndexStore::publish_v2`]) or, with nothing to publish, settle. The monolith is
//! never written.
//!
//! When is the new `commitSeq` recorded as verified? Only when this cache provably holds
//! the whole remote at it: the walk was complete, no other writer committed in between
//! (no lost race), the local copy covers what the view saw, and the view saw everything —
//! either every shard, or the shards a scoped push touched on top of a `commitSeq` this
//! cache had already verified (then the shards not read are the ones it verified).

use super::core::index::{Index, IndexChanges, IndexEntry};
use super::core::reconcile::base_covers;
use super::push::PushRun;
use super::push_plan::PushWork;
use super::service::SyncService;
use super::shards::ShardView;
use crate::error::Result;
use crate::gcs::Authorizer;
use crate::transport::{Clock, Transport};

impl<P: Transport + Clock, A: Authorizer> SyncService<P, A> {
    /// Whether a view at `view.commit_seq` may be taken as the whole remote.
    fn view_is_whole(&self, view: &ShardView) -> bool {
        view.complete || self.with_state(|s| s.commit_seq()) == Some(view.commit_seq)
    }

    /// Nothing to publish: record what this cache holds, and the `commitSeq` when it
    /// holds the whole remote at it.
    pub(super) fn push_settle_v2(
        &self,
        run: &mut PushRun<'_, P, A>,
        view: &ShardView,
        remote: &Index,
        base: Option<&Index>,
        work: &PushWork,
    ) {
        let ns = run.ns;
        let next_base = self.next_base_after_push(ns, base, remote, &work.adopted, &[], Some(view));
        let local = if base != Some(&next_base) {
            match self.write_local_index(&next_base) {
                Ok(()) => "written",
                Err(_) => "failed",
            }
        } else {
            "unchanged"
        };
        let clean = work.complete
            && local != "failed"
            && self.view_is_whole(view)
            && base_covers(&next_base, remote)
            && self.local_has_all(remote, ns, &[]);
        if clean {
            self.update_state_best_effort(|s| s.mark_synced_v2(view.commit_seq));
        }
        let detail = format!(
            "commitSeq={} localIndex={local} sidecar={}",
            view.commit_seq,
            if clean { "clean" } else { "unchanged" }
        );
        self.record(run, "pushChanged.writeback", detail);
    }

    /// Publish the commit, then the local copy, then the sidecar (clean only under the
    /// rule of the module doc).
    pub(super) async fn push_publish_v2(
        &self,
        run: &mut PushRun<'_, P, A>,
        view: &ShardView,
        remote: Index,
        base: Option<&Index>,
        work: &PushWork,
        changes: IndexChanges,
    ) -> Result<()> {
        let ns = run.ns;
        self.client.check_deadline("push writeback")?;
        let committed = run.store.publish_v2(remote, view, &changes).await?;
        let recorded: Vec<IndexEntry> = changes
            .upserts
            .iter()
            .chain(&work.adopted)
            .cloned()
            .collect();
        let next_base = self.next_base_after_push(
            ns,
            base,
            &committed.index,
            &recorded,
            &changes.deletions,
            Some(view),
        );
        let local_written = self.write_local_index(&next_base).is_ok();
        let verified = !committed.raced
            && local_written
            && self.view_is_whole(view)
            && base_covers(&next_base, &committed.index)
            && self.local_has_all(&committed.index, ns, &changes.upserts);
        let clean = verified && work.complete;
        if clean {
            self.update_state_best_effort(|s| s.mark_synced_v2(committed.commit_seq));
        } else if verified {
            // The remote is what this cache verified plus our commit; dirty signals stay.
            self.update_state_best_effort(|s| s.note_commit_seq(committed.commit_seq));
        }
        let detail = format!(
            "commitSeq={} shards={} emptied={} metaAttempts={} raced={} localIndex={} sidecar={}",
            committed.commit_seq,
            committed.written,
            committed.emptied,
            committed.meta_attempts,
            committed.raced,
            if local_written { "written" } else { "failed" },
            if clean { "clean" } else { "dirty" }
        );
        self.record(run, "pushChanged.writeback", detail);
        Ok(())
    }
}
