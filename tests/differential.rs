//! Differential tests: ISC Kea 2.2 and leasehold serve the same configuration (the production
//! shape: one shared network per site with several subnets, per-subnet options through required
//! client classes, a custom option, reservations, relayed traffic) and get the same crafted
//! queries; every reply is compared field by field (message type, header fields, sname, file,
//! every option's bytes and position, length), and so are the lease files they leave. Other
//! scenarios bound lease-time hints at each scope and serve directly attached clients. Needs
//! root, `ip netns` and kea-dhcp4.
//!
//! The servers run one after the other on fresh networks; queries carry fixed transaction ids
//! and each REQUEST asks for the address that server offered, so both see the same exchange.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use leasehold_testnet::{
    BCAST_SERVER_ADDR, HARNESS_RELAY_ADDR, LeaseFile, LeaseRecord, ParsedReply, QueryBuilder,
    RELAY_SERVER_ADDR, RawClient, RawDirect, RawRelay, ServerKind, TestNet,
};
use serde_json::{Value, json};

const SITE_A_RELAY: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 1);
const SITE_B_RELAY: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 4);
const SITE_B_NET2_RELAY: Ipv4Addr = Ipv4Addr::new(10, 20, 1, 1);
const UNKNOWN_RELAY: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const RELAYS: [Ipv4Addr; 4] = [SITE_A_RELAY, SITE_B_RELAY, SITE_B_NET2_RELAY, UNKNOWN_RELAY];

/// What the client asks for: mask, routers, DNS, domain, broadcast, lease time, server id, T1,
/// T2.
const PRL: &[u8] = &[1, 3, 6, 15, 28, 51, 54, 58, 59];
/// The same plus the TFTP server name (66) and the custom option 234.
const PRL_WITH_CUSTOM: &[u8] = &[1, 3, 6, 15, 28, 51, 54, 58, 59, 66, 234];

fn leasehold() -> ServerKind {
    ServerKind::Leasehold(PathBuf::from(env!("CARGO_BIN_EXE_leasehold")))
}

/// A class per subnet, required by that subnet, carrying its routers, DNS and domain name.
/// Kea 2.2 ignores a required class without a test, so each has one that always holds.
fn subnet_class(name: &str, router: &str, dns: &str, domain: &str) -> Value {
    json!({
        "name": name,
        "only-if-required": true,
        "test": "member('ALL')",
        "option-data": [
            { "name": "routers", "data": router },
            { "name": "domain-name-servers", "data": dns },
            { "name": "domain-name", "data": domain }
        ]
    })
}

