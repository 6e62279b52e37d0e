//! Test-only doubles, in one place: the in-memory GCS ([`FakeGcs`], transport and clock of
//! the sync and lock tests), a scripted transport ([`ScriptedTransport`]) and a settable
//! clock ([`FakeClock`]) for the client, auth and retry tests, and the executor that runs
//! their futures ([`run`]).

mod fake_gcs;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use crate::transport::{Clock, HttpRequest, HttpResponse, Transport, TransportError};

pub use fake_gcs::{FakeGcs, Fault, Kind};

/// Poll `f` to completion on this thread. Every double answers after at most a few
/// pending polls, so a busy loop with a no-op waker suffices; the cap turns a deadlock
/// into a failure instead of a hang.
pub fn run<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..100_000_000u64 {
        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("future never completed")
}

/// A future that is pending exactly once (and asks to be polled again), like a network
/// round trip: concurrent callers really interleave.
pub(crate) struct YieldOnce(pub(crate) bool);

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

/// Wall-clock time of [`FakeClock`]'s monotonic zero.
pub const UNIX_BASE_MS: i64 = 1_700_000_000_000;

/// A clock that moves only when told to or slept on; its sleeps are recorded.
pub struct FakeClock {
    now_ms: Cell<u64>,
    random: Cell<u64>,
    sleeps: RefCell<Vec<u64>>,
}

impl FakeClock {
    /// At monotonic 0, random values 4.
    pub fn new() -> Self {
        FakeClock {
            now_ms: Cell::new(0),
            random: Cell::new(4),
            sleeps: RefCell::new(Vec::new()),
        }
    }

    /// The same clock starting at `ms`.
    pub fn at(self, ms: u64) -> Self {
        self.now_ms.set(ms);
        self
    }

    /// The same clock returning `random` from `random_u64`.
    pub fn with_random(self, random: u64) -> Self {
        self.random.set(random);
        self
    }

    /// Move time forward.
    pub fn advance(&self, ms: u64) {
        self.now_ms.set(self.now_ms.get() + ms);
    }

    /// The sleeps so far, in order.
    pub fn sleeps(&self) -> Vec<u64> {
        self.sleeps.borrow().clone()
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
        self.sleeps.borrow_mut().push(ms);
        self.advance(ms);
        std::future::ready(())
    }

    fn random_u64(&self) -> u64 {
        self.random.get()
    }
}

/// A transport that answers from a script, in order, and records what was sent (with each
/// request's timeout). Each answer arrives after one pending poll. A request past the end
/// of the script fails as a lost connection.
#[derive(Default)]
pub struct ScriptedTransport {
    script: RefCell<VecDeque<Result<HttpResponse, TransportError>>>,
    sent: RefCell<Vec<(HttpRequest, u64)>>,
}

impl ScriptedTransport {
    /// An empty script.
    pub fn new() -> Self {
        Self::default()
    }

    /// A script of these answers.
    pub fn of(answers: Vec<Result<HttpResponse, TransportError>>) -> Self {
        ScriptedTransport {
            script: RefCell::new(answers.into()),
            sent: RefCell::default(),
        }
    }

    /// Add a JSON answer.
    pub fn reply(self, status: u16, body: &str) -> Self {
        self.script.borrow_mut().push_back(Ok(HttpResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }));
        self
    }

    /// Add a transport failure.
    pub fn fail(self, err: TransportError) -> Self {
        self.script.borrow_mut().push_back(Err(err));
        self
    }

    /// Requests sent so far, with their timeouts.
    pub fn sent(&self) -> Vec<(HttpRequest, u64)> {
        self.sent.borrow().clone()
    }

    /// Requests sent so far.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.sent.borrow().iter().map(|(r, _)| r.clone()).collect()
    }
}

impl Transport for ScriptedTransport {
    fn send(
        &self,
        req: &HttpRequest,
        timeout_ms: u64,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>> {
        self.sent.borrow_mut().push((req.clone(), timeout_ms));
        let answer = self
            .script
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| Err(TransportError::Connection("script exhausted".into())));
        async move {
            YieldOnce(false).await;
            answer
        }
    }
}
