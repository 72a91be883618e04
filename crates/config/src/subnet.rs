//! `subnet4` entries: pools, reservations, relays and inherited lifetimes.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::json::Node;
use crate::model::{HostIdentifier, Pool, Reservation, ReservationModes, Subnet};
use crate::option_data;
use crate::options;
use crate::reader::{Keys, Object, Reader};

const SUBNET_KEYS: Keys<'static> = Keys {
    supported: &[
        "id",
        "subnet",
        "pools",
        "option-data",
        "reservations",
        "relay",
        "interface",
        "valid-lifetime",
        "min-valid-lifetime",
        "max-valid-lifetime",
        "renew-timer",
        "rebind-timer",
        "next-server",
        "client-class",
        "require-client-classes",
        "reservations-global",
        "reservations-in-subnet",
        "reservations-out-of-pool",
        "match-client-id",
        "authoritative",
        "server-hostname",
        "boot-file-name",
    ],
    unsupported: &[
        "client-classes",
        "evaluate-additional-classes",
        "reservation-mode",
        "4o6-interface",
        "4o6-interface-id",
        "4o6-subnet",
        "calculate-tee-times",
        "t1-percent",
        "t2-percent",
        "ddns-*",
        "hostname-char-set",
        "hostname-char-replacement",
        "store-extended-info",
        "metadata",
        "cache-threshold",
        "cache-max-age",
        "allocator",
        "offer-lifetime",
        "pd-pools",
    ],
    annotations: true,
};

const POOL_KEYS: Keys<'static> = Keys {
    supported: &[
        "pool",
        "option-data",
        "client-class",
        "require-client-classes",
    ],
    unsupported: &[
        "client-classes",
        "evaluate-additional-classes",
        "metadata",
        "pool-id",
    ],
    annotations: true,
};

const RESERVATION_KEYS: Keys<'static> = Keys {
    supported: &[
        "hw-address",
        "client-id",
        "circuit-id",
        "duid",
        "ip-address",
        "hostname",
        "option-data",
        "next-server",
        "server-hostname",
        "boot-file-name",
        "client-classes",
    ],
    unsupported: &["flex-id"],
    annotations: true,
};

const RELAY_KEYS: Keys<'static> = Keys {
    supported: &["ip-addresses", "ip-address"],
    unsupported: &[],
    annotations: false,
};

/// Values a subnet inherits when it does not set its own: global values,
/// overridden by its shared network's.
#[derive(Debug, Clone)]
pub(crate) struct Inherited {
    /// `valid-lifetime` with `min-valid-lifetime` and `max-valid-lifetime`.
    pub(crate) lifetimes: crate::dhcp4::Lifetimes,
    /// `renew-timer`.
    pub(crate) renew_timer: Option<u32>,
    /// `rebind-timer`.
    pub(crate) rebind_timer: Option<u32>,
    /// `next-server`.
    pub(crate) next_server: Option<Ipv4Addr>,
    /// `server-hostname`.
    pub(crate) server_hostname: Option<String>,
    /// `boot-file-name`.
    pub(crate) boot_file_name: Option<String>,
    /// `match-client-id`.
    pub(crate) match_client_id: bool,
    /// `authoritative`.
    pub(crate) authoritative: bool,
    /// `reservations-global`, `-in-subnet`, `-out-of-pool`.
    pub(crate) reservation_modes: ReservationModes,
}

impl Inherited {
    /// These values with the inheritable keys `object` sets itself.
    pub(crate) fn overridden_by(&self, reader: &mut Reader<'_>, object: &Object<'_>) -> Self {
        let mut next = self.clone();
        next.lifetimes = crate::dhcp4::read_lifetimes(reader, object, self.lifetimes);
        if let Some(renew) = reader.opt_integer(object, "renew-timer") {
            next.renew_timer = Some(renew);
        }
        if let Some(rebind) = reader.opt_integer(object, "rebind-timer") {
            next.rebind_timer = Some(rebind);
        }
        if let Some(address) = reader.opt_ipv4(object, "next-server") {
            next.next_server = Some(address).filter(|address| !address.is_unspecified());
        }
        if let Some(name) = read_fixed_field(reader, object, "server-hostname", 63) {
            next.server_hostname = Some(name).filter(|name| !name.is_empty());
        }
        if let Some(name) = read_fixed_field(reader, object, "boot-file-name", 127) {
            next.boot_file_name = Some(name).filter(|name| !name.is_empty());
        }
        let flag = |reader: &mut Reader<'_>, key: &str, value: &mut bool| {
            if let Some(read) = reader.opt_bool(object, key) {
                *value = read;
            }
        };
        flag(reader, "match-client-id", &mut next.match_client_id);
        flag(reader, "authoritative", &mut next.authoritative);
        let modes = &mut next.reservation_modes;
        flag(reader, "reservations-global", &mut modes.global);
        flag(reader, "reservations-in-subnet", &mut modes.in_subnet);
        flag(reader, "reservations-out-of-pool", &mut modes.out_of_pool);
        next
    }
}

