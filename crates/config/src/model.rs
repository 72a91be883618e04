//! The typed configuration the rest of leasehold works from.
//!
//! Everything here is validated: addresses parse, pools lie inside their
//! subnet, option data is already encoded to wire bytes, and lifetimes are
//! resolved through Kea's inheritance (global -> subnet), so the engine never
//! has to look at JSON.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use ipnet::Ipv4Net;

/// A whole `Dhcp4` configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `interfaces-config`.
    pub interfaces: InterfacesConfig,
    /// `lease-database`.
    pub lease_database: LeaseDatabase,
    /// `hosts-database`: reservations read from Kea's host tables.
    pub hosts_database: Option<SqlDatabase>,
    /// Global `valid-lifetime` in seconds (Kea's default 7200).
    pub valid_lifetime: u32,
    /// Global `renew-timer` (T1), if configured.
    pub renew_timer: Option<u32>,
    /// Global `rebind-timer` (T2), if configured.
    pub rebind_timer: Option<u32>,
    /// `decline-probation-period` in seconds (default 86400).
    pub decline_probation_period: u32,
    /// `match-client-id` (default true): identify clients by option 61 when
    /// they send it.
    pub match_client_id: bool,
    /// `authoritative` (default false): NAK requests from unknown clients.
    pub authoritative: bool,
    /// Global `next-server` (siaddr), if configured.
    pub next_server: Option<Ipv4Addr>,
    /// Global `option-data`, encoded.
    pub options: Vec<OptionData>,
    /// `subnet4`, in configuration order.
    pub subnets: Vec<Subnet>,
    /// `expired-leases-processing`.
    pub expired_leases: ExpiredLeasesProcessing,
    /// `multi-threading`.
    pub multi_threading: MultiThreading,
    /// `loggers`.
    pub loggers: Vec<Logger>,
    /// `shared-networks`, in configuration order. Their subnets are in
    /// [`Config::subnets`], each naming its network.
    pub shared_networks: Vec<SharedNetwork>,
    /// `client-classes`, in configuration order (Kea evaluates them in this
    /// order).
    pub client_classes: Vec<ClientClass>,
    /// `option-def`: custom option definitions, already applied to every
    /// `option-data` entry.
    pub option_defs: Vec<OptionDef>,
    /// `host-reservation-identifiers`, in order of preference (Kea's default:
    /// hw-address, duid, circuit-id, client-id).
    pub host_reservation_identifiers: Vec<IdentifierType>,
    /// Global `reservations` (used where `reservations-global` is on).
    pub reservations: Vec<Reservation>,
    /// `echo-client-id` (default true): echo option 61 in replies.
    pub echo_client_id: bool,
    /// `control-socket` / `control-sockets`: where the control API listens.
    pub control: ControlConfig,
    /// The whole document as read (comments stripped, placeholders filled),
    /// for `config-get` and `config-write`. Object keys come out sorted.
    pub raw: serde_json::Value,
}

/// Where the control API listens (see the `control` module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlConfig {
    /// The HTTP listener (127.0.0.1:8000 unless configured).
    pub http: HttpListener,
    /// `socket-name` of a `socket-type: unix` control socket, if any.
    pub unix_socket: Option<PathBuf>,
}

/// The HTTP control listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpListener {
    /// `socket-address`.
    pub address: std::net::IpAddr,
    /// `socket-port`.
    pub port: u16,
    /// `authentication`, if configured: requests without matching
    /// credentials get 401.
    pub authentication: Option<Authentication>,
    /// TLS (`socket-type: https`), if configured.
    pub tls: Option<Tls>,
    /// `http-headers`: name and value of each header added to every
    /// response.
    pub headers: Vec<(String, String)>,
}

/// TLS on the HTTP control listener, with the control agent's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    /// `trust-anchor`: the PEM file of the CAs that sign client
    /// certificates.
    pub trust_anchor: PathBuf,
    /// `cert-file`: the server's PEM certificate chain.
    pub cert_file: PathBuf,
    /// `key-file`: the server's PEM private key.
    pub key_file: PathBuf,
    /// `cert-required` (default true): clients must present a certificate
    /// the trust anchor signed.
    pub cert_required: bool,
}

/// HTTP basic authentication, as the control agent's `authentication`.
#[derive(Clone, PartialEq, Eq)]
pub struct Authentication {
    /// `realm` (default `kea-control-agent`).
    pub realm: String,
    /// `clients`: accepted user and password pairs.
    pub clients: Vec<BasicCredentials>,
}

