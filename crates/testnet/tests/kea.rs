//! The scenarios against ISC Kea's kea-dhcp4: the baseline leasehold must match, and a check
//! of the harness itself. Needs root, `ip netns`, kea-dhcp4, perfdhcp, dhclient, udhcpc and
//! nmap (Debian: kea-dhcp4-server kea-admin isc-dhcp-client udhcpc nmap).

use leasehold_testnet::{ServerKind, scenarios};

#[test]
fn perfdhcp_relay_leases() {
    scenarios::perfdhcp_relay_leases(&ServerKind::Kea);
}

#[test]
fn dhclient_gets_lease() {
    scenarios::dhclient_gets_lease(&ServerKind::Kea);
}

#[test]
fn udhcpc_gets_lease() {
    scenarios::udhcpc_gets_lease(&ServerKind::Kea);
}

#[test]
fn dhcpcd_gets_lease() {
    scenarios::dhcpcd_gets_lease(&ServerKind::Kea);
}

#[test]
fn nmap_sees_offer() {
    scenarios::nmap_sees_offer(&ServerKind::Kea);
}

#[test]
fn reserved_mac_on_bcast_link() {
    scenarios::reserved_mac_on_bcast_link(&ServerKind::Kea);
}

#[test]
fn reserved_mac_on_relay_subnet() {
    scenarios::reserved_mac_on_relay_subnet(&ServerKind::Kea);
}

#[test]
fn relay_client_lifecycle() {
    scenarios::relay_client_lifecycle(&ServerKind::Kea);
}

#[test]
fn acked_leases_survive_kill9() {
    scenarios::acked_leases_survive_kill9(&ServerKind::Kea);
}

#[test]
fn lease_file_handover() {
    scenarios::lease_file_handover(&ServerKind::Kea, &ServerKind::Kea);
}