/// `server-hostname` or `boot-file-name`: text that must fit the header's
/// `sname` (64) or `file` (128) field with its terminating NUL.
pub(crate) fn read_fixed_field(
    reader: &mut Reader<'_>,
    object: &Object<'_>,
    key: &str,
    limit: usize,
) -> Option<String> {
    let text = reader.opt_string(object, key)?;
    if text.len() > limit {
        let message = format!("{key} is longer than {limit} bytes");
        reader.report_at(object, key, message);
        return None;
    }
    Some(text.to_owned())
}

/// A subnet read so far, with where it was read, for the checks across all
/// subnets (top level and in shared networks).
pub(crate) struct ReadSubnet {
    pub(crate) subnet: Subnet,
    path: String,
}

/// Reads a `subnet4` list (top level or of shared network `network`) into
/// `all`, checking each subnet against those read before it.
pub(crate) fn read_subnets(
    reader: &mut Reader<'_>,
    node: &Node,
    path: &str,
    inherited: &Inherited,
    network: Option<usize>,
    all: &mut Vec<ReadSubnet>,
) {
    let Some(elements) = reader.array(node, path) else {
        return;
    };
    for (index, element) in elements.iter().enumerate() {
        let element_path = format!("{path}[{index}]");
        if let Some(mut subnet) = read_subnet(reader, element, &element_path, inherited) {
            subnet.shared_network = network;
            check_against_earlier(reader, &subnet, element, &element_path, all);
            all.push(ReadSubnet {
                subnet,
                path: element_path,
            });
        }
    }
}

/// Subnet ids must be unique. Kea only refuses two identical prefixes;
/// leasehold also refuses overlapping ones, since a lease address would then
/// belong to two subnets.
fn check_against_earlier(
    reader: &mut Reader<'_>,
    subnet: &Subnet,
    node: &Node,
    path: &str,
    earlier: &[ReadSubnet],
) {
    for read in earlier {
        let (other, other_path) = (&read.subnet, &read.path);
        if other.id == subnet.id {
            let message = format!("subnet id {} is already used by {other_path}", subnet.id);
            reader.report(node.offset, &format!("{path}/id"), message);
        }
        if other.prefix.contains(&subnet.prefix) || subnet.prefix.contains(&other.prefix) {
            let message = format!(
                "subnet {} overlaps {other_path} ({})",
                subnet.prefix, other.prefix
            );
            reader.report(node.offset, &format!("{path}/subnet"), message);
        }
    }
}

fn read_subnet(
    reader: &mut Reader<'_>,
    node: &Node,
    path: &str,
    inherited: &Inherited,
) -> Option<Subnet> {
    let object = reader.object(node, path, &SUBNET_KEYS)?;
    let id = read_id(reader, &object);
    let prefix = read_prefix(reader, &object);
    let pools = match (prefix, object.get("pools")) {
        (Some(prefix), Some(pools)) => read_pools(reader, pools, &object.path_of("pools"), prefix),
        _ => Vec::new(),
    };
    let reservations = match (prefix, object.get("reservations")) {
        (Some(prefix), Some(list)) => {
            read_reservations(reader, list, &object.path_of("reservations"), Some(prefix))
        }
        _ => Vec::new(),
    };
    let options = option_data::read_field(reader, &object, "option-data");
    let relay_addresses = read_relay(reader, &object);
    let interface = read_interface(reader, &object);
    let effective = inherited.overridden_by(reader, &object);
    let client_class = read_class_name(reader, &object, "client-class");
    let require_client_classes = read_class_list(reader, &object, "require-client-classes");
    let subnet = Subnet {
        id: id?,
        shared_network: None,
        client_class,
        require_client_classes,
        server_hostname: effective.server_hostname,
        boot_file_name: effective.boot_file_name,
        match_client_id: effective.match_client_id,
        authoritative: effective.authoritative,
        reservation_modes: effective.reservation_modes,
        prefix: prefix?,
        pools,
        options,
        reservations,
        relay_addresses,
        interface,
        valid_lifetime: effective.lifetimes.valid,
        min_valid_lifetime: effective.lifetimes.min(),
        max_valid_lifetime: effective.lifetimes.max(),
        renew_timer: effective.renew_timer,
        rebind_timer: effective.rebind_timer,
        next_server: effective.next_server,
        user_context: object.get("user-context").map(crate::json::to_serde),
    };
    crate::dhcp4::check_timers(reader, &object, subnet.renew_timer, subnet.rebind_timer);
    Some(subnet)
}

