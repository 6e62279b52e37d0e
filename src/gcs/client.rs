//! The GCS client: builds requests (`request.rs`), signs and sends them through the
//! transport seam with deadlines and retries, checks integrity, and maps answers to errors
//! (`response.rs`).

use super::checksum::{crc32c_b64, md5_b64, parse_goog_hash, verify, AnnouncedHashes};
use super::generation::Generation;
use super::request::{self as rq, Preconditions};
use super::response::{classify, transport_error, ListPage, ObjectMeta, RewriteStatus};
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::retry::{with_retry, RetryBudget};
use crate::transport::{Clock, HttpRequest, HttpResponse, Transport};
use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

/// Supplies bearer tokens. Emulator mode uses [`NoAuth`].
pub trait Authorizer {
    /// A token to send, or `None` for no `Authorization` header.
    fn bearer(&self) -> impl Future<Output = Result<Option<String>>>;
    /// Forget `rejected` if it is still the cached token (called once after a 401; a late
    /// 401 for an older token must not throw away a fresh one).
    fn invalidate(&self, rejected: &str);
}

#[cfg(test)]
/// No credentials (emulator mode).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAuth;

#[cfg(test)]
impl Authorizer for NoAuth {
    async fn bearer(&self) -> Result<Option<String>> {
        Ok(None)
    }
    fn invalidate(&self, _rejected: &str) {}
}

/// A downloaded object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    /// The bytes, integrity-checked.
    pub data: Vec<u8>,
    /// `x-goog-generation` of exactly these bytes (empty when the server did not say).
    pub generation: Generation,
    /// `x-goog-metageneration` (empty when the server did not say).
    pub metageneration: String,
    /// The hashes the server announced in `x-goog-hash` (and the bytes matched).
    pub hashes: AnnouncedHashes,
}

/// The GCS JSON-API client of one datastore.
pub struct GcsClient<P, A> {
    /// The validated configuration.
    pub cfg: Config,
    platform: Rc<P>,
    auth: A,
    /// Absolute monotonic deadline of the current call, if bounded.
    deadline: Cell<Option<u64>>,
}

/// Which statuses besides 2xx a caller wants to see instead of an error.
const ACCEPT_308: &[u16] = &[308];

impl<P: Transport + Clock, A: Authorizer> GcsClient<P, A> {
    /// A client for `cfg` over `platform`.
    pub fn new(cfg: Config, platform: Rc<P>, auth: A) -> Self {
        GcsClient {
            cfg,
            platform,
            auth,
            deadline: Cell::new(None),
        }
    }

    /// The platform (transport and clock).
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// Bound every request from now on by an absolute monotonic deadline.
    pub fn set_deadline(&self, deadline_ms: Option<u64>) {
        self.deadline.set(deadline_ms);
    }

    /// Fail fast once the call's deadline has passed.
    pub fn check_deadline(&self, what: &str) -> Result<()> {
        match self.deadline.get() {
            Some(d) if self.platform.now_ms() >= d => Err(Error::timeout(format!(
                "call deadline exceeded before {what}"
            ))),
            _ => Ok(()),
        }
    }

    fn request_timeout(&self) -> u64 {
        let per_request = self.cfg.request_timeout_ms as u64;
        match self.deadline.get() {
            Some(d) => per_request.min(d.saturating_sub(self.platform.now_ms()).max(1)),
            None => per_request,
        }
    }

    /// Send one request once: auth header, deadline, classification. A 401 refreshes the
    /// token and repeats the request once, since tokens can be revoked before they expire.
    pub(super) async fn send_once(
        &self,
        op: &str,
        key: &str,
        req: &HttpRequest,
        accept: &[u16],
    ) -> Result<HttpResponse> {
        self.check_deadline(&format!("{op} {key}"))?;
        let mut refreshed = false;
        loop {
            let mut signed = req.clone();
            let token = self.auth.bearer().await?;
            if let Some(t) = &token {
                signed
                    .headers
                    .push(("authorization".into(), format!("Bearer {t}")));
            }
            let timeout = self.request_timeout();
            let resp = self
                .platform
                .send(&signed, timeout)
                .await
                .map_err(|e| transport_error(op, key, &e, timeout))?;
            if resp.is_success() || accept.contains(&resp.status) {
                return Ok(resp);
            }
            if let (401, false, Some(t)) = (resp.status, refreshed, &token) {
                self.auth.invalidate(t);
                refreshed = true;
                continue;
            }
            return Err(classify(op, key, &resp));
        }
    }

