//! Answering queries: subnet selection, the RFC 2131 state machine and
//! option assembly.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use leasehold_config::{Config, HostIdentifier, OptionData, Reservation, Subnet};
use leasehold_leases::{Lease, LeaseChange, LeaseState};
use parking_lot::Mutex;

use crate::table::{Client, SubnetLeases};
use crate::wire::{MalformedPacket, MessageType, Query, ReplyBuilder, code};

/// How long an offered address is held for the client it was offered to.
pub const OFFER_HOLD_SECONDS: u32 = 30;

/// UDP port of DHCP servers and relay agents.
pub const SERVER_PORT: u16 = 67;
/// UDP port of DHCP clients.
pub const CLIENT_PORT: u16 = 68;

/// Where a query came from, as the socket layer saw it.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    /// Name of the interface the query arrived on.
    pub interface: &'a str,
    /// The interface's IPv4 address: our server identifier on it.
    pub local_address: Ipv4Addr,
    /// Source address and port of the datagram.
    pub source: std::net::SocketAddrV4,
}

/// Where a reply must go (RFC 2131 section 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// To the relay agent at this address and port.
    Relay(std::net::SocketAddrV4),
    /// To the client's configured address (`ciaddr`), port 68.
    Client(Ipv4Addr),
    /// To 255.255.255.255:68 on the arrival interface.
    Broadcast,
    /// To an address the client does not have yet: the socket layer must
    /// deliver it to `hwaddr` without ARP (an ARP entry or a raw frame).
    Unconfigured {
        /// The address being assigned.
        address: Ipv4Addr,
        /// The client's hardware address.
        hwaddr: leasehold_leases::HwAddr,
    },
}

/// An encoded reply and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The message type sent.
    pub message_type: MessageType,
    /// The datagram.
    pub bytes: Vec<u8>,
    /// Its destination.
    pub destination: Destination,
}

/// What the engine decided about one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The reply to send, if any.
    pub reply: Option<Reply>,
    /// Lease changes that must be durable before `reply` is sent.
    pub changes: Vec<LeaseChange>,
    /// Why no reply is sent, when there is none.
    pub silence: Option<Silence>,
    /// The type of the query, when it could be read.
    pub received: Option<MessageType>,
}

/// Why a query gets no reply. These are expected outcomes, not errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Silence {
    /// The packet is not a well-formed DHCP query.
    #[error("malformed: {0}")]
    Malformed(MalformedPacket),
    /// No configured subnet serves the client's network.
    #[error("no subnet for this client")]
    NoSubnet,
    /// Every address of the subnet's pools is taken.
    #[error("address pool exhausted")]
    PoolExhausted,
    /// The client picked another server's offer.
    #[error("client selected another server")]
    OtherServer,
    /// An INIT-REBOOT from a client this non-authoritative server has no
    /// record of (RFC 2131 section 4.3.2).
    #[error("unknown client in INIT-REBOOT")]
    UnknownClient,
    /// A message type servers never answer (RELEASE, DECLINE) or do not
    /// accept (OFFER, ACK, NAK from another server).
    #[error("no reply for this message type")]
    NoReplyExpected,
    /// A REQUEST that fits none of the states of section 4.3.2.
    #[error("REQUEST in no known state")]
    BadRequest,
}

/// A subnet with what the engine derives from it once per configuration.
#[derive(Debug)]
struct SubnetRuntime {
    config: Subnet,
    /// Subnet options over global ones, by code.
    options: Vec<OptionData>,
    reservations: Reservations,
    leases: Mutex<SubnetLeases>,
}

/// A subnet's reservations, indexed for lookup.
#[derive(Debug, Default)]
struct Reservations {
    all: Vec<Reservation>,
    by_identifier: HashMap<HostIdentifier, usize>,
    by_address: HashMap<Ipv4Addr, usize>,
}

