//! The `Dhcp4` map and its global sections.

use std::path::PathBuf;

use crate::database;
use crate::json::Node;
use crate::model::{
    Config, ExpiredLeasesProcessing, IdentifierType, InterfacesConfig, LeaseDatabase, LogOutput,
    Logger, Memfile, MultiThreading, OutboundInterface, ReservationModes, Severity, SocketType,
    SqlBackend,
};
use crate::option_data;
use crate::reader::{Keys, Object, Reader};
use crate::subnet::{self, Inherited};

const TOP_KEYS: Keys<'static> = Keys {
    supported: &["Dhcp4"],
    unsupported: &["Logging", "Dhcp6", "DhcpDdns", "Control-agent", "Netconf"],
    annotations: false,
};

const DHCP4_KEYS: Keys<'static> = Keys {
    supported: &[
        "interfaces-config",
        "lease-database",
        "valid-lifetime",
        "min-valid-lifetime",
        "max-valid-lifetime",
        "renew-timer",
        "rebind-timer",
        "decline-probation-period",
        "match-client-id",
        "authoritative",
        "next-server",
        "option-data",
        "subnet4",
        "expired-leases-processing",
        "multi-threading",
        "loggers",
        "shared-networks",
        "host-reservation-identifiers",
        "client-classes",
        "option-def",
        "echo-client-id",
        "server-hostname",
        "boot-file-name",
        "reservations",
        "reservations-global",
        "reservations-in-subnet",
        "reservations-out-of-pool",
        "control-socket",
        "control-sockets",
        "hooks-libraries",
        "hosts-database",
    ],
    unsupported: &[
        "hosts-databases",
        "dhcp4o6-port",
        "dhcp-queue-control",
        "dhcp-ddns",
        "sanity-checks",
        "config-control",
        "server-tag",
        "reservation-mode",
        "calculate-tee-times",
        "t1-percent",
        "t2-percent",
        "hostname-char-set",
        "hostname-char-replacement",
        "ddns-*",
        "store-extended-info",
        "statistic-default-sample-count",
        "statistic-default-sample-age",
        "cache-threshold",
        "cache-max-age",
        "early-global-reservations-lookup",
        "ip-reservations-unique",
        "reservations-lookup-first",
        "compatibility",
        "parked-packet-limit",
        "allocator",
        "offer-lifetime",
        "stash-agent-options",
    ],
    annotations: true,
};

const INTERFACES_KEYS: Keys<'static> = Keys {
    supported: &[
        "interfaces",
        "dhcp-socket-type",
        "outbound-interface",
        "re-detect",
        "service-sockets-require-all",
        "service-sockets-retry-wait-time",
        "service-sockets-max-retries",
    ],
    unsupported: &[],
    annotations: true,
};

const LEASE_DATABASE_KEYS: Keys<'static> = Keys {
    supported: &["type", "name", "persist", "lfc-interval", "max-row-errors"],
    unsupported: &[
        "user",
        "password",
        "host",
        "port",
        "readonly",
        "connect-timeout",
        "read-timeout",
        "write-timeout",
        "tcp-user-timeout",
        "max-reconnect-tries",
        "reconnect-wait-time",
        "on-fail",
        "retry-on-startup",
        "request-timeout",
        "tcp-keepalive",
        "tcp-nodelay",
        "contact-points",
        "keyspace",
        "consistency",
        "serial-consistency",
        "trust-anchor",
        "cert-file",
        "key-file",
        "cipher-list",
        "ssl-mode",
    ],
    annotations: true,
};

const EXPIRED_KEYS: Keys<'static> = Keys {
    supported: &[
        "reclaim-timer-wait-time",
        "flush-reclaimed-timer-wait-time",
        "hold-reclaimed-time",
        "max-reclaim-leases",
        "max-reclaim-time",
        "unwarned-reclaim-cycles",
    ],
    unsupported: &[],
    annotations: true,
};

const MULTI_THREADING_KEYS: Keys<'static> = Keys {
    supported: &[
        "enable-multi-threading",
        "thread-pool-size",
        "packet-queue-size",
    ],
    unsupported: &[],
    annotations: true,
};

const LOGGER_KEYS: Keys<'static> = Keys {
    supported: &[
        "name",
        "output_options",
        "output-options",
        "severity",
        "debuglevel",
    ],
    unsupported: &[],
    annotations: true,
};

const OUTPUT_KEYS: Keys<'static> = Keys {
    supported: &["output", "flush", "maxsize", "maxver", "pattern"],
    unsupported: &[],
    annotations: true,
};

