//! Resumable upload sessions, following the protocol GCS implements
//! (`docs/gcs.md#resumable-uploads`; unlike fake-gcs-server, see
//! `docs/gcs.md#emulator-differences`):
//!
//! * Initiation returns `Location` = a session URI on this server.
//! * `PUT` with `Content-Range: bytes S-E/TOTAL` (or `/*`) appends; non-final chunks must be
//!   multiples of 256 KiB. Bytes below the persisted offset are skipped, never appended
//!   twice; a chunk that starts beyond it is rejected (400) because it would leave a gap.
//! * `PUT` with `bytes */TOTAL` or `bytes */*` and an empty body is a status query: 308 with
//!   `Range: bytes=0-N` (no `Range` when nothing is persisted). It never finalizes unless it
//!   names a TOTAL equal to the persisted size, which is how GCS lets a client finish an
//!   upload whose last data chunk was sent with an unknown total.
//! * At finalize: declared hashes (initiating resource, initiating and final requests'
//!   `X-Goog-Hash`) are verified, then rate limit and preconditions (given at initiation).
//!   A hash mismatch or failed precondition ends the session, and later requests replay that
//!   error; a 429 leaves the session open (the final chunk is not persisted) so the client
//!   can retry it. A finished session answers every later request with 200 + the object.
//! * `DELETE` on the session URI cancels it with 499; an unknown session is 404.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::StatusCode;
use rand::distributions::Alphanumeric;
use rand::Rng as _;
use serde_json::Value;

use super::errors::GcsError;
use super::hashes::Expected;
use super::objects::parse_metadata;
use super::preconditions::Preconditions;
use super::reply::Reply;
use super::request::ApiRequest;
use super::resource::encode_component;
use super::store::{NewObject, Shared, State};
use super::upload::{
    commit, object_name, parse_resource, resource_content_type, DEFAULT_CONTENT_TYPE,
};

/// Non-final chunks must be a multiple of this.
pub(crate) const CHUNK_GRANULARITY: u64 = 256 * 1024;

#[derive(Debug)]
pub(crate) struct Session {
    bucket: String,
    name: String,
    content_type: String,
    metadata: BTreeMap<String, String>,
    /// From the initiating resource (`crc32c`/`md5Hash`) and its `X-Goog-Hash` header.
    expected: [Expected; 2],
    declared_length: Option<u64>,
    total: Option<u64>,
    pre: Preconditions,
    data: Vec<u8>,
    /// Set once the session has finished, successfully or not.
    outcome: Option<Result<Value, GcsError>>,
}

impl Session {
    fn persisted(&self) -> u64 {
        self.data.len() as u64
    }

    /// The total size after this request, rejecting a claim that contradicts what is already
    /// known. Nothing is recorded here, so a rejected request leaves the session untouched.
    fn resolve_total(&self, claimed: Option<u64>) -> Result<Option<u64>, GcsError> {
        let Some(total) = claimed else {
            return Ok(self.total);
        };
        let conflicts = self.declared_length.is_some_and(|d| d != total)
            || self.total.is_some_and(|t| t != total)
            || total < self.persisted();
        if conflicts {
            return Err(GcsError::invalid(format!(
                "The total object size {total} in Content-Range conflicts with the upload \
                 session (declared {:?}, {} bytes persisted).",
                self.declared_length.or(self.total),
                self.persisted()
            )));
        }
        Ok(Some(total))
    }
}

pub(crate) fn new_upload_id() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect()
}

/// `POST ...?uploadType=resumable`: validates the resource and opens a session.
pub(crate) fn initiate(shared: &Shared, req: &ApiRequest, bucket: &str) -> Result<Reply, GcsError> {
    let resource = parse_resource(&req.body)?;
    let name = object_name(req.query.get("name"), &resource)?;
    let pre = Preconditions::from_query(&req.query)?;
    let declared_length = req
        .header("x-upload-content-length")
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| GcsError::invalid("Invalid X-Upload-Content-Length header."))
        })
        .transpose()?;
    let session = Session {
        content_type: resource_content_type(&resource)?
            .or_else(|| req.header("x-upload-content-type").map(str::to_owned))
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
        metadata: parse_metadata(&resource)?.unwrap_or_default(),
        expected: [Expected::from_resource(&resource)?, goog_hash(req)?],
        bucket: bucket.to_owned(),
        name,
        declared_length,
        total: None,
        pre,
        data: Vec::new(),
        outcome: None,
    };
    let id = new_upload_id();
    let location = format!(
        "{}/upload/storage/v1/b/{}/o?uploadType=resumable&name={}&upload_id={id}",
        shared.base_url,
        encode_component(bucket),
        encode_component(&session.name),
    );
    let mut state = shared.state();
    state.bucket(bucket)?;
    state.sessions.insert(id.clone(), session);
    Ok(Reply::empty(StatusCode::OK)
        .header("location", location)
        .header("x-guploader-uploadid", id))
}

