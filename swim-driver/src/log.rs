//! Logging through `tracing`, with the feature `tracing`; nothing at all
//! without it. The core stays free of logging: its events and counters say
//! everything; drivers log what a person running a node wants to read.

/// Logs a message at `level` (`error`, `warn`, `info`, `debug`, `trace`)
/// with the target `swim`, through `tracing` when the `tracing` feature of
/// `swim-driver` is on; without it the call compiles to nothing (its
/// arguments are still type-checked, never evaluated).
///
/// ```
/// let peer = "127.0.0.1:7946";
/// swim_driver::log!(info, "joined through {peer}");
/// ```
#[cfg(feature = "tracing")]
#[macro_export]
macro_rules! log {
    ($level:ident, $($arg:tt)+) => {
        $crate::__tracing::$level!(target: "swim", $($arg)+)
    };
}

/// Logs a message at `level` (`error`, `warn`, `info`, `debug`, `trace`)
/// with the target `swim`, through `tracing` when the `tracing` feature of
/// `swim-driver` is on; without it the call compiles to nothing (its
/// arguments are still type-checked, never evaluated).
///
/// ```
/// let peer = "127.0.0.1:7946";
/// swim_driver::log!(info, "joined through {peer}");
/// ```
#[cfg(not(feature = "tracing"))]
#[macro_export]
macro_rules! log {
    ($level:ident, $($arg:tt)+) => {
        if false {
            let _ = ::std::format_args!($($arg)+);
        }
    };
}