fn configuration(net: &TestNet) -> Value {
    json!({
      "Dhcp4": {
        "interfaces-config": {
          "interfaces": [ net.relay_server_if() ],
          "dhcp-socket-type": "udp"
        },
        "lease-database": {
          "type": "memfile", "persist": true, "lfc-interval": 0,
          "name": net.lease_file()
        },
        "valid-lifetime": 4000,
        "renew-timer": 1000,
        "rebind-timer": 2000,
        "host-reservation-identifiers": [ "circuit-id", "hw-address", "duid", "client-id" ],
        "option-def": [ { "name": "site-motd", "code": 234, "type": "string" } ],
        "option-data": [
          { "name": "domain-name-servers", "data": "192.0.2.53" },
          { "name": "site-motd", "data": "welcome to the site" }
        ],
        "client-classes": [
          {
            "name": "voip",
            "test": "option[77].hex == 'voip'",
            "next-server": "192.0.2.70",
            "option-data": [ { "name": "tftp-server-name", "data": "tftp.voip.example" } ]
          },
          subnet_class("a-net1", "10.10.0.1", "10.10.0.53", "net1.a.example"),
          subnet_class("a-net2", "10.10.1.1", "10.10.1.53", "net2.a.example"),
          subnet_class("a-net3", "10.10.2.1", "10.10.2.53", "net3.a.example"),
          subnet_class("b-net1", "10.20.0.1", "10.20.0.53", "net1.b.example"),
          subnet_class("b-net2", "10.20.1.1", "10.20.1.53", "net2.b.example"),
          subnet_class("b-net3", "10.20.2.1", "10.20.2.53", "net3.b.example")
        ],
        "shared-networks": [
          {
            "name": "site-a",
            "user-context": { "site": "A" },
            "subnet4": [
              {
                "id": 11, "subnet": "10.10.0.0/24",
                "pools": [ { "pool": "10.10.0.10 - 10.10.0.12" } ],
                "require-client-classes": [ "a-net1" ],
                "reservations": [
                  { "hw-address": "02:00:00:00:0a:01", "ip-address": "10.10.0.100", "hostname": "Desk-1" }
                ]
              },
              {
                "id": 12, "subnet": "10.10.1.0/24",
                "pools": [ { "pool": "10.10.1.10 - 10.10.1.20" } ],
                "require-client-classes": [ "a-net2" ],
                "valid-lifetime": 1200, "renew-timer": 500, "rebind-timer": 900
              },
              {
                "id": 13, "subnet": "10.10.2.0/24",
                "pools": [ { "pool": "10.10.2.10 - 10.10.2.20" } ],
                "require-client-classes": [ "a-net3" ],
                "reservations": [ { "circuit-id": "'port-7'", "ip-address": "10.10.2.77", "hostname": "printer-7" } ]
              }
            ]
          },
          {
            "name": "site-b",
            "relay": { "ip-addresses": [ SITE_B_RELAY.to_string() ] },
            "valid-lifetime": 5000,
            "subnet4": [
              {
                "id": 21, "subnet": "10.20.0.0/24",
                "comment": "wide enough never to wrap: leasehold holds an offer for 30 s, Kea 2.2 none, so a wrapped pool would hand out different addresses",
                "pools": [ { "pool": "10.20.0.10 - 10.20.0.60" } ],
                "require-client-classes": [ "b-net1" ]
              },
              {
                "id": 22, "subnet": "10.20.1.0/24",
                "pools": [ { "pool": "10.20.1.10 - 10.20.1.20" } ],
                "require-client-classes": [ "b-net2" ],
                "valid-lifetime": 600, "renew-timer": 200, "rebind-timer": 400
              },
              {
                "id": 23, "subnet": "10.20.2.0/24",
                "pools": [ { "pool": "10.20.2.10 - 10.20.2.20" } ],
                "require-client-classes": [ "b-net3" ]
              }
            ]
          }
        ],
        "subnet4": [
          harness_subnet()
        ],
        "loggers": kea_loggers()
      }
    })
}

/// The subnet that answers the harness's readiness probe, in every configuration.
fn harness_subnet() -> Value {
    json!({
      "id": 999, "subnet": "172.31.0.0/24",
      "relay": { "ip-addresses": [ HARNESS_RELAY_ADDR.to_string() ] },
      "pools": [ { "pool": "172.31.0.10 - 172.31.0.200" } ]
    })
}

/// Kea's warnings on standard output, where the harness keeps the server's log.
fn kea_loggers() -> Value {
    json!([ { "name": "kea-dhcp4", "output_options": [ { "output": "stdout" } ], "severity": "WARN" } ])
}

/// One client's exchange.
struct Client {
    label: String,
    mac: [u8; 6],
    relay: Ipv4Addr,
    /// Options after 53, before 55 (client id, user class, relay information, ...).
    extra: Vec<(u8, Vec<u8>)>,
    prl: &'static [u8],
    /// What it sends once bound, in order.
    then: Vec<Then>,
    /// `flags` of a direct client's queries (relayed ones send 0).
    flags: u16,
}

/// The `relay` of a directly attached client: it broadcasts on the server's link.
const DIRECT: Ipv4Addr = Ipv4Addr::UNSPECIFIED;

