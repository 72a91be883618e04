//! End-to-end tests of `leasehold serve` over network namespaces with real clients, the same
//! scenarios `crates/testnet/tests/kea.rs` runs against ISC Kea. Needs root, `ip netns`,
//! perfdhcp, dhclient, udhcpc and nmap; the hand-over tests also need kea-dhcp4.

use std::path::PathBuf;

use leasehold_testnet::{ServerKind, scenarios};

fn leasehold() -> ServerKind {
    ServerKind::Leasehold(PathBuf::from(env!("CARGO_BIN_EXE_leasehold")))
}

#[test]
fn perfdhcp_relay_leases() {
    scenarios::perfdhcp_relay_leases(&leasehold());
}

#[test]
fn dhclient_gets_lease() {
    scenarios::dhclient_gets_lease(&leasehold());
}

#[test]
fn udhcpc_gets_lease() {
    scenarios::udhcpc_gets_lease(&leasehold());
}

#[test]
fn dhcpcd_gets_lease() {
    scenarios::dhcpcd_gets_lease(&leasehold());
}

#[test]
fn nmap_sees_offer() {
    scenarios::nmap_sees_offer(&leasehold());
}

#[test]
fn reserved_mac_on_bcast_link() {
    scenarios::reserved_mac_on_bcast_link(&leasehold());
}

#[test]
fn reserved_mac_on_relay_subnet() {
    scenarios::reserved_mac_on_relay_subnet(&leasehold());
}

#[test]
fn relay_client_lifecycle() {
    scenarios::relay_client_lifecycle(&leasehold());
}

#[test]
fn acked_leases_survive_kill9() {
    scenarios::acked_leases_survive_kill9(&leasehold());
}

#[test]
fn acked_leases_survive_sigterm() {
    scenarios::acked_leases_survive_sigterm(&leasehold());
}

#[test]
fn leasehold_restarts_on_its_own_lease_file() {
    scenarios::lease_file_handover(&leasehold(), &leasehold());
}

#[test]
fn kea_takes_over_leasehold_lease_file() {
    scenarios::lease_file_handover(&leasehold(), &ServerKind::Kea);
}

#[test]
fn leasehold_takes_over_kea_lease_file() {
    scenarios::lease_file_handover(&ServerKind::Kea, &leasehold());
}
