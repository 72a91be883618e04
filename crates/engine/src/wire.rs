//! DHCPv4 messages on the wire (RFC 2131 section 2, options per RFC 2132).
//!
//! Queries are read through `dhcproto`'s zero-copy message view; this module
//! checks what that view assumes (length, header sizes, the magic cookie) so
//! that reading a query never panics, and collects the options the engine
//! needs into a [`Query`].
//!
//! Replies are written here rather than through `dhcproto`'s owned message:
//! the engine's option payloads are encoded once, when the configuration is
//! loaded, and Kea puts the message type first, the relay agent information
//! (82) last and every other option in ascending code order, which is the
//! order clients and Kea's own tests expect.

use std::net::Ipv4Addr;

use dhcproto::v4::borrowed;
use leasehold_leases::{ClientId, HwAddr};

/// Length of the fixed BOOTP header, before the magic cookie.
const HEADER_LEN: usize = 236;
/// The magic cookie that opens the options field (RFC 2131 section 3).
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// BOOTP op codes.
const BOOTREQUEST: u8 = 1;
const BOOTREPLY: u8 = 2;
/// The broadcast bit of the `flags` field.
pub(crate) const BROADCAST_FLAG: u16 = 0x8000;

/// Option codes the engine reads or writes itself.
pub(crate) mod code {
    pub(crate) const SUBNET_MASK: u8 = 1;
    pub(crate) const ROUTERS: u8 = 3;
    pub(crate) const DOMAIN_NAME_SERVERS: u8 = 6;
    pub(crate) const HOST_NAME: u8 = 12;
    pub(crate) const DOMAIN_NAME: u8 = 15;
    pub(crate) const REQUESTED_ADDRESS: u8 = 50;
    pub(crate) const LEASE_TIME: u8 = 51;
    pub(crate) const MESSAGE_TYPE: u8 = 53;
    pub(crate) const SERVER_IDENTIFIER: u8 = 54;
    pub(crate) const PARAMETER_REQUEST_LIST: u8 = 55;
    pub(crate) const RENEWAL_TIME: u8 = 58;
    pub(crate) const REBINDING_TIME: u8 = 59;
    pub(crate) const VENDOR_CLASS_IDENTIFIER: u8 = 60;
    pub(crate) const CLIENT_IDENTIFIER: u8 = 61;
    pub(crate) const CLIENT_FQDN: u8 = 81;
    pub(crate) const RELAY_AGENT_INFORMATION: u8 = 82;
    pub(crate) const SUBNET_SELECTION: u8 = 118;
    pub(crate) const END: u8 = 255;
}

/// Sub-option of option 82 naming the client's link (RFC 3527).
const LINK_SELECTION_SUBOPTION: u8 = 5;
/// Sub-option of option 82 carrying the relay's UDP source port (RFC 8357).
const RELAY_SOURCE_PORT_SUBOPTION: u8 = 19;

/// DHCP message types (option 53, RFC 2132 section 9.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// DHCPDISCOVER.
    Discover,
    /// DHCPOFFER.
    Offer,
    /// DHCPREQUEST.
    Request,
    /// DHCPDECLINE.
    Decline,
    /// DHCPACK.
    Ack,
    /// DHCPNAK.
    Nak,
    /// DHCPRELEASE.
    Release,
    /// DHCPINFORM.
    Inform,
}

impl MessageType {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Discover,
            2 => Self::Offer,
            3 => Self::Request,
            4 => Self::Decline,
            5 => Self::Ack,
            6 => Self::Nak,
            7 => Self::Release,
            8 => Self::Inform,
            _ => return None,
        })
    }

    fn code(self) -> u8 {
        match self {
            Self::Discover => 1,
            Self::Offer => 2,
            Self::Request => 3,
            Self::Decline => 4,
            Self::Ack => 5,
            Self::Nak => 6,
            Self::Release => 7,
            Self::Inform => 8,
        }
    }

    /// Kea's lower-case name of the message type, as used in statistics
    /// (`pkt4-discover-received`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Discover => "discover",
            Self::Offer => "offer",
            Self::Request => "request",
            Self::Decline => "decline",
            Self::Ack => "ack",
            Self::Nak => "nak",
            Self::Release => "release",
            Self::Inform => "inform",
        }
    }
}

