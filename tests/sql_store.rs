//! One lease-store test suite, run on memfile, PostgreSQL and MySQL.
//!
//! The SQL variants create a private database (`lh_<pid>_<n>`) on the
//! machine's PostgreSQL (/var/run/postgresql) and MariaDB
//! (/run/mysqld/mysqld.sock), build Kea's schema with `leasehold db`'s
//! code, and drop the database afterwards, so they run in parallel.

use std::net::Ipv4Addr;
use std::process::Command;

use leasehold_leases::memfile::MemfileStore;
use leasehold_leases::sql::{self, Backend, Params};
use leasehold_leases::{ClientId, HwAddr, Lease, LeaseChange, LeaseState, LeaseStore};
use leasehold_testnet::sqldb::{self, SqlKind};

/// A scratch database with Kea's schema, dropped with the guard.
struct ScratchDatabase {
    params: Params,
    _database: sqldb::ScratchDatabase,
}

impl ScratchDatabase {
    fn new(backend: Backend) -> Self {
        let kind = match backend {
            Backend::Postgresql => SqlKind::Postgresql,
            Backend::Mysql => SqlKind::Mysql,
        };
        let host = sqldb::ScratchDatabase::shared_host(kind);
        let database = sqldb::ScratchDatabase::empty(kind, &host).expect("database created");
        let mut params = Params::new(backend, database.name().to_owned());
        params.host = Some(host.to_string_lossy().into_owned());
        params.user = Some(kind.user().into());
        sql::init(&params).expect("schema created");
        Self {
            params,
            _database: database,
        }
    }

    fn open(&self) -> Box<dyn LeaseStore> {
        sql::open(&self.params).expect("store opens")
    }
}

fn lease(last: u8, mac: u8, expire: u64) -> Lease {
    Lease {
        address: Ipv4Addr::new(10, 0, 0, last),
        hwaddr: Some(HwAddr::new(&[2, 0, 0, 0, 0, mac]).unwrap()),
        client_id: None,
        valid_lifetime: 3600,
        expire,
        subnet_id: 1,
        fqdn_fwd: false,
        fqdn_rev: false,
        hostname: String::new(),
        state: LeaseState::Assigned,
        user_context: None,
    }
}

fn sorted(mut leases: Vec<Lease>) -> Vec<Lease> {
    leases.sort_by_key(|lease| lease.address);
    leases
}

/// A backend under test: opens a fresh store, and the same store again.
trait Backing {
    fn open(&self) -> Box<dyn LeaseStore>;
    /// Whether two stores may share it (a database, not a lease file).
    fn is_shared(&self) -> bool;
}

struct Memfile(tempfile::TempDir);

impl Backing for Memfile {
    fn open(&self) -> Box<dyn LeaseStore> {
        Box::new(MemfileStore::open(self.0.path().join("leases4.csv"), true).unwrap())
    }
    fn is_shared(&self) -> bool {
        false
    }
}

impl Backing for ScratchDatabase {
    fn open(&self) -> Box<dyn LeaseStore> {
        Self::open(self)
    }
    fn is_shared(&self) -> bool {
        true
    }
}

