//! One row of Kea's `leases4.csv`: the column schema, formatting and parsing.
//!
//! The rules mirror Kea 2.2 (`src/lib/dhcpsrv/csv_lease_file4.cc` for the columns and their
//! encodings, `src/lib/util/csv_file.cc` for splitting and escaping,
//! `src/lib/util/versioned_csv_file.cc` for older and newer headers); see the parent module
//! for the full list. Parsing never panics: every malformed field is a [`RowError`].

use std::borrow::Cow;
use std::net::Ipv4Addr;

use crate::{ClientId, HwAddr, Lease, LeaseState};

/// The columns Kea 2.2 writes, in order.
pub(crate) const COLUMNS: [&str; 11] = [
    "address",
    "hwaddr",
    "client_id",
    "valid_lifetime",
    "expire",
    "subnet_id",
    "fqdn_fwd",
    "fqdn_rev",
    "hostname",
    "state",
    "user_context",
];

/// The header line Kea 2.2 writes when it creates a lease file, without the newline.
pub(crate) const HEADER: &str = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,\
                                 fqdn_fwd,fqdn_rev,hostname,state,user_context";

/// Kea refuses files whose header stops before `hostname` (`setMinimumValidColumns`).
const MIN_COLUMNS: usize = 9;
const STATE: usize = 9;
const USER_CONTEXT: usize = 10;

/// The escape tag of Kea's `CSVRow::escapeCharacters`: `&#x` and two hex digits.
const ESCAPE_TAG: &[u8] = b"&#x";
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
/// Kea's `ClientId` refuses identifiers longer than an option can carry.
const MAX_CLIENT_ID: usize = 255;

/// Why a row could not be read as a lease. Kea skips such rows (up to `max-row-errors`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RowError {
    /// The row has fewer or more columns than its file's header allows.
    #[error("{found} columns, expected {min} to {max}")]
    ColumnCount {
        /// Columns in the row.
        found: usize,
        /// Fewest columns allowed.
        min: usize,
        /// Most columns allowed.
        max: usize,
    },
    /// The `address` column is not an IPv4 address.
    #[error("address {0:?} is not an IPv4 address")]
    Address(String),
    /// The `hwaddr` column is not colon-separated hex of at most 16 bytes.
    #[error("hwaddr {0:?} is not a hardware address")]
    HwAddr(String),
    /// The `client_id` column is not a hex string.
    #[error("client_id {0:?} is not a hex string")]
    ClientId(String),
    /// A numeric column is not an unsigned decimal number of the right size.
    #[error("{column} {text:?} is not a number")]
    Number {
        /// The column name.
        column: &'static str,
        /// Its text.
        text: String,
    },
    /// `fqdn_fwd` or `fqdn_rev` is not `0` or `1`.
    #[error("{column} {text:?} is not 0 or 1")]
    Flag {
        /// The column name.
        column: &'static str,
        /// Its text.
        text: String,
    },
    /// The `state` column is not a state this server knows.
    #[error("state {0:?} is not 0, 1 or 2")]
    State(String),
    /// The `user_context` column is not a JSON map.
    #[error("user_context {0:?} is not a JSON map")]
    UserContext(String),
    /// Neither hwaddr nor client_id is set on a lease that is not declined, which Kea rejects.
    #[error("neither hwaddr nor client_id is set and the lease is not declined")]
    NoIdentifier,
}

/// The header of one lease file, checked the way Kea's `VersionedCSVFile` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Schema {
    /// Columns in the header: fewer than ours for files of old Kea versions, more for new ones.
    header_columns: usize,
    /// Text appended to every row we write into this file, filling the columns we do not know
    /// (such as Kea 2.4's `pool_id`) so that the version that wrote the header still accepts it.
    row_suffix: String,
}

impl Schema {
    /// The schema of files this server creates.
    pub(crate) fn current() -> Self {
        Self {
            header_columns: COLUMNS.len(),
            row_suffix: String::new(),
        }
    }

