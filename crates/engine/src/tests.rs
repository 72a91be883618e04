//! Engine tests with a fake clock: every message type, every REQUEST state.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;

use dhcproto::v4::borrowed;
use leasehold_config::{
    Config, ExpiredLeasesProcessing, HostIdentifier, IdentifierType, InterfacesConfig,
    LeaseDatabase, Memfile, MultiThreading, OptionData, Pool, Reservation, ReservationModes,
    Subnet,
};
use leasehold_leases::{LeaseChange, LeaseState};

use crate::wire::tests::query_bytes;
use crate::{Arrival, Destination, Engine, MessageType, OFFER_HOLD_SECONDS, Outcome, Silence};

const NOW: u64 = 1_800_000_000;
const RELAY: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const DIRECT_SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const RESERVED_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xaa];

fn option(code: u8, data: &[u8]) -> OptionData {
    OptionData {
        code,
        data: data.to_vec(),
        always_send: false,
    }
}

fn subnet(id: u32, prefix: &str, first: [u8; 4], last: [u8; 4]) -> Subnet {
    Subnet {
        id,
        shared_network: None,
        client_class: None,
        require_client_classes: vec![],
        server_hostname: None,
        boot_file_name: None,
        match_client_id: true,
        authoritative: false,
        reservation_modes: ReservationModes::default(),
        prefix: prefix.parse().unwrap(),
        pools: vec![Pool {
            first: first.into(),
            last: last.into(),
            options: vec![],
            client_class: None,
            require_client_classes: vec![],
        }],
        options: vec![],
        reservations: vec![],
        relay_addresses: vec![],
        interface: None,
        valid_lifetime: 4000,
        min_valid_lifetime: 4000,
        max_valid_lifetime: 4000,
        renew_timer: Some(1000),
        rebind_timer: Some(2000),
        next_server: None,
        user_context: None,
    }
}

/// The shape of the lab configuration: a direct subnet with a reservation
/// and a relayed one, with a tiny pool so exhaustion is easy to reach.
fn config() -> Config {
    let mut direct = subnet(
        1,
        "198.51.100.0/24",
        [198, 51, 100, 10],
        [198, 51, 100, 200],
    );
    direct.interface = Some("bcast-srv".into());
    direct.options = vec![option(3, &[198, 51, 100, 1])];
    direct.reservations = vec![Reservation {
        identifier: HostIdentifier::HwAddress(RESERVED_MAC.to_vec()),
        address: Some(Ipv4Addr::new(198, 51, 100, 250)),
        hostname: Some("reserved-host".into()),
        options: vec![],
        next_server: None,
        server_hostname: None,
        boot_file_name: None,
        client_classes: vec![],
    }];
    let mut relayed = subnet(2, "10.0.0.0/16", [10, 0, 0, 10], [10, 0, 0, 12]);
    relayed.relay_addresses = vec![RELAY];
    relayed.options = vec![option(3, &[10, 0, 0, 1])];
    Config {
        interfaces: InterfacesConfig::default(),
        lease_database: LeaseDatabase::Memfile(Memfile {
            name: PathBuf::from("/nonexistent"),
            persist: false,
            lfc_interval: 0,
        }),
        hosts_database: None,
        valid_lifetime: 4000,
        renew_timer: Some(1000),
        rebind_timer: Some(2000),
        decline_probation_period: 86400,
        match_client_id: true,
        authoritative: false,
        next_server: None,
        options: vec![
            option(6, &[192, 0, 2, 53, 192, 0, 2, 54]),
            option(15, b"example.test"),
            option(42, &[192, 0, 2, 123]),
        ],
        subnets: vec![direct, relayed],
        expired_leases: ExpiredLeasesProcessing {
            reclaim_timer_wait_time: 10,
            flush_reclaimed_timer_wait_time: 25,
            hold_reclaimed_time: 3600,
            max_reclaim_leases: 100,
            max_reclaim_time: 250,
            unwarned_reclaim_cycles: 5,
        },
        multi_threading: MultiThreading {
            enabled: true,
            thread_pool_size: 0,
            packet_queue_size: 64,
        },
        loggers: vec![],
        shared_networks: vec![],
        client_classes: vec![],
        option_defs: vec![],
        host_reservation_identifiers: vec![IdentifierType::HwAddress, IdentifierType::ClientId],
        reservations: vec![],
        echo_client_id: true,
        control: leasehold_config::ControlConfig::default(),
        raw: serde_json::Value::Null,
    }
}

fn engine() -> Engine {
    Engine::new(config(), vec![]).0
}

