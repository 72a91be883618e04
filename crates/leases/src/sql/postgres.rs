//! The PostgreSQL backend, on the synchronous `postgres` client.
//!
//! A commit sends each round of changes as arrays (`unnest`), so a whole
//! batch is one `INSERT ... ON CONFLICT DO UPDATE ... WHERE` and one
//! `DELETE`, in one transaction. Rows the condition refused are the lost
//! races: they are missing from `RETURNING`.

use postgres::{Client, NoTls, Statement};

use super::{Params, Reconnect, Row, SchemaVersion};
use crate::{Lease, LeaseChange, LeaseStore, Lost, StoreError};

/// The columns of `lease4` in [`Row`] order, expire as epoch seconds.
const COLUMNS: &str = "address, hwaddr, client_id, valid_lifetime, \
    extract(epoch FROM expire)::bigint, subnet_id, fqdn_fwd, fqdn_rev, hostname, state, \
    user_context";

/// Whether the stored row `l` may be replaced by the new one (`EXCLUDED`):
/// a decline always; a reclaim unless the lease was renewed meanwhile; an
/// assignment when the row is not an assigned lease, expired before the new
/// lease began, or is the same client's (client-id when both have one, else
/// hardware address).
const MAY_REPLACE: &str = "EXCLUDED.state = 1 \
    OR (EXCLUDED.state = 2 AND l.expire <= EXCLUDED.expire) \
    OR (EXCLUDED.state = 0 AND (l.state <> 0 \
        OR l.expire <= EXCLUDED.expire - EXCLUDED.valid_lifetime * interval '1 second' \
        OR CASE WHEN length(l.client_id) > 0 AND length(EXCLUDED.client_id) > 0 \
            THEN l.client_id = EXCLUDED.client_id \
            ELSE coalesce(l.hwaddr = EXCLUDED.hwaddr, false) END))";

/// Whether a release (`t`) may delete row `l`: it is not an assigned lease,
/// or it is the releasing client's.
const MAY_DELETE: &str = "l.state <> 0 \
    OR CASE WHEN length(l.client_id) > 0 AND length(t.c) > 0 THEN l.client_id = t.c \
        ELSE coalesce(l.hwaddr = t.h, false) END";

fn config(params: &Params) -> postgres::Config {
    let mut config = postgres::Config::new();
    config.dbname(&params.name);
    config.application_name("leasehold");
    match params.host.as_deref() {
        Some(host) if host.starts_with('/') => config.host_path(host),
        Some(host) => config.host(host),
        None => config.host_path("/var/run/postgresql"),
    };
    if let Some(port) = params.port {
        config.port(port);
    }
    let user = params
        .user
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "root".into());
    config.user(&user);
    if let Some(password) = &params.password {
        config.password(password);
    }
    config.connect_timeout(params.connect_timeout);
    config.keepalives(true);
    config.keepalives_idle(super::STATEMENT_TIMEOUT);
    config.tcp_user_timeout(super::STATEMENT_TIMEOUT);
    let timeout = super::STATEMENT_TIMEOUT.as_millis();
    config.options(&format!(
        "-c statement_timeout={timeout} -c lock_timeout={timeout}"
    ));
    config
}

/// A connection error (nothing came back from the server) or a statement
/// the server refused.
fn store_error(params: &Params, error: &postgres::Error) -> StoreError {
    if let Some(db_error) = error.as_db_error() {
        return StoreError::Database {
            database: params.to_string(),
            reason: db_error.to_string(),
        };
    }
    StoreError::Unavailable {
        database: params.to_string(),
        reason: error.to_string(),
    }
}

fn connect(params: &Params) -> Result<Client, StoreError> {
    config(params)
        .connect(NoTls)
        .map_err(|error| store_error(params, &error))
}

pub(super) fn run_script(params: &Params, script: &str) -> Result<(), StoreError> {
    let mut client = connect(params)?;
    let mut transaction = client
        .transaction()
        .map_err(|error| store_error(params, &error))?;
    transaction
        .batch_execute(script)
        .map_err(|error| store_error(params, &error))?;
    transaction
        .commit()
        .map_err(|error| store_error(params, &error))
}

pub(super) fn schema_version(params: &Params) -> Result<Option<SchemaVersion>, StoreError> {
    let mut client = connect(params)?;
    read_version(&mut client).map_err(|error| store_error(params, &error))
}

fn read_version(client: &mut Client) -> Result<Option<SchemaVersion>, postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = client.query_opt("SELECT version, minor FROM schema_version", &[])?;
    Ok(row.map(|row| SchemaVersion {
        major: u32::try_from(row.get::<_, i32>(0)).unwrap_or(0),
        minor: row
            .get::<_, Option<i32>>(1)
            .and_then(|minor| u32::try_from(minor).ok())
            .unwrap_or(0),
    }))
}

