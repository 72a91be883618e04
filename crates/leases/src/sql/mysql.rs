//! The MySQL/MariaDB backend, on the synchronous `mysql` client.
//!
//! A commit writes each round of changes with multi-row `INSERT ... ON
//! DUPLICATE KEY UPDATE` statements in one transaction. MySQL cannot make
//! the update conditional as a whole, so the condition is computed once per
//! row in the first assignment (into a session variable, while the columns
//! still hold the stored row) and every assignment keeps the old value when
//! it is false. MySQL reports no per-row outcome either, so the rows are
//! read back inside the transaction, where they are locked: a row that is
//! not the one written is a lost race.

use std::collections::HashMap;

use mysql::prelude::{FromValue, Queryable};
use mysql::{Conn, OptsBuilder, Statement, TxOpts, Value};

use super::{Params, Reconnect, Row, SchemaVersion};
use crate::{Lease, LeaseChange, LeaseStore, Lost, StoreError};

/// Rows per statement; a batch is split greedily into these sizes, so at
/// most this many statements of each kind are ever prepared.
const CHUNKS: [usize; 5] = [256, 64, 16, 4, 1];

/// Attempts at a transaction that hits a deadlock with another server.
const DEADLOCK_ATTEMPTS: usize = 3;

const COLUMNS: &str = "address, hwaddr, client_id, valid_lifetime, UNIX_TIMESTAMP(expire), \
    subnet_id, fqdn_fwd, fqdn_rev, hostname, state, user_context";

/// See `MAY_REPLACE` in the PostgreSQL backend: the same rule, with bare
/// column names for the stored row and `VALUES()` for the new one.
const MAY_REPLACE: &str = "COALESCE(VALUES(state) = 1 \
    OR (VALUES(state) = 2 AND expire <= VALUES(expire)) \
    OR (VALUES(state) = 0 AND (state <> 0 \
        OR expire <= VALUES(expire) - INTERVAL VALUES(valid_lifetime) SECOND \
        OR IF(LENGTH(client_id) > 0 AND LENGTH(VALUES(client_id)) > 0, \
            client_id = VALUES(client_id), COALESCE(hwaddr = VALUES(hwaddr), 0)))), 0)";

fn opts(params: &Params) -> OptsBuilder {
    let builder = OptsBuilder::new()
        .user(params.user.clone().or_else(|| Some("root".into())))
        .pass(params.password.clone())
        .db_name(Some(params.name.clone()))
        .tcp_connect_timeout(Some(params.connect_timeout))
        .read_timeout(Some(super::STATEMENT_TIMEOUT))
        .write_timeout(Some(super::STATEMENT_TIMEOUT))
        .init(vec![
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
        ]);
    match params.host.as_deref() {
        Some(host) if host.starts_with('/') => builder.socket(Some(host)),
        Some(host) => builder
            .ip_or_hostname(Some(host))
            .tcp_port(params.port.unwrap_or(3306))
            .prefer_socket(false),
        None => builder.socket(Some("/run/mysqld/mysqld.sock")),
    }
}

fn store_error(params: &Params, error: &mysql::Error) -> StoreError {
    match error {
        mysql::Error::MySqlError(server) => StoreError::Database {
            database: params.to_string(),
            reason: server.to_string(),
        },
        other => StoreError::Unavailable {
            database: params.to_string(),
            reason: other.to_string(),
        },
    }
}

fn is_deadlock(error: &mysql::Error) -> bool {
    matches!(error, mysql::Error::MySqlError(server) if server.code == 1213 || server.code == 1205)
}

fn connect(params: &Params) -> Result<Conn, StoreError> {
    Conn::new(opts(params)).map_err(|error| store_error(params, &error))
}

pub(super) fn run_script(params: &Params, script: &str) -> Result<(), StoreError> {
    let mut conn = connect(params)?;
    let run = |conn: &mut Conn| -> Result<(), mysql::Error> {
        let mut result = conn.query_iter(script)?;
        while let Some(set) = result.iter() {
            for row in set {
                row?;
            }
        }
        Ok(())
    };
    run(&mut conn).map_err(|error| store_error(params, &error))
}

pub(super) fn schema_version(params: &Params) -> Result<Option<SchemaVersion>, StoreError> {
    let mut conn = connect(params)?;
    read_version(&mut conn).map_err(|error| store_error(params, &error))
}

fn read_version(conn: &mut Conn) -> Result<Option<SchemaVersion>, mysql::Error> {
    let tables: Option<u64> = conn.query_first(
        "SELECT COUNT(*) FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_name = 'schema_version'",
    )?;
    if tables.unwrap_or(0) == 0 {
        return Ok(None);
    }
    let row: Option<(u32, Option<u32>)> =
        conn.query_first("SELECT version, minor FROM schema_version")?;
    Ok(row.map(|(major, minor)| SchemaVersion {
        major,
        minor: minor.unwrap_or(0),
    }))
}

