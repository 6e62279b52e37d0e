//! The health check: one bucket GET with the configured credentials and deadline.

use crate::error::{Error, ErrorKind, TransportKind};
use crate::gcs::{Authorizer, GcsClient};
use crate::transport::{Clock, Transport};

/// The datastore type swamp knows this datastore by.
pub const DATASTORE_TYPE: &str = "@swamp/gcs-datastore";

/// The result of a health check.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// Reachable with these credentials.
    pub healthy: bool,
    /// One line, with a remedy when unhealthy.
    pub message: String,
    /// Wall time of the check.
    pub latency_ms: f64,
    /// Extra facts.
    pub details: Vec<(String, String)>,
}

/// Run the check. Never fails: every failure becomes an unhealthy result whose message says what to
/// do. Unlike the TypeScript verifier (`docs/hazards.md#verifier-ignores-the-request-timeout`) it
/// honours the configured request timeout, because it goes through the same client.
pub async fn verify<P: Transport + Clock, A: Authorizer>(client: &GcsClient<P, A>) -> Health {
    let bucket = client.cfg.bucket.clone();
    let start = client.platform().now_ms();
    let result = client.bucket_get().await;
    let latency_ms = client.platform().now_ms().saturating_sub(start) as f64;
    let mut details = vec![
        ("bucket".to_string(), bucket.clone()),
        ("endpoint".to_string(), client.cfg.api_endpoint.clone()),
    ];
    if let Some(p) = &client.cfg.prefix {
        details.push(("prefix".to_string(), p.clone()));
    }
    match result {
        Ok(()) => Health {
            healthy: true,
            message: format!("GCS bucket '{bucket}' is accessible"),
            latency_ms,
            details,
        },
        Err(e) => Health {
            healthy: false,
            message: format!(
                "Cannot access GCS bucket '{bucket}': {}.{}",
                e.message(),
                hint(&bucket, &e)
            ),
            latency_ms,
            details,
        },
    }
}

/// The remedy for a failed check (`docs/swamp-contract.md#verifier`), chosen by error kind
/// rather than by text.
fn hint(bucket: &str, e: &Error) -> String {
    match &e.kind() {
        ErrorKind::PermissionDenied { .. } => {
            " Check your GCP credentials and bucket IAM permissions (storage.buckets.get required).".into()
        }
        ErrorKind::NotFound(_) => format!(" The bucket '{bucket}' does not exist."),
        ErrorKind::Unauthenticated { hint } => format!(
            " Configure GCP credentials: set GOOGLE_APPLICATION_CREDENTIALS, run 'gcloud auth application-default login', or attach a service account. ({hint})"
        ),
        ErrorKind::Timeout => " The endpoint did not answer in time: check the network, the apiEndpoint, or raise requestTimeoutMs.".into(),
        ErrorKind::Transport { kind: TransportKind::Unreachable | TransportKind::Denied, .. } => {
            " The endpoint could not be reached: check apiEndpoint (or STORAGE_EMULATOR_HOST) and the network.".into()
        }
        ErrorKind::Transport { kind: TransportKind::Tls, .. } => {
            " The TLS handshake failed: check apiEndpoint and any proxy between here and GCS.".into()
        }
        ErrorKind::Transport { kind: TransportKind::ConnectionLost | TransportKind::BodyCutShort, .. } => {
            " The connection broke before a complete answer: retry, and check the network and any proxy in between.".into()
        }
        _ => String::new(),
    }
}
