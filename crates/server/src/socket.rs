//! DHCP sockets: one UDP socket per served interface, bound to port 67 and
//! to the interface itself, and delivery to clients that have no address
//! yet. All of leasehold's `unsafe` lives in this module.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use leasehold_engine::{CLIENT_PORT, Destination, SERVER_PORT};
use leasehold_leases::HwAddr;
use socket2::{Domain, Protocol, Socket, Type};

/// How long a receive waits before the worker checks whether to stop.
const RECEIVE_TIMEOUT: Duration = Duration::from_millis(200);

/// An interface leasehold serves, with the socket bound to it.
#[derive(Debug)]
pub(crate) struct InterfaceSocket {
    /// Interface name.
    pub(crate) name: String,
    /// The interface's first IPv4 address: the server identifier there.
    pub(crate) address: Ipv4Addr,
    pub(crate) socket: UdpSocket,
}

/// Why an interface could not be served.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The configured interface does not exist or has no IPv4 address.
    #[error("interface {0} does not exist or has no IPv4 address")]
    NoSuchInterface(String),
    /// Listing the machine's interfaces failed.
    #[error("cannot list network interfaces: {0}")]
    ListInterfaces(io::Error),
    /// Creating or binding the socket failed.
    #[error("cannot open a DHCP socket on {interface}: {source}")]
    Open {
        /// The interface.
        interface: String,
        /// What the kernel said.
        source: io::Error,
    },
}

/// The IPv4 interfaces of this machine, by name, loopback included.
pub(crate) fn interfaces() -> Result<Vec<(String, Ipv4Addr, bool)>, SocketError> {
    let addresses =
        nix::ifaddrs::getifaddrs().map_err(|e| SocketError::ListInterfaces(e.into()))?;
    let mut found: Vec<(String, Ipv4Addr, bool)> = Vec::new();
    for entry in addresses {
        let Some(address) = entry.address.as_ref().and_then(|a| a.as_sockaddr_in()) else {
            continue;
        };
        if found
            .iter()
            .any(|(name, _, _)| *name == entry.interface_name)
        {
            continue;
        }
        let is_loopback = entry
            .flags
            .contains(nix::net::if_::InterfaceFlags::IFF_LOOPBACK);
        found.push((entry.interface_name, address.ip(), is_loopback));
    }
    Ok(found)
}

/// Opens the sockets for the configured interface list (Kea's
/// `interfaces-config.interfaces`: names, `name/address`, or `*`).
pub(crate) fn open_all(configured: &[String]) -> Result<Vec<InterfaceSocket>, SocketError> {
    let available = interfaces()?;
    let mut wanted: Vec<(String, Ipv4Addr)> = Vec::new();
    for entry in configured {
        if entry == "*" {
            let all = available.iter().filter(|(_, _, is_loopback)| !is_loopback);
            wanted.extend(all.map(|(name, address, _)| (name.clone(), *address)));
            continue;
        }
        let (name, pinned) = match entry.split_once('/') {
            Some((name, address)) => (name, address.parse::<Ipv4Addr>().ok()),
            None => (entry.as_str(), None),
        };
        let address = available
            .iter()
            .find(|(candidate, _, _)| candidate == name)
            .map(|(_, address, _)| pinned.unwrap_or(*address))
            .ok_or_else(|| SocketError::NoSuchInterface(name.to_owned()))?;
        wanted.push((name.to_owned(), address));
    }
    wanted.dedup_by(|a, b| a.0 == b.0);
    wanted
        .into_iter()
        .map(|(name, address)| open(&name, address))
        .collect()
}

fn open(name: &str, address: Ipv4Addr) -> Result<InterfaceSocket, SocketError> {
    let error = |source| SocketError::Open {
        interface: name.to_owned(),
        source,
    };
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(error)?;
    socket.set_reuse_address(true).map_err(error)?;
    socket.set_broadcast(true).map_err(error)?;
    socket.bind_device(Some(name.as_bytes())).map_err(error)?;
    socket
        .set_read_timeout(Some(RECEIVE_TIMEOUT))
        .map_err(error)?;
    // A deep receive queue rides out bursts while the lease file syncs.
    let _ = socket.set_recv_buffer_size(8 << 20);
    let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, SERVER_PORT);
    socket.bind(&SocketAddr::V4(any).into()).map_err(error)?;
    Ok(InterfaceSocket {
        name: name.to_owned(),
        address,
        socket: socket.into(),
    })
}

impl InterfaceSocket {
    /// Tells the kernel that `address` is at `hwaddr` on this interface, so
    /// a unicast reply reaches a client that cannot answer ARP yet (the
    /// approach of RFC 2131 section 4.1 for servers without raw sockets).
    fn add_arp_entry(&self, address: Ipv4Addr, hwaddr: HwAddr) -> io::Result<()> {
        // SAFETY: arpreq is a plain C struct for which all-zero bytes are a
        // valid value.
        let mut request: libc::arpreq = unsafe { std::mem::zeroed() };
        let protocol = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from(address).to_be(),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: sockaddr_in fits in sockaddr (16 bytes each), and both are
        // plain C structs; the copy writes only within arp_pa.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (&raw const protocol).cast::<u8>(),
                (&raw mut request.arp_pa).cast::<u8>(),
                size_of::<libc::sockaddr_in>(),
            );
        }
        request.arp_ha.sa_family = libc::ARPHRD_ETHER;
        for (slot, byte) in request.arp_ha.sa_data.iter_mut().zip(hwaddr.as_bytes()) {
            *slot = *byte as libc::c_char;
        }
        request.arp_flags = libc::ATF_COM;
        for (slot, byte) in request.arp_dev.iter_mut().zip(self.name.as_bytes()) {
            *slot = *byte as libc::c_char;
        }
        // SAFETY: SIOCSARP reads one arpreq through the pointer, which
        // points to a live, initialised value for the whole call.
        let result = unsafe { libc::ioctl(self.socket.as_raw_fd(), libc::SIOCSARP, &request) };
        match result {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    }
}

