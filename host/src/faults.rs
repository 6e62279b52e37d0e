//! Fault injection on the host's send path: a list of rules, each matching some requests
//! and doing something nasty to them. The same plan works against every server, because
//! it acts between the guest and the network.
//!
//! Test-only: compiled with the `faults` feature of `gcs-host`, which `host-test` enables;
//! without it `crate::send` has no fault hook at all.

use crate::send::{done, pass_on, Sent};
use crate::traffic::{RequestKind, Traffic};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime_wasi_http::{Error as HttpError, WasiBody};

/// What to do to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Wait this long, then send normally.
    Delay(Duration),
    /// Answer with this status (and a GCS error envelope) without sending.
    Status(u16),
    /// Answer 429 `rateLimitExceeded` without sending.
    RateLimit,
    /// Break the connection before the server sees the request.
    ResetBefore,
    /// Send the request (the server acts on it), then break the connection before the
    /// answer reaches the guest: the "lost reply" case.
    ResetAfterCommit,
    /// Send, then cut the response body after this many bytes.
    Truncate(usize),
    /// Send, then pass on only the first bytes of the response body as if they were all
    /// of it (a short body that ends cleanly, as a proxy or a broken server may send).
    ShortBody(usize),
    /// Answer with this status and exactly this body (JSON content type) without
    /// sending: for odd error envelopes.
    Answer(u16, String),
    /// Send, then flip a byte in the response body (same length, headers untouched).
    Corrupt,
    /// Never answer (the guest's deadline must fire).
    Stall,
}

/// Which requests a rule applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultMatch {
    /// Only this kind.
    pub kind: Option<RequestKind>,
    /// Only this method.
    pub method: Option<String>,
    /// Only objects whose decoded name contains this.
    pub object_contains: Option<String>,
}

impl FaultMatch {
    /// Match every request of `kind`.
    pub fn kind(kind: RequestKind) -> Self {
        FaultMatch {
            kind: Some(kind),
            ..Default::default()
        }
    }

    /// Match everything.
    pub fn any() -> Self {
        FaultMatch::default()
    }

    /// Also require the object name to contain `s`.
    pub fn object(mut self, s: &str) -> Self {
        self.object_contains = Some(s.to_string());
        self
    }

    fn matches(&self, method: &str, kind: RequestKind, object: &str) -> bool {
        self.kind.is_none_or(|k| k == kind)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .object_contains
                .as_deref()
                .is_none_or(|s| object.contains(s))
    }
}

/// One rule: skip the first `skip` matches, then act on the next `times` (or all).
#[derive(Debug, Clone)]
pub struct FaultRule {
    /// Which requests.
    pub when: FaultMatch,
    /// What to do.
    pub action: FaultAction,
    /// Matching requests to let through first.
    pub skip: u32,
    /// How many to act on; `None` = every one after `skip`.
    pub times: Option<u32>,
    seen: u32,
    fired: u32,
}

impl FaultRule {
    /// Act on the next `times` matching requests.
    pub fn new(when: FaultMatch, action: FaultAction, times: Option<u32>) -> Self {
        FaultRule {
            when,
            action,
            skip: 0,
            times,
            seen: 0,
            fired: 0,
        }
    }

    /// Let `skip` matching requests through first.
    pub fn after(mut self, skip: u32) -> Self {
        self.skip = skip;
        self
    }
}

/// The rules of one host (shared by its stores).
#[derive(Debug, Default)]
pub struct FaultPlan {
    rules: Mutex<Vec<FaultRule>>,
    /// Fail every request once this many have been sent (crash simulation).
    cut_after: Mutex<Option<(u64, u64)>>,
}

impl FaultPlan {
    /// Add a rule.
    pub fn add(&self, rule: FaultRule) {
        self.rules.lock().unwrap().push(rule);
    }

    /// Remove every rule.
    pub fn clear(&self) {
        self.rules.lock().unwrap().clear();
        *self.cut_after.lock().unwrap() = None;
    }

    /// Let `n` more requests through, then break every later one before it is sent.
    pub fn cut_after(&self, n: u64) {
        *self.cut_after.lock().unwrap() = Some((n, 0));
    }

    /// How many rule firings happened.
    pub fn fired(&self) -> u32 {
        self.rules.lock().unwrap().iter().map(|r| r.fired).sum()
    }

    /// The action for this request, if any rule fires.
    pub fn decide(&self, method: &str, kind: RequestKind, object: &str) -> Option<FaultAction> {
        if let Some((limit, sent)) = self.cut_after.lock().unwrap().as_mut() {
            *sent += 1;
            if *sent > *limit {
                return Some(FaultAction::ResetBefore);
            }
        }
        let mut rules = self.rules.lock().unwrap();
        for rule in rules.iter_mut() {
            if !rule.when.matches(method, kind, object) {
                continue;
            }
            rule.seen += 1;
            if rule.seen <= rule.skip {
                continue;
            }
            if rule.times.is_some_and(|t| rule.fired >= t) {
                continue;
            }
            rule.fired += 1;
            return Some(rule.action.clone());
        }
        None
    }
}

// Applying a fault on the send path (`crate::send::forward` calls these).

