//! A plain native GCS client on the host's pooled hyper client (`send::new_pool`, the
//! same pool type and settings the component's requests go through): the physical limit
//! of this machine for the same uploads and downloads, and the fast seeder of large
//! buckets. No component, no retries, no hashing beyond what the request needs.

use anyhow::{bail, Context as _, Result};
use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use gcs_host::send::{new_pool, Pool};
use http_body_util::{BodyExt, Full};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use wasmtime_wasi_http::WasiBody;

/// Everything but RFC 3986 unreserved characters is escaped in object names.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

fn body(b: impl Into<Bytes>) -> WasiBody {
    Full::new(b.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Requests the native client sent, by kind.
#[derive(Debug, Default)]
pub struct NativeCounts {
    /// Uploads.
    pub upload: AtomicU64,
    /// Media downloads.
    pub download: AtomicU64,
    /// Metadata GETs.
    pub metadata: AtomicU64,
    /// Request body bytes.
    pub sent: AtomicU64,
    /// Response body bytes.
    pub received: AtomicU64,
}

impl NativeCounts {
    /// Zero the counters.
    pub fn reset(&self) {
        for c in [
            &self.upload,
            &self.download,
            &self.metadata,
            &self.sent,
            &self.received,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// A bucket on one endpoint, reached through a pooled client.
#[derive(Clone)]
pub struct NativeGcs {
    pool: Pool,
    endpoint: String,
    /// The bucket.
    pub bucket: String,
    /// Request counters.
    pub counts: Arc<NativeCounts>,
}

/// What an upload returned.
#[derive(Debug, Clone)]
pub struct Uploaded {
    /// The new generation.
    pub generation: String,
    /// The object's `updated` time.
    pub updated: String,
}

impl NativeGcs {
    /// A client for `bucket` at `endpoint` with a fresh pool.
    pub fn new(endpoint: &str, bucket: &str) -> NativeGcs {
        NativeGcs {
            pool: new_pool(),
            endpoint: endpoint.trim_end_matches('/').to_string(),
            bucket: bucket.to_string(),
            counts: Arc::new(NativeCounts::default()),
        }
    }

    /// The same client (and pool) for another bucket, with its own counters.
    pub fn for_bucket(&self, bucket: &str) -> NativeGcs {
        NativeGcs {
            pool: self.pool.clone(),
            endpoint: self.endpoint.clone(),
            bucket: bucket.to_string(),
            counts: Arc::new(NativeCounts::default()),
        }
    }

    async fn send(&self, req: http::Request<WasiBody>) -> Result<(u16, Bytes)> {
        let resp = self.pool.request(req).await.context("native request")?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("reading a response body: {e}"))?
            .to_bytes();
        self.counts
            .received
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok((status, bytes))
    }

    /// Create the bucket (409 "exists" is fine).
    pub async fn create_bucket(&self) -> Result<()> {
        let req = http::Request::post(format!(
            "{}/storage/v1/b?project=swamp-bench",
            self.endpoint
        ))
        .header("content-type", "application/json")
        .body(body(format!(r#"{{"name":"{}"}}"#, self.bucket)))?;
        let (status, text) = self.send(req).await?;
        if status != 200 && status != 409 {
            bail!(
                "create bucket {}: HTTP {status} {}",
                self.bucket,
                String::from_utf8_lossy(&text)
            );
        }
        Ok(())
    }

    /// Multipart upload (resource + media in one request), as the component sends small
    /// files.
    pub async fn upload_multipart(&self, name: &str, data: Bytes) -> Result<Uploaded> {
        let boundary = "swamp-bench-boundary-7f3a9c";
        let resource = serde_json::json!({"name": name, "contentType": "application/octet-stream"});
        let mut b = Vec::with_capacity(data.len() + 256);
        b.extend_from_slice(
            format!("--{boundary}\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n{resource}\r\n--{boundary}\r\ncontent-type: application/octet-stream\r\n\r\n").as_bytes(),
        );
        b.extend_from_slice(&data);
        b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let req = http::Request::post(format!(
            "{}/upload/storage/v1/b/{}/o?uploadType=multipart",
            self.endpoint,
            enc(&self.bucket)
        ))
        .header(
            "content-type",
            format!("multipart/related; boundary={boundary}"),
        )
        .header("content-length", b.len().to_string())
        .body(body(b))?;
        self.finish_upload(name, req).await
    }

    /// Simple media upload (the seeder's: one request, smallest body).
    pub async fn upload_media(&self, name: &str, data: Bytes) -> Result<Uploaded> {
        let len = data.len();
        let req = http::Request::post(format!(
            "{}/upload/storage/v1/b/{}/o?uploadType=media&name={}",
            self.endpoint,
            enc(&self.bucket),
            enc(name)
        ))
        .header("content-type", "application/octet-stream")
        .header("content-length", len.to_string())
        .body(body(data))?;
        self.finish_upload(name, req).await
    }

    async fn finish_upload(&self, name: &str, req: http::Request<WasiBody>) -> Result<Uploaded> {
        let sent = req
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        self.counts.upload.fetch_add(1, Ordering::Relaxed);
        self.counts.sent.fetch_add(sent, Ordering::Relaxed);
        let (status, text) = self.send(req).await?;
        if status != 200 {
            bail!(
                "upload {name}: HTTP {status} {}",
                String::from_utf8_lossy(&text)
            );
        }
        let v: serde_json::Value =
            serde_json::from_slice(&text).with_context(|| format!("upload {name}: reply"))?;
        let field = |k: &str| {
            v.get(k)
                .map(|g| match g {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_default()
        };
        Ok(Uploaded {
            generation: field("generation"),
            updated: field("updated"),
        })
    }

    /// Download an object's bytes; `None` on 404.
    pub async fn download(&self, name: &str) -> Result<Option<Bytes>> {
        let req = http::Request::get(format!(
            "{}/storage/v1/b/{}/o/{}?alt=media",
            self.endpoint,
            enc(&self.bucket),
            enc(name)
        ))
        .header("accept-encoding", "identity")
        .body(body(Bytes::new()))?;
        self.counts.download.fetch_add(1, Ordering::Relaxed);
        let (status, bytes) = self.send(req).await?;
        match status {
            200 => Ok(Some(bytes)),
            404 => Ok(None),
            s => bail!("download {name}: HTTP {s}"),
        }
    }

    /// Object size from a metadata GET; `None` on 404.
    pub async fn size(&self, name: &str) -> Result<Option<u64>> {
        let req = http::Request::get(format!(
            "{}/storage/v1/b/{}/o/{}",
            self.endpoint,
            enc(&self.bucket),
            enc(name)
        ))
        .body(body(Bytes::new()))?;
        self.counts.metadata.fetch_add(1, Ordering::Relaxed);
        let (status, text) = self.send(req).await?;
        match status {
            200 => {
                let v: serde_json::Value = serde_json::from_slice(&text)?;
                let size = match v.get("size") {
                    Some(serde_json::Value::String(s)) => s.parse().unwrap_or(0),
                    Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(0),
                    _ => 0,
                };
                Ok(Some(size))
            }
            404 => Ok(None),
            s => bail!("metadata {name}: HTTP {s}"),
        }
    }

    /// `(name, size, generation)` of every object under `prefix`, following pages.
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, u64, String)>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut url = format!(
                "{}/storage/v1/b/{}/o?prefix={}&maxResults=1000",
                self.endpoint,
                enc(&self.bucket),
                enc(prefix)
            );
            if let Some(t) = &token {
                url.push_str(&format!("&pageToken={}", enc(t)));
            }
            let req = http::Request::get(url).body(body(Bytes::new()))?;
            let (status, text) = self.send(req).await?;
            if status != 200 {
                bail!("list {prefix}: HTTP {status}");
            }
            let v: serde_json::Value = serde_json::from_slice(&text)?;
            let text_of = |o: &serde_json::Value, k: &str| match o.get(k) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            for o in v
                .get("items")
                .and_then(|i| i.as_array())
                .into_iter()
                .flatten()
            {
                out.push((
                    text_of(o, "name"),
                    text_of(o, "size").parse().unwrap_or(0),
                    text_of(o, "generation"),
                ));
            }
            match v.get("nextPageToken").and_then(|t| t.as_str()) {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    /// Upload many `(name, bytes)` pairs with media uploads, `concurrency` in flight.
    pub async fn upload_many(&self, items: Vec<(String, Bytes)>, concurrency: usize) -> Result<()> {
        stream::iter(items)
            .map(|(name, data)| async move { self.upload_media(&name, data).await.map(|_| ()) })
            .buffer_unordered(concurrency.max(1))
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }
}

/// The native cold push: read each file under `root` and upload it as a multipart
/// upload named by its relative path, `concurrency` in flight (a sliding window, as the
/// component's). Returns the bytes uploaded.
pub async fn push_files(
    gcs: &NativeGcs,
    root: &Path,
    rels: &[String],
    concurrency: usize,
) -> Result<u64> {
    let sizes: Vec<u64> = stream::iter(rels)
        .map(|rel| async move {
            let data = tokio::fs::read(root.join(rel))
                .await
                .with_context(|| format!("read {rel}"))?;
            let n = data.len() as u64;
            gcs.upload_multipart(rel, Bytes::from(data)).await?;
            Ok::<u64, anyhow::Error>(n)
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    Ok(sizes.iter().sum())
}

/// The native cold pull: download each object and write it under `root` (creating
/// parents), `concurrency` in flight. Returns the bytes written.
pub async fn pull_files(
    gcs: &NativeGcs,
    root: &Path,
    rels: &[String],
    concurrency: usize,
) -> Result<u64> {
    let sizes: Vec<u64> = stream::iter(rels)
        .map(|rel| async move {
            let data = gcs
                .download(rel)
                .await?
                .with_context(|| format!("{rel} is missing"))?;
            let path: PathBuf = root.join(rel);
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::write(&path, &data).await?;
            Ok::<u64, anyhow::Error>(data.len() as u64)
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    Ok(sizes.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_path_segment() {
        assert_eq!(
            enc("data/@test/model-type-000/x/file-0000.json"),
            "data%2F%40test%2Fmodel-type-000%2Fx%2Ffile-0000.json"
        );
    }
}
