//! Answering queries: subnet selection, the RFC 2131 state machine and
//! option assembly.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use leasehold_config::{ClientClass, Config, OptionData, Reservation, Subnet};
use leasehold_leases::{Lease, LeaseChange, LeaseState};
use parking_lot::Mutex;

use crate::classify::{self, Classes};
use crate::hosts::Reservations;
use crate::names::ClientName;
use crate::select::SubnetIndex;
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
    /// Whether an ACK only extended a lease the client already held: Kea's
    /// `cumulative-assigned-addresses` counts new leases, not renewals.
    pub extended: bool,
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
    reservations: Reservations,
    /// Shared with the engine of the previous configuration when the
    /// subnet kept its id and prefix, so a reload never copies leases and
    /// never loses an offer or a lease made while it swaps engines.
    leases: Arc<Mutex<SubnetLeases>>,
}

/// A shared network's allocation state.
#[derive(Debug)]
struct NetworkRuntime {
    /// Position of the subnet the allocator last took an address from
    /// (Kea's "preferred subnet"), or `usize::MAX`.
    preferred: AtomicUsize,
}

/// What an OFFER or ACK grants: the lease time and the client's name,
/// decided once and used for both the reply and the lease.
struct Grant {
    lifetime: u32,
    name: ClientName,
}

/// What the engine found out about one query before answering it.
struct Context<'q> {
    query: &'q Query,
    arrival: &'q Arrival<'q>,
    classes: Classes,
    /// Position of the subnet serving the client.
    subnet: usize,
    /// The client's host reservation for that subnet, if any.
    host: Option<&'q Reservation>,
}

/// The DHCPv4 engine: configuration plus lease tables. Cheap to share
/// between worker threads; each subnet's table has its own lock, so
/// clients of different subnets never wait for each other.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    subnets: Vec<SubnetRuntime>,
    networks: Vec<NetworkRuntime>,
    index: SubnetIndex,
    global_reservations: Reservations,
    /// Class name to position in `config.client_classes`.
    class_index: HashMap<String, usize>,
}

impl Engine {
    /// Builds an engine for `config`, starting from `leases` (typically
    /// loaded from the lease store). Leases of subnets the configuration
    /// does not have are returned, so the caller can report them.
    pub fn new(config: Config, leases: Vec<Lease>) -> (Self, Vec<Lease>) {
        let engine = Self::with_tables(config, |_| None);
        let orphans = engine.load(leases);
        (engine, orphans)
    }

    /// Builds an engine whose subnets take the lease table `existing` gives
    /// them, or an empty one.
    fn with_tables(
        config: Config,
        existing: impl Fn(&Subnet) -> Option<Arc<Mutex<SubnetLeases>>>,
    ) -> Self {
        let subnets = config
            .subnets
            .iter()
            .map(|subnet| SubnetRuntime {
                reservations: Reservations::new(&subnet.reservations),
                leases: existing(subnet).unwrap_or_default(),
                config: subnet.clone(),
            })
            .collect();
        let networks = config
            .shared_networks
            .iter()
            .map(|_| NetworkRuntime {
                preferred: AtomicUsize::new(usize::MAX),
            })
            .collect();
        let class_index = config
            .client_classes
            .iter()
            .enumerate()
            .map(|(position, class)| (class.name.clone(), position))
            .collect();
        Self {
            class_index,
            index: SubnetIndex::new(&config),
            global_reservations: Reservations::new(&config.reservations),
            config,
            subnets,
            networks,
        }
    }

