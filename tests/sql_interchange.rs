//! Kea 2.2 and leasehold on one SQL database, both ways: the schema
//! `leasehold db init` creates is the one `kea-admin` and kea-dhcp4 accept
//! (Kea reads leasehold's lease and writes one leasehold reads), and
//! leasehold serves from a database `kea-admin db-init` created.
//!
//! Kea runs in a private network namespace (`unshare -n`) and is reached
//! through its control socket with the lease_cmds hook, so nothing here
//! touches the machine's network or other tests.

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use leasehold_leases::sql::{self, Backend, Params};
use leasehold_leases::{HwAddr, Lease, LeaseChange, LeaseState};
use leasehold_testnet::sqldb::{ScratchDatabase, SqlKind};

const LEASE_CMDS: &str = "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so";

/// A scratch database (dropped with the value) and the parameters to reach it.
struct Database {
    params: Params,
    _database: ScratchDatabase,
}

impl Database {
    fn create(backend: Backend) -> Self {
        let kind = match backend {
            Backend::Postgresql => SqlKind::Postgresql,
            Backend::Mysql => SqlKind::Mysql,
        };
        let host = ScratchDatabase::shared_host(kind);
        let database = ScratchDatabase::empty(kind, &host).expect("database created");
        let mut params = Params::new(backend, database.name().to_owned());
        params.host = Some(host.to_string_lossy().into_owned());
        params.user = Some(kind.user().into());
        Self {
            params,
            _database: database,
        }
    }

