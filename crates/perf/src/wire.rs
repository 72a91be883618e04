//! The few DHCPv4 messages a client sends and the replies it reads (RFC 2131 section 2,
//! options per RFC 2132, relay agent information per RFC 3046, relay source port per
//! RFC 8357).
//!
//! Requests are written straight into a caller's buffer and replies are read in place, with
//! no allocation, because the load generator does both a hundred thousand times a second.
//! Reading a reply never panics, whatever the bytes.

use std::net::Ipv4Addr;

/// Length of the fixed BOOTP header, before the magic cookie.
const HEADER_LEN: usize = 236;
/// The magic cookie that opens the options field.
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// BOOTP's minimum message size; shorter requests are padded, as real clients do.
pub const MIN_MESSAGE_LEN: usize = 300;
/// A buffer this long holds any request [`Request::encode`] writes.
pub const MAX_REQUEST_LEN: usize = 400;
/// The broadcast bit of `flags`.
const BROADCAST_FLAG: u16 = 0x8000;
/// Sub-option of option 82 that asks for replies on the relay's source port (RFC 8357).
const RELAY_SOURCE_PORT_SUBOPTION: u8 = 19;

/// Option codes used here.
pub mod code {
    /// Subnet mask.
    pub const SUBNET_MASK: u8 = 1;
    /// Routers.
    pub const ROUTERS: u8 = 3;
    /// Domain name servers.
    pub const DOMAIN_NAME_SERVERS: u8 = 6;
    /// Domain name.
    pub const DOMAIN_NAME: u8 = 15;
    /// Requested IP address.
    pub const REQUESTED_ADDRESS: u8 = 50;
    /// IP address lease time.
    pub const LEASE_TIME: u8 = 51;
    /// DHCP message type.
    pub const MESSAGE_TYPE: u8 = 53;
    /// Server identifier.
    pub const SERVER_IDENTIFIER: u8 = 54;
    /// Parameter request list.
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    /// Relay agent information.
    pub const RELAY_AGENT_INFORMATION: u8 = 82;
    /// End of options.
    pub const END: u8 = 255;
}

/// DHCP message types (option 53, RFC 2132 section 9.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// DHCPDISCOVER.
    Discover = 1,
    /// DHCPOFFER.
    Offer = 2,
    /// DHCPREQUEST.
    Request = 3,
    /// DHCPDECLINE.
    Decline = 4,
    /// DHCPACK.
    Ack = 5,
    /// DHCPNAK.
    Nak = 6,
    /// DHCPRELEASE.
    Release = 7,
    /// DHCPINFORM.
    Inform = 8,
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
}

/// A request from a client, directly or through a relay agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// DISCOVER, REQUEST or RELEASE.
    pub message_type: MessageType,
    /// Transaction id.
    pub xid: u32,
    /// The client's hardware address (Ethernet).
    pub mac: [u8; 6],
    /// `ciaddr`: the client's address when renewing or releasing.
    pub ciaddr: Ipv4Addr,
    /// `giaddr`: the relay agent address, unspecified for a direct client.
    pub giaddr: Ipv4Addr,
    /// Sets the broadcast flag (a direct client without an address).
    pub broadcast: bool,
    /// Option 50.
    pub requested_address: Option<Ipv4Addr>,
    /// Option 54.
    pub server_identifier: Option<Ipv4Addr>,
    /// Adds option 82 with the RFC 8357 relay source port sub-option, so that the server
    /// answers on the port the request came from rather than on port 67.
    pub relay_source_port: bool,
}

impl Request {
    /// A request of `message_type` with no addresses and no options beyond the type.
    pub fn new(message_type: MessageType, xid: u32, mac: [u8; 6]) -> Self {
        Self {
            message_type,
            xid,
            mac,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            broadcast: false,
            requested_address: None,
            server_identifier: None,
            relay_source_port: false,
        }
    }

