//! A minimal DHCPv4 client that speaks to the server as a relay agent would (RFC 2131 with
//! giaddr set, RFC 1542 relaying), for tests that need a result per client.
//!
//! Why a second relay address: perfdhcp in relay mode binds `192.0.2.2:67`, and the server
//! sends every relayed reply to `giaddr:67`. Two sockets on one address and port would split
//! the replies between them, so the relay client uses giaddr [`HARNESS_RELAY_ADDR`]
//! (192.0.2.3, a second address on the client end of the relay link, listed as a relay address
//! of the relayed subnet by [`TestNet::lab_config`]) and binds `192.0.2.3:67`. Load and
//! per-client checks can then run at the same time. The RFC 8357 relay source port would also
//! avoid the clash, but would make every test depend on that less common feature.
//!
//! Each exchange waits for the reply with its own xid and hardware address and ignores all
//! other packets; a request is sent at most twice.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dhcproto::v4::{DhcpOption, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Encodable};

use crate::error::{Error, Result};
use crate::net::{RELAY_SERVER_ADDR, Side, TestNet};

/// DHCP server port; relay agents send from and listen on it too.
const SERVER_PORT: u16 = 67;
/// BOOTP's minimum message size; shorter requests are padded, as real clients do.
const MIN_MESSAGE_LEN: usize = 300;

/// What the server handed out in an OFFER or ACK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// yiaddr.
    pub address: Ipv4Addr,
    /// Option 54.
    pub server_id: Option<Ipv4Addr>,
    /// Option 51, seconds.
    pub lease_time: Option<u32>,
    /// Option 3.
    pub routers: Vec<Ipv4Addr>,
    /// Option 6.
    pub dns_servers: Vec<Ipv4Addr>,
    /// Option 15.
    pub domain_name: Option<String>,
}

/// How the server answered a REQUEST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestOutcome {
    /// DHCPACK.
    Ack(Assignment),
    /// DHCPNAK.
    Nak,
    /// Silence (RFC 2131 4.3.2: a server with no record of an INIT-REBOOT client stays
    /// silent unless it is authoritative).
    NoReply,
}

/// A relay-mode DHCP client; see the module documentation. Get the network's shared one with
/// [`TestNet::relay`], or bind another giaddr with [`RelayClient::bind`].
#[derive(Debug)]
pub struct RelayClient {
    socket: UdpSocket,
    giaddr: Ipv4Addr,
    server: SocketAddrV4,
    timeout: Duration,
    attempts: u32,
}

impl RelayClient {
    /// Binds `giaddr:67` in the client namespace of `net`; requests go to 192.0.2.1:67.
    pub fn bind(net: &TestNet, giaddr: Ipv4Addr) -> Result<Self> {
        let local = SocketAddrV4::new(giaddr, SERVER_PORT);
        let socket = net.bind_udp(Side::Client, local)?;
        Ok(Self {
            socket,
            giaddr,
            server: SocketAddrV4::new(RELAY_SERVER_ADDR, SERVER_PORT),
            timeout: Duration::from_secs(1),
            attempts: 2,
        })
    }

    /// The relay agent address this client puts in giaddr.
    pub fn giaddr(&self) -> Ipv4Addr {
        self.giaddr
    }

    /// How long to wait for each reply (default one second).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// How often to send each request before giving up (default 2: one retry).
    pub fn set_attempts(&mut self, attempts: u32) {
        self.attempts = attempts.max(1);
    }

    /// DISCOVER, OFFER, REQUEST (server id and requested address), ACK.
    pub fn dora(&self, mac: [u8; 6]) -> Result<Assignment> {
        let offer = self.discover(mac)?;
        let server = offer.server_id.unwrap_or(RELAY_SERVER_ADDR);
        let mut request = self.message(mac, MessageType::Request);
        request
            .opts_mut()
            .insert(DhcpOption::RequestedIpAddress(offer.address));
        request
            .opts_mut()
            .insert(DhcpOption::ServerIdentifier(server));
        match self.request(&request)? {
            RequestOutcome::Ack(ack) => Ok(ack),
            RequestOutcome::Nak => Err(Error::Nak {
                mac: crate::format_mac(&mac),
                address: offer.address,
                server,
            }),
            RequestOutcome::NoReply => Err(self.no_reply("ACK or NAK", mac)),
        }
    }