/// What a bound client sends after its ACK.
#[derive(Clone, Copy)]
enum Then {
    /// A RENEWING request (ciaddr set).
    Renew,
    /// A DHCPINFORM from its address.
    Inform,
    /// An INIT-REBOOT request for an address of no subnet it may use.
    RebootElsewhere,
    /// A DECLINE of its address, then a new DISCOVER.
    Decline,
    /// A RELEASE of its address, then a new DISCOVER.
    Release,
}

/// A client that also sends option `code` with `data`.
fn client_sending(label: &str, last: u8, relay: Ipv4Addr, code: u8, data: &[u8]) -> Client {
    let mut client = client(label, last, relay);
    client.extra.push((code, data.to_vec()));
    client
}

fn client(label: &str, last: u8, relay: Ipv4Addr) -> Client {
    Client {
        label: label.to_owned(),
        mac: [0x02, 0, 0, 0, 0x0a, last],
        relay,
        extra: Vec::new(),
        prl: PRL,
        then: Vec::new(),
        flags: 0,
    }
}

fn clients() -> Vec<Client> {
    let mut with_id = client("site A, client id, renews", 0x10, SITE_A_RELAY);
    with_id.extra.push((61, vec![1, 2, 0, 0, 0, 0x0a, 0x10]));
    with_id.then = vec![Then::Renew, Then::Inform];
    let mut second = client("site A, second", 0x11, SITE_A_RELAY);
    second.then = vec![Then::RebootElsewhere];
    let mut declines = client(
        "site B, network relay address, declines",
        0x20,
        SITE_B_RELAY,
    );
    declines.then = vec![Then::Decline];
    let mut hostname = client_sending(
        "site B, sends a host name",
        0x24,
        SITE_B_RELAY,
        12,
        b"Laptop_7",
    );
    hostname.then = vec![Then::Renew];
    let wire = b"\x05\x00\x00\x07desktop\x04site\x07example\x00";
    let fqdn = client_sending("site B, sends a client FQDN", 0x25, SITE_B_RELAY, 81, wire);
    let partial = b"\x04\x00\x00\x06tablet";
    let partial = client_sending(
        "site B, sends a partial FQDN",
        0x26,
        SITE_B_RELAY,
        81,
        partial,
    );
    let empty = client_sending(
        "site B, sends an empty FQDN",
        0x28,
        SITE_B_RELAY,
        81,
        b"\x05\0\0",
    );
    let root = client_sending(
        "site B, sends the root as host name",
        0x29,
        SITE_B_RELAY,
        12,
        b".",
    );
    let ascii = b"\x01\x00\x00Phone.Site.Example";
    let ascii = client_sending("site B, sends an ASCII FQDN", 0x27, SITE_B_RELAY, 81, ascii);
    let mine = b"\x05\x00\x00\x04mine\x00";
    let label = "site A, hw-address reservation, sends an FQDN";
    let reserved = client_sending(label, 0x01, SITE_A_RELAY, 81, mine);
    let mut releases = client(
        "site B, giaddr inside net2 (network lifetime), releases",
        0x23,
        SITE_B_NET2_RELAY,
    );
    releases.then = vec![Then::Release, Then::Inform];
    let mut voip = client(
        "site A, user class voip, asks for 66 and 234",
        0x03,
        SITE_A_RELAY,
    );
    voip.extra.push((77, b"voip".to_vec()));
    voip.prl = PRL_WITH_CUSTOM;
    let mut asks_custom = client("site B, asks for custom 234", 0x21, SITE_B_RELAY);
    asks_custom.prl = PRL_WITH_CUSTOM;
    let mut circuit = client(
        "site A, circuit-id reservation in sibling subnet",
        0x02,
        SITE_A_RELAY,
    );
    circuit.extra.push((
        82,
        vec![1, 6, b'p', b'o', b'r', b't', b'-', b'7', 2, 2, 0xbe, 0xef],
    ));
    let mut link = client(
        "site A, link selection to net3 (stays in the preferred subnet)",
        0x04,
        SITE_A_RELAY,
    );
    link.extra.push((82, vec![1, 2, 0, 9, 5, 4, 10, 10, 2, 0]));
    let mut selection = client(
        "site B, option 118 to net3 (stays in the preferred subnet)",
        0x22,
        SITE_B_RELAY,
    );
    selection.extra.push((118, vec![10, 20, 2, 0]));
    vec![
        with_id,
        second,
        client("site A, third (pool of net1 now full)", 0x12, SITE_A_RELAY),
        client("site A, fourth (moves to net2)", 0x13, SITE_A_RELAY),
        reserved,
        circuit,
        voip,
        link,
        declines,
        hostname,
        fqdn,
        partial,
        ascii,
        empty,
        root,
        asks_custom,
        releases,
        selection,
        client("unknown relay: no answer", 0x30, UNKNOWN_RELAY),
    ]
}