/// Kea's default `valid-lifetime`.
const DEFAULT_VALID_LIFETIME: u32 = 7200;
/// Kea's default memfile lease file.
const DEFAULT_LEASE_FILE: &str = "/var/lib/kea/kea-leases4.csv";
/// Kea's default `lfc-interval` (memfile_lease_mgr.cc and the ARM).
const DEFAULT_LFC_INTERVAL: u32 = 3600;

/// Reads the whole document: `{"Dhcp4": {...}}`.
pub(crate) fn read_document(
    reader: &mut Reader<'_>,
    root: &Node,
    raw: serde_json::Value,
) -> Option<Config> {
    let top = reader.object(root, "", &TOP_KEYS)?;
    let node = reader.required(&top, "Dhcp4")?;
    read_dhcp4(reader, node, raw)
}

fn read_dhcp4(reader: &mut Reader<'_>, node: &Node, raw: serde_json::Value) -> Option<Config> {
    let dhcp4 = reader.object(node, "Dhcp4", &DHCP4_KEYS)?;
    let defaults = Lifetimes {
        valid: DEFAULT_VALID_LIFETIME,
        min: None,
        max: None,
    };
    let lifetimes = read_lifetimes(reader, &dhcp4, defaults);
    let valid_lifetime = lifetimes.valid;
    let renew_timer = reader.opt_integer(&dhcp4, "renew-timer");
    let rebind_timer = reader.opt_integer(&dhcp4, "rebind-timer");
    check_timers(reader, &dhcp4, renew_timer, rebind_timer);
    let next_server = reader
        .opt_ipv4(&dhcp4, "next-server")
        .filter(|address| !address.is_unspecified());
    // Definitions first: option-data everywhere may use them, and class
    // tests may name their options.
    let option_defs = crate::option_def::read(reader, &dhcp4);
    let client_classes = crate::classes::read(reader, &dhcp4);
    let match_client_id = reader.opt_bool(&dhcp4, "match-client-id").unwrap_or(true);
    let authoritative = reader.opt_bool(&dhcp4, "authoritative").unwrap_or(false);
    let inherited = Inherited {
        lifetimes,
        renew_timer,
        rebind_timer,
        next_server,
        server_hostname: None,
        boot_file_name: None,
        match_client_id,
        authoritative,
        reservation_modes: ReservationModes::default(),
    };
    let inherited = Inherited {
        next_server,
        ..read_global_defaults(reader, &dhcp4, &inherited)
    };
    let mut read_subnets = Vec::new();
    if let Some(list) = dhcp4.get("subnet4") {
        subnet::read_subnets(
            reader,
            list,
            "Dhcp4/subnet4",
            &inherited,
            None,
            &mut read_subnets,
        );
    }
    let shared_networks = match dhcp4.get("shared-networks") {
        Some(list) => crate::network::read_networks(
            reader,
            list,
            "Dhcp4/shared-networks",
            &inherited,
            &mut read_subnets,
        ),
        None => Vec::new(),
    };
    let subnets = read_subnets.into_iter().map(|read| read.subnet).collect();
    let reservations = match dhcp4.get("reservations") {
        Some(list) => subnet::read_reservations(reader, list, "Dhcp4/reservations", None),
        None => Vec::new(),
    };
    Some(Config {
        interfaces: read_interfaces(reader, &dhcp4),
        lease_database: read_lease_database(reader, &dhcp4),
        hosts_database: database::read_hosts_database(reader, &dhcp4),
        valid_lifetime,
        renew_timer,
        rebind_timer,
        decline_probation_period: reader
            .opt_integer(&dhcp4, "decline-probation-period")
            .unwrap_or(86_400),
        match_client_id,
        authoritative,
        next_server,
        options: option_data::read_field(reader, &dhcp4, "option-data"),
        subnets,
        expired_leases: read_expired_leases(reader, &dhcp4),
        multi_threading: read_multi_threading(reader, &dhcp4),
        loggers: read_loggers(reader, &dhcp4),
        shared_networks,
        client_classes,
        option_defs,
        host_reservation_identifiers: read_identifier_types(reader, &dhcp4),
        reservations,
        echo_client_id: reader.opt_bool(&dhcp4, "echo-client-id").unwrap_or(true),
        control: crate::control::read(reader, &dhcp4),
        raw,
    })
}

