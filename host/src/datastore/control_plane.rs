//! Typed calls into the component's `control-plane` interface (docs/control-plane.md).
//! `namespace`: `None` or `""` means the namespace the instance's sync service is bound to
//! (solo when unbound).

use super::{flatten, CallResult, Datastore};

impl Datastore {
    /// `control-plane.put`.
    pub async fn control_put(
        &mut self,
        namespace: Option<&str>,
        key: &str,
        value: &[u8],
    ) -> CallResult<()> {
        let r = self
            .bindings
            .swamp_datastore_control_plane()
            .call_put(&mut self.store, namespace, key, value)
            .await;
        flatten(r)
    }

    /// `control-plane.get`: `None` when the key has no value.
    pub async fn control_get(
        &mut self,
        namespace: Option<&str>,
        key: &str,
    ) -> CallResult<Option<Vec<u8>>> {
        let r = self
            .bindings
            .swamp_datastore_control_plane()
            .call_get(&mut self.store, namespace, key)
            .await;
        flatten(r)
    }

    /// `control-plane.delete`: `false` when there was nothing to delete.
    pub async fn control_delete(&mut self, namespace: Option<&str>, key: &str) -> CallResult<bool> {
        let r = self
            .bindings
            .swamp_datastore_control_plane()
            .call_delete(&mut self.store, namespace, key)
            .await;
        flatten(r)
    }

    /// `control-plane.list`: the keys under `prefix`, sorted.
    pub async fn control_list(
        &mut self,
        namespace: Option<&str>,
        prefix: &str,
    ) -> CallResult<Vec<String>> {
        let r = self
            .bindings
            .swamp_datastore_control_plane()
            .call_list(&mut self.store, namespace, prefix)
            .await;
        flatten(r)
    }

    /// `control-plane.put-if-absent`: `true` when this call created the key.
    pub async fn control_put_if_absent(
        &mut self,
        namespace: Option<&str>,
        key: &str,
        value: &[u8],
    ) -> CallResult<bool> {
        let r = self
            .bindings
            .swamp_datastore_control_plane()
            .call_put_if_absent(&mut self.store, namespace, key, value)
            .await;
        flatten(r)
    }
}
