//! The simulated clients of a perf run: a sans-I/O state machine.
//!
//! [`Clients`] owns one slot per client (free, bound to a lease, or waiting for a reply) and
//! turns three inputs into requests to send and [`Stats`]: [`Clients::start`] (an exchange is
//! due), [`Clients::on_reply`] (a datagram arrived) and [`Clients::expire`] (time passed). The
//! caller passes `now` every time; nothing here reads a clock or touches a socket.
//!
//! Client `i` has the hardware address `02:SS:ii:ii:ii:ii` (`SS` a per-run seed), so a reply is
//! matched to its client from `chaddr` without a lookup, then checked against the client's
//! transaction id and stage. Each client has at most one request in flight; an exchange that
//! is due while every client is busy is skipped and counted.

use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::report::{Duplicate, Stage, Stats};
use crate::wire::{MessageType, Reply, Request};

/// How requests reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// As a relay agent: giaddr set; with `source_port`, the RFC 8357 sub-option asks for
    /// replies on the sending port instead of port 67.
    Relay {
        /// The relay agent address.
        giaddr: Ipv4Addr,
        /// Whether to send the relay source port sub-option.
        source_port: bool,
    },
    /// As directly attached clients: broadcast flag set, replies broadcast to port 68.
    Broadcast,
}

/// What a run does, as far as the clients are concerned.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How requests reach the server.
    pub mode: Mode,
    /// Number of distinct clients (hardware addresses).
    pub clients: u32,
    /// Stop at the OFFER (no REQUEST).
    pub do_only: bool,
    /// Share of started exchanges that renew a bound client's lease, percent.
    pub renew_percent: u8,
    /// Share of started exchanges that release a bound client's lease, percent.
    pub release_percent: u8,
    /// How long to wait for a reply before counting a drop.
    pub drop_timeout: Duration,
    /// Record which client holds which address and report addresses ACKed twice.
    pub unique_check: bool,
    /// Second byte of every hardware address, so runs do not reuse each other's clients.
    pub mac_seed: u8,
}

impl Settings {
    /// Settings for `clients` relayed clients with defaults elsewhere: full DORA, no renewals
    /// or releases, a two-second drop timeout, no uniqueness check.
    pub fn relay(giaddr: Ipv4Addr, clients: u32) -> Self {
        Self {
            mode: Mode::Relay {
                giaddr,
                source_port: false,
            },
            clients,
            do_only: false,
            renew_percent: 0,
            release_percent: 0,
            drop_timeout: Duration::from_secs(2),
            unique_check: false,
            mac_seed: 0,
        }
    }

    /// Checks that the settings make sense together.
    pub fn validate(&self) -> Result<(), String> {
        if self.clients == 0 {
            return Err("there must be at least one client".into());
        }
        if u32::from(self.renew_percent) + u32::from(self.release_percent) > 100 {
            return Err("renew and release percentages add up to more than 100".into());
        }
        if self.do_only && self.renew_percent + self.release_percent > 0 {
            return Err("a DISCOVER-OFFER-only run has no leases to renew or release".into());
        }
        if self.mode == Mode::Broadcast && self.renew_percent > 0 {
            return Err(
                "renewals need relay mode: a renewing client gets its ACK unicast to an \
                 address it does not really have"
                    .into(),
            );
        }
        Ok(())
    }
}

/// What an exchange that is due will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exchange {
    /// DISCOVER (and REQUEST unless DO-only).
    Dora,
    /// REQUEST with ciaddr.
    Renew,
    /// RELEASE.
    Release,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lease {
    address: Ipv4Addr,
    server: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, Copy)]
struct Waiting {
    stage: Stage,
    xid: u32,
    /// Tells this request's deadline from an earlier one of the same client.
    serial: u32,
    sent: Instant,
    /// The lease the client had before this exchange, if any.
    lease: Option<Lease>,
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    Free,
    Bound(Lease),
    Waiting(Waiting),
}

