//! Where `swamp-gcs` gets the datastore config: `--config` JSON, then the
//! `SWAMP_DATASTORE` environment variable, then a `.swamp.yaml` file — the ways swamp users
//! already write it.

use serde_json::Value;
use std::path::Path;

/// The datastore type this component implements.
pub const DATASTORE_TYPE: &str = "@swamp/gcs-datastore";

/// Where the config came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// `--config`.
    Flag,
    /// `SWAMP_DATASTORE`.
    Env,
    /// `--config-file`.
    File(String),
}

impl std::fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigSource::Flag => f.write_str("--config"),
            ConfigSource::Env => f.write_str("SWAMP_DATASTORE"),
            ConfigSource::File(p) => write!(f, "{p}"),
        }
    }
}

/// A config problem, always one line naming the source (and the field, when there is one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Resolve the config JSON with the precedence flag > environment > file.
pub fn resolve(
    flag: Option<&str>,
    env: Option<&str>,
    file: Option<&Path>,
) -> Result<(String, ConfigSource), ConfigError> {
    if let Some(json) = flag {
        return parse_object(json, "--config").map(|v| (v, ConfigSource::Flag));
    }
    if let Some(raw) = env.filter(|s| !s.trim().is_empty()) {
        return from_env(raw).map(|v| (v, ConfigSource::Env));
    }
    if let Some(path) = file {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{shown}: cannot read: {e}")))?;
        return from_yaml(&text, &shown).map(|v| (v, ConfigSource::File(shown)));
    }
    Err(ConfigError(
        "no datastore config: pass --config '{\"bucket\":\"my-bucket\"}', set SWAMP_DATASTORE='@swamp/gcs-datastore:{...}', or --config-file .swamp.yaml".into(),
    ))
}

fn parse_object(json: &str, source: &str) -> Result<String, ConfigError> {
    let v: Value = serde_json::from_str(json)
        .map_err(|e| ConfigError(format!("{source}: not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(ConfigError(format!(
            "{source}: the config must be a JSON object like {{\"bucket\":\"my-bucket\"}}"
        )));
    }
    Ok(v.to_string())
}

/// `SWAMP_DATASTORE='@swamp/gcs-datastore:{json}'`, swamp's own format.
fn from_env(raw: &str) -> Result<String, ConfigError> {
    let raw = raw.trim();
    let Some(json) = raw
        .strip_prefix(DATASTORE_TYPE)
        .and_then(|r| r.strip_prefix(':'))
    else {
        let ty = raw.split(':').next().unwrap_or(raw);
        return Err(ConfigError(format!(
            "SWAMP_DATASTORE: datastore type {ty:?} is not {DATASTORE_TYPE}; expected '{DATASTORE_TYPE}:{{\"bucket\":\"...\"}}'"
        )));
    };
    parse_object(json, "SWAMP_DATASTORE")
}

/// A swamp `.swamp.yaml`: `datastore.type` must be ours and `datastore.config` is the object.
fn from_yaml(text: &str, shown: &str) -> Result<String, ConfigError> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text)
        .map_err(|e| ConfigError(format!("{shown}: not valid YAML: {e}")))?;
    let ds = doc
        .get("datastore")
        .ok_or_else(|| ConfigError(format!("{shown}: no `datastore` section")))?;
    match ds.get("type").and_then(serde_yaml::Value::as_str) {
        Some(DATASTORE_TYPE) => {}
        Some(other) => {
            return Err(ConfigError(format!(
                "{shown}: field `datastore.type` is {other:?}, not {DATASTORE_TYPE:?}"
            )))
        }
        None => {
            return Err(ConfigError(format!(
                "{shown}: field `datastore.type` is missing"
            )))
        }
    }
    let config = ds
        .get("config")
        .ok_or_else(|| ConfigError(format!("{shown}: field `datastore.config` is missing")))?;
    let json: Value = serde_json::to_value(config)
        .map_err(|e| ConfigError(format!("{shown}: field `datastore.config`: {e}")))?;
    if !json.is_object() {
        return Err(ConfigError(format!(
            "{shown}: field `datastore.config` must be a mapping"
        )));
    }
    Ok(json.to_string())
}