/// One query and the reply it got.
struct Exchange {
    label: String,
    reply: Option<Vec<u8>>,
}

/// What one differential run needs: a configuration for a test network, the clients that
/// send queries, and the relay addresses they send them from.
struct Scenario {
    configuration: fn(&TestNet) -> Value,
    clients: fn() -> Vec<Client>,
    relays: &'static [Ipv4Addr],
}

/// What a run leaves behind: every reply, and the lease file.
struct Run {
    exchanges: Vec<Exchange>,
    leases: LeaseFile,
}

fn run(kind: &ServerKind, scenario: &Scenario) -> Run {
    let net = TestNet::new().unwrap_or_else(|error| panic!("test network: {error}"));
    for &relay in scenario.relays {
        net.add_remote_relay(relay)
            .unwrap_or_else(|error| panic!("relay address {relay}: {error}"));
    }
    let config = (scenario.configuration)(&net);
    let server = net
        .start_server(kind, &config)
        .unwrap_or_else(|error| panic!("{} did not start: {error}", kind.name()));
    let relays: Vec<(Ipv4Addr, RawRelay)> = scenario
        .relays
        .iter()
        .map(|&address| (address, RawRelay::bind(&net, address).expect("bind relay")))
        .collect();
    let clients = (scenario.clients)();
    // Bound only when needed: its 0.0.0.0:68 would take the port from a RawClient.
    let direct = clients
        .iter()
        .any(|client| client.relay == DIRECT)
        .then(|| RawDirect::bind(&net).expect("bind the direct client socket"));
    let mut exchanges = Vec::new();
    for (index, client) in clients.into_iter().enumerate() {
        let xid = 0x4c48_0000u32 + (index as u32) * 16;
        let is_direct = client.relay == DIRECT;
        let relay = relays
            .iter()
            .find(|(a, _)| *a == client.relay)
            .map(|(_, r)| r);
        // The reply is awaited at the relay, or where the server must unicast it; a direct
        // client broadcasts and listens on the link.
        let mut send =
            |label: String, query: QueryBuilder, wait: Duration, at: Option<&RawClient>| {
                let reply = match (relay, at) {
                    (None, _) => direct
                        .as_ref()
                        .expect("bound")
                        .exchange(&query.build(), wait),
                    (Some(relay), None) => relay.exchange(&query.build(), wait),
                    (Some(relay), Some(at)) => relay.exchange_answered_at(&query.build(), at, wait),
                };
                let reply = reply.expect("exchange");
                exchanges.push(Exchange {
                    label,
                    reply: reply.clone(),
                });
                reply
            };
        let build = |message_type: u8, xid: u32| {
            let mut query = QueryBuilder::new(message_type, xid, client.mac);
            query = match is_direct {
                true => query.flags(client.flags),
                false => query.hops(1).giaddr(client.relay),
            };
            for (code, data) in &client.extra {
                query = query.option(*code, data);
            }
            query
        };
        let wait = Duration::from_millis(1000);
        let discover = build(1, xid + 1).option(55, client.prl);
        let offer = send(format!("{}: DISCOVER", client.label), discover, wait, None);
        let Some(offer) = offer.as_deref().and_then(ParsedReply::parse) else {
            continue;
        };
        let server_id = match is_direct {
            true => BCAST_SERVER_ADDR.octets(),
            false => RELAY_SERVER_ADDR.octets(),
        };
        let request = build(3, xid + 2)
            .option(50, &offer.yiaddr.octets())
            .option(54, &server_id)
            .option(55, client.prl);
        let ack = send(format!("{}: REQUEST", client.label), request, wait, None);
        let Some(ack) = ack.as_deref().and_then(ParsedReply::parse) else {
            continue;
        };
        if is_direct && !client.then.is_empty() {
            // The client configures its address, where unicast replies now come.
            net.add_bcast_client_address(ack.yiaddr)
                .expect("configure the leased address");
        }
        let label = &client.label;
        for (step, then) in (4..).zip(&client.then) {
            let xid = xid + step;
            let address = ack.yiaddr.octets();
            match then {
                Then::Renew => {
                    let renew = build(3, xid).ciaddr(ack.yiaddr).option(55, client.prl);
                    send(format!("{label}: RENEW"), renew, wait, None);
                }
                Then::Inform if is_direct => {
                    let inform = build(8, xid).ciaddr(ack.yiaddr).option(55, client.prl);
                    send(format!("{label}: INFORM"), inform, wait, None);
                }
                Then::Inform => {
                    // The reply goes to ciaddr:68, not to the relay (RFC 2131 4.3.5).
                    net.add_remote_relay(ack.yiaddr)
                        .expect("route to the client");
                    let at = RawClient::bind(&net, ack.yiaddr).expect("bind the client");
                    let inform = build(8, xid).ciaddr(ack.yiaddr).option(55, client.prl);
                    send(format!("{label}: INFORM"), inform, wait, Some(&at));
                }
                Then::RebootElsewhere => {
                    let elsewhere = Ipv4Addr::new(10, 99, 0, 7).octets();
                    let reboot = build(3, xid).option(50, &elsewhere).option(55, client.prl);
                    send(
                        format!("{label}: INIT-REBOOT elsewhere"),
                        reboot,
                        wait,
                        None,
                    );
                }
                Then::Decline | Then::Release => {
                    let (name, query) = match then {
                        Then::Decline => ("DECLINE", build(4, xid).option(50, &address)),
                        _ => ("RELEASE", build(7, xid).ciaddr(ack.yiaddr)),
                    };
                    let query = query.option(54, &server_id);
                    send(format!("{label}: {name}"), query, NO_REPLY_WAIT, None);
                    let again = build(1, xid + 8).option(55, client.prl);
                    send(format!("{label}: DISCOVER after {name}"), again, wait, None);
                }
            }
        }
    }
    // Kea appends to its lease file as it answers; leasehold syncs before it answers.
    let leases = LeaseFile::read(&net.lease_file()).expect("lease file");
    drop(server);
    Run { exchanges, leases }
}

