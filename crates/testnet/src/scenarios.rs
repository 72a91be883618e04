//! Test bodies written once and run against any [`ServerKind`]: the crate's own tests run them
//! against Kea (the baseline), the root package's `tests/e2e.rs` against leasehold.
//!
//! Each scenario builds its own network, panics with the server's log when a check fails, and
//! cleans up on the way out.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::config::{self, RELAY_SUBNET_ID, RESERVED_ADDR, RESERVED_MAC};
use crate::{
    BCAST_SERVER_ADDR, ClientLease, LeaseFile, RELAY_AGENT_ADDR, RELAY_SERVER_ADDR, RequestOutcome,
    ServerKind, ServerProcess, TestNet,
};

/// The options every lab client should get on the broadcast link.
const LAB_DNS: [Ipv4Addr; 2] = [Ipv4Addr::new(192, 0, 2, 53), Ipv4Addr::new(192, 0, 2, 54)];
const LAB_DOMAIN: &str = "example.test";

/// A running server on a fresh network. Fields drop in order: the server before the network.
pub struct Lab {
    /// The server under test.
    pub server: ServerProcess,
    /// Its network.
    pub net: TestNet,
    /// What runs.
    pub kind: ServerKind,
    /// The configuration it was started with, as written.
    pub config: Value,
}

impl Lab {
    /// Builds a network, lets `edit` change the lab configuration, starts `kind` on it and
    /// waits until it serves.
    pub fn start(kind: &ServerKind, edit: impl FnOnce(&mut Value)) -> Self {
        let net =
            TestNet::new().unwrap_or_else(|error| panic!("cannot build test network: {error}"));
        let mut config = net.lab_config();
        edit(&mut config);
        let server = net
            .start_server(kind, &config)
            .unwrap_or_else(|error| panic!("{} did not start: {error}", kind.name()));
        Self {
            server,
            net,
            kind: kind.clone(),
            config,
        }
    }

    /// Starts the server again on the same configuration (after [`ServerProcess::kill9`], say).
    pub fn restart(&mut self) {
        let server = self.net.start_server(&self.kind, &self.config);
        self.server = server.unwrap_or_else(|error| panic!("restart failed: {error}"));
    }

    /// The lease file as it is now.
    pub fn leases(&self) -> LeaseFile {
        LeaseFile::read(&self.net.lease_file()).unwrap_or_else(|error| self.fail(error))
    }

    /// Panics with `problem` and the server's log.
    pub fn fail(&self, problem: impl std::fmt::Display) -> ! {
        panic!(
            "{problem}\n--- {} log ({}) ---\n{}",
            self.kind.name(),
            self.server.log_path().display(),
            self.server.log()
        )
    }

    /// Unwraps `result` or fails with the error and the server's log.
    pub fn check<T, E: std::fmt::Display>(&self, result: Result<T, E>) -> T {
        result.unwrap_or_else(|error| self.fail(error))
    }
}

/// perfdhcp in relay mode, 10 distinct clients, one four-way exchange each: the lease file
/// then holds exactly 10 leases of the relayed subnet.
pub fn perfdhcp_relay_leases(kind: &ServerKind) {
    let lab = Lab::start(kind, |_| {});
    let (agent, server) = (RELAY_AGENT_ADDR.to_string(), RELAY_SERVER_ADDR.to_string());
    let args = [
        "-4", "-r", "2", "-n", "10", "-R", "10", "-d", "2", "-W", "20000000", "-l", &agent, &server,
    ];
    let report = lab.check(lab.net.run_perfdhcp(&args));
    if report.acks() != 10 {
        lab.fail(format!(
            "perfdhcp got {} ACKs, expected 10:\n{}",
            report.acks(),
            report.output
        ));
    }
    let leases = lab.leases();
    let relayed = leases.in_subnet(RELAY_SUBNET_ID as u32);
    if leases.len() != 10 || relayed.len() != 10 {
        lab.fail(format!(
            "expected 10 relayed leases, lease file has {leases:#?}"
        ));
    }
    let in_pool = relayed
        .iter()
        .all(|lease| lease.address.octets()[..2] == [10, 0]);
    assert!(in_pool, "lease outside 10.0.0.0/16: {relayed:#?}");
}

