//! `leasehold probe`: one complete exchange against a server, then a RELEASE, as a health
//! check.
//!
//! In relay mode the probe sends from an ephemeral port with the RFC 8357 relay source port
//! sub-option, so it needs neither port 67 nor root, and runs beside a relay agent or perf on
//! the same address. Its giaddr is the local address, which must be a relay address of a
//! subnet the server serves. In broadcast mode it is a direct client on an interface.
//!
//! The probe uses one fixed hardware address (by default), so repeated probes renew one lease
//! rather than drain the pool, and releases it unless asked to keep it.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::run::{SERVER_PORT, Transport};
use crate::socket::{BatchSocket, Inbox, Outbox};
use crate::wire::{MessageType, Reply, Request, code};

/// The probe's default hardware address (locally administered).
pub const DEFAULT_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x67];

/// What to probe and how.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// Where requests go (port 67; the broadcast address in broadcast mode).
    pub server: SocketAddrV4,
    /// How requests reach the server.
    pub transport: Transport,
    /// The client's hardware address.
    pub mac: [u8; 6],
    /// How long to wait for each reply.
    pub timeout: Duration,
    /// How often to send a request again when no reply came.
    pub retries: u32,
    /// Keep the lease instead of releasing it.
    pub keep: bool,
}

/// The lease a probe obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeLease {
    /// The address.
    pub address: Ipv4Addr,
    /// Option 54.
    pub server_id: Option<Ipv4Addr>,
    /// Option 51, seconds.
    pub lease_time: Option<u32>,
    /// Option 1.
    pub subnet_mask: Option<Ipv4Addr>,
    /// Option 3.
    pub routers: Vec<Ipv4Addr>,
    /// Option 6.
    pub dns_servers: Vec<Ipv4Addr>,
    /// Option 15.
    pub domain_name: Option<String>,
    /// How long DISCOVER to ACK took.
    pub elapsed: Duration,
    /// Whether it was released again.
    pub released: bool,
}

impl std::fmt::Display for ProbeLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |addresses: &[Ipv4Addr]| {
            let names: Vec<String> = addresses.iter().map(ToString::to_string).collect();
            names.join(",")
        };
        let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".into());
        write!(
            f,
            "lease {} from {} for {} s (mask {}, routers {}, dns {}, domain {}) in {:.1} ms, {}",
            self.address,
            or_dash(self.server_id.map(|id| id.to_string())),
            or_dash(self.lease_time.map(|time| time.to_string())),
            or_dash(self.subnet_mask.map(|mask| mask.to_string())),
            list(&self.routers),
            list(&self.dns_servers),
            or_dash(self.domain_name.clone()),
            self.elapsed.as_secs_f64() * 1000.0,
            if self.released { "released" } else { "kept" }
        )
    }
}

/// Why a probe failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeFailure {
    /// No OFFER came back.
    #[error("no OFFER from {server} after {attempts} DISCOVERs")]
    NoOffer {
        /// The server.
        server: SocketAddrV4,
        /// DISCOVERs sent.
        attempts: u32,
    },
    /// An OFFER came, but no ACK.
    #[error("no ACK from {server} for {address} after {attempts} REQUESTs")]
    NoAck {
        /// The server.
        server: SocketAddrV4,
        /// The address offered.
        address: Ipv4Addr,
        /// REQUESTs sent.
        attempts: u32,
    },
    /// The server refused the REQUEST.
    #[error("{server} sent a NAK for {address}")]
    Nak {
        /// The server.
        server: SocketAddrV4,
        /// The address requested.
        address: Ipv4Addr,
    },
    /// The probe could not run at all.
    #[error(transparent)]
    Setup(#[from] Error),
}

impl ProbeFailure {
    /// A short name of the stage that failed: `discover`, `request` or `setup`.
    pub fn stage(&self) -> &'static str {
        match self {
            Self::NoOffer { .. } => "discover",
            Self::NoAck { .. } | Self::Nak { .. } => "request",
            Self::Setup(_) => "setup",
        }
    }
}

/// Runs one DORA (and a RELEASE unless `keep`).
pub fn probe(config: &ProbeConfig) -> Result<ProbeLease, ProbeFailure> {
    let socket = config.transport.open()?;
    let mut client = ProbeClient {
        socket,
        config,
        inbox: Inbox::new(),
        outbox: Outbox::new(),
    };
    let started = Instant::now();
    let xid = transaction_id();
    let discover = client.request(MessageType::Discover, xid);
    let attempts = config.retries + 1;
    let offer = client.exchange(&discover, MessageType::Offer)?;
    let Some((offer, _)) = offer else {
        return Err(ProbeFailure::NoOffer {
            server: config.server,
            attempts,
        });
    };

    let mut request = client.request(MessageType::Request, xid);
    request.requested_address = Some(offer.address);
    request.server_identifier = offer.server_id;
    let Some((ack, kind)) = client.exchange(&request, MessageType::Ack)? else {
        return Err(ProbeFailure::NoAck {
            server: config.server,
            address: offer.address,
            attempts,
        });
    };
    if kind == MessageType::Nak {
        return Err(ProbeFailure::Nak {
            server: config.server,
            address: offer.address,
        });
    }
    let mut lease = ack;
    lease.elapsed = started.elapsed();

    if !config.keep {
        let mut release = client.request(MessageType::Release, transaction_id());
        release.broadcast = false;
        release.ciaddr = lease.address;
        release.server_identifier = lease.server_id;
        // A direct client unicasts its RELEASE to the server (RFC 2131 section 4.4.6).
        let to = match (&config.transport, lease.server_id) {
            (Transport::Broadcast { .. }, Some(server)) => SocketAddrV4::new(server, SERVER_PORT),
            _ => config.server,
        };
        client.send(&release, to)?;
        lease.released = true;
    }
    Ok(lease)
}