    /// Writes the request into `buffer` and returns its length, [`MIN_MESSAGE_LEN`] or more.
    pub fn encode(&self, buffer: &mut [u8; MAX_REQUEST_LEN]) -> usize {
        buffer.fill(0);
        let relayed = !self.giaddr.is_unspecified();
        buffer[0] = 1; // BOOTREQUEST
        buffer[1] = 1; // Ethernet
        buffer[2] = 6;
        buffer[3] = u8::from(relayed);
        buffer[4..8].copy_from_slice(&self.xid.to_be_bytes());
        let flags = if self.broadcast { BROADCAST_FLAG } else { 0 };
        buffer[10..12].copy_from_slice(&flags.to_be_bytes());
        buffer[12..16].copy_from_slice(&self.ciaddr.octets());
        buffer[24..28].copy_from_slice(&self.giaddr.octets());
        buffer[28..34].copy_from_slice(&self.mac);
        buffer[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&MAGIC_COOKIE);

        let mut writer = OptionWriter {
            buffer,
            at: HEADER_LEN + 4,
        };
        writer.put(code::MESSAGE_TYPE, &[self.message_type as u8]);
        if let Some(address) = self.requested_address {
            writer.put(code::REQUESTED_ADDRESS, &address.octets());
        }
        if let Some(address) = self.server_identifier {
            writer.put(code::SERVER_IDENTIFIER, &address.octets());
        }
        if self.message_type != MessageType::Release {
            let wanted = [
                code::SUBNET_MASK,
                code::ROUTERS,
                code::DOMAIN_NAME_SERVERS,
                code::DOMAIN_NAME,
            ];
            writer.put(code::PARAMETER_REQUEST_LIST, &wanted);
        }
        if self.relay_source_port {
            // RFC 8357 section 5.1: a relay that is not itself downstream of another relay
            // sends the sub-option with a zero downstream port.
            let info = [RELAY_SOURCE_PORT_SUBOPTION, 2, 0, 0];
            writer.put(code::RELAY_AGENT_INFORMATION, &info);
        }
        writer.buffer[writer.at] = code::END;
        (writer.at + 1).max(MIN_MESSAGE_LEN)
    }
}

struct OptionWriter<'a> {
    buffer: &'a mut [u8; MAX_REQUEST_LEN],
    at: usize,
}

impl OptionWriter<'_> {
    /// Appends one option; every option this module writes is short, so it always fits.
    fn put(&mut self, code: u8, data: &[u8]) {
        let end = self.at + 2 + data.len();
        self.buffer[self.at] = code;
        self.buffer[self.at + 1] = data.len() as u8;
        self.buffer[self.at + 2..end].copy_from_slice(data);
        self.at = end;
    }
}

/// A server's reply, read in place from the datagram.
#[derive(Debug, Clone, Copy)]
pub struct Reply<'a> {
    /// Transaction id.
    pub xid: u32,
    /// The first six bytes of `chaddr`.
    pub mac: [u8; 6],
    /// `yiaddr`: the address offered or acknowledged.
    pub yiaddr: Ipv4Addr,
    /// Option 53.
    pub message_type: MessageType,
    options: &'a [u8],
}

impl<'a> Reply<'a> {
    /// Reads a BOOTREPLY with a message type; anything else is `None`.
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        Self::read(bytes, 2)
    }

    /// Reads a BOOTREQUEST the same way (for the dummy responder).
    pub(crate) fn parse_query(bytes: &'a [u8]) -> Option<Self> {
        Self::read(bytes, 1)
    }

    fn read(bytes: &'a [u8], op: u8) -> Option<Self> {
        let options = bytes.get(HEADER_LEN + 4..)?;
        if bytes[0] != op || bytes[HEADER_LEN..HEADER_LEN + 4] != MAGIC_COOKIE {
            return None;
        }
        let mut reply = Self {
            xid: u32::from_be_bytes(bytes[4..8].try_into().ok()?),
            mac: bytes[28..34].try_into().ok()?,
            yiaddr: ipv4(&bytes[16..20])?,
            message_type: MessageType::Discover,
            options,
        };
        let [kind] = reply.option(code::MESSAGE_TYPE)? else {
            return None;
        };
        reply.message_type = MessageType::from_code(*kind)?;
        Some(reply)
    }

    /// The data of the first option `code`, if present and whole.
    pub fn option(&self, code: u8) -> Option<&'a [u8]> {
        let mut rest = self.options;
        loop {
            match rest {
                [code::END, ..] | [] => return None,
                [0, tail @ ..] => rest = tail,
                [found, len, tail @ ..] => {
                    let data = tail.get(..usize::from(*len))?;
                    if *found == code {
                        return Some(data);
                    }
                    rest = &tail[data.len()..];
                }
                [_] => return None,
            }
        }
    }

    /// Option 54.
    pub fn server_identifier(&self) -> Option<Ipv4Addr> {
        self.option(code::SERVER_IDENTIFIER).and_then(ipv4)
    }

    /// Option 51, seconds.
    pub fn lease_time(&self) -> Option<u32> {
        let data = self.option(code::LEASE_TIME)?;
        Some(u32::from_be_bytes(data.try_into().ok()?))
    }

    /// Option 1.
    pub fn subnet_mask(&self) -> Option<Ipv4Addr> {
        self.option(code::SUBNET_MASK).and_then(ipv4)
    }

    /// An option that is a list of addresses (routers, DNS servers); empty when absent.
    pub fn addresses(&self, code: u8) -> Vec<Ipv4Addr> {
        let data = self.option(code).unwrap_or_default();
        data.chunks_exact(4).filter_map(ipv4).collect()
    }

    /// Option 15.
    pub fn domain_name(&self) -> Option<String> {
        let data = self.option(code::DOMAIN_NAME)?;
        Some(String::from_utf8_lossy(data).into_owned())
    }
}

