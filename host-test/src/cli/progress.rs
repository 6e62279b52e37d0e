//! A spinner on stderr while a pull or push runs: elapsed time and a live request counter.
//!
//! The component reports nothing until a call returns, so the spinner shows what the host
//! sees: the requests it forwarded (polled from [`Traffic`] every 100 ms) and the bytes
//! moved. It is drawn only when stderr is a terminal and `--json` is off, and only once the
//! work has run for a moment, so quick calls and piped output never get a byte of it.
//!
//! `SWAMP_GCS_PROGRESS_DELAY_MS` sets that moment (default 300 ms; the tests use 0 so the
//! spinner would be drawn at once if the terminal check were wrong).

use super::output::{bytes, delta};
use crate::traffic::Traffic;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Work shorter than this never shows a spinner (unless `SWAMP_GCS_PROGRESS_DELAY_MS`).
const SHOW_AFTER: Duration = Duration::from_millis(300);

fn show_after() -> Duration {
    std::env::var("SWAMP_GCS_PROGRESS_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(SHOW_AFTER)
}
/// How often the counters are polled.
const POLL: Duration = Duration::from_millis(100);

/// Whether a progress display may be drawn: stderr is a terminal and output is not JSON.
pub fn wanted(json: bool) -> bool {
    !json && std::io::stderr().is_terminal()
}

/// A running spinner (or nothing, when not wanted).
pub struct Progress {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Progress {
    /// Start a spinner labelled `label` counting `traffic` from now, if `enabled`.
    pub fn start(traffic: &Arc<Traffic>, label: &str, enabled: bool) -> Progress {
        if !enabled {
            return Progress {
                stop: None,
                task: None,
            };
        }
        let (stop, mut stopped) = oneshot::channel::<()>();
        let traffic = traffic.clone();
        let label = label.to_string();
        let task = tokio::spawn(async move {
            let base = traffic.snapshot();
            tokio::select! {
                _ = &mut stopped => return,
                _ = tokio::time::sleep(show_after()) => {}
            }
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} {elapsed:>4} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(label);
            let mut tick = tokio::time::interval(POLL);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {}
                }
                let d = delta(&base, &traffic.snapshot());
                bar.set_message(format!(
                    "{} requests ({}), {} down, {} up",
                    d.total,
                    d.summary(),
                    bytes(d.bytes_received),
                    bytes(d.bytes_sent)
                ));
                bar.tick();
            }
            bar.finish_and_clear();
        });
        Progress {
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stop and erase the spinner.
    pub async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