pub(super) fn load_hosts(params: &Params) -> Result<Vec<super::HostRow>, StoreError> {
    let mut client = connect(params)?;
    let rows = client
        .query(
            "SELECT dhcp4_subnet_id, dhcp_identifier_type, dhcp_identifier, ipv4_address, \
             hostname FROM hosts WHERE dhcp4_subnet_id IS NOT NULL AND dhcp4_subnet_id > 0",
            &[],
        )
        .map_err(|error| store_error(params, &error))?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            Some(super::HostRow {
                subnet_id: u32::try_from(row.get::<_, i64>(0)).ok()?,
                identifier_type: super::IdentifierType::from_code(i64::from(row.get::<_, i16>(1)))?,
                identifier: row.get(2),
                address: row
                    .get::<_, Option<i64>>(3)
                    .and_then(|address| u32::try_from(address).ok())
                    .filter(|&address| address != 0)
                    .map(std::net::Ipv4Addr::from),
                hostname: row
                    .get::<_, Option<String>>(4)
                    .filter(|name| !name.is_empty()),
            })
        })
        .collect())
}

fn to_u32(value: Option<i64>) -> u32 {
    value
        .and_then(|value| u32::try_from(value).ok())
        .unwrap_or(0)
}

fn read_row(row: &postgres::Row) -> Row {
    Row {
        address: to_u32(Some(row.get(0))),
        hwaddr: row.get(1),
        client_id: row.get(2),
        valid_lifetime: to_u32(row.get(3)),
        expire: row.get::<_, Option<i64>>(4).unwrap_or(0),
        subnet_id: to_u32(row.get(5)),
        fqdn_fwd: row.get::<_, Option<bool>>(6).unwrap_or(false),
        fqdn_rev: row.get::<_, Option<bool>>(7).unwrap_or(false),
        hostname: row.get(8),
        state: to_u32(row.get(9)),
        user_context: row.get(10),
    }
}

/// A live connection with its statements prepared.
struct Connection {
    client: Client,
    upsert: Statement,
    delete: Statement,
    fetch: Statement,
}

impl Connection {
    fn open(params: &Params) -> Result<Self, StoreError> {
        let mut client = connect(params)?;
        let prepared = Self::prepare(&mut client);
        let (upsert, delete, fetch) = prepared.map_err(|error| store_error(params, &error))?;
        Ok(Self {
            client,
            upsert,
            delete,
            fetch,
        })
    }

    fn prepare(client: &mut Client) -> Result<(Statement, Statement, Statement), postgres::Error> {
        let upsert = format!(
            "INSERT INTO lease4 AS l (address, hwaddr, client_id, valid_lifetime, expire, \
             subnet_id, fqdn_fwd, fqdn_rev, hostname, state, user_context) \
             SELECT a, h, c, v, to_timestamp(e), s, ff, fr, hn, st, uc FROM unnest(\
             $1::int8[], $2::bytea[], $3::bytea[], $4::int8[], $5::int8[], $6::int8[], \
             $7::bool[], $8::bool[], $9::text[], $10::int8[], $11::text[]) \
             AS t(a, h, c, v, e, s, ff, fr, hn, st, uc) \
             ON CONFLICT (address) DO UPDATE SET hwaddr = EXCLUDED.hwaddr, \
             client_id = EXCLUDED.client_id, valid_lifetime = EXCLUDED.valid_lifetime, \
             expire = EXCLUDED.expire, subnet_id = EXCLUDED.subnet_id, \
             fqdn_fwd = EXCLUDED.fqdn_fwd, fqdn_rev = EXCLUDED.fqdn_rev, \
             hostname = EXCLUDED.hostname, state = EXCLUDED.state, \
             user_context = EXCLUDED.user_context WHERE {MAY_REPLACE} RETURNING address"
        );
        let delete = format!(
            "DELETE FROM lease4 l USING unnest($1::int8[], $2::bytea[], $3::bytea[]) \
             AS t(a, h, c) WHERE l.address = t.a AND ({MAY_DELETE})"
        );
        let fetch = format!("SELECT {COLUMNS} FROM lease4 WHERE address = ANY($1::int8[])");
        Ok((
            client.prepare(&upsert)?,
            client.prepare(&delete)?,
            client.prepare(&fetch)?,
        ))
    }
}

/// Leases in Kea's PostgreSQL schema.
pub(super) struct PostgresStore {
    params: Params,
    connection: Option<Connection>,
    reconnect: Reconnect,
}

impl PostgresStore {
    pub(super) fn open(params: &Params) -> Result<Self, StoreError> {
        let mut connection = Connection::open(params)?;
        let version =
            read_version(&mut connection.client).map_err(|error| store_error(params, &error))?;
        super::check_version(params, version)?;
        Ok(Self {
            params: params.clone(),
            connection: Some(connection),
            reconnect: Reconnect::new(params),
        })
    }