fn column<T: FromValue>(row: &mysql::Row, index: usize) -> Option<T> {
    row.get_opt::<Option<T>, usize>(index)
        .and_then(Result::ok)
        .flatten()
}

pub(super) fn load_hosts(params: &Params) -> Result<Vec<super::HostRow>, StoreError> {
    let mut conn = connect(params)?;
    let rows: Vec<mysql::Row> = conn
        .query(
            "SELECT dhcp4_subnet_id, dhcp_identifier_type, dhcp_identifier, ipv4_address, \
             hostname FROM hosts WHERE dhcp4_subnet_id > 0",
        )
        .map_err(|error| store_error(params, &error))?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            Some(super::HostRow {
                subnet_id: column(row, 0)?,
                identifier_type: super::IdentifierType::from_code(column(row, 1)?)?,
                identifier: column(row, 2)?,
                address: column::<u32>(row, 3)
                    .filter(|&address| address != 0)
                    .map(std::net::Ipv4Addr::from),
                hostname: column::<String>(row, 4).filter(|name| !name.is_empty()),
            })
        })
        .collect())
}

fn read_row(row: &mysql::Row) -> Row {
    Row {
        address: column(row, 0).unwrap_or(0),
        hwaddr: column(row, 1),
        client_id: column(row, 2),
        valid_lifetime: column(row, 3).unwrap_or(0),
        expire: column(row, 4).unwrap_or(0),
        subnet_id: column(row, 5).unwrap_or(0),
        fqdn_fwd: column::<i64>(row, 6).unwrap_or(0) != 0,
        fqdn_rev: column::<i64>(row, 7).unwrap_or(0) != 0,
        hostname: column(row, 8),
        state: column(row, 9).unwrap_or(0),
        user_context: column(row, 10),
    }
}

fn placeholders(rows: usize, row: &str) -> String {
    vec![row; rows].join(", ")
}

/// A live connection with its statements, prepared on first use per
/// number of rows.
struct Connection {
    conn: Conn,
    upserts: HashMap<usize, Statement>,
    fetches: HashMap<usize, Statement>,
    delete: Statement,
}

impl Connection {
    fn open(params: &Params) -> Result<Self, StoreError> {
        let mut conn = connect(params)?;
        let delete = conn
            .prep(
                "DELETE FROM lease4 WHERE address = ? AND (state <> 0 OR \
                 IF(LENGTH(client_id) > 0 AND LENGTH(?) > 0, client_id = ?, \
                 COALESCE(hwaddr = ?, 0)))",
            )
            .map_err(|error| store_error(params, &error))?;
        Ok(Self {
            conn,
            upserts: HashMap::new(),
            fetches: HashMap::new(),
            delete,
        })
    }

    fn upsert(&mut self, rows: usize) -> Result<Statement, mysql::Error> {
        if let Some(statement) = self.upserts.get(&rows) {
            return Ok(statement.clone());
        }
        let keep = |column: &str| format!("{column} = IF(@lh_take, VALUES({column}), {column})");
        let text = format!(
            "INSERT INTO lease4 (address, hwaddr, client_id, valid_lifetime, expire, subnet_id, \
             fqdn_fwd, fqdn_rev, hostname, state, user_context) VALUES {} \
             ON DUPLICATE KEY UPDATE \
             hwaddr = IF(@lh_take := {MAY_REPLACE}, VALUES(hwaddr), hwaddr), {}",
            placeholders(rows, "(?, ?, ?, ?, FROM_UNIXTIME(?), ?, ?, ?, ?, ?, ?)"),
            [
                "client_id",
                "valid_lifetime",
                "expire",
                "subnet_id",
                "fqdn_fwd",
                "fqdn_rev",
                "hostname",
                "user_context",
                // Last: the condition reads the stored state.
                "state",
            ]
            .map(keep)
            .join(", ")
        );
        let statement = self.conn.prep(text)?;
        self.upserts.insert(rows, statement.clone());
        Ok(statement)
    }

    fn fetch(&mut self, rows: usize) -> Result<Statement, mysql::Error> {
        if let Some(statement) = self.fetches.get(&rows) {
            return Ok(statement.clone());
        }
        let text = format!(
            "SELECT {COLUMNS} FROM lease4 WHERE address IN ({})",
            placeholders(rows, "?")
        );
        let statement = self.conn.prep(text)?;
        self.fetches.insert(rows, statement.clone());
        Ok(statement)
    }