/// Checks a lease a real client got on the broadcast link.
fn check_bcast_lease(lab: &Lab, client: &str, lease: &ClientLease, expected: Option<Ipv4Addr>) {
    let in_pool = (10..=200).contains(&lease.address.octets()[3])
        && lease.address.octets()[..3] == [198, 51, 100];
    let address_ok = expected.map_or(in_pool, |expected| lease.address == expected);
    let options_ok = lease.routers == [BCAST_SERVER_ADDR]
        && lease.dns_servers == LAB_DNS
        && lease.domain_name.as_deref() == Some(LAB_DOMAIN)
        && lease.server_id == Some(BCAST_SERVER_ADDR);
    if !address_ok || !options_ok {
        lab.fail(format!("{client} got an unexpected lease: {lease:#?}"));
    }
}

/// dhclient on the broadcast link gets a pool address with the lab's options.
pub fn dhclient_gets_lease(kind: &ServerKind) {
    let lab = Lab::start(kind, |_| {});
    let lease = lab.check(lab.net.dhclient(lab.net.bcast_client_if()));
    check_bcast_lease(&lab, "dhclient", &lease, None);
}

/// udhcpc on the broadcast link gets a pool address with the lab's options.
pub fn udhcpc_gets_lease(kind: &ServerKind) {
    let lab = Lab::start(kind, |_| {});
    let lease = lab.check(lab.net.udhcpc(lab.net.bcast_client_if()));
    check_bcast_lease(&lab, "udhcpc", &lease, None);
}

/// dhcpcd on the broadcast link gets a pool address with the lab's options.
pub fn dhcpcd_gets_lease(kind: &ServerKind) {
    let lab = Lab::start(kind, |_| {});
    let lease = lab.check(lab.net.dhcpcd(lab.net.bcast_client_if()));
    check_bcast_lease(&lab, "dhcpcd", &lease, None);
}

/// nmap's broadcast-dhcp-discover sees one OFFER of a pool address from 198.51.100.1.
pub fn nmap_sees_offer(kind: &ServerKind) {
    let lab = Lab::start(kind, |_| {});
    let output = lab.check(lab.net.nmap_dhcp_discover(lab.net.bcast_client_if()));
    let offers = crate::parse_nmap_offers(&output);
    let [offer] = offers.as_slice() else {
        lab.fail(format!("expected one offer in nmap output:\n{output}"));
    };
    let in_subnet = offer
        .address
        .is_some_and(|address| address.octets()[..3] == [198, 51, 100]);
    let from_server = offer.server_id == Some(BCAST_SERVER_ADDR);
    if !in_subnet || !from_server || offer.message_type.as_deref() != Some("DHCPOFFER") {
        lab.fail(format!(
            "unexpected offer {offer:#?} in nmap output:\n{output}"
        ));
    }
}

/// A client with the reserved hardware address of the lab (02:00:00:00:00:aa) gets
/// 198.51.100.250 on the broadcast link, with dhclient and then udhcpc.
pub fn reserved_mac_on_bcast_link(kind: &ServerKind) {
    let lab = Lab::start(kind, |_| {});
    lab.check(lab.net.set_bcast_client_mac(RESERVED_MAC));
    let lease = lab.check(lab.net.dhclient(lab.net.bcast_client_if()));
    check_bcast_lease(&lab, "dhclient", &lease, Some(RESERVED_ADDR));
    let lease = lab.check(lab.net.udhcpc(lab.net.bcast_client_if()));
    check_bcast_lease(&lab, "udhcpc", &lease, Some(RESERVED_ADDR));
    let leases = lab.leases();
    let recorded = leases.get(RESERVED_ADDR);
    if recorded.is_none_or(|lease| lease.hwaddr != crate::format_mac(&RESERVED_MAC)) {
        lab.fail(format!("reserved lease not in the lease file: {leases:#?}"));
    }
}

