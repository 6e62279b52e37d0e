//! Resolving the config and the cache, and opening configured datastores the way swamp
//! hosts them (one sandbox per datastore, the cache as its only writable directory).

use super::args::{Global, NamespaceArg};
use super::failure::{self, Failure};
use crate::cli_config::{self, ConfigSource};
use gcs_host::datastore::{no_options, EffectiveConfig, ModelRef, SyncOptions};
use gcs_host::launch::options_for;
use gcs_host::{Datastore, Host};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The config in effect and where it came from.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The config JSON object.
    pub json: String,
    /// Where it came from.
    pub source: ConfigSource,
}

/// Resolve the config from the global options and `SWAMP_DATASTORE` (exit 2 on problems).
pub fn resolve_config(g: &Global) -> Result<Resolved, Failure> {
    let env = std::env::var("SWAMP_DATASTORE").ok();
    let (json, source) = cli_config::resolve(
        g.config.as_deref(),
        env.as_deref(),
        g.config_file.as_deref(),
    )
    .map_err(|e| {
        let f = Failure::config(e.0);
        if f.message.starts_with("no datastore config") {
            f.hint("try `swamp-gcs demo` for a tour that needs no config")
        } else {
            f
        }
    })?;
    Ok(Resolved { json, source })
}

/// The cache a command works on: the user's, or a scratch directory removed on drop (for
/// commands that never touch a cache: verify, lock).
pub enum Cache {
    /// `--cache DIR`.
    Given(PathBuf),
    /// A temporary directory.
    Scratch(tempfile::TempDir),
}

impl Cache {
    /// The directory.
    pub fn path(&self) -> &Path {
        match self {
            Cache::Given(p) => p,
            Cache::Scratch(t) => t.path(),
        }
    }

    /// A fresh scratch directory under the system temp dir (`TMPDIR`).
    pub fn scratch() -> Result<Cache, Failure> {
        let dir = tempfile::Builder::new()
            .prefix("swamp-gcs-scratch-")
            .tempdir()
            .map_err(|e| {
                Failure::operational("io", format!("creating a scratch directory: {e}"))
            })?;
        Ok(Cache::Scratch(dir))
    }
}

/// The `--cache` a command requires (exit 2 when missing).
pub fn required_cache(g: &Global, command: &str) -> Result<Cache, Failure> {
    match &g.cache {
        Some(p) => Ok(Cache::Given(p.clone())),
        None => Err(Failure::usage(format!(
            "`{command}` needs --cache DIR, the local cache to sync"
        ))
        .hint("swamp keeps a repository's cache at ~/.swamp/repos/<repoId>; any directory works (created if missing)")),
    }
}

/// One configured datastore and what it was opened with.
pub struct Session {
    /// The datastore.
    pub ds: Datastore,
    /// The config after validation and defaults.
    pub effective: EffectiveConfig,
    /// The config as given.
    pub config: Resolved,
    /// Its cache.
    pub cache: Cache,
    /// The namespace its syncs serve (`None`: solo); see [`namespace`].
    pub namespace: Option<String>,
}

impl Session {
    /// `bucket`, `prefix`, `cache`, `configSource` and `namespace` for JSON output.
    pub fn json_fields(&self) -> Value {
        json!({
            "bucket": self.effective.bucket,
            "prefix": self.effective.prefix,
            "endpoint": self.effective.api_endpoint,
            "configSource": self.config.source.to_string(),
            "cache": match &self.cache {
                Cache::Given(p) => Value::from(p.display().to_string()),
                Cache::Scratch(_) => Value::Null,
            },
            "namespace": self.namespace,
        })
    }

    /// Sync options with this session's namespace and nothing else set.
    pub fn sync_options(&self) -> SyncOptions {
        SyncOptions {
            namespace: self.namespace.clone(),
            ..no_options()
        }
    }
}

/// The namespace a syncing command serves: `--namespace` (an empty one means solo), else
/// `datastore.namespace` of the .swamp.yaml the config came from; else solo. The component
/// checks the slug (a bad one is a config error, exit 2).
pub fn namespace(arg: &NamespaceArg, config: &Resolved) -> Result<Option<String>, Failure> {
    let chosen = match (&arg.namespace, &config.source) {
        (Some(flag), _) => Some(flag.clone()),
        (None, ConfigSource::File(path)) => {
            cli_config::swamp_yaml(Path::new(path))
                .map_err(|e| Failure::config(e.0))?
                .namespace
        }
        (None, _) => None,
    };
    Ok(chosen.filter(|n| !n.is_empty()))
}