/// How long to wait for the reply a DECLINE or RELEASE must not get.
const NO_REPLY_WAIT: Duration = Duration::from_millis(300);

/// Differences that are intended, each with the reason; `(label prefix, difference prefix)`.
const INTENDED: &[(&str, &str)] = &[
    // RFC 2131 4.3.2: a NAK to a relayed REQUEST MUST have the broadcast bit set, so that the
    // relay broadcasts it to a client whose address may be wrong; Kea 2.2 copies the query's
    // flags instead.
    (
        "site A, second: INIT-REBOOT elsewhere",
        "flags: 0x0000 vs 0x8000",
    ),
];

#[test]
fn production_shape_replies_match_kea() {
    compare(&Scenario {
        configuration,
        clients,
        relays: &RELAYS,
    });
}

/// Runs `scenario` on Kea 2.2 and on leasehold and fails on any unintended difference;
/// returns Kea's leases, for checks that the scenario exercised what it meant to.
fn compare(scenario: &Scenario) -> LeaseFile {
    let Run {
        exchanges: kea,
        leases: kea_leases,
    } = run(&ServerKind::Kea, scenario);
    let Run {
        exchanges: ours,
        leases: our_leases,
    } = run(&leasehold(), scenario);
    assert_eq!(kea.len(), ours.len(), "the two runs took different paths");
    let mut compared = 0;
    let mut unexpected = Vec::new();
    let mut intended = 0;
    for (theirs, mine) in kea.iter().zip(&ours) {
        assert_eq!(theirs.label, mine.label);
        compared += 1;
        let summary = |reply: &Option<Vec<u8>>| match reply.as_deref().and_then(ParsedReply::parse)
        {
            Some(reply) => format!("type {:?} yiaddr {}", reply.message_type, reply.yiaddr),
            None => "no reply".to_owned(),
        };
        println!(
            "{}: kea {}, leasehold {}",
            theirs.label,
            summary(&theirs.reply),
            summary(&mine.reply)
        );
        let differences = match (&theirs.reply, &mine.reply) {
            (None, None) => Vec::new(),
            (Some(_), None) => vec!["kea answered, leasehold did not".to_owned()],
            (None, Some(_)) => vec!["leasehold answered, kea did not".to_owned()],
            (Some(kea_bytes), Some(our_bytes)) => {
                let kea_reply = ParsedReply::parse(kea_bytes).expect("kea reply parses");
                let our_reply = ParsedReply::parse(our_bytes).expect("leasehold reply parses");
                kea_reply.differences(&our_reply)
            }
        };
        for difference in differences {
            let allowed = INTENDED.iter().any(|(label, prefix)| {
                theirs.label.starts_with(label) && difference.starts_with(prefix)
            });
            match allowed {
                true => intended += 1,
                false => {
                    unexpected.push(format!("{}: {difference} (kea vs leasehold)", theirs.label))
                }
            }
        }
    }
    println!(
        "compared {compared} replies: {} unexpected differences, {intended} intended",
        unexpected.len()
    );
    unexpected.extend(lease_differences(&kea_leases, &our_leases));
    assert!(
        unexpected.is_empty(),
        "differences:\n{}",
        unexpected.join("\n")
    );
    kea_leases
}

