//! Registering and listing namespaces (swamp's provider-level `registerNamespace` and
//! `listNamespaces`; docs/sync.md#registering-namespaces). They need a client only: no
//! cache, no sync state.
//!
//! Registration reads the manifest before it writes, and writes only on the condition of
//! what it read: create-only (`ifGenerationMatch=0`) when there was none, the generation
//! read when it refreshes this repository's own. A 412 means someone wrote in between,
//! and the round starts again from the read. The read is what protects a server that
//! ignores preconditions (fake-gcs-server); on GCS the condition closes the race
//! (docs/hazards.md#namespace-registration-race).

use super::batch::run_bounded;
use super::core::keys::namespace_manifest_key;
use super::core::namespace::{
    check_repo_id, check_slug, manifest_key_below, slug_of_prefix, taken, Manifest,
};
use crate::error::{Error, ErrorKind, Result};
use crate::gcs::generation::{write_condition, Generation};
use crate::gcs::{Authorizer, GcsClient};
use crate::timefmt::format_iso_ms;
use crate::transport::{Clock, Transport};

/// Rounds of read-then-write before a registration that keeps losing races gives up.
const MAX_ROUNDS: u32 = 3;

/// What a registration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// This call created the manifest (false: it refreshed this repository's own).
    pub created: bool,
    /// The manifest's `registeredAt`, as written.
    pub registered_at: String,
}

/// Register `ns` for the repository `repo_id` (see the module doc). Fails with
/// `NamespaceTaken` when another repository's manifest holds the slug; nothing is written
/// then.
pub async fn register_namespace<P: Transport + Clock, A: Authorizer>(
    client: &GcsClient<P, A>,
    ns: &str,
    repo_id: &str,
) -> Result<Registration> {
    check_slug(ns)?;
    check_repo_id(repo_id)?;
    let key = namespace_manifest_key(ns);
    let what = || format!("register namespace {ns}");
    for _ in 0..MAX_ROUNDS {
        let existing = read_manifest(client, &key)
            .await
            .map_err(|e| e.context(what()))?;
        if let Some((m, _)) = &existing {
            if m.repo_id != repo_id {
                return Err(taken(ns, &m.repo_id));
            }
        }
        let registered_at = format_iso_ms(client.platform().unix_ms()).unwrap_or_default();
        let manifest = Manifest {
            namespace: ns.to_string(),
            repo_id: repo_id.to_string(),
            registered_at: registered_at.clone(),
        };
        let body = manifest.to_pretty_json()?;
        let condition = write_condition(existing.as_ref().map(|(_, g)| g));
        match client.upload(&key, body.as_bytes(), condition).await {
            Ok(_) => {
                return Ok(Registration {
                    created: existing.is_none(),
                    registered_at,
                })
            }
            // Someone wrote the manifest since we read it: read again.
            Err(e) if e.is_precondition_failed() => continue,
            Err(e) => return Err(e.context(what())),
        }
    }
    Err(Error::new(
        ErrorKind::PreconditionFailed,
        format!(
            "{}: {key} changed under every one of {MAX_ROUNDS} attempts to write it",
            what()
        ),
    ))
}

