//! The one place an error's kind becomes the remedy shown under it (`hint: …`).
//!
//! Hints follow the WIT error case and its typed fields (transport kind, HTTP status),
//! never words in the message: a body that broke off after the server answered must not
//! be blamed on the network, and a rephrased message must not lose its hint.

use crate::bindings::swamp::datastore::types::{self as wit, Missing, TransportKind};
use crate::datastore::GuestError;

/// What a hint may name: the endpoint and bucket the failing command talked to.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The JSON-API endpoint in use.
    pub endpoint: &'a str,
    /// The bucket.
    pub bucket: &'a str,
}

impl Default for Target<'_> {
    fn default() -> Self {
        Target {
            endpoint: "the endpoint",
            bucket: "the bucket",
        }
    }
}

/// The remedy for a guest error, if there is one worth saying.
pub fn hint(e: &GuestError, t: Target<'_>) -> Option<String> {
    let Target { endpoint, bucket } = t;
    Some(match e {
        wit::Error::Unauthenticated(c) | wit::Error::PermissionDenied(c) => c.hint.clone(),
        // Object 404s are answers the engine handles; one that reaches the user is the
        // bucket, an object a command was asked to fetch, or a cache file it was given.
        wit::Error::NotFound(n) => match &n.missing {
            Missing::Bucket => format!(
                "the bucket {bucket:?} does not exist: check `bucket` in the config, or create the bucket"
            ),
            Missing::Object(key) => format!(
                "the bucket {bucket:?} holds no object {key:?}: check the key and `prefix` in the config"
            ),
            Missing::CacheFile(path) => {
                format!("the cache holds no file {path:?}: check the path, relative to the cache directory")
            }
        },
        wit::Error::PreconditionFailed(_) => {
            "another client changed the object first; run the command again".into()
        }
        wit::Error::RateLimited(_) => {
            "GCS allows about one write per second per object; retry shortly".into()
        }
        wit::Error::Timeout(_) => {
            format!("{endpoint} did not answer in time: raise requestTimeoutMs, or check the network and apiEndpoint")
        }
        wit::Error::Integrity(_) => {
            "the bytes were damaged on the way and nothing was written; run the command again".into()
        }
        wit::Error::Remote(r) if r.status == 408 || r.status >= 500 => format!(
            "GCS answered with a server error (HTTP {}) after every retry; nothing unconfirmed was recorded: run the command again shortly",
            r.status
        ),
        wit::Error::Io(_) => {
            "check that the cache directory is writable and the disk has room".into()
        }
        wit::Error::LockTimeout(l) => format!(
            "`swamp-gcs lock inspect --key {}` shows the holder; a dead holder's lock can be broken with `swamp-gcs lock force-release NONCE --key {}`",
            l.lock_key, l.lock_key
        ),
        wit::Error::Transport(f) => match f.kind {
            TransportKind::Unreachable => format!(
                "nothing answered at {endpoint}: check the network, or `apiEndpoint` in the config"
            ),
            TransportKind::Tls => format!(
                "the TLS handshake with {endpoint} failed: check `apiEndpoint` (https or http), the system clock, and any proxy in between"
            ),
            TransportKind::ConnectionLost => format!(
                "the connection to {endpoint} broke before an answer arrived; what was confirmed is kept: run the command again"
            ),
            TransportKind::BodyCutShort => format!(
                "{endpoint} answered{} but the reply broke off; nothing unconfirmed was recorded: run the command again",
                f.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
            ),
            TransportKind::Denied => format!(
                "the sandbox allows only {endpoint} and Google's auth endpoints; check `apiEndpoint`"
            ),
        },
        wit::Error::UnsupportedLayout(_) => {
            "this client syncs only the monolithic (v1) index layout; use the TypeScript extension for this bucket until shard-first support lands".into()
        }
        wit::Error::MalformedRemote(m) => format!(
            "{:?} in the bucket is not in its format (written by another tool, or damaged) and nothing was written: inspect that object; a missing index is rebuilt from a listing by the next pull or push",
            m.key
        ),
        wit::Error::NamespaceMismatch(_) => {
            "one sync service serves one namespace: use a separate datastore (or process) for each namespace".into()
        }
        wit::Error::NamespaceTaken(n) => format!(
            "choose another namespace, or, if repository {} no longer uses {:?}, delete {}/.namespace.json from the bucket and register again",
            n.owner_repo_id, n.namespace, n.namespace
        ),
        wit::Error::Remote(_)
        | wit::Error::InvalidConfig(_)
        | wit::Error::UnsafePath(_)
        | wit::Error::Other(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wit::{ConfigFailure, CredentialFailure, RemoteFailure, TransportFailure};

    fn transport(kind: TransportKind, status: Option<u16>) -> GuestError {
        wit::Error::Transport(TransportFailure {
            kind,
            status,
            message: "GCS download a.json: connection refused".into(),
        })
    }

    fn remote(status: u16) -> GuestError {
        wit::Error::Remote(RemoteFailure {
            status,
            reason: None,
            message: "nothing answered at the endpoint, check the network".into(),
            body_preview: None,
            upload_id: None,
        })
    }

    /// Every kind, with the words its hint must hold and those it must not. The
    /// messages deliberately say misleading things: only the kind may decide.
    #[test]
    fn every_kind_has_its_hint() {
        let m = || "connection refused: check the network".to_string();
        let cred = || CredentialFailure {
            message: m(),
            hint: "run gcloud auth application-default login".into(),
        };
        let missing = |missing| {
            wit::Error::NotFound(wit::NotFoundFailure {
                missing,
                message: m(),
            })
        };
        let table: Vec<(GuestError, Option<&str>, &[&str])> = vec![
            (
                missing(Missing::Bucket),
                Some("the bucket \"b-1\" does not exist"),
                &["network"],
            ),
            (
                missing(Missing::Object("a/b.json".into())),
                Some("holds no object \"a/b.json\""),
                &["network", "does not exist"],
            ),
            (
                missing(Missing::CacheFile("up/x".into())),
                Some("the cache holds no file \"up/x\""),
                &["network", "bucket"],
            ),
            (
                wit::Error::UnsupportedLayout(m()),
                Some("monolithic (v1)"),
                &["network"],
            ),
            (
                wit::Error::MalformedRemote(wit::MalformedFailure {
                    key: ".datastore-index.json".into(),
                    message: m(),
                }),
                Some("\".datastore-index.json\" in the bucket is not in its format"),
                &["network"],
            ),
            (
                wit::Error::NamespaceMismatch(wit::NamespaceFailure {
                    bound: Some("a".into()),
                    requested: None,
                    message: m(),
                }),
                Some("one namespace"),
                &["network"],
            ),
            (
                wit::Error::NamespaceTaken(wit::NamespaceTakenFailure {
                    namespace: "infra".into(),
                    owner_repo_id: "repo-a".into(),
                    message: m(),
                }),
                Some("choose another namespace, or, if repository repo-a no longer uses \"infra\", delete infra/.namespace.json"),
                &["network"],
            ),
            (
                wit::Error::PreconditionFailed(m()),
                Some("another client"),
                &["network"],
            ),
            (
                wit::Error::Unauthenticated(cred()),
                Some("gcloud auth"),
                &["network"],
            ),
            (
                wit::Error::PermissionDenied(cred()),
                Some("gcloud auth"),
                &["network"],
            ),
            (
                wit::Error::RateLimited(m()),
                Some("one write per second"),
                &["network"],
            ),
            (
                wit::Error::Timeout(m()),
                Some("requestTimeoutMs"),
                &["nothing answered"],
            ),
            (
                wit::Error::InvalidConfig(ConfigFailure {
                    field: "bucket".into(),
                    rule: m(),
                    message: m(),
                }),
                None,
                &[],
            ),
            (
                wit::Error::Integrity(m()),
                Some("damaged on the way"),
                &["network"],
            ),
            (wit::Error::UnsafePath(m()), None, &[]),
            (
                remote(503),
                Some("server error (HTTP 503)"),
                &["network", "nothing answered"],
            ),
            (
                remote(408),
                Some("server error (HTTP 408)"),
                &["nothing answered"],
            ),
            (remote(400), None, &[]),
            (wit::Error::Io(m()), Some("cache directory"), &["network"]),
            (
                wit::Error::LockTimeout(wit::LockTimeoutFailure {
                    lock_key: ".datastore.lock".into(),
                    holder: Some("bob@h".into()),
                    waited_ms: 60_000,
                    message: m(),
                }),
                Some("lock inspect --key .datastore.lock"),
                &["network"],
            ),
            (wit::Error::Other(m()), None, &[]),
            (
                transport(TransportKind::Unreachable, None),
                Some("nothing answered at http://e:1"),
                &[],
            ),
            (
                transport(TransportKind::Tls, None),
                Some("TLS handshake with http://e:1"),
                &["nothing answered"],
            ),
            (
                transport(TransportKind::ConnectionLost, None),
                Some("connection to http://e:1 broke"),
                &["nothing answered"],
            ),
            (
                transport(TransportKind::BodyCutShort, Some(200)),
                Some("http://e:1 answered (HTTP 200) but the reply broke off"),
                &["nothing answered", "check the network"],
            ),
            (
                transport(TransportKind::Denied, None),
                Some("sandbox allows only http://e:1"),
                &["nothing answered"],
            ),
        ];
        let target = Target {
            endpoint: "http://e:1",
            bucket: "b-1",
        };
        for (e, want, never) in table {
            let got = hint(&e, target);
            match (want, &got) {
                (None, None) => {}
                (Some(w), Some(h)) => {
                    assert!(h.contains(w), "{e:?}: {h:?} lacks {w:?}");
                    for n in never {
                        assert!(!h.contains(n), "{e:?}: {h:?} says {n:?}");
                    }
                    assert!(!h.contains('\n'), "{e:?}: one line");
                }
                _ => panic!("{e:?}: wanted {want:?}, got {got:?}"),
            }
        }
    }
}