    /// DISCOVER until an OFFER arrives (with the configured timeout and attempts).
    pub fn discover(&self, mac: [u8; 6]) -> Result<Assignment> {
        let discover = self.message(mac, MessageType::Discover);
        for _ in 0..self.attempts {
            if let Some(offer) = self.exchange(&discover, &[MessageType::Offer], self.timeout)? {
                return Ok(assignment(&offer));
            }
        }
        Err(self.no_reply("OFFER", mac))
    }

    /// One DISCOVER, waiting `timeout` for an OFFER; `None` if none came.
    pub fn probe(&self, mac: [u8; 6], timeout: Duration) -> Result<Option<Assignment>> {
        let discover = self.message(mac, MessageType::Discover);
        let offer = self.exchange(&discover, &[MessageType::Offer], timeout)?;
        Ok(offer.as_ref().map(assignment))
    }

    /// An INIT-REBOOT REQUEST (RFC 2131 4.3.2: requested address, no server id, no ciaddr).
    pub fn request_init_reboot(&self, mac: [u8; 6], address: Ipv4Addr) -> Result<RequestOutcome> {
        let mut request = self.message(mac, MessageType::Request);
        request
            .opts_mut()
            .insert(DhcpOption::RequestedIpAddress(address));
        self.request(&request)
    }

    /// A DHCPRELEASE of `address` to `server` (no reply is expected).
    pub fn release(&self, mac: [u8; 6], address: Ipv4Addr, server: Ipv4Addr) -> Result<()> {
        let mut release = self.message(mac, MessageType::Release);
        release.set_ciaddr(address);
        release
            .opts_mut()
            .insert(DhcpOption::ServerIdentifier(server));
        self.send(&release)
    }

    fn request(&self, request: &Message) -> Result<RequestOutcome> {
        let answers = [MessageType::Ack, MessageType::Nak];
        for _ in 0..self.attempts {
            let Some(reply) = self.exchange(request, &answers, self.timeout)? else {
                continue;
            };
            if reply.opts().has_msg_type(MessageType::Nak) {
                return Ok(RequestOutcome::Nak);
            }
            return Ok(RequestOutcome::Ack(assignment(&reply)));
        }
        Ok(RequestOutcome::NoReply)
    }

    /// A request from `mac` as relayed by us: hops 1, giaddr set, a fresh xid.
    fn message(&self, mac: [u8; 6], kind: MessageType) -> Message {
        let unspecified = Ipv4Addr::UNSPECIFIED;
        let mut message = Message::new_with_id(
            next_xid(),
            unspecified,
            unspecified,
            unspecified,
            self.giaddr,
            &mac,
        );
        message.set_hops(1);
        message.opts_mut().insert(DhcpOption::MessageType(kind));
        message
            .opts_mut()
            .insert(DhcpOption::ParameterRequestList(vec![
                OptionCode::SubnetMask,
                OptionCode::Router,
                OptionCode::DomainNameServer,
                OptionCode::DomainName,
            ]));
        message
    }

    fn send(&self, message: &Message) -> Result<()> {
        let mut bytes = message
            .to_vec()
            .map_err(|error| Error::system("encode DHCP message", std::io::Error::other(error)))?;
        if bytes.len() < MIN_MESSAGE_LEN {
            bytes.resize(MIN_MESSAGE_LEN, 0);
        }
        self.socket
            .send_to(&bytes, self.server)
            .map_err(|source| Error::system(format!("send to {}", self.server), source))?;
        Ok(())
    }

    /// Sends `request` once and waits up to `timeout` for a reply to it of one of `kinds`.
    fn exchange(
        &self,
        request: &Message,
        kinds: &[MessageType],
        timeout: Duration,
    ) -> Result<Option<Message>> {
        self.send(request)?;
        receive_until(&self.socket, timeout, |datagram| {
            Message::from_bytes(datagram)
                .ok()
                .filter(|reply| is_reply_to(reply, request, kinds))
        })
    }