/// Open a datastore on `cache` with `config` and configure it.
pub async fn open_with(host: &Host, config: &Resolved, cache: Cache) -> Result<Session, Failure> {
    let mut opts = options_for(&config.json, cache.path());
    // The guest's progress events cost a few lines a second; whether they are shown is the
    // display's choice (`--progress`).
    opts.progress = true;
    let mut ds = host.open(&opts).await.map_err(|e| {
        Failure::operational("io", format!("{e:#}"))
            .hint("check that --cache names a directory this user can create and write")
    })?;
    let effective = ds.configure(&config.json).await.map_err(|e| {
        let f = Failure::from(e);
        if f.code == failure::USAGE {
            let msg = format!("{}: {}", config.source, f.message);
            Failure { message: msg, ..f }
        } else {
            f
        }
    })?;
    failure::set_target(&effective.api_endpoint, &effective.bucket);
    Ok(Session {
        ds,
        effective,
        config: config.clone(),
        cache,
        namespace: None,
    })
}

/// Resolve the config and open a datastore on `cache`.
pub async fn open(host: &Host, g: &Global, cache: Cache) -> Result<Session, Failure> {
    let config = resolve_config(g)?;
    open_with(host, &config, cache).await
}

/// [`open`] for a command that serves a namespace (see [`namespace`]).
pub async fn open_for(
    host: &Host,
    g: &Global,
    cache: Cache,
    arg: &NamespaceArg,
) -> Result<Session, Failure> {
    let config = resolve_config(g)?;
    let ns = namespace(arg, &config)?;
    let mut s = open_with(host, &config, cache).await?;
    s.namespace = ns;
    Ok(s)
}

/// Parse `--model TYPE/ID` values: the id is the last segment, the type everything before.
pub fn parse_models(values: &[String]) -> Result<Vec<ModelRef>, Failure> {
    let mut out: Vec<ModelRef> = Vec::new();
    for v in values {
        let bad = || {
            Failure::usage(format!(
                "--model {v:?}: expected TYPE/ID, e.g. aws/ec2/vpc/vpc-1 (the id is the last segment)"
            ))
        };
        let (ty, id) = v.rsplit_once('/').ok_or_else(bad)?;
        let clean = |s: &str| {
            !s.is_empty()
                && !s.starts_with('/')
                && !s.ends_with('/')
                && !s.contains("//")
                && s.split('/').all(|seg| seg != "." && seg != "..")
        };
        if !clean(ty) || !clean(id) {
            return Err(bad());
        }
        if !out.iter().any(|m| m.model_type == ty && m.model_id == id) {
            out.push(ModelRef {
                model_type: ty.to_string(),
                model_id: id.to_string(),
            });
        }
    }
    Ok(out)
}

/// `TYPE/ID` of a model, for output.
pub fn model_name(m: &ModelRef) -> String {
    format!("{}/{}", m.model_type, m.model_id)
}

/// Swamp's per-model lock key: `[{ns}/]data/{type}/{id}/.lock`.
pub fn model_lock_key(m: &ModelRef, namespace: Option<&str>) -> String {
    let key = format!("data/{}/{}/.lock", m.model_type, m.model_id);
    match namespace {
        Some(ns) => format!("{ns}/{key}"),
        None => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_split_at_the_last_slash() {
        let m = parse_models(&["aws/ec2/vpc/vpc-1".into(), "@demo/server/web-1".into()]).unwrap();
        assert_eq!(m[0].model_type, "aws/ec2/vpc");
        assert_eq!(m[0].model_id, "vpc-1");
        assert_eq!(model_lock_key(&m[1], None), "data/@demo/server/web-1/.lock");
        assert_eq!(
            model_lock_key(&m[1], Some("infra")),
            "infra/data/@demo/server/web-1/.lock"
        );
        for bad in ["vpc-1", "aws/", "/x", "a//b", "a/../b", "a/."] {
            assert!(parse_models(&[bad.into()]).is_err(), "{bad}");
        }
        let dup = parse_models(&["a/b".into(), "a/b".into()]).unwrap();
        assert_eq!(dup.len(), 1);
    }
}