    /// A fresh retry budget under the configured policy and the call's deadline, for loops
    /// above single requests (the index publish).
    pub fn retry_budget(&self) -> RetryBudget<'_, P> {
        RetryBudget::new(&*self.platform, &self.cfg.retry, self.deadline.get())
    }

    /// Run `attempt` under the configured retry policy and the call's deadline.
    ///
    /// Every request this client sends is safe to repeat: reads and listings; writes with a
    /// generation precondition (a 412 on a repeat may be our own earlier success, which
    /// the caller settles by reading the object back); and unconditional uploads of fixed
    /// bytes to a fixed name, which store the same content again. So only the failure
    /// decides whether to retry.
    pub(super) async fn retried<T, F, Fut>(&self, attempt: F) -> Result<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        with_retry(
            &*self.platform,
            &self.cfg.retry,
            self.deadline.get(),
            attempt,
        )
        .await
    }

    /// Send with the retry policy.
    async fn send(
        &self,
        op: &str,
        key: &str,
        req: &HttpRequest,
        accept: &[u16],
    ) -> Result<HttpResponse> {
        self.retried(|_| self.send_once(op, key, req, accept)).await
    }

    /// Send a write with the retry policy. An answer whose status says
    /// the write happened but whose body broke off is not retried (that would write
    /// again): it comes back as [`Answer::Cut`] for the caller to settle.
    async fn send_write(
        &self,
        op: &str,
        key: &str,
        req: &HttpRequest,
        accept: &[u16],
    ) -> Result<Answer> {
        self.retried(|_| async { answer_of(self.send_once(op, key, req, accept).await) })
            .await
    }

    /// `GET` the bucket: reachable and permitted.
    pub async fn bucket_get(&self) -> Result<()> {
        let bucket = self.cfg.bucket.clone();
        self.send("bucketGet", &bucket, &rq::bucket_get(&self.cfg), &[])
            .await
            .map(|_| ())
    }

    /// Object metadata, `None` when absent.
    pub async fn stat(&self, key: &str) -> Result<Option<ObjectMeta>> {
        let req = rq::object_metadata(&self.cfg, key, &Preconditions::default());
        match self.send("getMetadata", key, &req, &[]).await {
            Ok(resp) => ObjectMeta::parse("getMetadata", key, &resp.body).map(Some),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Download an object and check it against the hashes the server announced. A
    /// mismatch is retried like a transport fault (the stored object is usually fine and
    /// the bytes were damaged on the way) and reported as `integrity` when it persists.
    pub async fn download(&self, key: &str) -> Result<Download> {
        let req = rq::media_download(&self.cfg, key, None);
        self.retried(|_| async {
            let resp = self.send_once("download", key, &req, &[]).await?;
            check_download(key, resp)
        })
        .await
    }

    /// Upload bytes. With `if_generation_match` the write is conditional (`"0"` creates
    /// only) and a 412 that follows an ambiguous failure is resolved by reading back.
    pub async fn upload(
        &self,
        key: &str,
        data: &[u8],
        if_generation_match: Option<&str>,
    ) -> Result<ObjectMeta> {
        let cond = Preconditions::generation_match(if_generation_match);
        if data.len() as u64 >= self.cfg.resumable_threshold {
            return self.upload_resumable(key, data, &cond).await;
        }
        let boundary = rq::boundary_for(data, self.platform.random_u64());
        let req = rq::multipart_upload(&self.cfg, key, data, &cond, &boundary);
        if !cond.any() {
            let answer = self.send_write("upload", key, &req, &[]).await?;
            return self
                .settle(key, data, object_reply("upload", key, answer))
                .await;
        }
        let req = &req;
        let reply = self
            .conditional_write(key, data, move |attempt_key| async move {
                let answer = answer_of(self.send_once("upload", attempt_key, req, &[]).await)?;
                Ok(object_reply("upload", attempt_key, answer))
            })
            .await?;
        self.settle(key, data, reply).await
    }

    /// The object a write stored. When the server accepted the write but its reply could
    /// not be read, the object is read back: the same content means the write was ours.
    async fn settle(&self, key: &str, data: &[u8], reply: WriteReply) -> Result<ObjectMeta> {
        match reply {
            WriteReply::Meta(meta) => Ok(meta),
            WriteReply::Unreadable(e) => self.read_back_matches(key, data).await?.ok_or_else(|| {
                e.context(format!(
                    "the write of {key} was accepted but its reply was unreadable, and the object read back differs"
                ))
            }),
        }
    }

    /// A conditional write, retried on transient failures. Because a retried conditional write
    /// fails with 412 when our own earlier attempt committed but its reply was lost
    /// (`docs/gcs.md#lost-replies`), any 412 or ambiguous failure after a first ambiguous failure
    /// is settled by reading the object back: same content means the write was ours.
    async fn conditional_write<'a, F, Fut>(
        &'a self,
        key: &'a str,
        data: &[u8],
        attempt: F,
    ) -> Result<WriteReply>
    where
        F: Fn(&'a str) -> Fut,
        Fut: Future<Output = Result<WriteReply>>,
    {
        let ambiguous = Cell::new(false);
        let outcome = self
            .retried(|_| async {
                match attempt(key).await {
                    Err(e) if e.is_retryable() && e.kind() != ErrorKind::RateLimited => {
                        // A 5xx or broken connection may have happened after the commit.
                        ambiguous.set(true);
                        Err(e)
                    }
                    other => other,
                }
            })
            .await;
        match outcome {
            Ok(reply) => Ok(reply),
            Err(e) if ambiguous.get() && (e.is_precondition_failed() || e.is_retryable()) => {
                match self.read_back_matches(key, data).await? {
                    Some(meta) => Ok(WriteReply::Meta(meta)),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The object's metadata when its content equals `data`.
    async fn read_back_matches(&self, key: &str, data: &[u8]) -> Result<Option<ObjectMeta>> {
        let Some(meta) = self.stat(key).await? else {
            return Ok(None);
        };
        let crc_ok = meta.crc32c.as_deref() == Some(crc32c_b64(data).as_str());
        let md5_ok = meta.md5_hash.as_deref().is_none_or(|m| m == md5_b64(data));
        Ok((crc_ok && md5_ok && meta.size == data.len() as u64).then_some(meta))
    }

    /// Resumable upload in chunks; a broken chunk is followed by a status query and the
    /// upload continues from what the server persisted. A final answer that broke off or
    /// does not parse is settled the same way: the session says what it finished.
    async fn upload_resumable(
        &self,
        key: &str,
        data: &[u8],
        cond: &Preconditions,
    ) -> Result<ObjectMeta> {
        let total = data.len() as u64;
        let whole_crc = crc32c_b64(data);
        let start = rq::resumable_start(&self.cfg, key, total, cond);
        let resp = self.send("resumableStart", key, &start, &[]).await?;
        let session = resp
            .header("location")
            .map(|l| self.absolute_url(l))
            .ok_or_else(|| {
                Error::other(format!(
                    "GCS resumableStart {key}: no session URI in the answer"
                ))
            })?;

        let mut offset = 0u64;
        let mut budget = self.retry_budget();
        loop {
            let end = (offset + self.cfg.chunk_size).min(total);
            let chunk = &data[offset as usize..end as usize];
            let last = end == total;
            let req = rq::resumable_chunk(
                &session,
                chunk,
                offset,
                total,
                last.then_some(whole_crc.as_str()),
            );
            let state = match self
                .send_once("resumableChunk", key, &req, ACCEPT_308)
                .await
            {
                Ok(resp) if resp.status == 308 => Session::Persisted(persisted_offset(&resp)),
                Ok(resp) => match ObjectMeta::parse("resumableChunk", key, &resp.body) {
                    Ok(meta) => Session::Finished(meta),
                    Err(e) => self.query_session(key, data, &session, e).await?,
                },
                Err(e) if e.is_committed_reply_lost() => {
                    self.query_session(key, data, &session, e).await?
                }
                // The session is gone (expired or cancelled): nothing to resume.
                Err(e) if e.is_not_found() => {
                    return Err(e.context(format!("resumable upload of {key} at byte {offset}")))
                }
                Err(e) if e.is_retryable() => {
                    if !budget.retry_after(false).await {
                        return Err(
                            e.context(format!("resumable upload of {key} at byte {offset}"))
                        );
                    }
                    // Ask the session what it kept, rather than guessing.
                    self.query_session(key, data, &session, e).await?
                }
                Err(e) => return Err(e),
            };
            match state {
                Session::Persisted(persisted) => offset = persisted,
                Session::Finished(meta) => return check_stored(key, data, &whole_crc, meta),
            }
            if offset > total {
                return Err(Error::other(format!(
                    "GCS resumable upload of {key}: server reports {offset} of {total} bytes"
                )));
            }
        }
    }

    /// Ask a resumable session what it holds (`why` is the failure that made us ask). A
    /// finished session whose answer cannot be read, or a session already gone (some
    /// servers forget a session once it finished), is settled by reading the object back.
    async fn query_session(
        &self,
        key: &str,
        data: &[u8],
        session: &str,
        why: Error,
    ) -> Result<Session> {
        let status = rq::resumable_status(session, data.len() as u64);
        let answer = self
            .send_write("resumableStatus", key, &status, ACCEPT_308)
            .await;
        let failure = match answer {
            Ok(Answer::Whole(resp)) if resp.status == 308 => {
                return Ok(Session::Persisted(persisted_offset(&resp)))
            }
            Ok(answer) => {
                let reply = object_reply("resumableStatus", key, answer);
                return self.settle(key, data, reply).await.map(Session::Finished);
            }
            Err(e) => e,
        };
        // The session cannot say (it is gone, or its answers are lost too); the object
        // can. Only an object holding exactly these bytes counts as finished.
        let gone =
            failure.is_not_found() || failure.gcs().as_ref().is_some_and(|g| g.status == 410);
        match self.read_back_matches(key, data).await? {
            Some(meta) => Ok(Session::Finished(meta)),
            None if gone => Err(why.context(format!(
                "resumable upload of {key}: the session is gone and the object does not hold the bytes sent"
            ))),
            None => Err(failure),
        }
    }
    fn absolute_url(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else {
            format!("{}{}", self.cfg.api_endpoint, location)
        }
    }

    /// One listing page.
    pub async fn list_page(
        &self,
        prefix: Option<&str>,
        delimiter: Option<&str>,
        max_results: Option<u32>,
        page_token: Option<&str>,
    ) -> Result<ListPage> {
        let req = rq::list(&self.cfg, prefix, delimiter, max_results, page_token);
        let what = prefix.unwrap_or("");
        let resp = self.send("list", what, &req, &[]).await?;
        ListPage::parse("list", what, &resp.body)
    }

    /// Every object under `prefix`, following page tokens.
    pub async fn list_all(&self, prefix: Option<&str>) -> Result<Vec<ObjectMeta>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.list_page(prefix, None, None, token.as_deref()).await?;
            out.extend(page.items);
            match page.next_page_token {
                // A server that repeats a token would loop forever.
                Some(t) if Some(&t) != token.as_ref() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// Delete; a missing object counts as done (`Ok(false)`).
    pub async fn delete(&self, key: &str, if_generation_match: Option<&str>) -> Result<bool> {
        let cond = Preconditions::generation_match(if_generation_match);
        // A delete's reply carries no body to read: a cut one still says it happened.
        match self
            .send_write("delete", key, &rq::delete(&self.cfg, key, &cond), &[])
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The destination's metadata when it already holds the source's content.
    async fn copy_done(&self, src: &str, dst: &str) -> Result<Option<ObjectMeta>> {
        let (Some(from), Some(to)) = (self.stat(src).await?, self.stat(dst).await?) else {
            return Ok(None);
        };
        let same = from.size == to.size
            && from.crc32c.is_some()
            && from.crc32c == to.crc32c
            && (from.md5_hash.is_none() || to.md5_hash.is_none() || from.md5_hash == to.md5_hash);
        Ok(same.then_some(to))
    }

    /// Server-side copy, following `rewriteToken` until GCS reports it done.
    pub async fn copy(&self, src: &str, dst: &str) -> Result<ObjectMeta> {
        let mut token: Option<String> = None;
        let mut unreadable = 0u32;
        // Each call moves at least a chunk; the bound only stops a server that never says done.
        for _ in 0..100_000 {
            let req = rq::rewrite(&self.cfg, src, dst, token.as_deref());
            let answer = self.send_write("copy", src, &req, &[]).await?;
            let parsed = match &answer {
                Answer::Whole(resp) => RewriteStatus::parse("copy", src, &resp.body),
                Answer::Cut(e) => Err(e.clone()),
            };
            let status = match parsed {
                Ok(status) => status,
                // The call was accepted but its answer is unreadable. If the destination
                // already equals the source, the copy is done; otherwise the same call
                // (same token) is safe to repeat.
                Err(e) => {
                    unreadable += 1;
                    if let Some(meta) = self.copy_done(src, dst).await? {
                        return Ok(meta);
                    }
                    if unreadable >= self.cfg.retry.max_attempts {
                        return Err(e);
                    }
                    continue;
                }
            };
            if status.done {
                return match status.resource {
                    Some(meta) => Ok(meta),
                    None => self.stat(dst).await?.ok_or_else(|| {
                        Error::other(format!(
                            "GCS copy {src} -> {dst}: done but destination missing"
                        ))
                    }),
                };
            }
            token = Some(status.token.ok_or_else(|| {
                Error::other(format!(
                    "GCS copy {src} -> {dst}: not done and no rewriteToken"
                ))
            })?);
        }
        Err(Error::other(format!(
            "GCS copy {src} -> {dst}: never completed"
        )))
    }
}

/// A write's answer: whole, or accepted (2xx) with its body cut short.
enum Answer {
    /// The whole answer.
    Whole(HttpResponse),
    /// The status said the write happened; the body broke off (the error says how).
    Cut(Error),
}

/// What a write's answer says about the stored object.
enum WriteReply {
    /// The object resource, parsed.
    Meta(ObjectMeta),
    /// The write was accepted but the answer is unreadable (cut short, or not an object):
    /// the stored object must be read back.
    Unreadable(Error),
}

/// What a resumable session holds.
enum Session {
    /// Bytes before this offset are stored; send from here.
    Persisted(u64),
    /// The upload finished as this object.
    Finished(ObjectMeta),
}

/// A write's outcome as an answer: a success status whose body broke off is still an
/// answer (the write happened), not a failure to retry.
fn answer_of(sent: Result<HttpResponse>) -> Result<Answer> {
    match sent {
        Ok(resp) => Ok(Answer::Whole(resp)),
        Err(e) if e.is_committed_reply_lost() => Ok(Answer::Cut(e)),
        Err(e) => Err(e),
    }
}

/// Read a write's answer as an object resource.
fn object_reply(op: &str, key: &str, answer: Answer) -> WriteReply {
    match answer {
        Answer::Whole(resp) => match ObjectMeta::parse(op, key, &resp.body) {
            Ok(meta) => WriteReply::Meta(meta),
            Err(e) => WriteReply::Unreadable(e),
        },
        Answer::Cut(e) => WriteReply::Unreadable(e),
    }
}

/// A finished resumable upload must hold exactly what was sent: the server checked the
/// CRC32C we declared, and this checks that the answer (or the read-back) agrees.
fn check_stored(key: &str, data: &[u8], whole_crc: &str, meta: ObjectMeta) -> Result<ObjectMeta> {
    let crc_ok = meta.crc32c.as_deref().is_none_or(|c| c == whole_crc);
    if meta.size == data.len() as u64 && crc_ok {
        return Ok(meta);
    }
    Err(Error::new(
        ErrorKind::Integrity,
        format!(
            "GCS resumable upload of {key}: the stored object has {} bytes and crc32c {}, not the {} bytes and crc32c {whole_crc} sent",
            meta.size,
            meta.crc32c.as_deref().unwrap_or("(none)"),
            data.len()
        ),
    ))
}

/// The next byte to send after a 308: the `Range: bytes=0-N` header says N is persisted.
fn persisted_offset(resp: &HttpResponse) -> u64 {
    resp.header("range")
        .and_then(|r| r.trim().strip_prefix("bytes=0-"))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .map_or(0, |n| n + 1)
}

/// Integrity check of a whole-object download.
fn check_download(key: &str, resp: HttpResponse) -> Result<Download> {
    let generation = Generation::new(resp.header("x-goog-generation").unwrap_or(""));
    let metageneration = resp
        .header("x-goog-metageneration")
        .unwrap_or("")
        .to_string();
    let announced = parse_goog_hash(
        resp.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("x-goog-hash"))
            .map(|(_, v)| v.as_str()),
    );
    let gzip_stored = resp
        .header("x-goog-stored-content-encoding")
        .is_some_and(|e| e.eq_ignore_ascii_case("gzip"));
    if !gzip_stored {
        if let Some(stored) = resp
            .header("x-goog-stored-content-length")
            .and_then(|v| v.parse::<u64>().ok())
        {
            if stored != resp.body.len() as u64 {
                return Err(Error::new(
                    ErrorKind::Integrity,
                    format!(
                        "GCS download {key}: received {} of {stored} bytes",
                        resp.body.len()
                    ),
                )
                .retryable(true));
            }
        }
        if let Err(m) = verify(&resp.body, &announced) {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!("GCS download {key}: {m}; nothing was written"),
            )
            .retryable(true));
        }
    }
    Ok(Download {
        data: resp.body,
        generation,
        metageneration,
        hashes: announced,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigEnv;
    use crate::test_doubles::{run, FakeClock, ScriptedTransport};
    use crate::transport::{Method, TransportError};

    /// The client tests' platform: the crate's scripted transport and settable clock in one.
    struct Scripted {
        io: ScriptedTransport,
        clock: FakeClock,
    }

    impl Scripted {
        fn new(answers: Vec<std::result::Result<HttpResponse, TransportError>>) -> Rc<Self> {
            Rc::new(Scripted {
                io: ScriptedTransport::of(answers),
                clock: FakeClock::new().with_random(42),
            })
        }
    }

    impl Transport for Scripted {
        fn send(
            &self,
            req: &HttpRequest,
            timeout_ms: u64,
        ) -> impl Future<Output = std::result::Result<HttpResponse, TransportError>> {
            self.io.send(req, timeout_ms)
        }
    }

    impl Clock for Scripted {
        fn now_ms(&self) -> u64 {
            self.clock.now_ms()
        }
        fn unix_ms(&self) -> i64 {
            self.clock.unix_ms()
        }
        fn sleep(&self, ms: u64) -> impl Future<Output = ()> {
            self.clock.sleep(ms)
        }
        fn random_u64(&self) -> u64 {
            self.clock.random_u64()
        }
    }

    fn ok(
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::result::Result<HttpResponse, TransportError> {
        Ok(HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.to_vec(),
        })
    }

    fn client(t: Rc<Scripted>, extra: &str) -> GcsClient<Scripted, NoAuth> {
        let json = format!(
            r#"{{"bucket":"bkt","apiEndpoint":"http://127.0.0.1:9","retryInitialDelayMs":10{extra}}}"#
        );
        GcsClient::new(
            Config::parse(&json, &ConfigEnv::default()).unwrap(),
            t,
            NoAuth,
        )
    }

    fn object_json(name: &str, data: &[u8], generation: &str) -> Vec<u8> {
        format!(r#"{{"name":"{name}","size":"{}","generation":"{generation}","metageneration":"1","crc32c":"{}","md5Hash":"{}"}}"#, data.len(), crc32c_b64(data), md5_b64(data)).into_bytes()
    }

    #[test]
    fn download_checks_hashes() {
        let hash = format!("crc32c={}", crc32c_b64(b"good"));
        let t = Scripted::new(vec![
            ok(
                200,
                &[("x-goog-hash", &hash), ("x-goog-generation", "7")],
                b"evil",
            ),
            ok(
                200,
                &[("x-goog-hash", &hash), ("x-goog-generation", "7")],
                b"evil",
            ),
        ]);
        let c = client(t.clone(), r#","retryMaxAttempts":2"#);
        let err = run(c.download("k")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity);
        assert_eq!(t.io.requests().len(), 2, "integrity failures are retried");

        let t = Scripted::new(vec![ok(
            200,
            &[("x-goog-hash", &hash), ("x-goog-generation", "7")],
            b"good",
        )]);
        let d = run(client(t, "").download("k")).unwrap();
        assert_eq!(
            (d.data.as_slice(), d.generation.as_str()),
            (&b"good"[..], "7")
        );
    }

    #[test]
    fn short_body_is_an_integrity_error() {
        let t = Scripted::new(vec![ok(
            200,
            &[("x-goog-stored-content-length", "10")],
            b"12345",
        )]);
        let err = run(client(t, r#","retryMaxAttempts":1"#).download("k")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity);
    }

    #[test]
    fn retry_503_then_success_and_412_not_retried() {
        let t = Scripted::new(vec![
            ok(503, &[], b""),
            ok(200, &[], &object_json("k", b"x", "1")),
        ]);
        let meta = run(client(t.clone(), "").stat("k")).unwrap().unwrap();
        assert_eq!(meta.generation, "1");
        assert_eq!(t.io.requests().len(), 2);

        let t = Scripted::new(vec![ok(412, &[], b"")]);
        let err = run(client(t.clone(), "").upload("k", b"data", Some("0"))).unwrap_err();
        assert!(err.is_precondition_failed());
        assert_eq!(
            t.io.requests().len(),
            1,
            "a plain 412 is an answer, not a fault"
        );
    }

    #[test]
    fn lost_reply_on_conditional_write_is_resolved_by_read_back() {
        let data = b"lock body";
        let t = Scripted::new(vec![
            Err(TransportError::Connection("reset after commit".into())),
            ok(412, &[], b""),
            ok(200, &[], &object_json("k", data, "99")),
        ]);
        let meta = run(client(t.clone(), "").upload("k", data, Some("0"))).unwrap();
        assert_eq!(meta.generation, "99");
        let sent = t.io.requests();
        assert_eq!(sent.len(), 3);
        assert_eq!(sent[2].method, Method::Get);

        // Someone else's content: the 412 stands.
        let t = Scripted::new(vec![
            Err(TransportError::Connection("reset".into())),
            ok(412, &[], b""),
            ok(200, &[], &object_json("k", b"other", "5")),
        ]);
        assert!(run(client(t, "").upload("k", data, Some("0")))
            .unwrap_err()
            .is_precondition_failed());
    }

    #[test]
    fn list_all_follows_tokens() {
        let t = Scripted::new(vec![
            ok(
                200,
                &[],
                br#"{"items":[{"name":"a"}],"nextPageToken":"p2"}"#,
            ),
            ok(200, &[], br#"{"items":[{"name":"b"}]}"#),
        ]);
        let all = run(client(t.clone(), "").list_all(None)).unwrap();
        assert_eq!(
            all.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(t.io.requests()[1].url.ends_with("pageToken=p2"));
    }

    #[test]
    fn resumable_resumes_after_a_broken_chunk() {
        let data: Vec<u8> = (0..(600 * 1024u32)).map(|i| i as u8).collect();
        let t = Scripted::new(vec![
            ok(200, &[("location", "/upload/session/1")], b""),
            ok(308, &[("range", "bytes=0-262143")], b""),
            ok(503, &[], b""),
            ok(308, &[("range", "bytes=0-524287")], b""),
            ok(200, &[], &object_json("big", &data, "3")),
        ]);
        let c = client(
            t.clone(),
            r#","resumableThresholdBytes":1000,"resumableChunkBytes":262144"#,
        );
        let meta = run(c.upload("big", &data, None)).unwrap();
        assert_eq!(meta.size, data.len() as u64);
        let sent = t.io.requests();
        let ranges: Vec<_> = sent
            .iter()
            .filter_map(|r| r.header_value("content-range"))
            .collect();
        assert_eq!(
            ranges,
            [
                "bytes 0-262143/614400",
                "bytes 262144-524287/614400",
                "bytes */614400",
                "bytes 524288-614399/614400"
            ]
        );
        assert_eq!(sent[1].url, "http://127.0.0.1:9/upload/session/1");
        assert!(
            sent[4].header_value("x-goog-hash").is_some(),
            "last chunk carries the crc"
        );
    }

    fn cut(status: u16) -> std::result::Result<HttpResponse, TransportError> {
        Err(TransportError::BodyCut {
            status,
            received: 10,
            detail: "injected".into(),
        })
    }

    fn big() -> Vec<u8> {
        (0..(300 * 1024u32)).map(|i| (i % 251) as u8).collect()
    }

    fn resumable_client(t: Rc<Scripted>) -> GcsClient<Scripted, NoAuth> {
        client(
            t,
            r#","resumableThresholdBytes":1000,"resumableChunkBytes":262144"#,
        )
    }

    fn ranges(t: &Scripted) -> Vec<String> {
        t.io.requests()
            .iter()
            .filter_map(|r| r.header_value("content-range").map(String::from))
            .collect()
    }

    #[test]
    fn resumable_final_answer_cut_or_mangled_is_settled_by_the_session() {
        let data = big();
        // The final 200 arrives with a body that stops mid-JSON, or breaks off on the wire.
        for final_answer in [ok(200, &[], br#"{"name": ""#), cut(200), ok(200, &[], b"")] {
            let t = Scripted::new(vec![
                ok(200, &[("location", "/upload/s")], b""),
                ok(308, &[("range", "bytes=0-262143")], b""),
                final_answer.clone(),
                ok(200, &[], &object_json("big", &data, "3")),
            ]);
            let meta = run(resumable_client(t.clone()).upload("big", &data, None))
                .unwrap_or_else(|e| panic!("{final_answer:?}: {e}"));
            assert_eq!(
                (meta.size, meta.generation.as_str()),
                (data.len() as u64, "3")
            );
            assert_eq!(
                ranges(&t),
                [
                    "bytes 0-262143/307200",
                    "bytes 262144-307199/307200",
                    "bytes */307200"
                ],
                "{final_answer:?}: one status query, no byte sent twice"
            );
        }
    }

    #[test]
    fn resumable_session_gone_after_finishing_is_settled_by_read_back() {
        let data = big();
        let t = Scripted::new(vec![
            ok(200, &[("location", "/upload/s")], b""),
            ok(308, &[("range", "bytes=0-262143")], b""),
            Err(TransportError::Connection("reset".into())),
            ok(404, &[], b""),
            ok(200, &[], &object_json("big", &data, "4")),
        ]);
        let meta = run(resumable_client(t.clone()).upload("big", &data, None)).unwrap();
        assert_eq!(meta.generation, "4");
        assert_eq!(t.io.requests().last().unwrap().method, Method::Get);

        // The object read back is not ours: the upload fails, it does not claim success.
        let t = Scripted::new(vec![
            ok(200, &[("location", "/upload/s")], b""),
            ok(308, &[("range", "bytes=0-262143")], b""),
            cut(200),
            ok(404, &[], b""),
            ok(200, &[], &object_json("big", b"other", "4")),
        ]);
        let e = run(resumable_client(t).upload("big", &data, None)).unwrap_err();
        assert!(e.message().contains("session is gone"), "{}", e.message());
    }

    #[test]
    fn resumable_finished_with_other_content_is_an_integrity_error() {
        let data = big();
        let t = Scripted::new(vec![
            ok(200, &[("location", "/upload/s")], b""),
            ok(308, &[("range", "bytes=0-262143")], b""),
            ok(200, &[], &object_json("big", &data[1..], "3")),
        ]);
        let e = run(resumable_client(t).upload("big", &data, None)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Integrity, "{}", e.message());
    }

    #[test]
    fn accepted_writes_with_unreadable_replies_are_read_back_not_repeated() {
        let data = b"index body";
        for (cond, answer) in [
            (None, ok(200, &[], br#"{"name":"k","si"#)),
            (None, cut(200)),
            (Some("0"), ok(200, &[], b"<html>")),
            (Some("7"), cut(200)),
        ] {
            let t = Scripted::new(vec![
                answer.clone(),
                ok(200, &[], &object_json("k", data, "8")),
            ]);
            let meta = run(client(t.clone(), "").upload("k", data, cond))
                .unwrap_or_else(|e| panic!("{cond:?} {answer:?}: {e}"));
            assert_eq!(meta.generation, "8");
            let methods: Vec<_> = t.io.requests().iter().map(|r| r.method).collect();
            assert_eq!(methods, [Method::Post, Method::Get], "{cond:?} {answer:?}");
        }
        // A read-back showing other content: the unreadable reply is reported.
        let t = Scripted::new(vec![cut(200), ok(200, &[], &object_json("k", b"x", "8"))]);
        assert!(run(client(t, "").upload("k", data, None)).is_err());
    }

    #[test]
    fn a_delete_whose_reply_broke_off_happened() {
        let t = Scripted::new(vec![cut(204)]);
        assert!(run(client(t.clone(), "").delete("k", Some("5"))).unwrap());
        assert_eq!(t.io.requests().len(), 1, "not repeated");
    }

    #[test]
    fn a_copy_with_an_unreadable_answer_is_settled_by_comparing_objects() {
        let t = Scripted::new(vec![
            ok(200, &[], br#"{"done":tr"#),
            ok(200, &[], &object_json("s", b"abc", "1")),
            ok(200, &[], &object_json("d", b"abc", "9")),
        ]);
        let meta = run(client(t.clone(), "").copy("s", "d")).unwrap();
        assert_eq!(meta.generation, "9");
        // Not done yet: the same call is repeated.
        let t = Scripted::new(vec![
            cut(200),
            ok(200, &[], &object_json("s", b"abc", "1")),
            ok(404, &[], b""),
            ok(
                200,
                &[],
                br#"{"done":true,"resource":{"name":"d","generation":"4"}}"#,
            ),
        ]);
        assert_eq!(run(client(t, "").copy("s", "d")).unwrap().generation, "4");
    }

    #[test]
    fn copy_loops_until_done() {
        let t = Scripted::new(vec![
            ok(200, &[], br#"{"done":false,"rewriteToken":"t1"}"#),
            ok(
                200,
                &[],
                br#"{"done":true,"resource":{"name":"d","generation":"4"}}"#,
            ),
        ]);
        let meta = run(client(t.clone(), "").copy("s", "d")).unwrap();
        assert_eq!(meta.generation, "4");
        assert!(t.io.requests()[1].url.ends_with("rewriteToken=t1"));
    }

    #[test]
    fn delete_missing_is_not_an_error() {
        let t = Scripted::new(vec![ok(404, &[], b"")]);
        assert!(!run(client(t, "").delete("gone", None)).unwrap());
    }
}
