//! The progress display of a pull or push on stderr, from the component's progress events.
//!
//! The guest reports its phase and, once the plan is known, files and bytes done out of
//! their totals ([`gcs_host::guest_progress`]). What is shown depends on `--progress` and
//! where stderr goes ([`Display::choose`]):
//!
//! | `--progress` | terminal, human | piped, human | `--json` |
//! |---|---|---|---|
//! | `auto` (default) | a bar redrawn in place | nothing | nothing |
//! | `always` | a bar redrawn in place | a plain line every few seconds | JSON lines |
//! | `never` | nothing | nothing | nothing |
//!
//! Plain lines come at each phase change, every [`LINE_EVERY`] and once at the end, with no
//! `\r` and no escape sequence, for CI logs. JSON lines are one object per event
//! (`{"progress":"pull","phase":…,"done":…,"total":…,"bytes":…,"bytesTotal":…,
//! "elapsedMs":…}`), so a wrapper can show them while stdout keeps its one result object.
//!
//! Nothing is drawn until the work has run for a moment, so quick calls never show a byte
//! of it. `SWAMP_GCS_PROGRESS_DELAY_MS` sets that moment (default 300 ms; the tests use 0).
//!
//! The line itself is [`render`]: a pure function of the phase, the counts, their totals
//! and the time since the plan was known.

use super::args::ProgressMode;
use super::output::bytes;
use gcs_host::guest_progress::GuestEvent;
use gcs_host::Host;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::io::IsTerminal as _;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Work shorter than this never shows progress (unless `SWAMP_GCS_PROGRESS_DELAY_MS`).
const SHOW_AFTER: Duration = Duration::from_millis(300);
/// How often the bar is redrawn.
const POLL: Duration = Duration::from_millis(100);
/// How often a plain line is printed within one phase.
pub const LINE_EVERY: Duration = Duration::from_secs(3);
/// Width of the bar, in characters between the brackets.
const BAR_WIDTH: usize = 16;

fn show_after() -> Duration {
    std::env::var("SWAMP_GCS_PROGRESS_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(SHOW_AFTER)
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Not at all.
    Off,
    /// A bar redrawn in place on a terminal.
    Bar,
    /// Plain lines, every few seconds and at phase changes.
    Lines,
    /// One JSON object a line.
    Json,
    /// Everything `Lines` and `Json` do (events taken in, lines rendered), nothing
    /// printed: what the bench measures.
    Silent,
}

impl Display {
    /// The display for `--progress`, `--json` and whether stderr is a terminal.
    pub fn choose(mode: ProgressMode, json: bool, terminal: bool) -> Display {
        match (mode, json, terminal) {
            (ProgressMode::Never, _, _) => Display::Off,
            (ProgressMode::Auto, false, true) => Display::Bar,
            (ProgressMode::Auto, _, _) => Display::Off,
            (ProgressMode::Always, true, _) => Display::Json,
            (ProgressMode::Always, false, true) => Display::Bar,
            (ProgressMode::Always, false, false) => Display::Lines,
        }
    }

    /// The display for this process's options and stderr.
    pub fn for_options(mode: ProgressMode, json: bool) -> Display {
        Display::choose(mode, json, std::io::stderr().is_terminal())
    }
}

/// What one progress line shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View<'a> {
    /// `pull` or `push`.
    pub label: &'a str,
    /// The guest's phase (`""` before its first event).
    pub phase: &'a str,
    /// Files done.
    pub done: u64,
    /// Files in the plan, once known.
    pub total: Option<u64>,
    /// Bytes done (before the plan: bytes the host moved so far).
    pub bytes: u64,
    /// Bytes in the plan, once known.
    pub bytes_total: Option<u64>,
    /// Time since the plan was known (before it: since the call started).
    pub elapsed: Duration,
}

fn phase_words(phase: &str) -> &str {
    match phase {
        "" => "starting",
        "index" => "fetching the index",
        "walk" => "comparing the cache with the index",
        "download" => "downloading",
        "upload" => "uploading",
        "writeback" => "writing the index",
        other => other,
    }
}