/// The global values of the keys subnets inherit that `Inherited::overridden_by` reads
/// (fixed fields and reservation modes); lifetimes are read above.
fn read_global_defaults(
    reader: &mut Reader<'_>,
    dhcp4: &Object<'_>,
    inherited: &Inherited,
) -> Inherited {
    let mut defaults = inherited.clone();
    if let Some(name) = subnet::read_fixed_field(reader, dhcp4, "server-hostname", 63) {
        defaults.server_hostname = Some(name).filter(|name| !name.is_empty());
    }
    if let Some(name) = subnet::read_fixed_field(reader, dhcp4, "boot-file-name", 127) {
        defaults.boot_file_name = Some(name).filter(|name| !name.is_empty());
    }
    let modes = &mut defaults.reservation_modes;
    for (key, flag) in [
        ("reservations-global", &mut modes.global),
        ("reservations-in-subnet", &mut modes.in_subnet),
        ("reservations-out-of-pool", &mut modes.out_of_pool),
    ] {
        if let Some(value) = reader.opt_bool(dhcp4, key) {
            *flag = value;
        }
    }
    defaults
}

/// Kea 2.2's default `host-reservation-identifiers`.
const DEFAULT_IDENTIFIERS: [IdentifierType; 4] = [
    IdentifierType::HwAddress,
    IdentifierType::Duid,
    IdentifierType::CircuitId,
    IdentifierType::ClientId,
];

/// `host-reservation-identifiers`: a non-empty list without repeats. `flex-id` needs Kea's
/// flex_id hook, which leasehold does not have.
fn read_identifier_types(reader: &mut Reader<'_>, dhcp4: &Object<'_>) -> Vec<IdentifierType> {
    let Some(node) = dhcp4.get("host-reservation-identifiers") else {
        return DEFAULT_IDENTIFIERS.to_vec();
    };
    let path = dhcp4.path_of("host-reservation-identifiers");
    let Some(elements) = reader.array(node, &path) else {
        return DEFAULT_IDENTIFIERS.to_vec();
    };
    let mut types = Vec::new();
    for (index, element) in elements.iter().enumerate() {
        let element_path = format!("{path}[{index}]");
        let Some(name) = reader.string(element, &element_path) else {
            continue;
        };
        let kind = match name {
            "hw-address" => IdentifierType::HwAddress,
            "duid" => IdentifierType::Duid,
            "circuit-id" => IdentifierType::CircuitId,
            "client-id" => IdentifierType::ClientId,
            "flex-id" => {
                let message = "'flex-id' needs the flex_id hook, which leasehold does not have";
                reader.report(element.offset, &element_path, message);
                continue;
            }
            other => {
                let message = format!(
                    "'{other}' is not a host identifier (hw-address, duid, circuit-id, client-id)"
                );
                reader.report(element.offset, &element_path, message);
                continue;
            }
        };
        if types.contains(&kind) {
            let message = format!("'{name}' is listed twice");
            reader.report(element.offset, &element_path, message);
            continue;
        }
        types.push(kind);
    }
    if types.is_empty() && !reader.has_problems() {
        reader.report(node.offset, &path, "at least one identifier type is needed");
    }
    types
}

/// The effective `valid-lifetime` and its bounds in one scope. Each key is
/// inherited on its own (global, then shared network, then subnet), as Kea
/// does; an unset bound is the lifetime itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lifetimes {
    /// `valid-lifetime`.
    pub(crate) valid: u32,
    /// `min-valid-lifetime`, if set here or above.
    pub(crate) min: Option<u32>,
    /// `max-valid-lifetime`, if set here or above.
    pub(crate) max: Option<u32>,
}

impl Lifetimes {
    /// The shortest lifetime a client may ask for.
    pub(crate) fn min(&self) -> u32 {
        self.min.unwrap_or(self.valid)
    }

    /// The longest lifetime a client may ask for.
    pub(crate) fn max(&self) -> u32 {
        self.max.unwrap_or(self.valid)
    }
}

/// `valid-lifetime`, `min-valid-lifetime` and `max-valid-lifetime` as
/// `object` sets them over `inherited`. Where the map sets any of the three,
/// the effective values must be ordered min <= valid <= max, as Kea checks;
/// an error is reported at a key the map sets.
pub(crate) fn read_lifetimes(
    reader: &mut Reader<'_>,
    object: &Object<'_>,
    inherited: Lifetimes,
) -> Lifetimes {
    let min: Option<u32> = reader.opt_integer(object, "min-valid-lifetime");
    let valid: Option<u32> = reader.opt_integer(object, "valid-lifetime");
    let max: Option<u32> = reader.opt_integer(object, "max-valid-lifetime");
    let effective = Lifetimes {
        valid: valid.unwrap_or(inherited.valid),
        min: min.or(inherited.min),
        max: max.or(inherited.max),
    };
    if min.is_none() && valid.is_none() && max.is_none() {
        return effective;
    }
    check_lifetime_order(
        reader,
        object,
        effective.min(),
        effective.valid,
        effective.max(),
    );
    effective
}

