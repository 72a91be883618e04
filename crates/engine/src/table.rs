//! The in-memory lease table of one subnet: who holds which address, and
//! which address to hand out next.
//!
//! The table is the engine's authority on allocation. It holds assigned
//! leases, declined addresses on probation, and short-lived offers (an
//! address promised in a DHCPOFFER, held so that two clients discovering at
//! once are never offered the same address). Offers are never persisted.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::Ipv4Addr;

use leasehold_config::Pool;
use leasehold_leases::{ClientId, HwAddr, Lease, LeaseState};

/// Who a client is: its hardware address and, when it sends one and
/// `match-client-id` is on, its client identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Client {
    /// `chaddr`.
    pub hwaddr: HwAddr,
    /// Option 61, unless `match-client-id` is off.
    pub client_id: Option<ClientId>,
}

/// One address in the table.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub(crate) lease: Lease,
    /// True while the address is only offered: `lease.expire` is then the end
    /// of the hold, and nothing of it has been persisted.
    pub(crate) offered: bool,
}

impl Slot {
    /// Kea's rule for whether a lease belongs to a client: the client
    /// identifiers match, or, when either side has none, the hardware
    /// addresses do. Declined and reclaimed leases belong to nobody.
    pub(crate) fn belongs_to(&self, client: &Client) -> bool {
        let lease = &self.lease;
        if lease.state != LeaseState::Assigned {
            return false;
        }
        match (&client.client_id, &lease.client_id) {
            (Some(theirs), Some(ours)) if theirs == ours => true,
            (Some(_), Some(_)) => false,
            _ => lease.hwaddr.is_some_and(|hwaddr| hwaddr == client.hwaddr),
        }
    }

    /// True when the address cannot go to `client` at `now`.
    fn is_held_against(&self, client: &Client, now: u64) -> bool {
        !self.lease.is_expired(now) && !self.belongs_to(client)
    }
}

/// Where free-address searches start, as set by [`set_allocation_seed`].
static ALLOCATION_SEED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Makes this process start its free-address searches at a point in each
/// pool derived from `seed` instead of the pool's first address. Servers
/// sharing a lease database each pick their own seed, so they rarely offer
/// the same address at once; the database settles the rare collision. 0
/// (the default) starts at the first address, as Kea's iterative
/// allocator does.
pub fn set_allocation_seed(seed: u32) {
    ALLOCATION_SEED.store(seed, std::sync::atomic::Ordering::Relaxed);
}

/// The lease table of one subnet.
///
/// Slots live in one dense vector and the indexes map to positions in it:
/// with a million leases a hash map of whole slots would round up to two
/// million buckets of slot size, while these indexes cost a few bytes per
/// bucket. The client indexes are keyed by a 64-bit hash of the identifier
/// instead of a copy of it; a lookup always checks the slot it finds, so a
/// hash collision can only cost a client its index entry, never another
/// client's lease.
#[derive(Debug, Default)]
pub(crate) struct SubnetLeases {
    slots: Vec<Slot>,
    by_address: FastMap<Ipv4Addr, u32>,
    by_client_id: FastMap<u64, Ipv4Addr>,
    by_hwaddr: FastMap<u64, Ipv4Addr>,
    /// Per pool, the offset at which the next free-address search starts.
    cursors: Vec<u32>,
}

/// Hash maps of the lease table: foldhash is several times faster than
/// the standard SipHash on these small keys, and still seeded per process.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The index key of a client identifier or hardware address.
fn key(identifier: &impl Hash) -> u64 {
    static HASHER: std::sync::LazyLock<foldhash::quality::RandomState> =
        std::sync::LazyLock::new(foldhash::quality::RandomState::default);
    HASHER.hash_one(identifier)
}