/// The simulated clients; see the module documentation.
#[derive(Debug)]
pub struct Clients {
    settings: Settings,
    slots: Vec<Slot>,
    /// Clients without a lease and nothing in flight, oldest first.
    free: VecDeque<u32>,
    /// Clients with a lease and nothing in flight, longest bound first.
    bound: VecDeque<u32>,
    /// (deadline, client, serial) of every request sent, in deadline order.
    deadlines: VecDeque<(Instant, u32, u32)>,
    /// With the uniqueness check: which client holds each ACKed address.
    holders: HashMap<Ipv4Addr, u32>,
    in_flight: usize,
    next_xid: u32,
    next_serial: u32,
    renew_credit: u32,
    release_credit: u32,
    stats: Stats,
}

impl Clients {
    /// `settings.clients` free clients. The settings should have passed
    /// [`Settings::validate`].
    pub fn new(settings: Settings) -> Self {
        let count = settings.clients;
        Self {
            slots: vec![Slot::Free; count as usize],
            free: (0..count).collect(),
            bound: VecDeque::new(),
            deadlines: VecDeque::new(),
            holders: HashMap::new(),
            in_flight: 0,
            next_xid: u32::from(settings.mac_seed) << 24,
            next_serial: 0,
            renew_credit: 0,
            release_credit: 0,
            stats: Stats::default(),
            settings,
        }
    }

    /// The hardware address of client `index`.
    pub fn mac(&self, index: u32) -> [u8; 6] {
        let [a, b, c, d] = index.to_be_bytes();
        [0x02, self.settings.mac_seed, a, b, c, d]
    }

    fn index_of(&self, mac: [u8; 6]) -> Option<u32> {
        let [0x02, seed, a, b, c, d] = mac else {
            return None;
        };
        let index = u32::from_be_bytes([a, b, c, d]);
        (seed == self.settings.mac_seed && index < self.settings.clients).then_some(index)
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// When the oldest request in flight times out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.front().map(|&(deadline, _, _)| deadline)
    }

    /// The counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Hands the counters over at the end of a run.
    pub fn into_stats(self) -> Stats {
        self.stats
    }

    /// Starts one exchange at `now` and returns its first request, or `None` when every
    /// client is busy (counted as skipped).
    pub fn start(&mut self, now: Instant) -> Option<Request> {
        let (exchange, index) = match self.next_exchange() {
            Exchange::Dora => (Exchange::Dora, self.take_any()),
            other => match self.bound.pop_front() {
                Some(index) => (other, Some(index)),
                None => (Exchange::Dora, self.take_any()),
            },
        };
        let Some(index) = index else {
            self.stats.skipped += 1;
            return None;
        };
        let lease = match self.slots[index as usize] {
            Slot::Bound(lease) => Some(lease),
            Slot::Free | Slot::Waiting(_) => None,
        };
        match (exchange, lease) {
            (Exchange::Release, Some(lease)) => Some(self.release(index, lease)),
            (Exchange::Renew, Some(lease)) => {
                let mut request = self.request(MessageType::Request, index);
                request.ciaddr = lease.address;
                Some(self.send(index, Stage::Renew, request, Some(lease), now))
            }
            _ => {
                let request = self.request(MessageType::Discover, index);
                Some(self.send(index, Stage::DiscoverOffer, request, lease, now))
            }
        }
    }