/// Why a packet was not accepted as a DHCP query. Such packets are dropped
/// and counted; none of them is an error of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedPacket {
    /// Shorter than the BOOTP header and magic cookie.
    #[error("packet of {0} bytes is too short for DHCP")]
    TooShort(usize),
    /// The op field is not BOOTREQUEST.
    #[error("op code {0} is not BOOTREQUEST")]
    NotRequest(u8),
    /// The options field does not open with the magic cookie.
    #[error("no DHCP magic cookie")]
    NoMagicCookie,
    /// `hlen` is larger than the 16 bytes of `chaddr`.
    #[error("hardware address length {0} exceeds 16")]
    BadHardwareLength(u8),
    /// There is no message type option, or its value is unknown.
    #[error("missing or unknown DHCP message type")]
    NoMessageType,
    /// An option has a length its type does not allow.
    #[error("option {0} has a malformed value")]
    BadOption(u8),
}

/// A client's query: the header fields and the options the engine acts on.
/// Built by [`Query::parse`], which accepts any byte string without panicking.
#[derive(Debug, Clone)]
pub struct Query {
    /// The message type (option 53).
    pub message_type: MessageType,
    /// `htype`.
    pub htype: u8,
    /// `chaddr`, cut to `hlen`.
    pub chaddr: HwAddr,
    /// `hops`.
    pub hops: u8,
    /// `xid`.
    pub xid: u32,
    /// `secs`.
    pub secs: u16,
    /// `flags`.
    pub flags: u16,
    /// `ciaddr`.
    pub ciaddr: Ipv4Addr,
    /// `giaddr`.
    pub giaddr: Ipv4Addr,
    /// Requested IP address (option 50).
    pub requested_address: Option<Ipv4Addr>,
    /// Server identifier (option 54).
    pub server_identifier: Option<Ipv4Addr>,
    /// Client identifier (option 61).
    pub client_id: Option<ClientId>,
    /// Host name (option 12).
    pub hostname: Option<String>,
    /// Parameter request list (option 55).
    pub parameter_request_list: Vec<u8>,
    /// Relay agent information (option 82), raw.
    pub relay_agent_information: Option<Vec<u8>>,
    /// Every option in the order received, instances of one code joined
    /// (RFC 3396), for classification expressions.
    pub options: Vec<(u8, Vec<u8>)>,
    /// Length of the datagram.
    pub length: usize,
}

impl Query {
    /// Reads a query from a datagram.
    pub fn parse(bytes: &[u8]) -> Result<Self, MalformedPacket> {
        if bytes.len() < HEADER_LEN + MAGIC_COOKIE.len() {
            return Err(MalformedPacket::TooShort(bytes.len()));
        }
        if bytes[0] != BOOTREQUEST {
            return Err(MalformedPacket::NotRequest(bytes[0]));
        }
        if bytes[HEADER_LEN..HEADER_LEN + 4] != MAGIC_COOKIE {
            return Err(MalformedPacket::NoMagicCookie);
        }
        // The view indexes chaddr by hlen, so check it before asking.
        let hlen = bytes[2];
        if hlen > 16 {
            return Err(MalformedPacket::BadHardwareLength(hlen));
        }
        let message = borrowed::Message::new(bytes).map_err(|_| MalformedPacket::TooShort(0))?;
        let chaddr =
            HwAddr::new(message.chaddr()).ok_or(MalformedPacket::BadHardwareLength(hlen))?;

        let mut query = Self {
            message_type: MessageType::Discover,
            htype: bytes[1],
            chaddr,
            hops: message.hops(),
            xid: message.xid(),
            secs: message.secs(),
            flags: u16::from(message.flags()),
            ciaddr: message.ciaddr(),
            giaddr: message.giaddr(),
            requested_address: None,
            server_identifier: None,
            client_id: None,
            hostname: None,
            parameter_request_list: Vec::new(),
            relay_agent_information: None,
            options: Vec::new(),
            length: bytes.len(),
        };
        let mut message_type = None;
        for option in message.opts() {
            let code = u8::from(option.code());
            let data = option.data();
            match query.options.iter_mut().find(|(known, _)| *known == code) {
                Some((_, joined)) => joined.extend_from_slice(data),
                None => query.options.push((code, data.to_vec())),
            }
            match code {
                code::MESSAGE_TYPE => {
                    let [value] = data else {
                        return Err(MalformedPacket::BadOption(code));
                    };
                    message_type = MessageType::from_code(*value);
                }
                code::REQUESTED_ADDRESS => query.requested_address = Some(address(code, data)?),
                code::SERVER_IDENTIFIER => query.server_identifier = Some(address(code, data)?),
                code::CLIENT_IDENTIFIER if !data.is_empty() => {
                    query.client_id = Some(ClientId::new(data));
                }
                code::HOST_NAME => {
                    query.hostname = Some(String::from_utf8_lossy(data).into_owned());
                }
                code::PARAMETER_REQUEST_LIST => query.parameter_request_list = data.to_vec(),
                code::RELAY_AGENT_INFORMATION => {
                    query.relay_agent_information = Some(data.to_vec());
                }
                _ => {}
            }
        }
        query.message_type = message_type.ok_or(MalformedPacket::NoMessageType)?;
        Ok(query)
    }

