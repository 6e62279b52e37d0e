//! What the guest sent: requests classified by GCS operation, counted, and logged.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The kind of a GCS request, from its method and URL alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    /// Bucket GET.
    Bucket,
    /// Object listing.
    List,
    /// Object metadata GET.
    Metadata,
    /// Media download.
    Download,
    /// Any upload request (simple, multipart, resumable start or chunk).
    Upload,
    /// Object DELETE.
    Delete,
    /// Server-side copy (`rewriteTo`/`copyTo`).
    Copy,
    /// Metadata PATCH.
    Patch,
    /// OAuth token or metadata-server requests.
    Auth,
    /// Anything else.
    Other,
}

impl RequestKind {
    /// Every kind, in report order.
    pub const ALL: [RequestKind; 10] = [
        RequestKind::Bucket,
        RequestKind::List,
        RequestKind::Metadata,
        RequestKind::Download,
        RequestKind::Upload,
        RequestKind::Delete,
        RequestKind::Copy,
        RequestKind::Patch,
        RequestKind::Auth,
        RequestKind::Other,
    ];

    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            RequestKind::Bucket => "bucket",
            RequestKind::List => "list",
            RequestKind::Metadata => "metadata",
            RequestKind::Download => "download",
            RequestKind::Upload => "upload",
            RequestKind::Delete => "delete",
            RequestKind::Copy => "copy",
            RequestKind::Patch => "patch",
            RequestKind::Auth => "auth",
            RequestKind::Other => "other",
        }
    }

    /// Classify a request by method and path (+query).
    pub fn classify(method: &str, path: &str, query: &str) -> RequestKind {
        let has = |k: &str| {
            query
                .split('&')
                .any(|p| p == k || p.starts_with(&format!("{k}=")))
        };
        if path.starts_with("/upload/") {
            return RequestKind::Upload;
        }
        if path == "/token" || path.starts_with("/computeMetadata/") || path.contains("/oauth2/") {
            return RequestKind::Auth;
        }
        let Some(rest) = path.strip_prefix("/storage/v1/b/") else {
            return RequestKind::Other;
        };
        let mut parts = rest.splitn(3, '/');
        let _bucket = parts.next();
        match (parts.next(), parts.next()) {
            (None, _) => RequestKind::Bucket,
            (Some("o"), None) | (Some("o"), Some("")) => RequestKind::List,
            (Some("o"), Some(obj)) => {
                if obj.contains("/rewriteTo/") || obj.contains("/copyTo/") {
                    RequestKind::Copy
                } else {
                    match method {
                        "GET" if has("alt") && query.contains("alt=media") => RequestKind::Download,
                        "GET" => RequestKind::Metadata,
                        "DELETE" => RequestKind::Delete,
                        "PATCH" | "PUT" => RequestKind::Patch,
                        _ => RequestKind::Other,
                    }
                }
            }
            _ => RequestKind::Other,
        }
    }
}

/// One logged request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoggedRequest {
    /// Method.
    pub method: String,
    /// Kind.
    pub kind: RequestKind,
    /// Decoded object name or path.
    pub object: String,
    /// Status, or 0 when no response reached the guest.
    pub status: u16,
    /// Whether the request carried an `Authorization` header (its value is never kept).
    pub authorized: bool,
}

/// Counters shared by every store of a host.
#[derive(Debug, Default)]
pub struct Traffic {
    counts: Mutex<BTreeMap<RequestKind, u64>>,
    log: Mutex<Vec<LoggedRequest>>,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    connections_denied: AtomicU64,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TrafficSnapshot {
    /// Requests by kind.
    pub by_kind: BTreeMap<RequestKind, u64>,
    /// Total requests.
    pub total: u64,
    /// Request body bytes.
    pub bytes_sent: u64,
    /// Response body bytes.
    pub bytes_received: u64,
    /// Requests refused by the allow-list.
    pub denied: u64,
}

impl TrafficSnapshot {
    /// Requests of one kind.
    pub fn count(&self, kind: RequestKind) -> u64 {
        self.by_kind.get(&kind).copied().unwrap_or(0)
    }

    /// "3 download, 1 metadata" style summary.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = RequestKind::ALL
            .iter()
            .filter_map(|k| self.by_kind.get(k).map(|n| format!("{n} {}", k.name())))
            .collect();
        if parts.is_empty() {
            "no requests".into()
        } else {
            parts.join(", ")
        }
    }
}

