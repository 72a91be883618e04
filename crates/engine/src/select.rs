//! Subnet selection indexes, built once per configuration so that choosing a
//! subnet costs the same with one subnet or thousands.
//!
//! Kea's order (`CfgSubnets4::selectSubnet`): the link selection sub-option
//! or subnet selection option; else a relay address listed by a subnet or
//! its shared network; else the subnet holding giaddr, ciaddr (or the
//! source address) or, for a direct client, the subnet or network bound to
//! the arrival interface and then the one holding the interface's address.
//! Every step skips subnets the client's classes do not allow.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use leasehold_config::Config;

/// Lookup tables from addresses and interface names to subnet positions in
/// [`Config::subnets`].
#[derive(Debug, Default)]
pub(crate) struct SubnetIndex {
    /// Network address of each subnet's prefix to its position (subnets do
    /// not overlap; the configuration refuses that).
    by_prefix: BTreeMap<u32, usize>,
    /// Relay address to the subnets accepting it, in configuration order.
    by_relay: HashMap<Ipv4Addr, Vec<usize>>,
    /// Interface name to the subnets bound to it, in configuration order.
    by_interface: HashMap<String, Vec<usize>>,
    /// Subnet id to position.
    by_id: HashMap<u32, usize>,
}

impl SubnetIndex {
    pub(crate) fn new(config: &Config) -> Self {
        let mut index = Self::default();
        for (position, subnet) in config.subnets.iter().enumerate() {
            index
                .by_prefix
                .insert(u32::from(subnet.prefix.network()), position);
            index.by_id.insert(subnet.id, position);
            let network = subnet
                .shared_network
                .and_then(|network| config.shared_networks.get(network));
            let network_relays = network.map_or(&[][..], |network| &network.relay_addresses);
            for &relay in network_relays.iter().chain(&subnet.relay_addresses) {
                let subnets = index.by_relay.entry(relay).or_default();
                if !subnets.contains(&position) {
                    subnets.push(position);
                }
            }
            let network_interface = network.and_then(|network| network.interface.as_ref());
            if let Some(name) = subnet.interface.as_ref().or(network_interface) {
                index
                    .by_interface
                    .entry(name.clone())
                    .or_default()
                    .push(position);
            }
        }
        index
    }

    /// The subnet whose prefix holds `address`.
    pub(crate) fn containing(&self, config: &Config, address: Ipv4Addr) -> Option<usize> {
        let (_, &position) = self.by_prefix.range(..=u32::from(address)).next_back()?;
        config.subnets[position]
            .prefix
            .contains(&address)
            .then_some(position)
    }

    /// Subnets accepting relay `address`.
    pub(crate) fn by_relay(&self, address: Ipv4Addr) -> &[usize] {
        self.by_relay.get(&address).map_or(&[], Vec::as_slice)
    }

    /// Subnets bound to interface `name`.
    pub(crate) fn by_interface(&self, name: &str) -> &[usize] {
        self.by_interface.get(name).map_or(&[], Vec::as_slice)
    }

    /// The subnet with `id`.
    pub(crate) fn by_id(&self, id: u32) -> Option<usize> {
        self.by_id.get(&id).copied()
    }
}
