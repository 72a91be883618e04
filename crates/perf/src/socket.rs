//! UDP sockets with batched I/O: many datagrams per system call with Linux's `sendmmsg(2)`
//! and `recvmmsg(2)`. This is the crate's only module with `unsafe` code.
//!
//! Sockets are blocking for sends (a full send buffer slows the sender down instead of
//! losing requests in the generator) and read with `MSG_DONTWAIT`, so a receive never waits;
//! [`BatchSocket::wait_readable`] waits with `ppoll(2)` and a sub-millisecond timeout.

use std::io;
use std::mem;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::error::Error;
use crate::wire::MAX_REQUEST_LEN;

/// Datagrams per system call.
pub(crate) const BATCH: usize = 64;
/// Room for any datagram we read (an Ethernet MTU).
const DATAGRAM_LEN: usize = 1500;
/// Socket buffers we ask for, so that bursts are not lost in the generator's own socket.
const BUFFER_BYTES: usize = 8 << 20;
/// Client port (RFC 2131 section 4.1).
pub(crate) const CLIENT_PORT: u16 = 68;

/// A UDP socket read and written in batches.
#[derive(Debug)]
pub(crate) struct BatchSocket {
    socket: Socket,
}

impl BatchSocket {
    /// A socket bound to `local` with `SO_REUSEADDR`, as a relay agent's (port 67) or an
    /// ephemeral one (port 0).
    pub(crate) fn bind(local: SocketAddrV4) -> Result<Self, Error> {
        let bind_error = |source| Error::Bind { local, source };
        let socket = new_socket().map_err(bind_error)?;
        socket.bind(&local.into()).map_err(bind_error)?;
        Ok(Self { socket })
    }

    /// A socket for directly attached clients: bound to `0.0.0.0:68` on `interface` only,
    /// allowed to broadcast, so it receives the server's broadcast replies on that link.
    pub(crate) fn broadcast(interface: &str) -> Result<Self, Error> {
        let local = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, CLIENT_PORT);
        let interface_error = |source| Error::Interface {
            interface: interface.to_owned(),
            source,
        };
        let socket = new_socket().map_err(|source| Error::Bind { local, source })?;
        socket.set_broadcast(true).map_err(interface_error)?;
        socket
            .bind_device(Some(interface.as_bytes()))
            .map_err(interface_error)?;
        socket
            .bind(&local.into())
            .map_err(|source| Error::Bind { local, source })?;
        Ok(Self { socket })
    }

    /// The address the socket is bound to.
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddrV4> {
        let address = self.socket.local_addr()?;
        address
            .as_socket_ipv4()
            .ok_or_else(|| io::Error::other("socket is not IPv4"))
    }

    /// Waits up to `timeout` for a datagram to read; returns whether one is there.
    pub(crate) fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        let mut poll = libc::pollfd {
            fd: self.socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let timeout = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: `poll` and `timeout` are valid for the duration of the call, the count of
        // one matches the single pollfd, and a null signal mask is allowed.
        let ready = unsafe { libc::ppoll(&mut poll, 1, &timeout, std::ptr::null()) };
        match ready {
            -1 => match io::Error::last_os_error() {
                error if error.kind() == io::ErrorKind::Interrupted => Ok(false),
                error => Err(error),
            },
            ready => Ok(ready > 0),
        }
    }

    /// Reads up to [`BATCH`] datagrams that are already there into `inbox`, without waiting.
    /// Returns how many were read (0 when none was waiting).
    pub(crate) fn receive(&self, inbox: &mut Inbox) -> io::Result<usize> {
        let mut iovecs: [libc::iovec; BATCH] = [empty_iovec(); BATCH];
        // SAFETY: all-zero bytes are a valid sockaddr_in (plain integers).
        let mut names: [libc::sockaddr_in; BATCH] = unsafe { mem::zeroed() };
        // SAFETY: all-zero bytes are a valid mmsghdr (null pointers, zero lengths); the
        // fields that matter are filled in below.
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { mem::zeroed() };
        for (index, buffer) in inbox.buffers.iter_mut().enumerate() {
            iovecs[index] = libc::iovec {
                iov_base: buffer.as_mut_ptr().cast(),
                iov_len: buffer.len(),
            };
        }
        for index in 0..BATCH {
            let header = &mut headers[index].msg_hdr;
            header.msg_name = (&raw mut names[index]).cast();
            header.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            header.msg_iov = &raw mut iovecs[index];
            header.msg_iovlen = 1;
        }
        // SAFETY: each of the BATCH headers points at its own sockaddr_in and its own iovec,
        // which points at a distinct DATAGRAM_LEN buffer of `inbox`; all outlive the call,
        // and MSG_DONTWAIT with a null timeout makes the call return at once.
        let count = unsafe {
            libc::recvmmsg(
                self.socket.as_raw_fd(),
                headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if count < 0 {
            let error = io::Error::last_os_error();
            return match error.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(error),
            };
        }
        let count = count as usize;
        for index in 0..count {
            inbox.lengths[index] = headers[index].msg_len as usize;
            inbox.sources[index] = from_sockaddr(&names[index]);
        }
        inbox.count = count;
        Ok(count)
    }

    /// Sends every datagram in `outbox` (in batches of [`BATCH`]) and empties it.
    pub(crate) fn send(&self, outbox: &mut Outbox) -> io::Result<()> {
        let mut sent = 0;
        while sent < outbox.count {
            let batch = (outbox.count - sent).min(BATCH);
            sent += self.send_some(outbox, sent, batch)?;
        }
        outbox.count = 0;
        Ok(())
    }

    fn send_some(&self, outbox: &mut Outbox, first: usize, batch: usize) -> io::Result<usize> {
        let mut iovecs: [libc::iovec; BATCH] = [empty_iovec(); BATCH];
        // SAFETY: all-zero bytes are a valid sockaddr_in (plain integers).
        let mut names: [libc::sockaddr_in; BATCH] = unsafe { mem::zeroed() };
        // SAFETY: all-zero bytes are a valid mmsghdr (null pointers, zero lengths).
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { mem::zeroed() };
        for index in 0..batch {
            let packet = first + index;
            names[index] = to_sockaddr(outbox.destinations[packet]);
            iovecs[index] = libc::iovec {
                iov_base: outbox.buffers[packet].as_mut_ptr().cast(),
                iov_len: outbox.lengths[packet],
            };
            let header = &mut headers[index].msg_hdr;
            header.msg_name = (&raw mut names[index]).cast();
            header.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            header.msg_iov = &raw mut iovecs[index];
            header.msg_iovlen = 1;
        }
        loop {
            // SAFETY: the first `batch` headers each point at their own destination and at
            // an iovec covering the initialised part of one outbox buffer; the kernel only
            // reads them, and all of them outlive the call.
            let count = unsafe {
                libc::sendmmsg(
                    self.socket.as_raw_fd(),
                    headers.as_mut_ptr(),
                    batch as libc::c_uint,
                    0,
                )
            };
            if count > 0 {
                return Ok((count as usize).min(batch));
            }
            if count == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "sendmmsg sent nothing",
                ));
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }
}

