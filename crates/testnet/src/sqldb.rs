//! Scratch SQL lease databases for tests of servers that share one: a database per test on the
//! machine's PostgreSQL or MariaDB, or on a private instance the test may stop and start.
//!
//! Servers in a network namespace reach a database through its unix socket, so every instance
//! here is addressed by a socket (`host` in Kea's `lease-database`). The schema is made by
//! `leasehold db init`; rows are read back with `psql` / `mysql`, not with the code under test.
//!
//! Everything is undone on drop: databases are dropped, private instances stopped and their
//! directories removed.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::error::{Error, Result};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// How long a private instance may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const POSTGRES_BIN: &str = "/usr/lib/postgresql/15/bin";

/// The SQL server kind, as Kea names it in `lease-database.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlKind {
    /// `postgresql`.
    Postgresql,
    /// `mysql` (MariaDB here).
    Mysql,
}

impl SqlKind {
    /// Kea's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgresql => "postgresql",
            Self::Mysql => "mysql",
        }
    }

    /// The administrator this machine's servers trust.
    pub fn user(self) -> &'static str {
        match self {
            Self::Postgresql => "postgres",
            Self::Mysql => "root",
        }
    }
}

/// A unique name for a scratch database: `lh_<pid>_<n>`.
fn unique_name() -> String {
    let serial = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("lh_{}_{serial}", std::process::id())
}

/// A database server process this test owns, on a data directory of its own.
#[derive(Debug)]
pub struct PrivateServer {
    kind: SqlKind,
    dir: PathBuf,
    mariadb: Option<Child>,
}

