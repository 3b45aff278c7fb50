//! The crate's error type.

use std::io;

use swim_core::{CommandError, ConfigError};

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

swim_node::error_impls! {
    Error, f;
    display {
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
    }
    source {
        Error::Key(e) => Some(e),
    }
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        Error::Key(e)
    }
}