    /// True when the client asked for a broadcast reply.
    pub fn wants_broadcast(&self) -> bool {
        self.flags & BROADCAST_FLAG != 0
    }

    /// True when the query came through a relay agent.
    pub fn is_relayed(&self) -> bool {
        !self.giaddr.is_unspecified()
    }

    /// True when the client asked for option `code` in option 55.
    pub fn asks_for(&self, code: u8) -> bool {
        self.parameter_request_list.contains(&code)
    }

    /// The payload of option `code`, if the query has it.
    pub fn option(&self, code: u8) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|(known, _)| *known == code)
            .map(|(_, data)| data.as_slice())
    }

    /// The payload of sub-option `code` of the relay agent information.
    pub fn relay_sub_option(&self, code: u8) -> Option<&[u8]> {
        let info = self.relay_agent_information.as_ref()?;
        sub_options(info).find_map(|(known, data)| (known == code).then_some(data))
    }

    /// The address a relay or client asked subnet selection to use: the
    /// link selection sub-option of option 82 (RFC 3527), else the subnet
    /// selection option 118 (RFC 3011), as Kea checks them.
    pub fn selection_address(&self) -> Option<Ipv4Addr> {
        if let Some(link) = self.relay_sub_option(LINK_SELECTION_SUBOPTION)
            && let Ok(octets) = <[u8; 4]>::try_from(link)
        {
            return Some(Ipv4Addr::from(octets));
        }
        let selection = self.option(code::SUBNET_SELECTION)?;
        <[u8; 4]>::try_from(selection).ok().map(Ipv4Addr::from)
    }

    /// True when the relay agent included the RFC 8357 relay source port
    /// sub-option, so the reply goes to the query's source port.
    pub fn has_relay_source_port(&self) -> bool {
        let Some(info) = &self.relay_agent_information else {
            return false;
        };
        sub_options(info).any(|(code, _)| code == RELAY_SOURCE_PORT_SUBOPTION)
    }
}

fn address(code: u8, data: &[u8]) -> Result<Ipv4Addr, MalformedPacket> {
    let octets: [u8; 4] = data
        .try_into()
        .map_err(|_| MalformedPacket::BadOption(code))?;
    Ok(Ipv4Addr::from(octets))
}

/// Iterates the sub-options of a relay agent information option (RFC 3046),
/// stopping at the first truncated one.
pub(crate) fn sub_options(data: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let [code, len, tail @ ..] = rest else {
            return None;
        };
        let value = tail.get(..usize::from(*len))?;
        rest = &tail[usize::from(*len)..];
        Some((*code, value))
    })
}

/// A reply under construction. Options are collected in any order and
/// written in Kea's order by [`ReplyBuilder::encode`].
#[derive(Debug, Clone)]
pub(crate) struct ReplyBuilder {
    pub(crate) message_type: MessageType,
    pub(crate) xid: u32,
    pub(crate) htype: u8,
    pub(crate) chaddr: HwAddr,
    pub(crate) flags: u16,
    pub(crate) ciaddr: Ipv4Addr,
    pub(crate) yiaddr: Ipv4Addr,
    pub(crate) siaddr: Ipv4Addr,
    pub(crate) giaddr: Ipv4Addr,
    pub(crate) hops: u8,
    /// `sname`, at most 63 bytes.
    pub(crate) sname: Vec<u8>,
    /// `file`, at most 127 bytes.
    pub(crate) file: Vec<u8>,
    options: Vec<(u8, Vec<u8>)>,
}

impl ReplyBuilder {
    /// A reply of `message_type` to `query`, with the header fields every
    /// reply copies from its query (RFC 2131 table 3).
    pub(crate) fn new(message_type: MessageType, query: &Query) -> Self {
        Self {
            message_type,
            xid: query.xid,
            htype: query.htype,
            chaddr: query.chaddr,
            flags: query.flags,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: query.giaddr,
            hops: query.hops,
            sname: Vec::new(),
            file: Vec::new(),
            options: Vec::new(),
        }
    }

