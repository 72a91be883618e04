//! The one error type of the harness.

use std::io;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong while building a test network or driving a server or client in it.
///
/// Messages carry the output of the tool that failed (or the server's log), so a failing test
/// shows why without anyone having to rerun it by hand.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A program could not be started at all (not installed, not executable).
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command line, for the message.
        command: String,
        /// Why `exec` failed.
        source: io::Error,
    },
    /// A setup command (`ip ...`) exited unsuccessfully.
    #[error("`{command}` failed ({status}): {output}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status, as text.
        status: String,
        /// What it printed on stdout and stderr.
        output: String,
    },
    /// Reading or writing a file of the test directory failed.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Creating, entering or using a socket or namespace failed.
    #[error("{what}: {source}")]
    System {
        /// What the harness was doing.
        what: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A tool's output did not contain what the harness looked for.
    #[error("cannot understand {tool} output: {reason}\n--- output ---\n{output}")]
    Parse {
        /// perfdhcp, dhclient, ...
        tool: &'static str,
        /// What was missing or malformed.
        reason: String,
        /// The whole output.
        output: String,
    },
    /// The server did not answer a probe in time, or exited while we waited.
    #[error("`{command}` not serving after {waited:?} ({state})\n--- server log ---\n{log}")]
    NotServing {
        /// The server's command line.
        command: String,
        /// How long the harness waited.
        waited: Duration,
        /// "still running" or the exit status.
        state: String,
        /// The server's log so far.
        log: String,
    },
    /// A real DHCP client (dhclient, udhcpc) obtained no lease.
    #[error("{client} got no lease on {interface}\n--- client output ---\n{output}")]
    NoLease {
        /// The client program.
        client: &'static str,
        /// The interface it ran on.
        interface: String,
        /// What it printed (and what its script recorded, if anything).
        output: String,
    },
    /// The relay client got no answer of the expected kind.
    #[error("no {expected} from {server} for {mac} after {attempts} attempt(s)")]
    NoReply {
        /// "OFFER", "ACK or NAK".
        expected: &'static str,
        /// The client's hardware address.
        mac: String,
        /// The server the request went to.
        server: Ipv4Addr,
        /// How many times the request was sent.
        attempts: u32,
    },
    /// The server answered a REQUEST of the relay client with a DHCPNAK.
    #[error("server {server} sent DHCPNAK to {mac} for {address}")]
    Nak {
        /// The client's hardware address.
        mac: String,
        /// The address the client requested.
        address: Ipv4Addr,
        /// Who sent the NAK.
        server: Ipv4Addr,
    },
}

/// The harness's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn file(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::File {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn system(what: impl Into<String>, source: io::Error) -> Self {
        Self::System {
            what: what.into(),
            source,
        }
    }
}
