//! The control-plane store's I/O: one namespace's records in the bucket
//! (docs/control-plane.md). Keys are checked and mapped by the pure `keys.rs`; every
//! request goes through [`GcsClient`], which retries transient failures (reads,
//! listings, deletes and unconditional writes are idempotent; the create-only write is
//! conditional and settles lost replies by its claim).

use super::keys::{check_name_length, control_root, key_of, list_prefix, object_key};
use crate::error::Result;
use crate::gcs::{Authorizer, CreateOnly, GcsClient};
use crate::lock::decide::uuid_v4;
use crate::transport::{Clock, Transport};

/// The records of one namespace (`None` = solo), below `[{ns}/]_control/`.
pub struct ControlPlane<'a, P, A> {
    client: &'a GcsClient<P, A>,
    ns: Option<String>,
}

impl<'a, P: Transport + Clock, A: Authorizer> ControlPlane<'a, P, A> {
    /// The store of `ns`, which the caller has validated as a namespace.
    pub fn new(client: &'a GcsClient<P, A>, ns: Option<String>) -> Self {
        ControlPlane { client, ns }
    }

    /// The object key of `key`, checked (the rules and the name length).
    fn object(&self, key: &str) -> Result<String> {
        let object = object_key(self.ns.as_deref(), key)?;
        check_name_length(&self.client.cfg.full_key(&object), key)?;
        Ok(object)
    }

    /// Write `data` at `key`, replacing any earlier value.
    pub async fn put(&self, key: &str, data: &[u8]) -> Result<()> {
        let object = self.object(key)?;
        self.client
            .upload(&object, data, None)
            .await
            .map(|_| ())
            .map_err(|e| e.context(format!("control-plane put {key}")))
    }

    /// The value at `key`; `None` when there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let object = self.object(key)?;
        match self.client.download(&object).await {
            Ok(d) => Ok(Some(d.data)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.context(format!("control-plane get {key}"))),
        }
    }

    /// Delete `key`; `Ok(false)` when there was nothing to delete (not an error).
    pub async fn delete(&self, key: &str) -> Result<bool> {
        let object = self.object(key)?;
        self.client
            .delete(&object, None)
            .await
            .map_err(|e| e.context(format!("control-plane delete {key}")))
    }

    /// Every key starting with `prefix` (`""`: every key), sorted, without the
    /// `[{ns}/]_control/` root.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let listed = list_prefix(self.ns.as_deref(), prefix)?;
        let objects = self
            .client
            .list_all(Some(&listed))
            .await
            .map_err(|e| e.context(format!("control-plane list {prefix:?}")))?;
        let root = control_root(self.ns.as_deref());
        let cfg = &self.client.cfg;
        let mut out: Vec<String> = objects
            .iter()
            .filter_map(|o| key_of(&root, cfg.relative_key(&o.name)?))
            .map(str::to_string)
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Create `key` with `data` only if it has no value: `Ok(true)` when this call created
    /// it, `Ok(false)` when a value was there (it is left as it is).
    ///
    /// The existing value is looked for first: a claim that is already taken costs a read
    /// instead of a failed write, and servers that ignore preconditions (emulators) still
    /// answer `false` for a key that exists. The create itself is conditional
    /// (`ifGenerationMatch=0`), so of racing callers exactly one gets `true`.
    pub async fn put_if_absent(&self, key: &str, data: &[u8]) -> Result<bool> {
        let object = self.object(key)?;
        let context =
            |e: crate::error::Error| e.context(format!("control-plane put-if-absent {key}"));
        if self.client.stat(&object).await.map_err(context)?.is_some() {
            return Ok(false);
        }
        let platform = self.client.platform();
        let claim = uuid_v4(platform.random_u64(), platform.random_u64());
        match self.client.create_only(&object, data, &claim).await {
            Ok(CreateOnly::Created) => Ok(true),
            Ok(CreateOnly::Existed) => Ok(false),
            Err(e) => Err(context(e)),
        }
    }
}