/// How the two lease files differ, lease by lease: every column but `expire`, which depends on
/// when each run happened.
fn lease_differences(kea: &LeaseFile, ours: &LeaseFile) -> Vec<String> {
    let mut addresses: Vec<Ipv4Addr> = kea
        .leases
        .keys()
        .chain(ours.leases.keys())
        .copied()
        .collect();
    addresses.sort();
    addresses.dedup();
    let mut differences = Vec::new();
    for address in addresses {
        let comparable = |file: &LeaseFile| {
            file.leases.get(&address).map(|lease| LeaseRecord {
                expire: 0,
                ..lease.clone()
            })
        };
        let (theirs, mine) = (comparable(kea), comparable(ours));
        if theirs != mine {
            differences.push(format!(
                "lease {address}: {theirs:?} vs {mine:?} (kea vs leasehold)"
            ));
        }
    }
    println!(
        "compared {} leases",
        kea.leases.len().max(ours.leases.len())
    );
    differences
}

const HINT_NETWORK_RELAY: Ipv4Addr = Ipv4Addr::new(10, 30, 0, 1);
const HINT_SUBNET_RELAY: Ipv4Addr = Ipv4Addr::new(10, 40, 0, 1);
const HINT_GLOBAL_RELAY: Ipv4Addr = Ipv4Addr::new(10, 50, 0, 1);
const HINT_RELAYS: [Ipv4Addr; 3] = [HINT_NETWORK_RELAY, HINT_SUBNET_RELAY, HINT_GLOBAL_RELAY];