fn ipv4(data: &[u8]) -> Option<Ipv4Addr> {
    let octets: [u8; 4] = data.try_into().ok()?;
    Some(Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcproto::v4::{self, DhcpOption, OptionCode};
    use dhcproto::{Decodable, Encodable};

    #[test]
    fn a_request_reads_back_with_dhcproto() {
        let mut request = Request::new(MessageType::Request, 0x1234_5678, [2, 0, 0, 0, 0, 9]);
        request.giaddr = Ipv4Addr::new(192, 0, 2, 2);
        request.requested_address = Some(Ipv4Addr::new(10, 0, 0, 10));
        request.server_identifier = Some(Ipv4Addr::new(192, 0, 2, 1));
        request.relay_source_port = true;
        let mut buffer = [0; MAX_REQUEST_LEN];
        let len = request.encode(&mut buffer);
        assert_eq!(len, MIN_MESSAGE_LEN);

        let message = v4::Message::from_bytes(&buffer[..len]).unwrap();
        assert_eq!(message.opcode(), v4::Opcode::BootRequest);
        assert_eq!(message.xid(), 0x1234_5678);
        assert_eq!(message.hops(), 1);
        assert_eq!(message.giaddr(), Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!(&message.chaddr()[..6], &[2, 0, 0, 0, 0, 9]);
        let options = message.opts();
        assert_eq!(options.msg_type(), Some(v4::MessageType::Request));
        assert!(matches!(
            options.get(OptionCode::RequestedIpAddress),
            Some(DhcpOption::RequestedIpAddress(address)) if *address == Ipv4Addr::new(10, 0, 0, 10)
        ));
        assert!(options.get(OptionCode::RelayAgentInformation).is_some());
    }

    #[test]
    fn a_broadcast_discover_sets_the_flag_and_no_relay_fields() {
        let mut request = Request::new(MessageType::Discover, 1, [2; 6]);
        request.broadcast = true;
        let mut buffer = [0; MAX_REQUEST_LEN];
        let len = request.encode(&mut buffer);
        let message = v4::Message::from_bytes(&buffer[..len]).unwrap();
        assert!(message.flags().broadcast());
        assert_eq!(message.hops(), 0);
        assert!(
            message
                .opts()
                .get(OptionCode::RelayAgentInformation)
                .is_none()
        );
    }

    fn ack_bytes() -> Vec<u8> {
        let unspecified = Ipv4Addr::UNSPECIFIED;
        let mut ack = v4::Message::new_with_id(
            77,
            unspecified,
            Ipv4Addr::new(10, 0, 0, 42),
            unspecified,
            Ipv4Addr::new(192, 0, 2, 2),
            &[2, 0, 0, 0, 0, 1],
        );
        ack.set_opcode(v4::Opcode::BootReply);
        let options = ack.opts_mut();
        options.insert(DhcpOption::MessageType(v4::MessageType::Ack));
        options.insert(DhcpOption::ServerIdentifier(Ipv4Addr::new(192, 0, 2, 1)));
        options.insert(DhcpOption::AddressLeaseTime(4000));
        options.insert(DhcpOption::Router(vec![Ipv4Addr::new(10, 0, 0, 1)]));
        options.insert(DhcpOption::DomainName("example.test".into()));
        ack.to_vec().unwrap()
    }

    #[test]
    fn reads_an_ack() {
        let bytes = ack_bytes();
        let reply = Reply::parse(&bytes).unwrap();
        assert_eq!(reply.xid, 77);
        assert_eq!(reply.mac, [2, 0, 0, 0, 0, 1]);
        assert_eq!(reply.yiaddr, Ipv4Addr::new(10, 0, 0, 42));
        assert_eq!(reply.message_type, MessageType::Ack);
        assert_eq!(reply.server_identifier(), Some(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(reply.lease_time(), Some(4000));
        assert_eq!(reply.addresses(code::ROUTERS), [Ipv4Addr::new(10, 0, 0, 1)]);
        assert_eq!(reply.domain_name().as_deref(), Some("example.test"));
    }

    #[test]
    fn never_panics_on_damaged_replies() {
        let good = ack_bytes();
        for len in 0..good.len() {
            let _ = Reply::parse(&good[..len]).map(|reply| reply.domain_name());
        }
        for position in 0..good.len() {
            for bit in 0..8 {
                let mut flipped = good.clone();
                flipped[position] ^= 1 << bit;
                if let Some(reply) = Reply::parse(&flipped) {
                    let _ = (reply.lease_time(), reply.addresses(code::ROUTERS));
                }
            }
        }
    }

    #[test]
    fn a_request_is_not_a_reply() {
        let mut buffer = [0; MAX_REQUEST_LEN];
        let len = Request::new(MessageType::Discover, 1, [2; 6]).encode(&mut buffer);
        assert!(Reply::parse(&buffer[..len]).is_none());
    }
}
