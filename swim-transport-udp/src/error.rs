//! The crate's error type.

use std::io;

use swim_core::{CommandError, ConfigError};
use swim_driver::StartError;

use crate::keyring::KeyError;

/// Why starting a node or one of its commands failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Binding the socket, or reading or writing the data directory, failed.
    Io(io::Error),
    /// The protocol configuration was rejected.
    Config(ConfigError),
    /// The protocol refused the command (see [`CommandError`]).
    Command(CommandError),
    /// The socket is bound to an unspecified address (`0.0.0.0` or `::`),
    /// no advertise address was given and none could be derived from the
    /// seeds: set [`NodeOptions::advertise`](crate::NodeOptions::advertise).
    NoAdvertiseAddress,
    /// The data directory holds an identity file that cannot be parsed.
    CorruptIdentity(String),
    /// A key was refused (see [`KeyError`]).
    Key(KeyError),
    /// With a keyring, the configured `packet_budget` (the largest datagram
    /// sent) leaves less than `swim_core::wire::MIN_PACKET_BUDGET` bytes
    /// for the swim packet once the envelope is taken off.
    PacketBudgetTooSmall {
        /// The configured `packet_budget`.
        configured: u16,
        /// The smallest budget that works with encryption.
        minimum: usize,
    },
    /// The node's thread has stopped (after a shutdown, or if it panicked).
    Stopped,
    /// A graceful leave did not finish in time.
    Timeout,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(e) => write!(f, "i/o error: {e}"),
            Error::Config(e) => write!(f, "invalid configuration: {e}"),
            Error::Command(e) => write!(f, "command refused: {e}"),
            Error::NoAdvertiseAddress => f.write_str(
                "bound to an unspecified address and no advertise address given or derivable from the seeds",
            ),
            Error::CorruptIdentity(why) => write!(f, "unreadable identity file: {why}"),
            Error::Key(e) => write!(f, "key refused: {e}"),
            Error::PacketBudgetTooSmall {
                configured,
                minimum,
            } => write!(
                f,
                "packet_budget {configured} is too small for encrypted datagrams (at least {minimum})"
            ),
            Error::Stopped => f.write_str("the node has stopped"),
            Error::Timeout => f.write_str("the graceful leave did not finish in time"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Config(e) => Some(e),
            Error::Command(e) => Some(e),
            Error::Key(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
    }
}

impl From<CommandError> for Error {
    fn from(e: CommandError) -> Self {
        Error::Command(e)
    }
}

impl From<StartError> for Error {
    fn from(e: StartError) -> Self {
        match e {
            StartError::Config(e) => Error::Config(e),
            StartError::Command(e) => Error::Command(e),
            StartError::Io(e) => Error::Io(e),
            StartError::CorruptIdentity(why) => Error::CorruptIdentity(why),
            // A future start error: reported as I/O, with its message.
            other => Error::Io(io::Error::other(other.to_string())),
        }
    }
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        Error::Key(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_sources() {
        let e = Error::from(CommandError::HasLeft);
        assert!(matches!(e, Error::Command(CommandError::HasLeft)));
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(Error::Stopped.to_string(), "the node has stopped");
        let e = Error::from(StartError::CorruptIdentity("eof".into()));
        assert_eq!(e.to_string(), "unreadable identity file: eof");
        assert!(std::error::Error::source(&Error::Timeout).is_none());
    }
}
