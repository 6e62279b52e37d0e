//! `namespace register/list` and `catalog export/pull/fetch`: several repositories in one
//! bucket, each under its own namespace, and what they read of each other.

use super::args::{
    CatalogAction, CatalogExportArgs, CatalogFetchArgs, CatalogPullArgs, Global, NamespaceAction,
    NamespaceRegisterArgs,
};
use super::commands::{merge, print_json};
use super::failure::Failure;
use super::session::{self, Cache, Session};
use crate::cli_config::{self, ConfigSource};
use gcs_host::Host;
use serde_json::{json, Value};
use std::io::{Read as _, Write as _};
use std::path::Path;

/// `namespace …`.
pub async fn namespace(host: &Host, g: &Global, action: &NamespaceAction) -> Result<(), Failure> {
    match action {
        NamespaceAction::Register(a) => register(host, g, a).await,
        NamespaceAction::List => list(host, g).await,
    }
}

/// `catalog …`.
pub async fn catalog(host: &Host, g: &Global, action: &CatalogAction) -> Result<(), Failure> {
    match action {
        CatalogAction::Export(a) => export(host, g, a).await,
        CatalogAction::Pull(a) => pull(host, g, a).await,
        CatalogAction::Fetch(a) => fetch(host, g, a).await,
    }
}

/// The repository id: `--repo-id`, else `repoId` of the .swamp.yaml the config came from.
fn repo_id(args: &NamespaceRegisterArgs, s: &Session) -> Result<String, Failure> {
    if let Some(id) = &args.repo_id {
        return Ok(id.clone());
    }
    if let ConfigSource::File(path) = &s.config.source {
        if let Some(id) = cli_config::swamp_yaml(Path::new(path))
            .map_err(|e| Failure::config(e.0))?
            .repo_id
        {
            return Ok(id);
        }
    }
    Err(
        Failure::usage("`namespace register` needs --repo-id ID, the repository's id")
            .hint("swamp's repository id: the <repoId> of its cache ~/.swamp/repos/<repoId>"),
    )
}

async fn register(host: &Host, g: &Global, args: &NamespaceRegisterArgs) -> Result<(), Failure> {
    let mut s = session::open(host, g, Cache::scratch()?).await?;
    let repo = repo_id(args, &s)?;
    let r = s.ds.register_namespace(&args.namespace, &repo).await?;
    if g.json {
        print_json(
            "namespace register",
            merge(
                s.json_fields(),
                json!({
                    "namespace": args.namespace,
                    "repoId": repo,
                    "created": r.created,
                    "registeredAt": r.registered_at,
                }),
            ),
        );
    } else if r.created {
        println!(
            "registered namespace {} for repository {repo}",
            args.namespace
        );
        println!(
            "  sync it with --namespace {} (or datastore.namespace in .swamp.yaml)",
            args.namespace
        );
    } else {
        println!(
            "namespace {} was already registered for repository {repo}; registration refreshed",
            args.namespace
        );
    }
    Ok(())
}

async fn list(host: &Host, g: &Global) -> Result<(), Failure> {
    let mut s = session::open(host, g, Cache::scratch()?).await?;
    let names = s.ds.list_namespaces().await?;
    if g.json {
        print_json(
            "namespace list",
            merge(s.json_fields(), json!({"namespaces": names})),
        );
    } else if names.is_empty() {
        println!("no namespaces registered: the bucket is used solo");
    } else {
        for n in &names {
            println!("{n}");
        }
    }
    Ok(())
}