/// `id`: required by leasehold (Kea would number subnets itself, which
/// breaks lease files when subnets move), 1..=4294967294 as in Kea.
fn read_id(reader: &mut Reader<'_>, object: &Object<'_>) -> Option<u32> {
    let node = reader.required(object, "id")?;
    let path = object.path_of("id");
    let id: u32 = reader.integer(node, &path)?;
    if id == 0 || id == u32::MAX {
        reader.report(
            node.offset,
            &path,
            "subnet id must be between 1 and 4294967294",
        );
        return None;
    }
    Some(id)
}

/// `subnet`: an IPv4 prefix. As in Kea, host bits are accepted and ignored
/// (`192.0.2.1/24` is `192.0.2.0/24`).
fn read_prefix(reader: &mut Reader<'_>, object: &Object<'_>) -> Option<Ipv4Net> {
    let node = reader.required(object, "subnet")?;
    let path = object.path_of("subnet");
    let text = reader.string(node, &path)?;
    let Ok(prefix) = text.trim().parse::<Ipv4Net>() else {
        let message = format!("'{text}' is not an IPv4 prefix like 192.0.2.0/24");
        reader.report(node.offset, &path, message);
        return None;
    };
    Some(prefix.trunc())
}

/// A `client-class` name; empty means none, as in Kea.
pub(crate) fn read_class_name(
    reader: &mut Reader<'_>,
    object: &Object<'_>,
    key: &str,
) -> Option<String> {
    let name = reader.opt_string(object, key)?;
    (!name.is_empty()).then(|| name.to_owned())
}

/// A list of class names (`require-client-classes`, `client-classes`).
pub(crate) fn read_class_list(
    reader: &mut Reader<'_>,
    object: &Object<'_>,
    key: &str,
) -> Vec<String> {
    let Some(node) = object.get(key) else {
        return Vec::new();
    };
    let path = object.path_of(key);
    let Some(elements) = reader.array(node, &path) else {
        return Vec::new();
    };
    let mut names: Vec<String> = Vec::new();
    for (index, element) in elements.iter().enumerate() {
        let Some(name) = reader.string(element, &format!("{path}[{index}]")) else {
            continue;
        };
        if !name.is_empty() && !names.iter().any(|known| known == name) {
            names.push(name.to_owned());
        }
    }
    names
}

pub(crate) fn read_interface(reader: &mut Reader<'_>, object: &Object<'_>) -> Option<String> {
    let name = reader.opt_string(object, "interface")?;
    if name.is_empty() {
        return None;
    }
    Some(name.to_owned())
}

/// `relay`: `ip-addresses`, or Kea's older single `ip-address`.
pub(crate) fn read_relay(reader: &mut Reader<'_>, object: &Object<'_>) -> Vec<Ipv4Addr> {
    let Some(node) = object.get("relay") else {
        return Vec::new();
    };
    let relay_path = object.path_of("relay");
    let Some(relay) = reader.object(node, &relay_path, &RELAY_KEYS) else {
        return Vec::new();
    };
    if relay.get("ip-address").is_some() && relay.get("ip-addresses").is_some() {
        let message = "give either 'ip-address' or 'ip-addresses', not both";
        reader.report(node.offset, &relay_path, message);
        return Vec::new();
    }
    if let Some(address) = reader.opt_ipv4(&relay, "ip-address") {
        return vec![address];
    }
    let Some(list) = relay.get("ip-addresses") else {
        return Vec::new();
    };
    let list_path = relay.path_of("ip-addresses");
    let Some(elements) = reader.array(list, &list_path) else {
        return Vec::new();
    };
    elements
        .iter()
        .enumerate()
        .filter_map(|(index, element)| reader.ipv4(element, &format!("{list_path}[{index}]")))
        .collect()
}