impl PrivateServer {
    /// Creates a data directory and starts a server on it, listening only on a socket inside
    /// the directory.
    pub fn start(kind: SqlKind) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("lh-{}-{}", kind.name(), unique_name()));
        std::fs::create_dir_all(&dir).map_err(|source| Error::file(&dir, source))?;
        let mut server = Self {
            kind,
            dir,
            mariadb: None,
        };
        match kind {
            SqlKind::Postgresql => {
                run(Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&server.dir))?;
                let data = server.data_dir();
                let mut initdb = as_postgres(&format!("{POSTGRES_BIN}/initdb"));
                initdb
                    .arg("-D")
                    .arg(&data)
                    .args(["-U", "postgres", "--auth=trust", "-N"]);
                run(&mut initdb)?;
            }
            SqlKind::Mysql => {
                let data = server.data_dir();
                let mut install = Command::new("mariadb-install-db");
                install
                    .arg("--no-defaults")
                    .arg(format!("--datadir={}", data.display()))
                    .args(["--user=root", "--skip-test-db"]);
                run(&mut install)?;
            }
        }
        server.resume()?;
        Ok(server)
    }

    /// The socket to give as `host`: the directory for PostgreSQL, the socket for MariaDB.
    pub fn host(&self) -> PathBuf {
        match self.kind {
            SqlKind::Postgresql => self.dir.clone(),
            SqlKind::Mysql => self.dir.join("mysql.sock"),
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Stops the server for real (PostgreSQL: `pg_ctl stop -m immediate`; MariaDB: SIGKILL).
    pub fn stop(&mut self) -> Result<()> {
        match self.kind {
            SqlKind::Postgresql => {
                let mut stop = self.pg_ctl();
                stop.args(["-m", "immediate", "-w", "stop"]);
                run(&mut stop)
            }
            SqlKind::Mysql => {
                if let Some(mut child) = self.mariadb.take() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                Ok(())
            }
        }
    }

    /// Starts the server (again) on its data directory and waits until it accepts
    /// connections.
    pub fn resume(&mut self) -> Result<()> {
        match self.kind {
            SqlKind::Postgresql => {
                let options = format!(
                    "-k {} -p 5432 -c listen_addresses='' -c fsync=off",
                    self.dir.display()
                );
                let mut start = self.pg_ctl();
                start.args(["-w", "-t", "30", "-o", &options, "-l"]);
                start.arg(self.dir.join("postgres.log")).arg("start");
                run(&mut start)?;
            }
            SqlKind::Mysql => {
                let log = self.dir.join("mariadb.log");
                let log = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .map_err(|source| Error::file(&log, source))?;
                let stderr = log.try_clone().map_err(|e| Error::system("log", e))?;
                let child = Command::new("mariadbd")
                    .arg("--no-defaults")
                    .arg(format!("--datadir={}", self.data_dir().display()))
                    .arg(format!("--socket={}", self.host().display()))
                    .arg(format!("--pid-file={}", self.dir.join("pid").display()))
                    .args([
                        "--skip-networking",
                        "--user=root",
                        "--innodb-flush-log-at-trx-commit=2",
                    ])
                    .stdout(log)
                    .stderr(stderr)
                    .spawn()
                    .map_err(|source| Error::system("start mariadbd", source))?;
                self.mariadb = Some(child);
            }
        }
        self.wait_until_ready()
    }

    fn wait_until_ready(&self) -> Result<()> {
        let start = Instant::now();
        let host = self.host();
        while start.elapsed() < READY_TIMEOUT {
            if admin_query(self.kind, &host, None, "SELECT 1").is_ok() {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(100));
        }
        Err(Error::system(
            format!("{} at {} not ready", self.kind.name(), host.display()),
            std::io::Error::from(std::io::ErrorKind::TimedOut),
        ))
    }

    fn pg_ctl(&self) -> Command {
        let mut command = as_postgres(&format!("{POSTGRES_BIN}/pg_ctl"));
        command.arg("-D").arg(self.data_dir());
        command
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn as_postgres(program: &str) -> Command {
    let mut command = Command::new("runuser");
    command.args(["-u", "postgres", "--", program]);
    command
}

fn run(command: &mut Command) -> Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::system(format!("{command:?}"), source))?;
    if output.status.success() {
        return Ok(());
    }
    Err(Error::system(
        format!(
            "{command:?}: {}\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
        std::io::Error::other("command failed"),
    ))
}

/// Runs `statement` as the administrator on the server at `host` (in `database`, or the
/// server's default one) and returns its output, tab-separated, one row a line.
fn admin_query(
    kind: SqlKind,
    host: &Path,
    database: Option<&str>,
    statement: &str,
) -> Result<String> {
    let mut command = match kind {
        SqlKind::Postgresql => {
            let mut psql = Command::new("psql");
            psql.args(["-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"])
                .args(["-U", "postgres", "-h"])
                .arg(host)
                .args(["-d", database.unwrap_or("postgres"), "-c", statement]);
            psql
        }
        SqlKind::Mysql => {
            let mut mysql = Command::new("mysql");
            mysql
                .args(["-uroot", "-N", "-B", "--connect-timeout=2"])
                .arg(format!("--socket={}", host.display()));
            if let Some(database) = database {
                mysql.arg(database);
            }
            mysql.args(["-e", statement]);
            mysql
        }
    };
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::system("run the SQL client", source))?;
    if !output.status.success() {
        return Err(Error::system(
            format!("{statement}: {}", String::from_utf8_lossy(&output.stderr)),
            std::io::Error::other("SQL client failed"),
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// One row of `lease4`, as read by the SQL client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRow {
    /// `address`.
    pub address: Ipv4Addr,
    /// `hwaddr`, formatted as [`crate::format_mac`] does.
    pub hwaddr: String,
    /// `state`: 0 assigned, 1 declined, 2 expired-reclaimed.
    pub state: u32,
}

/// A scratch database with Kea's schema, dropped with the value.
#[derive(Debug)]
pub struct ScratchDatabase {
    kind: SqlKind,
    host: PathBuf,
    name: String,
}

impl ScratchDatabase {
    /// The machine's shared server of `kind`, through its usual socket.
    pub fn shared_host(kind: SqlKind) -> PathBuf {
        match kind {
            SqlKind::Postgresql => PathBuf::from("/var/run/postgresql"),
            SqlKind::Mysql => PathBuf::from("/run/mysqld/mysqld.sock"),
        }
    }

    /// Creates an empty `lh_<pid>_<n>` on the server at `host`, dropped with the value.
    pub fn empty(kind: SqlKind, host: &Path) -> Result<Self> {
        let name = unique_name();
        admin_query(kind, host, None, &format!("CREATE DATABASE {name}"))?;
        Ok(Self {
            kind,
            host: host.to_path_buf(),
            name,
        })
    }

    /// Creates `lh_<pid>_<n>` on the server at `host` and makes Kea's schema in it with
    /// `leasehold db init` (`leasehold` is the binary).
    pub fn create(kind: SqlKind, host: &Path, leasehold: &Path) -> Result<Self> {
        let database = Self::empty(kind, host)?;
        let mut init = Command::new(leasehold);
        init.args([
            "db",
            "init",
            "--type",
            kind.name(),
            "--name",
            &database.name,
        ])
        .arg("--host")
        .arg(host)
        .args(["--user", kind.user()]);
        run(&mut init)?;
        Ok(database)
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's socket (PostgreSQL: its directory).
    pub fn host(&self) -> &Path {
        &self.host
    }

    /// Kea's `lease-database` for this database.
    pub fn lease_database(&self) -> Value {
        json!({
            "type": self.kind.name(),
            "name": self.name,
            "host": self.host,
            "user": self.kind.user(),
        })
    }

    /// Every row of `lease4`.
    pub fn leases(&self) -> Result<Vec<LeaseRow>> {
        let statement = match self.kind {
            SqlKind::Postgresql => "SELECT address, encode(hwaddr, 'hex'), state FROM lease4",
            SqlKind::Mysql => "SELECT address, HEX(hwaddr), state FROM lease4",
        };
        let output = admin_query(self.kind, &self.host, Some(&self.name), statement)?;
        Ok(output.lines().filter_map(parse_lease_row).collect())
    }
}

fn parse_lease_row(line: &str) -> Option<LeaseRow> {
    let mut fields = line.split('\t');
    let address: u32 = fields.next()?.trim().parse().ok()?;
    let hex = fields.next()?.trim().to_ascii_lowercase();
    let state = fields.next()?.trim().parse().ok()?;
    let octets: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|at| u8::from_str_radix(&hex[at * 2..at * 2 + 2], 16).ok())
        .collect();
    Some(LeaseRow {
        address: Ipv4Addr::from(address),
        hwaddr: crate::format_mac(&octets),
        state,
    })
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let statement = match self.kind {
            SqlKind::Postgresql => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            SqlKind::Mysql => format!("DROP DATABASE IF EXISTS {}", self.name),
        };
        let _ = admin_query(self.kind, &self.host, None, &statement);
    }
}