fn relay_arrival() -> Arrival<'static> {
    Arrival {
        interface: "veth-srv",
        local_address: SERVER,
        source: SocketAddrV4::new(RELAY, 67),
    }
}

fn direct_arrival() -> Arrival<'static> {
    Arrival {
        interface: "bcast-srv",
        local_address: DIRECT_SERVER,
        source: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
    }
}

fn mac(n: u8) -> [u8; 6] {
    [2, 0, 0, 0, 1, n]
}

/// A query as a client behind the relay sends it.
fn relayed(message_type: u8, chaddr: [u8; 6], options: &[(u8, &[u8])]) -> Vec<u8> {
    query_bytes(
        message_type,
        chaddr,
        |h| h[24..28].copy_from_slice(&RELAY.octets()),
        options,
    )
}

fn with_ciaddr(mut bytes: Vec<u8>, ciaddr: Ipv4Addr) -> Vec<u8> {
    bytes[12..16].copy_from_slice(&ciaddr.octets());
    bytes
}

struct Answer {
    message_type: MessageType,
    yiaddr: Ipv4Addr,
    options: Vec<(u8, Vec<u8>)>,
    destination: Destination,
    bytes: Vec<u8>,
}

impl Answer {
    fn option(&self, code: u8) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, data)| data.as_slice())
    }
}

fn answer(outcome: &Outcome) -> Answer {
    let reply = outcome
        .reply
        .as_ref()
        .unwrap_or_else(|| panic!("no reply: {outcome:?}"));
    let message = borrowed::Message::new(&reply.bytes).unwrap();
    Answer {
        message_type: reply.message_type,
        yiaddr: message.yiaddr(),
        options: message
            .opts()
            .map(|o| (u8::from(o.code()), o.data().to_vec()))
            .collect(),
        destination: reply.destination,
        bytes: reply.bytes.clone(),
    }
}

/// DISCOVER then REQUEST (SELECTING) through the relay; the ACKed address.
fn lease_via_relay(engine: &Engine, chaddr: [u8; 6], now: u64) -> Ipv4Addr {
    let offer = answer(&engine.handle(&relayed(1, chaddr, &[]), &relay_arrival(), now));
    assert_eq!(offer.message_type, MessageType::Offer);
    let request = relayed(
        3,
        chaddr,
        &[(50, &offer.yiaddr.octets()), (54, &SERVER.octets())],
    );
    let outcome = engine.handle(&request, &relay_arrival(), now);
    let ack = answer(&outcome);
    assert_eq!(ack.message_type, MessageType::Ack);
    ack.yiaddr
}

#[test]
fn discover_through_a_relay_is_offered_a_pool_address_with_options() {
    let engine = engine();
    let outcome = engine.handle(
        &relayed(1, mac(1), &[(55, &[1, 3, 6, 15])]),
        &relay_arrival(),
        NOW,
    );
    assert!(outcome.changes.is_empty(), "an offer is not persisted");
    let offer = answer(&outcome);
    assert_eq!(offer.message_type, MessageType::Offer);
    assert_eq!(offer.yiaddr, Ipv4Addr::new(10, 0, 0, 10));
    assert_eq!(
        offer.destination,
        Destination::Relay(SocketAddrV4::new(RELAY, 67))
    );
    assert_eq!(offer.option(54), Some(&SERVER.octets()[..]));
    assert_eq!(offer.option(51), Some(&4000u32.to_be_bytes()[..]));
    assert_eq!(offer.option(58), Some(&1000u32.to_be_bytes()[..]));
    assert_eq!(offer.option(59), Some(&2000u32.to_be_bytes()[..]));
    assert_eq!(offer.option(1), Some(&[255, 255, 0, 0][..]));
    assert_eq!(offer.option(3), Some(&[10, 0, 0, 1][..]));
    assert_eq!(offer.option(6), Some(&[192, 0, 2, 53, 192, 0, 2, 54][..]));
    assert_eq!(offer.option(15), Some(&b"example.test"[..]));
    assert_eq!(offer.options[0].0, 53, "message type comes first");
    assert_eq!(offer.bytes[24..28], RELAY.octets(), "giaddr is kept");
}

#[test]
fn options_not_asked_for_are_left_out() {
    let engine = engine();
    let plain = answer(&engine.handle(&relayed(1, mac(1), &[]), &relay_arrival(), NOW));
    assert_eq!(plain.option(42), None, "NTP servers were not requested");
    assert!(plain.option(3).is_some(), "routers are always sent");
    let asked = answer(&engine.handle(&relayed(1, mac(2), &[(55, &[42])]), &relay_arrival(), NOW));
    assert_eq!(asked.option(42), Some(&[192, 0, 2, 123][..]));
}

