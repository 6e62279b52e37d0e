//! Namespaces (issue 15) through the component: two repositories, each under its own
//! namespace, and a solo repository share one bucket. Registration and listing (the
//! provider-level calls), namespaced pushes and pulls that never cross, catalog exports,
//! foreign catalogs and foreign content, the conflict a third repository gets for a taken
//! slug, and the TypeScript client's manifest and catalog bytes. On both servers, except
//! the races the create-only write settles, which need a server that honours
//! `ifGenerationMatch` (fake-gcs-server ignores it: the read before the write is all that
//! protects it, docs/hazards.md#namespace-registration-race).

use super::support::*;
use crate::common::*;
use gcs_host::datastore::{no_options, GuestError, SyncOptions};
use gcs_host::faults::{FaultAction, FaultMatch, FaultRule};
use gcs_host::traffic::RequestKind;
use gcs_host::Datastore;
use sync_scenarios::Kind;

on_both_servers!(
    two_repositories_share_a_bucket_without_crossing,
    foreign_catalogs_and_content_are_read_and_never_cached,
    a_taken_slug_is_refused_naming_its_owner,
    a_solo_repository_beside_them_never_touches_their_directories,
    typescript_manifest_and_catalog_bytes,
);

const REPO_A: &str = "6f1c2d3e-0000-4000-8000-00000000000a";
const REPO_B: &str = "6f1c2d3e-0000-4000-8000-00000000000b";
const REPO_C: &str = "6f1c2d3e-0000-4000-8000-00000000000c";

/// Each repository's files, cache-relative (under its namespace).
const FILES_A: [(&str, &[u8]); 2] = [
    ("alpha/data/aws/vpc/main/state/1/raw", b"alpha vpc"),
    ("alpha/workflow-runs/wf-1/run.yaml", b"alpha run"),
];
const FILES_B: [(&str, &[u8]); 2] = [
    ("beta/data/aws/vpc/main/state/1/raw", b"beta vpc, longer"),
    ("beta/outputs/report.txt", b"beta report"),
];

fn ns(namespace: &str) -> SyncOptions {
    SyncOptions {
        namespace: Some(namespace.to_string()),
        ..no_options()
    }
}

fn manifest(namespace: &str, repo_id: &str) -> String {
    format!(
        "{{\n  \"namespace\": \"{namespace}\",\n  \"repoId\": \"{repo_id}\",\n  \"registeredAt\": \"2026-06-03T00:00:00.000Z\"\n}}"
    )
}

/// Two repositories, registered and pushed: `(cache, datastore)` of each.
struct Tenants {
    a: Cache,
    sa: Datastore,
    b: Cache,
    sb: Datastore,
}

async fn two_tenants(env: &Env) -> Tenants {
    let (a, b) = (Cache::new(), Cache::new());
    let mut sa = env.open(&a, "").await;
    let mut sb = env.open(&b, "").await;
    let ra = sa.register_namespace("alpha", REPO_A).await.unwrap();
    assert!(ra.created);
    assert!(is_js_iso(&ra.registered_at), "{}", ra.registered_at);
    assert!(sb.register_namespace("beta", REPO_B).await.unwrap().created);
    // swamp keeps a copy of its manifest in the cache; it never syncs.
    a.write(
        "alpha/.namespace.json",
        manifest("alpha", REPO_A).as_bytes(),
    );
    b.write("beta/.namespace.json", manifest("beta", REPO_B).as_bytes());
    for (rel, data) in FILES_A {
        a.write(rel, data);
    }
    for (rel, data) in FILES_B {
        b.write(rel, data);
    }
    assert_eq!(sa.push(&ns("alpha")).await.unwrap().files, 2);
    assert_eq!(sb.push(&ns("beta")).await.unwrap().files, 2);
    Tenants { a, sa, b, sb }
}

fn sorted_rels(files: &[(&str, &[u8])]) -> Vec<String> {
    let mut v: Vec<String> = files.iter().map(|(r, _)| r.to_string()).collect();
    v.sort();
    v
}

fn without(files: Vec<String>, internal: &str) -> Vec<String> {
    files.into_iter().filter(|f| f != internal).collect()
}

/// Objects the measured requests since the last reset named, with the given prefix.
fn touched_under(env: &Env, prefix: &str) -> Vec<String> {
    env.requests()
        .into_iter()
        .filter(|r| r.object.starts_with(prefix))
        .map(|r| r.object)
        .collect()
}

