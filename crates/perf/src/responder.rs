//! A dummy DHCP server: answers every DISCOVER with an OFFER and every REQUEST with an ACK,
//! keeps no state and writes nothing, so that it is never the bottleneck. It exists to
//! measure the load generator itself (`bench/`) and to test it without a real server.
//!
//! The address handed out is derived from the client's hardware address (`10.x.y.z` from its
//! last three bytes) or is its `ciaddr` when renewing. Replies go where RFC 2131 section 4.1
//! sends them: to the relay on port 67, or on the relay's source port when it sent the
//! RFC 8357 sub-option; to the client by broadcast when it asked for it; otherwise back to
//! the source.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::Error;
use crate::socket::{BatchSocket, CLIENT_PORT, Inbox, Outbox};
use crate::wire::{MAX_REQUEST_LEN, MIN_MESSAGE_LEN, MessageType, Reply, code};

/// The server port.
const SERVER_PORT: u16 = 67;
/// Lease time in every reply, seconds.
const LEASE_TIME: u32 = 4000;

/// Writes the answer to `query` (from `source`) into `out`; returns its length and where it
/// goes, or `None` for queries that get no answer.
pub fn answer(
    query: &[u8],
    source: SocketAddrV4,
    server_id: Ipv4Addr,
    out: &mut [u8; MAX_REQUEST_LEN],
) -> Option<(usize, SocketAddrV4)> {
    let parsed = Reply::parse_query(query)?;
    let kind = match parsed.message_type {
        MessageType::Discover => MessageType::Offer,
        MessageType::Request => MessageType::Ack,
        _ => return None,
    };
    let ciaddr = Ipv4Addr::new(query[12], query[13], query[14], query[15]);
    let giaddr = Ipv4Addr::new(query[24], query[25], query[26], query[27]);
    let yiaddr = match ciaddr.is_unspecified() {
        true => Ipv4Addr::new(10, parsed.mac[3], parsed.mac[4], parsed.mac[5]),
        false => ciaddr,
    };

    out.fill(0);
    out[..236].copy_from_slice(&query[..236]);
    out[0] = 2;
    out[16..20].copy_from_slice(&yiaddr.octets());
    out[236..240].copy_from_slice(&query[236..240]);
    let mut at = 240;
    let mut put = |code: u8, data: &[u8]| {
        let end = (at + 2 + data.len()).min(MAX_REQUEST_LEN - 1);
        let data = &data[..end - at - 2];
        out[at] = code;
        out[at + 1] = data.len() as u8;
        out[at + 2..end].copy_from_slice(data);
        at = end;
    };
    put(code::MESSAGE_TYPE, &[kind as u8]);
    put(code::SERVER_IDENTIFIER, &server_id.octets());
    put(code::LEASE_TIME, &LEASE_TIME.to_be_bytes());
    put(code::SUBNET_MASK, &[255, 0, 0, 0]);
    let relay_info = parsed.option(code::RELAY_AGENT_INFORMATION);
    if let Some(info) = relay_info {
        put(code::RELAY_AGENT_INFORMATION, info);
    }
    out[at] = code::END;

    let destination = if !giaddr.is_unspecified() {
        match relay_info.is_some_and(has_relay_source_port) {
            true => source,
            false => SocketAddrV4::new(giaddr, SERVER_PORT),
        }
    } else if query[10] & 0x80 != 0 {
        SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT)
    } else {
        source
    };
    Some(((at + 1).max(MIN_MESSAGE_LEN), destination))
}

fn has_relay_source_port(info: &[u8]) -> bool {
    let mut rest = info;
    while let [code, len, tail @ ..] = rest {
        if *code == 19 {
            return true;
        }
        let Some(next) = tail.get(usize::from(*len)..) else {
            return false;
        };
        rest = next;
    }
    false
}

/// The dummy server on a socket.
#[derive(Debug)]
pub struct Responder {
    socket: BatchSocket,
    server_id: Ipv4Addr,
}

impl Responder {
    /// Binds `local` (usually port 67); `local`'s address is the server identifier, or
    /// 192.0.2.1 when it is unspecified.
    pub fn bind(local: SocketAddrV4) -> Result<Self, Error> {
        let socket = BatchSocket::bind(local)?;
        let server_id = match local.ip().is_unspecified() {
            true => Ipv4Addr::new(192, 0, 2, 1),
            false => *local.ip(),
        };
        Ok(Self { socket, server_id })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> Result<SocketAddrV4, Error> {
        Ok(self.socket.local_addr()?)
    }

    /// Answers queries until `stop` is set; returns how many it answered.
    pub fn serve(&self, stop: &AtomicBool) -> Result<u64, Error> {
        let mut inbox = Inbox::new();
        let mut outbox = Outbox::new();
        let mut answered = 0;
        while !stop.load(Ordering::Relaxed) {
            if !self.socket.wait_readable(Duration::from_millis(20))? {
                continue;
            }
            while self.socket.receive(&mut inbox)? > 0 {
                for (query, source) in inbox.datagrams() {
                    let mut reply = [0; MAX_REQUEST_LEN];
                    let Some((len, to)) = answer(query, source, self.server_id, &mut reply) else {
                        continue;
                    };
                    outbox.push(to, |buffer| {
                        buffer[..len].copy_from_slice(&reply[..len]);
                        len
                    });
                    answered += 1;
                }
                self.socket.send(&mut outbox)?;
            }
        }
        Ok(answered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Request;

    const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

    fn encode(request: &Request) -> Vec<u8> {
        let mut buffer = [0; MAX_REQUEST_LEN];
        let len = request.encode(&mut buffer);
        buffer[..len].to_vec()
    }

    #[test]
    fn offers_an_address_from_the_hardware_address_to_the_relay() {
        let mut discover = Request::new(MessageType::Discover, 9, [2, 0, 0, 1, 2, 3]);
        discover.giaddr = Ipv4Addr::new(192, 0, 2, 2);
        let source = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 67);
        let mut out = [0; MAX_REQUEST_LEN];
        let (len, to) = answer(&encode(&discover), source, SERVER, &mut out).unwrap();
        assert_eq!(to, SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 67));
        let offer = Reply::parse(&out[..len]).unwrap();
        assert_eq!(offer.message_type, MessageType::Offer);
        assert_eq!(offer.xid, 9);
        assert_eq!(offer.yiaddr, Ipv4Addr::new(10, 1, 2, 3));
        assert_eq!(offer.server_identifier(), Some(SERVER));
    }

    #[test]
    fn honours_the_relay_source_port_and_the_broadcast_flag() {
        let mut request = Request::new(MessageType::Request, 9, [2; 6]);
        request.giaddr = Ipv4Addr::new(192, 0, 2, 2);
        request.relay_source_port = true;
        let source = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 40000);
        let mut out = [0; MAX_REQUEST_LEN];
        let (_, to) = answer(&encode(&request), source, SERVER, &mut out).unwrap();
        assert_eq!(to, source);

        let mut discover = Request::new(MessageType::Discover, 9, [2; 6]);
        discover.broadcast = true;
        let (_, to) = answer(&encode(&discover), source, SERVER, &mut out).unwrap();
        assert_eq!(to, SocketAddrV4::new(Ipv4Addr::BROADCAST, 68));

        let release = Request::new(MessageType::Release, 9, [2; 6]);
        assert!(answer(&encode(&release), source, SERVER, &mut out).is_none());
    }
}
