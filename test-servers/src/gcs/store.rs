//! All fake state behind one mutex: buckets and their live objects, the generation clock,
//! the rate limiter, resumable sessions and in-flight rewrites.
//!
//! Every mutation checks and applies its preconditions while holding the lock, so racing
//! conditional writes serialise exactly as on GCS (one `ifGenerationMatch=0` winner).

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;

use super::clock::{now_unix_micros, now_unix_ms};
use super::errors::GcsError;
use super::hashes::Digests;
use super::preconditions::{Access, Preconditions};
use super::rate_limit::RateLimiter;
use super::resumable::Session;
use super::rewrite::RewriteProgress;
use super::RequestRecord;

/// Default per-call rewrite progress when the client gives no `maxBytesRewrittenPerCall`.
pub(crate) const DEFAULT_REWRITE_CHUNK: u64 = 1024 * 1024;

/// One live object. There is no versioning: an overwrite replaces the previous generation.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub data: Bytes,
    pub generation: i64,
    pub metageneration: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub content_type: String,
    pub metadata: BTreeMap<String, String>,
    pub digests: Digests,
}

impl Object {
    pub fn versions(&self) -> (i64, i64) {
        (self.generation, self.metageneration)
    }
}

/// The caller-controlled parts of a new generation.
#[derive(Debug, Clone)]
pub(crate) struct NewObject {
    pub data: Bytes,
    pub content_type: String,
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug)]
pub(crate) struct Bucket {
    pub created_ms: i64,
    pub objects: BTreeMap<String, Object>,
}