/// The catalog rows of `catalog export`: a file, or stdin for `-`.
fn read_rows(path: &Path) -> Result<String, Failure> {
    let mut bytes = Vec::new();
    let shown = path.display();
    let read = if path == Path::new("-") {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes).map(|_| ()))
    };
    read.map_err(|e| Failure::usage(format!("--rows {shown}: cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|_| Failure::usage(format!("--rows {shown}: not UTF-8 text")))
}

/// The namespace a catalog command acts for (exit 2 without one).
fn own_namespace(s: &Session, command: &str) -> Result<String, Failure> {
    s.namespace.clone().ok_or_else(|| {
        Failure::usage(format!(
            "`{command}` needs --namespace NS, this repository's namespace"
        ))
        .hint("or set datastore.namespace in the .swamp.yaml given to --config-file")
    })
}

async fn export(host: &Host, g: &Global, args: &CatalogExportArgs) -> Result<(), Failure> {
    let cache = session::required_cache(g, "catalog export")?;
    let mut s = session::open_for(host, g, cache, &args.ns).await?;
    let ns = own_namespace(&s, "catalog export")?;
    let rows = read_rows(&args.rows)?;
    let r = s.ds.export_catalog(&ns, &rows, None).await?;
    if g.json {
        print_json(
            "catalog export",
            merge(
                s.json_fields(),
                json!({
                    "key": format!("{ns}/.catalog-export.json"),
                    "written": r.written,
                    "sha256": r.sha256,
                    "size": r.size,
                }),
            ),
        );
    } else if r.written {
        println!(
            "exported {} to {ns}/.catalog-export.json (sha256 {})",
            super::output::bytes(r.size),
            r.sha256
        );
    } else {
        println!("unchanged since the last export from this cache; nothing sent");
    }
    Ok(())
}

async fn pull(host: &Host, g: &Global, args: &CatalogPullArgs) -> Result<(), Failure> {
    let mut s = session::open_for(host, g, Cache::scratch()?, &args.ns).await?;
    let asked: Vec<String> = if args.namespaces.is_empty() {
        let own = s.namespace.clone();
        s.ds.list_namespaces()
            .await?
            .into_iter()
            .filter(|n| Some(n) != own.as_ref())
            .collect()
    } else {
        args.namespaces.clone()
    };
    let got = s.ds.pull_foreign_catalogs(&asked, None).await?;
    let mut skipped: Vec<&String> = Vec::new();
    for n in &asked {
        if !got.iter().any(|c| &c.namespace == n) && !skipped.contains(&n) {
            skipped.push(n);
        }
    }
    // The component returns only JSON arrays.
    let rows = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    if g.json {
        let catalogs: Vec<Value> = got
            .iter()
            .map(|c| json!({"namespace": c.namespace, "rows": rows(&c.rows_json)}))
            .collect();
        print_json(
            "catalog pull",
            merge(
                s.json_fields(),
                json!({"catalogs": catalogs, "skipped": skipped}),
            ),
        );
        return Ok(());
    }
    if asked.is_empty() {
        println!("no other namespaces registered");
    }
    for c in &got {
        let n = rows(&c.rows_json).as_array().map_or(0, Vec::len);
        println!(
            "{:<20} {}",
            c.namespace,
            super::output::plural(n as u64, "row")
        );
    }
    for n in skipped {
        println!("{n:<20} no readable export");
    }
    Ok(())
}

async fn fetch(host: &Host, g: &Global, args: &CatalogFetchArgs) -> Result<(), Failure> {
    if g.json && args.output.is_none() {
        return Err(Failure::usage(
            "`catalog fetch --json` needs --output FILE: the bytes go there, the summary to stdout",
        ));
    }
    let mut s = session::open(host, g, Cache::scratch()?).await?;
    let key = format!("{}/{}", args.namespace, args.rel);
    let Some(bytes) =
        s.ds.fetch_foreign_content(&args.namespace, &args.rel, None)
            .await?
    else {
        return Err(Failure::operational(
            "not-found",
            format!(
                "namespace {} has no file {} ({key})",
                args.namespace, args.rel
            ),
        )
        .hint("the path is relative to the namespace, as in its index"));
    };
    match &args.output {
        Some(path) => std::fs::write(path, &bytes)
            .map_err(|e| Failure::operational("io", format!("writing {}: {e}", path.display())))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)
                .and_then(|()| out.flush())
                .map_err(|e| Failure::operational("io", format!("writing stdout: {e}")))?;
        }
    }
    if g.json {
        print_json(
            "catalog fetch",
            merge(
                s.json_fields(),
                json!({
                    "key": key,
                    "size": bytes.len(),
                    "output": args.output.as_ref().map(|p| p.display().to_string()),
                }),
            ),
        );
    } else if let Some(path) = &args.output {
        println!(
            "wrote {} of {key} to {}",
            super::output::bytes(bytes.len() as u64),
            path.display()
        );
    }
    Ok(())
}
