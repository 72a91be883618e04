//! An independent reader of Kea's memfile lease file (`leases4.csv`), for assertions.
//!
//! It does not share code with the server under test on purpose. The file is a log: each line
//! is the newest state of the lease for its address, a later line replaces an earlier one, and
//! a line with `valid_lifetime` 0 means the lease was deleted. Columns are found by the header
//! line, so Kea's versions with more columns (`pool_id`) read the same.
//!
//! Lines that cannot be read (a write torn by `kill -9`, say) are kept in
//! [`LeaseFile::malformed`] rather than failing the read, so a test can decide.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

use crate::error::{Error, Result};

/// The newest state of one lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRecord {
    /// `address`.
    pub address: Ipv4Addr,
    /// `hwaddr`, lower case with colons, as Kea writes it.
    pub hwaddr: String,
    /// `client_id`, possibly empty.
    pub client_id: String,
    /// `valid_lifetime`, seconds.
    pub valid_lifetime: u64,
    /// `expire`, Unix time.
    pub expire: u64,
    /// `subnet_id`.
    pub subnet_id: u32,
    /// `hostname`, possibly empty.
    pub hostname: String,
    /// `state`: 0 default, 1 declined, 2 expired-reclaimed.
    pub state: u32,
}

/// The live leases of a lease file.
#[derive(Clone, Debug, Default)]
pub struct LeaseFile {
    /// Leases by address, deleted ones left out.
    pub leases: BTreeMap<Ipv4Addr, LeaseRecord>,
    /// Lines that were not a lease (other than the header).
    pub malformed: Vec<String>,
}

impl LeaseFile {
    /// Reads `path`; a file that does not exist reads as empty.
    pub fn read(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Self::parse(&text)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(Error::file(path, source)),
        }
    }

    /// Reads the text of a lease file.
    pub fn parse(text: &str) -> Self {
        let mut file = Self::default();
        let mut columns = Columns::default();
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            if line.starts_with("address,") {
                columns = Columns::from_header(line);
                continue;
            }
            let Some(record) = columns.record(line) else {
                file.malformed.push(line.to_owned());
                continue;
            };
            if record.valid_lifetime == 0 {
                file.leases.remove(&record.address);
            } else {
                file.leases.insert(record.address, record);
            }
        }
        file
    }

    /// How many live leases there are.
    pub fn len(&self) -> usize {
        self.leases.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.leases.is_empty()
    }

    /// The lease on `address`.
    pub fn get(&self, address: Ipv4Addr) -> Option<&LeaseRecord> {
        self.leases.get(&address)
    }

    /// The leases of hardware address `mac`.
    pub fn by_mac(&self, mac: [u8; 6]) -> Vec<&LeaseRecord> {
        let mac = crate::format_mac(&mac);
        self.leases
            .values()
            .filter(|lease| lease.hwaddr == mac)
            .collect()
    }

    /// The leases of subnet `subnet_id`.
    pub fn in_subnet(&self, subnet_id: u32) -> Vec<&LeaseRecord> {
        self.leases
            .values()
            .filter(|lease| lease.subnet_id == subnet_id)
            .collect()
    }
}

/// Column positions, by name from the header (Kea 2.x order until a header says otherwise).
#[derive(Debug)]
struct Columns {
    address: usize,
    hwaddr: usize,
    client_id: usize,
    valid_lifetime: usize,
    expire: usize,
    subnet_id: usize,
    hostname: usize,
    state: usize,
}

impl Default for Columns {
    fn default() -> Self {
        Self::from_header(
            "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,\
             hostname,state,user_context",
        )
    }
}

impl Columns {
    fn from_header(header: &str) -> Self {
        let names: Vec<&str> = header.split(',').map(str::trim).collect();
        let position = |name: &str, fallback: usize| {
            names
                .iter()
                .position(|column| *column == name)
                .unwrap_or(fallback)
        };
        Self {
            address: position("address", 0),
            hwaddr: position("hwaddr", 1),
            client_id: position("client_id", 2),
            valid_lifetime: position("valid_lifetime", 3),
            expire: position("expire", 4),
            subnet_id: position("subnet_id", 5),
            hostname: position("hostname", 8),
            state: position("state", 9),
        }
    }

    fn record(&self, line: &str) -> Option<LeaseRecord> {
        let fields: Vec<&str> = line.split(',').collect();
        let field = |index: usize| fields.get(index).copied();
        Some(LeaseRecord {
            address: field(self.address)?.parse().ok()?,
            hwaddr: field(self.hwaddr)?.to_ascii_lowercase(),
            client_id: field(self.client_id)?.to_owned(),
            valid_lifetime: field(self.valid_lifetime)?.parse().ok()?,
            expire: field(self.expire)?.parse().ok()?,
            subnet_id: field(self.subnet_id)?.parse().ok()?,
            hostname: field(self.hostname).unwrap_or("").to_owned(),
            state: field(self.state)
                .and_then(|state| state.parse().ok())
                .unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context
10.0.0.10,02:00:00:00:00:01,,4000,1700004000,2,0,0,,0,
10.0.0.11,02:00:00:00:00:02,,4000,1700004000,2,0,0,,0,
10.0.0.10,02:00:00:00:00:01,,4000,1700005000,2,0,0,,0,
10.0.0.11,02:00:00:00:00:02,,0,1700004000,2,0,0,,0,
198.51.100.250,02:00:00:00:00:AA,01:02:00:00:00:00:aa,4000,1700004000,1,0,0,reserved-host,0,
10.0.0.12,02:00:00:00
";

    #[test]
    fn later_lines_win_and_zero_lifetime_deletes() {
        let file = LeaseFile::parse(FILE);
        assert_eq!(file.len(), 2);
        assert_eq!(
            file.get(Ipv4Addr::new(10, 0, 0, 10)).unwrap().expire,
            1_700_005_000
        );
        assert!(file.get(Ipv4Addr::new(10, 0, 0, 11)).is_none());
        let reserved = file.by_mac([2, 0, 0, 0, 0, 0xaa]);
        assert_eq!(reserved.len(), 1);
        assert_eq!(reserved[0].hostname, "reserved-host");
        assert_eq!(reserved[0].subnet_id, 1);
        assert_eq!(file.malformed, ["10.0.0.12,02:00:00:00"]);
    }
}
