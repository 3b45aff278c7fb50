//! What both transports' error types have in common.

use std::fmt;

use swim_core::{CommandError, ConfigError};

/// Why [`start_protocol`](crate::start_protocol) failed.
#[derive(Debug)]
pub enum StartError {
    /// The protocol configuration was rejected.
    Config(ConfigError),
    /// Setting the initial metadata or joining the seeds was refused.
    Command(CommandError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "invalid configuration: {e}"),
            StartError::Command(e) => write!(f, "command refused: {e}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Config(e) => Some(e),
            StartError::Command(e) => Some(e),
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

/// Generates what both transports' error types have in common: their
/// `Display` and `std::error::Error` impls, with the messages and sources
/// of the shared variants `Io(std::io::Error)`, `Config(ConfigError)`,
/// `Command(CommandError)`, `Stopped` and `Timeout` plus the arms given for
/// the transport's own variants, and the `From` conversions from
/// `std::io::Error`, `ConfigError`, `CommandError` and [`StartError`].
///
/// The formatter is named by the caller (`f` below), for the `display`
/// arms to use; `source` arms give the source of their variant.
///
/// ```
/// #[derive(Debug)]
/// enum Error {
///     Io(std::io::Error),
///     Config(swim_core::ConfigError),
///     Command(swim_core::CommandError),
///     Pem(String),
///     Stopped,
///     Timeout,
/// }
///
/// swim_node::error_impls! {
///     Error, f;
///     display {
///         Error::Pem(e) => write!(f, "unreadable PEM: {e}"),
///     }
///     source {}
/// }
///
/// let e = Error::from(swim_core::CommandError::HasLeft);
/// assert!(matches!(e, Error::Command(swim_core::CommandError::HasLeft)));
/// assert_eq!(Error::Stopped.to_string(), "the node has stopped");
/// assert_eq!(Error::Pem("eof".into()).to_string(), "unreadable PEM: eof");
/// ```
#[macro_export]
macro_rules! error_impls {
    (
        $error:ident, $f:ident;
        display { $($dpat:pat => $dexpr:expr,)* }
        source { $($spat:pat => $sexpr:expr,)* }
    ) => {
        impl ::core::fmt::Display for $error {
            fn fmt(&self, $f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match self {
                    $error::Io(e) => ::core::write!($f, "i/o error: {e}"),
                    $error::Config(e) => ::core::write!($f, "invalid configuration: {e}"),
                    $error::Command(e) => ::core::write!($f, "command refused: {e}"),
                    $($dpat => $dexpr,)*
                    $error::Stopped => $f.write_str("the node has stopped"),
                    $error::Timeout => $f.write_str("the graceful leave did not finish in time"),
                }
            }
        }

        impl ::std::error::Error for $error {
            fn source(&self) -> ::core::option::Option<&(dyn ::std::error::Error + 'static)> {
                match self {
                    $error::Io(e) => ::core::option::Option::Some(e),
                    $error::Config(e) => ::core::option::Option::Some(e),
                    $error::Command(e) => ::core::option::Option::Some(e),
                    $($spat => $sexpr,)*
                    _ => ::core::option::Option::None,
                }
            }
        }

        impl ::core::convert::From<::std::io::Error> for $error {
            fn from(e: ::std::io::Error) -> Self {
                $error::Io(e)
            }
        }

        impl ::core::convert::From<$crate::__swim_core::ConfigError> for $error {
            fn from(e: $crate::__swim_core::ConfigError) -> Self {
                $error::Config(e)
            }
        }

        impl ::core::convert::From<$crate::__swim_core::CommandError> for $error {
            fn from(e: $crate::__swim_core::CommandError) -> Self {
                $error::Command(e)
            }
        }

        impl ::core::convert::From<$crate::StartError> for $error {
            fn from(e: $crate::StartError) -> Self {
                match e {
                    $crate::StartError::Config(e) => $error::Config(e),
                    $crate::StartError::Command(e) => $error::Command(e),
                }
            }
        }
    };
}
