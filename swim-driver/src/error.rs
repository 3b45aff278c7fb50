//! Why a node could not start.

use std::fmt;
use std::io;

use swim_core::{CommandError, ConfigError};

/// Why [`NodeCore::start`](crate::NodeCore::start) failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// The protocol configuration was rejected.
    Config(ConfigError),
    /// Setting the initial metadata or joining the seeds was refused.
    Command(CommandError),
    /// Reading or writing the data directory failed.
    Io(io::Error),
    /// The data directory holds an identity file that cannot be parsed.
    CorruptIdentity(String),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "invalid configuration: {e}"),
            StartError::Command(e) => write!(f, "command refused: {e}"),
            StartError::Io(e) => write!(f, "data directory: {e}"),
            StartError::CorruptIdentity(why) => write!(f, "unreadable identity file: {why}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Config(e) => Some(e),
            StartError::Command(e) => Some(e),
            StartError::Io(e) => Some(e),
            StartError::CorruptIdentity(_) => None,
        }
    }
}

impl From<ConfigError> for StartError {
    fn from(e: ConfigError) -> Self {
        StartError::Config(e)
    }
}

impl From<CommandError> for StartError {
    fn from(e: CommandError) -> Self {
        StartError::Command(e)
    }
}

impl From<io::Error> for StartError {
    fn from(e: io::Error) -> Self {
        StartError::Io(e)
    }
}
