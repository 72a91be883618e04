//! Leases in ISC Kea's SQL schema, on PostgreSQL or MySQL/MariaDB.
//!
//! The tables are Kea 2.2's (`lease4`, `lease4_stat`, `hosts`, ...), created
//! by [`init`] from leasehold's own DDL ([`schema`]), so Kea and leasehold can
//! take turns on one database, and several servers can share it.
//!
//! Sharing is safe because the database decides who gets an address: the
//! address is `lease4`'s primary key, and every write is conditional. A new
//! lease replaces a row only if that row is expired, not assigned, or the
//! same client's (Kea's client-id, else hardware address, rule). A change
//! that finds the address held by another client is not written and is
//! reported back as [`Lost`](crate::Lost), with the row that holds it, so the
//! server withholds that ACK and stops offering the address.
//!
//! Each store keeps one connection with its statements prepared once. A
//! commit is one transaction with one multi-row statement per kind of change.
//! When the connection fails, commits fail (so no ACK leaves) and the store
//! reconnects no more often than every `reconnect-wait-time`. No statement
//! waits longer than [`STATEMENT_TIMEOUT`] (MySQL: socket read and write
//! timeouts; PostgreSQL: `statement_timeout`, `lock_timeout` and, over TCP,
//! `tcp_user_timeout`).

mod mysql;
mod postgres;

/// leasehold's DDL for Kea 2.2's schema, one script per backend.
pub mod schema {
    /// PostgreSQL, schema version 13.0.
    pub const POSTGRESQL: &str = include_str!("schema/pgsql.sql");
    /// MySQL/MariaDB, schema version 14.0.
    pub const MYSQL: &str = include_str!("schema/mysql.sql");
}

use std::fmt;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::{ClientId, HwAddr, Lease, LeaseState, LeaseStore, StoreError};

/// The longest a statement may run, or the server take to answer, before the connection is
/// given up: a database that stopped answering must not hold the committer (and every ACK)
/// forever. Far above what a commit of the largest batch takes.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which SQL server holds the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// PostgreSQL (Kea's `postgresql`).
    Postgresql,
    /// MySQL or MariaDB (Kea's `mysql`).
    Mysql,
}