/// Before sending: wait (`Delay`), or answer in place of the server; `None` sends the
/// request.
pub(crate) async fn before_send(fault: Option<&FaultAction>) -> Option<Sent> {
    match fault {
        Some(FaultAction::Delay(d)) => tokio::time::sleep(*d).await,
        Some(FaultAction::Status(code)) => {
            let reason = match code {
                503 => "backendError",
                500 => "internalError",
                401 => "required",
                403 => "forbidden",
                404 => "notFound",
                412 => "conditionNotMet",
                _ => "injected",
            };
            return Some(Ok((
                canned(*code, envelope(*code, reason, "injected fault")),
                done(),
            )));
        }
        Some(FaultAction::Answer(code, body)) => {
            return Some(Ok((canned(*code, Bytes::from(body.clone())), done())));
        }
        Some(FaultAction::RateLimit) => {
            return Some(Ok((canned(429, envelope(429, "rateLimitExceeded", "The object exceeded the rate limit for object mutation operations (create, update, and delete). Please reduce your request rate.")), done())));
        }
        Some(FaultAction::ResetBefore) => {
            return Some(Err(HttpError::ConnectionTerminated));
        }
        Some(FaultAction::Stall) => {
            // Hold the request until the guest gives up; bounded so a broken test ends.
            tokio::time::sleep(Duration::from_secs(600)).await;
            return Some(Err(HttpError::ConnectionReadTimeout));
        }
        _ => {}
    }
    None
}

/// After sending: lose, cut, shorten or corrupt the server's answer, or pass it on.
pub(crate) async fn on_answer(
    fault: FaultAction,
    parts: http::response::Parts,
    body: hyper::body::Incoming,
    traffic: Arc<Traffic>,
) -> Sent {
    match fault {
        FaultAction::ResetAfterCommit => {
            // Drain so the server-side effect is complete and the connection can be reused.
            let _ = body.collect().await;
            Err(HttpError::ConnectionTerminated)
        }
        FaultAction::Truncate(n) => {
            let keep = first_bytes(body, n, &traffic).await?;
            let frames: Vec<Result<Frame<Bytes>, HttpError>> = vec![
                Ok(Frame::data(keep)),
                Err(HttpError::InternalError(Some(
                    "injected: body cut short".into(),
                ))),
            ];
            let body = StreamBody::new(futures::stream::iter(frames)).boxed_unsync();
            Ok((http::Response::from_parts(parts, body), done()))
        }
        FaultAction::ShortBody(n) => {
            // Passed on as if these bytes were all of the answer.
            let keep = first_bytes(body, n, &traffic).await?;
            let mut parts = parts;
            parts
                .headers
                .insert(http::header::CONTENT_LENGTH, keep.len().into());
            Ok((http::Response::from_parts(parts, full_body(keep)), done()))
        }
        FaultAction::Corrupt => {
            let bytes = body
                .collect()
                .await
                .map_err(|e| HttpError::InternalError(Some(e.to_string())))?
                .to_bytes();
            let mut v = bytes.to_vec();
            if let Some(b) = v.first_mut() {
                *b ^= 0x55;
            }
            traffic.add_received(v.len() as u64);
            Ok((
                http::Response::from_parts(parts, full_body(Bytes::from(v))),
                done(),
            ))
        }
        _ => Ok(pass_on(parts, body, traffic)),
    }
}

/// The first `n` bytes of an answer's body, read whole first so that the server's
/// effect is complete; what is kept is what the guest receives.
async fn first_bytes(
    body: hyper::body::Incoming,
    n: usize,
    traffic: &Traffic,
) -> Result<Bytes, HttpError> {
    let bytes = body
        .collect()
        .await
        .map_err(|e| HttpError::InternalError(Some(e.to_string())))?
        .to_bytes();
    let keep = bytes.slice(..n.min(bytes.len()));
    traffic.add_received(keep.len() as u64);
    Ok(keep)
}

fn envelope(status: u16, reason: &str, message: &str) -> Bytes {
    Bytes::from(format!(
        r#"{{"error":{{"code":{status},"message":"{message}","errors":[{{"message":"{message}","domain":"{}","reason":"{reason}"}}]}}}}"#,
        if status == 429 {
            "usageLimits"
        } else {
            "global"
        }
    ))
}

fn full_body(b: Bytes) -> WasiBody {
    Full::new(b).map_err(|never| match never {}).boxed_unsync()
}

fn canned(status: u16, body: Bytes) -> http::Response<WasiBody> {
    let mut r = http::Response::new(full_body(body));
    *r.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_skip_then_fire_a_bounded_number_of_times() {
        let plan = FaultPlan::default();
        plan.add(
            FaultRule::new(
                FaultMatch::kind(RequestKind::Download),
                FaultAction::Status(503),
                Some(2),
            )
            .after(1),
        );
        let d = |o: &str| plan.decide("GET", RequestKind::Download, o);
        assert_eq!(d("a"), None);
        assert_eq!(d("a"), Some(FaultAction::Status(503)));
        assert_eq!(d("a"), Some(FaultAction::Status(503)));
        assert_eq!(d("a"), None);
        assert_eq!(plan.decide("GET", RequestKind::Metadata, "a"), None);
        assert_eq!(plan.fired(), 2);
    }

    #[test]
    fn cut_after_breaks_everything_later() {
        let plan = FaultPlan::default();
        plan.cut_after(2);
        let d = || plan.decide("GET", RequestKind::List, "");
        assert_eq!(d(), None);
        assert_eq!(d(), None);
        assert_eq!(d(), Some(FaultAction::ResetBefore));
    }
}