/// What else a `.swamp.yaml` says that the commands use: the repository's namespace
/// (`datastore.namespace`) and id (`repoId`), when it has them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwampYaml {
    /// `datastore.namespace`.
    pub namespace: Option<String>,
    /// `repoId`.
    pub repo_id: Option<String>,
}

/// Read [`SwampYaml`] from the `.swamp.yaml` at `path` (fields that are absent or not
/// strings read as `None`).
pub fn swamp_yaml(path: &Path) -> Result<SwampYaml, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("{shown}: cannot read: {e}")))?;
    let doc: serde_yaml::Value = serde_yaml::from_str(&text)
        .map_err(|e| ConfigError(format!("{shown}: not valid YAML: {e}")))?;
    let text_at =
        |v: Option<&serde_yaml::Value>| v.and_then(serde_yaml::Value::as_str).map(str::to_string);
    Ok(SwampYaml {
        namespace: text_at(doc.get("datastore").and_then(|d| d.get("namespace"))),
        repo_id: text_at(doc.get("repoId")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml_file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn precedence_is_flag_then_env_then_file() {
        let f = yaml_file(
            "datastore:\n  type: \"@swamp/gcs-datastore\"\n  config:\n    bucket: from-file\n",
        );
        let env = r#"@swamp/gcs-datastore:{"bucket":"from-env"}"#;
        let flag = r#"{"bucket":"from-flag"}"#;
        let (j, s) = resolve(Some(flag), Some(env), Some(f.path())).unwrap();
        assert!(j.contains("from-flag") && s == ConfigSource::Flag);
        let (j, s) = resolve(None, Some(env), Some(f.path())).unwrap();
        assert!(j.contains("from-env") && s == ConfigSource::Env);
        let (j, _) = resolve(None, None, Some(f.path())).unwrap();
        assert!(j.contains("from-file"));
    }

    #[test]
    fn errors_name_the_problem() {
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, &'a str);
        let cases: Vec<Case> = vec![
            (Some("{"), None, None, "--config: not valid JSON"),
            (Some("[1]"), None, None, "must be a JSON object"),
            (
                None,
                Some(r#"@swamp/s3-datastore:{"bucket":"b"}"#),
                None,
                "is not @swamp/gcs-datastore",
            ),
            (
                None,
                None,
                Some("datastore:\n  type: \"@swamp/s3-datastore\"\n  config: {}\n"),
                "`datastore.type`",
            ),
            (None, None, Some("datastore: [\n"), "not valid YAML"),
            (None, None, Some("other: 1\n"), "no `datastore` section"),
            (
                None,
                None,
                Some("datastore:\n  type: \"@swamp/gcs-datastore\"\n"),
                "`datastore.config` is missing",
            ),
            (None, None, None, "no datastore config"),
        ];
        for (flag, env, yaml, want) in cases {
            let f = yaml.map(yaml_file);
            let err = resolve(flag, env, f.as_ref().map(|f| f.path())).unwrap_err();
            assert!(err.0.contains(want), "{err} should contain {want}");
            assert!(!err.0.contains('\n'));
        }
    }

    #[test]
    fn namespace_and_repo_id_come_from_the_yaml_when_present() {
        let f = yaml_file(
            "repoId: cf4778dc-7d8d-45df-a9b0-d76a666bc5e7\ndatastore:\n  type: \"@swamp/gcs-datastore\"\n  namespace: infra\n  config:\n    bucket: b\n",
        );
        assert_eq!(
            swamp_yaml(f.path()).unwrap(),
            SwampYaml {
                namespace: Some("infra".into()),
                repo_id: Some("cf4778dc-7d8d-45df-a9b0-d76a666bc5e7".into()),
            }
        );
        let f = yaml_file("datastore:\n  namespace: 5\n");
        assert_eq!(swamp_yaml(f.path()).unwrap(), SwampYaml::default());
    }
}