    fn no_reply(&self, expected: &'static str, mac: [u8; 6]) -> Error {
        Error::NoReply {
            expected,
            mac: crate::format_mac(&mac),
            server: *self.server.ip(),
            attempts: self.attempts,
        }
    }
}

/// Receives datagrams on `socket` until `accept` takes one or `timeout` passes.
pub(crate) fn receive_until<T>(
    socket: &UdpSocket,
    timeout: Duration,
    mut accept: impl FnMut(&[u8]) -> Option<T>,
) -> Result<Option<T>> {
    let deadline = Instant::now() + timeout;
    let mut buffer = [0u8; 1500];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        socket
            .set_read_timeout(Some(left))
            .map_err(|source| Error::system("set socket timeout", source))?;
        let length = match socket.recv(&mut buffer) {
            Ok(length) => length,
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None);
            }
            Err(source) => return Err(Error::system("receive reply", source)),
        };
        if let Some(accepted) = accept(&buffer[..length]) {
            return Ok(Some(accepted));
        }
    }
}

fn is_reply_to(reply: &Message, request: &Message, kinds: &[MessageType]) -> bool {
    reply.opcode() == Opcode::BootReply
        && reply.xid() == request.xid()
        && reply.chaddr() == request.chaddr()
        && reply
            .opts()
            .msg_type()
            .is_some_and(|kind| kinds.contains(&kind))
}

fn assignment(reply: &Message) -> Assignment {
    let options = reply.opts();
    Assignment {
        address: reply.yiaddr(),
        server_id: match options.get(OptionCode::ServerIdentifier) {
            Some(DhcpOption::ServerIdentifier(server)) => Some(*server),
            _ => None,
        },
        lease_time: match options.get(OptionCode::AddressLeaseTime) {
            Some(DhcpOption::AddressLeaseTime(seconds)) => Some(*seconds),
            _ => None,
        },
        routers: match options.get(OptionCode::Router) {
            Some(DhcpOption::Router(routers)) => routers.clone(),
            _ => Vec::new(),
        },
        dns_servers: match options.get(OptionCode::DomainNameServer) {
            Some(DhcpOption::DomainNameServer(servers)) => servers.clone(),
            _ => Vec::new(),
        },
        domain_name: match options.get(OptionCode::DomainName) {
            Some(DhcpOption::DomainName(name)) => Some(name.clone()),
            _ => None,
        },
    }
}

/// Transaction ids that differ between processes and between calls.
fn next_xid() -> u32 {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    let mixed = nanos ^ std::process::id().rotate_left(16);
    mixed.wrapping_add(
        COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_ack_and_matches_it_to_its_request() {
        let mac = [2, 0, 0, 0, 0, 1];
        let giaddr = Ipv4Addr::new(192, 0, 2, 3);
        let unspecified = Ipv4Addr::UNSPECIFIED;
        let request = Message::new_with_id(7, unspecified, unspecified, unspecified, giaddr, &mac);
        let address = Ipv4Addr::new(10, 0, 0, 10);
        let mut ack = Message::new_with_id(7, unspecified, address, unspecified, giaddr, &mac);
        ack.set_opcode(Opcode::BootReply);
        let options = ack.opts_mut();
        options.insert(DhcpOption::MessageType(MessageType::Ack));
        options.insert(DhcpOption::ServerIdentifier(RELAY_SERVER_ADDR));
        options.insert(DhcpOption::AddressLeaseTime(4000));
        options.insert(DhcpOption::Router(vec![Ipv4Addr::new(10, 0, 0, 1)]));
        options.insert(DhcpOption::DomainName("example.test".into()));
        let ack = Message::from_bytes(&ack.to_vec().unwrap()).unwrap();

        assert!(is_reply_to(&ack, &request, &[MessageType::Ack]));
        assert!(!is_reply_to(&ack, &request, &[MessageType::Offer]));
        let assignment = assignment(&ack);
        assert_eq!(assignment.address, address);
        assert_eq!(assignment.server_id, Some(RELAY_SERVER_ADDR));
        assert_eq!(assignment.lease_time, Some(4000));
        assert_eq!(assignment.domain_name.as_deref(), Some("example.test"));
    }

    #[test]
    fn transaction_ids_differ() {
        assert_ne!(next_xid(), next_xid());
    }
}