impl Reservations {
    fn new(all: Vec<Reservation>) -> Self {
        let mut index = Self::default();
        for (position, reservation) in all.iter().enumerate() {
            index
                .by_identifier
                .insert(reservation.identifier.clone(), position);
            if let Some(address) = reservation.address {
                index.by_address.insert(address, position);
            }
        }
        index.all = all;
        index
    }

    /// The reservation that matches `query`, trying identifiers in Kea's
    /// default order: hardware address, then client identifier.
    fn find(&self, query: &Query) -> Option<&Reservation> {
        let hw = HostIdentifier::HwAddress(query.chaddr.as_bytes().to_vec());
        let by_client_id = || {
            let id = query.client_id.as_ref()?;
            self.by_identifier
                .get(&HostIdentifier::ClientId(id.as_bytes().to_vec()))
        };
        let position = self.by_identifier.get(&hw).or_else(by_client_id)?;
        self.all.get(*position)
    }

    fn reserved_to_other(&self, address: Ipv4Addr, mine: Option<&Reservation>) -> bool {
        let Some(position) = self.by_address.get(&address) else {
            return false;
        };
        mine.is_none_or(|reservation| reservation.address != self.all[*position].address)
    }
}

/// The DHCPv4 engine: configuration plus lease tables. Cheap to share
/// between worker threads; each subnet's table has its own lock, so
/// clients of different subnets never wait for each other.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    subnets: Vec<SubnetRuntime>,
}

impl Engine {
    /// Builds an engine for `config`, starting from `leases` (typically
    /// loaded from the lease store). Leases of subnets the configuration
    /// does not have are returned, so the caller can report them.
    pub fn new(config: Config, leases: Vec<Lease>) -> (Self, Vec<Lease>) {
        let subnets = config
            .subnets
            .iter()
            .map(|subnet| SubnetRuntime {
                options: merge_options(&subnet.options, &config.options),
                reservations: Reservations::new(subnet.reservations.clone()),
                leases: Mutex::new(SubnetLeases::default()),
                config: subnet.clone(),
            })
            .collect();
        let engine = Self { config, subnets };
        let orphans = engine.load(leases);
        (engine, orphans)
    }