impl std::fmt::Debug for Authentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Passwords stay out of logs and debug output.
        f.debug_struct("Authentication")
            .field("realm", &self.realm)
            .field("clients", &self.clients.len())
            .finish()
    }
}

/// One `clients` entry of `authentication`.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    /// `user` (or the first line of `user-file`).
    pub user: String,
    /// `password` (or the first line of `password-file`).
    pub password: String,
}

/// `interfaces-config`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InterfacesConfig {
    /// Interface names to serve; `"*"` means every interface but loopback.
    /// An entry may carry an address (`"eth0/192.0.2.1"`), as in Kea.
    pub interfaces: Vec<String>,
    /// `dhcp-socket-type`: `raw` (Kea's default) or `udp`.
    pub socket_type: SocketType,
    /// `outbound-interface`: `same-as-inbound` (default) or `use-routing`.
    pub outbound_interface: OutboundInterface,
}

/// `dhcp-socket-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SocketType {
    /// Raw sockets (Kea's default).
    #[default]
    Raw,
    /// Plain UDP sockets.
    Udp,
}

/// `outbound-interface`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutboundInterface {
    /// Reply through the interface the query came in on.
    #[default]
    SameAsInbound,
    /// Let the kernel's routing table choose.
    UseRouting,
}

/// `lease-database`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseDatabase {
    /// `type: memfile`.
    Memfile(Memfile),
    /// `type: postgresql` or `mysql`: Kea's SQL schema.
    Sql(SqlDatabase),
}

impl LeaseDatabase {
    /// The memfile settings, when leases are kept in a lease file.
    pub fn memfile(&self) -> Option<&Memfile> {
        match self {
            Self::Memfile(memfile) => Some(memfile),
            Self::Sql(_) => None,
        }
    }
}

/// Which SQL server a database is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlBackend {
    /// `postgresql`.
    Postgresql,
    /// `mysql` (MySQL or MariaDB).
    Mysql,
}

/// What Kea does when a database connection cannot be restored
/// (`on-fail`). leasehold keeps serving and retrying in every case: it
/// sends no ACK it could not commit, and serves again once the database is
/// back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFail {
    /// `stop-retry-exit` (Kea's default).
    StopRetryExit,
    /// `serve-retry-exit`.
    ServeRetryExit,
    /// `serve-retry-continue`.
    ServeRetryContinue,
}

/// A PostgreSQL or MySQL database in Kea's schema (`lease-database` or
/// `hosts-database`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlDatabase {
    /// `type`.
    pub backend: SqlBackend,
    /// `name`: the database.
    pub name: String,
    /// `host`: name, address, or unix socket path; `None` for the local
    /// default socket.
    pub host: Option<String>,
    /// `port`.
    pub port: Option<u16>,
    /// `user`.
    pub user: Option<String>,
    /// `password`.
    pub password: Option<String>,
    /// `connect-timeout` in seconds (default 5).
    pub connect_timeout: u32,
    /// `max-reconnect-tries` (default 0).
    pub max_reconnect_tries: u32,
    /// `reconnect-wait-time` in milliseconds (default 0).
    pub reconnect_wait_time: u32,
    /// `on-fail`.
    pub on_fail: OnFail,
    /// `retry-on-startup` (default false).
    pub retry_on_startup: bool,
}

/// A memfile lease database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memfile {
    /// `name`: the lease file. Kea's default is
    /// `/var/lib/kea/kea-leases4.csv`.
    pub name: PathBuf,
    /// `persist` (default true): write leases to the file at all.
    pub persist: bool,
    /// `lfc-interval` in seconds; 0 turns lease file cleanup off.
    pub lfc_interval: u32,
}

/// `expired-leases-processing`, with Kea's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiredLeasesProcessing {
    /// `reclaim-timer-wait-time` (default 10 s).
    pub reclaim_timer_wait_time: u32,
    /// `flush-reclaimed-timer-wait-time` (default 25 s).
    pub flush_reclaimed_timer_wait_time: u32,
    /// `hold-reclaimed-time` (default 3600 s).
    pub hold_reclaimed_time: u32,
    /// `max-reclaim-leases` (default 100).
    pub max_reclaim_leases: u32,
    /// `max-reclaim-time` in milliseconds (default 250).
    pub max_reclaim_time: u32,
    /// `unwarned-reclaim-cycles` (default 5).
    pub unwarned_reclaim_cycles: u32,
}

/// `multi-threading`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultiThreading {
    /// `enable-multi-threading` (default false, as in Kea 2.2; Kea 2.4 and
    /// later default to true, so set it explicitly to behave the same in both).
    pub enabled: bool,
    /// `thread-pool-size`; 0 means one per CPU.
    pub thread_pool_size: usize,
    /// `packet-queue-size` (default 64).
    pub packet_queue_size: usize,
}

