//! The client's name: what a reply says about it and what the lease
//! records, as Kea's `processClientName` decides with DNS updates off.
//!
//! A Client FQDN option (81, RFC 4702) wins over a Host Name option (12).
//! The server answers an FQDN with its own flags (N set: it will not update
//! DNS; O set when the client asked it to, S clear) and the name, fully
//! qualified; a host name is echoed. Either way the name is scrubbed with
//! Kea's default `hostname-char-set` (letters, digits, hyphens and dots
//! stay) and lower-cased. A host reservation's hostname takes its place
//! and is sent even to a client that neither sent nor asked for a name. A
//! client that sends an empty FQDN, or the root as its host name, leaves
//! the naming to the server, which names it after its address.
//! What the reply carries is what the lease file's `hostname` column gets.
//!
//! dhcproto's option 81 reader takes every name as a complete wire-format
//! name; clients also send partial names and the deprecated ASCII form, so
//! the option is read here.

use std::net::Ipv4Addr;

use crate::wire::{Query, code};

/// Flags of option 81 (RFC 4702 section 2.1).
mod flag {
    /// The server should perform the A RR update.
    pub(super) const S: u8 = 0x01;
    /// The server overrode the client's S.
    pub(super) const O: u8 = 0x02;
    /// The name is in canonical wire format.
    pub(super) const E: u8 = 0x04;
    /// The server should perform no DNS update.
    pub(super) const N: u8 = 0x08;
}

/// How the reply names the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientName {
    /// Nothing: the client sent no usable name and has no reserved one.
    Unnamed,
    /// Option 12 with this name.
    HostName(String),
    /// Option 81: the encoded option and the fully qualified name (with
    /// its final dot, as Kea stores it).
    Fqdn { option: Vec<u8>, name: String },
}

impl ClientName {
    /// The name a client sending `query` gets for `address`; `reserved` is
    /// its host reservation's hostname, if any.
    pub(crate) fn of(query: &Query, reserved: Option<&str>, address: Ipv4Addr) -> Self {
        let reserved = reserved.filter(|name| !name.is_empty());
        if let Some(data) = query.option(code::CLIENT_FQDN) {
            return fqdn(data, reserved, address).unwrap_or(Self::Unnamed);
        }
        // Kea 2.2 sends a reserved name whether or not the client sent or
        // asked for one (later versions only when it did).
        if let Some(reserved) = reserved {
            return Self::HostName(reserved.trim_end_matches('.').to_ascii_lowercase());
        }
        let Some(sent) = query.hostname.as_deref().map(str::trim) else {
            return Self::Unnamed;
        };
        match scrub(sent) {
            name if name.is_empty() => Self::Unnamed,
            // The root alone asks the server to name the client.
            name if name == "." => Self::HostName(generated(address)),
            name => Self::HostName(name),
        }
    }

    /// What the lease records in its `hostname` column.
    pub(crate) fn hostname(&self) -> &str {
        match self {
            Self::Unnamed => "",
            Self::HostName(name) | Self::Fqdn { name, .. } => name,
        }
    }

    /// The option carrying the name in a reply, if any.
    pub(crate) fn option(&self) -> Option<(u8, &[u8])> {
        match self {
            Self::Unnamed => None,
            Self::HostName(name) => Some((code::HOST_NAME, name.as_bytes())),
            Self::Fqdn { option, .. } => Some((code::CLIENT_FQDN, option)),
        }
    }
}

/// The name Kea generates for a client that leaves naming to the server:
/// `ddns-generated-prefix` (default `myhost`) and the address, dashed.
fn generated(address: Ipv4Addr) -> String {
    let [a, b, c, d] = address.octets();
    format!("myhost-{a}-{b}-{c}-{d}")
}

/// The answer to option 81 `data` for `address`; `None` when it cannot be
/// read (Kea then leaves the option out).
fn fqdn(data: &[u8], reserved: Option<&str>, address: Ipv4Addr) -> Option<ClientName> {
    let [flags, rcode1, rcode2, name @ ..] = data else {
        return None;
    };
    let wire = flags & flag::E != 0;
    let labels = match reserved {
        Some(reserved) => reserved.split('.').map(str::to_owned).collect(),
        None if wire => wire_labels(name)?,
        None => std::str::from_utf8(name)
            .ok()?
            .split('.')
            .map(str::to_owned)
            .collect(),
    };
    let mut labels: Vec<String> = labels
        .iter()
        .map(|label| scrub(label))
        .filter(|label| !label.is_empty())
        .collect();
    // An empty name asks the server to name the client.
    if labels.is_empty() {
        labels.push(generated(address));
    }
    let mut response = flag::N | (flags & flag::E);
    if flags & flag::S != 0 {
        response |= flag::O;
    }
    let mut option = vec![response, *rcode1, *rcode2];
    if wire {
        for label in &labels {
            // A DNS label is at most 63 octets; a longer one names nothing.
            if label.len() > 63 {
                return None;
            }
            option.push(u8::try_from(label.len()).ok()?);
            option.extend_from_slice(label.as_bytes());
        }
        option.push(0);
    }
    let name = labels.join(".") + ".";
    if !wire {
        option.extend_from_slice(name.as_bytes());
    }
    Some(ClientName::Fqdn { option, name })
}