    fn kea_admin(&self, action: &str) -> String {
        let kind = match self.params.backend {
            Backend::Postgresql => "pgsql",
            Backend::Mysql => "mysql",
        };
        let user = self.params.user.as_deref().unwrap_or("root");
        let output = Command::new("kea-admin")
            .args([action, kind, "-n", &self.params.name, "-u", user])
            .output()
            .expect("kea-admin runs");
        assert!(output.status.success(), "kea-admin {action}: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn kea_config(&self, dir: &Path) -> String {
        let socket = dir.join("kea.sock");
        let kind = self.params.backend.name();
        // Kea's MySQL backend takes no socket path as host: "localhost" is
        // its default socket.
        let host = match self.params.backend {
            Backend::Postgresql => self.params.host.as_deref().unwrap_or("localhost"),
            Backend::Mysql => "localhost",
        };
        let database = serde_json::json!({
            "type": kind, "name": self.params.name, "user": self.params.user, "host": host,
        });
        serde_json::json!({ "Dhcp4": {
            "interfaces-config": { "interfaces": [] },
            "lease-database": database,
            "hosts-database": database,
            "control-socket": { "socket-type": "unix", "socket-name": socket },
            "hooks-libraries": [{ "library": LEASE_CMDS }],
            "subnet4": [{ "id": 1, "subnet": "10.0.0.0/24",
                          "pools": [{ "pool": "10.0.0.10 - 10.0.0.200" }] }],
        }})
        .to_string()
    }
}

/// kea-dhcp4 in its own network namespace, killed on drop.
struct Kea {
    child: Child,
    socket: std::path::PathBuf,
}

impl Kea {
    fn start(database: &Database, dir: &Path) -> Self {
        let config = dir.join("kea-dhcp4.json");
        std::fs::write(&config, database.kea_config(dir)).unwrap();
        let child = Command::new("unshare")
            .args(["-n", "kea-dhcp4", "-c"])
            .arg(&config)
            .env("KEA_PIDFILE_DIR", dir)
            .env("KEA_LOCKFILE_DIR", dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("kea-dhcp4 starts");
        let kea = Self {
            child,
            socket: dir.join("kea.sock"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while UnixStream::connect(&kea.socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "kea-dhcp4 did not open its control socket"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        kea
    }

    fn command(&self, command: serde_json::Value) -> serde_json::Value {
        let mut stream = UnixStream::connect(&self.socket).unwrap();
        stream.write_all(command.to_string().as_bytes()).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        serde_json::from_str(&answer).unwrap()
    }
}

impl Drop for Kea {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lease(address: Ipv4Addr, mac: u8) -> Lease {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    Lease {
        address,
        hwaddr: Some(HwAddr::new(&[2, 0, 0, 0, 0, mac]).unwrap()),
        client_id: None,
        valid_lifetime: 3600,
        expire: now + 3600,
        subnet_id: 1,
        fqdn_fwd: false,
        fqdn_rev: false,
        hostname: "client".into(),
        state: LeaseState::Assigned,
        user_context: None,
    }
}

fn leasehold_db(database: &Database, action: &str) -> String {
    let params = &database.params;
    let output = Command::new(env!("CARGO_BIN_EXE_leasehold"))
        .args([
            "db",
            action,
            "--type",
            params.backend.name(),
            "--name",
            &params.name,
        ])
        .args(["--host", params.host.as_deref().unwrap()])
        .args(["--user", params.user.as_deref().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "leasehold db {action}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn leasehold_schema_serves_kea(backend: Backend) {
    let database = Database::create(backend);
    leasehold_db(&database, "init");
    let expected = backend.schema_version().to_string();
    assert_eq!(database.kea_admin("db-version").trim(), expected);
    assert_eq!(leasehold_db(&database, "version").trim(), expected);
    assert!(leasehold_db(&database, "upgrade").contains("is current"));

    // A client's lease written by leasehold is the one Kea sees.
    let ours = lease(Ipv4Addr::new(10, 0, 0, 10), 0x10);
    let mut store = sql::open(&database.params).unwrap();
    store.commit(&[LeaseChange::Upsert(ours.clone())]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kea = Kea::start(&database, dir.path());
    let answer = kea.command(serde_json::json!({
        "command": "lease4-get", "arguments": { "ip-address": "10.0.0.10" } }));
    assert_eq!(answer["result"], 0, "{answer}");
    assert_eq!(
        answer["arguments"]["hw-address"], "02:00:00:00:00:10",
        "{answer}"
    );
    assert_eq!(answer["arguments"]["valid-lft"], 3600, "{answer}");

    // And a lease Kea writes is one leasehold reads.
    let answer = kea.command(serde_json::json!({
        "command": "lease4-add", "arguments": {
            "ip-address": "10.0.0.20", "hw-address": "02:00:00:00:00:20", "subnet-id": 1 } }));
    assert_eq!(answer["result"], 0, "{answer}");
    drop(kea);
    let loaded = store.load().unwrap();
    let theirs = loaded
        .iter()
        .find(|lease| lease.address == Ipv4Addr::new(10, 0, 0, 20))
        .expect("Kea's lease is loaded");
    assert_eq!(theirs.hwaddr, HwAddr::new(&[2, 0, 0, 0, 0, 0x20]));
    assert!(loaded.contains(&ours));
}

fn kea_schema_serves_leasehold(backend: Backend) {
    let database = Database::create(backend);
    database.kea_admin("db-init");
    assert_eq!(
        leasehold_db(&database, "version").trim(),
        backend.schema_version().to_string()
    );
    let mut store = sql::open(&database.params).unwrap();
    let ours = lease(Ipv4Addr::new(10, 0, 0, 11), 0x11);
    store.commit(&[LeaseChange::Upsert(ours.clone())]).unwrap();
    assert_eq!(store.load().unwrap(), vec![ours]);
}

#[test]
fn postgresql_leasehold_schema_serves_kea() {
    leasehold_schema_serves_kea(Backend::Postgresql);
}

#[test]
fn mysql_leasehold_schema_serves_kea() {
    leasehold_schema_serves_kea(Backend::Mysql);
}

#[test]
fn postgresql_kea_schema_serves_leasehold() {
    kea_schema_serves_leasehold(Backend::Postgresql);
}

#[test]
fn mysql_kea_schema_serves_leasehold() {
    kea_schema_serves_leasehold(Backend::Mysql);
}