struct ProbeClient<'a> {
    socket: BatchSocket,
    config: &'a ProbeConfig,
    inbox: Inbox,
    outbox: Outbox,
}

impl ProbeClient<'_> {
    fn request(&self, message_type: MessageType, xid: u32) -> Request {
        let mut request = Request::new(message_type, xid, self.config.mac);
        match &self.config.transport {
            Transport::Relay { local } => {
                request.giaddr = *local.ip();
                request.relay_source_port = local.port() != SERVER_PORT;
            }
            Transport::Broadcast { .. } => request.broadcast = true,
        }
        request
    }

    fn send(&mut self, request: &Request, to: SocketAddrV4) -> Result<(), Error> {
        self.outbox.push(to, |buffer| request.encode(buffer));
        self.socket.send(&mut self.outbox)?;
        Ok(())
    }

    /// Sends `request` up to `retries + 1` times and returns the first reply of kind
    /// `wanted` (or a NAK when an ACK is wanted) with its kind.
    fn exchange(
        &mut self,
        request: &Request,
        wanted: MessageType,
    ) -> Result<Option<(ProbeLease, MessageType)>, Error> {
        for _ in 0..=self.config.retries {
            self.send(request, self.config.server)?;
            let deadline = Instant::now() + self.config.timeout;
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                if !self.socket.wait_readable(left)? {
                    continue;
                }
                self.socket.receive(&mut self.inbox)?;
                for (datagram, _) in self.inbox.datagrams() {
                    let Some(reply) = Reply::parse(datagram) else {
                        continue;
                    };
                    let is_answer = reply.message_type == wanted
                        || (wanted == MessageType::Ack && reply.message_type == MessageType::Nak);
                    if reply.xid == request.xid && reply.mac == request.mac && is_answer {
                        return Ok(Some((lease_of(&reply), reply.message_type)));
                    }
                }
            }
        }
        Ok(None)
    }
}

fn lease_of(reply: &Reply<'_>) -> ProbeLease {
    ProbeLease {
        address: reply.yiaddr,
        server_id: reply.server_identifier(),
        lease_time: reply.lease_time(),
        subnet_mask: reply.subnet_mask(),
        routers: reply.addresses(code::ROUTERS),
        dns_servers: reply.addresses(code::DOMAIN_NAME_SERVERS),
        domain_name: reply.domain_name(),
        elapsed: Duration::ZERO,
        released: false,
    }
}

/// A transaction id that differs between probes.
fn transaction_id() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    nanos ^ std::process::id().rotate_left(16)
}

/// Runs `command` with `sh -c` after a failed probe, with the failure in its environment:
/// `PROBE_SERVER`, `PROBE_STAGE` (`discover`, `request` or `setup`), `PROBE_ERROR` (the
/// message) and `PROBE_MAC`.
pub fn run_on_failure(
    command: &str,
    config: &ProbeConfig,
    failure: &ProbeFailure,
) -> std::io::Result<ExitStatus> {
    let mac: Vec<String> = config
        .mac
        .iter()
        .map(|octet| format!("{octet:02x}"))
        .collect();
    Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("PROBE_SERVER", config.server.ip().to_string())
        .env("PROBE_STAGE", failure.stage())
        .env("PROBE_ERROR", failure.to_string())
        .env("PROBE_MAC", mac.join(":"))
        .status()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread;

    use super::*;
    use crate::responder::Responder;

    fn config(server: SocketAddrV4) -> ProbeConfig {
        ProbeConfig {
            server,
            transport: Transport::Relay {
                local: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0),
            },
            mac: DEFAULT_MAC,
            timeout: Duration::from_millis(200),
            retries: 1,
            keep: false,
        }
    }

    #[test]
    fn a_probe_gets_and_releases_a_lease() {
        let responder = Responder::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).unwrap();
        let server = responder.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || responder.serve(&flag).unwrap());

        let lease = probe(&config(server)).unwrap();
        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
        assert_eq!(lease.address, Ipv4Addr::new(10, 0x10, 0, 0x67));
        assert_eq!(lease.lease_time, Some(4000));
        assert!(lease.released);
        assert!(
            lease
                .to_string()
                .starts_with("lease 10.16.0.103 from 127.0.0.1 for 4000 s")
        );
    }

    #[test]
    fn a_probe_without_a_server_fails_at_discover_and_runs_the_command() {
        let silent = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let std::net::SocketAddr::V4(server) = silent.local_addr().unwrap() else {
            unreachable!("bound to an IPv4 address");
        };
        let config = config(server);
        let failure = probe(&config).unwrap_err();
        assert_eq!(failure.stage(), "discover");
        assert!(
            failure.to_string().contains("after 2 DISCOVERs"),
            "{failure}"
        );

        let status = run_on_failure("test \"$PROBE_STAGE\" = discover", &config, &failure);
        assert!(status.unwrap().success());
    }
}
