//! The datastore config: the JSON object users write under `datastore.config` in `.swamp.yaml`,
//! validated once with the TypeScript schema's rules (`docs/swamp-contract.md#configuration`).
//!
//! Unknown keys are ignored, as the TypeScript schema strips them. A few keys beyond the
//! TypeScript schema tune retries and resumable uploads; they have safe defaults.

use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// The public GCS endpoint used when no `apiEndpoint` is configured.
pub const DEFAULT_ENDPOINT: &str = "https://storage.googleapis.com";
/// Default downloads in flight (TypeScript default).
pub const DEFAULT_PULL_CONCURRENCY: u32 = 50;
/// Default uploads in flight (TypeScript default).
pub const DEFAULT_PUSH_CONCURRENCY: u32 = 25;
/// Default per-request deadline.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u32 = 30_000;
/// Files at least this large are uploaded with a resumable session.
pub const DEFAULT_RESUMABLE_THRESHOLD: u64 = 8 * 1024 * 1024;
/// Resumable chunk size; GCS requires multiples of 256 KiB for all but the last chunk.
pub const DEFAULT_CHUNK_SIZE: u64 = 8 * 1024 * 1024;
/// GCS's chunk granularity.
pub const CHUNK_GRANULARITY: u64 = 256 * 1024;

/// Retry budget for idempotent requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySettings {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// First backoff delay.
    pub initial_delay_ms: u64,
    /// Upper bound of one delay.
    pub max_delay_ms: u64,
    /// Stop retrying once this much time has passed since the first attempt.
    pub max_elapsed_ms: u64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        // Five attempts over at most a minute: enough to ride out a GCS 503 burst or a
        // per-object 429 (which wants >= 1 s between writes), short enough that swamp's
        // 300 s sync deadline is never eaten by one file.
        RetrySettings {
            max_attempts: 5,
            initial_delay_ms: 250,
            max_delay_ms: 16_000,
            max_elapsed_ms: 60_000,
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix without a trailing slash handling (kept verbatim like the TS client).
    pub prefix: Option<String>,
    /// Accepted for compatibility; never sent.
    pub project_id: Option<String>,
    /// JSON-API base URL without trailing slash.
    pub api_endpoint: String,
    /// True when credentials are not used (an endpoint override was given).
    pub emulator: bool,
    /// Downloads in flight.
    pub pull_concurrency: u32,
    /// Uploads/deletes in flight.
    pub push_concurrency: u32,
    /// Per-request deadline (after the environment override).
    pub request_timeout_ms: u32,
    /// Resumable upload threshold in bytes.
    pub resumable_threshold: u64,
    /// Resumable chunk size in bytes (a multiple of 256 KiB).
    pub chunk_size: u64,
    /// Retry budget.
    pub retry: RetrySettings,
}

/// Environment values that influence the config, passed in so parsing stays pure.
#[derive(Debug, Clone, Default)]
pub struct ConfigEnv {
    /// `SWAMP_GCS_REQUEST_TIMEOUT_MS`.
    pub request_timeout_ms: Option<String>,
    /// `STORAGE_EMULATOR_HOST` (as Google's client libraries honour it).
    pub storage_emulator_host: Option<String>,
}

impl Config {
    /// Parse and validate a JSON config object.
    pub fn parse(json: &str, env: &ConfigEnv) -> Result<Config> {
        let value: Value = serde_json::from_str(json).map_err(|e| {
            Error::config(
                "(config)",
                format!(
                    "not valid JSON ({e}); expected an object like {{\"bucket\":\"my-bucket\"}}"
                ),
            )
        })?;
        let Value::Object(obj) = value else {
            return Err(Error::config(
                "(config)",
                "must be a JSON object like {\"bucket\":\"my-bucket\"}",
            ));
        };
        Self::from_map(&obj, env)
    }