/// `DELETE <session URI>`.
pub(crate) fn cancel(shared: &Shared, upload_id: &str) -> Result<Reply, GcsError> {
    shared
        .state()
        .sessions
        .remove(upload_id)
        .ok_or_else(no_such_session)?;
    // 499 is GCS's documented answer to a successful cancel.
    let status = StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST);
    Ok(Reply::empty(status))
}

fn goog_hash(req: &ApiRequest) -> Result<Expected, GcsError> {
    Expected::from_goog_hash(
        req.headers
            .get_all("x-goog-hash")
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

fn no_such_session() -> GcsError {
    GcsError::not_found("No such upload session.")
}

/// `PUT <session URI>`: a data chunk or a status query.
pub(crate) fn put(shared: &Shared, req: &ApiRequest, upload_id: &str) -> Result<Reply, GcsError> {
    let range = ContentRange::parse(req.header("content-range"), req.body.len())?;
    let goog_hash = goog_hash(req)?;
    let mut guard = shared.state();
    let state = &mut *guard;
    let session = state
        .sessions
        .get_mut(upload_id)
        .ok_or_else(no_such_session)?;
    if let Some(outcome) = &session.outcome {
        return outcome.clone().map(Reply::json);
    }

    match range {
        ContentRange::Status { total } => {
            if !req.body.is_empty() {
                return Err(GcsError::invalid(
                    "A Content-Range without a byte range must have an empty body.",
                ));
            }
            session.total = session.resolve_total(total)?;
            if let Some(total) = total {
                if total == session.persisted() {
                    let data = session.data.clone();
                    return finalize(state, &shared.base_url, upload_id, data, goog_hash);
                }
            }
            Ok(incomplete(session.persisted()))
        }
        ContentRange::Bytes { start, end, total } => {
            let total = session.resolve_total(total)?;
            if let Some(total) = total.filter(|t| end >= *t) {
                return Err(GcsError::invalid(format!(
                    "Content-Range end {end} is beyond the total size {total}."
                )));
            }
            let persisted = session.persisted();
            if start > persisted {
                return Err(GcsError::invalid(format!(
                    "Invalid request. According to the Content-Range header, the upload offset \
                     is {start} byte(s), which exceeds already uploaded size of {persisted} byte(s)."
                )));
            }
            let is_final = total.is_some() && total == end.checked_add(1);
            let length = end - start + 1;
            if !is_final && length % CHUNK_GRANULARITY != 0 {
                return Err(GcsError::invalid(format!(
                    "Invalid request. The number of bytes uploaded is required to be equal or \
                     greater than {CHUNK_GRANULARITY}, except for the final request, and a \
                     multiple of {CHUNK_GRANULARITY}; got {length}."
                )));
            }
            session.total = total;
            // Skip what is already persisted, as GCS does when a client resends a chunk.
            let skip = usize::try_from(persisted - start)
                .unwrap_or(usize::MAX)
                .min(req.body.len());
            let fresh = &req.body[skip..];
            if is_final {
                let mut data = session.data.clone();
                data.extend_from_slice(fresh);
                return finalize(state, &shared.base_url, upload_id, data, goog_hash);
            }
            session.data.extend_from_slice(fresh);
            Ok(incomplete(session.persisted()))
        }
    }
}

/// 308 with the persisted range, or without `Range` when nothing is persisted yet.
fn incomplete(persisted: u64) -> Reply {
    let reply = Reply::empty(StatusCode::PERMANENT_REDIRECT);
    match persisted {
        0 => reply,
        n => reply.header("range", format!("bytes=0-{}", n - 1)),
    }
}

fn finalize(
    state: &mut State,
    base: &str,
    upload_id: &str,
    data: Vec<u8>,
    goog_hash: Expected,
) -> Result<Reply, GcsError> {
    let session = state.sessions.get(upload_id).ok_or_else(no_such_session)?;
    let (bucket, name, pre) = (session.bucket.clone(), session.name.clone(), session.pre);
    let [from_resource, from_init_header] = session.expected;
    let expected = [from_resource, from_init_header, goog_hash];
    let new = NewObject {
        data: Bytes::from(data),
        content_type: session.content_type.clone(),
        metadata: session.metadata.clone(),
    };
    let result = commit(state, base, &bucket, &name, new, &expected, &pre);
    if matches!(&result, Err(e) if e.status == StatusCode::TOO_MANY_REQUESTS) {
        return result.map(Reply::json);
    }
    if let Some(session) = state.sessions.get_mut(upload_id) {
        session.data = Vec::new();
        session.outcome = Some(result.clone());
    }
    result.map(Reply::json)
}

/// A parsed `Content-Range` request header.
#[derive(Debug, PartialEq, Eq)]
enum ContentRange {
    /// `bytes */TOTAL` or `bytes */*`.
    Status { total: Option<u64> },
    /// `bytes S-E/TOTAL` or `bytes S-E/*`, inclusive.
    Bytes {
        start: u64,
        end: u64,
        total: Option<u64>,
    },
}

impl ContentRange {
    /// Parses the header and checks it against the body length. A missing header means the
    /// body is the whole object (a single-request resumable upload).
    fn parse(header: Option<&str>, body_len: usize) -> Result<ContentRange, GcsError> {
        let body_len = body_len as u64;
        let Some(header) = header else {
            return Ok(match body_len {
                0 => ContentRange::Status { total: Some(0) },
                n => ContentRange::Bytes {
                    start: 0,
                    end: n - 1,
                    total: Some(n),
                },
            });
        };
        let invalid =
            || GcsError::invalid(format!("Failed to parse Content-Range header: {header}"));
        let spec = header
            .trim()
            .strip_prefix("bytes ")
            .ok_or_else(invalid)?
            .trim();
        let (range, total) = spec.split_once('/').ok_or_else(invalid)?;
        let total = match total.trim() {
            "*" => None,
            t => Some(t.parse::<u64>().map_err(|_| invalid())?),
        };
        if range.trim() == "*" {
            return Ok(ContentRange::Status { total });
        }
        let (start, end) = range.split_once('-').ok_or_else(invalid)?;
        let start: u64 = start.trim().parse().map_err(|_| invalid())?;
        let end: u64 = end.trim().parse().map_err(|_| invalid())?;
        let length = end
            .checked_sub(start)
            .and_then(|d| d.checked_add(1))
            .ok_or_else(invalid)?;
        if length != body_len {
            return Err(GcsError::invalid(format!(
                "Content-Range {header} does not match the request body length {body_len}."
            )));
        }
        Ok(ContentRange::Bytes { start, end, total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_range_forms() {
        use ContentRange::*;
        let p = |h: &str, len| ContentRange::parse(Some(h), len).map_err(|e| e.status.as_u16());
        assert_eq!(p("bytes */*", 0), Ok(Status { total: None }));
        assert_eq!(p("bytes */10", 0), Ok(Status { total: Some(10) }));
        assert_eq!(
            p("bytes 0-9/10", 10),
            Ok(Bytes {
                start: 0,
                end: 9,
                total: Some(10)
            })
        );
        assert_eq!(
            p("bytes 5-9/*", 5),
            Ok(Bytes {
                start: 5,
                end: 9,
                total: None
            })
        );
        assert_eq!(p("bytes 0-9/10", 9), Err(400));
        assert_eq!(p("bytes 9-0/10", 10), Err(400));
        assert_eq!(p("bytes=0-9/10", 10), Err(400));
        assert_eq!(p("bytes 0-9", 10), Err(400));
        assert_eq!(p("bytes a-9/10", 10), Err(400));
        assert_eq!(p("bytes 0-18446744073709551615/*", 10), Err(400));
    }

    #[test]
    fn missing_header_means_whole_object() {
        assert_eq!(
            ContentRange::parse(None, 4).expect("ok"),
            ContentRange::Bytes {
                start: 0,
                end: 3,
                total: Some(4)
            }
        );
        assert_eq!(
            ContentRange::parse(None, 0).expect("ok"),
            ContentRange::Status { total: Some(0) }
        );
    }

    #[test]
    fn upload_ids_are_random() {
        assert_ne!(new_upload_id(), new_upload_id());
        assert_eq!(new_upload_id().len(), 40);
    }
}