/// The labels of a wire-format name, complete (ending in the root label)
/// or partial (ending with the data); `None` when a label runs past the end
/// or is a compression pointer, which option 81 may not use.
fn wire_labels(mut name: &[u8]) -> Option<Vec<String>> {
    let mut labels = Vec::new();
    while let [length, rest @ ..] = name {
        let length = usize::from(*length);
        if length == 0 {
            break;
        }
        if length > 63 || length > rest.len() {
            return None;
        }
        labels.push(String::from_utf8_lossy(&rest[..length]).into_owned());
        name = &rest[length..];
    }
    Some(labels)
}

/// Kea's default `hostname-char-set` with an empty replacement: letters,
/// digits, hyphens and dots stay; then lower case.
fn scrub(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 7);

    fn query(options: &[(u8, &[u8])]) -> Query {
        let mut bytes = vec![0u8; 240];
        (bytes[0], bytes[1], bytes[2]) = (1, 1, 6);
        bytes[236..240].copy_from_slice(&[99, 130, 83, 99]);
        bytes.extend_from_slice(&[53, 1, 3]);
        for (code, data) in options {
            bytes.push(*code);
            bytes.push(data.len() as u8);
            bytes.extend_from_slice(data);
        }
        bytes.push(255);
        Query::parse(&bytes).unwrap()
    }

    #[test]
    fn a_host_name_is_scrubbed_and_lower_cased() {
        let name = ClientName::of(&query(&[(12, b" Laptop_7 ")]), None, ADDRESS);
        assert_eq!(name, ClientName::HostName("laptop7".into()));
        assert_eq!(
            ClientName::of(&query(&[(12, b"  ")]), None, ADDRESS),
            ClientName::Unnamed
        );
        assert_eq!(
            ClientName::of(&query(&[]), None, ADDRESS),
            ClientName::Unnamed
        );
    }

    #[test]
    fn a_reserved_name_replaces_the_clients_and_is_sent_unasked() {
        let reserved = Some("Printer-1");
        let expected = ClientName::HostName("printer-1".into());
        assert_eq!(
            ClientName::of(&query(&[(12, b"x")]), reserved, ADDRESS),
            expected
        );
        assert_eq!(
            ClientName::of(&query(&[(55, &[1, 3])]), reserved, ADDRESS),
            expected
        );
    }

    #[test]
    fn an_fqdn_is_answered_with_the_servers_flags_in_the_clients_encoding() {
        let wire = b"\x05\x00\x00\x07Desktop\x04site\x07example\x00";
        let name = ClientName::of(&query(&[(81, wire), (12, b"ignored")]), None, ADDRESS);
        let ClientName::Fqdn { option, name } = name else {
            panic!("no FQDN: {name:?}");
        };
        assert_eq!(option, b"\x0e\x00\x00\x07desktop\x04site\x07example\x00");
        assert_eq!(name, "desktop.site.example.");

        // A partial name is qualified (with no suffix configured: by the root).
        let partial = ClientName::of(&query(&[(81, b"\x04\x00\x00\x07desktop")]), None, ADDRESS);
        assert_eq!(partial.hostname(), "desktop.");
        assert_eq!(partial.option().unwrap().1, b"\x0c\x00\x00\x07desktop\x00");

        let ascii = ClientName::of(&query(&[(81, b"\x01\x00\x00Desktop.Site")]), None, ADDRESS);
        assert_eq!(ascii.option().unwrap().1, b"\x0a\x00\x00desktop.site.");
    }

    #[test]
    fn an_empty_name_is_generated_from_the_address() {
        let fqdn = ClientName::of(&query(&[(81, b"\x05\x00\x00")]), None, ADDRESS);
        assert_eq!(fqdn.hostname(), "myhost-10-0-0-7.");
        assert_eq!(
            fqdn.option().unwrap().1,
            b"\x0e\x00\x00\x0fmyhost-10-0-0-7\x00"
        );
        let root = ClientName::of(&query(&[(12, b".")]), None, ADDRESS);
        assert_eq!(root, ClientName::HostName("myhost-10-0-0-7".into()));
    }

    #[test]
    fn an_unreadable_fqdn_names_nothing() {
        for data in [
            &b"\x04\x00"[..],
            b"\x04\x00\x00\x09short",
            b"\x04\x00\x00\xc0\x0c",
        ] {
            assert_eq!(
                ClientName::of(&query(&[(81, data)]), None, ADDRESS),
                ClientName::Unnamed,
                "{data:?}"
            );
        }
    }

    #[test]
    fn a_reserved_name_answers_an_fqdn() {
        let name = ClientName::of(
            &query(&[(81, b"\x04\x00\x00\x01x\x00")]),
            Some("printer-1"),
            ADDRESS,
        );
        assert_eq!(name.hostname(), "printer-1.");
    }
}