    /// Checks a header line. Its first columns must be ours, in order, at least up to
    /// `hostname`; columns past ours are accepted and ignored, as Kea 2.2 does.
    pub(crate) fn parse(line: &str) -> Result<Self, String> {
        let names: Vec<&str> = line.split(',').collect();
        let known = names.len().min(COLUMNS.len());
        if let Some((position, name)) = names[..known]
            .iter()
            .enumerate()
            .find(|&(position, name)| *name != COLUMNS[position])
        {
            return Err(format!(
                "column {} is {name:?}, expected {:?}",
                position + 1,
                COLUMNS[position]
            ));
        }
        if known < MIN_COLUMNS {
            return Err(format!(
                "{known} columns, a lease file has at least {MIN_COLUMNS}"
            ));
        }

        // Kea 2.4 added `pool_id` with a default of 0; other columns we cannot know are empty.
        let row_suffix = names[known..]
            .iter()
            .map(|&name| if name == "pool_id" { ",0" } else { "," })
            .collect();
        Ok(Self {
            header_columns: names.len(),
            row_suffix,
        })
    }

    /// What we append to each row written into a file with this header.
    pub(crate) fn row_suffix(&self) -> &str {
        &self.row_suffix
    }

    /// Kea's rule: a row may have as few columns as the header if the header is older than
    /// ours (missing columns take their defaults), and as many as the header if it is newer.
    fn column_range(&self) -> (usize, usize) {
        let ours = COLUMNS.len();
        (self.header_columns.min(ours), self.header_columns.max(ours))
    }
}

/// Appends one row for `lease` to `out`, ending with a newline. A deleted lease is written
/// as Kea's `deleteLease` does: valid lifetime 0 and `expire` equal to the cltt.
pub(crate) fn format(out: &mut Vec<u8>, lease: &Lease, deleted: bool, suffix: &str) {
    let (valid_lifetime, expire) = if deleted {
        (0, lease.cltt())
    } else {
        (lease.valid_lifetime, lease.expire)
    };

    write_address(out, lease.address);
    out.push(b',');
    if let Some(hwaddr) = &lease.hwaddr {
        write_hex(out, hwaddr.as_bytes());
    }
    out.push(b',');
    if let Some(client_id) = &lease.client_id {
        write_hex(out, client_id.as_bytes());
    }
    out.push(b',');
    write_decimal(out, u64::from(valid_lifetime));
    out.push(b',');
    write_decimal(out, expire);
    out.push(b',');
    write_decimal(out, u64::from(lease.subnet_id));
    out.push(b',');
    out.push(if lease.fqdn_fwd { b'1' } else { b'0' });
    out.push(b',');
    out.push(if lease.fqdn_rev { b'1' } else { b'0' });
    out.push(b',');
    write_escaped(out, lease.hostname.as_bytes());
    out.push(b',');
    write_decimal(out, u64::from(lease.state.code()));
    out.push(b',');
    if let Some(context) = &lease.user_context {
        write_escaped(out, context.as_bytes());
    }
    out.extend_from_slice(suffix.as_bytes());
    out.push(b'\n');
}

/// Reads one row (without its newline). A lease with valid lifetime 0 is a deletion record.
pub(crate) fn parse(line: &str, schema: &Schema) -> Result<Lease, RowError> {
    let fields = split(line, schema)?;

    let address = fields[0]
        .parse::<Ipv4Addr>()
        .map_err(|_| RowError::Address(fields[0].to_owned()))?;
    let client_id = parse_client_id(fields[2])?;
    let hwaddr = parse_hwaddr(fields[1])?;
    let state = parse_number::<u8>(fields[STATE], "state")
        .ok()
        .and_then(LeaseState::from_code)
        .ok_or_else(|| RowError::State(fields[STATE].to_owned()))?;
    if hwaddr.is_none() && client_id.is_none() && state != LeaseState::Declined {
        return Err(RowError::NoIdentifier);
    }

    Ok(Lease {
        address,
        hwaddr,
        client_id,
        valid_lifetime: parse_number(fields[3], "valid_lifetime")?,
        expire: parse_number(fields[4], "expire")?,
        subnet_id: parse_number(fields[5], "subnet_id")?,
        fqdn_fwd: parse_flag(fields[6], "fqdn_fwd")?,
        fqdn_rev: parse_flag(fields[7], "fqdn_rev")?,
        hostname: unescape(fields[8]).into_owned(),
        state,
        user_context: parse_user_context(fields[USER_CONTEXT])?,
    })
}

