//! Crafted DHCPv4 queries sent as a relay agent, with the raw replies kept byte for byte, for
//! differential tests that compare two servers' answers field by field.
//!
//! [`TestNet::add_remote_relay`] gives the client namespace another relay address and the
//! server namespace a route to it, so queries can carry any giaddr (a site router's address
//! inside its subnet, say) and replies still come back. [`RawRelay`] binds `giaddr:67` there,
//! and [`RawClient`] a bound client's `ciaddr:68`, where DHCPINFORM replies go;
//! [`QueryBuilder`] writes queries with options in exactly the given order; [`ParsedReply`]
//! splits a reply into header fields and options in wire order.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::net::{RELAY_AGENT_ADDR, RELAY_SERVER_ADDR, Side, TestNet};

const SERVER_PORT: u16 = 67;
const CLIENT_PORT: u16 = 68;
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// Fixed BOOTP header length, before the magic cookie.
const HEADER_LEN: usize = 236;

impl TestNet {
    /// Adds `address` to the client end of the relay link and routes it from the server
    /// namespace through the lab relay agent address, so a [`RawRelay`] can use it as giaddr.
    pub fn add_remote_relay(&self, address: Ipv4Addr) -> Result<()> {
        let host = format!("{address}/32");
        let gateway = RELAY_AGENT_ADDR.to_string();
        let interface = self.relay_client_if().to_owned();
        let steps: [(Side, Vec<&str>); 2] = [
            (
                Side::Client,
                vec!["ip", "addr", "add", &host, "dev", &interface],
            ),
            (
                Side::Server,
                vec!["ip", "route", "add", &host, "via", &gateway],
            ),
        ];
        for (side, args) in steps {
            self.run_checked(side, &args)?;
        }
        Ok(())
    }

    /// Runs `args` in the namespace of `side`; a failure is an error with its output.
    fn run_checked(&self, side: Side, args: &[&str]) -> Result<()> {
        let finished = self.run(side, args, Duration::from_secs(5))?;
        if !finished.is_success() {
            let what = format!("{}: {}", args.join(" "), finished.output.trim());
            return Err(Error::system(what, std::io::Error::other("command failed")));
        }
        Ok(())
    }
}

/// A relay agent socket at `giaddr:67` in the client namespace.
#[derive(Debug)]
pub struct RawRelay {
    socket: UdpSocket,
    server: SocketAddrV4,
}

impl RawRelay {
    /// Binds `giaddr:67` in the client namespace; queries go to 192.0.2.1:67.
    pub fn bind(net: &TestNet, giaddr: Ipv4Addr) -> Result<Self> {
        let local = SocketAddrV4::new(giaddr, SERVER_PORT);
        let socket = net.bind_udp(Side::Client, local)?;
        Ok(Self {
            socket,
            server: SocketAddrV4::new(RELAY_SERVER_ADDR, SERVER_PORT),
        })
    }

    /// Sends `query` and waits up to `timeout` for a BOOTREPLY with its xid and chaddr.
    pub fn exchange(&self, query: &[u8], timeout: Duration) -> Result<Option<Vec<u8>>> {
        self.send(query)?;
        wait_for_reply(&self.socket, query, timeout)
    }

    /// Sends `query` and waits up to `timeout` for its reply at `client` rather than here,
    /// as a server answers a DHCPINFORM: unicast to its `ciaddr`, relayed or not.
    pub fn exchange_answered_at(
        &self,
        query: &[u8],
        client: &RawClient,
        timeout: Duration,
    ) -> Result<Option<Vec<u8>>> {
        self.send(query)?;
        wait_for_reply(&client.socket, query, timeout)
    }

    fn send(&self, query: &[u8]) -> Result<()> {
        self.socket
            .send_to(query, self.server)
            .map_err(|source| Error::system(format!("send to {}", self.server), source))?;
        Ok(())
    }
}

/// A configured client's socket at `address:68` in the client namespace; the address must
/// be routed there ([`TestNet::add_remote_relay`] does that for any address).
#[derive(Debug)]
pub struct RawClient {
    socket: UdpSocket,
}

impl RawClient {
    /// Binds `address:68` in the client namespace.
    pub fn bind(net: &TestNet, address: Ipv4Addr) -> Result<Self> {
        let local = SocketAddrV4::new(address, CLIENT_PORT);
        let socket = net.bind_udp(Side::Client, local)?;
        Ok(Self { socket })
    }
}

/// A directly attached client's socket: `0.0.0.0:68` on the client end of the broadcast link,
/// sending to `255.255.255.255:67`. It receives broadcast replies, and unicast ones to any
/// address [`TestNet::add_bcast_client_address`] gave that end.
#[derive(Debug)]
pub struct RawDirect {
    socket: UdpSocket,
}

