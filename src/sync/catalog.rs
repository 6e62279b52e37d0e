//! Catalogs across namespaces (docs/sync.md#catalogs-and-foreign-content): a repository
//! exports its catalog to `{ns}/.catalog-export.json`, reads the exports of other
//! namespaces, and reads single files of theirs. None of these bind the service's
//! namespace; the foreign reads never touch the cache.

use super::batch::run_bounded;
use super::core::catalog::{catalog_payload, check_foreign_rel, foreign_catalog_rows};
use super::core::keys::{catalog_export_key, data_key};
use super::core::namespace::check_slug;
use super::service::SyncService;
use crate::error::{ErrorKind, Result};
use crate::gcs::{Authorizer, GcsClient};
use crate::transport::{Clock, Transport};

/// What an export did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogExport {
    /// The object was written (false: the payload equals the last one exported).
    pub written: bool,
    /// SHA-256 hex of the payload.
    pub sha256: String,
    /// Bytes of the payload.
    pub size: u64,
}

/// One namespace's export, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignCatalog {
    /// The namespace.
    pub namespace: String,
    /// Its rows: the JSON array text as stored.
    pub rows_json: String,
}

impl<P: Transport + Clock, A: Authorizer> SyncService<P, A> {
    /// Export `rows_json` (a JSON array) as `{ns}/.catalog-export.json`. When its SHA-256
    /// equals the sidecar's `lastCatalogHash` nothing is sent; otherwise the payload is
    /// uploaded and its hash recorded (a failure to record it is returned: the export
    /// happened, the next one would only repeat it).
    pub async fn export_catalog(&self, ns: &str, rows_json: &str) -> Result<CatalogExport> {
        check_slug(ns)?;
        let payload = catalog_payload(rows_json)?;
        let result = |written| CatalogExport {
            written,
            sha256: payload.sha256.clone(),
            size: payload.text.len() as u64,
        };
        if self.with_state(|s| s.last_catalog_hash() == Some(payload.sha256.as_str())) {
            return Ok(result(false));
        }
        let key = catalog_export_key(ns);
        let what = || format!("export catalog {key}");
        self.client
            .upload(&key, payload.text.as_bytes(), None)
            .await
            .map_err(|e| e.context(what()))?;
        self.update_state(|s| s.set_last_catalog_hash(&payload.sha256))
            .map_err(|e| e.context(format!("{}: persist the sync-state sidecar", what())))?;
        Ok(result(true))
    }

    /// The catalog exports of `namespaces` (duplicates asked once), in the order asked,
    /// read in parallel. A namespace whose export is missing, unreadable to these
    /// credentials, or not a JSON array is skipped; any other failure (network, deadline,
    /// authentication) fails the call, so an outage never reads as "no other namespaces".
    pub async fn pull_foreign_catalogs(
        &self,
        namespaces: &[String],
    ) -> Result<Vec<ForeignCatalog>> {
        let mut asked: Vec<&str> = Vec::new();
        for ns in namespaces {
            check_slug(ns)?;
            if !asked.contains(&ns.as_str()) {
                asked.push(ns);
            }
        }
        let client: &GcsClient<P, A> = &self.client;
        let read = run_bounded(&asked, client.cfg.pull_concurrency, |ns| async move {
            client.download(&catalog_export_key(ns)).await
        })
        .await;
        let mut out = Vec::new();
        for (ns, got) in read {
            let rows = match got {
                Ok(download) => foreign_catalog_rows(&download.data),
                Err(e) if skippable(e.kind()) => None,
                Err(e) => return Err(e.context(format!("pull foreign catalog of {ns}"))),
            };
            if let Some(rows_json) = rows {
                out.push(ForeignCatalog {
                    namespace: ns.to_string(),
                    rows_json,
                });
            }
        }
        Ok(out)
    }

    /// The bytes of `{ns}/{rel}`, another namespace's file, or `None` when it does not
    /// exist. Traversal out of `{ns}/` is refused before anything is sent; nothing is
    /// written to the cache.
    pub async fn fetch_foreign_content(&self, ns: &str, rel: &str) -> Result<Option<Vec<u8>>> {
        check_slug(ns)?;
        check_foreign_rel(rel)?;
        let key = data_key(Some(ns), rel);
        match self.client.download(&key).await {
            Ok(download) => Ok(Some(download.data)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.context(format!("fetch foreign content {key}"))),
        }
    }
}