/// Splits a row on commas (Kea's `CSVRow::parse`: no quoting, a trailing comma makes an
/// empty last column) and fills the columns an older header lacks with Kea's defaults.
fn split<'a>(line: &'a str, schema: &Schema) -> Result<[&'a str; COLUMNS.len()], RowError> {
    let mut fields = [""; COLUMNS.len()];
    fields[STATE] = "0";
    let mut found = 0;
    let mut start = 0;
    let ends = memchr::memchr_iter(b',', line.as_bytes()).chain([line.len()]);
    for end in ends {
        if let Some(slot) = fields.get_mut(found) {
            // Commas are ASCII, so the cut is always on a character boundary.
            *slot = line.get(start..end).unwrap_or_default();
        }
        found += 1;
        start = end + 1;
    }

    let (min, max) = schema.column_range();
    if found < min || found > max {
        return Err(RowError::ColumnCount { found, min, max });
    }
    Ok(fields)
}

/// An unsigned decimal that fits `T`. (Kea's `lexical_cast` would also take a sign.)
fn parse_number<T: TryFrom<u64>>(text: &str, column: &'static str) -> Result<T, RowError> {
    let error = || RowError::Number {
        column,
        text: text.to_owned(),
    };
    if text.is_empty() {
        return Err(error());
    }
    let mut value: u64 = 0;
    for byte in text.bytes() {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return Err(error());
        }
        value = value
            .checked_mul(10)
            .and_then(|value| value.checked_add(u64::from(digit)))
            .ok_or_else(error)?;
    }
    T::try_from(value).map_err(|_| error())
}

/// Kea writes booleans through `boost::lexical_cast`, which gives and takes only `0`/`1`.
fn parse_flag(text: &str, column: &'static str) -> Result<bool, RowError> {
    match text {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(RowError::Flag {
            column,
            text: text.to_owned(),
        }),
    }
}

/// Kea reads `hwaddr` with `decodeColonSeparatedHexString`: one or two hex digits between
/// colons, an empty column meaning no address.
fn parse_hwaddr(text: &str) -> Result<Option<HwAddr>, RowError> {
    if text.is_empty() {
        return Ok(None);
    }
    let mut bytes = [0u8; 16];
    let mut len = 0;
    let stored = decode_separated(text, b':', |byte| {
        let slot = bytes.get_mut(len)?;
        *slot = byte;
        len += 1;
        Some(())
    });
    stored
        .and_then(|()| HwAddr::new(&bytes[..len]))
        .map(Some)
        .ok_or_else(|| RowError::HwAddr(text.to_owned()))
}

/// Kea reads `client_id` with `decodeFormattedHexString`: colon-separated if there is a
/// colon, else space-separated if there is a space, else a run of hex digits with an
/// optional `0x` prefix (an odd count gets a leading zero). At most 255 bytes.
fn parse_client_id(text: &str) -> Result<Option<ClientId>, RowError> {
    if text.is_empty() {
        return Ok(None);
    }
    let mut bytes = [0u8; MAX_CLIENT_ID];
    let mut len = 0;
    let store = |byte| {
        let slot = bytes.get_mut(len)?;
        *slot = byte;
        len += 1;
        Some(())
    };
    let decoded = if text.contains(':') {
        decode_separated(text, b':', store)
    } else if text.contains(' ') {
        decode_separated(text, b' ', store)
    } else {
        decode_plain(text, store)
    };
    match decoded {
        Some(()) if len > 0 => Ok(Some(ClientId::new(&bytes[..len]))),
        _ => Err(RowError::ClientId(text.to_owned())),
    }
}

