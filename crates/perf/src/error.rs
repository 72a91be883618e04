//! Errors of the load generator and the probe.

use std::net::SocketAddrV4;

/// What stops a perf run or a probe from working at all. A dropped packet or a NAK is not an
/// error: it is counted, or it is a failed probe.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A socket could not be created, configured or bound.
    #[error("cannot set up a socket on {local}: {source}")]
    Bind {
        /// The local address it was to be bound to.
        local: SocketAddrV4,
        /// Why.
        source: std::io::Error,
    },
    /// Binding to a network interface (`SO_BINDTODEVICE`) failed.
    #[error("cannot use interface {interface}: {source}")]
    Interface {
        /// The interface name.
        interface: String,
        /// Why.
        source: std::io::Error,
    },
    /// No local address routes to the server, so there is no giaddr to use.
    #[error("no local address routes to {server}: {source}")]
    NoRoute {
        /// The server.
        server: SocketAddrV4,
        /// Why.
        source: std::io::Error,
    },
    /// Sending, receiving or waiting on a socket failed.
    #[error("socket I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// The settings do not make sense together.
    #[error("invalid settings: {0}")]
    Settings(String),
}
