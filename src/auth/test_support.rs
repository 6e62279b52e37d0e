//! Fakes for the auth unit tests: a scripted transport, a settable clock, an in-memory
//! environment, and a minimal executor.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use serde_json::json;

use super::CredentialEnv;
use crate::transport::{Clock, HttpRequest, HttpResponse, Transport, TransportError};

/// The committed throw-away test key (see fixtures/auth/README.md). TEST KEY, not a secret.
pub(crate) const TEST_KEY_PEM: &str = include_str!("../../fixtures/auth/test-sa-key.pem");

/// Its public half.
pub(crate) const TEST_PUBLIC_KEY_PEM: &str =
    include_str!("../../fixtures/auth/test-sa-key.pub.pem");

/// A service-account key file for the test key.
pub(crate) fn test_key_json(token_uri: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "test-key-id-0001",
        "private_key": TEST_KEY_PEM,
        "client_email": "sa@test-project.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": token_uri,
    })
    .to_string()
}

/// An `authorized_user` file whose secrets contain the marker `SECRET`.
pub(crate) fn user_json(token_uri: &str) -> String {
    json!({
        "type": "authorized_user",
        "client_id": "cid.apps",
        "client_secret": "cs-SECRET",
        "refresh_token": "1//refresh-SECRET",
        "token_uri": token_uri,
    })
    .to_string()
}

/// Decode one field of a form body (enough for the values the tests send).
pub(crate) fn form_field(body: &str, name: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Shared file map, so a test can change a file after handing the env to a provider.
pub(crate) type Files = Rc<RefCell<HashMap<String, String>>>;

/// An in-memory [`CredentialEnv`].
#[derive(Default)]
pub(crate) struct FakeEnv {
    vars: HashMap<String, String>,
    files: Files,
    unreadable: Vec<String>,
}

impl FakeEnv {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    pub(crate) fn file(self, path: &str, content: &str) -> Self {
        self.files.borrow_mut().insert(path.into(), content.into());
        self
    }

    pub(crate) fn unreadable(mut self, path: &str) -> Self {
        self.unreadable.push(path.into());
        self
    }

    pub(crate) fn files_handle(&self) -> Files {
        Rc::clone(&self.files)
    }
}

impl CredentialEnv for FakeEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn read_file(&self, path: &str) -> std::io::Result<Vec<u8>> {
        if self.unreadable.iter().any(|p| p == path) {
            return Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        }
        self.files
            .borrow()
            .get(path)
            .map(|c| c.clone().into_bytes())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }
}

/// A transport that answers from a script, in order, and records what was sent. Each answer
/// arrives after one `Pending`, like a real network round trip, so concurrent callers
/// really interleave. An unscripted request panics.
#[derive(Default)]
pub(crate) struct FakeTransport {
    script: RefCell<VecDeque<Result<HttpResponse, TransportError>>>,
    sent: RefCell<Vec<(HttpRequest, u64)>>,
}

impl FakeTransport {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn reply(self, status: u16, body: &str) -> Self {
        self.script.borrow_mut().push_back(Ok(HttpResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }));
        self
    }

    pub(crate) fn fail(self, err: TransportError) -> Self {
        self.script.borrow_mut().push_back(Err(err));
        self
    }

    pub(crate) fn sent(&self) -> Vec<(HttpRequest, u64)> {
        self.sent.borrow().clone()
    }
}

impl Transport for FakeTransport {
    fn send(
        &self,
        req: &HttpRequest,
        timeout_ms: u64,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>> {
        self.sent.borrow_mut().push((req.clone(), timeout_ms));
        let answer =
            self.script.borrow_mut().pop_front().unwrap_or_else(|| {
                panic!("unexpected request: {} {}", req.method.as_str(), req.url)
            });
        async move {
            YieldOnce(false).await;
            answer
        }
    }
}

/// Returns `Pending` once, then `Ready`.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A clock that moves only when told to.
pub(crate) struct FakeClock {
    now_ms: Cell<u64>,
}

/// Wall-clock time of `FakeClock`'s monotonic zero.
const UNIX_BASE_MS: i64 = 1_700_000_000_000;

impl FakeClock {
    pub(crate) fn new() -> Self {
        FakeClock {
            now_ms: Cell::new(0),
        }
    }

    pub(crate) fn advance(&self, ms: u64) {
        self.now_ms.set(self.now_ms.get() + ms);
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> u64 {
        self.now_ms.get()
    }

    fn unix_ms(&self) -> i64 {
        UNIX_BASE_MS + self.now_ms.get() as i64
    }

    fn sleep(&self, ms: u64) -> impl Future<Output = ()> {
        self.advance(ms);
        std::future::ready(())
    }

    fn random_u64(&self) -> u64 {
        4
    }
}

/// Poll `fut` to completion on this thread. Everything in these tests is ready after a
/// bounded number of polls, so a busy loop with a no-op waker suffices; the cap turns a
/// deadlock into a failure instead of a hang.
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..10_000 {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("future did not complete (deadlock?)");
}