impl Backend {
    /// Kea's name for the backend, as in `lease-database.type`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgresql => "postgresql",
            Self::Mysql => "mysql",
        }
    }

    /// The schema version Kea 2.2 expects, and [`init`] creates.
    pub fn schema_version(self) -> SchemaVersion {
        match self {
            Self::Postgresql => SchemaVersion {
                major: 13,
                minor: 0,
            },
            Self::Mysql => SchemaVersion {
                major: 14,
                minor: 0,
            },
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `schema_version` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SchemaVersion {
    /// `version`.
    pub major: u32,
    /// `minor`.
    pub minor: u32,
}

impl fmt::Display for SchemaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// How to reach a database: Kea's `lease-database` / `hosts-database`
/// parameters.
#[derive(Clone, PartialEq, Eq)]
pub struct Params {
    /// The server kind.
    pub backend: Backend,
    /// `name`: the database.
    pub name: String,
    /// `host`: a host name, an address, or a unix socket path (starting with
    /// `/`); `None` is the local default socket.
    pub host: Option<String>,
    /// `port`; `None` is the backend's default.
    pub port: Option<u16>,
    /// `user`.
    pub user: Option<String>,
    /// `password`. Never logged.
    pub password: Option<String>,
    /// `connect-timeout`.
    pub connect_timeout: Duration,
    /// `max-reconnect-tries`: attempts at startup (with `retry-on-startup`)
    /// before giving up; 0 means one attempt.
    pub max_reconnect_tries: u32,
    /// `reconnect-wait-time`: the least time between two connection attempts.
    pub reconnect_wait_time: Duration,
    /// `retry-on-startup`: keep trying when the database is down at start.
    pub retry_on_startup: bool,
}

impl Params {
    /// Parameters with Kea's defaults for everything but the backend and
    /// database name.
    pub fn new(backend: Backend, name: impl Into<String>) -> Self {
        Self {
            backend,
            name: name.into(),
            host: None,
            port: None,
            user: None,
            password: None,
            connect_timeout: Duration::from_secs(5),
            max_reconnect_tries: 0,
            reconnect_wait_time: Duration::from_secs(1),
            retry_on_startup: false,
        }
    }
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Params")
            .field("backend", &self.backend)
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Params {
    /// Where the database is, for logs: never the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = self.host.as_deref().unwrap_or("localhost");
        write!(f, "{} database '{}' on {host}", self.backend, self.name)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// What a schema command did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaOutcome {
    /// The schema was created at this version.
    Created(SchemaVersion),
    /// The schema is at this version already; nothing was done.
    Current(SchemaVersion),
}

/// Creates Kea 2.2's lease and host schema in an empty database.
pub fn init(params: &Params) -> Result<SchemaOutcome, StoreError> {
    if let Some(version) = version(params)? {
        return Err(StoreError::Schema(format!(
            "{params} already holds a schema (version {version}); use upgrade"
        )));
    }
    match params.backend {
        Backend::Postgresql => postgres::run_script(params, schema::POSTGRESQL)?,
        Backend::Mysql => mysql::run_script(params, schema::MYSQL)?,
    }
    info!(database = %params, version = %params.backend.schema_version(), "schema created");
    Ok(SchemaOutcome::Created(params.backend.schema_version()))
}

/// Brings the schema to Kea 2.2's version: creates it when the database is
/// empty, leaves it when current. Older Kea schemas are refused with a hint
/// to run `kea-admin db-upgrade`, whose upgrade steps leasehold does not
/// repeat.
pub fn upgrade(params: &Params) -> Result<SchemaOutcome, StoreError> {
    let target = params.backend.schema_version();
    match version(params)? {
        None => init(params),
        Some(found) if found == target => Ok(SchemaOutcome::Current(found)),
        Some(found) if found > target => Err(StoreError::Schema(format!(
            "{params} has schema {found}, newer than Kea 2.2's {target}"
        ))),
        Some(found) => Err(StoreError::Schema(format!(
            "{params} has schema {found}; upgrade it to {target} with \
             `kea-admin db-upgrade {}` (Kea 2.2)",
            match params.backend {
                Backend::Postgresql => "pgsql",
                Backend::Mysql => "mysql",
            }
        ))),
    }
}

/// The schema version the database holds, or `None` when it has no
/// `schema_version` table.
pub fn version(params: &Params) -> Result<Option<SchemaVersion>, StoreError> {
    match params.backend {
        Backend::Postgresql => postgres::schema_version(params),
        Backend::Mysql => mysql::schema_version(params),
    }
}

/// Opens a lease store on the database, checking its schema version.
/// With `retry-on-startup`, a database that is down is retried
/// `max-reconnect-tries` times, `reconnect-wait-time` apart.
pub fn open(params: &Params) -> Result<Box<dyn LeaseStore>, StoreError> {
    let mut attempt = 0;
    loop {
        let opened: Result<Box<dyn LeaseStore>, StoreError> = match params.backend {
            Backend::Postgresql => postgres::PostgresStore::open(params).map(|s| Box::new(s) as _),
            Backend::Mysql => mysql::MysqlStore::open(params).map(|s| Box::new(s) as _),
        };
        match opened {
            Err(StoreError::Unavailable { .. })
                if params.retry_on_startup && attempt < params.max_reconnect_tries =>
            {
                attempt += 1;
                warn!(database = %params, attempt, "database not reachable at startup; retrying");
                std::thread::sleep(params.reconnect_wait_time);
            }
            other => return other,
        }
    }
}

/// A host reservation row of Kea's `hosts` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRow {
    /// `dhcp4_subnet_id`.
    pub subnet_id: u32,
    /// What `identifier` is.
    pub identifier_type: IdentifierType,
    /// `dhcp_identifier`.
    pub identifier: Vec<u8>,
    /// `ipv4_address`, when one is reserved.
    pub address: Option<Ipv4Addr>,
    /// `hostname`, when set.
    pub hostname: Option<String>,
}

/// Kea's `host_identifier_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentifierType {
    /// 0: `hw-address`.
    HwAddress,
    /// 1: `duid`.
    Duid,
    /// 2: `circuit-id`.
    CircuitId,
    /// 3: `client-id`.
    ClientId,
    /// 4: `flex-id`.
    FlexId,
}

impl IdentifierType {
    fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => Self::HwAddress,
            1 => Self::Duid,
            2 => Self::CircuitId,
            3 => Self::ClientId,
            4 => Self::FlexId,
            _ => return None,
        })
    }
}