/// One `shared-networks` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedNetwork {
    /// `name`.
    pub name: String,
    /// Indexes into [`Config::subnets`] of this network's subnets, in
    /// configuration order.
    pub subnets: Vec<usize>,
    /// `relay.ip-addresses`.
    pub relay_addresses: Vec<Ipv4Addr>,
    /// `interface`.
    pub interface: Option<String>,
    /// `option-data`, encoded.
    pub options: Vec<OptionData>,
    /// `client-class`: only clients of this class may use the network.
    pub client_class: Option<String>,
    /// `require-client-classes`.
    pub require_client_classes: Vec<String>,
    /// `user-context`, kept as given.
    pub user_context: Option<serde_json::Value>,
}

/// Where host reservations are looked up (Kea 2.2's `reservations-global`,
/// `reservations-in-subnet` and `reservations-out-of-pool`, resolved through
/// global -> shared network -> subnet inheritance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservationModes {
    /// `reservations-global` (default false).
    pub global: bool,
    /// `reservations-in-subnet` (default true).
    pub in_subnet: bool,
    /// `reservations-out-of-pool` (default false): reserved addresses all
    /// lie outside the pools, so the allocator need not check them.
    pub out_of_pool: bool,
}

impl Default for ReservationModes {
    fn default() -> Self {
        Self {
            global: false,
            in_subnet: true,
            out_of_pool: false,
        }
    }
}

/// One `client-classes` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientClass {
    /// `name`.
    pub name: String,
    /// `test`, parsed; `None` when the class has no test.
    pub test: Option<crate::expression::Condition>,
    /// `only-if-required`: evaluated only when a subnet, pool or shared
    /// network names it in `require-client-classes`.
    pub only_if_required: bool,
    /// `option-data`, encoded.
    pub options: Vec<OptionData>,
    /// `next-server`, if set.
    pub next_server: Option<Ipv4Addr>,
    /// `server-hostname` (sname), if set.
    pub server_hostname: Option<String>,
    /// `boot-file-name` (file), if set.
    pub boot_file_name: Option<String>,
    /// `valid-lifetime`, `min-valid-lifetime` and `max-valid-lifetime`, if
    /// the class sets any: they override the subnet's for its members.
    pub valid_lifetime: Option<ValidLifetime>,
    /// Whether the test refers to `KNOWN` or `UNKNOWN` (directly or through
    /// another class), so it can only be evaluated after the host lookup.
    pub depends_on_known: bool,
    /// `user-context`, kept as given.
    pub user_context: Option<serde_json::Value>,
}

/// A lease lifetime with the bounds a client's request (option 51) is held
/// to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidLifetime {
    /// `min-valid-lifetime`.
    pub min: u32,
    /// `valid-lifetime`: the lifetime of a client that asks for none.
    pub default: u32,
    /// `max-valid-lifetime`.
    pub max: u32,
}

impl ValidLifetime {
    /// The lifetime for a client asking for `requested` seconds: within the
    /// bounds, or the default when it asks for none or for 0, as Kea's
    /// `getValidLft` chooses.
    pub fn for_request(&self, requested: Option<u32>) -> u32 {
        match requested.filter(|&requested| requested > 0) {
            Some(requested) => requested.clamp(self.min, self.max),
            None => self.default,
        }
    }
}

/// One `option-def` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionDef {
    /// `name`.
    pub name: String,
    /// `code`.
    pub code: u8,
    /// `space` (only `dhcp4` is supported).
    pub space: String,
    /// The definition used to encode `option-data`.
    pub definition: crate::options::OptionDefinition,
}

/// A `host-reservation-identifiers` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentifierType {
    /// `hw-address`.
    HwAddress,
    /// `duid`.
    Duid,
    /// `circuit-id`.
    CircuitId,
    /// `client-id`.
    ClientId,
}