/// Lifetime bounds at each scope: global (min, default and max), a shared network with a
/// default and a maximum, a subnet with a default and a minimum, and a subnet that inherits
/// the global bounds. Kea inherits each of the three keys on its own.
fn lifetime_configuration(net: &TestNet) -> Value {
    json!({
      "Dhcp4": {
        "interfaces-config": { "interfaces": [ net.relay_server_if() ] },
        "lease-database": {
          "type": "memfile", "persist": true, "lfc-interval": 0, "name": net.lease_file()
        },
        "valid-lifetime": 4000, "min-valid-lifetime": 2000, "max-valid-lifetime": 6000,
        "renew-timer": 1000, "rebind-timer": 1800,
        "client-classes": [
          {
            "name": "short", "test": "option[77].hex == 'short'",
            "valid-lifetime": 700, "min-valid-lifetime": 500, "max-valid-lifetime": 900
          },
          { "name": "fixed", "test": "option[77].hex == 'fixed'", "max-valid-lifetime": 800 },
          {
            "name": "required-long", "test": "member('ALL')", "only-if-required": true,
            "valid-lifetime": 5555
          }
        ],
        "shared-networks": [ {
          "name": "capped",
          "relay": { "ip-addresses": [ HINT_NETWORK_RELAY.to_string() ] },
          "valid-lifetime": 2500, "max-valid-lifetime": 3000,
          "subnet4": [ {
            "id": 31, "subnet": "10.30.0.0/24", "pools": [ { "pool": "10.30.0.10 - 10.30.0.50" } ]
          } ]
        } ],
        "subnet4": [
          {
            "id": 32, "subnet": "10.40.0.0/24", "pools": [ { "pool": "10.40.0.10 - 10.40.0.50" } ],
            "relay": { "ip-addresses": [ HINT_SUBNET_RELAY.to_string() ] },
            "valid-lifetime": 1200, "min-valid-lifetime": 600
          },
          {
            "id": 33, "subnet": "10.50.0.0/24", "pools": [ { "pool": "10.50.0.10 - 10.50.0.50" } ],
            "relay": { "ip-addresses": [ HINT_GLOBAL_RELAY.to_string() ] },
            "require-client-classes": [ "required-long" ]
          },
          harness_subnet()
        ],
        "loggers": kea_loggers()
      }
    })
}

/// On each scope, clients asking (option 51) for less than the minimum, for a lifetime
/// between the bounds, for more than the maximum, and for nothing; the first renews with
/// its hint. Then members of classes with lifetimes of their own (a required class's does
/// not count: Kea evaluates it after the lease is chosen).
fn lifetime_clients() -> Vec<Client> {
    let relays = [
        ("network default and max", HINT_NETWORK_RELAY, 0x40),
        ("subnet default and min", HINT_SUBNET_RELAY, 0x50),
        ("global bounds", HINT_GLOBAL_RELAY, 0x60),
    ];
    let hints: [(&str, Option<u32>); 4] = [
        ("asks 100 s", Some(100)),
        ("asks 2500 s", Some(2500)),
        ("asks 99999 s", Some(99_999)),
        ("asks nothing", None),
    ];
    let mut clients = Vec::new();
    for (scope, relay, base) in relays {
        for (index, (asks, hint)) in hints.iter().enumerate() {
            let mut client = client(&format!("{scope}, {asks}"), base + index as u8, relay);
            if let Some(hint) = hint {
                client.extra.push((51, hint.to_be_bytes().to_vec()));
            }
            if index == 0 {
                client.then.push(Then::Renew);
            }
            clients.push(client);
        }
    }
    let classes: [(&str, &[u8], Option<u32>); 4] = [
        ("class short, asks 99999 s", b"short", Some(99_999)),
        ("class short, asks nothing", b"short", None),
        ("class short, asks 100 s", b"short", Some(100)),
        (
            "class fixed by its maximum, asks 100 s",
            b"fixed",
            Some(100),
        ),
    ];
    for (index, (label, class, hint)) in (0x70..).zip(classes) {
        let mut client = client(label, index, HINT_GLOBAL_RELAY);
        client.extra.push((77, class.to_vec()));
        client
            .extra
            .extend(hint.map(|hint| (51, hint.to_be_bytes().to_vec())));
        clients.push(client);
    }
    clients
}