impl RawDirect {
    /// Binds `0.0.0.0:68` to the client end of the broadcast link.
    pub fn bind(net: &TestNet) -> Result<Self> {
        let interface = net.bcast_client_if().to_owned();
        let socket = net
            .in_namespace(Side::Client, move || {
                let socket = socket2::Socket::new(
                    socket2::Domain::IPV4,
                    socket2::Type::DGRAM,
                    Some(socket2::Protocol::UDP),
                )?;
                socket.bind_device(Some(interface.as_bytes()))?;
                socket.set_broadcast(true)?;
                socket.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, CLIENT_PORT).into())?;
                Ok::<UdpSocket, std::io::Error>(socket.into())
            })?
            .map_err(|source| Error::system("bind the direct client socket", source))?;
        Ok(Self { socket })
    }

    /// Broadcasts `query` and waits up to `timeout` for a BOOTREPLY with its xid and chaddr.
    pub fn exchange(&self, query: &[u8], timeout: Duration) -> Result<Option<Vec<u8>>> {
        let all = SocketAddrV4::new(Ipv4Addr::BROADCAST, SERVER_PORT);
        self.socket
            .send_to(query, all)
            .map_err(|source| Error::system("broadcast a query", source))?;
        wait_for_reply(&self.socket, query, timeout)
    }
}

impl TestNet {
    /// Gives the client end of the broadcast link `address` too, as a client configures the
    /// address it was leased, so replies unicast to it arrive.
    pub fn add_bcast_client_address(&self, address: Ipv4Addr) -> Result<()> {
        let host = format!("{address}/32");
        let interface = self.bcast_client_if().to_owned();
        self.run_checked(
            Side::Client,
            &["ip", "addr", "add", &host, "dev", &interface],
        )
    }
}

/// Waits up to `timeout` on `socket` for a BOOTREPLY with `query`'s xid and chaddr.
fn wait_for_reply(socket: &UdpSocket, query: &[u8], timeout: Duration) -> Result<Option<Vec<u8>>> {
    crate::relay::receive_until(socket, timeout, |reply| {
        let answers = reply.len() >= HEADER_LEN
            && reply[0] == 2
            && reply[4..8] == query[4..8]
            && reply[28..44] == query[28..44];
        answers.then(|| reply.to_vec())
    })
}

/// A DHCPv4 query written field by field; options go out in the order added.
#[derive(Clone, Debug)]
pub struct QueryBuilder {
    header: [u8; HEADER_LEN],
    options: Vec<(u8, Vec<u8>)>,
}

impl QueryBuilder {
    /// A BOOTREQUEST of DHCP message type `message_type` from Ethernet address `mac`.
    pub fn new(message_type: u8, xid: u32, mac: [u8; 6]) -> Self {
        let mut header = [0u8; HEADER_LEN];
        header[0] = 1;
        header[1] = 1;
        header[2] = 6;
        header[4..8].copy_from_slice(&xid.to_be_bytes());
        header[28..34].copy_from_slice(&mac);
        Self {
            header,
            options: vec![(53, vec![message_type])],
        }
    }

    /// Sets `hops`.
    pub fn hops(mut self, hops: u8) -> Self {
        self.header[3] = hops;
        self
    }

    /// Sets `secs`.
    pub fn secs(mut self, secs: u16) -> Self {
        self.header[8..10].copy_from_slice(&secs.to_be_bytes());
        self
    }

    /// Sets `flags`.
    pub fn flags(mut self, flags: u16) -> Self {
        self.header[10..12].copy_from_slice(&flags.to_be_bytes());
        self
    }

    /// Sets `ciaddr`.
    pub fn ciaddr(mut self, address: Ipv4Addr) -> Self {
        self.header[12..16].copy_from_slice(&address.octets());
        self
    }

    /// Sets `giaddr`.
    pub fn giaddr(mut self, address: Ipv4Addr) -> Self {
        self.header[24..28].copy_from_slice(&address.octets());
        self
    }

    /// Appends an option.
    pub fn option(mut self, code: u8, data: &[u8]) -> Self {
        self.options.push((code, data.to_vec()));
        self
    }

    /// The datagram, padded to BOOTP's 300 bytes as real clients do.
    pub fn build(&self) -> Vec<u8> {
        let mut bytes = self.header.to_vec();
        bytes.extend_from_slice(&MAGIC_COOKIE);
        for (code, data) in &self.options {
            bytes.push(*code);
            bytes.push(data.len() as u8);
            bytes.extend_from_slice(data);
        }
        bytes.push(255);
        if bytes.len() < 300 {
            bytes.resize(300, 0);
        }
        bytes
    }
}