    fn from_map(obj: &Map<String, Value>, env: &ConfigEnv) -> Result<Config> {
        let bucket = match obj.get("bucket") {
            None | Some(Value::Null) => return Err(Error::config("bucket", "is required")),
            Some(v) => string_field("bucket", v)?,
        };
        validate_bucket(&bucket)?;
        let prefix = optional_string(obj, "prefix")?.filter(|p| !p.is_empty());
        let project_id = optional_string(obj, "projectId")?;

        let configured_endpoint = optional_string(obj, "apiEndpoint")?;
        let (api_endpoint, endpoint_overridden) = match configured_endpoint {
            Some(url) => (validate_endpoint("apiEndpoint", &url)?, true),
            None => match env
                .storage_emulator_host
                .as_deref()
                .filter(|s| !s.is_empty())
            {
                Some(host) => {
                    // Go's client accepts a bare host:port here; Python requires a scheme.
                    let url = if host.contains("://") {
                        host.to_string()
                    } else {
                        format!("http://{host}")
                    };
                    (validate_endpoint("STORAGE_EMULATOR_HOST", &url)?, true)
                }
                None => (DEFAULT_ENDPOINT.to_string(), false),
            },
        };

        // An endpoint override means an emulator (no credentials), as in the TypeScript
        // client, unless `credentials` says otherwise (a private endpoint that needs auth).
        let emulator = match optional_string(obj, "credentials")?.as_deref() {
            None | Some("auto") => endpoint_overridden,
            Some("adc") => false,
            Some("none") => true,
            Some(other) => {
                return Err(Error::config(
                    "credentials",
                    format!("must be \"auto\", \"adc\" or \"none\", got {other:?}"),
                ))
            }
        };
        let pull_concurrency = int_in_range(obj, "pullConcurrency", 1, 1000)?
            .map_or(DEFAULT_PULL_CONCURRENCY, |v| v as u32);
        let push_concurrency = int_in_range(obj, "pushConcurrency", 1, 1000)?
            .map_or(DEFAULT_PUSH_CONCURRENCY, |v| v as u32);
        let configured_timeout = int_in_range(obj, "requestTimeoutMs", 1000, 600_000)?
            .map_or(DEFAULT_REQUEST_TIMEOUT_MS, |v| v as u32);
        let request_timeout_ms =
            env_timeout_override(env.request_timeout_ms.as_deref()).unwrap_or(configured_timeout);

        let resumable_threshold = int_in_range(obj, "resumableThresholdBytes", 1, 1 << 40)?
            .map_or(DEFAULT_RESUMABLE_THRESHOLD, |v| v as u64);
        let chunk_size = int_in_range(
            obj,
            "resumableChunkBytes",
            CHUNK_GRANULARITY as i64,
            1 << 32,
        )?
        .map_or(DEFAULT_CHUNK_SIZE, |v| v as u64);
        if chunk_size % CHUNK_GRANULARITY != 0 {
            return Err(Error::config(
                "resumableChunkBytes",
                "must be a multiple of 262144 (256 KiB), as GCS requires",
            ));
        }

        let defaults = RetrySettings::default();
        let retry = RetrySettings {
            max_attempts: int_in_range(obj, "retryMaxAttempts", 1, 20)?
                .map_or(defaults.max_attempts, |v| v as u32),
            initial_delay_ms: int_in_range(obj, "retryInitialDelayMs", 1, 60_000)?
                .map_or(defaults.initial_delay_ms, |v| v as u64),
            max_delay_ms: int_in_range(obj, "retryMaxDelayMs", 1, 300_000)?
                .map_or(defaults.max_delay_ms, |v| v as u64),
            max_elapsed_ms: int_in_range(obj, "retryMaxElapsedMs", 0, 3_600_000)?
                .map_or(defaults.max_elapsed_ms, |v| v as u64),
        };

        Ok(Config {
            bucket,
            prefix,
            project_id,
            api_endpoint,
            emulator,
            pull_concurrency,
            push_concurrency,
            request_timeout_ms,
            resumable_threshold,
            chunk_size,
            retry,
        })
    }

    /// The object key for `key` under the configured prefix.
    pub fn full_key(&self, key: &str) -> String {
        match &self.prefix {
            Some(p) => format!("{p}/{key}"),
            None => key.to_string(),
        }
    }

    /// The key relative to the prefix, or `None` when `name` lies outside it.
    pub fn relative_key<'a>(&self, name: &'a str) -> Option<&'a str> {
        match &self.prefix {
            Some(p) => name.strip_prefix(p.as_str())?.strip_prefix('/'),
            None => Some(name),
        }
    }
}

fn string_field(field: &str, v: &Value) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(Error::config(
            field,
            format!("must be a string, got {}", type_name(other)),
        )),
    }
}

fn optional_string(obj: &Map<String, Value>, field: &str) -> Result<Option<String>> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => string_field(field, v).map(Some),
    }
}

