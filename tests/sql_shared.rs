//! Servers on a shared SQL lease database, end to end over network namespaces.
//!
//! Two leasehold servers in two networks share one database while perfdhcp and a relay client
//! load both: the database must hold every ACKed lease, for the client it was ACKed to, and
//! no client twice. And a private database server stopped for ten seconds under load: the
//! server keeps running, ACKs nothing it could not commit, and serves again soon after the
//! database returns. Needs root, `ip netns`, perfdhcp, psql/mysql, PostgreSQL 15 and MariaDB.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use leasehold_testnet::sqldb::{PrivateServer, ScratchDatabase, SqlKind};
use leasehold_testnet::{
    RELAY_AGENT_ADDR, RELAY_SERVER_ADDR, ServerKind, ServerProcess, TestNet, format_mac,
};

fn leasehold_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_leasehold"))
}

fn leasehold() -> ServerKind {
    ServerKind::Leasehold(PathBuf::from(env!("CARGO_BIN_EXE_leasehold")))
}

/// One server on its own network, its lease database `database`.
fn start(database: &ScratchDatabase, pool: &str) -> (TestNet, ServerProcess) {
    let net = TestNet::new().expect("test network");
    let mut config = net.lab_config();
    config["Dhcp4"]["lease-database"] = database.lease_database();
    config["Dhcp4"]["subnet4"][1]["pools"][0]["pool"] = pool.into();
    let server = net
        .start_server(&leasehold(), &config)
        .expect("server starts");
    (net, server)
}

/// perfdhcp in relay mode with its own hardware address range.
fn perfdhcp_load(net: &TestNet, base_mac: &str, rate: &str, seconds: &str) -> u64 {
    let (agent, server) = (RELAY_AGENT_ADDR.to_string(), RELAY_SERVER_ADDR.to_string());
    let base = format!("mac={base_mac}");
    let args = [
        "-4", "-r", rate, "-R", "5000", "-b", &base, "-p", seconds, "-l", &agent, &server,
    ];
    let report = net.run_perfdhcp(&args).expect("perfdhcp runs");
    report.acks()
}

/// Full exchanges for new clients `prefix:serial` until `stop` is set, recording every ACK
/// with the time it came.
fn lease_until(
    net: &TestNet,
    prefix: [u8; 3],
    stop: &AtomicBool,
    patient: bool,
) -> Vec<([u8; 6], Ipv4Addr, Instant)> {
    let mut recorded = Vec::new();
    let mut relay = net.relay().expect("relay client");
    if !patient {
        relay.set_timeout(Duration::from_millis(300));
        relay.set_attempts(1);
    }
    for serial in 0..=u16::MAX {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let [high, low] = serial.to_be_bytes();
        let mac = [prefix[0], prefix[1], prefix[2], 0, high, low];
        if let Ok(ack) = relay.dora(mac) {
            recorded.push((mac, ack.address, Instant::now()));
        }
    }
    recorded
}

/// Every ACKed address is in `lease4` for the client it went to, and no client holds two
/// assigned addresses.
fn check_acks(database: &ScratchDatabase, acked: &[([u8; 6], Ipv4Addr, Instant)]) {
    let rows = database.leases().expect("lease4 readable");
    let by_address: HashMap<Ipv4Addr, &str> = rows
        .iter()
        .map(|row| (row.address, row.hwaddr.as_str()))
        .collect();
    let mut held: HashMap<&str, Vec<Ipv4Addr>> = HashMap::new();
    for row in rows.iter().filter(|row| row.state == 0) {
        held.entry(&row.hwaddr).or_default().push(row.address);
    }
    let doubled: Vec<_> = held.iter().filter(|(_, list)| list.len() > 1).collect();
    assert!(
        doubled.is_empty(),
        "clients holding two addresses: {doubled:?}"
    );
    for (mac, address, _) in acked {
        let mac = format_mac(mac);
        let stored = by_address.get(address).copied();
        assert_eq!(
            stored,
            Some(mac.as_str()),
            "{address} was ACKed to {mac}, lease4 has {stored:?}"
        );
    }
    eprintln!(
        "lease4: {} rows, {} ACKs to relay clients checked",
        rows.len(),
        acked.len()
    );
}