/// Failures that say "this namespace's export is not readable here", not "the bucket is
/// not reachable": a missing export, and credentials denied on that prefix (per-prefix
/// IAM conditions can hide one tenant from another).
fn skippable(kind: &ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::NotFound(_) | ErrorKind::PermissionDenied { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::tests_support::{service, sidecar, TempDir};
    use crate::test_doubles::{run, FakeGcs, Kind};

    const ROWS: &str = r#"[{"relPath":"data/file.txt","size":10,"lastModified":"2026-01-01"}]"#;

    #[test]
    fn export_writes_then_skips_an_unchanged_payload() {
        let fake = FakeGcs::new();
        let cache = TempDir::new("catalog-export");
        let svc = service(&fake, &cache, "");
        let first = run(svc.export_catalog("infra", ROWS)).unwrap();
        assert!(first.written);
        assert_eq!(
            fake.data("infra/.catalog-export.json").unwrap(),
            ROWS.as_bytes()
        );
        assert_eq!(sidecar(&cache)["lastCatalogHash"], first.sha256.as_str());
        // Same rows (pretty this time): same payload, no request at all.
        fake.clear_log();
        let pretty = "[\n  {\"relPath\": \"data/file.txt\", \"size\": 10, \"lastModified\": \"2026-01-01\"}\n]";
        let again = run(svc.export_catalog("infra", pretty)).unwrap();
        assert!(!again.written);
        assert_eq!(again.sha256, first.sha256);
        assert_eq!(fake.request_count(), 0);
        // A fresh process reads the hash from the sidecar.
        let svc = service(&fake, &cache, "");
        assert!(!run(svc.export_catalog("infra", ROWS)).unwrap().written);
        assert_eq!(fake.request_count(), 0);
        // Changed rows are written.
        let changed = run(svc.export_catalog("infra", "[]")).unwrap();
        assert!(changed.written);
        assert_eq!(fake.data("infra/.catalog-export.json").unwrap(), b"[]");
        assert_eq!(sidecar(&cache)["lastCatalogHash"], changed.sha256.as_str());
    }

    #[test]
    fn export_refuses_bad_input_before_any_request() {
        let fake = FakeGcs::new();
        let cache = TempDir::new("catalog-bad");
        let svc = service(&fake, &cache, "");
        for (ns, rows) in [("a/b", ROWS), ("", ROWS), ("infra", "{}"), ("infra", "[")] {
            assert!(
                run(svc.export_catalog(ns, rows)).is_err(),
                "{ns:?} {rows:?}"
            );
        }
        assert_eq!(fake.request_count(), 0);
        assert!(!cache.exists(".datastore-sync-state.json"));
    }

    #[test]
    fn a_failed_upload_records_no_hash() {
        let fake = FakeGcs::new();
        fake.fail("infra/.catalog-export.json", Kind::Upload, 403, 1);
        let cache = TempDir::new("catalog-fail");
        let svc = service(&fake, &cache, "");
        let e = run(svc.export_catalog("infra", ROWS)).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::PermissionDenied { .. }),
            "{e:?}"
        );
        assert!(!cache.exists(".datastore-sync-state.json"));
        assert!(run(svc.export_catalog("infra", ROWS)).unwrap().written);
    }

    #[test]
    fn foreign_catalogs_one_entry_per_readable_namespace() {
        let fake = FakeGcs::new();
        fake.put("a/.catalog-export.json", ROWS.as_bytes(), 0);
        fake.put("b/.catalog-export.json", b"[\n  {\"x\": 1}\n]\n", 0);
        fake.put("bad/.catalog-export.json", b"{\"rows\":[]}", 0);
        fake.put("denied/.catalog-export.json", b"[]", 0);
        fake.fail("denied/.catalog-export.json", Kind::Download, 403, 9);
        let cache = TempDir::new("catalog-foreign");
        let svc = service(&fake, &cache, "");
        let asked: Vec<String> = ["b", "missing", "a", "bad", "denied", "b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got = run(svc.pull_foreign_catalogs(&asked)).unwrap();
        let got: Vec<(&str, &str)> = got
            .iter()
            .map(|c| (c.namespace.as_str(), c.rows_json.as_str()))
            .collect();
        assert_eq!(got, [("b", "[\n  {\"x\": 1}\n]\n"), ("a", ROWS)]);
        assert_eq!(cache.files(), Vec::<String>::new(), "nothing written");
        // An outage is not "no catalogs".
        fake.fail("a/.catalog-export.json", Kind::Download, 401, 9);
        let e = run(svc.pull_foreign_catalogs(&asked)).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Unauthenticated { .. }),
            "{e:?}"
        );
        // A bad slug is bad input.
        let e = run(svc.pull_foreign_catalogs(&["../x".to_string()])).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::InvalidConfig { .. }), "{e:?}");
    }

    #[test]
    fn foreign_content_is_read_never_cached_and_traversal_is_refused() {
        let fake = FakeGcs::new();
        fake.put("other/data/m/raw", b"bytes", 0);
        let cache = TempDir::new("catalog-content");
        let svc = service(&fake, &cache, "");
        assert_eq!(
            run(svc.fetch_foreign_content("other", "data/m/raw")).unwrap(),
            Some(b"bytes".to_vec())
        );
        assert_eq!(
            run(svc.fetch_foreign_content("other", "data/none")).unwrap(),
            None
        );
        fake.clear_log();
        for rel in ["../x/data", "/abs", "\\abs", "data/../../x", ""] {
            let e = run(svc.fetch_foreign_content("other", rel)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::UnsafePath, "{rel:?}");
        }
        assert_eq!(fake.request_count(), 0);
        assert_eq!(cache.files(), Vec::<String>::new());
    }
}