/// Reports where `min <= valid <= max` does not hold for the lifetime keys
/// of `object`, at the lower key when `object` sets it, else the higher.
pub(crate) fn check_lifetime_order(
    reader: &mut Reader<'_>,
    object: &Object<'_>,
    min: u32,
    valid: u32,
    max: u32,
) {
    let pairs = [
        (min, "min-valid-lifetime", valid, "valid-lifetime"),
        (valid, "valid-lifetime", max, "max-valid-lifetime"),
    ];
    for (low, low_key, high, high_key) in pairs {
        if low <= high {
            continue;
        }
        let key = if object.get(low_key).is_some() {
            low_key
        } else {
            high_key
        };
        let message = format!("{low_key} ({low}) is greater than {high_key} ({high})");
        reader.report_at(object, key, message);
    }
}

/// Kea refuses a `renew-timer` greater than the `rebind-timer` (checked here
/// on the effective values). It does not refuse timers at or above the valid
/// lifetime: it just leaves options 58/59 out of replies, and so must the
/// engine; those configurations load here too.
pub(crate) fn check_timers(
    reader: &mut Reader<'_>,
    object: &Object<'_>,
    renew: Option<u32>,
    rebind: Option<u32>,
) {
    let (Some(renew), Some(rebind)) = (renew, rebind) else {
        return;
    };
    if renew > rebind {
        let key = if object.get("renew-timer").is_some() {
            "renew-timer"
        } else {
            "rebind-timer"
        };
        let message = format!("renew-timer ({renew}) is greater than rebind-timer ({rebind})");
        reader.report_at(object, key, message);
    }
}

/// The map at `key`, keys checked; `None` when absent or not a map.
fn section<'n>(
    reader: &mut Reader<'_>,
    parent: &Object<'n>,
    key: &str,
    keys: &Keys<'_>,
    path: &'n str,
) -> Option<Object<'n>> {
    let node = parent.get(key)?;
    reader.object(node, path, keys)
}

fn read_interfaces(reader: &mut Reader<'_>, dhcp4: &Object<'_>) -> InterfacesConfig {
    let path = "Dhcp4/interfaces-config";
    let mut config = InterfacesConfig::default();
    let Some(object) = section(reader, dhcp4, "interfaces-config", &INTERFACES_KEYS, path) else {
        return config;
    };
    config.interfaces = read_interface_names(reader, &object);
    config.socket_type = match reader.opt_string(&object, "dhcp-socket-type") {
        None | Some("raw") => SocketType::Raw,
        Some("udp") => SocketType::Udp,
        Some(other) => {
            let message = format!("'{other}' is not a socket type (raw or udp)");
            reader.report_at(&object, "dhcp-socket-type", message);
            SocketType::Raw
        }
    };
    config.outbound_interface = match reader.opt_string(&object, "outbound-interface") {
        None | Some("same-as-inbound") => OutboundInterface::SameAsInbound,
        Some("use-routing") => OutboundInterface::UseRouting,
        Some(other) => {
            let message = format!("'{other}' is not same-as-inbound or use-routing");
            reader.report_at(&object, "outbound-interface", message);
            OutboundInterface::SameAsInbound
        }
    };
    // Accepted for compatibility; leasehold re-detects nothing and opens its
    // sockets once.
    reader.opt_bool(&object, "re-detect");
    reader.opt_bool(&object, "service-sockets-require-all");
    reader.opt_integer::<u32>(&object, "service-sockets-retry-wait-time");
    reader.opt_integer::<u32>(&object, "service-sockets-max-retries");
    config
}