impl SubnetLeases {
    /// Makes room for `additional` more leases, so loading a large lease
    /// file allocates once.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.slots.reserve_exact(additional);
        self.by_address.reserve(additional);
        self.by_client_id.reserve(additional);
        self.by_hwaddr.reserve(additional);
    }

    /// Adds a lease read from storage. A later lease for the same client
    /// replaces the client's earlier one in the client indexes.
    pub(crate) fn load(&mut self, lease: Lease) {
        self.insert(Slot {
            lease,
            offered: false,
        });
    }

    fn insert(&mut self, slot: Slot) {
        let lease = &slot.lease;
        let address = lease.address;
        if lease.state == LeaseState::Assigned {
            if let Some(client_id) = &lease.client_id {
                self.by_client_id.insert(key(client_id), address);
            }
            if let Some(hwaddr) = &lease.hwaddr {
                self.by_hwaddr.insert(key(hwaddr), address);
            }
        }
        match self.by_address.get(&address) {
            Some(&position) => self.slots[position as usize] = slot,
            None => {
                let position = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
                self.slots.push(slot);
                self.by_address.insert(address, position);
            }
        }
    }

    /// The address `client` holds or was offered, if its slot is still
    /// there (it may have expired). Looks by client identifier first, then
    /// by hardware address, as Kea does.
    pub(crate) fn address_of(&self, client: &Client) -> Option<Ipv4Addr> {
        let by_id = client
            .client_id
            .as_ref()
            .and_then(|id| self.by_client_id.get(&key(id)));
        let by_hwaddr = self.by_hwaddr.get(&key(&client.hwaddr));
        [by_id, by_hwaddr]
            .into_iter()
            .flatten()
            .find(|address| self.slot(**address).is_some_and(|s| s.belongs_to(client)))
            .copied()
    }

    /// The slot of `address`, if any.
    pub(crate) fn slot(&self, address: Ipv4Addr) -> Option<&Slot> {
        let position = *self.by_address.get(&address)?;
        self.slots.get(position as usize)
    }

    /// True when `address` may go to `client` at `now`.
    pub(crate) fn is_available(&self, address: Ipv4Addr, client: &Client, now: u64) -> bool {
        self.slot(address)
            .is_none_or(|slot| !slot.is_held_against(client, now))
    }

    /// Finds a free address in the `pools` that `is_allowed` lets the client
    /// use, skipping addresses `is_reserved` names.
    pub(crate) fn find_free(
        &mut self,
        pools: &[Pool],
        client: &Client,
        now: u64,
        is_allowed: impl Fn(&Pool) -> bool,
        is_reserved: impl Fn(Ipv4Addr) -> bool,
    ) -> Option<Ipv4Addr> {
        if self.cursors.len() < pools.len() {
            let seed = ALLOCATION_SEED.load(std::sync::atomic::Ordering::Relaxed);
            let first_new = self.cursors.len();
            // Each pool starts at its own point along the seed.
            self.cursors
                .extend((first_new..pools.len()).map(|index| match seed {
                    0 => 0,
                    seed => seed.wrapping_mul(2_654_435_761) ^ (index as u32).wrapping_mul(40_503),
                }));
        }
        for (index, pool) in pools.iter().enumerate() {
            if !is_allowed(pool) {
                continue;
            }
            let first = u32::from(pool.first);
            let size = u32::from(pool.last).saturating_sub(first).saturating_add(1);
            let start = self.cursors[index] % size;
            for step in 0..size {
                let offset = (start + step) % size;
                let candidate = Ipv4Addr::from(first + offset);
                if is_reserved(candidate) || !self.is_available(candidate, client, now) {
                    continue;
                }
                self.cursors[index] = offset.wrapping_add(1);
                return Some(candidate);
            }
        }
        None
    }

    /// Records `lease` for `client`, replacing whatever held its address
    /// and the client's previous slot. Returns the lease the client held
    /// before at another address, if it had one that was persisted.
    pub(crate) fn put(&mut self, lease: Lease, client: &Client, offered: bool) -> Option<Lease> {
        let previous = match self.address_of(client) {
            Some(old) if old != lease.address => self.remove(old),
            _ => None,
        };
        self.remove(lease.address);
        self.insert(Slot { lease, offered });
        previous
    }

    /// Removes the lease of `address`, returning it if it was persisted.
    pub(crate) fn remove(&mut self, address: Ipv4Addr) -> Option<Lease> {
        let position = self.by_address.remove(&address)? as usize;
        let slot = self.slots.swap_remove(position);
        if let Some(moved) = self.slots.get(position) {
            self.by_address.insert(moved.lease.address, position as u32);
        }
        if let Some(client_id) = &slot.lease.client_id {
            let key = key(client_id);
            if self.by_client_id.get(&key) == Some(&address) {
                self.by_client_id.remove(&key);
            }
        }
        if let Some(hwaddr) = &slot.lease.hwaddr {
            let key = key(hwaddr);
            if self.by_hwaddr.get(&key) == Some(&address) {
                self.by_hwaddr.remove(&key);
            }
        }
        (!slot.offered).then_some(slot.lease)
    }

    /// Drops an offer `client` did not take up.
    pub(crate) fn withdraw_offer(&mut self, client: &Client) {
        let Some(address) = self.address_of(client) else {
            return;
        };
        if self.slot(address).is_some_and(|slot| slot.offered) {
            self.remove(address);
        }
    }

    /// Marks `address` declined until `until`, forgetting its client.
    pub(crate) fn decline(&mut self, address: Ipv4Addr, probation: u32, now: u64) -> Option<Lease> {
        let mut lease = self.remove(address)?;
        lease.hwaddr = None;
        lease.client_id = None;
        lease.hostname.clear();
        lease.state = LeaseState::Declined;
        lease.valid_lifetime = probation;
        lease.expire = now + u64::from(probation);
        self.insert(Slot {
            lease: lease.clone(),
            offered: false,
        });
        Some(lease)
    }

    /// Every persisted lease in the table.
    pub(crate) fn leases(&self) -> impl Iterator<Item = &Lease> {
        self.slots
            .iter()
            .filter(|slot| !slot.offered)
            .map(|slot| &slot.lease)
    }

    /// Drops expired offers and marks expired leases reclaimed, returning
    /// the leases whose state changed (at most `limit`).
    pub(crate) fn reclaim(&mut self, now: u64, limit: usize) -> Vec<Lease> {
        let expired: Vec<Ipv4Addr> = self
            .slots
            .iter()
            .filter(|slot| slot.lease.is_expired(now))
            .filter(|slot| slot.lease.state != LeaseState::ExpiredReclaimed)
            .map(|slot| slot.lease.address)
            .take(limit)
            .collect();
        let mut reclaimed = Vec::new();
        for address in expired {
            let Some(mut lease) = self.remove(address) else {
                continue;
            };
            lease.state = LeaseState::ExpiredReclaimed;
            lease.hostname.clear();
            self.insert(Slot {
                lease: lease.clone(),
                offered: false,
            });
            reclaimed.push(lease);
        }
        reclaimed
    }

    /// Number of addresses assigned to clients and not expired at `now`.
    pub(crate) fn assigned(&self, now: u64) -> usize {
        self.slots
            .iter()
            .filter(|slot| !slot.offered && slot.lease.state == LeaseState::Assigned)
            .filter(|slot| !slot.lease.is_expired(now))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(last: u8, mac: u8) -> Lease {
        Lease {
            address: Ipv4Addr::new(10, 0, 0, last),
            hwaddr: HwAddr::new(&[2, 0, 0, 0, 0, mac]),
            client_id: Some(ClientId::new(&[1, mac])),
            valid_lifetime: 100,
            expire: 1_000,
            subnet_id: 1,
            fqdn_fwd: false,
            fqdn_rev: false,
            hostname: String::new(),
            state: LeaseState::Assigned,
            user_context: None,
        }
    }

    fn client(mac: u8) -> Client {
        Client {
            hwaddr: HwAddr::new(&[2, 0, 0, 0, 0, mac]).unwrap(),
            client_id: Some(ClientId::new(&[1, mac])),
        }
    }

    #[test]
    fn removal_keeps_every_other_slot_reachable() {
        let mut table = SubnetLeases::default();
        for n in 1..=5 {
            table.load(lease(n, n));
        }
        assert_eq!(
            table
                .remove(Ipv4Addr::new(10, 0, 0, 1))
                .unwrap()
                .address
                .octets()[3],
            1
        );
        assert_eq!(
            table
                .remove(Ipv4Addr::new(10, 0, 0, 3))
                .unwrap()
                .address
                .octets()[3],
            3
        );
        assert!(table.slot(Ipv4Addr::new(10, 0, 0, 1)).is_none());
        for n in [2, 4, 5] {
            let address = Ipv4Addr::new(10, 0, 0, n);
            assert_eq!(table.slot(address).unwrap().lease.address, address);
            assert_eq!(table.address_of(&client(n)), Some(address));
        }
        assert_eq!(table.address_of(&client(1)), None);
        assert_eq!(table.leases().count(), 3);
    }

    #[test]
    fn replacing_a_slot_moves_the_client_index() {
        let mut table = SubnetLeases::default();
        table.load(lease(1, 1));
        let previous = table.put(lease(2, 1), &client(1), false);
        assert_eq!(
            previous.map(|l| l.address),
            Some(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert_eq!(
            table.address_of(&client(1)),
            Some(Ipv4Addr::new(10, 0, 0, 2))
        );
        assert_eq!(table.leases().count(), 1);
    }
}
