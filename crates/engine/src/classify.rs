//! Client classification as Kea does it (`Dhcpv4Srv::classifyPacket` and
//! `requiredClassify`): built-in classes, then every class that is not
//! `only-if-required` in configuration order, then (after the host lookup)
//! `KNOWN` or `UNKNOWN` and the classes that depend on them, and last the
//! classes the chosen shared network, subnet and pool require.

use std::net::Ipv4Addr;

use leasehold_config::ClientClass;
use leasehold_config::expression::{PacketView, Pkt4Field, PktField};

use crate::engine::Arrival;
use crate::wire::{MessageType, Query, code};

/// The classes a query belongs to, in the order they were assigned (which is
/// the order their options and fixed fields are looked up in).
#[derive(Debug, Clone, Default)]
pub(crate) struct Classes {
    names: Vec<String>,
}

impl Classes {
    /// Whether the query is in class `name`.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.names.iter().any(|known| known == name)
    }

    /// Adds `name` unless it is there already.
    pub(crate) fn insert(&mut self, name: &str) {
        if !self.contains(name) {
            self.names.push(name.to_owned());
        }
    }

    /// The class names, in assignment order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// Whether a guard (`client-class` of a subnet, pool or network) lets
    /// the query in.
    pub(crate) fn allows(&self, guard: Option<&str>) -> bool {
        guard.is_none_or(|name| self.contains(name))
    }
}

/// The query as classification expressions see it.
struct View<'a> {
    query: &'a Query,
    arrival: &'a Arrival<'a>,
    classes: &'a Classes,
}

impl PacketView for View<'_> {
    fn option(&self, code: u8) -> Option<&[u8]> {
        self.query.option(code)
    }

    fn relay_sub_option(&self, code: u8) -> Option<&[u8]> {
        self.query.relay_sub_option(code)
    }

    fn pkt4(&self, field: Pkt4Field) -> Vec<u8> {
        let query = self.query;
        let number = |value: u32| value.to_be_bytes().to_vec();
        match field {
            Pkt4Field::Mac => query.chaddr.as_bytes().to_vec(),
            Pkt4Field::Hlen => number(query.chaddr.as_bytes().len() as u32),
            Pkt4Field::Htype => number(u32::from(query.htype)),
            Pkt4Field::Ciaddr => query.ciaddr.octets().to_vec(),
            Pkt4Field::Giaddr => query.giaddr.octets().to_vec(),
            Pkt4Field::Yiaddr | Pkt4Field::Siaddr => Ipv4Addr::UNSPECIFIED.octets().to_vec(),
            Pkt4Field::Msgtype => number(u32::from(message_code(query.message_type))),
            Pkt4Field::Transid => number(query.xid),
        }
    }

    fn pkt(&self, field: PktField) -> Vec<u8> {
        match field {
            PktField::Iface => self.arrival.interface.as_bytes().to_vec(),
            PktField::Src => self.arrival.source.ip().octets().to_vec(),
            PktField::Dst => self.arrival.local_address.octets().to_vec(),
            PktField::Len => (self.query.length as u32).to_be_bytes().to_vec(),
        }
    }

    fn is_member(&self, name: &str) -> bool {
        self.classes.contains(name)
    }
}

fn message_code(message_type: MessageType) -> u8 {
    match message_type {
        MessageType::Discover => 1,
        MessageType::Offer => 2,
        MessageType::Request => 3,
        MessageType::Decline => 4,
        MessageType::Ack => 5,
        MessageType::Nak => 6,
        MessageType::Release => 7,
        MessageType::Inform => 8,
    }
}

/// The first pass, before subnet selection: `ALL`, the vendor class, and
/// every class that neither is `only-if-required` nor depends on `KNOWN`.
pub(crate) fn first_pass(query: &Query, arrival: &Arrival<'_>, defs: &[ClientClass]) -> Classes {
    let mut classes = Classes::default();
    classes.insert("ALL");
    if let Some(vendor) = query.option(code::VENDOR_CLASS_IDENTIFIER) {
        classes.insert(&format!("VENDOR_CLASS_{}", String::from_utf8_lossy(vendor)));
    }
    evaluate(query, arrival, defs, &mut classes, false);
    classes
}

/// The second pass, after the host lookup: `KNOWN` or `UNKNOWN`, the host's
/// own classes, then the classes whose test depends on those.
pub(crate) fn second_pass(
    query: &Query,
    arrival: &Arrival<'_>,
    defs: &[ClientClass],
    classes: &mut Classes,
    host_classes: &[String],
    known: bool,
) {
    for name in host_classes {
        classes.insert(name);
    }
    classes.insert(if known { "KNOWN" } else { "UNKNOWN" });
    evaluate(query, arrival, defs, classes, true);
}

fn evaluate(
    query: &Query,
    arrival: &Arrival<'_>,
    defs: &[ClientClass],
    classes: &mut Classes,
    depending_on_known: bool,
) {
    for def in defs {
        if def.only_if_required || def.depends_on_known != depending_on_known {
            continue;
        }
        let Some(test) = &def.test else {
            continue;
        };
        let view = View {
            query,
            arrival,
            classes,
        };
        if test.evaluate(&view) {
            classes.insert(&def.name);
        }
    }
}

/// Required classification: each class named in `required` (network's,
/// then subnet's, then pool's lists) joins when its test holds.
pub(crate) fn required<'n, 'd>(
    query: &Query,
    arrival: &Arrival<'_>,
    find: impl Fn(&str) -> Option<&'d ClientClass>,
    classes: &mut Classes,
    required: impl Iterator<Item = &'n String>,
) {
    let mut names: Vec<&str> = Vec::new();
    for name in required {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    for name in names {
        let Some(def) = find(name) else {
            continue;
        };
        // Kea 2.2 skips a required class without a test (later versions
        // assign it); such a class never contributes options.
        let Some(test) = &def.test else {
            continue;
        };
        let view = View {
            query,
            arrival,
            classes,
        };
        if test.evaluate(&view) {
            classes.insert(name);
        }
    }
}
