//! Create-only writes whose lost replies are settled by a claim nonce, not by content
//! (docs/gcs.md#create-only-claims).
//!
//! [`GcsClient::upload`] with `ifGenerationMatch=0` settles a 412 that follows an ambiguous
//! failure by reading the object back and comparing content. That is right for our own
//! files, and wrong for a claim: another writer may store the very same bytes, and both
//! would then believe they created the object. Here every write carries a random claim in
//! the object's custom metadata, and after an ambiguous failure the object is ours exactly
//! when it bears our claim, the way the lock recognises its own body by its nonce.

use super::client::{Authorizer, GcsClient};
use super::request::{self as rq, Preconditions};
use crate::error::{Error, ErrorKind, Result};
use crate::transport::{Clock, Transport};
use std::cell::Cell;

/// The custom-metadata key of the claim (`x-goog-meta-swamp-claim`).
pub const CLAIM_METADATA_KEY: &str = "swamp-claim";

/// Rounds of "412, then the object was gone when read back" before giving up.
const MAX_ROUNDS: u32 = 3;

/// What a create-only write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateOnly {
    /// This call created the object.
    Created,
    /// The object already existed: someone else's, or there before this call.
    Existed,
}

/// One round of the retried write: the answer, and whether any attempt may have
/// committed without us seeing its answer.
struct Round {
    outcome: Result<CreateOnly>,
    ambiguous: bool,
}

impl<P: Transport + Clock, A: Authorizer> GcsClient<P, A> {
    /// Create `key` with `data` only if it does not exist, tagging it with `claim` (unique
    /// per call, e.g. a UUID). Transient failures are retried; a 412 or a failure that
    /// follows an ambiguous attempt is settled by reading the object's claim back.
    ///
    /// Multipart only: the claim rides in the object resource, and control records are
    /// small (the resumable path settles by content, which is what this avoids).
    pub async fn create_only(&self, key: &str, data: &[u8], claim: &str) -> Result<CreateOnly> {
        for _ in 0..MAX_ROUNDS {
            let round = self.create_round(key, data, claim).await;
            if !round.ambiguous {
                return round.outcome;
            }
            let failure = match round.outcome {
                Ok(CreateOnly::Created) => return Ok(CreateOnly::Created),
                // A 412 after an ambiguous attempt may be that attempt's own success.
                Ok(CreateOnly::Existed) => None,
                Err(e) if e.is_retryable() => Some(e),
                Err(e) => return Err(e),
            };
            match (self.stat(key).await, failure) {
                (Ok(Some(meta)), _) => {
                    let ours =
                        meta.metadata.get(CLAIM_METADATA_KEY).map(String::as_str) == Some(claim);
                    return Ok(if ours {
                        CreateOnly::Created
                    } else {
                        CreateOnly::Existed
                    });
                }
                // The attempts failed and nothing is there: the write did not happen.
                (Ok(None), Some(e)) => return Err(e),
                // The 412 named an object that is gone now: whose it was cannot be known,
                // and the key is free again, so the create is tried again.
                (Ok(None), None) => continue,
                (Err(stat_failed), failure) => return Err(failure.unwrap_or(stat_failed)),
            }
        }
        Err(Error::other(format!(
            "create-only write of {key}: the object kept appearing and disappearing while the write was retried"
        )))
    }

    /// The conditional write under the retry policy, remembering whether an attempt
    /// failed in a way that may have committed (5xx, broken connection, timeout).
    async fn create_round(&self, key: &str, data: &[u8], claim: &str) -> Round {
        let cond = Preconditions::generation_match(Some("0"));
        let boundary = rq::boundary_for(data, self.platform().random_u64());
        let req = rq::multipart_upload_with_metadata(
            &self.cfg,
            key,
            data,
            &cond,
            &boundary,
            &[(CLAIM_METADATA_KEY, claim)],
        );
        let ambiguous = Cell::new(false);
        let outcome = self
            .retried(|_| async {
                match self.send_once("upload", key, &req, &[]).await {
                    // A success status means created, even when the body broke off after it.
                    Ok(_) => Ok(CreateOnly::Created),
                    Err(e) if e.is_committed_reply_lost() => Ok(CreateOnly::Created),
                    Err(e) if e.is_precondition_failed() => Ok(CreateOnly::Existed),
                    Err(e) if e.is_retryable() && e.kind() != ErrorKind::RateLimited => {
                        ambiguous.set(true);
                        Err(e)
                    }
                    Err(e) => Err(e),
                }
            })
            .await;
        Round {
            outcome,
            ambiguous: ambiguous.get(),
        }
    }
}