/// `interfaces`: names, `*`, or `name/address`.
fn read_interface_names(reader: &mut Reader<'_>, object: &Object<'_>) -> Vec<String> {
    let Some(node) = object.get("interfaces") else {
        return Vec::new();
    };
    let path = object.path_of("interfaces");
    let Some(elements) = reader.array(node, &path) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for (index, element) in elements.iter().enumerate() {
        let element_path = format!("{path}[{index}]");
        let Some(name) = reader.string(element, &element_path) else {
            continue;
        };
        let (interface, address) = match name.split_once('/') {
            Some((interface, address)) => (interface, Some(address)),
            None => (name, None),
        };
        let bad_address =
            address.is_some_and(|address| address.parse::<std::net::Ipv4Addr>().is_err());
        if interface.is_empty() || bad_address {
            let message = format!("'{name}' is not an interface name or name/IPv4-address");
            reader.report(element.offset, &element_path, message);
            continue;
        }
        names.push(name.to_owned());
    }
    names
}

fn read_lease_database(reader: &mut Reader<'_>, dhcp4: &Object<'_>) -> LeaseDatabase {
    let mut memfile = Memfile {
        name: PathBuf::from(DEFAULT_LEASE_FILE),
        persist: true,
        lfc_interval: DEFAULT_LFC_INTERVAL,
    };
    let path = "Dhcp4/lease-database";
    let Some(node) = dhcp4.get("lease-database") else {
        return LeaseDatabase::Memfile(memfile);
    };
    match database::database_type(reader, node, path) {
        Some("memfile") => {}
        Some(kind @ ("postgresql" | "mysql")) => {
            let backend = match kind {
                "postgresql" => SqlBackend::Postgresql,
                _ => SqlBackend::Mysql,
            };
            return database::read_sql_database(reader, node, path, backend)
                .map_or(LeaseDatabase::Memfile(memfile), LeaseDatabase::Sql);
        }
        Some(kind) => {
            let message = match kind {
                "cql" => "lease database type 'cql' is not supported by leasehold".to_owned(),
                other => {
                    format!("'{other}' is not a lease database type (memfile, mysql or postgresql)")
                }
            };
            let type_path = format!("{path}/type");
            reader.report(database::type_offset(node), &type_path, message);
            return LeaseDatabase::Memfile(memfile);
        }
        None => return LeaseDatabase::Memfile(memfile),
    }
    let Some(object) = reader.object(node, path, &LEASE_DATABASE_KEYS) else {
        return LeaseDatabase::Memfile(memfile);
    };
    if let Some(name) = reader.opt_string(&object, "name") {
        memfile.name = PathBuf::from(name);
    }
    memfile.persist = reader.opt_bool(&object, "persist").unwrap_or(true);
    memfile.lfc_interval = reader
        .opt_integer(&object, "lfc-interval")
        .unwrap_or(DEFAULT_LFC_INTERVAL);
    reader.opt_integer::<u32>(&object, "max-row-errors");
    LeaseDatabase::Memfile(memfile)
}

fn read_expired_leases(reader: &mut Reader<'_>, dhcp4: &Object<'_>) -> ExpiredLeasesProcessing {
    let mut expired = ExpiredLeasesProcessing {
        reclaim_timer_wait_time: 10,
        flush_reclaimed_timer_wait_time: 25,
        hold_reclaimed_time: 3600,
        max_reclaim_leases: 100,
        max_reclaim_time: 250,
        unwarned_reclaim_cycles: 5,
    };
    let path = "Dhcp4/expired-leases-processing";
    let Some(object) = section(
        reader,
        dhcp4,
        "expired-leases-processing",
        &EXPIRED_KEYS,
        path,
    ) else {
        return expired;
    };
    // The limits are Kea's (cfg_expiration.cc).
    let mut field = |key: &str, limit: u32, value: &mut u32| {
        let Some(read) = reader.opt_integer::<u32>(&object, key) else {
            return;
        };
        if read > limit {
            reader.report_at(&object, key, format!("{read} is over the limit of {limit}"));
            return;
        }
        *value = read;
    };
    let u16_max = u32::from(u16::MAX);
    field(
        "reclaim-timer-wait-time",
        u16_max,
        &mut expired.reclaim_timer_wait_time,
    );
    field(
        "flush-reclaimed-timer-wait-time",
        u16_max,
        &mut expired.flush_reclaimed_timer_wait_time,
    );
    field(
        "hold-reclaimed-time",
        u32::MAX,
        &mut expired.hold_reclaimed_time,
    );
    field(
        "max-reclaim-leases",
        u32::MAX,
        &mut expired.max_reclaim_leases,
    );
    field("max-reclaim-time", 10_000, &mut expired.max_reclaim_time);
    field(
        "unwarned-reclaim-cycles",
        u16_max,
        &mut expired.unwarned_reclaim_cycles,
    );
    expired
}