/// One `subnet4` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Subnet {
    /// `id`.
    pub id: u32,
    /// Index into [`Config::shared_networks`] of the network holding this
    /// subnet, if any.
    pub shared_network: Option<usize>,
    /// `client-class`: only clients of this class may use the subnet.
    pub client_class: Option<String>,
    /// `require-client-classes`.
    pub require_client_classes: Vec<String>,
    /// Effective `server-hostname` (sname), if any.
    pub server_hostname: Option<String>,
    /// Effective `boot-file-name` (file), if any.
    pub boot_file_name: Option<String>,
    /// Effective `match-client-id`.
    pub match_client_id: bool,
    /// Effective `authoritative`.
    pub authoritative: bool,
    /// Effective reservation lookup modes.
    pub reservation_modes: ReservationModes,
    /// `subnet`.
    pub prefix: Ipv4Net,
    /// `pools`.
    pub pools: Vec<Pool>,
    /// `option-data`, encoded.
    pub options: Vec<OptionData>,
    /// `reservations`.
    pub reservations: Vec<Reservation>,
    /// `relay.ip-addresses`.
    pub relay_addresses: Vec<Ipv4Addr>,
    /// `interface`.
    pub interface: Option<String>,
    /// Effective `valid-lifetime` (subnet value, else network's, else global).
    pub valid_lifetime: u32,
    /// Effective `min-valid-lifetime`: the shortest lifetime a client may
    /// ask for with option 51 (`valid_lifetime` where none is configured).
    pub min_valid_lifetime: u32,
    /// Effective `max-valid-lifetime`: the longest lifetime a client may
    /// ask for (`valid_lifetime` where none is configured).
    pub max_valid_lifetime: u32,
    /// Effective `renew-timer` (subnet value, else global), if any.
    pub renew_timer: Option<u32>,
    /// Effective `rebind-timer` (subnet value, else global), if any.
    pub rebind_timer: Option<u32>,
    /// Effective `next-server` (subnet value, else global), if any.
    pub next_server: Option<Ipv4Addr>,
    /// `user-context`, kept as given.
    pub user_context: Option<serde_json::Value>,
}

impl Subnet {
    /// The effective `valid-lifetime` with its bounds.
    pub fn lifetime(&self) -> ValidLifetime {
        ValidLifetime {
            min: self.min_valid_lifetime,
            default: self.valid_lifetime,
            max: self.max_valid_lifetime,
        }
    }
}

/// An address pool: `"a.b.c.d - e.f.g.h"` or `"a.b.c.d/len"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// First address of the range.
    pub first: Ipv4Addr,
    /// Last address of the range (inclusive).
    pub last: Ipv4Addr,
    /// The pool's `option-data`, encoded.
    pub options: Vec<OptionData>,
    /// `client-class`: only clients of this class may get addresses here.
    pub client_class: Option<String>,
    /// `require-client-classes`.
    pub require_client_classes: Vec<String>,
}

/// One host reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// How the client is recognised.
    pub identifier: HostIdentifier,
    /// `ip-address`, if one is reserved.
    pub address: Option<Ipv4Addr>,
    /// `hostname`, if any.
    pub hostname: Option<String>,
    /// The reservation's `option-data`, encoded.
    pub options: Vec<OptionData>,
    /// `next-server`, if set.
    pub next_server: Option<Ipv4Addr>,
    /// `server-hostname`, if set.
    pub server_hostname: Option<String>,
    /// `boot-file-name`, if set.
    pub boot_file_name: Option<String>,
    /// `client-classes`: classes the host is put in.
    pub client_classes: Vec<String>,
}

/// What identifies a reserved host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostIdentifier {
    /// `hw-address`.
    HwAddress(Vec<u8>),
    /// `client-id`: the whole option 61 payload.
    ClientId(Vec<u8>),
    /// `circuit-id`: option 82 sub-option 1.
    CircuitId(Vec<u8>),
    /// `duid`: the DUID part of an RFC 4361 client identifier.
    Duid(Vec<u8>),
}

/// One `option-data` entry, already encoded to its wire payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionData {
    /// The option code.
    pub code: u8,
    /// The option payload (without code and length bytes).
    pub data: Vec<u8>,
    /// `always-send`: include it even when the client did not ask for it.
    pub always_send: bool,
}

/// One `loggers` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logger {
    /// `name`, such as `kea-dhcp4`.
    pub name: String,
    /// Where messages go (the first `output_options` entry).
    pub output: LogOutput,
    /// `severity`.
    pub severity: Severity,
    /// `debuglevel` (0-99), meaningful with `DEBUG`.
    pub debug_level: u8,
}

/// A logger's `output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogOutput {
    /// `stdout`.
    Stdout,
    /// `stderr`.
    Stderr,
    /// `syslog` or `syslog:NAME`.
    Syslog,
    /// A file path.
    File(PathBuf),
}

/// A logger's `severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// `DEBUG`.
    Debug,
    /// `INFO` (Kea's default).
    Info,
    /// `WARN`.
    Warn,
    /// `ERROR`.
    Error,
    /// `FATAL`.
    Fatal,
    /// `NONE`.
    None,
}
