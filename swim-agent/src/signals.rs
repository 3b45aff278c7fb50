//! Ctrl-C, and on Unix SIGTERM: the signals that make the agent leave.

/// Listens from creation on, so that no signal is missed between waits.
pub struct Terminate {
    #[cfg(unix)]
    signals: [tokio::signal::unix::Signal; 2],
}

impl Terminate {
    /// Starts listening.
    pub fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Terminate {
                signals: [
                    signal(SignalKind::interrupt())?,
                    signal(SignalKind::terminate())?,
                ],
            })
        }
        #[cfg(not(unix))]
        Ok(Terminate {})
    }

    /// Waits for the next signal.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        {
            let [interrupt, terminate] = &mut self.signals;
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
