//! The lease record, in the shape of Kea's `Lease4`.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// A client hardware address (`chaddr`), up to 16 bytes, without allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HwAddr {
    len: u8,
    bytes: [u8; 16],
}

impl HwAddr {
    /// Builds a hardware address from its bytes; `None` if longer than 16.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        let len = u8::try_from(bytes.len()).ok().filter(|&len| len <= 16)?;
        let mut buf = [0; 16];
        buf[..bytes.len()].copy_from_slice(bytes);
        Some(Self { len, bytes: buf })
    }

    /// The address bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// True for a zero-length address.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A DHCP client identifier (option 61), as the bytes the client sent.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(Box<[u8]>);

impl ClientId {
    /// Wraps the bytes of option 61.
    pub fn new(bytes: &[u8]) -> Self {
        Self(bytes.into())
    }

    /// The identifier bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A colon-separated hex string could not be read as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a colon-separated hex string")]
pub struct ParseIdentifierError(pub String);

/// Parses Kea's identifier notation: hex bytes separated by `:` (or `-` or
/// spaces), or a plain run of hex digits.
fn parse_hex(text: &str) -> Result<Vec<u8>, ParseIdentifierError> {
    let error = || ParseIdentifierError(text.to_owned());
    let has_separators = text.contains([':', '-', ' ']);
    if !has_separators {
        if text.len() % 2 == 1 {
            return Err(error());
        }
        return (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| error()))
            .collect();
    }
    text.split([':', '-', ' '])
        .map(|part| match part.len() {
            1 | 2 => u8::from_str_radix(part, 16).map_err(|_| error()),
            _ => Err(error()),
        })
        .collect()
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for (i, byte) in bytes.iter().enumerate() {
        if i > 0 {
            f.write_str(":")?;
        }
        write!(f, "{byte:02x}")?;
    }
    Ok(())
}

impl fmt::Display for HwAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, self.as_bytes())
    }
}

impl fmt::Debug for HwAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HwAddr({self})")
    }
}

impl FromStr for HwAddr {
    type Err = ParseIdentifierError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = parse_hex(text)?;
        Self::new(&bytes).ok_or_else(|| ParseIdentifierError(text.to_owned()))
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({self})")
    }
}

impl FromStr for ClientId {
    type Err = ParseIdentifierError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_hex(text).map(|bytes| Self(bytes.into()))
    }
}

/// Where a lease is in its life, with Kea's numeric codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LeaseState {
    /// Assigned to a client (Kea state 0).
    #[default]
    Assigned,
    /// Declined by a client and on probation (Kea state 1).
    Declined,
    /// Expired and reclaimed by the server (Kea state 2).
    ExpiredReclaimed,
}

impl LeaseState {
    /// Kea's numeric code for the state.
    pub fn code(self) -> u8 {
        match self {
            Self::Assigned => 0,
            Self::Declined => 1,
            Self::ExpiredReclaimed => 2,
        }
    }

    /// The state for a Kea numeric code.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Assigned),
            1 => Some(Self::Declined),
            2 => Some(Self::ExpiredReclaimed),
            _ => None,
        }
    }
}

/// An IPv4 lease, field for field what Kea's lease file and `lease4` table
/// hold. Times are seconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The leased address.
    pub address: Ipv4Addr,
    /// The client's hardware address, if known.
    pub hwaddr: Option<HwAddr>,
    /// The client identifier the client sent, if any.
    pub client_id: Option<ClientId>,
    /// Lifetime in seconds from the last transmission time.
    pub valid_lifetime: u32,
    /// When the lease expires: client last transmission time plus lifetime.
    pub expire: u64,
    /// The subnet the lease belongs to.
    pub subnet_id: u32,
    /// Forward DNS update done (kept for Kea compatibility).
    pub fqdn_fwd: bool,
    /// Reverse DNS update done (kept for Kea compatibility).
    pub fqdn_rev: bool,
    /// The client's host name, or empty.
    pub hostname: String,
    /// Life-cycle state.
    pub state: LeaseState,
    /// Kea `user-context`, as JSON text, if any.
    pub user_context: Option<String>,
}

impl Lease {
    /// The client last transmission time (`expire - valid_lifetime`).
    pub fn cltt(&self) -> u64 {
        self.expire.saturating_sub(u64::from(self.valid_lifetime))
    }

    /// True once the lease has run out at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        self.expire <= now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_round_trip_through_kea_notation() {
        let hw: HwAddr = "02:00:00:00:00:AA".parse().unwrap();
        assert_eq!(hw.as_bytes(), [2, 0, 0, 0, 0, 0xaa]);
        assert_eq!(hw.to_string(), "02:00:00:00:00:aa");
        let id: ClientId = "01-02-03".parse().unwrap();
        assert_eq!(id.to_string(), "01:02:03");
        let plain: ClientId = "0a0b".parse().unwrap();
        assert_eq!(plain.as_bytes(), [10, 11]);
    }

    #[test]
    fn bad_identifiers_are_refused() {
        assert!("zz:00".parse::<HwAddr>().is_err());
        assert!("abc".parse::<ClientId>().is_err());
        assert!(
            "0:1:2:3:4:5:6:7:8:9:a:b:c:d:e:f:10"
                .parse::<HwAddr>()
                .is_err()
        );
        assert!("123:4".parse::<ClientId>().is_err());
    }
}