async fn two_repositories_share_a_bucket_without_crossing(mut env: Env) {
    let Tenants {
        a,
        mut sa,
        b,
        mut sb,
    } = two_tenants(&env).await;
    let lister = Cache::new();
    let mut any = env.open(&lister, "").await;
    assert_eq!(any.list_namespaces().await.unwrap(), ["alpha", "beta"]);

    // Every object lies under its own namespace; nothing at the bucket root.
    let names = env.names().await;
    for name in &names {
        assert!(
            name.starts_with("alpha/") || name.starts_with("beta/"),
            "{name} in {names:?}"
        );
    }
    let index_a = keys_of(&env.json("alpha/.datastore-index.json").await["entries"]);
    let index_b = keys_of(&env.json("beta/.datastore-index.json").await["entries"]);
    assert_eq!(
        index_a,
        [
            "data/aws/vpc/main/state/1/raw",
            "workflow-runs/wf-1/run.yaml"
        ]
    );
    assert_eq!(
        index_b,
        ["data/aws/vpc/main/state/1/raw", "outputs/report.txt"]
    );
    assert_eq!(
        env.must_get("beta/data/aws/vpc/main/state/1/raw").await,
        b"beta vpc, longer"
    );

    // Fresh clones of each repository pull exactly their own files.
    for (namespace, files) in [("alpha", &FILES_A), ("beta", &FILES_B)] {
        let clone = Cache::new();
        let mut sc = env.open(&clone, "").await;
        env.reset();
        let report = sc.pull(&ns(namespace)).await.unwrap();
        assert_eq!(report.files, 2, "{namespace}");
        assert_eq!(data_files(&clone), sorted_rels(files), "{namespace}");
        for (rel, data) in files.iter() {
            assert_eq!(clone.read(rel), *data, "{namespace} {rel}");
        }
        let other = if namespace == "alpha" {
            "beta/"
        } else {
            "alpha/"
        };
        assert_eq!(touched_under(&env, other), Vec::<String>::new());
    }

    // B changes a file: A's pull and push see nothing of it, and B's push nothing of A.
    sb.mark_dirty(&SyncOptions {
        rel_path: Some("beta/outputs/report.txt".into()),
        ..ns("beta")
    })
    .await
    .unwrap();
    b.write("beta/outputs/report.txt", b"beta report v2");
    env.reset();
    assert_eq!(sb.push(&ns("beta")).await.unwrap().files, 1);
    assert_eq!(touched_under(&env, "alpha/"), Vec::<String>::new());
    env.reset();
    assert_eq!(sa.pull(&ns("alpha")).await.unwrap().files, 0);
    assert_eq!(sa.push(&ns("alpha")).await.unwrap().files, 0);
    assert_eq!(touched_under(&env, "beta/"), Vec::<String>::new());
    assert_eq!(
        without(data_files(&a), "alpha/.namespace.json"),
        sorted_rels(&FILES_A)
    );
    // The manifests are the registrations, untouched by the syncs.
    assert_eq!(
        env.names()
            .await
            .into_iter()
            .filter(|n| n.ends_with(".namespace.json"))
            .collect::<Vec<_>>(),
        ["alpha/.namespace.json", "beta/.namespace.json"]
    );
}