/// The manifest at `key` and its generation; `None` when there is none.
async fn read_manifest<P: Transport + Clock, A: Authorizer>(
    client: &GcsClient<P, A>,
    key: &str,
) -> Result<Option<(Manifest, Generation)>> {
    let download = match client.download(key).await {
        Ok(d) => d,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let manifest = Manifest::parse(&download.data).map_err(|why| {
        Error::new(
            ErrorKind::MalformedRemote {
                key: key.to_string(),
            },
            format!("{key} is not a namespace manifest: {why}"),
        )
    })?;
    Ok(Some((manifest, download.generation)))
}

/// The registered namespaces: every top-level directory `{ns}/` of the bucket (under the
/// configured prefix) that holds a `{ns}/.namespace.json`, in listing order.
///
/// One delimited listing of the top level, then one metadata request per directory (in
/// parallel), instead of the TypeScript client's listing of every object of every
/// repository. Only one-segment slugs are registrations (registration refuses any other),
/// so a manifest nested deeper (`a/b/.namespace.json`, which the TypeScript client lists
/// as `a/b`) is not one.
pub async fn list_namespaces<P: Transport + Clock, A: Authorizer>(
    client: &GcsClient<P, A>,
) -> Result<Vec<String>> {
    let cfg = &client.cfg;
    let mut candidates: Vec<String> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_page(None, Some("/"), None, token.as_deref())
            .await
            .map_err(|e| e.context("list namespaces"))?;
        for prefix in &page.prefixes {
            if let Some(slug) = cfg.relative_key(prefix).and_then(slug_of_prefix) {
                candidates.push(slug.to_string());
            }
        }
        match page.next_page_token {
            // A server that repeats a token would loop forever.
            Some(t) if Some(&t) != token.as_ref() => token = Some(t),
            _ => break,
        }
    }
    let checked = run_bounded(&candidates, cfg.pull_concurrency, |slug| async move {
        client.stat(&manifest_key_below(&format!("{slug}/"))).await
    })
    .await;
    let mut out = Vec::new();
    for (slug, found) in checked {
        if found.map_err(|e| e.context("list namespaces"))?.is_some() {
            out.push(slug.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_doubles::{run, FakeGcs};

    const MANIFEST_A: &str = "{\n  \"namespace\": \"infra\",\n  \"repoId\": \"repo-a\",\n  \"registeredAt\": \"2026-06-03T00:00:00.000Z\"\n}";

    #[test]
    fn first_registration_creates_the_manifest_create_only() {
        let fake = FakeGcs::new();
        let client = fake.client("");
        let r = run(register_namespace(&client, "infra", "repo-a")).unwrap();
        assert!(r.created);
        let m = Manifest::parse(&fake.data("infra/.namespace.json").unwrap()).unwrap();
        assert_eq!(
            (m.namespace.as_str(), m.repo_id.as_str()),
            ("infra", "repo-a")
        );
        assert_eq!(m.registered_at, r.registered_at);
        let upload = fake
            .log()
            .into_iter()
            .find(|l| l.kind == crate::test_doubles::Kind::Upload)
            .unwrap();
        assert_eq!(upload.if_generation_match.as_deref(), Some("0"));
    }

    #[test]
    fn same_repository_refreshes_on_the_generation_it_read() {
        let fake = FakeGcs::new();
        fake.put("infra/.namespace.json", MANIFEST_A.as_bytes(), 0);
        let before = fake.generation("infra/.namespace.json").unwrap();
        let client = fake.client("");
        let r = run(register_namespace(&client, "infra", "repo-a")).unwrap();
        assert!(!r.created);
        assert_ne!(fake.generation("infra/.namespace.json").unwrap(), before);
        let upload = fake
            .log()
            .into_iter()
            .find(|l| l.kind == crate::test_doubles::Kind::Upload)
            .unwrap();
        assert_eq!(upload.if_generation_match, Some(before.to_string()));
    }

    #[test]
    fn another_repository_gets_the_conflict_and_nothing_is_written() {
        let fake = FakeGcs::new();
        fake.put("infra/.namespace.json", MANIFEST_A.as_bytes(), 0);
        let client = fake.client("");
        let e = run(register_namespace(&client, "infra", "repo-b")).unwrap_err();
        assert_eq!(
            e.message(),
            "Namespace \"infra\" is already registered by repo repo-a"
        );
        assert_eq!(
            fake.data("infra/.namespace.json").unwrap(),
            MANIFEST_A.as_bytes()
        );
        assert_eq!(fake.uploads(), 0);
    }

    #[test]
    fn a_race_lost_between_read_and_write_is_read_again() {
        let fake = FakeGcs::new();
        // Another repository registers between our read (404) and our create-only write.
        fake.on_request(
            crate::test_doubles::Kind::Upload,
            "infra/.namespace.json",
            |f| f.put("infra/.namespace.json", MANIFEST_A.as_bytes(), 0),
        );
        let client = fake.client("");
        let e = run(register_namespace(&client, "infra", "repo-b")).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::NamespaceTaken { owner, .. } if owner == "repo-a"),
            "{e:?}"
        );
        assert_eq!(
            fake.data("infra/.namespace.json").unwrap(),
            MANIFEST_A.as_bytes()
        );
    }

    #[test]
    fn bad_input_and_unreadable_manifests_write_nothing() {
        let fake = FakeGcs::new();
        fake.put("odd/.namespace.json", b"not json", 0);
        let client = fake.client("");
        for (ns, repo, kind) in [
            ("a/b", "r", "namespace"),
            ("..", "r", "namespace"),
            ("", "r", "namespace"),
            ("ok", "", "repoId"),
        ] {
            let e = run(register_namespace(&client, ns, repo)).unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::InvalidConfig { field, .. } if field == kind),
                "{ns:?}: {e:?}"
            );
        }
        let e = run(register_namespace(&client, "odd", "r")).unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::MalformedRemote {
                key: "odd/.namespace.json".into()
            }
        );
        assert_eq!(fake.uploads(), 0);
        assert_eq!(fake.request_count(), 1, "only the manifest read");
    }

    #[test]
    fn listing_finds_top_level_manifests_only() {
        let fake = FakeGcs::new();
        for key in [
            "infra/.namespace.json",
            "infra/data/x/raw",
            "web/.namespace.json",
            "data/a/raw",
            ".datastore-index.json",
            "nested/inner/.namespace.json",
            "_index/_meta.json",
        ] {
            fake.put(key, b"{}", 0);
        }
        let client = fake.client("");
        assert_eq!(run(list_namespaces(&client)).unwrap(), ["infra", "web"]);
        // Under a configured prefix, only that prefix counts.
        fake.put("team/ops/.namespace.json", b"{}", 0);
        let client = fake.client(r#","prefix":"team""#);
        assert_eq!(run(list_namespaces(&client)).unwrap(), ["ops"]);
        let empty = FakeGcs::new();
        assert!(run(list_namespaces(&empty.client(""))).unwrap().is_empty());
    }
}
