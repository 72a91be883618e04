//! Switching between Kea 2.2 and leasehold on one lease database, at the
//! DHCP level: clients leased by one server keep their addresses when the
//! other takes over, in both directions, on PostgreSQL and on MariaDB.
//! The database is made by `leasehold db init`, so Kea serving from it also
//! shows that Kea accepts leasehold's schema. Needs root, kea-dhcp4 and the
//! machine's PostgreSQL and MariaDB.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use leasehold_testnet::sqldb::{ScratchDatabase, SqlKind};
use leasehold_testnet::{RequestOutcome, ServerKind, TestNet};
use serde_json::Value;

fn leasehold_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_leasehold"))
}

/// The lab configuration on `database`. Kea's MySQL backend takes no
/// socket path as host; "localhost" reaches the same server through its
/// default socket.
fn config(net: &TestNet, database: &ScratchDatabase, kind: SqlKind, for_kea: bool) -> Value {
    let mut config = net.lab_config();
    let mut lease_database = database.lease_database();
    if for_kea && kind == SqlKind::Mysql {
        lease_database["host"] = "localhost".into();
    }
    config["Dhcp4"]["lease-database"] = lease_database;
    config
}

/// Leases an address to each of `macs` through `first`, stops it, starts
/// `second` on the same database and checks that each client's INIT-REBOOT
/// is ACKed with its address.
fn hand_over(
    kind: SqlKind,
    database: &ScratchDatabase,
    first: &ServerKind,
    second: &ServerKind,
    macs: &[[u8; 6]],
) {
    let net = TestNet::new().expect("test network");
    let is_kea = |server: &ServerKind| matches!(server, ServerKind::Kea);
    let config_first = config(&net, database, kind, is_kea(first));
    let mut server = net
        .start_server(first, &config_first)
        .expect("first server starts");
    let leased: Vec<([u8; 6], Ipv4Addr)> = {
        let relay = net.relay().expect("relay client");
        let leased = macs
            .iter()
            .map(|mac| (*mac, relay.dora(*mac).expect("DORA").address));
        leased.collect()
    };
    let status = server.terminate().expect("first server stops");
    assert!(status.success(), "first server ended with {status}");

    let config_second = config(&net, database, kind, is_kea(second));
    let server = net
        .start_server(second, &config_second)
        .expect("second server starts");
    let relay = net.relay().expect("relay client");
    for (mac, address) in &leased {
        match relay
            .request_init_reboot(*mac, *address)
            .expect("INIT-REBOOT")
        {
            RequestOutcome::Ack(ack) => assert_eq!(ack.address, *address),
            other => panic!(
                "{address} leased by {first:?} was not honoured by {second:?}: {other:?}\n{}",
                server.log()
            ),
        }
    }
}

fn switch_both_ways(kind: SqlKind) {
    let host = ScratchDatabase::shared_host(kind);
    let database = ScratchDatabase::create(kind, &host, leasehold_binary()).expect("database");
    let leasehold = ServerKind::Leasehold(PathBuf::from(env!("CARGO_BIN_EXE_leasehold")));
    let first_clients: Vec<[u8; 6]> = (1..=5).map(|n| [2, 0x5a, 0, 0, 1, n]).collect();
    hand_over(
        kind,
        &database,
        &leasehold,
        &ServerKind::Kea,
        &first_clients,
    );
    let second_clients: Vec<[u8; 6]> = (1..=5).map(|n| [2, 0x5a, 0, 0, 2, n]).collect();
    hand_over(
        kind,
        &database,
        &ServerKind::Kea,
        &leasehold,
        &second_clients,
    );
}

#[test]
fn leasehold_and_kea_take_over_from_each_other_on_postgresql() {
    switch_both_ways(SqlKind::Postgresql);
}

#[test]
fn leasehold_and_kea_take_over_from_each_other_on_mariadb() {
    switch_both_ways(SqlKind::Mysql);
}