    fn load(&self, mut leases: Vec<Lease>) -> Vec<Lease> {
        /// Leases moved into the tables between two shrinks of `leases`.
        const SHRINK_EVERY: usize = 1 << 16;
        let mut counts: HashMap<u32, usize> = HashMap::new();
        for lease in &leases {
            *counts.entry(lease.subnet_id).or_default() += 1;
        }
        for (id, count) in counts {
            if let Some(subnet) = self.subnet_by_id(id) {
                subnet.leases.lock().reserve(count);
            }
        }
        // Taken from the end in file order, and the vector shrunk as it
        // empties, so a large lease file is never held twice: once read and
        // once in the tables.
        leases.reverse();
        let mut orphans = Vec::new();
        while let Some(lease) = leases.pop() {
            if leases.len().is_multiple_of(SHRINK_EVERY) {
                leases.shrink_to_fit();
            }
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

    /// Builds an engine for a new configuration that shares this one's
    /// lease tables: a subnet that keeps its id and prefix keeps its very
    /// table, so workers still answering on this engine and those already
    /// on the new one see the same leases and offers. Leases of subnets that
    /// changed prefix move to the new table when their address still fits;
    /// the rest (and those of removed subnets) are returned.
    pub fn reconfigure(&self, config: Config) -> (Self, Vec<Lease>) {
        let kept = |subnet: &Subnet| {
            self.subnet_by_id(subnet.id)
                .filter(|old| old.config.prefix == subnet.prefix)
                .map(|old| Arc::clone(&old.leases))
        };
        let engine = Self::with_tables(config, kept);
        let mut moved = Vec::new();
        for old in &self.subnets {
            let shared = engine
                .subnet_by_id(old.config.id)
                .is_some_and(|new| Arc::ptr_eq(&new.leases, &old.leases));
            if !shared {
                moved.extend(old.leases.lock().leases().cloned());
            }
        }
        let mut orphans = Vec::new();
        for lease in moved {
            match engine.subnet_by_id(lease.subnet_id) {
                Some(subnet) if subnet.config.prefix.contains(&lease.address) => {
                    subnet.leases.lock().load(lease);
                }
                _ => orphans.push(lease),
            }
        }
        (engine, orphans)
    }

    /// Records a lease another server holds (it won the address in a shared
    /// lease database), so the address is not offered again while it lasts.
    pub fn adopt(&self, lease: Lease) {
        if let Some(subnet) = self.subnet_by_id(lease.subnet_id) {
            subnet.leases.lock().load(lease);
        }
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

    /// Classifies the query, selects its subnet and finds its host
    /// reservation, as Kea's `Dhcpv4Exchange` does before allocating.
    fn context<'q>(&'q self, query: &'q Query, arrival: &'q Arrival<'q>) -> Option<Context<'q>> {
        let classes = classify::first_pass(query, arrival, &self.config.client_classes);
        let selected = self.select_subnet(query, arrival, &classes)?;
        let mut context = Context {
            query,
            arrival,
            classes,
            subnet: selected,
            host: None,
        };
        let known = self.find_host(&mut context);
        let host_classes = context.host.map_or(&[][..], |host| &host.client_classes);
        classify::second_pass(
            query,
            arrival,
            &self.config.client_classes,
            &mut context.classes,
            host_classes,
            known,
        );
        Some(context)
    }

    fn discover(&self, query: &Query, arrival: &Arrival<'_>, now: u64) -> Outcome {
        let Some(mut context) = self.context(query, arrival) else {
            return Outcome::silent(Silence::NoSubnet);
        };
        let client = self.client(query, context.subnet);
        let Some((position, address)) = self.offer_address(&context, &client, now) else {
            return Outcome::silent(Silence::PoolExhausted);
        };
        context.subnet = position;
        let subnet = &self.subnets[position];
        let mut leases = subnet.leases.lock();
        let is_leased = leases
            .slot(address)
            .is_some_and(|slot| !slot.offered && slot.belongs_to(&client));
        let grant = self.grant(&context, address);
        if !is_leased {
            let hold = self.lease_for(query, subnet, address, now, OFFER_HOLD_SECONDS, &grant);
            leases.put(hold, &client, true);
        }
        drop(leases);

        let mut reply = ReplyBuilder::new(MessageType::Offer, query);
        reply.yiaddr = address;
        self.add_lease_options(&mut reply, &mut context, &grant);
        Outcome::reply(self.finish(reply, query, arrival), Vec::new())
    }

    /// Kea's order: the reserved address, the client's current lease, the
    /// address it asks for, then the allocator, which starts at the shared
    /// network's preferred subnet and moves on when a subnet is full.
    fn offer_address(
        &self,
        context: &Context<'_>,
        client: &Client,
        now: u64,
    ) -> Option<(usize, Ipv4Addr)> {
        let family = self.family(context.subnet, &context.classes);
        if let Some(reserved) = context.host.and_then(|host| host.address) {
            let subnet = &self.subnets[context.subnet];
            if subnet.config.prefix.contains(&reserved)
                && subnet.leases.lock().is_available(reserved, client, now)
            {
                return Some((context.subnet, reserved));
            }
        }
        for &position in &family {
            let subnet = &self.subnets[position];
            let leases = subnet.leases.lock();
            let Some(current) = leases.address_of(client) else {
                continue;
            };
            let usable = leases.is_available(current, client, now)
                && (subnet.in_allowed_pool(current, &context.classes)
                    || self.reserved_for(context, position, current));
            if usable {
                return Some((position, current));
            }
        }
        if let Some(requested) = context.query.requested_address
            && let Some(&position) = family
                .iter()
                .find(|&&position| self.subnets[position].config.prefix.contains(&requested))
        {
            let subnet = &self.subnets[position];
            let usable = subnet.in_allowed_pool(requested, &context.classes)
                && !subnet
                    .reservations
                    .reserved_to_other(requested, context.host)
                && subnet.leases.lock().is_available(requested, client, now);
            if usable {
                return Some((position, requested));
            }
        }
        self.allocate(context, &family, client, now)
    }

    fn allocate(
        &self,
        context: &Context<'_>,
        family: &[usize],
        client: &Client,
        now: u64,
    ) -> Option<(usize, Ipv4Addr)> {
        let network = self.subnets[context.subnet].config.shared_network;
        let guard = self.subnets[context.subnet].config.client_class.as_deref();
        let preferred = network
            .map(|network| self.networks[network].preferred.load(Ordering::Relaxed))
            .and_then(|preferred| family.iter().position(|&p| p == preferred))
            .filter(|&at| self.subnets[family[at]].config.client_class.as_deref() == guard)
            .unwrap_or(0);
        let rotated = family[preferred..].iter().chain(&family[..preferred]);
        for &position in rotated {
            let subnet = &self.subnets[position];
            let reservations = &subnet.reservations;
            let free = subnet.leases.lock().find_free(
                &subnet.config.pools,
                client,
                now,
                |pool| context.classes.allows(pool.client_class.as_deref()),
                |address| reservations.by_address.contains_key(&address),
            );
            if let Some(address) = free {
                if let Some(network) = network {
                    self.networks[network]
                        .preferred
                        .store(position, Ordering::Relaxed);
                }
                return Some((position, address));
            }
        }
        None
    }

    fn reserved_for(&self, context: &Context<'_>, position: usize, address: Ipv4Addr) -> bool {
        position == context.subnet && context.host.and_then(|host| host.address) == Some(address)
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
        let Some(mut context) = self.context(query, arrival) else {
            return Outcome::silent(Silence::NoSubnet);
        };
        let family = self.family(context.subnet, &context.classes);
        let client = self.client(query, context.subnet);
        if state == RequestState::Selecting
            && query.server_identifier != Some(arrival.local_address)
        {
            for &position in &family {
                self.subnets[position].leases.lock().withdraw_offer(&client);
            }
            return Outcome::silent(Silence::OtherServer);
        }
        let holder = family
            .iter()
            .copied()
            .find(|&position| self.subnets[position].config.prefix.contains(&requested));
        let Some(position) = holder else {
            return self.nak(query, arrival);
        };
        if position != context.subnet {
            context.host = self.host_in(&context, position);
            context.subnet = position;
        }
        let subnet = &self.subnets[position];
        let reservation = context.host;
        let mut leases = subnet.leases.lock();
        let current = leases.address_of(&client);
        if state == RequestState::InitReboot && current.is_none() && !subnet.config.authoritative {
            return Outcome::silent(Silence::UnknownClient);
        }
        let reserved = reservation.and_then(|reservation| reservation.address);
        let acceptable = reserved.is_none_or(|reserved| reserved == requested)
            && !subnet
                .reservations
                .reserved_to_other(requested, reservation)
            && leases.is_available(requested, &client, now)
            && (reserved == Some(requested) || subnet.in_allowed_pool(requested, &context.classes))
            && (state == RequestState::Selecting || current.is_none_or(|c| c == requested));
        if !acceptable {
            drop(leases);
            return self.nak(query, arrival);
        }

        let grant = self.grant(&context, requested);
        let lease = self.lease_for(query, subnet, requested, now, grant.lifetime, &grant);
        let extended = leases.slot(requested).is_some_and(|slot| {
            !slot.offered && slot.lease.state == LeaseState::Assigned && slot.belongs_to(&client)
        });
        let mut changes = Vec::with_capacity(2);
        if let Some(previous) = leases.put(lease.clone(), &client, false) {
            changes.push(LeaseChange::Delete(previous));
        }
        drop(leases);
        changes.push(LeaseChange::Upsert(lease));

        let mut reply = ReplyBuilder::new(MessageType::Ack, query);
        reply.yiaddr = requested;
        reply.ciaddr = query.ciaddr;
        self.add_lease_options(&mut reply, &mut context, &grant);
        Outcome {
            extended,
            ..Outcome::reply(self.finish(reply, query, arrival), changes)
        }
    }

    fn release(&self, query: &Query) -> Outcome {
        let Some(subnet) = self.subnet_containing(query.ciaddr) else {
            return Outcome::silent(Silence::NoSubnet);
        };
        let client = self.client(query, self.position_of(subnet));
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
        let Some(address) = query.requested_address else {
            return Outcome::silent(Silence::BadRequest);
        };
        let Some(subnet) = self.subnet_containing(address) else {
            return Outcome::silent(Silence::NoSubnet);
        };
        let client = self.client(query, self.position_of(subnet));
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
        let Some(mut context) = self.context(query, arrival) else {
            return Outcome::silent(Silence::NoSubnet);
        };
        let mut reply = ReplyBuilder::new(MessageType::Ack, query);
        reply.ciaddr = query.ciaddr;
        // Without ciaddr a relay cannot tell where the reply goes: let it
        // broadcast, as Kea does.
        if query.is_relayed() && query.ciaddr.is_unspecified() {
            reply.flags |= crate::wire::BROADCAST_FLAG;
        }
        reply.add(code::SERVER_IDENTIFIER, &arrival.local_address.octets());
        // Kea names the client in OFFERs and ACKs, not in answers to INFORM.
        self.add_configured_options(&mut reply, &mut context, None);
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

    /// Picks the destination, echoes client identifier, relay agent
    /// information and subnet selection (RFC 6842, 3046, 3011), and encodes.
    fn finish(&self, mut reply: ReplyBuilder, query: &Query, arrival: &Arrival<'_>) -> Reply {
        let destination = destination(query, &reply, arrival);
        // A relayed INFORM answered straight to its ciaddr: the reply does
        // not pass the relay, so it carries no relay fields (as in Kea).
        let direct = query.is_relayed() && matches!(destination, Destination::Client(_));
        if direct {
            reply.hops = 0;
            reply.giaddr = Ipv4Addr::UNSPECIFIED;
        }
        if let Some(client_id) = query
            .client_id
            .as_ref()
            .filter(|_| self.config.echo_client_id)
        {
            reply.add(code::CLIENT_IDENTIFIER, client_id.as_bytes());
        }
        if let Some(info) = query
            .relay_agent_information
            .as_ref()
            .filter(|info| !info.is_empty() && !direct)
        {
            reply.add(code::RELAY_AGENT_INFORMATION, info);
        }
        if let Some(selection) = query.option(code::SUBNET_SELECTION) {
            reply.add(code::SUBNET_SELECTION, selection);
        }
        let message_type = reply.message_type;
        Reply {
            message_type,
            bytes: reply.encode(),
            destination,
        }
    }

    /// Lease time, timers, server identifier, mask, the client's name and
    /// configured options of an OFFER or ACK.
    fn add_lease_options(
        &self,
        reply: &mut ReplyBuilder,
        context: &mut Context<'_>,
        grant: &Grant,
    ) {
        let config = &self.subnets[context.subnet].config;
        reply.add(
            code::SERVER_IDENTIFIER,
            &context.arrival.local_address.octets(),
        );
        let lifetime = grant.lifetime;
        reply.add(code::LEASE_TIME, &lifetime.to_be_bytes());
        // Kea leaves out timers that would not fire before the lease ends.
        if let Some(renew) = config.renew_timer.filter(|&renew| renew < lifetime) {
            reply.add(code::RENEWAL_TIME, &renew.to_be_bytes());
        }
        if let Some(rebind) = config.rebind_timer.filter(|&rebind| rebind < lifetime) {
            reply.add(code::REBINDING_TIME, &rebind.to_be_bytes());
        }
        reply.add(code::SUBNET_MASK, &config.prefix.netmask().octets());
        self.add_configured_options(reply, context, Some(&grant.name));
    }

    /// Required classification, then configured options as Kea's
    /// `buildCfgOptionList` layers them: host, pool, subnet, shared network,
    /// each class in order, global. Options asked for in option 55 or marked
    /// `always-send` come from the first layer that has them; routers, DNS
    /// servers and domain name are added whenever configured. Last, the fixed
    /// fields (siaddr, sname, file). `name` is the client's, when the reply
    /// names it.
    fn add_configured_options(
        &self,
        reply: &mut ReplyBuilder,
        context: &mut Context<'_>,
        name: Option<&ClientName>,
    ) {
        let subnet = &self.subnets[context.subnet];
        let network = subnet
            .config
            .shared_network
            .and_then(|network| self.config.shared_networks.get(network));
        let pool = subnet.pool_of(reply.yiaddr);
        let required = network
            .map_or(&[][..], |network| &network.require_client_classes)
            .iter()
            .chain(&subnet.config.require_client_classes)
            .chain(pool.map_or(&[][..], |pool| &pool.require_client_classes));
        classify::required(
            context.query,
            context.arrival,
            |name| self.class(name),
            &mut context.classes,
            required,
        );

        let host = context.host;
        if let Some((code, data)) = name.and_then(ClientName::option) {
            reply.add(code, data);
        }
        let classes: Vec<&ClientClass> = context
            .classes
            .iter()
            .filter_map(|name| self.class(name))
            .collect();
        let mut layers: Vec<&[OptionData]> = Vec::with_capacity(6 + classes.len());
        layers.extend(host.map(|host| host.options.as_slice()));
        layers.extend(pool.map(|pool| pool.options.as_slice()));
        layers.push(&subnet.config.options);
        layers.extend(network.map(|network| network.options.as_slice()));
        layers.extend(classes.iter().map(|class| class.options.as_slice()));
        layers.push(&self.config.options);

        let always = layers
            .iter()
            .flat_map(|layer| layer.iter())
            .filter(|option| option.always_send)
            .map(|option| option.code);
        let requested: Vec<u8> = context
            .query
            .parameter_request_list
            .iter()
            .copied()
            .chain(always)
            .chain([code::ROUTERS, code::DOMAIN_NAME_SERVERS, code::DOMAIN_NAME])
            .collect();
        for wanted in requested {
            if reply.has(wanted) {
                continue;
            }
            let found = layers
                .iter()
                .find_map(|layer| layer.iter().find(|option| option.code == wanted));
            if let Some(option) = found {
                reply.add(option.code, &option.data);
            }
        }
        if reply.message_type != MessageType::Nak {
            set_fixed_fields(reply, &subnet.config, &classes, host);
        }
    }

    /// What the client of `context` gets with `address`: the lease time Kea's
    /// `getValidLft` chooses (the lifetime of its first class that sets one,
    /// else its subnet's, bounded to what it asks for in option 51; required
    /// classes are evaluated later and do not count), and its name.
    fn grant(&self, context: &Context<'_>, address: Ipv4Addr) -> Grant {
        let lifetime = context
            .classes
            .iter()
            .find_map(|name| self.class(name)?.valid_lifetime)
            .unwrap_or_else(|| self.subnets[context.subnet].config.lifetime());
        let reserved = context.host.and_then(|host| host.hostname.as_deref());
        Grant {
            lifetime: lifetime.for_request(requested_lifetime(context.query)),
            name: ClientName::of(context.query, reserved, address),
        }
    }

    fn class(&self, name: &str) -> Option<&ClientClass> {
        let position = *self.class_index.get(name)?;
        self.config.client_classes.get(position)
    }

    /// The lease `query`'s client holds on `address` for `lifetime` seconds
    /// from `now`, named as `grant` names it.
    fn lease_for(
        &self,
        query: &Query,
        subnet: &SubnetRuntime,
        address: Ipv4Addr,
        now: u64,
        lifetime: u32,
        grant: &Grant,
    ) -> Lease {
        let hostname = grant.name.hostname().to_owned();
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

    fn client(&self, query: &Query, position: usize) -> Client {
        let match_client_id = self
            .subnets
            .get(position)
            .map_or(self.config.match_client_id, |s| s.config.match_client_id);
        let client_id = query.client_id.clone().filter(|_| match_client_id);
        Client {
            hwaddr: query.chaddr,
            client_id,
        }
    }

    /// The client's host reservation and whether it is known (has a host
    /// anywhere it may be served). In a shared network a host with an
    /// address reserved in a sibling subnet moves the client there, as
    /// Kea's allocation engine does.
    fn find_host<'q>(&'q self, context: &mut Context<'q>) -> bool {
        let modes = self.subnets[context.subnet].config.reservation_modes;
        let identifiers = &self.config.host_reservation_identifiers;
        if modes.global {
            context.host = self.global_reservations.find(context.query, identifiers);
            if let Some(address) = context.host.and_then(|host| host.address) {
                let family = self.family(context.subnet, &context.classes);
                let holder = family
                    .into_iter()
                    .find(|&position| self.subnets[position].config.prefix.contains(&address));
                context.subnet = holder.unwrap_or(context.subnet);
            }
            return context.host.is_some();
        }
        if !modes.in_subnet {
            return false;
        }
        let mut known = false;
        let mut selected_host = None;
        for position in self.family(context.subnet, &context.classes) {
            let subnet = &self.subnets[position];
            if !subnet.config.reservation_modes.in_subnet {
                continue;
            }
            let Some(host) = subnet.reservations.find(context.query, identifiers) else {
                continue;
            };
            known = true;
            if host.address.is_some() {
                context.subnet = position;
                context.host = Some(host);
                return true;
            }
            if position == context.subnet {
                selected_host = Some(host);
            }
        }
        context.host = selected_host;
        known
    }

    /// The host of the client in the subnet at `position`.
    fn host_in<'q>(&'q self, context: &Context<'q>, position: usize) -> Option<&'q Reservation> {
        let identifiers = &self.config.host_reservation_identifiers;
        let subnet = &self.subnets[position];
        if subnet.config.reservation_modes.global {
            return self.global_reservations.find(context.query, identifiers);
        }
        subnet.reservations.find(context.query, identifiers)
    }

    /// The subnet at `position` and, when it is in a shared network, the
    /// network's other subnets the client's classes allow, in Kea's
    /// round-robin order (those after it, then those before it).
    fn family(&self, position: usize, classes: &Classes) -> Vec<usize> {
        let Some(network) = self.subnets[position].config.shared_network else {
            return vec![position];
        };
        let members = &self.config.shared_networks[network].subnets;
        let at = members.iter().position(|&p| p == position).unwrap_or(0);
        let mut family = vec![position];
        family.extend(
            members[at + 1..]
                .iter()
                .chain(&members[..at])
                .copied()
                .filter(|&p| self.allows(p, classes)),
        );
        family
    }

    /// Whether the client's classes let it use the subnet at `position`
    /// (the subnet's and its network's `client-class`).
    fn allows(&self, position: usize, classes: &Classes) -> bool {
        let subnet = &self.subnets[position].config;
        let network_guard = subnet
            .shared_network
            .and_then(|network| self.config.shared_networks[network].client_class.as_deref());
        classes.allows(subnet.client_class.as_deref()) && classes.allows(network_guard)
    }

    /// Kea's subnet selection; see the `select` module.
    fn select_subnet(
        &self,
        query: &Query,
        arrival: &Arrival<'_>,
        classes: &Classes,
    ) -> Option<usize> {
        let allowed = |position: &usize| self.allows(*position, classes);
        let containing =
            |address: Ipv4Addr| self.index.containing(&self.config, address).filter(allowed);
        if let Some(address) = query.selection_address() {
            return containing(address);
        }
        if query.is_relayed() {
            let by_relay = self.index.by_relay(query.giaddr).iter().copied();
            return by_relay
                .into_iter()
                .find(allowed)
                .or_else(|| containing(query.giaddr));
        }
        if !query.ciaddr.is_unspecified()
            && let Some(position) = containing(query.ciaddr)
        {
            return Some(position);
        }
        let by_name = self.index.by_interface(arrival.interface).iter().copied();
        by_name
            .into_iter()
            .find(allowed)
            .or_else(|| containing(arrival.local_address))
    }

    fn subnet_containing(&self, address: Ipv4Addr) -> Option<&SubnetRuntime> {
        let position = self.index.containing(&self.config, address)?;
        self.subnets.get(position)
    }

    fn subnet_by_id(&self, id: u32) -> Option<&SubnetRuntime> {
        let position = self.index.by_id(id)?;
        self.subnets.get(position)
    }

    fn position_of(&self, subnet: &SubnetRuntime) -> usize {
        self.index.by_id(subnet.config.id).unwrap_or(usize::MAX)
    }
}

/// Kea's `setFixedFields`: subnet values (already inherited from network
/// and global), overridden by the first class that sets each, overridden by
/// the host reservation.
fn set_fixed_fields(
    reply: &mut ReplyBuilder,
    subnet: &Subnet,
    classes: &[&ClientClass],
    host: Option<&Reservation>,
) {
    let first = |pick: &dyn Fn(&ClientClass) -> Option<&str>| {
        classes
            .iter()
            .find_map(|class| pick(class))
            .map(str::to_owned)
    };
    let next_server = host
        .and_then(|host| host.next_server)
        .or_else(|| classes.iter().find_map(|class| class.next_server))
        .or(subnet.next_server);
    reply.siaddr = next_server.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let sname = host
        .and_then(|host| host.server_hostname.clone())
        .or_else(|| first(&|class| class.server_hostname.as_deref()))
        .or_else(|| subnet.server_hostname.clone());
    let file = host
        .and_then(|host| host.boot_file_name.clone())
        .or_else(|| first(&|class| class.boot_file_name.as_deref()))
        .or_else(|| subnet.boot_file_name.clone());
    reply.sname = sname.map(String::into_bytes).unwrap_or_default();
    reply.file = file.map(String::into_bytes).unwrap_or_default();
}

impl SubnetRuntime {
    fn pool_of(&self, address: Ipv4Addr) -> Option<&leasehold_config::Pool> {
        self.config
            .pools
            .iter()
            .find(|pool| pool.first <= address && address <= pool.last)
    }

    fn in_allowed_pool(&self, address: Ipv4Addr, classes: &Classes) -> bool {
        self.pool_of(address)
            .is_some_and(|pool| classes.allows(pool.client_class.as_deref()))
    }
}

/// The option 51 a client sent: the lease time it asks for, if readable.
fn requested_lifetime(query: &Query) -> Option<u32> {
    query
        .option(code::LEASE_TIME)
        .and_then(|data| <[u8; 4]>::try_from(data).ok())
        .map(u32::from_be_bytes)
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
    // Section 4.3.5: the ACK to an INFORM goes straight to its ciaddr, even
    // through a relay.
    if query.message_type == MessageType::Inform && !query.ciaddr.is_unspecified() {
        return Destination::Client(query.ciaddr);
    }
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

impl Outcome {
    fn silent(silence: Silence) -> Self {
        Self {
            reply: None,
            changes: Vec::new(),
            silence: Some(silence),
            received: None,
            extended: false,
        }
    }

    fn reply(reply: Reply, changes: Vec<LeaseChange>) -> Self {
        Self {
            reply: Some(reply),
            changes,
            silence: None,
            received: None,
            extended: false,
        }
    }
}

impl Engine {
    /// Each subnet's configuration and lease table, for the administrative
    /// commands in `admin.rs`.
    pub(crate) fn subnet_tables(&self) -> impl Iterator<Item = (&Subnet, &Mutex<SubnetLeases>)> {
        self.subnets
            .iter()
            .map(|subnet| (&subnet.config, &*subnet.leases))
    }
}