fn read_pools(reader: &mut Reader<'_>, node: &Node, path: &str, prefix: Ipv4Net) -> Vec<Pool> {
    let Some(elements) = reader.array(node, path) else {
        return Vec::new();
    };
    let mut pools: Vec<Pool> = Vec::new();
    for (index, element) in elements.iter().enumerate() {
        let element_path = format!("{path}[{index}]");
        let Some(pool) = read_pool(reader, element, &element_path, prefix) else {
            continue;
        };
        let overlapping = pools
            .iter()
            .position(|other| pool.first <= other.last && other.first <= pool.last);
        if let Some(other) = overlapping {
            let message = format!(
                "pool {} - {} overlaps pools[{other}]",
                pool.first, pool.last
            );
            reader.report(element.offset, &format!("{element_path}/pool"), message);
            continue;
        }
        pools.push(pool);
    }
    pools
}

fn read_pool(reader: &mut Reader<'_>, node: &Node, path: &str, prefix: Ipv4Net) -> Option<Pool> {
    let object = reader.object(node, path, &POOL_KEYS)?;
    let options = option_data::read_field(reader, &object, "option-data");
    let client_class = read_class_name(reader, &object, "client-class");
    let require_client_classes = read_class_list(reader, &object, "require-client-classes");
    let pool_node = reader.required(&object, "pool")?;
    let pool_path = object.path_of("pool");
    let text = reader.string(pool_node, &pool_path)?;
    let Some((first, last)) = parse_range(text) else {
        let message = format!("'{text}' is not an address range");
        reader.report(pool_node.offset, &pool_path, message);
        return None;
    };
    if !prefix.contains(&first) || !prefix.contains(&last) {
        let message = format!("pool '{text}' is not inside subnet {prefix}");
        reader.report(pool_node.offset, &pool_path, message);
        return None;
    }
    Some(Pool {
        first,
        last,
        options,
        client_class,
        require_client_classes,
    })
}

/// `A - B` (spaces optional, `A <= B`) or `A/len` (the whole prefix).
fn parse_range(text: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
    if let Some((first, last)) = text.split_once('-') {
        let first: Ipv4Addr = first.trim().parse().ok()?;
        let last: Ipv4Addr = last.trim().parse().ok()?;
        return (first <= last).then_some((first, last));
    }
    let prefix: Ipv4Net = text.trim().parse().ok()?;
    Some((prefix.network(), prefix.broadcast()))
}

/// Reads a `reservations` list; `prefix` is the subnet's (`None` for global
/// reservations, whose addresses are not checked here).
pub(crate) fn read_reservations(
    reader: &mut Reader<'_>,
    node: &Node,
    path: &str,
    prefix: Option<Ipv4Net>,
) -> Vec<Reservation> {
    let Some(elements) = reader.array(node, path) else {
        return Vec::new();
    };
    let mut by_identifier: HashMap<HostIdentifier, usize> = HashMap::new();
    let mut by_address: HashMap<Ipv4Addr, usize> = HashMap::new();
    let mut reservations = Vec::new();
    for (index, element) in elements.iter().enumerate() {
        let element_path = format!("{path}[{index}]");
        let Some(reservation) = read_reservation(reader, element, &element_path, prefix) else {
            continue;
        };
        if let Some(first) = by_identifier.insert(reservation.identifier.clone(), index) {
            let message = format!("this host is already reserved by reservations[{first}]");
            reader.report(element.offset, &element_path, message);
        }
        let address = reservation.address;
        if let Some(first) = address.and_then(|address| by_address.insert(address, index)) {
            let message = format!(
                "{} is already reserved by reservations[{first}]",
                address.unwrap_or(Ipv4Addr::UNSPECIFIED)
            );
            reader.report(
                element.offset,
                &format!("{element_path}/ip-address"),
                message,
            );
        }
        reservations.push(reservation);
    }
    reservations
}

