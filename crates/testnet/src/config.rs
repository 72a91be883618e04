//! The lab's Kea `Dhcp4` configuration, made for one [`TestNet`], and small edits to it.
//!
//! [`TestNet::lab_config`] returns `shared/lab/kea-lab.json` as a [`serde_json::Value`] with
//! the network's interface names, a lease file inside [`TestNet::dir`], and one addition: the
//! relayed subnet also accepts the harness's relay address [`HARNESS_RELAY_ADDR`]. Tests
//! change the value (the helpers below, or `serde_json` directly) and write it with
//! [`TestNet::write_config`].

use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::net::{HARNESS_RELAY_ADDR, RELAY_AGENT_ADDR, TestNet};

/// `id` of the lab subnet on the broadcast link, 198.51.100.0/24.
pub const BCAST_SUBNET_ID: u64 = 1;
/// `id` of the relayed lab subnet, 10.0.0.0/16.
pub const RELAY_SUBNET_ID: u64 = 2;
/// The hardware address the lab reserves 198.51.100.250 for.
pub const RESERVED_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xaa];
/// The address reserved for [`RESERVED_MAC`] on the broadcast subnet.
pub const RESERVED_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 250);

impl TestNet {
    /// The lease file the lab configuration names: `leases4.csv` in [`Self::dir`].
    pub fn lease_file(&self) -> PathBuf {
        self.dir().join("leases4.csv")
    }

    /// The lab configuration for this network (see the module documentation).
    pub fn lab_config(&self) -> Value {
        json!({
          "Dhcp4": {
            "interfaces-config": {
              "interfaces": [ self.relay_server_if(), self.bcast_server_if() ]
            },
            "lease-database": {
              "type": "memfile",
              "persist": true,
              "name": self.lease_file(),
              "lfc-interval": 0
            },
            "multi-threading": {
              "enable-multi-threading": true,
              "thread-pool-size": 2,
              "packet-queue-size": 64
            },
            "valid-lifetime": 4000,
            "renew-timer": 1000,
            "rebind-timer": 2000,
            "option-data": [
              { "name": "domain-name-servers", "data": "192.0.2.53, 192.0.2.54" },
              { "name": "domain-name", "data": "example.test" }
            ],
            "subnet4": [
              {
                "id": BCAST_SUBNET_ID,
                "subnet": "198.51.100.0/24",
                "interface": self.bcast_server_if(),
                "pools": [ { "pool": "198.51.100.10 - 198.51.100.200" } ],
                "option-data": [ { "name": "routers", "data": "198.51.100.1" } ],
                "reservations": [ {
                  "hw-address": crate::format_mac(&RESERVED_MAC),
                  "ip-address": RESERVED_ADDR.to_string(),
                  "hostname": "reserved-host"
                } ]
              },
              {
                "id": RELAY_SUBNET_ID,
                "subnet": "10.0.0.0/16",
                "relay": {
                  "ip-addresses": [ RELAY_AGENT_ADDR.to_string(), HARNESS_RELAY_ADDR.to_string() ]
                },
                "pools": [ { "pool": "10.0.0.10 - 10.0.255.250" } ],
                "option-data": [ { "name": "routers", "data": "10.0.0.1" } ]
              }
            ],
            "loggers": [ {
              "name": "kea-dhcp4",
              "output_options": [ { "output": "stdout" } ],
              "severity": "WARN"
            } ]
          }
        })
    }

    /// Writes `config` as `dhcp4-N.json` in [`Self::dir`] and returns its path.
    pub fn write_config(&self, config: &Value) -> Result<PathBuf> {
        let path = self.unique_path("dhcp4", "json");
        let text = serde_json::to_string_pretty(config).map_err(std::io::Error::other);
        text.and_then(|text| std::fs::write(&path, text))
            .map_err(|source| Error::file(&path, source))?;
        Ok(path)
    }
}

/// The subnet with `id` in a `Dhcp4` configuration.
///
/// # Panics
///
/// If there is no such subnet: a test asked for a subnet its own configuration lacks.
pub fn subnet_mut(config: &mut Value, id: u64) -> &mut Value {
    config["Dhcp4"]["subnet4"]
        .as_array_mut()
        .and_then(|subnets| subnets.iter_mut().find(|subnet| subnet["id"] == id))
        .unwrap_or_else(|| panic!("configuration has no subnet with id {id}"))
}

/// Adds a host reservation by hardware address to subnet `subnet_id`.
pub fn add_reservation(config: &mut Value, subnet_id: u64, mac: [u8; 6], address: Ipv4Addr) {
    let subnet = subnet_mut(config, subnet_id);
    let reservation = json!({
        "hw-address": crate::format_mac(&mac),
        "ip-address": address.to_string(),
    });
    match subnet["reservations"].as_array_mut() {
        Some(reservations) => reservations.push(reservation),
        None => subnet["reservations"] = json!([reservation]),
    }
}

/// Sets the global valid lifetime and renew and rebind timers (seconds).
pub fn set_lifetimes(config: &mut Value, valid: u32, renew: u32, rebind: u32) {
    let dhcp4 = &mut config["Dhcp4"];
    dhcp4["valid-lifetime"] = json!(valid);
    dhcp4["renew-timer"] = json!(renew);
    dhcp4["rebind-timer"] = json!(rebind);
}

/// Sets the severity of every logger, e.g. "DEBUG" when a test needs to see decisions.
pub fn set_log_severity(config: &mut Value, severity: &str) {
    let Some(loggers) = config["Dhcp4"]["loggers"].as_array_mut() else {
        return;
    };
    for logger in loggers {
        logger["severity"] = json!(severity);
    }
}
