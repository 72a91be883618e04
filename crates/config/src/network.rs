//! `shared-networks`: subnets grouped per link, with values their subnets inherit.

use crate::json::Node;
use crate::model::SharedNetwork;
use crate::option_data;
use crate::reader::{Keys, Reader};
use crate::subnet::{self, Inherited, ReadSubnet};

const NETWORK_KEYS: Keys<'static> = Keys {
    supported: &[
        "name",
        "subnet4",
        "interface",
        "relay",
        "option-data",
        "client-class",
        "require-client-classes",
        "valid-lifetime",
        "min-valid-lifetime",
        "max-valid-lifetime",
        "renew-timer",
        "rebind-timer",
        "match-client-id",
        "authoritative",
        "next-server",
        "server-hostname",
        "boot-file-name",
        "reservations-global",
        "reservations-in-subnet",
        "reservations-out-of-pool",
    ],
    unsupported: &[
        "reservation-mode",
        "evaluate-additional-classes",
        "calculate-tee-times",
        "t1-percent",
        "t2-percent",
        "ddns-*",
        "hostname-char-set",
        "hostname-char-replacement",
        "store-extended-info",
        "cache-threshold",
        "cache-max-age",
        "allocator",
        "offer-lifetime",
        "metadata",
    ],
    annotations: true,
};

/// Reads `shared-networks`; their subnets go into `subnets`, after any read before.
pub(crate) fn read_networks(
    reader: &mut Reader<'_>,
    node: &Node,
    path: &str,
    inherited: &Inherited,
    subnets: &mut Vec<ReadSubnet>,
) -> Vec<SharedNetwork> {
    let Some(elements) = reader.array(node, path) else {
        return Vec::new();
    };
    let mut networks: Vec<SharedNetwork> = Vec::new();
    for (index, element) in elements.iter().enumerate() {
        let element_path = format!("{path}[{index}]");
        let Some(object) = reader.object(element, &element_path, &NETWORK_KEYS) else {
            continue;
        };
        let name = reader.required(&object, "name");
        let name = name.and_then(|name| reader.string(name, &object.path_of("name")));
        let Some(name) = name else {
            continue;
        };
        if name.is_empty() || networks.iter().any(|network| network.name == name) {
            let message = format!("shared network name '{name}' is empty or already used");
            let offset = object
                .get("name")
                .map_or(element.offset, |node| node.offset);
            reader.report(offset, &object.path_of("name"), message);
            continue;
        }
        let effective = inherited.overridden_by(reader, &object);
        let first = subnets.len();
        if let Some(list) = object.get("subnet4") {
            let list_path = object.path_of("subnet4");
            let position = Some(networks.len());
            subnet::read_subnets(reader, list, &list_path, &effective, position, subnets);
        }
        networks.push(SharedNetwork {
            name: name.to_owned(),
            subnets: (first..subnets.len()).collect(),
            relay_addresses: subnet::read_relay(reader, &object),
            interface: subnet::read_interface(reader, &object),
            options: option_data::read_field(reader, &object, "option-data"),
            client_class: subnet::read_class_name(reader, &object, "client-class"),
            require_client_classes: subnet::read_class_list(
                reader,
                &object,
                "require-client-classes",
            ),
            user_context: object.get("user-context").map(crate::json::to_serde),
        });
    }
    networks
}