    fn load(&self, leases: Vec<Lease>) -> Vec<Lease> {
        let mut orphans = Vec::new();
        for lease in leases {
            match self.subnet_by_id(lease.subnet_id) {
                Some(subnet) => subnet.leases.lock().load(lease),
                None => orphans.push(lease),
            }
        }
        orphans
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Every persisted lease, in no particular order.
    pub fn leases(&self) -> Vec<Lease> {
        let mut all = Vec::new();
        for subnet in &self.subnets {
            all.extend(subnet.leases.lock().leases().cloned());
        }
        all
    }

    /// Builds an engine for a new configuration, carrying over every lease.
    pub fn reconfigure(&self, config: Config) -> (Self, Vec<Lease>) {
        Self::new(config, self.leases())
    }

    /// Number of assigned, unexpired leases in subnet `id`.
    pub fn assigned_addresses(&self, id: u32, now: u64) -> usize {
        self.subnet_by_id(id)
            .map_or(0, |subnet| subnet.leases.lock().assigned(now))
    }

    /// Marks expired leases reclaimed, at most `limit` per subnet, and
    /// returns the changes to persist.
    pub fn reclaim_expired(&self, now: u64, limit: usize) -> Vec<LeaseChange> {
        let mut changes = Vec::new();
        for subnet in &self.subnets {
            let reclaimed = subnet.leases.lock().reclaim(now, limit);
            changes.extend(reclaimed.into_iter().map(LeaseChange::Upsert));
        }
        changes
    }

    /// Answers one datagram. `now` is the current time in seconds since
    /// the Unix epoch.
    pub fn handle(&self, datagram: &[u8], arrival: &Arrival<'_>, now: u64) -> Outcome {
        match Query::parse(datagram) {
            Ok(query) => {
                let mut outcome = self.answer(&query, arrival, now);
                outcome.received = Some(query.message_type);
                outcome
            }
            Err(malformed) => Outcome::silent(Silence::Malformed(malformed)),
        }
    }

    /// Answers a parsed query.
    pub fn answer(&self, query: &Query, arrival: &Arrival<'_>, now: u64) -> Outcome {
        match query.message_type {
            MessageType::Discover => self.discover(query, arrival, now),
            MessageType::Request => self.request(query, arrival, now),
            MessageType::Release => self.release(query),
            MessageType::Decline => self.decline(query, now),
            MessageType::Inform => self.inform(query, arrival),
            MessageType::Offer | MessageType::Ack | MessageType::Nak => {
                Outcome::silent(Silence::NoReplyExpected)
            }
        }
    }

    fn discover(&self, query: &Query, arrival: &Arrival<'_>, now: u64) -> Outcome {
        let Some(subnet) = self.select_subnet(query, arrival) else {
            return Outcome::silent(Silence::NoSubnet);
        };
        let client = self.client(query);
        let reservation = subnet.reservations.find(query);
        let mut leases = subnet.leases.lock();

        let reserved = reservation.and_then(|reservation| reservation.address);
        let current = leases.address_of(&client);
        let requested = query.requested_address.filter(|&address| {
            subnet.in_pool(address) && !subnet.reservations.reserved_to_other(address, reservation)
        });
        let candidates = [reserved, current, requested];
        let chosen = candidates
            .into_iter()
            .flatten()
            .find(|&address| leases.is_available(address, &client, now))
            .or_else(|| {
                let reservations = &subnet.reservations;
                leases.find_free(&subnet.config.pools, &client, now, |address| {
                    reservations.by_address.contains_key(&address)
                })
            });
        let Some(address) = chosen else {
            return Outcome::silent(Silence::PoolExhausted);
        };

        let is_leased = leases
            .slot(address)
            .is_some_and(|slot| !slot.offered && slot.belongs_to(&client));
        if !is_leased {
            let hold = self.lease_for(query, subnet, reservation, address, now, OFFER_HOLD_SECONDS);
            leases.put(hold, &client, true);
        }
        drop(leases);

        let mut reply = ReplyBuilder::new(MessageType::Offer, query);
        reply.yiaddr = address;
        self.add_lease_options(&mut reply, query, subnet, reservation, arrival);
        Outcome::reply(self.finish(reply, query, arrival), Vec::new())
    }

    fn request(&self, query: &Query, arrival: &Arrival<'_>, now: u64) -> Outcome {
        let state = RequestState::of(query);
        let requested = match state {
            RequestState::Selecting | RequestState::InitReboot => query.requested_address,
            RequestState::Renewing => Some(query.ciaddr),
            RequestState::Invalid => None,
        };
        let Some(requested) = requested else {
            return Outcome::silent(Silence::BadRequest);
        };
        let Some(subnet) = self.select_subnet(query, arrival) else {
            return Outcome::silent(Silence::NoSubnet);
        };
        let client = self.client(query);
        if state == RequestState::Selecting
            && query.server_identifier != Some(arrival.local_address)
        {
            subnet.leases.lock().withdraw_offer(&client);
            return Outcome::silent(Silence::OtherServer);
        }
        if !subnet.config.prefix.contains(&requested) {
            return self.nak(query, arrival);
        }

        let reservation = subnet.reservations.find(query);
        let mut leases = subnet.leases.lock();
        let current = leases.address_of(&client);
        if state == RequestState::InitReboot && current.is_none() && !self.config.authoritative {
            return Outcome::silent(Silence::UnknownClient);
        }
        let reserved = reservation.and_then(|reservation| reservation.address);
        let acceptable = reserved.is_none_or(|reserved| reserved == requested)
            && !subnet
                .reservations
                .reserved_to_other(requested, reservation)
            && leases.is_available(requested, &client, now)
            && (reserved == Some(requested) || subnet.in_pool(requested))
            && (state == RequestState::Selecting || current.is_none_or(|c| c == requested));
        if !acceptable {
            drop(leases);
            return self.nak(query, arrival);
        }

        let lifetime = subnet.config.valid_lifetime;
        let lease = self.lease_for(query, subnet, reservation, requested, now, lifetime);
        let mut changes = Vec::with_capacity(2);
        if let Some(previous) = leases.put(lease.clone(), &client, false) {
            changes.push(LeaseChange::Delete(previous));
        }
        drop(leases);
        changes.push(LeaseChange::Upsert(lease));

        let mut reply = ReplyBuilder::new(MessageType::Ack, query);
        reply.yiaddr = requested;
        reply.ciaddr = query.ciaddr;
        self.add_lease_options(&mut reply, query, subnet, reservation, arrival);
        Outcome::reply(self.finish(reply, query, arrival), changes)
    }

    fn release(&self, query: &Query) -> Outcome {
        let client = self.client(query);
        let Some(subnet) = self.subnet_containing(query.ciaddr) else {
            return Outcome::silent(Silence::NoSubnet);
        };
        let mut leases = subnet.leases.lock();
        let released = match leases.address_of(&client) == Some(query.ciaddr) {
            true => leases.remove(query.ciaddr),
            false => None,
        };
        let changes = released.map(LeaseChange::Delete).into_iter().collect();
        Outcome {
            changes,
            ..Outcome::silent(Silence::NoReplyExpected)
        }
    }

    fn decline(&self, query: &Query, now: u64) -> Outcome {
        let client = self.client(query);
        let Some(address) = query.requested_address else {
            return Outcome::silent(Silence::BadRequest);
        };
        let Some(subnet) = self.subnet_containing(address) else {
            return Outcome::silent(Silence::NoSubnet);
        };
        let mut leases = subnet.leases.lock();
        let probation = self.config.decline_probation_period;
        let changes = match leases.address_of(&client) == Some(address) {
            true => leases
                .decline(address, probation, now)
                .map(LeaseChange::Upsert),
            false => None,
        };
        let changes = changes.into_iter().collect();
        Outcome {
            changes,
            ..Outcome::silent(Silence::NoReplyExpected)
        }
    }

    fn inform(&self, query: &Query, arrival: &Arrival<'_>) -> Outcome {
        let Some(subnet) = self.select_subnet(query, arrival) else {
            return Outcome::silent(Silence::NoSubnet);
        };
        let reservation = subnet.reservations.find(query);
        let mut reply = ReplyBuilder::new(MessageType::Ack, query);
        reply.ciaddr = query.ciaddr;
        reply.add(code::SERVER_IDENTIFIER, &arrival.local_address.octets());
        self.add_configured_options(&mut reply, query, subnet, reservation);
        Outcome::reply(self.finish(reply, query, arrival), Vec::new())
    }

    fn nak(&self, query: &Query, arrival: &Arrival<'_>) -> Outcome {
        let mut reply = ReplyBuilder::new(MessageType::Nak, query);
        if query.is_relayed() {
            reply.flags |= crate::wire::BROADCAST_FLAG;
        }
        reply.add(code::SERVER_IDENTIFIER, &arrival.local_address.octets());
        Outcome::reply(self.finish(reply, query, arrival), Vec::new())
    }

    /// Echoes client identifier and relay agent information, picks the
    /// destination, and encodes.
    fn finish(&self, mut reply: ReplyBuilder, query: &Query, arrival: &Arrival<'_>) -> Reply {
        if let Some(client_id) = &query.client_id {
            reply.add(code::CLIENT_IDENTIFIER, client_id.as_bytes());
        }
        if let Some(info) = &query.relay_agent_information {
            reply.add(code::RELAY_AGENT_INFORMATION, info);
        }
        let message_type = reply.message_type;
        let destination = destination(query, &reply, arrival);
        Reply {
            message_type,
            bytes: reply.encode(),
            destination,
        }
    }

    /// Lease time, timers, server identifier, mask and configured options
    /// of an OFFER or ACK.
    fn add_lease_options(
        &self,
        reply: &mut ReplyBuilder,
        query: &Query,
        subnet: &SubnetRuntime,
        reservation: Option<&Reservation>,
        arrival: &Arrival<'_>,
    ) {
        let config = &subnet.config;
        reply.siaddr = config.next_server.unwrap_or(Ipv4Addr::UNSPECIFIED);
        reply.add(code::SERVER_IDENTIFIER, &arrival.local_address.octets());
        reply.add(code::LEASE_TIME, &config.valid_lifetime.to_be_bytes());
        // Kea leaves out timers that would not fire before the lease ends.
        let lifetime = config.valid_lifetime;
        if let Some(renew) = config.renew_timer.filter(|&renew| renew < lifetime) {
            reply.add(code::RENEWAL_TIME, &renew.to_be_bytes());
        }
        if let Some(rebind) = config.rebind_timer.filter(|&rebind| rebind < lifetime) {
            reply.add(code::REBINDING_TIME, &rebind.to_be_bytes());
        }
        reply.add(code::SUBNET_MASK, &config.prefix.netmask().octets());
        self.add_configured_options(reply, query, subnet, reservation);
    }

    /// Configured options, most specific first: reservation, pool, subnet
    /// (which already carries the global ones). Routers, DNS servers and
    /// domain name are always sent, as Kea does; other options only when
    /// the client asked for them or they are marked `always-send`.
    fn add_configured_options(
        &self,
        reply: &mut ReplyBuilder,
        query: &Query,
        subnet: &SubnetRuntime,
        reservation: Option<&Reservation>,
    ) {
        if let Some(hostname) = reservation.and_then(|r| r.hostname.as_deref())
            && (query.asks_for(code::HOST_NAME) || query.hostname.is_some())
        {
            reply.add(code::HOST_NAME, hostname.as_bytes());
        }
        let pool = subnet.pool_of(reply.yiaddr);
        let layers = [
            reservation.map(|r| r.options.as_slice()),
            pool.map(|p| p.options.as_slice()),
            Some(subnet.options.as_slice()),
        ];
        for option in layers.into_iter().flatten().flatten() {
            let always = matches!(
                option.code,
                code::ROUTERS | code::DOMAIN_NAME_SERVERS | code::DOMAIN_NAME
            );
            if always || option.always_send || query.asks_for(option.code) {
                reply.add(option.code, &option.data);
            }
        }
    }

    fn lease_for(
        &self,
        query: &Query,
        subnet: &SubnetRuntime,
        reservation: Option<&Reservation>,
        address: Ipv4Addr,
        now: u64,
        lifetime: u32,
    ) -> Lease {
        // Kea's default hostname-char-set drops all but letters, digits,
        // dots and hyphens.
        let hostname = reservation
            .and_then(|r| r.hostname.clone())
            .or_else(|| query.hostname.clone())
            .unwrap_or_default()
            .replace(
                |c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'),
                "",
            );
        Lease {
            address,
            hwaddr: Some(query.chaddr),
            client_id: query.client_id.clone(),
            valid_lifetime: lifetime,
            expire: now + u64::from(lifetime),
            subnet_id: subnet.config.id,
            fqdn_fwd: false,
            fqdn_rev: false,
            hostname,
            state: LeaseState::Assigned,
            user_context: None,
        }
    }

    fn client(&self, query: &Query) -> Client {
        let client_id = query
            .client_id
            .clone()
            .filter(|_| self.config.match_client_id);
        Client {
            hwaddr: query.chaddr,
            client_id,
        }
    }

    /// Kea's subnet selection: by relay (its `relay.ip-addresses`, then the
    /// subnet holding giaddr), then by the client's own address when it
    /// has one, then by arrival interface (its `interface`, then the subnet
    /// holding the interface address).
    fn select_subnet(&self, query: &Query, arrival: &Arrival<'_>) -> Option<&SubnetRuntime> {
        if query.is_relayed() {
            let giaddr = query.giaddr;
            let by_relay = self
                .subnets
                .iter()
                .find(|s| s.config.relay_addresses.contains(&giaddr));
            return by_relay.or_else(|| self.subnet_containing(giaddr));
        }
        if !query.ciaddr.is_unspecified()
            && let Some(subnet) = self.subnet_containing(query.ciaddr)
        {
            return Some(subnet);
        }
        let by_name = self
            .subnets
            .iter()
            .find(|s| s.config.interface.as_deref() == Some(arrival.interface));
        by_name.or_else(|| self.subnet_containing(arrival.local_address))
    }

    fn subnet_containing(&self, address: Ipv4Addr) -> Option<&SubnetRuntime> {
        self.subnets
            .iter()
            .find(|subnet| subnet.config.prefix.contains(&address))
    }

    fn subnet_by_id(&self, id: u32) -> Option<&SubnetRuntime> {
        self.subnets.iter().find(|subnet| subnet.config.id == id)
    }
}

impl SubnetRuntime {
    fn pool_of(&self, address: Ipv4Addr) -> Option<&leasehold_config::Pool> {
        self.config
            .pools
            .iter()
            .find(|pool| pool.first <= address && address <= pool.last)
    }

