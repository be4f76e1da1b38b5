//! Shutdown signals: the first one drains, a second one aborts.
//!
//! `main` uses SIGINT/SIGTERM; tests hold a [`Trigger`] and signal by hand.

use tokio::sync::mpsc;

/// A stream of shutdown signals.
pub struct Shutdown {
    signals: mpsc::UnboundedReceiver<()>,
}

/// Sends shutdown signals to a running server (tests).
#[derive(Clone)]
pub struct Trigger(mpsc::UnboundedSender<()>);

impl Trigger {
    pub fn signal(&self) {
        // If the server has already stopped there is no one left to tell.
        let _ = self.0.send(());
    }
}

impl Shutdown {
    /// Signals delivered by hand through the returned [`Trigger`].
    pub fn manual() -> (Trigger, Shutdown) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Trigger(tx), Shutdown { signals: rx })
    }

    /// SIGINT and SIGTERM, each delivery one signal.
    pub fn os_signals() -> std::io::Result<Shutdown> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let (trigger, shutdown) = Shutdown::manual();
        tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    Some(()) = interrupt.recv() => "SIGINT",
                    Some(()) = terminate.recv() => "SIGTERM",
                    else => break,
                };
                tracing::info!(signal = name, "received a shutdown signal");
                trigger.signal();
            }
        });
        Ok(shutdown)
    }

    /// Resolves on the next signal. If every trigger is gone, no signal can come: waits forever.
    pub async fn next(&mut self) {
        if self.signals.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
    }
}
