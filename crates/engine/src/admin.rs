//! Lease administration and per-subnet statistics: what the control API's
//! `lease4-*`, `leases-reclaim`, `stat-lease4-get` and `statistic-*`
//! commands need from the lease tables.
//!
//! Every change returns the [`LeaseChange`]s the caller must make durable,
//! exactly as [`Engine::handle`] does for DHCP; nothing here writes a file.

use std::net::Ipv4Addr;

use leasehold_config::Subnet;
use leasehold_leases::{ClientId, HwAddr, Lease, LeaseChange, LeaseState};

use crate::engine::Engine;

/// Why a lease command cannot be carried out. The texts are Kea's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// `subnet-id` names no configured subnet.
    #[error("Invalid subnet-id: No IPv4 subnet with subnet-id={0} currently configured.")]
    NoSuchSubnet(u32),
    /// The address lies outside the subnet named by `subnet-id`.
    #[error("The address {address} does not belong to subnet {prefix}, subnet-id={id}")]
    OutsideSubnet {
        /// The lease's address.
        address: Ipv4Addr,
        /// The subnet's prefix.
        prefix: String,
        /// The subnet's id.
        id: u32,
    },
    /// No `subnet-id` was given and no subnet contains the address.
    #[error("subnet-id not specified and failed to find a subnet for address {0}")]
    NoSubnetFor(Ipv4Addr),
    /// `lease4-add` for an address that already has a lease.
    #[error("IPv4 lease already exists.")]
    Exists,
    /// `lease4-update` for an address without a lease.
    #[error(
        "failed to update the lease with address {0} either because the lease has been deleted \
         or it has changed in the database, in both cases a retry might succeed"
    )]
    NoSuchLease(Ipv4Addr),
}

/// Address counts of one subnet, as Kea's `subnet[ID].*` statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetStatistics {
    /// The subnet's `id`.
    pub id: u32,
    /// Addresses in its pools.
    pub total: u64,
    /// Leases in the assigned state (expired ones count until reclaimed,
    /// as in Kea).
    pub assigned: u64,
    /// Addresses declined and on probation.
    pub declined: u64,
    /// The same counts per pool, in configuration order.
    pub pools: Vec<PoolStatistics>,
}

/// Address counts of one pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStatistics {
    /// Addresses in the pool.
    pub total: u64,
    /// Leases in the assigned state.
    pub assigned: u64,
    /// Declined addresses.
    pub declined: u64,
}

impl Engine {
    /// The persisted lease of `address`, if any.
    pub fn lease(&self, address: Ipv4Addr) -> Option<Lease> {
        self.subnet_tables().find_map(|(_, table)| {
            let table = table.lock();
            let slot = table.slot(address)?;
            (!slot.offered).then(|| slot.lease.clone())
        })
    }

    /// Persisted leases of the subnets in `subnets` (all when `None`) that
    /// `keep` accepts, in address order.
    pub fn leases_where(
        &self,
        subnets: Option<&[u32]>,
        keep: impl Fn(&Lease) -> bool,
    ) -> Vec<Lease> {
        let mut found = Vec::new();
        for (subnet, table) in self.subnet_tables() {
            if subnets.is_some_and(|ids| !ids.contains(&subnet.id)) {
                continue;
            }
            found.extend(table.lock().leases().filter(|lease| keep(lease)).cloned());
        }
        found.sort_by_key(|lease| lease.address);
        found
    }

    /// The lease of the client with hardware address `hwaddr` in subnet `id`.
    pub fn lease_by_hwaddr(&self, id: u32, hwaddr: &HwAddr) -> Option<Lease> {
        let leases = self.leases_where(Some(&[id]), |lease| lease.hwaddr.as_ref() == Some(hwaddr));
        leases.into_iter().next()
    }

    /// The lease of the client with identifier `client_id` in subnet `id`.
    pub fn lease_by_client_id(&self, id: u32, client_id: &ClientId) -> Option<Lease> {
        let matches = |lease: &Lease| lease.client_id.as_ref() == Some(client_id);
        self.leases_where(Some(&[id]), matches).into_iter().next()
    }