    /// Handles a datagram that arrived at `now`; returns the next request of its exchange
    /// (the REQUEST after an OFFER), if any.
    pub fn on_reply(&mut self, bytes: &[u8], now: Instant) -> Option<Request> {
        let Some(reply) = Reply::parse(bytes) else {
            self.stats.malformed += 1;
            return None;
        };
        let waiting = self
            .index_of(reply.mac)
            .and_then(|index| match self.slots[index as usize] {
                Slot::Waiting(waiting) if waiting.xid == reply.xid => Some((index, waiting)),
                _ => None,
            });
        let Some((index, waiting)) = waiting else {
            self.stats.late += 1;
            return None;
        };
        let latency = now.saturating_duration_since(waiting.sent);
        match (waiting.stage, reply.message_type) {
            (Stage::DiscoverOffer, MessageType::Offer) => {
                self.stats.stage_mut(waiting.stage).record_reply(latency);
                self.in_flight -= 1;
                if self.settings.do_only {
                    self.settle(index, waiting.lease);
                    return None;
                }
                let mut request = self.request(MessageType::Request, index);
                request.xid = waiting.xid;
                request.requested_address = Some(reply.yiaddr);
                request.server_identifier = reply.server_identifier();
                Some(self.send(index, Stage::RequestAck, request, waiting.lease, now))
            }
            (Stage::RequestAck | Stage::Renew, MessageType::Ack) => {
                self.stats.stage_mut(waiting.stage).record_reply(latency);
                self.in_flight -= 1;
                let lease = Lease {
                    address: reply.yiaddr,
                    server: reply.server_identifier(),
                };
                self.hold(index, waiting.lease, lease.address);
                self.settle(index, Some(lease));
                None
            }
            (Stage::RequestAck | Stage::Renew, MessageType::Nak) => {
                let stats = self.stats.stage_mut(waiting.stage);
                stats.record_reply(latency);
                stats.naks += 1;
                self.in_flight -= 1;
                if let Some(lease) = waiting.lease {
                    self.let_go(index, lease.address);
                }
                self.settle(index, None);
                None
            }
            _ => {
                self.stats.late += 1;
                None
            }
        }
    }

    /// Counts every request whose deadline has passed at `now` as a drop; its client goes
    /// back to the lease it had before.
    pub fn expire(&mut self, now: Instant) {
        while let Some(&(deadline, index, serial)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            let Slot::Waiting(waiting) = self.slots[index as usize] else {
                continue;
            };
            if waiting.serial != serial {
                continue;
            }
            self.stats.stage_mut(waiting.stage).drops += 1;
            self.in_flight -= 1;
            self.settle(index, waiting.lease);
        }
    }

    /// Picks the next exchange of the traffic mix: each percentage accumulates credit, and an
    /// exchange of that kind is made whenever its credit reaches 100.
    fn next_exchange(&mut self) -> Exchange {
        self.renew_credit += u32::from(self.settings.renew_percent);
        self.release_credit += u32::from(self.settings.release_percent);
        if self.renew_credit >= 100 {
            self.renew_credit -= 100;
            return Exchange::Renew;
        }
        if self.release_credit >= 100 {
            self.release_credit -= 100;
            return Exchange::Release;
        }
        Exchange::Dora
    }

    /// A client for a new DORA: a free one, else the longest-bound one.
    fn take_any(&mut self) -> Option<u32> {
        self.free.pop_front().or_else(|| self.bound.pop_front())
    }

    fn request(&mut self, message_type: MessageType, index: u32) -> Request {
        self.next_xid = self.next_xid.wrapping_add(1);
        let mut request = Request::new(message_type, self.next_xid, self.mac(index));
        match self.settings.mode {
            Mode::Relay {
                giaddr,
                source_port,
            } => {
                request.giaddr = giaddr;
                request.relay_source_port = source_port;
            }
            Mode::Broadcast => request.broadcast = message_type != MessageType::Release,
        }
        request
    }

    fn send(
        &mut self,
        index: u32,
        stage: Stage,
        request: Request,
        lease: Option<Lease>,
        now: Instant,
    ) -> Request {
        self.next_serial = self.next_serial.wrapping_add(1);
        let serial = self.next_serial;
        self.slots[index as usize] = Slot::Waiting(Waiting {
            stage,
            xid: request.xid,
            serial,
            sent: now,
            lease,
        });
        self.deadlines
            .push_back((now + self.settings.drop_timeout, index, serial));
        self.in_flight += 1;
        self.stats.stage_mut(stage).sent += 1;
        request
    }