    /// Writes every round in one transaction; returns the lost changes.
    fn write(
        &mut self,
        changes: &[LeaseChange],
        rounds: &[Vec<usize>],
    ) -> Result<Vec<Lost>, mysql::Error> {
        let mut plans = Vec::new();
        for round in rounds {
            let mut upserts: Vec<usize> = round
                .iter()
                .copied()
                .filter(|&index| matches!(changes[index], LeaseChange::Upsert(_)))
                .collect();
            // One order for every server makes deadlocks between them rarer.
            upserts.sort_by_key(|&index| changes[index].lease().address);
            let mut statements = Vec::new();
            for chunk in chunked(&upserts) {
                statements.push((self.upsert(chunk.len())?, self.fetch(chunk.len())?));
            }
            plans.push((round, upserts, statements));
        }
        let delete = self.delete.clone();
        let mut transaction = self.conn.start_transaction(TxOpts::default())?;
        let mut lost = Vec::new();
        for (round, upserts, statements) in &plans {
            let deletes = round.iter().filter_map(|&index| match &changes[index] {
                LeaseChange::Delete(lease) => Some(delete_params(lease)),
                LeaseChange::Upsert(_) => None,
            });
            transaction.exec_batch(&delete, deletes)?;
            for (chunk, (upsert, fetch)) in chunked(upserts).zip(statements) {
                let values: Vec<Value> = chunk
                    .iter()
                    .flat_map(|&index| upsert_params(changes[index].lease()))
                    .collect();
                transaction.exec_drop(upsert, values)?;
                let addresses: Vec<Value> = chunk
                    .iter()
                    .map(|&index| Value::from(u32::from(changes[index].lease().address)))
                    .collect();
                let rows: Vec<mysql::Row> = transaction.exec(fetch, addresses)?;
                let rows = rows.iter().map(read_row).collect();
                lost.extend(super::lost_changes(chunk, changes, rows));
            }
        }
        transaction.commit()?;
        Ok(lost)
    }
}

/// `indexes` in chunks of the sizes in [`CHUNKS`].
fn chunked(indexes: &[usize]) -> impl Iterator<Item = &[usize]> {
    let mut rest = indexes;
    std::iter::from_fn(move || {
        let size = CHUNKS.into_iter().find(|&size| size <= rest.len())?;
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

fn upsert_params(lease: &Lease) -> [Value; 11] {
    let row = Row::from_lease(lease);
    [
        Value::from(row.address),
        Value::from(row.hwaddr),
        Value::from(row.client_id),
        Value::from(row.valid_lifetime),
        Value::from(row.expire),
        Value::from(row.subnet_id),
        Value::from(row.fqdn_fwd),
        Value::from(row.fqdn_rev),
        Value::from(row.hostname),
        Value::from(row.state),
        Value::from(row.user_context),
    ]
}

fn delete_params(lease: &Lease) -> Vec<Value> {
    let row = Row::from_lease(lease);
    vec![
        Value::from(row.address),
        Value::from(row.client_id.clone()),
        Value::from(row.client_id),
        Value::from(row.hwaddr),
    ]
}

/// Leases in Kea's MySQL schema.
pub(super) struct MysqlStore {
    params: Params,
    connection: Option<Connection>,
    reconnect: Reconnect,
}

impl MysqlStore {
    pub(super) fn open(params: &Params) -> Result<Self, StoreError> {
        let mut connection = Connection::open(params)?;
        let version =
            read_version(&mut connection.conn).map_err(|error| store_error(params, &error))?;
        super::check_version(params, version)?;
        Ok(Self {
            params: params.clone(),
            connection: Some(connection),
            reconnect: Reconnect::new(params),
        })
    }

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

    fn fail(&mut self, error: &mysql::Error) -> StoreError {
        let error = store_error(&self.params, error);
        self.connection = None;
        self.reconnect.lost(&self.params, &error);
        error
    }
}

impl LeaseStore for MysqlStore {
    fn load(&mut self) -> Result<Vec<Lease>, StoreError> {
        let query = format!("SELECT {COLUMNS} FROM lease4");
        let connection = self.connection()?;
        let rows = connection
            .conn
            .query_map(query, |row: mysql::Row| read_row(&row));
        let rows = rows.map_err(|error| self.fail(&error))?;
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
        let mut attempt = 1;
        loop {
            let connection = self.connection()?;
            match connection.write(changes, &rounds) {
                Ok(lost) => return Ok(lost),
                Err(error) if is_deadlock(&error) && attempt < DEADLOCK_ATTEMPTS => attempt += 1,
                Err(error) => return Err(self.fail(&error)),
            }
        }
    }
}
