//! Why a command failed, and the exit code each kind of failure gives.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | an unexpected failure (the message says what) |
//! | 2 | the command line is wrong (from the argument parser) |
//! | 3 | an input file or value is wrong: key, token, certificate, metadata, address |
//! | 4 | an address could not be bound (in use, not local, no permission) |
//! | 5 | this node was decommissioned: it left the cluster and stopped |
//! | 6 | `swim` client commands: no agent answers at the HTTP address |
//! | 7 | `swim` client commands: the agent refused the request |

use std::fmt;
use std::process::ExitCode;

/// The kinds of failure, each with its own exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// Exit code 1.
    Internal,
    /// Exit code 3.
    Input,
    /// Exit code 4.
    Bind,
    /// Exit code 5.
    Decommissioned,
    /// Exit code 6.
    AgentUnreachable,
    /// Exit code 7.
    AgentRefused,
}

impl FailureKind {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            FailureKind::Internal => 1,
            FailureKind::Input => 3,
            FailureKind::Bind => 4,
            FailureKind::Decommissioned => 5,
            FailureKind::AgentUnreachable => 6,
            FailureKind::AgentRefused => 7,
        }
    }
}

/// A failure with its message, shown to the user as `error: MESSAGE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// What kind, hence which exit code.
    pub kind: FailureKind,
    /// What went wrong, with its context (the file, the address...).
    pub message: String,
}

impl Failure {
    /// A failure of `kind`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }

    /// An unexpected failure (exit code 1).
    pub fn internal(message: impl Into<String>) -> Self {
        Failure::new(FailureKind::Internal, message)
    }

    /// Wrong input (exit code 3).
    pub fn input(message: impl Into<String>) -> Self {
        Failure::new(FailureKind::Input, message)
    }

    /// The exit code of this failure.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.kind.code())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_skip_the_usage_code() {
        let kinds = [
            FailureKind::Internal,
            FailureKind::Input,
            FailureKind::Bind,
            FailureKind::Decommissioned,
            FailureKind::AgentUnreachable,
            FailureKind::AgentRefused,
        ];
        let codes: std::collections::HashSet<u8> = kinds.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), kinds.len());
        assert!(!codes.contains(&0) && !codes.contains(&2));
    }
}