impl Traffic {
    /// Count a request the guest is about to send; returns its log index. `authorized`
    /// says whether it carried an `Authorization` header.
    pub fn record(
        &self,
        method: &str,
        kind: RequestKind,
        object: String,
        authorized: bool,
    ) -> usize {
        *self.counts.lock().unwrap().entry(kind).or_default() += 1;
        let mut log = self.log.lock().unwrap();
        log.push(LoggedRequest {
            method: method.to_string(),
            kind,
            object,
            status: 0,
            authorized,
        });
        log.len() - 1
    }

    /// Set the status of a logged request.
    pub fn set_status(&self, index: usize, status: u16) {
        if let Some(entry) = self.log.lock().unwrap().get_mut(index) {
            entry.status = status;
        }
    }

    /// Count a request refused by the allow-list.
    pub fn denied(&self) {
        self.connections_denied.fetch_add(1, Ordering::Relaxed);
    }

    /// Add request body bytes.
    pub fn add_sent(&self, n: u64) {
        self.bytes_sent.fetch_add(n, Ordering::Relaxed);
    }

    /// Add response body bytes.
    pub fn add_received(&self, n: u64) {
        self.bytes_received.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> TrafficSnapshot {
        let by_kind = self.counts.lock().unwrap().clone();
        TrafficSnapshot {
            total: by_kind.values().sum(),
            by_kind,
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            bytes_received: self.bytes_received.load(Ordering::Relaxed),
            denied: self.connections_denied.load(Ordering::Relaxed),
        }
    }

    /// The request log.
    pub fn log(&self) -> Vec<LoggedRequest> {
        self.log.lock().unwrap().clone()
    }

    /// Zero everything.
    pub fn reset(&self) {
        self.counts.lock().unwrap().clear();
        self.log.lock().unwrap().clear();
        self.bytes_sent.store(0, Ordering::Relaxed);
        self.bytes_received.store(0, Ordering::Relaxed);
        self.connections_denied.store(0, Ordering::Relaxed);
    }
}

/// Decode `%XX` escapes (object names arrive as one encoded path segment).
pub fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The object a request concerns, for logs: the decoded object segment, or the `name`
/// query value of an upload, or the path.
pub fn object_of(path: &str, query: &str) -> String {
    if let Some(rest) = path.strip_prefix("/storage/v1/b/") {
        if let Some((_, obj)) = rest.split_once("/o/") {
            let obj = obj.split("/rewriteTo/").next().unwrap_or(obj);
            return percent_decode(obj);
        }
    }
    if let Some(name) = query.split('&').find_map(|p| p.strip_prefix("name=")) {
        return percent_decode(name);
    }
    path.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        let table = [
            ("GET", "/storage/v1/b/bkt", "", RequestKind::Bucket),
            ("GET", "/storage/v1/b/bkt/o", "prefix=a", RequestKind::List),
            (
                "GET",
                "/storage/v1/b/bkt/o/a%2Fb",
                "",
                RequestKind::Metadata,
            ),
            (
                "GET",
                "/storage/v1/b/bkt/o/a%2Fb",
                "alt=media",
                RequestKind::Download,
            ),
            (
                "POST",
                "/upload/storage/v1/b/bkt/o",
                "uploadType=multipart",
                RequestKind::Upload,
            ),
            (
                "PUT",
                "/upload/storage/v1/b/bkt/o",
                "upload_id=x",
                RequestKind::Upload,
            ),
            ("DELETE", "/storage/v1/b/bkt/o/a", "", RequestKind::Delete),
            (
                "POST",
                "/storage/v1/b/bkt/o/a/rewriteTo/b/bkt/o/c",
                "",
                RequestKind::Copy,
            ),
            ("POST", "/token", "", RequestKind::Auth),
            (
                "GET",
                "/computeMetadata/v1/instance/service-accounts/default/token",
                "",
                RequestKind::Auth,
            ),
            ("GET", "/elsewhere", "", RequestKind::Other),
        ];
        for (m, p, q, want) in table {
            assert_eq!(RequestKind::classify(m, p, q), want, "{m} {p}?{q}");
        }
    }

    #[test]
    fn objects_are_decoded_for_logs() {
        assert_eq!(
            object_of("/storage/v1/b/bkt/o/_index%2Fdata--a--b.json", "alt=media"),
            "_index/data--a--b.json"
        );
        assert_eq!(
            object_of("/upload/storage/v1/b/bkt/o", "uploadType=media&name=a%2Fb"),
            "a/b"
        );
    }
}