    /// The subnet a lease for `address` belongs in: the one named by
    /// `subnet_id` (which must contain the address), else the one that
    /// contains it.
    pub fn lease_subnet(
        &self,
        address: Ipv4Addr,
        subnet_id: Option<u32>,
    ) -> Result<&Subnet, AdminError> {
        let Some(id) = subnet_id.filter(|&id| id != 0) else {
            return self
                .subnet_tables()
                .map(|(subnet, _)| subnet)
                .find(|subnet| subnet.prefix.contains(&address))
                .ok_or(AdminError::NoSubnetFor(address));
        };
        let subnet = self
            .subnet_tables()
            .map(|(subnet, _)| subnet)
            .find(|subnet| subnet.id == id)
            .ok_or(AdminError::NoSuchSubnet(id))?;
        if !subnet.prefix.contains(&address) {
            return Err(AdminError::OutsideSubnet {
                address,
                prefix: subnet.prefix.to_string(),
                id,
            });
        }
        Ok(subnet)
    }

    /// Adds `lease` (`lease4-add`); its `subnet_id` must already be resolved
    /// with [`Self::lease_subnet`]. An address only offered is taken over.
    pub fn add_lease(&self, lease: Lease) -> Result<LeaseChange, AdminError> {
        if self.lease(lease.address).is_some() {
            return Err(AdminError::Exists);
        }
        let table = self.table(lease.subnet_id)?;
        let mut table = table.lock();
        table.remove(lease.address);
        table.load(lease.clone());
        Ok(LeaseChange::Upsert(lease))
    }

    /// Replaces the lease of `lease.address` (`lease4-update`), or adds it
    /// when `force_create` is set. Returns whether it was added.
    pub fn update_lease(
        &self,
        lease: Lease,
        force_create: bool,
    ) -> Result<(bool, LeaseChange), AdminError> {
        let existing = self.lease(lease.address);
        if existing.is_none() && !force_create {
            return Err(AdminError::NoSuchLease(lease.address));
        }
        let target = self.table(lease.subnet_id)?;
        if let Some(old) = &existing {
            // The lease may move to another subnet.
            self.table(old.subnet_id)?.lock().remove(old.address);
        }
        let mut target = target.lock();
        target.remove(lease.address);
        target.load(lease.clone());
        Ok((existing.is_none(), LeaseChange::Upsert(lease)))
    }

    /// Deletes the lease of `address` (`lease4-del`).
    pub fn delete_lease(&self, address: Ipv4Addr) -> Option<LeaseChange> {
        self.subnet_tables().find_map(|(_, table)| {
            let mut table = table.lock();
            if table.slot(address)?.offered {
                return None;
            }
            table.remove(address).map(LeaseChange::Delete)
        })
    }

    /// Deletes every lease of subnet `id`, or of every subnet when `None`
    /// (`lease4-wipe`).
    pub fn wipe_leases(&self, id: Option<u32>) -> Vec<LeaseChange> {
        let mut changes = Vec::new();
        for (subnet, table) in self.subnet_tables() {
            if id.is_some_and(|id| id != subnet.id) {
                continue;
            }
            let mut table = table.lock();
            let addresses: Vec<Ipv4Addr> = table.leases().map(|lease| lease.address).collect();
            for address in addresses {
                changes.extend(table.remove(address).map(LeaseChange::Delete));
            }
        }
        changes
    }

    /// Address counts of every subnet, in configuration order.
    pub fn subnet_statistics(&self) -> Vec<SubnetStatistics> {
        self.subnet_tables()
            .map(|(subnet, table)| {
                let mut pools: Vec<PoolStatistics> = subnet
                    .pools
                    .iter()
                    .map(|pool| PoolStatistics {
                        total: u64::from(u32::from(pool.last))
                            .saturating_sub(u64::from(u32::from(pool.first)))
                            + 1,
                        ..PoolStatistics::default()
                    })
                    .collect();
                let (mut assigned, mut declined) = (0, 0);
                for lease in table.lock().leases() {
                    let pool = subnet
                        .pools
                        .iter()
                        .position(|pool| (pool.first..=pool.last).contains(&lease.address));
                    let counter = match lease.state {
                        LeaseState::Assigned => {
                            assigned += 1;
                            pool.map(|index| &mut pools[index].assigned)
                        }
                        LeaseState::Declined => {
                            declined += 1;
                            pool.map(|index| &mut pools[index].declined)
                        }
                        _ => None,
                    };
                    if let Some(counter) = counter {
                        *counter += 1;
                    }
                }
                SubnetStatistics {
                    id: subnet.id,
                    total: pools.iter().map(|pool| pool.total).sum(),
                    assigned,
                    declined,
                    pools,
                }
            })
            .collect()
    }