/// "7s", "1m05s", "2h03m".
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// Time left at the pace so far, from whichever of files and bytes says longer; `None`
/// until something finished.
fn time_left(v: &View, total: u64) -> Option<Duration> {
    let secs = v.elapsed.as_secs_f64();
    let left = |done: u64, total: u64| -> Option<f64> {
        (done > 0).then(|| secs * total.saturating_sub(done) as f64 / done as f64)
    };
    let by_files = left(v.done, total);
    let by_bytes = v.bytes_total.and_then(|t| left(v.bytes, t));
    let worst = match (by_files, by_bytes) {
        (Some(a), Some(b)) => a.max(b),
        (a, b) => a.or(b)?,
    };
    Some(Duration::from_secs_f64(worst.min(1e9)))
}

/// The progress line: a pure function of what the guest reported and the time.
///
/// Before the plan: `pull: fetching the index (1.2 MiB) 3s`. With the plan:
/// `pull [======>---------] 380/1000 files  1.2 MiB/3.1 MiB  410.0 KiB/s  5s left`.
/// `done` beyond `total` (a plan that changed) shows a full bar, never a panic.
pub fn render(v: &View) -> String {
    let Some(total) = v.total else {
        let moved = if v.bytes > 0 {
            format!(" ({})", bytes(v.bytes))
        } else {
            String::new()
        };
        return format!(
            "{}: {}{moved} {}",
            v.label,
            phase_words(v.phase),
            short_duration(v.elapsed)
        );
    };
    if total == 0 {
        return format!(
            "{} [{}] nothing to transfer",
            v.label,
            "=".repeat(BAR_WIDTH)
        );
    }
    let done = v.done.min(total);
    let filled = (done as u128 * BAR_WIDTH as u128 / total as u128) as usize;
    let bar = if filled >= BAR_WIDTH {
        "=".repeat(BAR_WIDTH)
    } else {
        format!(
            "{}>{}",
            "=".repeat(filled),
            "-".repeat(BAR_WIDTH - filled - 1)
        )
    };
    let mut line = format!("{} [{bar}] {}/{total} files", v.label, v.done);
    match v.bytes_total {
        Some(bt) => line.push_str(&format!("  {}/{}", bytes(v.bytes), bytes(bt))),
        None => line.push_str(&format!("  {}", bytes(v.bytes))),
    }
    let secs = v.elapsed.as_secs_f64();
    if secs >= 0.05 && v.bytes > 0 {
        line.push_str(&format!("  {}/s", bytes((v.bytes as f64 / secs) as u64)));
    }
    if done < total {
        match time_left(v, total) {
            Some(left) => line.push_str(&format!("  {} left", short_duration(left))),
            None => line.push_str("  -- left"),
        }
    }
    line
}

/// The state the display keeps between events.
#[derive(Debug)]
struct Tracker {
    label: String,
    event: GuestEvent,
    started: Instant,
    /// When the current totals arrived.
    planned: Option<Instant>,
    /// Bytes the host had moved when the current phase began.
    moved_base: u64,
}

impl Tracker {
    fn apply(&mut self, e: GuestEvent, moved: u64) {
        if e.phase != self.event.phase {
            self.moved_base = moved;
        }
        if e.total.is_some() && (self.event.total.is_none() || self.event.phase != e.phase) {
            self.planned = Some(Instant::now());
        } else if e.total.is_none() {
            self.planned = None;
        }
        self.event = e;
    }

    fn line(&self, moved: u64) -> String {
        let e = &self.event;
        let planned = e.total.is_some();
        render(&View {
            label: &self.label,
            phase: &e.phase,
            done: e.done,
            total: e.total,
            bytes: if planned {
                e.bytes
            } else {
                moved.saturating_sub(self.moved_base)
            },
            bytes_total: e.bytes_total,
            elapsed: self.planned.unwrap_or(self.started).elapsed(),
        })
    }