fn int_in_range(obj: &Map<String, Value>, field: &str, min: i64, max: i64) -> Result<Option<i64>> {
    let Some(v) = obj.get(field) else {
        return Ok(None);
    };
    if v.is_null() {
        return Ok(None);
    }
    let rule = || format!("must be an integer from {min} to {max}");
    let n = match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i
            } else if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15) {
                f as i64
            } else {
                return Err(Error::config(field, format!("{}, got {n}", rule())));
            }
        }
        other => {
            return Err(Error::config(
                field,
                format!("{}, got {}", rule(), type_name(other)),
            ))
        }
    };
    if n < min || n > max {
        return Err(Error::config(field, format!("{}, got {n}", rule())));
    }
    Ok(Some(n))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// GCS bucket naming, as the TypeScript schema checks it.
pub fn validate_bucket(name: &str) -> Result<()> {
    const CHARSET: &str = "must be 3-63 characters, lowercase, and contain only letters, numbers, hyphens, underscores, and dots (starting and ending with a letter or number)";
    let len_ok = (3..=63).contains(&name.len());
    let bytes = name.as_bytes();
    let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let inner = |b: u8| edge(b) || matches!(b, b'.' | b'_' | b'-');
    let chars_ok =
        len_ok && edge(bytes[0]) && edge(bytes[bytes.len() - 1]) && bytes.iter().all(|&b| inner(b));
    if !chars_ok {
        return Err(Error::config("bucket", format!("{CHARSET}; got {name:?}")));
    }
    if name.starts_with("goog") {
        return Err(Error::config("bucket", "cannot start with 'goog'"));
    }
    if name.contains("google") {
        return Err(Error::config("bucket", "cannot contain 'google'"));
    }
    Ok(())
}

/// Accept `http(s)://host[:port][/path]`; strip trailing slashes.
fn validate_endpoint(field: &str, url: &str) -> Result<String> {
    let rule = "must be a URL like http://127.0.0.1:4443 or https://storage.googleapis.com";
    let trimmed = url.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"))
        .ok_or_else(|| Error::config(field, format!("{rule}; got {url:?}")))?;
    let authority = rest.split('/').next().unwrap_or("");
    let host_ok = !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'));
    let port_ok = match authority.rsplit_once(':') {
        Some((_, port)) if !authority.ends_with(']') => port.parse::<u16>().is_ok(),
        _ => true,
    };
    if !host_ok || !port_ok || trimmed.contains(char::is_whitespace) {
        return Err(Error::config(field, format!("{rule}; got {url:?}")));
    }
    Ok(trimmed.to_string())
}