fn new_socket() -> io::Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    // Smaller buffers than asked for (net.core.rmem_max) still work.
    let _ = socket.set_recv_buffer_size(BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(BUFFER_BYTES);
    Ok(socket)
}

const fn empty_iovec() -> libc::iovec {
    libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }
}

fn to_sockaddr(address: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: address.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(address.ip().octets()),
        },
        sin_zero: [0; 8],
    }
}

fn from_sockaddr(name: &libc::sockaddr_in) -> SocketAddrV4 {
    let address = Ipv4Addr::from(name.sin_addr.s_addr.to_ne_bytes());
    SocketAddrV4::new(address, u16::from_be(name.sin_port))
}

/// Datagrams read by one [`BatchSocket::receive`].
pub(crate) struct Inbox {
    buffers: Box<[[u8; DATAGRAM_LEN]; BATCH]>,
    lengths: [usize; BATCH],
    sources: [SocketAddrV4; BATCH],
    count: usize,
}

impl Inbox {
    pub(crate) fn new() -> Self {
        Self {
            buffers: Box::new([[0; DATAGRAM_LEN]; BATCH]),
            lengths: [0; BATCH],
            sources: [SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0); BATCH],
            count: 0,
        }
    }

    /// The datagrams of the last receive and where each came from.
    pub(crate) fn datagrams(&self) -> impl Iterator<Item = (&[u8], SocketAddrV4)> {
        (0..self.count).map(|index| {
            let length = self.lengths[index].min(DATAGRAM_LEN);
            (&self.buffers[index][..length], self.sources[index])
        })
    }
}

/// Datagrams waiting to be sent by [`BatchSocket::send`].
pub(crate) struct Outbox {
    buffers: Vec<[u8; MAX_REQUEST_LEN]>,
    lengths: Vec<usize>,
    destinations: Vec<SocketAddrV4>,
    count: usize,
}

impl Outbox {
    pub(crate) fn new() -> Self {
        Self {
            buffers: vec![[0; MAX_REQUEST_LEN]; BATCH],
            lengths: vec![0; BATCH],
            destinations: vec![SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0); BATCH],
            count: 0,
        }
    }

    /// Whether a whole batch is waiting (time to send).
    pub(crate) fn is_full(&self) -> bool {
        self.count >= BATCH
    }

    /// Whether nothing is waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds a datagram for `destination`, written by `write` (which returns its length).
    /// Callers send when [`Self::is_full`]; past that the outbox grows.
    pub(crate) fn push(
        &mut self,
        destination: SocketAddrV4,
        write: impl FnOnce(&mut [u8; MAX_REQUEST_LEN]) -> usize,
    ) {
        if self.count == self.buffers.len() {
            self.buffers.push([0; MAX_REQUEST_LEN]);
            self.lengths.push(0);
            self.destinations.push(destination);
        }
        let length = write(&mut self.buffers[self.count]);
        self.lengths[self.count] = length.min(MAX_REQUEST_LEN);
        self.destinations[self.count] = destination;
        self.count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_go_out_and_come_back_over_loopback() {
        let localhost = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
        let receiver = BatchSocket::bind(localhost).unwrap();
        let sender = BatchSocket::bind(localhost).unwrap();
        let to = receiver.local_addr().unwrap();
        let mut outbox = Outbox::new();
        for index in 0..100u8 {
            outbox.push(to, |buffer| {
                buffer[0] = index;
                usize::from(index) + 1
            });
        }
        sender.send(&mut outbox).unwrap();
        assert!(outbox.is_empty());

        let mut inbox = Inbox::new();
        let mut seen = Vec::new();
        while seen.len() < 100 {
            assert!(receiver.wait_readable(Duration::from_secs(2)).unwrap());
            receiver.receive(&mut inbox).unwrap();
            for (datagram, source) in inbox.datagrams() {
                assert_eq!(source, sender.local_addr().unwrap());
                assert_eq!(datagram.len(), usize::from(datagram[0]) + 1);
                seen.push(datagram[0]);
            }
        }
        assert_eq!(seen, (0..100).collect::<Vec<u8>>());
        assert_eq!(receiver.receive(&mut inbox).unwrap(), 0);
        assert!(!receiver.wait_readable(Duration::from_millis(1)).unwrap());
    }
}
