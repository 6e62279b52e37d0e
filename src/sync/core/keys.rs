//! Object keys (relative to the configured bucket `prefix`) and cache-relative
//! local paths for a sync service bound to an optional namespace
//! (docs/sync.md#namespaces-and-keys).
//!
//! Namespace convention used throughout `sync`: `ns: Option<&str>`, where
//! `None` is solo mode. An empty string is treated like `None`, because
//! upstream tests the namespace for truthiness and `""` must never produce a
//! key starting with `/`.

/// Local and remote file name of the monolithic index.
pub const INDEX_FILE: &str = ".datastore-index.json";
/// Local file name of the sync-state sidecar (cache root, never uploaded).
pub const SYNC_STATE_FILE: &str = ".datastore-sync-state.json";
/// Directory holding partition (shard) files and `_meta.json`.
pub const INDEX_DIR: &str = "_index";
#[allow(dead_code)] // kept for the namespace and control-plane calls, not wired in yet
/// Control-plane directory.
pub const CONTROL_DIR: &str = "_control";
/// Namespace manifest file name.
pub const NAMESPACE_MANIFEST: &str = ".namespace.json";
/// Catalog export file name.
pub const CATALOG_EXPORT: &str = ".catalog-export.json";

/// The bound namespace, with `Some("")` folded into `None`.
fn active(ns: Option<&str>) -> Option<&str> {
    ns.filter(|n| !n.is_empty())
}

/// `{ns}/{rest}` when a namespace is bound, else `rest`.
fn under(ns: Option<&str>, rest: &str) -> String {
    match active(ns) {
        Some(n) => format!("{n}/{rest}"),
        None => rest.to_string(),
    }
}

/// Remote key of the monolithic index: `[ns/].datastore-index.json`.
pub fn index_key(ns: Option<&str>) -> String {
    under(ns, INDEX_FILE)
}

/// Remote key of the partition meta: `[ns/]_index/_meta.json`.
pub fn meta_key(ns: Option<&str>) -> String {
    under(ns, "_index/_meta.json")
}

/// Remote key of one partition file: `[ns/]_index/{partition}.json`.
pub fn shard_key(ns: Option<&str>, partition: &str) -> String {
    under(ns, &format!("{INDEX_DIR}/{partition}.json"))
}

#[allow(dead_code)] // kept for shard-first (v2) support, which is not wired in yet
/// Prefix to list when rebuilding `_meta.json` from the shard objects.
pub fn shard_prefix(ns: Option<&str>) -> String {
    under(ns, "_index/")
}

/// Remote key of a data file: `[ns/]{rel}`.
pub fn data_key(ns: Option<&str>, rel: &str) -> String {
    under(ns, rel)
}

#[allow(dead_code)] // kept for the namespace and control-plane calls, not wired in yet
/// Remote key of a control-plane entry: `[ns/]_control/{key}`.
pub fn control_key(ns: Option<&str>, key: &str) -> String {
    under(ns, &format!("{CONTROL_DIR}/{key}"))
}

/// Remote key of a namespace's manifest: `{ns}/.namespace.json`.
pub fn namespace_manifest_key(ns: &str) -> String {
    format!("{ns}/{NAMESPACE_MANIFEST}")
}

/// Remote key of a namespace's catalog export: `{ns}/.catalog-export.json`.
pub fn catalog_export_key(ns: &str) -> String {
    format!("{ns}/{CATALOG_EXPORT}")
}

/// Cache-relative local path of a data file: `[ns/]{rel}` (pull and push must
/// agree on this, or every round trip re-uploads everything).
pub fn local_rel_path(ns: Option<&str>, rel: &str) -> String {
    under(ns, rel)
}

/// The index key (bare rel) for a cache-relative path: `cache_rel` minus a
/// leading `{ns}/`; `Some("")` for the namespace directory itself.
/// `None` when a namespace is bound and `cache_rel` lies outside it (a
/// solo-layout leftover or a foreign namespace). In solo mode always `Some(cache_rel)`.
pub fn bare_rel<'a>(cache_rel: &'a str, ns: Option<&str>) -> Option<&'a str> {
    match active(ns) {
        None => Some(cache_rel),
        Some(n) => match cache_rel.strip_prefix(n) {
            Some("") => Some(""),
            Some(rest) => rest.strip_prefix('/'),
            None => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_solo_and_namespaced() {
        assert_eq!(index_key(None), ".datastore-index.json");
        assert_eq!(index_key(Some("")), ".datastore-index.json");
        assert_eq!(index_key(Some("ns1")), "ns1/.datastore-index.json");
        assert_eq!(meta_key(None), "_index/_meta.json");
        assert_eq!(meta_key(Some("ns1")), "ns1/_index/_meta.json");
        assert_eq!(shard_key(None, "data--t--m"), "_index/data--t--m.json");
        assert_eq!(shard_key(Some("ns1"), "_root"), "ns1/_index/_root.json");
        assert_eq!(shard_prefix(Some("ns1")), "ns1/_index/");
        assert_eq!(data_key(Some("ns1"), "data/a/raw"), "ns1/data/a/raw");
        assert_eq!(data_key(None, "data/a/raw"), "data/a/raw");
        assert_eq!(control_key(None, "k"), "_control/k");
        assert_eq!(control_key(Some("ns1"), "a/b"), "ns1/_control/a/b");
        assert_eq!(namespace_manifest_key("ns1"), "ns1/.namespace.json");
        assert_eq!(catalog_export_key("ns1"), "ns1/.catalog-export.json");
        assert_eq!(local_rel_path(Some("ns1"), "data/x"), "ns1/data/x");
        assert_eq!(local_rel_path(None, "data/x"), "data/x");
    }

    #[test]
    fn bare_rel_strips_only_the_bound_namespace() {
        assert_eq!(bare_rel("ns1/data/x", Some("ns1")), Some("data/x"));
        assert_eq!(bare_rel("ns1", Some("ns1")), Some(""));
        assert_eq!(bare_rel("ns10/data/x", Some("ns1")), None);
        assert_eq!(bare_rel("data/x", Some("ns1")), None);
        assert_eq!(bare_rel("data/x", None), Some("data/x"));
        assert_eq!(bare_rel("ns1/data/x", None), Some("ns1/data/x"));
    }
}