fn leases_round_trip(backing: &dyn Backing) {
    let mut store = backing.open();
    assert!(store.load().unwrap().is_empty());
    let mut full = lease(11, 2, 1_900_000_000);
    full.client_id = Some(ClientId::new(&[1, 2, 0, 0, 0, 0, 2]));
    full.hostname = "host-b".into();
    full.fqdn_fwd = true;
    full.user_context = Some(r#"{"a":1}"#.into());
    let declined = Lease {
        hwaddr: None,
        state: LeaseState::Declined,
        ..lease(12, 3, 1_900_000_000)
    };
    let changes = vec![
        LeaseChange::Upsert(lease(10, 1, 1_900_000_000)),
        LeaseChange::Upsert(full.clone()),
        LeaseChange::Upsert(declined.clone()),
    ];
    store.commit(&changes).unwrap();
    store.commit(&[]).unwrap();
    let expected = vec![lease(10, 1, 1_900_000_000), full, declined];
    assert_eq!(sorted(store.load().unwrap()), expected);
    drop(store);
    assert_eq!(sorted(backing.open().load().unwrap()), expected);
}

fn renew_release_and_reclaim(backing: &dyn Backing) {
    let mut store = backing.open();
    store
        .commit(&[LeaseChange::Upsert(lease(10, 1, 1_900_000_000))])
        .unwrap();
    let renewed = lease(10, 1, 1_900_003_600);
    let reclaimed = Lease {
        state: LeaseState::ExpiredReclaimed,
        ..lease(11, 2, 1_000)
    };
    store
        .commit(&[
            LeaseChange::Upsert(renewed.clone()),
            LeaseChange::Upsert(lease(11, 2, 1_000)),
            LeaseChange::Upsert(reclaimed.clone()),
            LeaseChange::Upsert(lease(12, 3, 1_900_000_000)),
            LeaseChange::Delete(lease(12, 3, 1_900_000_000)),
        ])
        .unwrap();
    assert_eq!(
        sorted(backing.open().load().unwrap()),
        vec![renewed, reclaimed]
    );
}

fn a_held_address_is_lost_by_another_client(backing: &dyn Backing) {
    if !backing.is_shared() {
        return;
    }
    let (mut first, mut second) = (backing.open(), backing.open());
    let now = 1_900_000_000 - 3600;
    let mine = lease(10, 1, now + 3600);
    assert!(
        first
            .commit_contested(&[LeaseChange::Upsert(mine.clone())])
            .unwrap()
            .is_empty()
    );
    let theirs = [
        LeaseChange::Upsert(lease(9, 9, now + 3600)),
        LeaseChange::Upsert(lease(10, 2, now + 3600)),
    ];
    let lost = second.commit_contested(&theirs).unwrap();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!((lost[0].index, &lost[0].holder), (1, &mine));
    // A release by the wrong client leaves the lease alone.
    second
        .commit(&[LeaseChange::Delete(lease(10, 2, now + 3600))])
        .unwrap();
    assert_eq!(
        sorted(first.load().unwrap()),
        vec![lease(9, 9, now + 3600), mine]
    );
    // Once expired, the address may go to someone else.
    let later = lease(10, 2, now + 3600 * 3);
    assert!(
        second
            .commit_contested(&[LeaseChange::Upsert(later.clone())])
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        sorted(first.load().unwrap()),
        vec![lease(9, 9, now + 3600), later]
    );
}

fn suite(make: &dyn Fn() -> Box<dyn Backing>) {
    leases_round_trip(make().as_ref());
    renew_release_and_reclaim(make().as_ref());
    a_held_address_is_lost_by_another_client(make().as_ref());
}

#[test]
fn memfile_store_suite() {
    suite(&|| Box::new(Memfile(tempfile::tempdir().unwrap())));
}

#[test]
fn postgresql_store_suite() {
    suite(&|| Box::new(ScratchDatabase::new(Backend::Postgresql)));
}

#[test]
fn mysql_store_suite() {
    suite(&|| Box::new(ScratchDatabase::new(Backend::Mysql)));
}

/// `lease4_stat` follows the leases, through leasehold's triggers.
#[test]
fn lease_counts_follow_the_leases() {
    for backend in [Backend::Postgresql, Backend::Mysql] {
        let database = ScratchDatabase::new(backend);
        let mut store = database.open();
        store
            .commit(&[
                LeaseChange::Upsert(lease(10, 1, 1_900_000_000)),
                LeaseChange::Upsert(lease(11, 2, 1_900_000_000)),
                LeaseChange::Delete(lease(11, 2, 1_900_000_000)),
                LeaseChange::Upsert(lease(12, 3, 1_900_000_000)),
            ])
            .unwrap();
        let query = "SELECT leases FROM lease4_stat WHERE subnet_id = 1 AND state = 0";
        let output = match backend {
            Backend::Postgresql => Command::new("psql")
                .args(["-tA", "-U", "postgres", "-h", "/var/run/postgresql", "-d"])
                .arg(&database.params.name)
                .args(["-c", query])
                .output(),
            Backend::Mysql => Command::new("mysql")
                .args(["-uroot", "-N", "-D"])
                .arg(&database.params.name)
                .args(["-e", query])
                .output(),
        }
        .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            "2",
            "{backend}"
        );
    }
}