#[test]
fn client_identifier_and_relay_information_are_echoed() {
    let engine = engine();
    let info: &[u8] = &[1, 3, b'c', b'i', b'd'];
    let query = relayed(1, mac(1), &[(61, &[1, 2, 0, 0, 0, 1, 1]), (82, info)]);
    let offer = answer(&engine.handle(&query, &relay_arrival(), NOW));
    assert_eq!(offer.option(61), Some(&[1, 2, 0, 0, 0, 1, 1][..]));
    assert_eq!(offer.option(82), Some(info));
    assert_eq!(offer.options.last().map(|(code, _)| *code), Some(82));
}

#[test]
fn relay_source_port_is_honoured() {
    let engine = engine();
    let query = relayed(1, mac(1), &[(82, &[19, 0])]);
    let arrival = Arrival {
        source: SocketAddrV4::new(RELAY, 3067),
        ..relay_arrival()
    };
    let offer = answer(&engine.handle(&query, &arrival, NOW));
    assert_eq!(
        offer.destination,
        Destination::Relay(SocketAddrV4::new(RELAY, 3067))
    );
}

#[test]
fn concurrent_discovers_are_offered_different_addresses() {
    let engine = engine();
    let first = answer(&engine.handle(&relayed(1, mac(1), &[]), &relay_arrival(), NOW));
    let second = answer(&engine.handle(&relayed(1, mac(2), &[]), &relay_arrival(), NOW));
    assert_ne!(first.yiaddr, second.yiaddr);
    let again = answer(&engine.handle(&relayed(1, mac(1), &[]), &relay_arrival(), NOW));
    assert_eq!(
        again.yiaddr, first.yiaddr,
        "a client is offered the same address again"
    );
}

#[test]
fn an_untaken_offer_is_released_after_the_hold() {
    let engine = engine();
    for n in 1..=3 {
        answer(&engine.handle(&relayed(1, mac(n), &[]), &relay_arrival(), NOW));
    }
    let full = engine.handle(&relayed(1, mac(4), &[]), &relay_arrival(), NOW);
    assert_eq!(full.silence, Some(Silence::PoolExhausted));
    let later = NOW + u64::from(OFFER_HOLD_SECONDS);
    let offer = answer(&engine.handle(&relayed(1, mac(4), &[]), &relay_arrival(), later));
    assert_eq!(offer.message_type, MessageType::Offer);
}

#[test]
fn selecting_request_is_acked_and_the_lease_persisted() {
    let engine = engine();
    let offer = answer(&engine.handle(&relayed(1, mac(1), &[]), &relay_arrival(), NOW));
    let request = relayed(
        3,
        mac(1),
        &[(50, &offer.yiaddr.octets()), (54, &SERVER.octets())],
    );
    let outcome = engine.handle(&request, &relay_arrival(), NOW + 1);
    let ack = answer(&outcome);
    assert_eq!(ack.message_type, MessageType::Ack);
    assert_eq!(ack.yiaddr, offer.yiaddr);
    let [LeaseChange::Upsert(lease)] = outcome.changes.as_slice() else {
        panic!("expected one upsert: {:?}", outcome.changes);
    };
    assert_eq!(lease.address, offer.yiaddr);
    assert_eq!(lease.subnet_id, 2);
    assert_eq!(lease.expire, NOW + 1 + 4000);
    assert_eq!(lease.hwaddr.unwrap().as_bytes(), mac(1));
    assert_eq!(lease.state, LeaseState::Assigned);
    assert_eq!(engine.assigned_addresses(2, NOW + 1), 1);
}