/// Datagrams received or sent in one system call.
pub(crate) const BATCH: usize = 32;

/// Room for one datagram; DHCP messages are far smaller.
const DATAGRAM_ROOM: usize = 1500;

/// Buffers for receiving up to [`BATCH`] datagrams with one `recvmmsg`.
pub(crate) struct ReceiveBatch {
    buffers: Vec<[u8; DATAGRAM_ROOM]>,
    sources: Vec<libc::sockaddr_in>,
    lengths: Vec<usize>,
    count: usize,
}

impl ReceiveBatch {
    pub(crate) fn new() -> Self {
        Self {
            buffers: vec![[0; DATAGRAM_ROOM]; BATCH],
            // SAFETY: sockaddr_in is a plain C struct; all-zero is valid.
            sources: vec![unsafe { std::mem::zeroed() }; BATCH],
            lengths: vec![0; BATCH],
            count: 0,
        }
    }

    /// Waits (up to the socket's receive timeout) for at least one datagram
    /// and takes every one already queued, up to [`BATCH`].
    pub(crate) fn receive(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        let mut iovecs: Vec<libc::iovec> = self
            .buffers
            .iter_mut()
            .map(|buffer| libc::iovec {
                iov_base: buffer.as_mut_ptr().cast(),
                iov_len: buffer.len(),
            })
            .collect();
        let mut headers: Vec<libc::mmsghdr> = iovecs
            .iter_mut()
            .zip(self.sources.iter_mut())
            .map(|(iovec, source)| libc::mmsghdr {
                msg_hdr: message_header(iovec, (source as *mut libc::sockaddr_in).cast()),
                msg_len: 0,
            })
            .collect();
        // SAFETY: every header points at an iovec, a buffer and a
        // sockaddr_in owned by `self` or by the locals above, all of which
        // outlive the call; the lengths passed match the allocations.
        let received = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        let count = usize::try_from(received).map_err(|_| io::Error::last_os_error())?;
        for (length, header) in self.lengths.iter_mut().zip(&headers[..count]) {
            *length = header.msg_len as usize;
        }
        self.count = count;
        Ok(count)
    }

    /// The datagrams of the last receive, with their sources.
    pub(crate) fn datagrams(&self) -> impl Iterator<Item = (&[u8], SocketAddrV4)> {
        (0..self.count).map(|index| {
            let source = self.sources[index];
            let address = Ipv4Addr::from(u32::from_be(source.sin_addr.s_addr));
            let port = u16::from_be(source.sin_port);
            (
                &self.buffers[index][..self.lengths[index]],
                SocketAddrV4::new(address, port),
            )
        })
    }
}

fn message_header(iovec: &mut libc::iovec, name: *mut libc::c_void) -> libc::msghdr {
    // SAFETY: msghdr is a plain C struct; all-zero is a valid empty header.
    let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
    header.msg_name = name;
    header.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    header.msg_iov = iovec;
    header.msg_iovlen = 1;
    header
}

fn socket_address(address: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: address.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*address.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

impl InterfaceSocket {
    /// Sends datagrams with as few system calls as the kernel allows
    /// (`sendmmsg`). Returns the datagrams that could not be sent, by
    /// index, with the reason.
    pub(crate) fn send_batch(
        &self,
        datagrams: &[(&[u8], SocketAddrV4)],
    ) -> Vec<(usize, io::Error)> {
        let mut targets: Vec<libc::sockaddr_in> = datagrams
            .iter()
            .map(|(_, target)| socket_address(*target))
            .collect();
        let mut iovecs: Vec<libc::iovec> = datagrams
            .iter()
            .map(|(bytes, _)| libc::iovec {
                iov_base: bytes.as_ptr() as *mut _,
                iov_len: bytes.len(),
            })
            .collect();
        let mut headers: Vec<libc::mmsghdr> = iovecs
            .iter_mut()
            .zip(targets.iter_mut())
            .map(|(iovec, target)| libc::mmsghdr {
                msg_hdr: message_header(iovec, (target as *mut libc::sockaddr_in).cast()),
                msg_len: 0,
            })
            .collect();
        let mut failures = Vec::new();
        let mut next = 0;
        while next < headers.len() {
            let remaining = &mut headers[next..];
            // SAFETY: the headers point at iovecs, payloads and addresses
            // that live until the end of this function; the kernel only
            // reads the payloads (the cast to *mut is what iovec requires).
            let result = unsafe {
                libc::sendmmsg(
                    self.socket.as_raw_fd(),
                    remaining.as_mut_ptr(),
                    remaining.len() as libc::c_uint,
                    0,
                )
            };
            match usize::try_from(result) {
                Ok(0) => break,
                Ok(count) => next += count,
                // The kernel refused the first datagram: skip it, go on.
                Err(_) => {
                    failures.push((next, io::Error::last_os_error()));
                    next += 1;
                }
            }
        }
        failures
    }

    /// The socket address a reply goes to, making the ARP entry a reply
    /// to an unconfigured client needs.
    pub(crate) fn resolve(&self, destination: Destination) -> io::Result<SocketAddrV4> {
        Ok(match destination {
            Destination::Relay(relay) => relay,
            Destination::Client(address) => SocketAddrV4::new(address, CLIENT_PORT),
            Destination::Broadcast => SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT),
            Destination::Unconfigured { address, hwaddr } => {
                self.add_arp_entry(address, hwaddr)?;
                SocketAddrV4::new(address, CLIENT_PORT)
            }
        })
    }
}