    fn table(
        &self,
        id: u32,
    ) -> Result<&parking_lot::Mutex<crate::table::SubnetLeases>, AdminError> {
        self.subnet_tables()
            .find(|(subnet, _)| subnet.id == id)
            .map(|(_, table)| table)
            .ok_or(AdminError::NoSuchSubnet(id))
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use leasehold_config::Config;
    use leasehold_leases::{HwAddr, Lease, LeaseChange, LeaseState};

    use super::AdminError;
    use crate::Engine;

    fn engine() -> Engine {
        let text = r#"{"Dhcp4": {
            "interfaces-config": {"interfaces": ["eth0"]},
            "subnet4": [{"id": 7, "subnet": "10.0.0.0/24",
                         "pools": [{"pool": "10.0.0.10 - 10.0.0.19"}, {"pool": "10.0.0.100/30"}]}]
        }}"#;
        let config = Config::parse(text, "<test>").expect("test configuration loads");
        Engine::new(config, Vec::new()).0
    }

    fn lease(address: [u8; 4]) -> Lease {
        Lease {
            address: Ipv4Addr::from(address),
            hwaddr: HwAddr::new(&[2, 0, 0, 0, 0, address[3]]),
            client_id: None,
            valid_lifetime: 3600,
            expire: 1_000_000,
            subnet_id: 7,
            fqdn_fwd: false,
            fqdn_rev: false,
            hostname: String::new(),
            state: LeaseState::Assigned,
            user_context: None,
        }
    }

    #[test]
    fn add_get_update_delete() {
        let engine = engine();
        let added = lease([10, 0, 0, 12]);
        assert_eq!(
            engine.add_lease(added.clone()),
            Ok(LeaseChange::Upsert(added.clone()))
        );
        assert_eq!(engine.add_lease(added.clone()), Err(AdminError::Exists));
        assert_eq!(engine.lease(added.address), Some(added.clone()));

        let mut changed = added.clone();
        changed.hostname = "renamed".into();
        assert_eq!(
            engine.update_lease(changed.clone(), false).map(|r| r.0),
            Ok(false)
        );
        assert_eq!(
            engine.lease(added.address).map(|l| l.hostname),
            Some("renamed".into())
        );

        assert_eq!(
            engine.delete_lease(added.address),
            Some(LeaseChange::Delete(changed))
        );
        assert_eq!(engine.lease(added.address), None);
        let missing = engine.update_lease(added.clone(), false);
        assert_eq!(missing, Err(AdminError::NoSuchLease(added.address)));
        assert_eq!(engine.update_lease(added, true).map(|r| r.0), Ok(true));
    }

    #[test]
    fn subnet_checks_use_kea_texts() {
        let engine = engine();
        let outside = engine
            .lease_subnet(Ipv4Addr::new(10, 0, 1, 1), Some(7))
            .unwrap_err();
        assert_eq!(
            outside.to_string(),
            "The address 10.0.1.1 does not belong to subnet 10.0.0.0/24, subnet-id=7"
        );
        let unknown = engine
            .lease_subnet(Ipv4Addr::new(10, 0, 0, 1), Some(9))
            .unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "Invalid subnet-id: No IPv4 subnet with subnet-id=9 currently configured."
        );
        let found = engine
            .lease_subnet(Ipv4Addr::new(10, 0, 0, 1), None)
            .map(|s| s.id);
        assert_eq!(found, Ok(7));
    }

    #[test]
    fn statistics_count_per_pool() {
        let engine = engine();
        engine.add_lease(lease([10, 0, 0, 10])).unwrap();
        engine.add_lease(lease([10, 0, 0, 101])).unwrap();
        let mut declined = lease([10, 0, 0, 11]);
        declined.state = LeaseState::Declined;
        engine.add_lease(declined).unwrap();
        let stats = &engine.subnet_statistics()[0];
        assert_eq!((stats.total, stats.assigned, stats.declined), (14, 2, 1));
        assert_eq!((stats.pools[0].total, stats.pools[0].assigned), (10, 1));
        assert_eq!((stats.pools[1].total, stats.pools[1].assigned), (4, 1));
        assert_eq!(engine.wipe_leases(Some(7)).len(), 3);
        assert_eq!(engine.subnet_statistics()[0].assigned, 0);
    }
}