async fn foreign_catalogs_and_content_are_read_and_never_cached(mut env: Env) {
    // Every field bound: a cache is removed when dropped.
    let Tenants {
        a,
        mut sa,
        b: _b,
        mut sb,
    } = two_tenants(&env).await;
    let rows_a = r#"[{"relPath":"data/aws/vpc/main/state/1/raw","size":9,"lastModified":"2026-06-03T00:00:00.000Z"}]"#;
    let rows_b =
        r#"[{"relPath":"outputs/report.txt","size":11,"lastModified":"2026-06-03T00:00:00.000Z"}]"#;

    let export = sa.export_catalog("alpha", rows_a, None).await.unwrap();
    assert!(export.written);
    assert_eq!(export.sha256, sha256_hex(rows_a.as_bytes()));
    assert_eq!(export.size, rows_a.len() as u64);
    assert_eq!(
        env.must_get("alpha/.catalog-export.json").await,
        rows_a.as_bytes()
    );
    assert_eq!(sidecar(&a)["lastCatalogHash"], export.sha256.as_str());
    // Unchanged rows: nothing is sent, also from a fresh process on the same cache.
    env.reset();
    assert!(
        !sa.export_catalog("alpha", rows_a, None)
            .await
            .unwrap()
            .written
    );
    let mut fresh = env.open(&a, "").await;
    assert!(
        !fresh
            .export_catalog("alpha", rows_a, None)
            .await
            .unwrap()
            .written
    );
    assert_eq!(env.requests().len(), 0, "{}", env.summary());
    assert!(
        sb.export_catalog("beta", rows_b, None)
            .await
            .unwrap()
            .written
    );

    // A reads the others' catalogs: one entry per readable namespace, in the order asked.
    let before = a.files();
    let asked: Vec<String> = ["beta", "gamma", "alpha", "beta"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let got = sa.pull_foreign_catalogs(&asked, None).await.unwrap();
    let got: Vec<(&str, &str)> = got
        .iter()
        .map(|c| (c.namespace.as_str(), c.rows_json.as_str()))
        .collect();
    assert_eq!(got, [("beta", rows_b), ("alpha", rows_a)]);

    // And one of B's files, without it ever landing in A's cache.
    assert_eq!(
        sa.fetch_foreign_content("beta", "outputs/report.txt", None)
            .await
            .unwrap()
            .as_deref(),
        Some(&b"beta report"[..])
    );
    assert_eq!(
        sa.fetch_foreign_content("beta", "outputs/none.txt", None)
            .await
            .unwrap(),
        None
    );
    env.reset();
    for rel in [
        "../alpha/workflow-runs/wf-1/run.yaml",
        "/etc/passwd",
        "a/../../x",
        "",
    ] {
        let e = assert_kind(
            sa.fetch_foreign_content("beta", rel, None).await,
            "unsafe-path",
            rel,
        );
        assert!(e.to_string().starts_with("Path traversal rejected"), "{e}");
    }
    assert_kind(
        sa.fetch_foreign_content("../beta", "outputs/report.txt", None)
            .await,
        "invalid-config",
        "a bad slug",
    );
    assert_eq!(env.requests().len(), 0, "refused before any request");
    assert_eq!(a.files(), before, "nothing written to the cache");
    // None of these calls bound the service: it still serves its own namespace.
    assert_eq!(sa.pull(&ns("alpha")).await.unwrap().files, 0);
}

async fn a_taken_slug_is_refused_naming_its_owner(mut env: Env) {
    let Tenants {
        a: _a,
        mut sa,
        b: _b,
        sb: _sb,
    } = two_tenants(&env).await;
    let before = env.must_get("alpha/.namespace.json").await;
    let c = Cache::new();
    let mut sc = env.open(&c, "").await;
    let e = assert_kind(
        sc.register_namespace("alpha", REPO_C).await,
        "namespace-taken",
        "a third repository",
    );
    assert_eq!(
        e.to_string(),
        format!("Namespace \"alpha\" is already registered by repo {REPO_A}")
    );
    match guest(&e) {
        GuestError::NamespaceTaken(t) => {
            assert_eq!(
                (t.namespace.as_str(), t.owner_repo_id.as_str()),
                ("alpha", REPO_A)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(env.must_get("alpha/.namespace.json").await, before);

    // The owner registers again: its manifest is refreshed, still its own.
    let again = sa.register_namespace("alpha", REPO_A).await.unwrap();
    assert!(!again.created);
    let m = env.json("alpha/.namespace.json").await;
    assert_eq!(keys_of(&m), ["namespace", "repoId", "registeredAt"]);
    assert_eq!(m["repoId"], REPO_A);
    assert_eq!(m["registeredAt"], again.registered_at.as_str());

    // A free slug is the third repository's.
    assert!(
        sc.register_namespace("gamma", REPO_C)
            .await
            .unwrap()
            .created
    );
    assert_eq!(
        sc.list_namespaces().await.unwrap(),
        ["alpha", "beta", "gamma"]
    );

    // Bad slugs and ids are refused before any request.
    env.reset();
    for (slug, repo) in [("a/b", REPO_C), ("..", REPO_C), ("", REPO_C), ("delta", "")] {
        assert_kind(
            sc.register_namespace(slug, repo).await,
            "invalid-config",
            slug,
        );
    }
    assert_eq!(env.requests().len(), 0);
}

async fn a_solo_repository_beside_them_never_touches_their_directories(mut env: Env) {
    let Tenants {
        a,
        mut sa,
        b: _b,
        sb: _sb,
    } = two_tenants(&env).await;
    let tenants_before: Vec<(String, String)> = env
        .objects()
        .await
        .into_iter()
        .map(|(k, o)| (k, o.generation))
        .collect();

    // A solo clone of a bucket with no solo index yet: its pull builds one from a listing,
    // which must not take the tenants' directories for solo data.
    let early = Cache::new();
    let mut searly = env.open(&early, "").await;
    let report = searly.pull(&no_options()).await.unwrap();
    assert_eq!(report.files, 0, "{:?}", report.phases);
    assert_eq!(data_files(&early), Vec::<String>::new());

    // A solo repository whose cache still holds a namespace directory (a repository that
    // used to be namespaced, or a copied cache): its solo syncs leave `alpha/` alone.
    let d = Cache::new();
    d.write("data/solo/vpc/main/state/1/raw", b"solo");
    d.write(
        "alpha/.namespace.json",
        manifest("alpha", REPO_A).as_bytes(),
    );
    d.write("alpha/data/aws/vpc/main/state/1/raw", b"a stale copy");
    d.write("alpha/data/aws/vpc/main/state/2/raw", b"never its to push");
    let mut sd = env.open(&d, "").await;
    env.reset();
    assert_eq!(sd.push(&no_options()).await.unwrap().files, 1);
    assert_eq!(touched_under(&env, "alpha/"), Vec::<String>::new());
    assert_eq!(touched_under(&env, "beta/"), Vec::<String>::new());
    // A bulk push walks everything and may delete orphans: not the tenants' objects.
    sd.mark_dirty(&no_options()).await.unwrap();
    env.reset();
    let report = sd.push(&no_options()).await.unwrap();
    assert_eq!((report.files, report.deleted), (0, 0));
    assert!(env.objects_of(Kind::Delete).is_empty());

    let after: Vec<(String, String)> = env
        .objects()
        .await
        .into_iter()
        .filter(|(k, _)| k.starts_with("alpha/") || k.starts_with("beta/"))
        .map(|(k, o)| (k, o.generation))
        .collect();
    assert_eq!(after, tenants_before, "the tenants' objects as they were");
    assert_eq!(env.index_keys().await, ["data/solo/vpc/main/state/1/raw"]);

    // A solo clone pulls the solo file only; the tenants still pull exactly their own.
    let clone = Cache::new();
    let mut sclone = env.open(&clone, "").await;
    env.reset();
    assert_eq!(sclone.pull(&no_options()).await.unwrap().files, 1);
    assert_eq!(data_files(&clone), ["data/solo/vpc/main/state/1/raw"]);
    assert_eq!(touched_under(&env, "alpha/"), Vec::<String>::new());
    assert_eq!(touched_under(&env, "beta/"), Vec::<String>::new());
    assert_eq!(sa.pull(&ns("alpha")).await.unwrap().files, 0);
    assert_eq!(
        without(data_files(&a), "alpha/.namespace.json"),
        sorted_rels(&FILES_A)
    );
    // The solo repository is no namespace.
    assert_eq!(sd.list_namespaces().await.unwrap(), ["alpha", "beta"]);
}

async fn typescript_manifest_and_catalog_bytes(mut env: Env) {
    // A manifest the TypeScript client wrote: listed, and it decides registrations.
    let ts_manifest = fixture("namespace-manifest.json");
    let owner = "cf4778dc-7d8d-45df-a9b0-d76a666bc5e7";
    env.put("infra/.namespace.json", &ts_manifest).await;
    let cache = Cache::new();
    let mut ds = env.open(&cache, "").await;
    assert_eq!(ds.list_namespaces().await.unwrap(), ["infra"]);
    let e = assert_kind(
        ds.register_namespace("infra", REPO_A).await,
        "namespace-taken",
        "the TypeScript client's registration",
    );
    assert!(e.to_string().ends_with(&format!("by repo {owner}")), "{e}");
    // Its owner re-registers through us: the same bytes but the time, which it reads back.
    let r = ds.register_namespace("infra", owner).await.unwrap();
    assert!(!r.created);
    let written = String::from_utf8(env.must_get("infra/.namespace.json").await).unwrap();
    let ts_text = String::from_utf8(ts_manifest).unwrap();
    assert_eq!(
        written,
        ts_text.replace("2026-06-03T00:00:00.000Z", &r.registered_at)
    );

    // Exports swamp core and the TypeScript client wrote are read as stored.
    let core_rows = fixture("catalog-export-core.json");
    let ts_rows = fixture("catalog-export.json");
    env.put("core/.catalog-export.json", &core_rows).await;
    env.put("ts/.catalog-export.json", &ts_rows).await;
    let got = ds
        .pull_foreign_catalogs(&["core".into(), "ts".into()], None)
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].rows_json.as_bytes(), &core_rows[..]);
    assert_eq!(got[1].rows_json.as_bytes(), &ts_rows[..]);

    // Our export of the same rows is the TypeScript client's bytes and hash.
    let rows = String::from_utf8(ts_rows.clone()).unwrap();
    let export = ds.export_catalog("infra", &rows, None).await.unwrap();
    assert!(export.written);
    assert_eq!(env.must_get("infra/.catalog-export.json").await, ts_rows);
    assert_eq!(export.sha256, sha256_hex(&ts_rows));

    // A sidecar the TypeScript client wrote after exporting these rows: nothing to send.
    let other = Cache::new();
    let ts_sidecar = String::from_utf8(fixture("sidecar-v2-full.json"))
        .unwrap()
        .replace(
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            &export.sha256,
        );
    other.write(".datastore-sync-state.json", ts_sidecar.as_bytes());
    let mut ts_cache = env.open(&other, "").await;
    env.reset();
    assert!(
        !ts_cache
            .export_catalog("infra", &rows, None)
            .await
            .unwrap()
            .written
    );
    assert_eq!(env.requests().len(), 0);
    assert_eq!(
        other.read(".datastore-sync-state.json"),
        ts_sidecar.as_bytes()
    );
}

/// Cases that need `ifGenerationMatch` honoured: the in-process fake only.
mod create_only {
    use super::*;

    async fn fake_env() -> Env {
        Env::start(Which::Fake).await
    }

    /// Another repository registers between our read and our write: the create-only write
    /// fails with 412 and the second read finds the owner.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_registration_that_lost_the_race_reads_the_winner() {
        let mut env = fake_env().await;
        env.put(
            "alpha/.namespace.json",
            manifest("alpha", REPO_A).as_bytes(),
        )
        .await;
        let before = env.must_get("alpha/.namespace.json").await;
        // Our read answers "none yet", as if it had come just before A's write.
        env.host.faults.add(FaultRule::new(
            FaultMatch::kind(RequestKind::Download).object("alpha/.namespace.json"),
            FaultAction::Status(404),
            Some(1),
        ));
        let cache = Cache::new();
        let mut ds = env.open(&cache, "").await;
        env.reset();
        assert_kind(
            ds.register_namespace("alpha", REPO_C).await,
            "namespace-taken",
            "after the lost race",
        );
        assert_eq!(env.must_get("alpha/.namespace.json").await, before);
        let uploads: Vec<u16> = env
            .requests()
            .into_iter()
            .filter(|r| r.kind == Kind::Upload)
            .map(|r| r.status)
            .collect();
        assert_eq!(uploads, [412], "{}", env.summary());
    }

    /// The query strings of the uploads the fake server received (the test makes no other
    /// upload than the manifest's; a multipart upload names its object in the body).
    fn manifest_upload_queries(env: &Env) -> Vec<String> {
        let fake = env.server.as_fake().expect("the in-process fake");
        fake.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.starts_with("/upload/"))
            .map(|r| r.query)
            .collect()
    }

    /// The first registration creates only; the owner's refresh is conditional on the
    /// generation it read, so a rewrite in between is never overwritten.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_carry_the_condition_of_what_was_read() {
        let mut env = fake_env().await;
        let cache = Cache::new();
        let mut ds = env.open(&cache, "").await;
        assert!(
            ds.register_namespace("alpha", REPO_A)
                .await
                .unwrap()
                .created
        );
        let queries = manifest_upload_queries(&env);
        assert_eq!(queries.len(), 1, "{queries:?}");
        assert!(queries[0].contains("ifGenerationMatch=0"), "{queries:?}");
        let generation = env.generation("alpha/.namespace.json").await.unwrap();
        assert!(
            !ds.register_namespace("alpha", REPO_A)
                .await
                .unwrap()
                .created
        );
        let queries = manifest_upload_queries(&env);
        assert_eq!(queries.len(), 2, "{queries:?}");
        assert!(
            queries[1].contains(&format!("ifGenerationMatch={generation}")),
            "{queries:?}"
        );
    }

    /// The create-only write succeeds but its reply is lost: the retry's 412 is settled by
    /// reading the manifest back, which is ours.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_reply_of_the_create_only_write_is_ours() {
        let mut env = fake_env().await;
        env.host.faults.add(FaultRule::new(
            FaultMatch::kind(RequestKind::Upload).object("alpha/.namespace.json"),
            FaultAction::ResetAfterCommit,
            Some(1),
        ));
        let cache = Cache::new();
        let mut ds = env.open(&cache, "").await;
        let r = ds.register_namespace("alpha", REPO_A).await.unwrap();
        assert!(r.created);
        assert_eq!(env.json("alpha/.namespace.json").await["repoId"], REPO_A);
        assert_eq!(ds.list_namespaces().await.unwrap(), ["alpha"]);
    }
}