    fn in_pool(&self, address: Ipv4Addr) -> bool {
        self.pool_of(address).is_some()
    }
}

/// The states of a DHCPREQUEST (RFC 2131 section 4.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestState {
    /// Answering an offer: server identifier and requested address set.
    Selecting,
    /// Rebooting with a remembered address: requested address, no ciaddr.
    InitReboot,
    /// Extending a lease (RENEWING or REBINDING): ciaddr set.
    Renewing,
    /// None of the above.
    Invalid,
}

impl RequestState {
    fn of(query: &Query) -> Self {
        let has_ciaddr = !query.ciaddr.is_unspecified();
        match (query.server_identifier, query.requested_address, has_ciaddr) {
            (Some(_), Some(_), false) => Self::Selecting,
            (None, Some(_), false) => Self::InitReboot,
            (None, _, true) => Self::Renewing,
            // Some clients keep the server identifier while renewing.
            (Some(_), _, true) => Self::Renewing,
            _ => Self::Invalid,
        }
    }
}

/// Section 4.1: relayed replies go to the relay; NAKs are broadcast; a
/// client with an address gets unicast; the broadcast bit asks for
/// broadcast; otherwise unicast to the new address by hardware address.
/// A relay that sent the RFC 8357 source port sub-option gets the reply on
/// the port it sent from.
fn destination(query: &Query, reply: &ReplyBuilder, arrival: &Arrival<'_>) -> Destination {
    if query.is_relayed() {
        let port = match query.has_relay_source_port() {
            true => arrival.source.port(),
            false => SERVER_PORT,
        };
        return Destination::Relay(std::net::SocketAddrV4::new(query.giaddr, port));
    }
    if reply.message_type == MessageType::Nak {
        return Destination::Broadcast;
    }
    if !query.ciaddr.is_unspecified() {
        return Destination::Client(query.ciaddr);
    }
    if query.wants_broadcast() || reply.yiaddr.is_unspecified() {
        return Destination::Broadcast;
    }
    Destination::Unconfigured {
        address: reply.yiaddr,
        hwaddr: query.chaddr,
    }
}

/// Subnet options first, then global options with codes the subnet does
/// not set.
fn merge_options(subnet: &[OptionData], global: &[OptionData]) -> Vec<OptionData> {
    let mut merged = subnet.to_vec();
    for option in global {
        if !merged.iter().any(|existing| existing.code == option.code) {
            merged.push(option.clone());
        }
    }
    merged
}

impl Outcome {
    fn silent(silence: Silence) -> Self {
        Self {
            reply: None,
            changes: Vec::new(),
            silence: Some(silence),
            received: None,
        }
    }

    fn reply(reply: Reply, changes: Vec<LeaseChange>) -> Self {
        Self {
            reply: Some(reply),
            changes,
            silence: None,
            received: None,
        }
    }
}