    fn json(&self) -> String {
        let e = &self.event;
        json!({
            "progress": self.label,
            "phase": e.phase,
            "done": e.done,
            "total": e.total,
            "bytes": e.bytes,
            "bytesTotal": e.bytes_total,
            "elapsedMs": u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
        .to_string()
    }
}

/// A running progress display (or nothing, when off).
pub struct Progress {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    host: Option<Arc<gcs_host::guest_progress::GuestProgress>>,
}

fn eprint_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
    let _ = err.flush();
}

impl Progress {
    /// Start showing the progress of the `label` call about to run on `host`.
    pub fn start(host: &Host, label: &str, display: Display) -> Progress {
        if display == Display::Off {
            return Progress {
                stop: None,
                task: None,
                host: None,
            };
        }
        let events = host.progress.subscribe();
        let (stop, stopped) = oneshot::channel::<()>();
        let traffic = host.traffic.clone();
        let tracker = Tracker {
            label: label.to_string(),
            event: GuestEvent::default(),
            started: Instant::now(),
            planned: None,
            moved_base: 0,
        };
        let task = tokio::spawn(show(display, tracker, events, stopped, move || {
            let s = traffic.snapshot();
            s.bytes_received + s.bytes_sent
        }));
        Progress {
            stop: Some(stop),
            task: Some(task),
            host: Some(host.progress.clone()),
        }
    }