/// Decodes hex octets between separators; `None` if an octet is empty (two separators in a
/// row), longer than two digits or not hex, or if `store` refuses a byte.
fn decode_separated(
    text: &str,
    separator: u8,
    mut store: impl FnMut(u8) -> Option<()>,
) -> Option<()> {
    let mut octet = 0;
    let mut digits = 0;
    for &byte in text.as_bytes() {
        if byte == separator {
            if digits == 0 {
                return None;
            }
            store(octet)?;
            (octet, digits) = (0, 0);
        } else if digits < 2 {
            octet = octet << 4 | hex_value(byte)?;
            digits += 1;
        } else {
            return None;
        }
    }
    if digits == 0 {
        return None;
    }
    store(octet)
}

fn decode_plain(text: &str, mut store: impl FnMut(u8) -> Option<()>) -> Option<()> {
    let digits = match text.strip_prefix("0x") {
        Some(rest) if text.len() > 2 => rest.as_bytes(),
        _ => text.as_bytes(),
    };
    let mut pending = (digits.len() % 2 == 1).then_some(0u8);
    for &digit in digits {
        let value = hex_value(digit)?;
        match pending.take() {
            Some(high) => store(high << 4 | value)?,
            None => pending = Some(value),
        }
    }
    Some(())
}

/// Kea requires a non-empty user context to be a JSON map. We keep the text as it is and
/// check only that it is braced, which catches a row cut short in the middle of the map.
fn parse_user_context(text: &str) -> Result<Option<String>, RowError> {
    if text.is_empty() {
        return Ok(None);
    }
    let context = unescape(text);
    let trimmed = context.trim();
    if !(trimmed.starts_with('{') && trimmed.ends_with('}')) {
        return Err(RowError::UserContext(context.into_owned()));
    }
    Ok(Some(context.into_owned()))
}

/// Writes text the way Kea's `CSVRow::writeAtEscaped` does: the separator `,` and the escape
/// character `&` become `&#x2c` and `&#x26`. We also escape control characters (Kea 2.2
/// writes them raw, so a newline in a host name would break its file; Kea 3.x escapes
/// them like this too); Kea's reader turns every `&#xHH` back into its byte.
fn write_escaped(out: &mut Vec<u8>, text: &[u8]) {
    for &byte in text {
        if byte == b',' || byte == b'&' || byte < 0x20 || byte == 0x7f {
            out.extend_from_slice(ESCAPE_TAG);
            out.push(HEX_DIGITS[usize::from(byte >> 4)]);
            out.push(HEX_DIGITS[usize::from(byte & 0x0f)]);
        } else {
            out.push(byte);
        }
    }
}

/// Reverses the escaping, as Kea's `CSVRow::unescapeCharacters`: `&#x` followed by two hex
/// digits (either case) is that byte; an `&#x` without them is kept as it is. Bytes that are
/// not UTF-8 are replaced, since our host names and contexts are strings.
fn unescape(text: &str) -> Cow<'_, str> {
    if !text.contains("&#x") {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut position = 0;
    while position < bytes.len() {
        if let Some(byte) = escaped_byte(&bytes[position..]) {
            out.push(byte);
            position += ESCAPE_TAG.len() + 2;
        } else {
            out.push(bytes[position]);
            position += 1;
        }
    }
    match String::from_utf8(out) {
        Ok(text) => Cow::Owned(text),
        Err(error) => Cow::Owned(String::from_utf8_lossy(error.as_bytes()).into_owned()),
    }
}