/// Reads every DHCPv4 host reservation bound to a subnet (global
/// reservations, subnet id 0, are left out).
pub fn load_hosts(params: &Params) -> Result<Vec<HostRow>, StoreError> {
    match params.backend {
        Backend::Postgresql => postgres::load_hosts(params),
        Backend::Mysql => mysql::load_hosts(params),
    }
}

/// One `lease4` row in the database's column types.
#[derive(Debug, Clone)]
struct Row {
    address: u32,
    hwaddr: Option<Vec<u8>>,
    client_id: Option<Vec<u8>>,
    valid_lifetime: u32,
    expire: i64,
    subnet_id: u32,
    fqdn_fwd: bool,
    fqdn_rev: bool,
    hostname: Option<String>,
    state: u32,
    user_context: Option<String>,
}

impl Row {
    fn from_lease(lease: &Lease) -> Self {
        Self {
            address: u32::from(lease.address),
            hwaddr: lease.hwaddr.map(|hwaddr| hwaddr.as_bytes().to_vec()),
            client_id: lease.client_id.as_ref().map(|id| id.as_bytes().to_vec()),
            valid_lifetime: lease.valid_lifetime,
            expire: i64::try_from(lease.expire).unwrap_or(i64::MAX),
            subnet_id: lease.subnet_id,
            fqdn_fwd: lease.fqdn_fwd,
            fqdn_rev: lease.fqdn_rev,
            hostname: Some(lease.hostname.clone()),
            state: u32::from(lease.state.code()),
            user_context: lease.user_context.clone(),
        }
    }

    /// The lease, or why the row is not one leasehold can hold.
    fn into_lease(self) -> Result<Lease, String> {
        let hwaddr = match self.hwaddr.as_deref() {
            None | Some([]) => None,
            Some(bytes) => Some(HwAddr::new(bytes).ok_or("hwaddr longer than 16 bytes")?),
        };
        let state = u8::try_from(self.state)
            .ok()
            .and_then(LeaseState::from_code)
            .ok_or_else(|| format!("unknown state {}", self.state))?;
        Ok(Lease {
            address: Ipv4Addr::from(self.address),
            hwaddr,
            client_id: self
                .client_id
                .filter(|id| !id.is_empty())
                .map(|id| ClientId::new(&id)),
            valid_lifetime: self.valid_lifetime,
            expire: u64::try_from(self.expire).unwrap_or(0),
            subnet_id: self.subnet_id,
            fqdn_fwd: self.fqdn_fwd,
            fqdn_rev: self.fqdn_rev,
            hostname: self.hostname.unwrap_or_default(),
            state,
            user_context: self.user_context.filter(|context| !context.is_empty()),
        })
    }

    /// True when the stored row is the lease this server wrote.
    fn is_written(&self, intended: &Self) -> bool {
        self.hwaddr.as_deref().unwrap_or_default() == intended.hwaddr.as_deref().unwrap_or_default()
            && self.client_id.as_deref().unwrap_or_default()
                == intended.client_id.as_deref().unwrap_or_default()
            && self.expire == intended.expire
            && self.state == intended.state
    }
}

/// Turns rows into leases, skipping (and counting in a warning) the rows
/// leasehold cannot represent.
fn rows_into_leases(rows: Vec<Row>, params: &Params) -> Vec<Lease> {
    let mut skipped = 0usize;
    let leases = rows
        .into_iter()
        .filter_map(|row| {
            let address = Ipv4Addr::from(row.address);
            row.into_lease()
                .map_err(|reason| {
                    skipped += 1;
                    tracing::debug!(%address, reason, "lease4 row skipped");
                })
                .ok()
        })
        .collect();
    if skipped > 0 {
        warn!(database = %params, skipped, "lease4 rows that are not valid leases were skipped");
    }
    leases
}