#[test]
fn a_requested_lease_time_is_bounded_by_the_subnets_limits() {
    let mut config = config();
    let relayed_subnet = &mut config.subnets[1];
    (
        relayed_subnet.min_valid_lifetime,
        relayed_subnet.max_valid_lifetime,
    ) = (600, 6000);
    relayed_subnet.renew_timer = Some(1000);
    relayed_subnet.rebind_timer = Some(1800);
    relayed_subnet.pools[0].last = Ipv4Addr::new(10, 0, 0, 99);
    let engine = Engine::new(config, vec![]).0;
    // (hint, lifetime granted): no hint and 0 get the default.
    let cases: [(Option<u32>, u32); 5] = [
        (None, 4000),
        (Some(0), 4000),
        (Some(100), 600),
        (Some(2500), 2500),
        (Some(99_999), 6000),
    ];
    for (n, (hint, granted)) in (1..).zip(cases) {
        let hint_bytes = hint.map(u32::to_be_bytes);
        let hint_option: Vec<(u8, &[u8])> = hint_bytes.iter().map(|b| (51, &b[..])).collect();
        let offer =
            answer(&engine.handle(&relayed(1, mac(n), &hint_option), &relay_arrival(), NOW));
        assert_eq!(
            offer.option(51),
            Some(&granted.to_be_bytes()[..]),
            "offer, hint {hint:?}"
        );
        let mut options = hint_option.clone();
        let (requested, server) = (offer.yiaddr.octets(), SERVER.octets());
        options.extend([(50, &requested[..]), (54, &server[..])]);
        let outcome = engine.handle(&relayed(3, mac(n), &options), &relay_arrival(), NOW);
        let ack = answer(&outcome);
        assert_eq!(
            ack.option(51),
            Some(&granted.to_be_bytes()[..]),
            "ack, hint {hint:?}"
        );
        // Timers that would not fire before the lease ends are left out.
        assert_eq!(
            ack.option(58).is_some(),
            granted > 1000,
            "T1, hint {hint:?}"
        );
        assert_eq!(
            ack.option(59).is_some(),
            granted > 1800,
            "T2, hint {hint:?}"
        );
        let [LeaseChange::Upsert(lease)] = outcome.changes.as_slice() else {
            panic!("expected one upsert: {:?}", outcome.changes);
        };
        assert_eq!(lease.valid_lifetime, granted, "stored, hint {hint:?}");
        assert_eq!(lease.expire, NOW + u64::from(granted));
    }
}

/// An option of a crafted query: code and payload.
type QueryOption<'a> = (u8, &'a [u8]);

#[test]
fn a_class_lifetime_overrides_the_subnets_but_a_required_class_does_not() {
    let text = r#"{ "Dhcp4": {
        "valid-lifetime": 4000,
        "client-classes": [
            { "name": "short", "test": "option[77].hex == 'short'",
              "valid-lifetime": 700, "max-valid-lifetime": 900 },
            { "name": "late", "test": "member('ALL')", "only-if-required": true,
              "valid-lifetime": 5555 }
        ],
        "subnet4": [ { "id": 2, "subnet": "10.0.0.0/16", "relay": { "ip-addresses": [ "192.0.2.2" ] },
                       "pools": [ { "pool": "10.0.0.10 - 10.0.0.99" } ],
                       "require-client-classes": [ "late" ] } ] } }"#;
    let config = Config::parse(text, "<test>").expect("test configuration loads");
    let engine = Engine::new(config, vec![]).0;
    let hint = 99_999u32.to_be_bytes();
    let cases: [(&[QueryOption], u32); 3] = [
        (&[(77, b"short")], 700),
        (&[(77, b"short"), (51, &hint)], 900),
        (&[], 4000),
    ];
    for (n, (options, granted)) in (1..).zip(cases) {
        let offer = answer(&engine.handle(&relayed(1, mac(n), options), &relay_arrival(), NOW));
        assert_eq!(
            offer.option(51),
            Some(&granted.to_be_bytes()[..]),
            "{options:?}"
        );
    }
}

#[test]
fn selecting_another_server_withdraws_the_offer() {
    let engine = engine();
    let offer = answer(&engine.handle(&relayed(1, mac(1), &[]), &relay_arrival(), NOW));
    let other = [192, 0, 2, 99];
    let request = relayed(3, mac(1), &[(50, &offer.yiaddr.octets()), (54, &other)]);
    let outcome = engine.handle(&request, &relay_arrival(), NOW);
    assert_eq!(outcome.silence, Some(Silence::OtherServer));
    // The pool has three addresses: three other clients fit only if the
    // withdrawn offer is free again.
    let offered: Vec<_> = (2..=4)
        .map(|n| answer(&engine.handle(&relayed(1, mac(n), &[]), &relay_arrival(), NOW)).yiaddr)
        .collect();
    assert!(
        offered.contains(&offer.yiaddr),
        "the withdrawn offer is free again"
    );
}

#[test]
fn init_reboot_with_the_clients_address_is_acked() {
    let engine = engine();
    let address = lease_via_relay(&engine, mac(1), NOW);
    let reboot = relayed(3, mac(1), &[(50, &address.octets())]);
    let outcome = engine.handle(&reboot, &relay_arrival(), NOW + 100);
    let ack = answer(&outcome);
    assert_eq!((ack.message_type, ack.yiaddr), (MessageType::Ack, address));
    assert_eq!(outcome.changes.len(), 1);
}