/// The byte an escape sequence at the start of `text` stands for, if there is one.
fn escaped_byte(text: &[u8]) -> Option<u8> {
    let [high, low] = text.strip_prefix(ESCAPE_TAG)?.get(..2)? else {
        return None;
    };
    Some(hex_value(*high)? << 4 | hex_value(*low)?)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

fn write_address(out: &mut Vec<u8>, address: Ipv4Addr) {
    for (position, octet) in address.octets().into_iter().enumerate() {
        if position > 0 {
            out.push(b'.');
        }
        write_decimal(out, u64::from(octet));
    }
}

/// Lowercase hex octets joined by colons, as Kea's `HWAddr::toText(false)` and
/// `ClientId::toText`.
fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    for (position, &byte) in bytes.iter().enumerate() {
        if position > 0 {
            out.push(b':');
        }
        out.push(HEX_DIGITS[usize::from(byte >> 4)]);
        out.push(HEX_DIGITS[usize::from(byte & 0x0f)]);
    }
}

/// Decimal digits without going through `fmt`: this runs once per column per lease.
fn write_decimal(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        // The remainder is below 10, so the cast cannot truncate.
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = Vec::new();
        write_escaped(&mut out, text.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn header_matches_the_column_list() {
        assert_eq!(HEADER, COLUMNS.join(","));
    }

    #[test]
    fn escaping_follows_kea() {
        assert_eq!(escaped("a,b&c"), "a&#x2cb&#x26c");
        assert_eq!(escaped("line\nbreak"), "line&#x0abreak");
        assert_eq!(escaped("plain.example.org"), "plain.example.org");
        assert_eq!(unescape("a&#x2cb&#x26c&#x2C"), "a,b&c,");
        assert_eq!(unescape("&#x0a"), "\n");
    }

    #[test]
    fn incomplete_escapes_are_kept_literally() {
        assert_eq!(unescape("a&#xzz"), "a&#xzz");
        assert_eq!(unescape("a&#x2"), "a&#x2");
        assert_eq!(unescape("&#x"), "&#x");
    }

    #[test]
    fn escaped_non_utf8_bytes_are_replaced() {
        assert_eq!(unescape("a&#xff"), "a\u{fffd}");
        assert_eq!(unescape("&#xc3&#xa9"), "é");
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for value in [0, 7, 10, 4_294_967_295, u64::MAX] {
            let mut out = Vec::new();
            write_decimal(&mut out, value);
            assert_eq!(out, value.to_string().into_bytes());
        }
    }

    #[test]
    fn identifiers_decode_like_kea() {
        assert_eq!(
            parse_hwaddr("1:2:aB").unwrap().unwrap().as_bytes(),
            [1, 2, 0xab]
        );
        assert!(parse_hwaddr("aabbcc").is_err());
        assert!(parse_hwaddr("aa::bb").is_err());
        assert!(parse_hwaddr(&["aa"; 17].join(":")).is_err());
        let plain = parse_client_id("0x102").unwrap().unwrap();
        assert_eq!(plain.as_bytes(), [1, 2]);
        let spaced = parse_client_id("01 02 ff").unwrap().unwrap();
        assert_eq!(spaced.as_bytes(), [1, 2, 0xff]);
        assert!(parse_client_id("01:zz").is_err());
    }

    #[test]
    fn headers_are_checked_like_kea() {
        assert_eq!(Schema::parse(HEADER).unwrap(), Schema::current());
        let old = Schema::parse(&COLUMNS[..10].join(",")).unwrap();
        assert_eq!(old.column_range(), (10, 11));
        let new = Schema::parse(&format!("{HEADER},pool_id")).unwrap();
        assert_eq!(new.column_range(), (11, 12));
        assert_eq!(new.row_suffix(), ",0");
        assert!(Schema::parse(&COLUMNS[..8].join(",")).is_err());
        assert!(Schema::parse("address,mac,client_id").is_err());
    }

    #[test]
    fn rows_with_the_wrong_column_count_are_refused() {
        let line = "192.0.2.1,02:00:00:00:00:01,,3600,1700003600,1,0,0,,0";
        let error = parse(line, &Schema::current()).unwrap_err();
        assert_eq!(
            error,
            RowError::ColumnCount {
                found: 10,
                min: 11,
                max: 11
            }
        );
    }
}