    /// Adds an option unless one with the same code is already there.
    pub(crate) fn add(&mut self, code: u8, data: &[u8]) {
        if !self.has(code) {
            self.options.push((code, data.to_vec()));
        }
    }

    /// True when an option with `code` has been added.
    pub(crate) fn has(&self, code: u8) -> bool {
        self.options.iter().any(|(existing, _)| *existing == code)
    }

    /// Writes the reply. Options longer than 255 bytes are split into
    /// several instances of the same code (RFC 3396).
    pub(crate) fn encode(mut self) -> Vec<u8> {
        let mut out = Vec::with_capacity(300);
        let hlen = self.chaddr.as_bytes().len() as u8;
        out.extend_from_slice(&[BOOTREPLY, self.htype, hlen, self.hops]);
        out.extend_from_slice(&self.xid.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        out.extend_from_slice(&self.flags.to_be_bytes());
        for address in [self.ciaddr, self.yiaddr, self.siaddr, self.giaddr] {
            out.extend_from_slice(&address.octets());
        }
        let mut chaddr = [0u8; 16];
        chaddr[..self.chaddr.as_bytes().len()].copy_from_slice(self.chaddr.as_bytes());
        out.extend_from_slice(&chaddr);
        let mut sname = [0u8; 64];
        let length = self.sname.len().min(63);
        sname[..length].copy_from_slice(&self.sname[..length]);
        out.extend_from_slice(&sname);
        let mut file = [0u8; 128];
        let length = self.file.len().min(127);
        file[..length].copy_from_slice(&self.file[..length]);
        out.extend_from_slice(&file);
        out.extend_from_slice(&MAGIC_COOKIE);

        put_option(&mut out, code::MESSAGE_TYPE, &[self.message_type.code()]);
        self.options.sort_by_key(|(code, _)| match *code {
            code::RELAY_AGENT_INFORMATION => 256,
            code => u16::from(code),
        });
        for (code, data) in &self.options {
            put_option(&mut out, *code, data);
        }
        out.push(code::END);
        out
    }
}

fn put_option(out: &mut Vec<u8>, code: u8, data: &[u8]) {
    if data.is_empty() {
        out.extend_from_slice(&[code, 0]);
        return;
    }
    for chunk in data.chunks(255) {
        out.extend_from_slice(&[code, chunk.len() as u8]);
        out.extend_from_slice(chunk);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a client query the way a client would, for tests.
    pub(crate) fn query_bytes(
        message_type: u8,
        chaddr: [u8; 6],
        header: impl FnOnce(&mut [u8]),
        options: &[(u8, &[u8])],
    ) -> Vec<u8> {
        let mut bytes = vec![0u8; HEADER_LEN];
        bytes[0] = BOOTREQUEST;
        bytes[1] = 1;
        bytes[2] = 6;
        bytes[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        bytes[28..34].copy_from_slice(&chaddr);
        header(&mut bytes);
        bytes.extend_from_slice(&MAGIC_COOKIE);
        put_option(&mut bytes, code::MESSAGE_TYPE, &[message_type]);
        for (code, data) in options {
            put_option(&mut bytes, *code, data);
        }
        bytes.push(code::END);
        bytes
    }

    /// A DHCPDISCOVER captured from isc-dhclient 4.4.3-P1 (Debian 12) with
    /// an empty dhclient.conf, chaddr 02:42:ac:11:00:02, as hex.
    const DHCLIENT_DISCOVER: &str = include_str!("fixtures/dhclient-4.4.3-discover.hex");

    fn hex(text: &str) -> Vec<u8> {
        let text = text.trim();
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn reads_a_captured_discover() {
        let query = Query::parse(&hex(DHCLIENT_DISCOVER)).unwrap();
        assert_eq!(query.message_type, MessageType::Discover);
        assert_eq!(query.xid, 0xe30d_ac18);
        assert_eq!(query.chaddr.to_string(), "02:42:ac:11:00:02");
        assert_eq!(query.parameter_request_list, [1, 28, 2, 3, 15, 6, 12]);
        assert_eq!(query.client_id, None);
        assert!(!query.is_relayed());
        assert!(!query.wants_broadcast());
    }

    #[test]
    fn refuses_malformed_packets() {
        let good = query_bytes(1, [2, 0, 0, 0, 0, 1], |_| {}, &[]);
        assert!(Query::parse(&good).is_ok());
        assert_eq!(
            Query::parse(&good[..100]).unwrap_err(),
            MalformedPacket::TooShort(100)
        );

        let mut reply = good.clone();
        reply[0] = BOOTREPLY;
        assert_eq!(
            Query::parse(&reply).unwrap_err(),
            MalformedPacket::NotRequest(2)
        );

        let mut long_hlen = good.clone();
        long_hlen[2] = 255;
        assert_eq!(
            Query::parse(&long_hlen).unwrap_err(),
            MalformedPacket::BadHardwareLength(255)
        );

        let mut no_cookie = good.clone();
        no_cookie[HEADER_LEN] = 0;
        assert_eq!(
            Query::parse(&no_cookie).unwrap_err(),
            MalformedPacket::NoMagicCookie
        );

        let untyped = &good[..HEADER_LEN + 4];
        assert_eq!(
            Query::parse(untyped).unwrap_err(),
            MalformedPacket::NoMessageType
        );

        let bad_address = query_bytes(3, [2, 0, 0, 0, 0, 1], |_| {}, &[(50, &[10, 0, 0])]);
        assert_eq!(
            Query::parse(&bad_address).unwrap_err(),
            MalformedPacket::BadOption(50)
        );
    }

    #[test]
    fn parsing_never_panics_on_truncations_and_bit_flips() {
        let good = query_bytes(
            3,
            [2, 0, 0, 0, 0, 1],
            |_| {},
            &[
                (50, &[10, 0, 0, 9]),
                (82, &[1, 2, 0xab, 0xcd, 19, 2, 0, 67]),
                (55, &[1, 3, 6]),
            ],
        );
        for len in 0..good.len() {
            let _ = Query::parse(&good[..len]);
        }
        for position in 0..good.len() {
            for bit in 0..8 {
                let mut flipped = good.clone();
                flipped[position] ^= 1 << bit;
                let _ = Query::parse(&flipped);
            }
        }
    }

    #[test]
    fn finds_the_relay_source_port_sub_option() {
        let with = query_bytes(1, [2; 6], |_| {}, &[(82, &[1, 1, 7, 19, 2, 0x10, 0x00])]);
        assert!(Query::parse(&with).unwrap().has_relay_source_port());
        let without = query_bytes(1, [2; 6], |_| {}, &[(82, &[1, 1, 7])]);
        assert!(!Query::parse(&without).unwrap().has_relay_source_port());
        let truncated = query_bytes(1, [2; 6], |_| {}, &[(82, &[1, 9, 7])]);
        assert!(!Query::parse(&truncated).unwrap().has_relay_source_port());
    }

    #[test]
    fn replies_put_message_type_first_and_agent_information_last() {
        let query = Query::parse(&query_bytes(1, [2; 6], |_| {}, &[])).unwrap();
        let mut reply = ReplyBuilder::new(MessageType::Offer, &query);
        reply.add(code::RELAY_AGENT_INFORMATION, &[1, 1, 9]);
        reply.add(code::SERVER_IDENTIFIER, &[192, 0, 2, 1]);
        reply.add(code::SUBNET_MASK, &[255, 255, 255, 0]);
        reply.add(code::SUBNET_MASK, &[255, 0, 0, 0]);
        let bytes = reply.encode();
        let options = &bytes[HEADER_LEN + 4..];
        assert_eq!(
            options,
            [
                53, 1, 2, 1, 4, 255, 255, 255, 0, 54, 4, 192, 0, 2, 1, 82, 3, 1, 1, 9, 255
            ]
        );
        assert_eq!(bytes[0], BOOTREPLY);
        assert_eq!(&bytes[4..8], &0x1234_5678u32.to_be_bytes());
    }

    #[test]
    fn long_options_are_split() {
        let query = Query::parse(&query_bytes(1, [2; 6], |_| {}, &[])).unwrap();
        let mut reply = ReplyBuilder::new(MessageType::Offer, &query);
        reply.add(119, &[7; 300]);
        let bytes = reply.encode();
        let options = &bytes[HEADER_LEN + 4 + 3..];
        assert_eq!(&options[..2], &[119, 255]);
        assert_eq!(&options[257..259], &[119, 45]);
        let parsed: Vec<_> = borrowed::Message::new(&bytes)
            .unwrap()
            .opts()
            .map(|o| o.data().len())
            .collect();
        assert_eq!(parsed, [1, 300]);
    }
}
