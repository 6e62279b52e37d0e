//! Failures and how they are shown: one `error:` line, an optional `hint:` line, an exit
//! code (1 operational, 2 usage or configuration, 130 interrupted), never a backtrace.

use crate::datastore::CallError;
use serde_json::json;
use std::process::ExitCode;
use std::sync::OnceLock;

/// Exit code of an operational failure.
pub const OPERATIONAL: u8 = 1;
/// Exit code of a usage or configuration error.
pub const USAGE: u8 = 2;
/// Exit code after Ctrl-C or SIGTERM.
pub const INTERRUPTED: u8 = 130;

/// A failed command.
#[derive(Debug)]
pub struct Failure {
    /// Exit code.
    pub code: u8,
    /// Short machine-readable kind (`usage`, `config`, `not-found`, `lock-lost`, ...).
    pub kind: String,
    /// One line.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// The outcome was already printed (e.g. an unhealthy `verify`); only exit.
    pub printed: bool,
}

impl Failure {
    /// A failure of `kind` with exit code `code`.
    pub fn new(code: u8, kind: &str, message: impl Into<String>) -> Self {
        Failure {
            code,
            kind: kind.to_string(),
            message: one_line(&message.into()),
            hint: None,
            printed: false,
        }
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::new(USAGE, "usage", message)
    }

    /// A configuration error (exit 2).
    pub fn config(message: impl Into<String>) -> Self {
        Failure::new(USAGE, "config", message)
    }

    /// An operational failure (exit 1).
    pub fn operational(kind: &str, message: impl Into<String>) -> Self {
        Failure::new(OPERATIONAL, kind, message)
    }

    /// Interrupted by a signal (exit 130).
    pub fn interrupted(what: &str) -> Self {
        Failure::new(INTERRUPTED, "interrupted", format!("interrupted: {what}"))
    }

    /// Add a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(one_line(&hint.into()));
        self
    }

    /// Mark as already printed.
    pub fn printed(mut self) -> Self {
        self.printed = true;
        self
    }
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        let (code, kind) = match e.kind() {
            "invalid-config" => (USAGE, "config"),
            k => (OPERATIONAL, k),
        };
        let message = match &e {
            // A trap's display carries a wasm backtrace: keep its first line only.
            CallError::Host(err) => format!("the component failed: {err}"),
            CallError::Guest(_) => e.to_string(),
        };
        let mut f = Failure::new(code, kind, message);
        f.hint = e.hint().map(|h| one_line(&h));
        if f.hint.is_none() && matches!(e, CallError::Host(_)) {
            f.hint = Some("this is a bug in the component or the host; please report it".into());
        }
        f
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::new(OPERATIONAL, "host", format!("{e:#}"))
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::new(OPERATIONAL, "io", e.to_string())
    }
}

/// The endpoint and bucket the failing command talked to, for hints.
static TARGET: OnceLock<(String, String)> = OnceLock::new();

/// Remember the endpoint and bucket in use (first call wins).
pub fn set_target(endpoint: &str, bucket: &str) {
    let _ = TARGET.set((endpoint.to_string(), bucket.to_string()));
}

/// Add the hints the component cannot know: unreachable endpoints, the sandbox.
fn enrich(mut f: Failure) -> Failure {
    if f.hint.is_some() {
        return f;
    }
    let m = f.message.to_ascii_lowercase();
    let (endpoint, bucket) = TARGET
        .get()
        .map(|(e, b)| (e.as_str(), b.as_str()))
        .unwrap_or(("the endpoint", "the bucket"));
    if m.contains("list failed: http 404") || m.contains("bucketget") && m.contains("404") {
        // Listing objects 404s only when the bucket itself is missing.
        f.hint = Some(format!(
            "the bucket {bucket:?} does not exist: check `bucket` in the config, or create it"
        ));
    } else if m.contains("denied by the host") {
        f.hint = Some(format!(
            "the sandbox allows only {endpoint} and Google's auth endpoints; check apiEndpoint"
        ));
    } else if [
        "connection refused",
        "connect",
        "dns",
        "unreachable",
        "transport",
    ]
    .iter()
    .any(|w| m.contains(w))
    {
        f.hint = Some(format!(
            "nothing answered at {endpoint}: check the network, or `apiEndpoint` in the config"
        ));
    }
    f
}

/// Print a failure (unless already printed) and return its exit code.
pub fn report(json: bool, f: Failure) -> ExitCode {
    if f.printed {
        return ExitCode::from(f.code);
    }
    let f = enrich(f);
    if json {
        println!(
            "{}",
            json!({
                "ok": false,
                "error": f.message,
                "errorKind": f.kind,
                "hint": f.hint,
                "exitCode": f.code,
            })
        );
    } else {
        eprintln!("error: {}", f.message);
        if let Some(h) = &f.hint {
            eprintln!("hint: {h}");
        }
    }
    ExitCode::from(f.code)
}

/// The first non-empty line of `s`, trimmed.
pub fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line() {
        let f = Failure::operational("host", "first\nwasm backtrace:\n  0: x");
        assert_eq!(f.message, "first");
        assert_eq!(one_line("\n  \n a \n b"), "a");
    }

    #[test]
    fn transport_failures_get_a_hint() {
        let f = enrich(Failure::operational(
            "other",
            "GET bucket: connection refused",
        ));
        assert!(f.hint.unwrap().contains("nothing answered"));
        let f = enrich(Failure::operational(
            "remote",
            "push: discover files (no .datastore-index.json): GCS list failed: HTTP 404 Not Found",
        ));
        assert!(f.hint.unwrap().contains("does not exist"));
        let f = enrich(Failure::operational("other", "x").hint("keep"));
        assert_eq!(f.hint.as_deref(), Some("keep"));
    }
}