    fn release(&mut self, index: u32, lease: Lease) -> Request {
        let mut request = self.request(MessageType::Release, index);
        request.ciaddr = lease.address;
        request.server_identifier = lease.server;
        self.stats.stage_mut(Stage::Release).sent += 1;
        self.let_go(index, lease.address);
        self.settle(index, None);
        request
    }

    /// Puts a client with nothing in flight back in the free or the bound queue.
    fn settle(&mut self, index: u32, lease: Option<Lease>) {
        match lease {
            Some(lease) => {
                self.slots[index as usize] = Slot::Bound(lease);
                self.bound.push_back(index);
            }
            None => {
                self.slots[index as usize] = Slot::Free;
                self.free.push_back(index);
            }
        }
    }

    /// Records that client `index` was ACKed `address` (it held `before`).
    fn hold(&mut self, index: u32, before: Option<Lease>, address: Ipv4Addr) {
        if !self.settings.unique_check {
            return;
        }
        if let Some(before) = before.filter(|before| before.address != address) {
            self.let_go(index, before.address);
        }
        match self.holders.insert(address, index) {
            Some(holder) if holder != index => self.stats.duplicates.push(Duplicate {
                address,
                holder,
                other: index,
            }),
            _ => {}
        }
    }

    /// Records that client `index` no longer holds `address`.
    fn let_go(&mut self, index: u32, address: Ipv4Addr) {
        if self.holders.get(&address) == Some(&index) {
            self.holders.remove(&address);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{MAX_REQUEST_LEN, code};

    const GIADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

    /// A reply of `kind` to `request` with `yiaddr`, as bytes.
    fn reply(request: &Request, kind: MessageType, yiaddr: Ipv4Addr) -> Vec<u8> {
        let mut buffer = [0; MAX_REQUEST_LEN];
        let len = request.encode(&mut buffer);
        let mut bytes = buffer[..len].to_vec();
        bytes[0] = 2;
        bytes[16..20].copy_from_slice(&yiaddr.octets());
        let options = [
            code::MESSAGE_TYPE,
            1,
            kind as u8,
            code::SERVER_IDENTIFIER,
            4,
            192,
            0,
            2,
            1,
            code::END,
        ];
        bytes.truncate(240);
        bytes.extend_from_slice(&options);
        bytes
    }

    fn address(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, last)
    }

    #[test]
    fn a_full_exchange_binds_a_client() {
        let mut clients = Clients::new(Settings::relay(GIADDR, 2));
        let t0 = Instant::now();
        let discover = clients.start(t0).unwrap();
        assert_eq!(discover.message_type, MessageType::Discover);
        assert_eq!(discover.giaddr, GIADDR);
        assert_eq!(discover.mac, [2, 0, 0, 0, 0, 0]);

        let offer = reply(&discover, MessageType::Offer, address(10));
        let request = clients
            .on_reply(&offer, t0 + Duration::from_millis(3))
            .unwrap();
        assert_eq!(request.message_type, MessageType::Request);
        assert_eq!(request.xid, discover.xid);
        assert_eq!(request.requested_address, Some(address(10)));
        assert_eq!(request.server_identifier, Some(SERVER));

        let ack = reply(&request, MessageType::Ack, address(10));
        assert!(
            clients
                .on_reply(&ack, t0 + Duration::from_millis(5))
                .is_none()
        );
        assert_eq!(clients.in_flight(), 0);
        let stats = clients.stats();
        assert_eq!(stats.stage(Stage::DiscoverOffer).received, 1);
        assert_eq!(stats.stage(Stage::RequestAck).received, 1);
        let latency = stats.stage(Stage::RequestAck).latency_at(0.5).unwrap();
        assert_eq!(latency.as_millis(), 2);
        // A duplicate ACK is late, not counted twice.
        clients.on_reply(&ack, t0 + Duration::from_millis(6));
        assert_eq!(clients.stats().late, 1);
    }

    #[test]
    fn each_client_has_one_request_in_flight() {
        let mut clients = Clients::new(Settings::relay(GIADDR, 2));
        let now = Instant::now();
        let first = clients.start(now).unwrap();
        let second = clients.start(now).unwrap();
        assert_ne!(first.mac, second.mac);
        assert_ne!(first.xid, second.xid);
        assert!(clients.start(now).is_none());
        assert_eq!(clients.stats().skipped, 1);
        assert_eq!(clients.in_flight(), 2);
    }

    #[test]
    fn a_reply_after_the_timeout_is_a_drop_then_late() {
        let mut settings = Settings::relay(GIADDR, 1);
        settings.drop_timeout = Duration::from_millis(100);
        let mut clients = Clients::new(settings);
        let t0 = Instant::now();
        let discover = clients.start(t0).unwrap();
        clients.expire(t0 + Duration::from_millis(99));
        assert_eq!(clients.in_flight(), 1);
        assert_eq!(
            clients.next_deadline(),
            Some(t0 + Duration::from_millis(100))
        );
        clients.expire(t0 + Duration::from_millis(100));
        assert_eq!(clients.in_flight(), 0);
        assert_eq!(clients.stats().stage(Stage::DiscoverOffer).drops, 1);

        let offer = reply(&discover, MessageType::Offer, address(10));
        assert!(
            clients
                .on_reply(&offer, t0 + Duration::from_millis(150))
                .is_none()
        );
        assert_eq!(clients.stats().late, 1);
        // The client is free again and starts over with a new transaction id.
        let again = clients.start(t0 + Duration::from_millis(200)).unwrap();
        assert_ne!(again.xid, discover.xid);
    }

    #[test]
    fn a_stale_deadline_does_not_drop_the_next_request() {
        let mut settings = Settings::relay(GIADDR, 1);
        settings.drop_timeout = Duration::from_millis(100);
        let mut clients = Clients::new(settings);
        let t0 = Instant::now();
        let discover = clients.start(t0).unwrap();
        let offer = reply(&discover, MessageType::Offer, address(10));
        clients.on_reply(&offer, t0 + Duration::from_millis(90));
        // The DISCOVER's deadline passes while the REQUEST is in flight.
        clients.expire(t0 + Duration::from_millis(120));
        assert_eq!(clients.in_flight(), 1);
        assert_eq!(clients.stats().stage(Stage::DiscoverOffer).drops, 0);
        clients.expire(t0 + Duration::from_millis(190));
        assert_eq!(clients.stats().stage(Stage::RequestAck).drops, 1);
    }

    #[test]
    fn do_only_stops_at_the_offer() {
        let mut settings = Settings::relay(GIADDR, 1);
        settings.do_only = true;
        let mut clients = Clients::new(settings);
        let now = Instant::now();
        let discover = clients.start(now).unwrap();
        let offer = reply(&discover, MessageType::Offer, address(10));
        assert!(clients.on_reply(&offer, now).is_none());
        assert_eq!(clients.in_flight(), 0);
        assert_eq!(
            clients.start(now).unwrap().message_type,
            MessageType::Discover
        );
    }

    /// Runs one DORA for the next client and ACKs `yiaddr`.
    fn bind(clients: &mut Clients, now: Instant, yiaddr: Ipv4Addr) -> Request {
        let discover = clients.start(now).unwrap();
        assert_eq!(discover.message_type, MessageType::Discover);
        let offer = reply(&discover, MessageType::Offer, yiaddr);
        let request = clients.on_reply(&offer, now).unwrap();
        clients.on_reply(&reply(&request, MessageType::Ack, yiaddr), now);
        request
    }

    #[test]
    fn the_mix_renews_and_releases_bound_clients() {
        let mut settings = Settings::relay(GIADDR, 10);
        settings.renew_percent = 50;
        settings.release_percent = 25;
        let mut clients = Clients::new(settings);
        let now = Instant::now();
        // Credits: renew 50, release 25 -> DORA.
        bind(&mut clients, now, address(10));
        // Renew credit reaches 100: the bound client renews with ciaddr and no server id.
        let renew = clients.start(now).unwrap();
        assert_eq!(renew.message_type, MessageType::Request);
        assert_eq!(renew.ciaddr, address(10));
        assert_eq!(renew.server_identifier, None);
        clients.on_reply(&reply(&renew, MessageType::Ack, address(10)), now);
        assert_eq!(clients.stats().stage(Stage::Renew).received, 1);
        // Renew 50, release 75 -> DORA of a second client.
        bind(&mut clients, now, address(11));
        // Renew 100 -> renew; then release 100 + 25 -> release.
        let renew = clients.start(now).unwrap();
        clients.on_reply(&reply(&renew, MessageType::Nak, address(0)), now);
        assert_eq!(clients.stats().stage(Stage::Renew).naks, 1);
        let release = clients.start(now).unwrap();
        assert_eq!(release.message_type, MessageType::Release);
        assert_eq!(release.server_identifier, Some(SERVER));
        assert_eq!(clients.stats().stage(Stage::Release).sent, 1);
        assert_eq!(clients.in_flight(), 0);
    }

    #[test]
    fn renew_without_a_bound_client_is_a_dora() {
        let mut settings = Settings::relay(GIADDR, 3);
        settings.renew_percent = 100;
        let mut clients = Clients::new(settings);
        let first = clients.start(Instant::now()).unwrap();
        assert_eq!(first.message_type, MessageType::Discover);
    }

    #[test]
    fn the_uniqueness_check_finds_an_address_acked_twice() {
        let mut settings = Settings::relay(GIADDR, 3);
        settings.unique_check = true;
        let mut clients = Clients::new(settings);
        let now = Instant::now();
        bind(&mut clients, now, address(10));
        bind(&mut clients, now, address(11));
        assert!(clients.stats().duplicates.is_empty());
        bind(&mut clients, now, address(10));
        assert_eq!(
            clients.stats().duplicates,
            [Duplicate {
                address: address(10),
                holder: 0,
                other: 2
            }]
        );
    }

    #[test]
    fn a_released_address_may_go_to_another_client() {
        let mut settings = Settings::relay(GIADDR, 2);
        settings.unique_check = true;
        settings.release_percent = 50;
        let mut clients = Clients::new(settings);
        let now = Instant::now();
        bind(&mut clients, now, address(10));
        let release = clients.start(now).unwrap();
        assert_eq!(release.message_type, MessageType::Release);
        // Client 1 is free and next in line; client 0 was released and queued behind it.
        bind(&mut clients, now, address(10));
        assert!(clients.stats().duplicates.is_empty());
    }

    #[test]
    fn settings_that_contradict_each_other_are_refused() {
        let mut settings = Settings::relay(GIADDR, 1);
        assert!(settings.validate().is_ok());
        settings.renew_percent = 60;
        settings.release_percent = 60;
        assert!(settings.validate().is_err());
        settings.release_percent = 0;
        settings.mode = Mode::Broadcast;
        assert!(settings.validate().is_err());
        settings.clients = 0;
        assert!(settings.validate().is_err());
    }

    #[test]
    fn replies_for_other_clients_are_ignored() {
        let mut clients = Clients::new(Settings::relay(GIADDR, 1));
        let now = Instant::now();
        let mut discover = clients.start(now).unwrap();
        discover.mac = [2, 9, 0, 0, 0, 0];
        clients.on_reply(&reply(&discover, MessageType::Offer, address(10)), now);
        assert_eq!(clients.stats().late, 1);
        clients.on_reply(b"not dhcp", now);
        assert_eq!(clients.stats().malformed, 1);
    }
}