    /// Stop (printing the last plain line, or erasing the bar).
    pub async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(h) = self.host.take() {
            h.unsubscribe();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(h) = self.host.take() {
            h.unsubscribe();
        }
    }
}

async fn show(
    display: Display,
    mut t: Tracker,
    mut events: mpsc::UnboundedReceiver<GuestEvent>,
    mut stopped: oneshot::Receiver<()>,
    moved: impl Fn() -> u64,
) {
    let base = moved();
    let moved = || moved().saturating_sub(base);
    // The quiet moment: events are taken in, nothing is shown.
    let quiet = tokio::time::sleep(show_after());
    tokio::pin!(quiet);
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            _ = &mut quiet => break,
            Some(e) = events.recv() => t.apply(e, moved()),
        }
    }
    let bar = (display == Display::Bar).then(|| {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar
    });
    let mut shown: Option<GuestEvent> = None;
    let mut shown_at = Instant::now();
    let mut dirty = true;
    let mut tick = tokio::time::interval(POLL);
    loop {
        match display {
            Display::Bar => {
                if let Some(bar) = &bar {
                    bar.set_message(t.line(moved()));
                    bar.tick();
                }
            }
            Display::Lines => {
                let new_phase = shown.as_ref().is_none_or(|e| e.phase != t.event.phase);
                if new_phase || shown_at.elapsed() >= LINE_EVERY {
                    eprint_line(&t.line(moved()));
                    shown = Some(t.event.clone());
                    shown_at = Instant::now();
                }
            }
            Display::Json if dirty => eprint_line(&t.json()),
            Display::Silent => {
                std::hint::black_box((t.line(moved()), dirty.then(|| t.json())));
            }
            Display::Json | Display::Off => {}
        }
        dirty = false;
        tokio::select! {
            _ = &mut stopped => break,
            _ = tick.tick() => {}
            Some(e) = events.recv() => { t.apply(e, moved()); dirty = true; }
        }
    }
    // Events already written by the guest before the call returned.
    while let Ok(e) = events.try_recv() {
        t.apply(e, moved());
        dirty = true;
    }
    match display {
        Display::Bar => {
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
        }
        // The last state, unless that line was just printed.
        Display::Lines if shown.as_ref() != Some(&t.event) => eprint_line(&t.line(moved())),
        Display::Lines => {}
        Display::Json if dirty => eprint_line(&t.json()),
        Display::Json | Display::Silent | Display::Off => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(
        phase: &'a str,
        done: u64,
        total: Option<u64>,
        bytes: u64,
        bytes_total: Option<u64>,
        secs: u64,
    ) -> View<'a> {
        View {
            label: "pull",
            phase,
            done,
            total,
            bytes,
            bytes_total,
            elapsed: Duration::from_secs(secs),
        }
    }

    #[test]
    fn render_table() {
        let mib = 1024 * 1024;
        let cases: &[(View, &str)] = &[
            (view("", 0, None, 0, None, 0), "pull: starting 0s"),
            (
                view("index", 0, None, 3 * mib / 2, None, 4),
                "pull: fetching the index (1.5 MiB) 4s",
            ),
            (
                view("walk", 0, None, 0, None, 75),
                "pull: comparing the cache with the index 1m15s",
            ),
            // A total of 0: nothing to do, a full bar, no rate or time left.
            (
                view("download", 0, Some(0), 0, Some(0), 1),
                "pull [================] nothing to transfer",
            ),
            // A total of 1, before and after the file.
            (
                view("download", 0, Some(1), 0, Some(2048), 0),
                "pull [>---------------] 0/1 files  0 B/2.0 KiB  -- left",
            ),
            (
                view("download", 1, Some(1), 2048, Some(2048), 2),
                "pull [================] 1/1 files  2.0 KiB/2.0 KiB  1.0 KiB/s",
            ),
            // A quarter done in 10 s: 30 s left by files; bytes at half say 10 s.
            (
                view("download", 250, Some(1000), 5 * mib, Some(10 * mib), 10),
                "pull [====>-----------] 250/1000 files  5.0 MiB/10.0 MiB  512.0 KiB/s  30s left",
            ),
            // Bytes behind files: the slower estimate wins.
            (
                view("download", 500, Some(1000), mib, Some(10 * mib), 10),
                "pull [========>-------] 500/1000 files  1.0 MiB/10.0 MiB  102.4 KiB/s  1m30s left",
            ),
            (
                view("writeback", 0, None, 0, None, 0),
                "pull: writing the index 0s",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(render(v), *want, "{v:?}");
        }
    }

    #[test]
    fn a_growing_total_never_overflows_the_bar() {
        // The plan said 5; 5 done, then the total grew to 8 (a changed plan), and a count
        // past the total while the new one is on its way.
        let full = render(&view("download", 5, Some(5), 50, Some(50), 1));
        assert!(full.contains("[================] 5/5 files"), "{full}");
        let grown = render(&view("download", 5, Some(8), 50, Some(80), 1));
        assert!(grown.contains("[==========>-----] 5/8 files"), "{grown}");
        assert!(grown.ends_with("left"), "{grown}");
        let past = render(&view("download", 9, Some(8), 90, Some(80), 1));
        assert!(past.contains("[================] 9/8 files"), "{past}");
        assert!(!past.contains("left"), "{past}");
        for line in [full, grown, past] {
            assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
        }
    }

    #[test]
    fn time_left_is_unknown_until_something_finished() {
        let v = view("upload", 0, Some(10), 0, Some(100), 30);
        assert!(render(&v).ends_with("-- left"));
        let huge = view("upload", 1, Some(u64::MAX), 1, Some(u64::MAX), 1);
        assert!(render(&huge).ends_with("left"), "no overflow");
    }

    #[test]
    fn display_choice() {
        use ProgressMode::*;
        let cases = [
            (Auto, false, true, Display::Bar),
            (Auto, false, false, Display::Off),
            (Auto, true, true, Display::Off),
            (Always, false, true, Display::Bar),
            (Always, false, false, Display::Lines),
            (Always, true, false, Display::Json),
            (Always, true, true, Display::Json),
            (Never, false, true, Display::Off),
            (Never, true, false, Display::Off),
        ];
        for (mode, json, tty, want) in cases {
            assert_eq!(
                Display::choose(mode, json, tty),
                want,
                "{mode:?} {json} {tty}"
            );
        }
    }

    #[test]
    fn durations() {
        assert_eq!(short_duration(Duration::from_millis(999)), "0s");
        assert_eq!(short_duration(Duration::from_secs(65)), "1m05s");
        assert_eq!(short_duration(Duration::from_secs(7380)), "2h03m");
    }
}
