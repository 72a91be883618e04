//! Host reservations, indexed for lookup by the identifiers Kea uses
//! (`Dhcpv4Exchange::setHostIdentifiers`).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use leasehold_config::{HostIdentifier, IdentifierType, Reservation};

use crate::wire::Query;

/// Sub-option of option 82 carrying the circuit id (RFC 3046).
const CIRCUIT_ID_SUBOPTION: u8 = 1;
/// Client identifier type byte of an RFC 4361 identifier (IAID and DUID).
const DUID_CLIENT_ID_TYPE: u8 = 255;

/// One list of reservations (a subnet's, or the global one), indexed.
#[derive(Debug, Default)]
pub(crate) struct Reservations {
    all: Vec<Reservation>,
    by_identifier: HashMap<HostIdentifier, usize>,
    pub(crate) by_address: HashMap<Ipv4Addr, usize>,
}

impl Reservations {
    pub(crate) fn new(list: &[Reservation]) -> Self {
        let mut index = Self::default();
        for (position, reservation) in list.iter().enumerate() {
            index
                .by_identifier
                .insert(reservation.identifier.clone(), position);
            if let Some(address) = reservation.address {
                index.by_address.insert(address, position);
            }
        }
        index.all = list.to_vec();
        index
    }

    /// The reservation matching `query`, trying `identifiers` in order.
    pub(crate) fn find(
        &self,
        query: &Query,
        identifiers: &[IdentifierType],
    ) -> Option<&Reservation> {
        if self.all.is_empty() {
            return None;
        }
        identifiers
            .iter()
            .filter_map(|kind| identifier(query, *kind))
            .find_map(|id| self.by_identifier.get(&id))
            .and_then(|&position| self.all.get(position))
    }

    /// Whether `address` is reserved for a host other than `mine`.
    pub(crate) fn reserved_to_other(&self, address: Ipv4Addr, mine: Option<&Reservation>) -> bool {
        let Some(position) = self.by_address.get(&address) else {
            return false;
        };
        mine.is_none_or(|reservation| reservation.address != self.all[*position].address)
    }
}

/// The identifier of `kind` the query carries, if any.
fn identifier(query: &Query, kind: IdentifierType) -> Option<HostIdentifier> {
    let identifier = match kind {
        IdentifierType::HwAddress => {
            let bytes = query.chaddr.as_bytes();
            if bytes.is_empty() {
                return None;
            }
            HostIdentifier::HwAddress(bytes.to_vec())
        }
        IdentifierType::ClientId => {
            let bytes = query.client_id.as_ref()?.as_bytes();
            HostIdentifier::ClientId(bytes.to_vec())
        }
        IdentifierType::Duid => {
            let bytes = query.client_id.as_ref()?.as_bytes();
            if bytes.len() <= 5 || bytes[0] != DUID_CLIENT_ID_TYPE {
                return None;
            }
            HostIdentifier::Duid(bytes[5..].to_vec())
        }
        IdentifierType::CircuitId => {
            let bytes = query.relay_sub_option(CIRCUIT_ID_SUBOPTION)?;
            if bytes.is_empty() {
                return None;
            }
            HostIdentifier::CircuitId(bytes.to_vec())
        }
    };
    Some(identifier)
}
