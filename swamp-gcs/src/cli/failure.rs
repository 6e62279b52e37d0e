//! Failures and how they are shown: one `error:` line, an optional `hint:` line, an exit
//! code (1 operational, 2 usage or configuration, 130 interrupted), never a backtrace.

use gcs_host::datastore::{CallError, GuestError};
use gcs_host::hints::{self, Target};
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
    /// The component's error behind this failure, whose kind picks the hint (boxed:
    /// failures travel through every `Result` of the command line).
    pub cause: Option<Box<GuestError>>,
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
            cause: None,
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
        match e {
            CallError::Guest(g) => {
                let mut f = Failure::new(code, kind, gcs_host::datastore::message_of(&g));
                f.cause = Some(Box::new(g));
                f
            }
            CallError::Host(err) => Failure::new(
                code,
                kind,
                format!("the component failed: {}", chain_line(err.chain())),
            )
            .hint("this is a bug in the component or the host; please report it"),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::new(OPERATIONAL, "host", chain_line(e.chain()))
    }
}

/// An error and its causes on one line, from their messages only: a backtrace (which
/// `Debug` adds under `RUST_BACKTRACE`, and a trap's display carries as extra lines) is
/// never part of what the user sees.
pub fn chain_line<'a>(
    causes: impl Iterator<Item = &'a (dyn std::error::Error + 'static)>,
) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in causes {
        let line = one_line(&cause.to_string());
        if !line.is_empty() && !parts.iter().any(|p| p.contains(&line)) {
            parts.push(line);
        }
    }
    parts.join(": ")
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

/// Add the hint of the component's error kind (`hints.rs`), naming the endpoint and
/// bucket in use, unless the command already chose one.
fn enrich(mut f: Failure) -> Failure {
    if f.hint.is_some() {
        return f;
    }
    let target = TARGET
        .get()
        .map(|(endpoint, bucket)| Target { endpoint, bucket })
        .unwrap_or_default();
    f.hint = f
        .cause
        .as_ref()
        .and_then(|g| hints::hint(g, target))
        .map(|h| one_line(&h));
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
    fn hints_come_from_the_kind_not_the_words() {
        use gcs_host::bindings::swamp::datastore::types as wit;
        // A message full of network words on an answer that did arrive.
        let cut = CallError::Guest(wit::Error::Transport(wit::TransportFailure {
            kind: wit::TransportKind::BodyCutShort,
            status: Some(200),
            message: "GCS download a: transport failure, connection refused, dns".into(),
        }));
        let hint = enrich(Failure::from(cut)).hint.unwrap();
        assert!(hint.contains("broke off"), "{hint}");
        assert!(!hint.contains("nothing answered"), "{hint}");
        // No kind, no hint, whatever the words.
        let f = enrich(Failure::operational("other", "connection refused"));
        assert_eq!(f.hint, None);
        let f = enrich(Failure::operational("other", "x").hint("keep"));
        assert_eq!(f.hint.as_deref(), Some("keep"));
    }

    #[test]
    fn host_errors_are_rendered_from_their_message_chain() {
        let e = wasmtime::Error::msg("inner\nstack backtrace:\n  0: frame")
            .context("reading the body")
            .context("call failed");
        assert_eq!(
            chain_line(e.chain()),
            "call failed: reading the body: inner"
        );
        let f = Failure::from(CallError::Host(e));
        assert_eq!(
            f.message,
            "the component failed: call failed: reading the body: inner"
        );
    }
}