/// `SWAMP_GCS_REQUEST_TIMEOUT_MS` wins when it is a finite number in 1000..=600000
/// (fractions accepted, as in the TypeScript client); anything else is ignored.
fn env_timeout_override(raw: Option<&str>) -> Option<u32> {
    let v: f64 = raw?.trim().parse().ok()?;
    if v.is_finite() && (1000.0..=600_000.0).contains(&v) {
        Some(v as u32)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn parse(json: &str) -> Result<Config> {
        Config::parse(json, &ConfigEnv::default())
    }

    fn field_of(e: Error) -> String {
        match e.kind() {
            ErrorKind::InvalidConfig { field, .. } => field.clone(),
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    #[test]
    fn defaults_apply() {
        let c = parse(r#"{"bucket":"my-test-bucket","unknownKey":1}"#).unwrap();
        assert_eq!(c.pull_concurrency, 50);
        assert_eq!(c.push_concurrency, 25);
        assert_eq!(c.request_timeout_ms, 30_000);
        assert_eq!(c.api_endpoint, DEFAULT_ENDPOINT);
        assert!(!c.emulator);
        assert_eq!(c.prefix, None);
    }

    #[test]
    fn upstream_valid_configs_are_accepted() {
        for json in [
            r#"{"bucket":"my-test-bucket","projectId":"p"}"#,
            r#"{"bucket":"my-test-bucket"}"#,
            r#"{"bucket":"my-test-bucket","prefix":"swamp-data","projectId":"p","apiEndpoint":"http://localhost:4443"}"#,
            r#"{"bucket":"my_underscore_bucket"}"#,
            r#"{"bucket":"my.dotted.bucket"}"#,
        ] {
            parse(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        }
    }

    #[test]
    fn invalid_configs_name_their_field() {
        let cases = [
            (r#"{}"#, "bucket"),
            (r#"{"projectId":"p"}"#, "bucket"),
            (r#"{"bucket":"ab"}"#, "bucket"),
            (r#"{"bucket":"MyBucket"}"#, "bucket"),
            (r#"{"bucket":"goog-reserved-prefix"}"#, "bucket"),
            (r#"{"bucket":"contains-google-name"}"#, "bucket"),
            (r#"{"bucket":"-leading"}"#, "bucket"),
            (r#"{"bucket":"trailing-"}"#, "bucket"),
            (r#"{"bucket":"has space"}"#, "bucket"),
            (r#"{"bucket":7}"#, "bucket"),
            (
                r#"{"bucket":"b-ok","apiEndpoint":"not-a-url"}"#,
                "apiEndpoint",
            ),
            (
                r#"{"bucket":"b-ok","apiEndpoint":"http://"}"#,
                "apiEndpoint",
            ),
            (
                r#"{"bucket":"b-ok","apiEndpoint":"http://h:99999"}"#,
                "apiEndpoint",
            ),
            (
                r#"{"bucket":"b-ok","pullConcurrency":0}"#,
                "pullConcurrency",
            ),
            (
                r#"{"bucket":"b-ok","pullConcurrency":1001}"#,
                "pullConcurrency",
            ),
            (
                r#"{"bucket":"b-ok","pullConcurrency":2.5}"#,
                "pullConcurrency",
            ),
            (
                r#"{"bucket":"b-ok","pushConcurrency":"10"}"#,
                "pushConcurrency",
            ),
            (
                r#"{"bucket":"b-ok","requestTimeoutMs":999}"#,
                "requestTimeoutMs",
            ),
            (
                r#"{"bucket":"b-ok","requestTimeoutMs":600001}"#,
                "requestTimeoutMs",
            ),
            (r#"{"bucket":"b-ok","prefix":5}"#, "prefix"),
            (r#"{"bucket":"b-ok","credentials":"maybe"}"#, "credentials"),
            (
                r#"{"bucket":"b-ok","resumableChunkBytes":300000}"#,
                "resumableChunkBytes",
            ),
            (r#"[1,2]"#, "(config)"),
            (r#"{"bucket":"#, "(config)"),
        ];
        for (json, field) in cases {
            let err = parse(json).expect_err(json);
            assert!(err.message().contains(field), "{json}: {}", err.message());
            assert_eq!(field_of(err), field, "{json}");
        }
    }

    #[test]
    fn endpoint_sets_emulator_mode_and_loses_trailing_slashes() {
        let c = parse(r#"{"bucket":"bkt","apiEndpoint":"http://127.0.0.1:4443//"}"#).unwrap();
        assert_eq!(c.api_endpoint, "http://127.0.0.1:4443");
        assert!(c.emulator);
    }

    #[test]
    fn credentials_mode_overrides_the_endpoint_rule() {
        let c = parse(r#"{"bucket":"bkt","apiEndpoint":"http://127.0.0.1:1","credentials":"adc"}"#)
            .unwrap();
        assert!(!c.emulator);
        let c = parse(r#"{"bucket":"bkt","credentials":"none"}"#).unwrap();
        assert!(c.emulator);
    }

    #[test]
    fn storage_emulator_host_is_honoured_with_or_without_scheme() {
        for (raw, want) in [
            ("127.0.0.1:9000", "http://127.0.0.1:9000"),
            ("http://localhost:4443/", "http://localhost:4443"),
        ] {
            let env = ConfigEnv {
                storage_emulator_host: Some(raw.into()),
                ..Default::default()
            };
            let c = Config::parse(r#"{"bucket":"bkt"}"#, &env).unwrap();
            assert_eq!(c.api_endpoint, want);
            assert!(c.emulator);
        }
    }

    #[test]
    fn timeout_env_override_rules() {
        let cases = [
            (Some("5000"), 5000),
            (Some("1500.7"), 1500),
            (Some("999"), 20_000),
            (Some("600001"), 20_000),
            (Some("abc"), 20_000),
            (Some("NaN"), 20_000),
            (None, 20_000),
        ];
        for (raw, want) in cases {
            let env = ConfigEnv {
                request_timeout_ms: raw.map(String::from),
                ..Default::default()
            };
            let c = Config::parse(r#"{"bucket":"bkt","requestTimeoutMs":20000}"#, &env).unwrap();
            assert_eq!(c.request_timeout_ms, want, "{raw:?}");
        }
    }

    #[test]
    fn prefix_keys() {
        let c = parse(r#"{"bucket":"bkt","prefix":"swamp"}"#).unwrap();
        assert_eq!(c.full_key("a/b"), "swamp/a/b");
        assert_eq!(c.relative_key("swamp/a/b"), Some("a/b"));
        assert_eq!(c.relative_key("other/a"), None);
        let c = parse(r#"{"bucket":"bkt","prefix":""}"#).unwrap();
        assert_eq!(c.full_key("a"), "a");
    }
}
