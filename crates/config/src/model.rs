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
    /// The whole document as read (comments stripped, placeholders filled),
    /// for `config-get` and `config-write`. Object keys come out sorted.
    pub raw: serde_json::Value,
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

/// One `subnet4` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Subnet {
    /// `id`.
    pub id: u32,
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
    /// Effective `valid-lifetime` (subnet value, else global).
    pub valid_lifetime: u32,
    /// Effective `renew-timer` (subnet value, else global), if any.
    pub renew_timer: Option<u32>,
    /// Effective `rebind-timer` (subnet value, else global), if any.
    pub rebind_timer: Option<u32>,
    /// Effective `next-server` (subnet value, else global), if any.
    pub next_server: Option<Ipv4Addr>,
    /// `user-context`, kept as given.
    pub user_context: Option<serde_json::Value>,
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