fn two_servers_share_database(kind: SqlKind) {
    let host = ScratchDatabase::shared_host(kind);
    let database = ScratchDatabase::create(kind, &host, leasehold_binary()).expect("database");
    // A small pool (2,033 addresses), so the two servers contend for
    // addresses; the load (2 x 150/s for 6 s) leaves room for the relay
    // clients even on a loaded machine.
    let pool = "10.0.0.10 - 10.0.7.250";
    let (net_a, mut server_a) = start(&database, pool);
    let (net_b, mut server_b) = start(&database, pool);
    let stop = AtomicBool::new(false);
    let (acks, load) = thread::scope(|scope| {
        let load_a = scope.spawn(|| perfdhcp_load(&net_a, "02:aa:00:00:00:00", "150", "6"));
        let load_b = scope.spawn(|| perfdhcp_load(&net_b, "02:bb:00:00:00:00", "150", "6"));
        let relay_a = scope.spawn(|| lease_until(&net_a, [0x02, 0x4b, 0x41], &stop, true));
        let relay_b = scope.spawn(|| lease_until(&net_b, [0x02, 0x4b, 0x42], &stop, true));
        let load = load_a.join().expect("perfdhcp a") + load_b.join().expect("perfdhcp b");
        stop.store(true, Ordering::Relaxed);
        let mut acks = relay_a.join().expect("relay a");
        acks.extend(relay_b.join().expect("relay b"));
        (acks, load)
    });
    assert!(
        server_a.is_running() && server_b.is_running(),
        "a server exited"
    );
    eprintln!(
        "{kind:?}: perfdhcp got {load} ACKs, relay clients {}",
        acks.len()
    );
    assert!(acks.len() >= 20, "only {} relay-client ACKs", acks.len());
    check_acks(&database, &acks);
}

#[test]
fn two_servers_share_postgresql() {
    two_servers_share_database(SqlKind::Postgresql);
}

#[test]
fn two_servers_share_mariadb() {
    two_servers_share_database(SqlKind::Mysql);
}

/// How long the database is down.
const OUTAGE: Duration = Duration::from_secs(10);
/// How soon after the database returns the server must ACK again.
const RECOVERY: Duration = Duration::from_secs(5);

fn database_outage(kind: SqlKind) {
    let mut instance = PrivateServer::start(kind).expect("private database server");
    let database =
        ScratchDatabase::create(kind, &instance.host(), leasehold_binary()).expect("database");
    let (net, mut server) = start(&database, "10.0.0.10 - 10.0.255.250");
    let stop = AtomicBool::new(false);
    let (acks, back) = thread::scope(|scope| {
        let load = scope.spawn(|| perfdhcp_load(&net, "02:aa:00:00:00:00", "200", "18"));
        let relay = scope.spawn(|| lease_until(&net, [0x02, 0x4b, 0x43], &stop, false));
        thread::sleep(Duration::from_secs(3));
        instance.stop().expect("database stops");
        thread::sleep(OUTAGE);
        instance.resume().expect("database starts again");
        let back = Instant::now();
        thread::sleep(RECOVERY + Duration::from_secs(2));
        stop.store(true, Ordering::Relaxed);
        let acks = relay.join().expect("relay client");
        let load = load.join().expect("perfdhcp");
        eprintln!("{kind:?}: perfdhcp got {load} ACKs through the outage");
        (acks, back)
    });
    assert!(server.is_running(), "server exited:\n{}", server.log());
    let first_after = acks.iter().map(|ack| ack.2).find(|&at| at >= back);
    let Some(first_after) = first_after else {
        panic!("no ACK after the database returned:\n{}", server.log());
    };
    let recovery = first_after - back;
    eprintln!("{kind:?}: first ACK {recovery:?} after the database returned");
    assert!(
        recovery <= RECOVERY,
        "serving again only after {recovery:?}"
    );
    check_acks(&database, &acks);
}

#[test]
fn postgresql_outage_under_load() {
    database_outage(SqlKind::Postgresql);
}

#[test]
fn mariadb_outage_under_load() {
    database_outage(SqlKind::Mysql);
}