    /// The connection, re-established if it was lost and a retry is due.
    fn connection(&mut self) -> Result<&mut Connection, StoreError> {
        if self.connection.is_none() {
            if !self.reconnect.is_due() {
                return Err(self.reconnect.unavailable(&self.params));
            }
            match Connection::open(&self.params) {
                Ok(connection) => {
                    self.reconnect.connected(&self.params);
                    self.connection = Some(connection);
                }
                Err(error) => {
                    self.reconnect.lost(&self.params, &error);
                    return Err(error);
                }
            }
        }
        Ok(self.connection.as_mut().expect("connection was just set"))
    }

    /// Runs `work` on the connection; on failure the connection is dropped,
    /// to be re-established later.
    fn with_connection<T>(
        &mut self,
        work: impl FnOnce(&mut Connection) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let connection = self.connection()?;
        match work(connection) {
            Ok(value) => Ok(value),
            Err(error) => {
                let error = store_error(&self.params, &error);
                self.connection = None;
                self.reconnect.lost(&self.params, &error);
                Err(error)
            }
        }
    }
}

impl LeaseStore for PostgresStore {
    fn load(&mut self) -> Result<Vec<Lease>, StoreError> {
        let rows = self.with_connection(|connection| {
            let query = format!("SELECT {COLUMNS} FROM lease4");
            connection.client.query(&query, &[])
        })?;
        let rows = rows.iter().map(read_row).collect();
        Ok(super::rows_into_leases(rows, &self.params))
    }

    fn commit(&mut self, changes: &[LeaseChange]) -> Result<(), StoreError> {
        self.commit_contested(changes).map(drop)
    }

    fn commit_contested(&mut self, changes: &[LeaseChange]) -> Result<Vec<Lost>, StoreError> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let rounds = super::rounds(changes);
        self.with_connection(|connection| {
            let mut transaction = connection.client.transaction()?;
            let mut lost = Vec::new();
            for round in &rounds {
                let statements = (&connection.upsert, &connection.delete, &connection.fetch);
                lost.extend(write_round(&mut transaction, statements, changes, round)?);
            }
            transaction.commit()?;
            Ok(lost)
        })
    }
}

/// Writes one round (no address twice) and returns the changes that lost.
fn write_round(
    transaction: &mut postgres::Transaction<'_>,
    (upsert, delete, fetch): (&Statement, &Statement, &Statement),
    changes: &[LeaseChange],
    round: &[usize],
) -> Result<Vec<Lost>, postgres::Error> {
    let mut upserts = Columns::default();
    let mut deletes = Columns::default();
    for &index in round {
        match &changes[index] {
            LeaseChange::Upsert(lease) => upserts.push(index, Row::from_lease(lease)),
            LeaseChange::Delete(lease) => deletes.push(index, Row::from_lease(lease)),
        }
    }
    if !deletes.indexes.is_empty() {
        transaction.execute(
            delete,
            &[&deletes.address, &deletes.hwaddr, &deletes.client_id],
        )?;
    }
    if upserts.indexes.is_empty() {
        return Ok(Vec::new());
    }
    let written = transaction.query(
        upsert,
        &[
            &upserts.address,
            &upserts.hwaddr,
            &upserts.client_id,
            &upserts.valid_lifetime,
            &upserts.expire,
            &upserts.subnet_id,
            &upserts.fqdn_fwd,
            &upserts.fqdn_rev,
            &upserts.hostname,
            &upserts.state,
            &upserts.user_context,
        ],
    )?;
    if written.len() == upserts.indexes.len() {
        return Ok(Vec::new());
    }
    let written: std::collections::HashSet<i64> = written.iter().map(|row| row.get(0)).collect();
    let refused: Vec<i64> = upserts
        .address
        .iter()
        .copied()
        .filter(|address| !written.contains(address))
        .collect();
    let holders: Vec<Row> = transaction
        .query(fetch, &[&refused])?
        .iter()
        .map(read_row)
        .collect();
    Ok(super::lost_changes(&upserts.indexes, changes, holders))
}

/// A round's changes as one array per column.
#[derive(Default)]
struct Columns {
    indexes: Vec<usize>,
    address: Vec<i64>,
    hwaddr: Vec<Option<Vec<u8>>>,
    client_id: Vec<Option<Vec<u8>>>,
    valid_lifetime: Vec<i64>,
    expire: Vec<i64>,
    subnet_id: Vec<i64>,
    fqdn_fwd: Vec<bool>,
    fqdn_rev: Vec<bool>,
    hostname: Vec<Option<String>>,
    state: Vec<i64>,
    user_context: Vec<Option<String>>,
}

impl Columns {
    fn push(&mut self, index: usize, row: Row) {
        self.indexes.push(index);
        self.address.push(i64::from(row.address));
        self.hwaddr.push(row.hwaddr);
        self.client_id.push(row.client_id);
        self.valid_lifetime.push(i64::from(row.valid_lifetime));
        self.expire.push(row.expire);
        self.subnet_id.push(i64::from(row.subnet_id));
        self.fqdn_fwd.push(row.fqdn_fwd);
        self.fqdn_rev.push(row.fqdn_rev);
        self.hostname.push(row.hostname);
        self.state.push(i64::from(row.state));
        self.user_context.push(row.user_context);
    }
}
