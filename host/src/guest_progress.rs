//! The guest's stderr: progress lines picked out, everything else passed through as before.
//!
//! The component reports progress as marked lines on `wasi:cli/stderr` (the protocol is
//! defined in the guest's `src/progress.rs`: `\x1e` then one JSON object, then `\n`). Every
//! datastore's stderr is a [`StderrSplitter`]: a line starting with the marker becomes a
//! [`GuestEvent`] published to the host's [`GuestProgress`]; any other byte goes to this
//! process's stderr when the datastore was opened with `inherit_stderr`, and nowhere
//! otherwise (exactly what happened before the splitter existed). A marked line is never
//! printed.
//!
//! The guest writes progress only when its environment has `SWAMP_GCS_PROGRESS=1`, which
//! [`crate::Host::open`] sets for datastores opened with `progress: true`.

use bytes::Bytes;
use std::io::Write as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::sync::mpsc;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// The first byte of a progress line.
pub const MARKER: u8 = 0x1e;
/// The guest environment variable that turns progress lines on.
pub const ENABLE_VAR: &str = "SWAMP_GCS_PROGRESS";
/// A marked line longer than this is dropped (the guest's are under 200 bytes).
const MAX_LINE: usize = 4096;

/// One progress event of the call in flight.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GuestEvent {
    /// `index`, `walk`, `download`, `upload` or `writeback`.
    pub phase: String,
    /// Files of the plan finished.
    #[serde(default)]
    pub done: u64,
    /// Files in the plan; `None` before it is known.
    #[serde(default)]
    pub total: Option<u64>,
    /// Bytes of the finished files.
    #[serde(default)]
    pub bytes: u64,
    /// Bytes in the plan; `None` before it is known.
    #[serde(default)]
    pub bytes_total: Option<u64>,
}

impl GuestEvent {
    /// Parse one line (without its newline) if it is a progress line. `None` for anything
    /// else, including a marked line that is not a valid event.
    pub fn parse(line: &[u8]) -> Option<GuestEvent> {
        let body = line.strip_prefix(&[MARKER])?;
        serde_json::from_slice(body).ok()
    }
}

/// Where the guests' progress events go: at most one subscriber at a time (the display
/// of the call in flight). Shared by every datastore opened from one host.
#[derive(Debug, Default)]
pub struct GuestProgress {
    subscriber: Mutex<Option<mpsc::UnboundedSender<GuestEvent>>>,
    events: AtomicU64,
}