/// A reply split into the fields a differential test compares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedReply {
    /// Option 53.
    pub message_type: Option<u8>,
    /// `hops`.
    pub hops: u8,
    /// `secs`.
    pub secs: u16,
    /// `flags`.
    pub flags: u16,
    /// `ciaddr`.
    pub ciaddr: Ipv4Addr,
    /// `yiaddr`.
    pub yiaddr: Ipv4Addr,
    /// `siaddr`.
    pub siaddr: Ipv4Addr,
    /// `giaddr`.
    pub giaddr: Ipv4Addr,
    /// `sname`, up to its first NUL.
    pub sname: Vec<u8>,
    /// `file`, up to its first NUL.
    pub file: Vec<u8>,
    /// Options in wire order (pads skipped, END excluded).
    pub options: Vec<(u8, Vec<u8>)>,
    /// Datagram length.
    pub length: usize,
}

impl ParsedReply {
    /// Splits `bytes`; `None` when it is not a DHCP reply.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < HEADER_LEN + 4 || bytes[HEADER_LEN..HEADER_LEN + 4] != MAGIC_COOKIE {
            return None;
        }
        let address =
            |at: usize| Ipv4Addr::new(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
        let text = |field: &[u8]| field.iter().take_while(|&&b| b != 0).copied().collect();
        let mut options = Vec::new();
        let mut at = HEADER_LEN + 4;
        while at < bytes.len() {
            let code = bytes[at];
            match code {
                0 => at += 1,
                255 => break,
                _ => {
                    let length = usize::from(*bytes.get(at + 1)?);
                    let data = bytes.get(at + 2..at + 2 + length)?;
                    options.push((code, data.to_vec()));
                    at += 2 + length;
                }
            }
        }
        let message_type = options
            .iter()
            .find(|(code, _)| *code == 53)
            .and_then(|(_, data)| data.first().copied());
        Some(Self {
            message_type,
            hops: bytes[3],
            secs: u16::from_be_bytes([bytes[8], bytes[9]]),
            flags: u16::from_be_bytes([bytes[10], bytes[11]]),
            ciaddr: address(12),
            yiaddr: address(16),
            siaddr: address(20),
            giaddr: address(24),
            sname: text(&bytes[44..108]),
            file: text(&bytes[108..236]),
            options,
            length: bytes.len(),
        })
    }

    /// Every difference from `other`, one line each (empty when they agree).
    pub fn differences(&self, other: &Self) -> Vec<String> {
        let mut found = Vec::new();
        let field = |found: &mut Vec<String>, name: &str, ours: String, theirs: String| {
            if ours != theirs {
                found.push(format!("{name}: {ours} vs {theirs}"));
            }
        };
        field(
            &mut found,
            "message type",
            format!("{:?}", self.message_type),
            format!("{:?}", other.message_type),
        );
        field(
            &mut found,
            "hops",
            self.hops.to_string(),
            other.hops.to_string(),
        );
        field(
            &mut found,
            "secs",
            self.secs.to_string(),
            other.secs.to_string(),
        );
        field(
            &mut found,
            "flags",
            format!("{:#06x}", self.flags),
            format!("{:#06x}", other.flags),
        );
        field(
            &mut found,
            "ciaddr",
            self.ciaddr.to_string(),
            other.ciaddr.to_string(),
        );
        field(
            &mut found,
            "yiaddr",
            self.yiaddr.to_string(),
            other.yiaddr.to_string(),
        );
        field(
            &mut found,
            "siaddr",
            self.siaddr.to_string(),
            other.siaddr.to_string(),
        );
        field(
            &mut found,
            "giaddr",
            self.giaddr.to_string(),
            other.giaddr.to_string(),
        );
        field(
            &mut found,
            "sname",
            format!("{:?}", self.sname),
            format!("{:?}", other.sname),
        );
        field(
            &mut found,
            "file",
            format!("{:?}", self.file),
            format!("{:?}", other.file),
        );
        let codes = |reply: &Self| {
            reply
                .options
                .iter()
                .map(|(code, _)| *code)
                .collect::<Vec<_>>()
        };
        field(
            &mut found,
            "option order",
            format!("{:?}", codes(self)),
            format!("{:?}", codes(other)),
        );
        for (position, (code, data)) in self.options.iter().enumerate() {
            let theirs = other
                .options
                .iter()
                .find(|(other_code, _)| other_code == code);
            let theirs_position = other
                .options
                .iter()
                .position(|(other_code, _)| other_code == code);
            match theirs {
                None => found.push(format!("option {code}: {data:02x?} vs absent")),
                Some((_, other_data)) if other_data != data => {
                    found.push(format!("option {code}: {data:02x?} vs {other_data:02x?}"));
                }
                Some(_) if theirs_position != Some(position) => {
                    found.push(format!(
                        "option {code}: position {position} vs {theirs_position:?}"
                    ));
                }
                Some(_) => {}
            }
        }
        for (code, data) in &other.options {
            if !self.options.iter().any(|(own, _)| own == code) {
                found.push(format!("option {code}: absent vs {data:02x?}"));
            }
        }
        field(
            &mut found,
            "length",
            self.length.to_string(),
            other.length.to_string(),
        );
        found
    }
}