impl Bucket {
    fn new() -> Bucket {
        Bucket {
            created_ms: now_unix_ms(),
            objects: BTreeMap::new(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct State {
    pub buckets: BTreeMap<String, Bucket>,
    last_generation: i64,
    pub rate_limit: RateLimiter,
    pub sessions: HashMap<String, Session>,
    pub rewrites: HashMap<String, RewriteProgress>,
    pub rewrite_chunk: u64,
}

impl State {
    fn new() -> State {
        State {
            buckets: BTreeMap::new(),
            last_generation: 0,
            rate_limit: RateLimiter::default(),
            sessions: HashMap::new(),
            rewrites: HashMap::new(),
            rewrite_chunk: DEFAULT_REWRITE_CHUNK,
        }
    }

    /// Creates the bucket if it does not exist yet.
    pub fn create_bucket(&mut self, name: &str) {
        self.buckets
            .entry(name.to_owned())
            .or_insert_with(Bucket::new);
    }

    pub fn bucket(&self, name: &str) -> Result<&Bucket, GcsError> {
        self.buckets.get(name).ok_or_else(GcsError::no_such_bucket)
    }

    /// The live object, `None` if absent; 404 if the bucket is missing.
    pub fn live(&self, bucket: &str, name: &str) -> Result<Option<&Object>, GcsError> {
        Ok(self.bucket(bucket)?.objects.get(name))
    }

    /// The live object or 404; a `generation` pin that is not the live one is also 404
    /// because old generations are not kept (no versioning).
    pub fn existing(
        &self,
        bucket: &str,
        name: &str,
        generation: Option<i64>,
    ) -> Result<&Object, GcsError> {
        self.live(bucket, name)?
            .filter(|o| generation.is_none_or(|g| g == o.generation))
            .ok_or_else(|| GcsError::no_such_object(bucket, name))
    }

    /// Unique and increasing, shaped like GCS's microsecond generations.
    fn next_generation(&mut self) -> i64 {
        self.last_generation = (self.last_generation + 1).max(now_unix_micros());
        self.last_generation
    }

    /// Creates or overwrites an object: rate limit, then preconditions, then a new generation.
    pub fn create(
        &mut self,
        bucket: &str,
        name: &str,
        new: NewObject,
        pre: &Preconditions,
    ) -> Result<&Object, GcsError> {
        let live = self.live(bucket, name)?.map(Object::versions);
        self.rate_limit.check(bucket, name)?;
        pre.check(live, Access::Write)?;
        self.rate_limit.record(bucket, name);
        Ok(self.insert(bucket, name, new))
    }

    /// Writes without any checks, creating the bucket if needed (test setup).
    pub fn insert(&mut self, bucket: &str, name: &str, new: NewObject) -> &Object {
        let generation = self.next_generation();
        let now = now_unix_ms();
        let object = Object {
            digests: Digests::of(&new.data),
            data: new.data,
            generation,
            metageneration: 1,
            created_ms: now,
            updated_ms: now,
            content_type: new.content_type,
            metadata: new.metadata,
        };
        let objects = &mut self
            .buckets
            .entry(bucket.to_owned())
            .or_insert_with(Bucket::new)
            .objects;
        match objects.entry(name.to_owned()) {
            Entry::Occupied(mut slot) => {
                slot.insert(object);
                slot.into_mut()
            }
            Entry::Vacant(slot) => slot.insert(object),
        }
    }

    pub fn delete(
        &mut self,
        bucket: &str,
        name: &str,
        generation: Option<i64>,
        pre: &Preconditions,
    ) -> Result<(), GcsError> {
        let live = self.existing(bucket, name, generation)?.versions();
        self.rate_limit.check(bucket, name)?;
        pre.check(Some(live), Access::Write)?;
        self.rate_limit.record(bucket, name);
        if let Some(b) = self.buckets.get_mut(bucket) {
            b.objects.remove(name);
        }
        Ok(())
    }

    /// Applies a metadata update: the generation stays, the metageneration increments.
    pub fn update_metadata(
        &mut self,
        bucket: &str,
        name: &str,
        generation: Option<i64>,
        pre: &Preconditions,
        update: impl FnOnce(&mut Object),
    ) -> Result<&Object, GcsError> {
        let live = self.existing(bucket, name, generation)?.versions();
        self.rate_limit.check(bucket, name)?;
        pre.check(Some(live), Access::Write)?;
        self.rate_limit.record(bucket, name);
        let object = self
            .buckets
            .get_mut(bucket)
            .and_then(|b| b.objects.get_mut(name))
            .ok_or_else(|| GcsError::no_such_object(bucket, name))?;
        update(object);
        object.metageneration += 1;
        object.updated_ms = now_unix_ms();
        Ok(object)
    }
}

/// State shared by the accept loop, every connection and the [`super::FakeGcs`] handle.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    log: Mutex<Vec<RequestRecord>>,
    /// `http://127.0.0.1:PORT`, for `selfLink`, `mediaLink` and session URIs.
    pub base_url: String,
}

impl Shared {
    pub fn new(base_url: String) -> Shared {
        Shared {
            state: Mutex::new(State::new()),
            log: Mutex::new(Vec::new()),
            base_url,
        }
    }

    /// Locks the state. A panic in one handler must not wedge every later request, so a
    /// poisoned lock is taken over (each handler leaves the state consistent or untouched).
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn log(&self) -> MutexGuard<'_, Vec<RequestRecord>> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_object(data: &'static [u8]) -> NewObject {
        NewObject {
            data: Bytes::from_static(data),
            content_type: "text/plain".into(),
            metadata: BTreeMap::new(),
        }
    }

    #[test]
    fn generations_are_unique_increasing_and_16_digits() {
        let mut state = State::new();
        let a = state.insert("b", "o", new_object(b"1")).generation;
        let b = state.insert("b", "o", new_object(b"2")).generation;
        assert!(b > a);
        assert_eq!(a.to_string().len(), 16);
    }

    #[test]
    fn metadata_update_keeps_generation() {
        let mut state = State::new();
        let generation = state.insert("b", "o", new_object(b"1")).generation;
        let updated = state
            .update_metadata("b", "o", None, &Preconditions::default(), |o| {
                o.metadata.insert("k".into(), "v".into());
            })
            .expect("updated");
        assert_eq!(updated.versions(), (generation, 2));
    }

    #[test]
    fn create_in_missing_bucket_is_404() {
        let mut state = State::new();
        let err = state
            .create("nope", "o", new_object(b""), &Preconditions::default())
            .expect_err("no bucket");
        assert_eq!(err.status.as_u16(), 404);
    }
}