/// A reservation added to the relayed subnet: the relay client with that hardware address gets
/// the reserved address, a client without one gets a pool address, and both carry the
/// subnet's router and the global options.
pub fn reserved_mac_on_relay_subnet(kind: &ServerKind) {
    let mac = [0x02, 0, 0, 0, 0x01, 0xbb];
    let reserved = Ipv4Addr::new(10, 0, 1, 2);
    let lab = Lab::start(kind, |config| {
        config::add_reservation(config, RELAY_SUBNET_ID, mac, reserved);
    });
    let relay = lab.check(lab.net.relay());
    let ack = lab.check(relay.dora(mac));
    if ack.address != reserved {
        lab.fail(format!("reserved client got {ack:#?}, expected {reserved}"));
    }
    let other = lab.check(relay.dora([0x02, 0, 0, 0, 0x01, 0xbc]));
    let router = Ipv4Addr::new(10, 0, 0, 1);
    let options_ok = [&ack, &other].iter().all(|ack| {
        ack.routers == [router]
            && ack.dns_servers == LAB_DNS
            && ack.domain_name.as_deref() == Some(LAB_DOMAIN)
    });
    if other.address == reserved || !options_ok {
        lab.fail(format!("unexpected ACKs: {ack:#?} {other:#?}"));
    }
}

