//! The signals that ask a process to stop (feature `signal`): Ctrl-C, and
//! on Unix SIGTERM, as a service manager or `kill` sends it. For a program
//! that runs a node until it is told to stop, then leaves the cluster
//! gracefully.
//!
//! ```no_run
//! use swim_transport_udp::signal::Terminate;
//! use swim_transport_udp::tokio::Node;
//! use swim_transport_udp::NodeOptions;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Listen before starting, so that no signal goes unheard.
//! let mut terminate = Terminate::new()?;
//! let node = Node::start(NodeOptions::new("127.0.0.1:7946".parse()?)).await?;
//! terminate.recv().await;
//! node.shutdown(true).await?; // leave, then stop
//! # Ok(())
//! # }
//! ```

/// Listens for Ctrl-C (SIGINT) and, on Unix, SIGTERM, from its creation
/// on: a signal that arrives between two calls of [`Terminate::recv`] is
/// kept for the next one, not missed.
///
/// On Unix, once a `Terminate` exists, these signals no longer end the
/// process by themselves (tokio keeps its handlers installed for the
/// process's lifetime): the program is expected to stop when
/// [`Terminate::recv`] returns. Elsewhere `recv` waits for Ctrl-C through
/// [`tokio::signal::ctrl_c`].
///
/// It must be created within a tokio runtime that has its I/O driver
/// enabled.
#[derive(Debug)]
pub struct Terminate {
    #[cfg(unix)]
    signals: [::tokio::signal::unix::Signal; 2],
}

impl Terminate {
    /// Starts listening. Fails when the signal handlers cannot be
    /// installed.
    pub fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use ::tokio::signal::unix::{signal, SignalKind};
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

    /// Waits for the next Ctrl-C or SIGTERM.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        {
            let [interrupt, terminate] = &mut self.signals;
            ::tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ::tokio::signal::ctrl_c().await;
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[::tokio::test(flavor = "current_thread")]
    async fn creating_it_installs_the_handlers() {
        // Only creation: raising a real signal here would reach every
        // other test of this process.
        let terminate = Terminate::new().unwrap();
        assert!(format!("{terminate:?}").contains("Terminate"));
    }
}
