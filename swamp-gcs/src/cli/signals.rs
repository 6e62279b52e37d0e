//! Ctrl-C and SIGTERM for the commands that must clean up: `sync` and `lock acquire`
//! (release the lock) and `demo` (stop the emulator, remove temp dirs).
//!
//! Installing replaces the default "die at once" behaviour for the rest of the process, so
//! commands install it only once they hold something to clean up. A wasmtime call is never
//! cancelled half-way on a store that is still needed (it would leave the instance
//! unusable): commands check [`Interrupt::requested`] between calls, or race the whole
//! work against [`Interrupt::wait`] when every store it uses is thrown away anyway.

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a second signal does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Second {
    /// Exit at once with 130 (the message says what is left behind).
    Exit(&'static str),
    /// Nothing more: the first one already started the cleanup.
    Ignore,
}

/// A signal listener.
pub struct Interrupt {
    rx: watch::Receiver<bool>,
    task: JoinHandle<()>,
}

impl Interrupt {
    /// Listen for SIGINT and SIGTERM. The first prints `first` (if not empty) on stderr and
    /// sets the flag; a second one does what `second` says.
    pub fn install(first: &'static str, second: Second) -> std::io::Result<Interrupt> {
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut seen = 0u32;
            loop {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                seen += 1;
                if seen == 1 {
                    if !first.is_empty() {
                        eprintln!("{first}");
                    }
                    let _ = tx.send(true);
                } else if let Second::Exit(note) = second {
                    eprintln!("interrupted again: quitting now; {note}");
                    std::process::exit(i32::from(super::failure::INTERRUPTED));
                }
            }
        });
        Ok(Interrupt { rx, task })
    }

    /// Whether a signal has arrived.
    pub fn requested(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once a signal has arrived.
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        if rx.wait_for(|v| *v).await.is_err() {
            // The listener is gone: no signal can arrive any more.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        self.task.abort();
    }
}