/// `multi-threading`, with Kea 2.2's defaults (off, 0 threads, queue 64).
fn read_multi_threading(reader: &mut Reader<'_>, dhcp4: &Object<'_>) -> MultiThreading {
    let mut threading = MultiThreading {
        enabled: false,
        thread_pool_size: 0,
        packet_queue_size: 64,
    };
    let path = "Dhcp4/multi-threading";
    let Some(object) = section(
        reader,
        dhcp4,
        "multi-threading",
        &MULTI_THREADING_KEYS,
        path,
    ) else {
        return threading;
    };
    if let Some(enabled) = reader.opt_bool(&object, "enable-multi-threading") {
        threading.enabled = enabled;
    }
    if let Some(size) = reader.opt_integer::<u32>(&object, "thread-pool-size") {
        threading.thread_pool_size = size as usize;
    }
    if let Some(size) = reader.opt_integer::<u32>(&object, "packet-queue-size") {
        threading.packet_queue_size = size as usize;
    }
    threading
}

fn read_loggers(reader: &mut Reader<'_>, dhcp4: &Object<'_>) -> Vec<Logger> {
    let Some(node) = dhcp4.get("loggers") else {
        return Vec::new();
    };
    let path = "Dhcp4/loggers";
    let Some(elements) = reader.array(node, path) else {
        return Vec::new();
    };
    elements
        .iter()
        .enumerate()
        .filter_map(|(index, element)| read_logger(reader, element, &format!("{path}[{index}]")))
        .collect()
}

fn read_logger(reader: &mut Reader<'_>, node: &Node, path: &str) -> Option<Logger> {
    let object = reader.object(node, path, &LOGGER_KEYS)?;
    let name = reader.required(&object, "name");
    let name = name.and_then(|name| reader.string(name, &object.path_of("name")));
    let severity = match reader.opt_string(&object, "severity") {
        None => Some(Severity::Info),
        Some(text) => {
            let severity = parse_severity(text);
            if severity.is_none() {
                let message =
                    format!("'{text}' is not a severity (FATAL, ERROR, WARN, INFO, DEBUG, NONE)");
                reader.report_at(&object, "severity", message);
            }
            severity
        }
    };
    let debug_level = reader.opt_integer::<u8>(&object, "debuglevel");
    if debug_level.is_some_and(|level| level > 99) {
        reader.report_at(&object, "debuglevel", "debuglevel must be between 0 and 99");
    }
    let output = read_outputs(reader, &object);
    Some(Logger {
        name: name?.to_owned(),
        output,
        severity: severity?,
        debug_level: debug_level.unwrap_or(0),
    })
}

fn parse_severity(text: &str) -> Option<Severity> {
    let severity = match text.to_ascii_uppercase().as_str() {
        "FATAL" => Severity::Fatal,
        "ERROR" => Severity::Error,
        "WARN" => Severity::Warn,
        "INFO" => Severity::Info,
        "DEBUG" => Severity::Debug,
        "NONE" => Severity::None,
        _ => return None,
    };
    Some(severity)
}

/// Every `output_options` entry is checked; the first one is used.
fn read_outputs(reader: &mut Reader<'_>, logger: &Object<'_>) -> LogOutput {
    let key = if logger.get("output-options").is_some() {
        "output-options"
    } else {
        "output_options"
    };
    let Some(node) = logger.get(key) else {
        return LogOutput::Stdout;
    };
    let path = logger.path_of(key);
    let Some(elements) = reader.array(node, &path) else {
        return LogOutput::Stdout;
    };
    let mut outputs = Vec::new();
    for (index, element) in elements.iter().enumerate() {
        let element_path = format!("{path}[{index}]");
        let Some(object) = reader.object(element, &element_path, &OUTPUT_KEYS) else {
            continue;
        };
        reader.opt_bool(&object, "flush");
        reader.opt_integer::<u64>(&object, "maxsize");
        reader.opt_integer::<u32>(&object, "maxver");
        reader.opt_string(&object, "pattern");
        let Some(output) = reader.required(&object, "output") else {
            continue;
        };
        let Some(output) = reader.string(output, &object.path_of("output")) else {
            continue;
        };
        outputs.push(match output {
            "stdout" => LogOutput::Stdout,
            "stderr" => LogOutput::Stderr,
            syslog if syslog == "syslog" || syslog.starts_with("syslog:") => LogOutput::Syslog,
            file => LogOutput::File(PathBuf::from(file)),
        });
    }
    outputs.into_iter().next().unwrap_or(LogOutput::Stdout)
}