impl GuestProgress {
    /// Receive every event from now on (replacing any earlier subscriber).
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<GuestEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.lock() = Some(tx);
        rx
    }

    /// Stop delivering events.
    pub fn unsubscribe(&self) {
        *self.lock() = None;
    }

    /// Events received from guests so far (delivered or not).
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    fn publish(&self, event: GuestEvent) {
        self.events.fetch_add(1, Ordering::Relaxed);
        if let Some(tx) = self.lock().as_ref() {
            let _ = tx.send(event);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<mpsc::UnboundedSender<GuestEvent>>> {
        self.subscriber.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the splitter does with the bytes of the line being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// Nothing written since the last newline.
    Start,
    /// An ordinary line: passed through as it arrives.
    Plain,
    /// A progress line: collected until its newline.
    Marked,
}

/// Splits a byte stream into progress events and passed-through bytes.
#[derive(Debug)]
struct Splitter {
    line: Line,
    marked: Vec<u8>,
    progress: Arc<GuestProgress>,
}

impl Splitter {
    /// Consume `bytes`; returns what to pass through.
    fn feed(&mut self, mut bytes: &[u8]) -> Vec<u8> {
        let mut through = Vec::new();
        while let Some(&first) = bytes.first() {
            if self.line == Line::Start {
                self.line = if first == MARKER {
                    Line::Marked
                } else {
                    Line::Plain
                };
            }
            let end = bytes.iter().position(|b| *b == b'\n');
            let (chunk, rest) = match end {
                Some(i) => (&bytes[..=i], &bytes[i + 1..]),
                None => (bytes, &[][..]),
            };
            match self.line {
                Line::Plain => through.extend_from_slice(chunk),
                Line::Marked => {
                    if self.marked.len() + chunk.len() <= MAX_LINE + 1 {
                        self.marked.extend_from_slice(chunk);
                    } else {
                        self.marked.clear();
                        self.marked.push(0); // too long: never a valid event
                    }
                    if end.is_some() {
                        let line = self.marked.strip_suffix(b"\n").unwrap_or(&self.marked);
                        if let Some(event) = GuestEvent::parse(line) {
                            self.progress.publish(event);
                        }
                        self.marked.clear();
                    }
                }
                Line::Start => {}
            }
            if end.is_some() {
                self.line = Line::Start;
            }
            bytes = rest;
        }
        through
    }
}

/// The last bytes of a guest's stderr (its trace lines, never progress), kept so a failing
/// test can show them.
#[derive(Debug, Default)]
pub struct StderrTail(Mutex<Vec<u8>>);

impl StderrTail {
    /// Bytes kept; older ones are dropped first.
    pub const MAX: usize = 64 * 1024;

    fn push(&self, bytes: &[u8]) {
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        kept.extend_from_slice(bytes);
        if kept.len() > Self::MAX {
            let cut = kept.len() - Self::MAX;
            kept.drain(..cut);
        }
    }

    /// What was kept, lossily decoded.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

/// The guest's stderr: see the module documentation.
#[derive(Debug, Clone)]
pub struct StderrSplitter {
    splitter: Arc<Mutex<Splitter>>,
    forward: bool,
    tail: Option<Arc<StderrTail>>,
}

impl StderrSplitter {
    /// A splitter publishing to `progress`; other bytes go to our stderr if `forward`, and
    /// to `tail` when given.
    pub fn new(progress: Arc<GuestProgress>, forward: bool, tail: Option<Arc<StderrTail>>) -> Self {
        StderrSplitter {
            splitter: Arc::new(Mutex::new(Splitter {
                line: Line::Start,
                marked: Vec::new(),
                progress,
            })),
            forward,
            tail,
        }
    }

    fn write_bytes(&self, bytes: &[u8]) -> std::io::Result<()> {
        let through = self
            .splitter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .feed(bytes);
        if let Some(tail) = &self.tail {
            tail.push(&through);
        }
        if self.forward && !through.is_empty() {
            std::io::stderr().write_all(&through)?;
        }
        Ok(())
    }
}

impl IsTerminal for StderrSplitter {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StderrSplitter {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for StderrSplitter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        // Progress must never fail the guest: a broken host stderr loses the text only.
        let _ = self.write_bytes(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        if self.forward {
            let _ = std::io::stderr().flush();
        }
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for StderrSplitter {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for StderrSplitter {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let _ = self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splitter() -> (Splitter, mpsc::UnboundedReceiver<GuestEvent>) {
        let progress = Arc::new(GuestProgress::default());
        let rx = progress.subscribe();
        (
            Splitter {
                line: Line::Start,
                marked: Vec::new(),
                progress,
            },
            rx,
        )
    }

    fn drain(rx: &mut mpsc::UnboundedReceiver<GuestEvent>) -> Vec<GuestEvent> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    const EVENT: &str =
        "\x1e{\"v\":1,\"phase\":\"download\",\"done\":2,\"total\":5,\"bytes\":10,\"bytesTotal\":50}\n";

    #[test]
    fn the_tail_keeps_the_latest_plain_text_only() {
        let progress = Arc::new(GuestProgress::default());
        let tail = Arc::new(StderrTail::default());
        let s = StderrSplitter::new(progress, false, Some(tail.clone()));
        s.write_bytes(format!("first\n{EVENT}second\n").as_bytes())
            .unwrap();
        assert_eq!(
            tail.text(),
            "first\nsecond\n",
            "progress lines are not kept"
        );
        let big = "y".repeat(StderrTail::MAX);
        s.write_bytes(format!("{big}\nlast\n").as_bytes()).unwrap();
        let text = tail.text();
        assert_eq!(text.len(), StderrTail::MAX, "bounded");
        assert!(text.ends_with("\nlast\n") && !text.contains("first"));
    }

    #[test]
    fn marked_lines_become_events_and_plain_text_passes_through() {
        let (mut s, mut rx) = splitter();
        let input = format!("panicked at x\n{EVENT}tail without newline");
        let through = s.feed(input.as_bytes());
        assert_eq!(through, b"panicked at x\ntail without newline");
        let events = drain(&mut rx);
        assert_eq!(
            events,
            [GuestEvent {
                phase: "download".into(),
                done: 2,
                total: Some(5),
                bytes: 10,
                bytes_total: Some(50),
            }]
        );
    }

    #[test]
    fn lines_split_across_writes_byte_by_byte() {
        let (mut s, mut rx) = splitter();
        let input = format!("a\n{EVENT}{EVENT}b\n");
        let mut through = Vec::new();
        for b in input.as_bytes() {
            through.extend(s.feed(std::slice::from_ref(b)));
        }
        assert_eq!(through, b"a\nb\n");
        assert_eq!(drain(&mut rx).len(), 2);
    }

    #[test]
    fn bad_or_overlong_marked_lines_are_dropped_never_printed() {
        let (mut s, mut rx) = splitter();
        let long = format!("\x1e{}\n", "x".repeat(MAX_LINE * 2));
        let input = format!("\x1enot json\n\x1e{{\"done\":1}}\n{long}ok\n");
        assert_eq!(s.feed(input.as_bytes()), b"ok\n");
        assert!(drain(&mut rx).is_empty());
        let total_null = "\x1e{\"phase\":\"walk\",\"total\":null,\"extra\":[1]}\n";
        assert_eq!(s.feed(total_null.as_bytes()), b"");
        assert_eq!(drain(&mut rx)[0].total, None);
    }
}