fn read_reservation(
    reader: &mut Reader<'_>,
    node: &Node,
    path: &str,
    prefix: Option<Ipv4Net>,
) -> Option<Reservation> {
    let object = reader.object(node, path, &RESERVATION_KEYS)?;
    let identifier = read_identifier(reader, &object);
    let address = read_reserved_address(reader, &object, prefix);
    let hostname = reader
        .opt_string(&object, "hostname")
        .filter(|name| !name.is_empty())
        .map(str::to_owned);
    let options = option_data::read_field(reader, &object, "option-data");
    let next_server = reader.opt_ipv4(&object, "next-server");
    let server_hostname = read_fixed_field(reader, &object, "server-hostname", 63);
    let boot_file_name = read_fixed_field(reader, &object, "boot-file-name", 127);
    let client_classes = read_class_list(reader, &object, "client-classes");
    Some(Reservation {
        identifier: identifier?,
        address: address?,
        hostname,
        options,
        next_server: next_server.filter(|address| !address.is_unspecified()),
        server_hostname: server_hostname.filter(|name| !name.is_empty()),
        boot_file_name: boot_file_name.filter(|name| !name.is_empty()),
        client_classes,
    })
}

/// `Some(None)` when no address is reserved; `None` after a problem.
fn read_reserved_address(
    reader: &mut Reader<'_>,
    object: &Object<'_>,
    prefix: Option<Ipv4Net>,
) -> Option<Option<Ipv4Addr>> {
    let Some(node) = object.get("ip-address") else {
        return Some(None);
    };
    let path = object.path_of("ip-address");
    let address = reader.ipv4(node, &path)?;
    if let Some(prefix) = prefix.filter(|prefix| !prefix.contains(&address)) {
        let message = format!("reserved address {address} is not inside subnet {prefix}");
        reader.report(node.offset, &path, message);
        return None;
    }
    Some(Some(address))
}

/// Exactly one of the identifier keys, decoded as Kea does: hex (with `:`
/// or spaces, or plain) or a text in single quotes (`'text'`).
fn read_identifier(reader: &mut Reader<'_>, object: &Object<'_>) -> Option<HostIdentifier> {
    const KINDS: [&str; 4] = ["hw-address", "client-id", "circuit-id", "duid"];
    let given: Vec<&str> = KINDS
        .into_iter()
        .filter(|kind| object.get(kind).is_some())
        .collect();
    let [kind] = given.as_slice() else {
        let message = format!(
            "a reservation needs exactly one of hw-address, client-id, circuit-id or duid \
             ({} given)",
            given.len()
        );
        reader.report(object.node.offset, object.path, message);
        return None;
    };
    let node = object.get(kind)?;
    let path = object.path_of(kind);
    let text = reader.string(node, &path)?;
    let bytes = match options::decode_hex_or_quoted(text) {
        Ok(bytes) if bytes.is_empty() => Err("an identifier cannot be empty".to_owned()),
        Ok(bytes) if *kind == "hw-address" && bytes.len() > 20 => {
            Err("a hardware address has at most 20 bytes".to_owned())
        }
        Ok(bytes) => Ok(bytes),
        Err(message) => Err(message),
    };
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err(message) => {
            reader.report(node.offset, &path, format!("invalid {kind}: {message}"));
            return None;
        }
    };
    Some(match *kind {
        "hw-address" => HostIdentifier::HwAddress(bytes),
        "client-id" => HostIdentifier::ClientId(bytes),
        "circuit-id" => HostIdentifier::CircuitId(bytes),
        _ => HostIdentifier::Duid(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let address = |text: &str| text.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            parse_range("10.0.0.10 - 10.0.0.20"),
            Some((address("10.0.0.10"), address("10.0.0.20")))
        );
        assert_eq!(
            parse_range("10.0.0.10-10.0.0.10"),
            Some((address("10.0.0.10"), address("10.0.0.10")))
        );
        assert_eq!(
            parse_range("10.0.0.0/30"),
            Some((address("10.0.0.0"), address("10.0.0.3")))
        );
        assert_eq!(parse_range("10.0.0.300 - 10.0.0.1"), None);
        assert_eq!(parse_range("10.0.0.20 - 10.0.0.10"), None);
        assert_eq!(parse_range("10.0.0.1"), None);
    }
}