/// Splits `changes` into rounds in which no address appears twice, keeping
/// their order, since one statement cannot write a row twice. Returns the
/// indexes of each round's changes.
fn rounds(changes: &[crate::LeaseChange]) -> Vec<Vec<usize>> {
    let mut rounds: Vec<(std::collections::HashSet<Ipv4Addr>, Vec<usize>)> = Vec::new();
    let mut last_round = std::collections::HashMap::new();
    for (index, change) in changes.iter().enumerate() {
        let address = change.lease().address;
        let round = last_round.get(&address).map_or(0, |&round| round + 1);
        if rounds.len() <= round {
            rounds.push(Default::default());
        }
        rounds[round].0.insert(address);
        rounds[round].1.push(index);
        last_round.insert(address, round);
    }
    rounds.into_iter().map(|(_, indexes)| indexes).collect()
}

/// The connection state shared by both backends: when to try again after a
/// failure, and logging that an operator can act on.
struct Reconnect {
    wait: Duration,
    next_attempt: Option<Instant>,
    down_since: Option<Instant>,
}

impl Reconnect {
    fn new(params: &Params) -> Self {
        Self {
            wait: params.reconnect_wait_time,
            next_attempt: None,
            down_since: None,
        }
    }

    /// True when a connection attempt is due now.
    fn is_due(&self) -> bool {
        self.next_attempt.is_none_or(|at| Instant::now() >= at)
    }

    fn lost(&mut self, params: &Params, error: &StoreError) {
        if self.down_since.is_none() {
            warn!(
                database = %params,
                %error,
                retry_every = ?self.wait,
                "lease database connection lost; no ACK is sent until it is back"
            );
            self.down_since = Some(Instant::now());
        }
        self.next_attempt = Some(Instant::now() + self.wait);
    }

    fn connected(&mut self, params: &Params) {
        if let Some(since) = self.down_since.take() {
            info!(database = %params, after = ?since.elapsed(), "lease database reconnected");
        }
        self.next_attempt = None;
    }

    fn unavailable(&self, params: &Params) -> StoreError {
        StoreError::Unavailable {
            database: params.to_string(),
            reason: "waiting to reconnect".into(),
        }
    }
}

/// Refuses a database without Kea 2.2's schema version.
fn check_version(params: &Params, found: Option<SchemaVersion>) -> Result<(), StoreError> {
    let expected = params.backend.schema_version();
    match found {
        Some(version) if version == expected => Ok(()),
        Some(version) => Err(StoreError::Schema(format!(
            "{params} has schema version {version}, leasehold serves {expected} \
             (Kea 2.2); see `leasehold db upgrade`"
        ))),
        None => Err(StoreError::Schema(format!(
            "{params} has no Kea schema; create it with `leasehold db init`"
        ))),
    }
}

/// The upserts among `indexes` whose address is now held by a row other
/// than the one they wrote.
fn lost_changes(
    indexes: &[usize],
    changes: &[crate::LeaseChange],
    rows: Vec<Row>,
) -> Vec<crate::Lost> {
    let mut by_address: std::collections::HashMap<u32, Row> =
        rows.into_iter().map(|row| (row.address, row)).collect();
    let mut lost = Vec::new();
    for &index in indexes {
        let crate::LeaseChange::Upsert(lease) = &changes[index] else {
            continue;
        };
        let intended = Row::from_lease(lease);
        let Some(stored) = by_address.remove(&intended.address) else {
            continue;
        };
        if stored.is_written(&intended) {
            continue;
        }
        match stored.into_lease() {
            Ok(holder) => lost.push(crate::Lost { index, holder }),
            Err(reason) => warn!(address = %lease.address, reason, "unreadable lease4 row"),
        }
    }
    lost
}