#[test]
fn init_reboot_on_the_wrong_subnet_is_naked() {
    let engine = engine();
    lease_via_relay(&engine, mac(1), NOW);
    let elsewhere = [198, 51, 100, 20];
    let outcome = engine.handle(
        &relayed(3, mac(1), &[(50, &elsewhere)]),
        &relay_arrival(),
        NOW,
    );
    let nak = answer(&outcome);
    assert_eq!(nak.message_type, MessageType::Nak);
    assert_eq!(nak.yiaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(
        nak.bytes[10] & 0x80,
        0x80,
        "a relayed NAK has the broadcast bit"
    );
    assert!(outcome.changes.is_empty());
}

#[test]
fn init_reboot_for_another_clients_address_is_naked() {
    let engine = engine();
    let taken = lease_via_relay(&engine, mac(1), NOW);
    lease_via_relay(&engine, mac(2), NOW);
    let outcome = engine.handle(
        &relayed(3, mac(2), &[(50, &taken.octets())]),
        &relay_arrival(),
        NOW,
    );
    assert_eq!(answer(&outcome).message_type, MessageType::Nak);
}

#[test]
fn init_reboot_from_an_unknown_client_is_ignored_unless_authoritative() {
    let address = [10, 0, 0, 11];
    let query = relayed(3, mac(9), &[(50, &address)]);
    let outcome = engine().handle(&query, &relay_arrival(), NOW);
    assert_eq!(outcome.silence, Some(Silence::UnknownClient));

    let mut config = config();
    config.authoritative = true;
    for subnet in &mut config.subnets {
        subnet.authoritative = true;
    }
    let authoritative = Engine::new(config, vec![]).0;
    let ack = answer(&authoritative.handle(&query, &relay_arrival(), NOW));
    assert_eq!(
        (ack.message_type, ack.yiaddr),
        (MessageType::Ack, address.into())
    );
}

#[test]
fn renewing_extends_the_lease() {
    let engine = engine();
    let address = lease_via_relay(&engine, mac(1), NOW);
    let renew = with_ciaddr(relayed(3, mac(1), &[]), address);
    let outcome = engine.handle(&renew, &relay_arrival(), NOW + 1000);
    let ack = answer(&outcome);
    assert_eq!((ack.message_type, ack.yiaddr), (MessageType::Ack, address));
    assert_eq!(ack.bytes[12..16], address.octets(), "ciaddr is copied");
    let [LeaseChange::Upsert(lease)] = outcome.changes.as_slice() else {
        panic!("expected one upsert");
    };
    assert_eq!(lease.expire, NOW + 1000 + 4000);
    assert!(outcome.extended, "a renewal is no new lease");
}

#[test]
fn only_a_new_lease_counts_as_assigned() {
    let engine = engine();
    let offer = answer(&engine.handle(&relayed(1, mac(1), &[]), &relay_arrival(), NOW));
    let request = relayed(
        3,
        mac(1),
        &[(50, &offer.yiaddr.octets()), (54, &SERVER.octets())],
    );
    assert!(
        !engine.handle(&request, &relay_arrival(), NOW).extended,
        "first ACK"
    );
    // The same DORA again, as a rebooted client does: the lease it holds is extended.
    let again = answer(&engine.handle(&relayed(1, mac(1), &[]), &relay_arrival(), NOW + 5));
    assert_eq!(again.yiaddr, offer.yiaddr);
    assert!(
        engine.handle(&request, &relay_arrival(), NOW + 5).extended,
        "second ACK"
    );
}

#[test]
fn rebinding_a_direct_client_is_acked_by_unicast_to_ciaddr() {
    let engine = engine();
    let chaddr = mac(1);
    let discover = query_bytes(1, chaddr, |_| {}, &[]);
    let offer = answer(&engine.handle(&discover, &direct_arrival(), NOW));
    let server = DIRECT_SERVER.octets();
    let request = query_bytes(
        3,
        chaddr,
        |_| {},
        &[(50, &offer.yiaddr.octets()), (54, &server)],
    );
    answer(&engine.handle(&request, &direct_arrival(), NOW));

    let rebind = with_ciaddr(query_bytes(3, chaddr, |h| h[10] = 0x80, &[]), offer.yiaddr);
    let ack = answer(&engine.handle(&rebind, &direct_arrival(), NOW + 3000));
    assert_eq!(
        (ack.message_type, ack.yiaddr),
        (MessageType::Ack, offer.yiaddr)
    );
    assert_eq!(ack.destination, Destination::Client(offer.yiaddr));
}

#[test]
fn renewing_another_clients_address_is_naked() {
    let engine = engine();
    let taken = lease_via_relay(&engine, mac(1), NOW);
    let renew = with_ciaddr(relayed(3, mac(2), &[]), taken);
    assert_eq!(
        answer(&engine.handle(&renew, &relay_arrival(), NOW)).message_type,
        MessageType::Nak
    );
}

#[test]
fn requesting_an_address_outside_the_pools_is_naked() {
    let engine = engine();
    let outside = [10, 0, 9, 9];
    let query = relayed(3, mac(1), &[(50, &outside), (54, &SERVER.octets())]);
    assert_eq!(
        answer(&engine.handle(&query, &relay_arrival(), NOW)).message_type,
        MessageType::Nak
    );
}

#[test]
fn release_frees_the_address() {
    let engine = engine();
    let address = lease_via_relay(&engine, mac(1), NOW);
    let release = with_ciaddr(relayed(7, mac(1), &[(54, &SERVER.octets())]), address);
    let outcome = engine.handle(&release, &relay_arrival(), NOW + 5);
    assert!(outcome.reply.is_none());
    assert!(matches!(outcome.changes.as_slice(), [LeaseChange::Delete(l)] if l.address == address));
    assert_eq!(engine.assigned_addresses(2, NOW + 5), 0);

    let stranger = with_ciaddr(relayed(7, mac(2), &[]), address);
    assert!(
        engine
            .handle(&stranger, &relay_arrival(), NOW)
            .changes
            .is_empty()
    );
}

#[test]
fn a_release_from_another_client_changes_nothing() {
    let engine = engine();
    let address = lease_via_relay(&engine, mac(1), NOW);
    let forged = with_ciaddr(relayed(7, mac(2), &[]), address);
    assert!(
        engine
            .handle(&forged, &relay_arrival(), NOW)
            .changes
            .is_empty()
    );
    assert_eq!(engine.assigned_addresses(2, NOW), 1);
}

#[test]
fn declined_address_is_on_probation() {
    let engine = engine();
    let address = lease_via_relay(&engine, mac(1), NOW);
    let decline = relayed(
        4,
        mac(1),
        &[(50, &address.octets()), (54, &SERVER.octets())],
    );
    let outcome = engine.handle(&decline, &relay_arrival(), NOW);
    assert!(outcome.reply.is_none());
    let [LeaseChange::Upsert(lease)] = outcome.changes.as_slice() else {
        panic!("expected the declined lease");
    };
    assert_eq!(lease.state, LeaseState::Declined);
    assert_eq!(lease.hwaddr, None);
    assert_eq!(lease.expire, NOW + 86400);

    for n in 2..=3 {
        assert_ne!(lease_via_relay(&engine, mac(n), NOW + 10), address);
    }
    let full = engine.handle(&relayed(1, mac(4), &[]), &relay_arrival(), NOW + 10);
    assert_eq!(
        full.silence,
        Some(Silence::PoolExhausted),
        "the declined address stays out"
    );
}

#[test]
fn inform_gets_options_but_no_lease() {
    let engine = engine();
    let client = Ipv4Addr::new(10, 0, 0, 77);
    let agent_information: &[u8] = &[1, 2, 0, 7];
    let inform = with_ciaddr(relayed(8, mac(1), &[(82, agent_information)]), client);
    let outcome = engine.handle(&inform, &relay_arrival(), NOW);
    let ack = answer(&outcome);
    assert_eq!(ack.message_type, MessageType::Ack);
    assert_eq!(ack.yiaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(ack.option(51), None);
    assert_eq!(ack.option(3), Some(&[10, 0, 0, 1][..]));
    assert!(outcome.changes.is_empty());
    // Section 4.3.5: straight to ciaddr, not back through the relay.
    assert_eq!(ack.destination, Destination::Client(client));
    assert_eq!(ack.bytes[10] & 0x80, 0, "no broadcast bit");
    assert_eq!(
        (ack.bytes[3], &ack.bytes[24..28]),
        (0, &[0; 4][..]),
        "no hops, no giaddr"
    );
    assert_eq!(
        ack.option(82),
        None,
        "relay information stays with the relay"
    );
}

#[test]
fn a_relayed_inform_without_ciaddr_goes_back_through_the_relay_for_broadcast() {
    let engine = engine();
    let outcome = engine.handle(&relayed(8, mac(1), &[]), &relay_arrival(), NOW);
    let ack = answer(&outcome);
    assert_eq!(ack.message_type, MessageType::Ack);
    assert_eq!(
        ack.destination,
        Destination::Relay(SocketAddrV4::new(RELAY, 67))
    );
    assert_eq!(
        ack.bytes[10] & 0x80,
        0x80,
        "broadcast bit set for the relay"
    );
}

#[test]
fn reserved_client_gets_its_address_and_nobody_else_does() {
    let engine = engine();
    let discover = query_bytes(1, RESERVED_MAC, |_| {}, &[(55, &[12])]);
    let offer = answer(&engine.handle(&discover, &direct_arrival(), NOW));
    assert_eq!(offer.yiaddr, Ipv4Addr::new(198, 51, 100, 250));
    assert_eq!(offer.option(12), Some(&b"reserved-host"[..]));

    let reserved = [198, 51, 100, 250];
    let server = DIRECT_SERVER.octets();
    let thief = query_bytes(3, mac(1), |_| {}, &[(50, &reserved), (54, &server)]);
    assert_eq!(
        answer(&engine.handle(&thief, &direct_arrival(), NOW)).message_type,
        MessageType::Nak
    );
}

#[test]
fn direct_replies_follow_section_4_1() {
    let engine = engine();
    let plain =
        answer(&engine.handle(&query_bytes(1, mac(1), |_| {}, &[]), &direct_arrival(), NOW));
    assert_eq!(
        plain.destination,
        Destination::Unconfigured {
            address: plain.yiaddr,
            hwaddr: plain_hw(mac(1))
        }
    );
    let flagged = query_bytes(1, mac(2), |h| h[10] = 0x80, &[]);
    let broadcast = answer(&engine.handle(&flagged, &direct_arrival(), NOW));
    assert_eq!(broadcast.destination, Destination::Broadcast);

    let wrong = query_bytes(3, mac(3), |_| {}, &[(50, &[10, 0, 0, 10])]);
    let nak = answer(&engine.handle(&wrong, &direct_arrival(), NOW));
    assert_eq!(
        (nak.message_type, nak.destination),
        (MessageType::Nak, Destination::Broadcast)
    );
}

fn plain_hw(bytes: [u8; 6]) -> leasehold_leases::HwAddr {
    leasehold_leases::HwAddr::new(&bytes).unwrap()
}

#[test]
fn an_unknown_relay_gets_no_answer() {
    let engine = engine();
    let stranger = query_bytes(
        1,
        mac(1),
        |h| h[24..28].copy_from_slice(&[203, 0, 113, 1]),
        &[],
    );
    assert_eq!(
        engine.handle(&stranger, &relay_arrival(), NOW).silence,
        Some(Silence::NoSubnet)
    );
}

#[test]
fn malformed_packets_are_silently_dropped() {
    let outcome = engine().handle(&[1, 2, 3], &relay_arrival(), NOW);
    assert!(matches!(outcome.silence, Some(Silence::Malformed(_))));
    assert!(outcome.reply.is_none());
}

/// A small deterministic generator (xorshift64*), so the mutation test needs
/// no dependency and fails the same way every time.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

#[test]
fn mutated_queries_never_panic_the_engine() {
    let engine = engine();
    let fqdn: &[u8] = b"\x05\x00\x00\x07desktop\x04site\x00";
    let seeds = [
        relayed(
            1,
            mac(1),
            &[
                (12, b"host"),
                (81, fqdn),
                (51, &[0, 0, 1, 0]),
                (55, &[1, 3, 12, 81]),
            ],
        ),
        relayed(
            3,
            mac(2),
            &[
                (50, &[10, 0, 0, 10]),
                (54, &SERVER.octets()),
                (61, &[1, 2, 3]),
            ],
        ),
        with_ciaddr(
            relayed(8, mac(3), &[(82, &[1, 2, 0, 7, 5, 4, 10, 0, 0, 1])]),
            RELAY,
        ),
        relayed(4, mac(4), &[(50, &[10, 0, 0, 11]), (118, &[10, 0, 0, 0])]),
    ];
    let mut random = Mutator(0x6c65_6173_6568_6f6c);
    let mut parsed = 0;
    for round in 0..20_000 {
        let mut bytes = seeds[round % seeds.len()].clone();
        // Byte changes anywhere; cuts and insertions among the options (past
        // the 236-byte header and the cookie), where lengths and codes live.
        for _ in 0..=random.below(4) {
            let position = random.below(bytes.len());
            let in_options = 240 + random.below(bytes.len() - 239);
            match random.below(4) {
                0 | 1 => bytes[position] = random.next() as u8,
                2 => bytes.truncate(in_options),
                _ => bytes.insert(in_options, random.next() as u8),
            }
        }
        // Parsing and answering must not panic; what comes out is not checked.
        let outcome = engine.handle(&bytes, &relay_arrival(), NOW + round as u64);
        parsed += usize::from(!matches!(outcome.silence, Some(Silence::Malformed(_))));
    }
    // Most mutants still parse, so the engine's paths past parsing were run.
    assert!(parsed > 10_000, "only {parsed} of 20000 mutants parsed");
}

#[test]
fn expired_leases_are_reclaimed_and_reused() {
    let engine = engine();
    let address = lease_via_relay(&engine, mac(1), NOW);
    assert!(engine.reclaim_expired(NOW + 10, 100).is_empty());
    let after = NOW + 4001;
    let changes = engine.reclaim_expired(after, 100);
    assert!(matches!(changes.as_slice(),
        [LeaseChange::Upsert(l)] if l.address == address && l.state == LeaseState::ExpiredReclaimed));
    assert_eq!(engine.assigned_addresses(2, after), 0);
    for n in 2..=4 {
        lease_via_relay(&engine, mac(n), after);
    }
}

#[test]
fn leases_survive_reconfiguration() {
    let engine = engine();
    let address = lease_via_relay(&engine, mac(1), NOW);
    let (reloaded, orphans) = engine.reconfigure(config());
    assert!(orphans.is_empty());
    let reboot = relayed(3, mac(1), &[(50, &address.octets())]);
    let ack = answer(&reloaded.handle(&reboot, &relay_arrival(), NOW + 1));
    assert_eq!((ack.message_type, ack.yiaddr), (MessageType::Ack, address));
}

#[test]
fn loaded_leases_are_honoured() {
    let first = engine();
    let address = lease_via_relay(&first, mac(1), NOW);
    let (second, _) = Engine::new(config(), first.leases());
    let offer = answer(&second.handle(&relayed(1, mac(1), &[]), &relay_arrival(), NOW + 10));
    assert_eq!(offer.yiaddr, address);
    let other = answer(&second.handle(&relayed(1, mac(2), &[]), &relay_arrival(), NOW + 10));
    assert_ne!(other.yiaddr, address);
}

#[test]
fn a_lease_without_client_id_belongs_to_the_same_hardware_address() {
    let engine = engine();
    let address = lease_via_relay(&engine, mac(1), NOW);
    let with_id = relayed(1, mac(1), &[(61, &[1, 2, 0, 0, 0, 1, 1])]);
    let offer = answer(&engine.handle(&with_id, &relay_arrival(), NOW));
    assert_eq!(
        offer.yiaddr, address,
        "Kea matches by chaddr when the lease has no client-id"
    );

    let other_id = relayed(1, mac(2), &[(61, &[1, 9])]);
    let address = lease_via_relay(&engine, mac(2), NOW);
    let stranger = answer(&engine.handle(&other_id, &relay_arrival(), NOW));
    assert_eq!(stranger.yiaddr, address);
    let different = relayed(1, mac(3), &[(61, &[1, 9])]);
    let offer = answer(&engine.handle(&different, &relay_arrival(), NOW));
    assert_ne!(
        offer.yiaddr, address,
        "a client-id the lease never had does not claim it"
    );
}

#[test]
fn an_offer_made_before_a_reload_is_honoured_after_it() {
    let old = engine();
    let offer = answer(&old.handle(&relayed(1, mac(1), &[]), &relay_arrival(), NOW));
    let (new, orphans) = old.reconfigure(config());
    assert!(orphans.is_empty());
    // A worker still on the old engine leases to another client meanwhile.
    let late = lease_via_relay(&old, mac(2), NOW);
    let request = relayed(
        3,
        mac(1),
        &[(50, &offer.yiaddr.octets()), (54, &SERVER.octets())],
    );
    let ack = answer(&new.handle(&request, &relay_arrival(), NOW));
    assert_eq!(
        (ack.message_type, ack.yiaddr),
        (MessageType::Ack, offer.yiaddr)
    );
    let reboot = relayed(3, mac(2), &[(50, &late.octets())]);
    let ack = answer(&new.handle(&reboot, &relay_arrival(), NOW));
    assert_eq!((ack.message_type, ack.yiaddr), (MessageType::Ack, late));
}

#[test]
fn a_subnet_whose_prefix_changes_keeps_the_leases_that_still_fit() {
    let old = engine();
    let address = lease_via_relay(&old, mac(1), NOW);
    let mut narrower = config();
    narrower.subnets[1].prefix = "10.0.0.0/24".parse().unwrap();
    let (new, orphans) = old.reconfigure(narrower);
    assert!(orphans.is_empty());
    assert_eq!(new.leases().len(), 1);
    let mut elsewhere = config();
    elsewhere.subnets[1].prefix = "10.1.0.0/16".parse().unwrap();
    elsewhere.subnets[1].pools[0] = Pool {
        first: [10, 1, 0, 10].into(),
        last: [10, 1, 0, 12].into(),
        ..elsewhere.subnets[1].pools[0].clone()
    };
    let (_, orphans) = old.reconfigure(elsewhere);
    assert_eq!(
        orphans.iter().map(|l| l.address).collect::<Vec<_>>(),
        [address]
    );
}