/// DORA, then INIT-REBOOT for the same address is ACKed, then RELEASE removes the lease from
/// the lease file.
pub fn relay_client_lifecycle(kind: &ServerKind) {
    let lab = Lab::start(kind, |_| {});
    let mac = [0x02, 0, 0, 0, 0x02, 0x01];
    let relay = lab.check(lab.net.relay());
    let ack = lab.check(relay.dora(mac));
    let leases = lab.leases();
    if leases.by_mac(mac).first().map(|lease| lease.address) != Some(ack.address) {
        lab.fail(format!("ACK {ack:#?} not in the lease file: {leases:#?}"));
    }
    match lab.check(relay.request_init_reboot(mac, ack.address)) {
        RequestOutcome::Ack(again) if again.address == ack.address => {}
        outcome => lab.fail(format!("INIT-REBOOT for {}: {outcome:?}", ack.address)),
    }
    let server = ack.server_id.unwrap_or(RELAY_SERVER_ADDR);
    lab.check(relay.release(mac, ack.address, server));
    let deadline = Instant::now() + Duration::from_secs(5);
    while lab.leases().get(ack.address).is_some() {
        if Instant::now() > deadline {
            lab.fail(format!("{} still leased after RELEASE", ack.address));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Under perfdhcp load, the relay client leases addresses for distinct MACs and records every
/// ACK; the server is killed with SIGKILL in the middle and started again. Every recorded ACK
/// must be in the lease file, and every client must get its address back.
pub fn acked_leases_survive_kill9(kind: &ServerKind) {
    acked_leases_survive_stop(kind, Stop::Kill9);
}

/// How a server is stopped under load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGKILL: nothing gets to run; only what was synced survives.
    Kill9,
    /// SIGTERM: a graceful stop, which must end with exit status 0.
    Terminate,
}

/// [`acked_leases_survive_kill9`] with SIGTERM: the server must also exit with status 0.
pub fn acked_leases_survive_sigterm(kind: &ServerKind) {
    acked_leases_survive_stop(kind, Stop::Terminate);
}

/// Under perfdhcp load, the relay client leases addresses until the server is stopped by
/// `stop`; after a restart every ACKed lease must be in the lease file and every client must
/// get its address back.
pub fn acked_leases_survive_stop(kind: &ServerKind, stop: Stop) {
    let mut lab = Lab::start(kind, |_| {});
    let (agent, server) = (RELAY_AGENT_ADDR.to_string(), RELAY_SERVER_ADDR.to_string());
    let load = [
        "-4", "-r", "500", "-R", "100000", "-p", "6", "-l", &agent, &server,
    ];
    let acked = AtomicUsize::new(0);
    let recorded = thread::scope(|scope| {
        let perfdhcp = scope.spawn(|| lab.net.run_perfdhcp(&load));
        thread::sleep(Duration::from_secs(1));
        let clients = scope.spawn(|| lease_until_failure(&lab.net, &acked));
        let deadline = Instant::now() + Duration::from_secs(20);
        while acked.load(Ordering::Relaxed) < 50 && !clients.is_finished() {
            if Instant::now() > deadline {
                break;
            }
            thread::sleep(Duration::from_millis(1));
        }
        let status = match stop {
            Stop::Kill9 => lab.server.kill9(),
            Stop::Terminate => lab.server.terminate(),
        };
        let status = lab.check(status);
        if stop == Stop::Terminate && !status.success() {
            lab.fail(format!("SIGTERM under load ended with {status}"));
        }
        let recorded = clients.join().expect("relay client thread panicked");
        let report = perfdhcp.join().expect("perfdhcp thread panicked");
        let report = lab.check(report);
        eprintln!(
            "load while killing: {} ACKs, rate {:?}",
            report.acks(),
            report.rate
        );
        recorded
    });
    eprintln!(
        "{} ACKs to the relay client before the kill",
        recorded.len()
    );
    if recorded.len() < 10 {
        lab.fail(format!("only {} ACKs before the kill", recorded.len()));
    }

    lab.restart();
    let leases = lab.leases();
    for (mac, address) in &recorded {
        let stored = leases.get(*address);
        if stored.is_none_or(|lease| lease.hwaddr != crate::format_mac(mac)) {
            let mac = crate::format_mac(mac);
            lab.fail(format!(
                "ACKed {address} to {mac} but the lease file has {stored:?}"
            ));
        }
    }
    let relay = lab.check(lab.net.relay());
    for (mac, address) in &recorded {
        let again = match lab.check(relay.request_init_reboot(*mac, *address)) {
            RequestOutcome::Ack(ack) => ack.address,
            RequestOutcome::Nak | RequestOutcome::NoReply => lab.check(relay.dora(*mac)).address,
        };
        if again != *address {
            let mac = crate::format_mac(mac);
            lab.fail(format!(
                "{mac} had {address} before the kill, got {again} after"
            ));
        }
    }
}

/// One server leases addresses to relayed clients and stops on SIGTERM (it must exit with
/// status 0); `second` starts on the same configuration and lease file and must give every
/// client the same address on an INIT-REBOOT REQUEST. With `first` leasehold and `second` Kea
/// (or the other way round) this checks the lease file formats agree.
pub fn lease_file_handover(first: &ServerKind, second: &ServerKind) {
    let mut lab = Lab::start(first, |_| {});
    let macs: Vec<[u8; 6]> = (0..20)
        .map(|serial| [0x02, 0x48, 0x4f, 0, 0, serial])
        .collect();
    let leased: Vec<([u8; 6], Ipv4Addr)> = {
        let relay = lab.check(lab.net.relay());
        macs.iter()
            .map(|mac| (*mac, lab.check(relay.dora(*mac)).address))
            .collect()
    };
    let stopped = lab.server.terminate();
    let status = lab.check(stopped);
    if !status.success() {
        lab.fail(format!("{} exited with {status} on SIGTERM", first.name()));
    }

    lab.kind = second.clone();
    lab.restart();
    let relay = lab.check(lab.net.relay());
    for (mac, address) in &leased {
        match lab.check(relay.request_init_reboot(*mac, *address)) {
            RequestOutcome::Ack(ack) if ack.address == *address => {}
            outcome => {
                let mac = crate::format_mac(mac);
                lab.fail(format!(
                    "{mac} leased {address} from {}, then got {outcome:?} from {}",
                    first.name(),
                    second.name()
                ));
            }
        }
    }
}

/// DORA for MACs 02:4b:39:00:00:00, ...:01, ... until the first failure (the kill); returns
/// every (MAC, address) that was ACKed, counting them in `acked` as it goes.
fn lease_until_failure(net: &TestNet, acked: &AtomicUsize) -> Vec<([u8; 6], Ipv4Addr)> {
    let mut recorded = Vec::new();
    for serial in 0..=u16::MAX {
        let [high, low] = serial.to_be_bytes();
        let mac = [0x02, 0x4b, 0x39, 0x00, high, low];
        let Ok(relay) = net.relay() else { break };
        let Ok(ack) = relay.dora(mac) else { break };
        recorded.push((mac, ack.address));
        acked.fetch_add(1, Ordering::Relaxed);
    }
    recorded
}