#[test]
fn lease_time_hints_are_bounded_as_kea_bounds_them() {
    let leases = compare(&Scenario {
        configuration: lifetime_configuration,
        clients: lifetime_clients,
        relays: &HINT_RELAYS,
    });
    // The lifetimes Kea chose, so that agreeing on them means something: hints held to each
    // scope's bounds, then the classes' own.
    let lifetime_of = |mac_last: u8| {
        let mac = format!("02:00:00:00:0a:{mac_last:02x}");
        let lease = leases.leases.values().find(|lease| lease.hwaddr == mac);
        lease.map(|lease| lease.valid_lifetime)
    };
    let chosen: Vec<Option<u64>> = [0x40, 0x42, 0x51, 0x60, 0x70, 0x71, 0x72, 0x73]
        .into_iter()
        .map(lifetime_of)
        .collect();
    let expected = [2000, 3000, 2500, 2000, 900, 700, 500, 800].map(Some);
    assert_eq!(chosen, expected);
}

/// Directly attached clients on the broadcast link: a subnet on the server's interface, with a
/// reservation that names its host.
fn direct_configuration(net: &TestNet) -> Value {
    json!({
      "Dhcp4": {
        "interfaces-config": { "interfaces": [ net.relay_server_if(), net.bcast_server_if() ] },
        "lease-database": {
          "type": "memfile", "persist": true, "lfc-interval": 0, "name": net.lease_file()
        },
        "valid-lifetime": 4000, "renew-timer": 1000, "rebind-timer": 2000,
        "option-data": [ { "name": "domain-name-servers", "data": "198.51.100.53" } ],
        "subnet4": [
          {
            "id": 1, "subnet": "198.51.100.0/24", "interface": net.bcast_server_if(),
            "pools": [ { "pool": "198.51.100.10 - 198.51.100.20" } ],
            "option-data": [ { "name": "routers", "data": "198.51.100.1" } ],
            "reservations": [
              { "hw-address": "02:00:00:00:0b:01", "ip-address": "198.51.100.250",
                "hostname": "kiosk" }
            ]
          },
          harness_subnet()
        ],
        "loggers": kea_loggers()
      }
    })
}

/// Direct clients asking for broadcast replies (their address is not configured yet, and these
/// test sockets cannot take a unicast to it); once bound they configure the address, so
/// renewals (broadcast, so REBINDING) and INFORMs are answered by unicast.
fn direct_clients() -> Vec<Client> {
    let direct = |label: &str, last: u8, then: Vec<Then>| Client {
        mac: [0x02, 0, 0, 0, 0x0b, last],
        flags: 0x8000,
        then,
        ..client(label, last, DIRECT)
    };
    let mut named = direct(
        "direct, sends a host name, declines",
        0x03,
        vec![Then::Decline],
    );
    named.extra.push((12, b"Camera".to_vec()));
    let mut with_id = direct("direct, client id, rebinds", 0x04, vec![Then::Renew]);
    with_id.extra.push((61, vec![1, 2, 0, 0, 0, 0x0b, 0x04]));
    vec![
        direct(
            "direct, renews and informs",
            0x02,
            vec![Then::Renew, Then::Inform],
        ),
        direct("direct, hw-address reservation", 0x01, Vec::new()),
        direct(
            "direct, INIT-REBOOT elsewhere",
            0x05,
            vec![Then::RebootElsewhere],
        ),
        named,
        with_id,
        direct("direct, releases", 0x06, vec![Then::Release]),
    ]
}

#[test]
fn direct_clients_replies_match_kea() {
    compare(&Scenario {
        configuration: direct_configuration,
        clients: direct_clients,
        relays: &[],
    });
}
