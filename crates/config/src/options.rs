//! The standard DHCPv4 option table and the encoder for `option-data`.
//!
//! Option formats come from RFC 2132 and the later option RFCs; the names,
//! types and text syntax are Kea's (`std_option_defs.h` and
//! `option_definition.cc`), so the same `option-data` produces the same bytes
//! in Kea and in leasehold. Two deliberate differences: a value list that Kea
//! would silently cut short (a second value for a single-valued option, an
//! extra field after a record) is an error here, and so is a classless route
//! whose destination has host bits set.

mod table;

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::Ipv4Net;

/// How one option's payload is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionType {
    /// No payload of its own (sub-options only, which leasehold does not
    /// configure yet); csv data must be empty, hex data is sent as given.
    Empty,
    /// Opaque bytes, written as hex.
    Binary,
    /// One byte, 0 or 1; written `true`/`false` or `1`/`0`.
    Boolean,
    /// Signed 8-bit integer.
    Int8,
    /// Signed 16-bit integer, network order.
    Int16,
    /// Signed 32-bit integer, network order.
    Int32,
    /// Unsigned 8-bit integer.
    Uint8,
    /// Unsigned 16-bit integer, network order.
    Uint16,
    /// Unsigned 32-bit integer, network order.
    Uint32,
    /// Four bytes of IPv4 address.
    Ipv4Address,
    /// Sixteen bytes of IPv6 address.
    Ipv6Address,
    /// Text, sent as its bytes without a terminating NUL.
    String,
    /// A domain name in DNS wire format (RFC 1035 section 3.1), uncompressed.
    Fqdn,
    /// A port-set identifier, written `psid/length` (RFC 7618): a length byte
    /// and the PSID left-aligned in 16 bits.
    Psid,
    /// A length-prefixed string (one length byte in DHCPv4).
    Tuple,
    /// An IPv6 prefix, written `2001:db8::/32`: a length byte and the
    /// prefix's significant bytes (custom definitions only).
    Ipv6Prefix,
    /// A fixed sequence of fields; in an array option the last field repeats.
    Record(&'static [Self]),
    /// Classless static routes (RFC 3442), written
    /// `10.229.0.128/25 - 10.229.0.1, ...` as in Kea.
    ClasslessStaticRoute,
}

/// One standard option definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionDefinition {
    /// Kea's name for the option, such as `domain-name-servers`.
    pub name: &'static str,
    /// The option code.
    pub code: u8,
    /// The payload type.
    pub kind: OptionType,
    /// Whether the payload is a list of values of `kind`.
    pub array: bool,
}

/// The standard definition named `name`, if there is one.
pub fn standard_option(name: &str) -> Option<&'static OptionDefinition> {
    table::STANDARD.iter().find(|def| def.name == name)
}

/// The standard definition for `code`, if there is one.
pub fn standard_option_by_code(code: u8) -> Option<&'static OptionDefinition> {
    table::STANDARD.iter().find(|def| def.code == code)
}

/// All standard definitions, in code order.
pub fn standard_options() -> &'static [OptionDefinition] {
    table::STANDARD
}

/// Encodes `data` to the payload of option `def`.
///
/// With `csv` the data is a comma-separated list of values in the syntax of
/// the option's type (a backslash escapes a comma); without it the data is
/// hex (`0a0b0c`, `0a:0b:0c`, `0a 0b 0c`, `0x0a0b0c`) or a text in single
/// quotes (`'text'`). The error says what is wrong with the data.
pub fn encode(def: &OptionDefinition, data: &str, csv: bool) -> Result<Vec<u8>, String> {
    if !csv {
        return decode_hex_or_quoted(data);
    }
    let values = split_csv(data);
    let mut out = Vec::new();
    match def.kind {
        OptionType::Record(fields) => encode_record(def, fields, &values, &mut out)?,
        OptionType::ClasslessStaticRoute => encode_routes(&values, &mut out)?,
        OptionType::Empty if values.is_empty() => {}
        OptionType::Empty => {
            return Err(format!(
                "option '{}' carries sub-options only; its data must be empty",
                def.name
            ));
        }
        kind if def.array => {
            if values.is_empty() {
                return Err("no value given".into());
            }
            for value in &values {
                encode_value(kind, value, &mut out)?;
            }
        }
        kind => {
            let value = single_value(def, &values)?;
            encode_value(kind, value, &mut out)?;
        }
    }
    check_length(out)
}

/// The one value of a single-valued option.
fn single_value<'v>(def: &OptionDefinition, values: &'v [String]) -> Result<&'v str, String> {
    match values {
        [] => Err("no value given".into()),
        [value] => Ok(value),
        _ => Err(format!(
            "option '{}' takes one value but {} were given (escape a comma in a value as '\\,')",
            def.name,
            values.len()
        )),
    }
}

fn encode_record(
    def: &OptionDefinition,
    fields: &[OptionType],
    values: &[String],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if values.len() < fields.len() {
        return Err(format!(
            "option '{}' is a record of {} fields but {} values were given",
            def.name,
            fields.len(),
            values.len()
        ));
    }
    if values.len() > fields.len() && !def.array {
        return Err(format!(
            "option '{}' is a record of {} fields but {} values were given",
            def.name,
            fields.len(),
            values.len()
        ));
    }
    // In an array record the last field repeats for the remaining values.
    let last = fields.last().copied().unwrap_or(OptionType::Binary);
    let kinds = fields.iter().copied().chain(std::iter::repeat(last));
    for (kind, value) in kinds.zip(values) {
        encode_value(kind, value, out)?;
    }
    Ok(())
}

/// Writes one value of a scalar type.
fn encode_value(kind: OptionType, value: &str, out: &mut Vec<u8>) -> Result<(), String> {
    match kind {
        OptionType::Binary => out.extend(decode_plain_hex(value)?),
        OptionType::Boolean => out.push(u8::from(parse_bool(value)?)),
        OptionType::Int8 => out.extend(parse_integer::<i8>(value)?.to_be_bytes()),
        OptionType::Int16 => out.extend(parse_integer::<i16>(value)?.to_be_bytes()),
        OptionType::Int32 => out.extend(parse_integer::<i32>(value)?.to_be_bytes()),
        OptionType::Uint8 => out.push(parse_integer::<u8>(value)?),
        OptionType::Uint16 => out.extend(parse_integer::<u16>(value)?.to_be_bytes()),
        OptionType::Uint32 => out.extend(parse_integer::<u32>(value)?.to_be_bytes()),
        OptionType::Ipv4Address => out.extend(parse_ipv4(value)?.octets()),
        OptionType::Ipv6Address => out.extend(parse_ipv6(value)?.octets()),
        OptionType::String if value.is_empty() => return Err("empty string".into()),
        OptionType::String => out.extend(value.as_bytes()),
        OptionType::Fqdn => encode_fqdn(value, out)?,
        OptionType::Psid => encode_psid(value, out)?,
        OptionType::Ipv6Prefix => encode_ipv6_prefix(value, out)?,
        OptionType::Tuple => {
            let length = u8::try_from(value.len())
                .map_err(|_| format!("'{value}' is longer than 255 bytes"))?;
            out.push(length);
            out.extend(value.as_bytes());
        }
        OptionType::Empty | OptionType::Record(_) | OptionType::ClasslessStaticRoute => {
            return Err("a record field cannot be of this type".into());
        }
    }
    Ok(())
}

/// Kea's csv split: commas separate values, a backslash escapes the next
/// character, empty values are dropped and each value is trimmed.
fn split_csv(data: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut current = String::new();
    let mut chars = data.chars();
    while let Some(c) = chars.next() {
        match c {
            ',' => values.push(std::mem::take(&mut current)),
            '\\' => match chars.next() {
                Some(',') => current.push(','),
                Some('\\') => current.push('\\'),
                Some(other) => {
                    current.push('\\');
                    current.push(other);
                }
                None => current.push('\\'),
            },
            other => current.push(other),
        }
    }
    values.push(current);
    values
        .into_iter()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .collect()
}

/// A boolean as Kea reads it: `true`/`false` in any case, or `1`/`0`.
fn parse_bool(value: &str) -> Result<bool, String> {
    if value.eq_ignore_ascii_case("true") || value == "1" {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") || value == "0" {
        Ok(false)
    } else {
        Err(format!("'{value}' is not a boolean (true, false, 1 or 0)"))
    }
}

/// An integer in decimal, or in hex (`0x` optional) as Kea falls back to.
fn parse_integer<T: TryFrom<i64>>(value: &str) -> Result<T, String> {
    let parsed = value.parse::<i64>().ok().or_else(|| {
        let digits = value
            .strip_prefix("0x")
            .or_else(|| value.strip_prefix("0X"))
            .unwrap_or(value);
        i64::from_str_radix(digits, 16).ok()
    });
    let number = parsed.ok_or_else(|| format!("'{value}' is not an integer"))?;
    T::try_from(number).map_err(|_| {
        format!(
            "{value} is out of range for a {}",
            std::any::type_name::<T>()
        )
    })
}

fn parse_ipv4(value: &str) -> Result<Ipv4Addr, String> {
    value
        .parse()
        .map_err(|_| format!("'{value}' is not an IPv4 address"))
}

fn parse_ipv6(value: &str) -> Result<Ipv6Addr, String> {
    value
        .parse()
        .map_err(|_| format!("'{value}' is not an IPv6 address"))
}

/// A domain name in uncompressed DNS wire format: length-prefixed labels and
/// the root label. `\.` and `\DDD` escapes are understood, as in Kea.
fn encode_fqdn(value: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let labels = split_labels(value)?;
    let mut wire = Vec::new();
    for label in &labels {
        if label.is_empty() {
            return Err(format!("'{value}' has an empty label"));
        }
        let length = u8::try_from(label.len())
            .ok()
            .filter(|&length| length <= 63)
            .ok_or_else(|| format!("'{value}' has a label longer than 63 bytes"))?;
        wire.push(length);
        wire.extend(label);
    }
    wire.push(0);
    if wire.len() > 255 {
        return Err(format!("'{value}' is longer than 255 bytes"));
    }
    out.extend(wire);
    Ok(())
}

/// The labels of a textual domain name, escapes resolved; a final dot is
/// optional and `.` alone is the root.
fn split_labels(value: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut labels = Vec::new();
    let mut label = Vec::new();
    let bytes = value.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'.' => {
                labels.push(std::mem::take(&mut label));
                index += 1;
            }
            b'\\' => {
                let (byte, used) = unescape(&bytes[index + 1..])
                    .ok_or_else(|| format!("'{value}' has a bad escape"))?;
                label.push(byte);
                index += 1 + used;
            }
            byte => {
                label.push(byte);
                index += 1;
            }
        }
    }
    match (labels.is_empty(), label.is_empty()) {
        // "." is the root; "" is not a name at all.
        (false, true) if labels.len() == 1 && labels[0].is_empty() => labels.clear(),
        (true, true) => return Err("empty domain name".into()),
        (_, true) => {}
        (_, false) => labels.push(label),
    }
    Ok(labels)
}

/// Decodes the escape after a backslash: `\DDD` or `\X`; returns the byte and
/// how many input bytes it used.
fn unescape(rest: &[u8]) -> Option<(u8, usize)> {
    let first = *rest.first()?;
    if !first.is_ascii_digit() {
        return Some((first, 1));
    }
    let digits = rest.get(..3)?;
    let text = std::str::from_utf8(digits).ok()?;
    let byte = text.parse::<u8>().ok()?;
    Some((byte, 3))
}

/// `psid/length`: a length byte, then the PSID left-aligned in 16 bits.
fn encode_ipv6_prefix(value: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let (address, length) = value
        .split_once('/')
        .ok_or_else(|| format!("'{value}' is not an IPv6 prefix (address/length)"))?;
    let address = parse_ipv6(address.trim())?;
    let length = parse_integer::<u8>(length.trim())?;
    if length > 128 {
        return Err(format!("IPv6 prefix length {length} is over 128"));
    }
    out.push(length);
    out.extend(&address.octets()[..usize::from(length).div_ceil(8)]);
    Ok(())
}

fn encode_psid(value: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    let (psid, length) = compact
        .split_once('/')
        .ok_or_else(|| format!("'{value}' is not a PSID (psid/length)"))?;
    let psid = parse_integer::<u16>(psid)?;
    let length = parse_integer::<u8>(length)?;
    if length > 16 {
        return Err(format!("PSID length {length} is over 16"));
    }
    if length > 0 && u32::from(psid) >= 1 << length {
        return Err(format!("PSID {psid} does not fit in {length} bits"));
    }
    let aligned = (u32::from(psid) << (16 - u32::from(length))) as u16;
    out.push(length);
    out.extend(aligned.to_be_bytes());
    Ok(())
}

/// RFC 3442 routes: for each `prefix/len - router`, the prefix length, the
/// significant octets of the prefix and the router.
fn encode_routes(values: &[String], out: &mut Vec<u8>) -> Result<(), String> {
    if values.is_empty() {
        return Err("no route given".into());
    }
    for value in values {
        let (destination, router) = value
            .split_once('-')
            .ok_or_else(|| format!("'{value}' is not a route like '10.0.0.0/8 - 10.1.0.1'"))?;
        let destination: Ipv4Net = destination
            .trim()
            .parse()
            .map_err(|_| format!("'{}' is not an IPv4 prefix", destination.trim()))?;
        if destination.trunc() != destination {
            return Err(format!("route destination {destination} has host bits set"));
        }
        let router = parse_ipv4(router.trim())?;
        let significant = usize::from(destination.prefix_len().div_ceil(8));
        out.push(destination.prefix_len());
        out.extend(&destination.addr().octets()[..significant]);
        out.extend(router.octets());
    }
    Ok(())
}

/// A DHCPv4 option payload holds at most 255 bytes (RFC 2132 section 2).
/// Longer ones would need RFC 3396 splitting, which leasehold does not do.
fn check_length(payload: Vec<u8>) -> Result<Vec<u8>, String> {
    if payload.len() > 255 {
        return Err(format!(
            "the encoded option is {} bytes; an option holds at most 255",
            payload.len()
        ));
    }
    Ok(payload)
}

/// Non-csv option data as Kea reads it: `'text'` gives the text's bytes,
/// anything else is hex (see [`decode_hex`]).
pub(crate) fn decode_hex_or_quoted(data: &str) -> Result<Vec<u8>, String> {
    let trimmed = data.trim();
    if let Some(inner) = trimmed
        .strip_prefix('\'')
        .and_then(|rest| rest.strip_suffix('\''))
        .map(str::trim)
        .filter(|inner| !inner.is_empty())
    {
        return check_length(inner.as_bytes().to_vec());
    }
    check_length(decode_hex(trimmed)?)
}

/// Hex in the forms Kea accepts: octets separated by colons (`a:0b:0c`) or
/// by single spaces (one or two digits each), or a run of digits with an
/// optional `0x` prefix (an odd count gets a leading zero). Empty is empty.
pub(crate) fn decode_hex(text: &str) -> Result<Vec<u8>, String> {
    let separator = [':', ' '].into_iter().find(|&c| text.contains(c));
    let Some(separator) = separator else {
        let digits = text.strip_prefix("0x").unwrap_or(text);
        let padded = if digits.len() % 2 == 1 {
            format!("0{digits}")
        } else {
            digits.to_owned()
        };
        return decode_plain_hex(&padded).map_err(|_| format!("'{text}' is not valid hex"));
    };
    text.split(separator)
        .map(|octet| match octet.len() {
            1 | 2 => u8::from_str_radix(octet, 16)
                .map_err(|_| format!("'{text}' is not valid hex: bad octet '{octet}'")),
            0 => Err(format!(
                "'{text}' is not valid hex: two separators in a row"
            )),
            _ => Err(format!(
                "'{text}' is not valid hex: octet '{octet}' is too long"
            )),
        })
        .collect()
}

/// An even run of hex digits (whitespace ignored), as in a `binary` field.
fn decode_plain_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 == 1 {
        return Err(format!("'{text}' has an odd number of hex digits"));
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("'{text}' is not valid hex"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(name: &str, data: &str) -> Result<Vec<u8>, String> {
        encode(standard_option(name).expect("known option"), data, true)
    }

    #[test]
    fn table_has_unique_names_and_codes() {
        let options = standard_options();
        for (index, def) in options.iter().enumerate() {
            assert!(
                options[index + 1..]
                    .iter()
                    .all(|other| other.name != def.name)
            );
            assert!(
                options[index + 1..]
                    .iter()
                    .all(|other| other.code != def.code)
            );
        }
        assert!(options.windows(2).all(|pair| pair[0].code < pair[1].code));
    }

    #[test]
    fn lookup_by_name_and_code_agree() {
        let routers = standard_option("routers").unwrap();
        assert_eq!(routers.code, 3);
        assert!(routers.array);
        assert_eq!(standard_option_by_code(119).unwrap().name, "domain-search");
        assert!(standard_option("no-such-option").is_none());
        assert!(standard_option_by_code(0).is_none());
        assert!(standard_option_by_code(255).is_none());
    }

    #[test]
    fn ipv4_list() {
        assert_eq!(
            csv("domain-name-servers", "192.0.2.53, 192.0.2.54").unwrap(),
            [192, 0, 2, 53, 192, 0, 2, 54]
        );
        assert_eq!(csv("routers", "198.51.100.1").unwrap(), [198, 51, 100, 1]);
        assert!(csv("routers", "198.51.100.300").is_err());
        assert!(csv("routers", "").is_err());
    }

    #[test]
    fn single_ipv4_refuses_a_second_value() {
        let error = csv("subnet-mask", "255.255.255.0, 255.0.0.0").unwrap_err();
        assert!(error.contains("takes one value"), "{error}");
    }

    #[test]
    fn integers() {
        assert_eq!(csv("default-ip-ttl", "64").unwrap(), [64]);
        assert_eq!(csv("interface-mtu", "1500").unwrap(), [0x05, 0xdc]);
        assert_eq!(csv("arp-cache-timeout", "0x10000").unwrap(), [0, 1, 0, 0]);
        assert_eq!(
            csv("time-offset", "-3600").unwrap(),
            (-3600i32).to_be_bytes()
        );
        assert_eq!(
            csv("path-mtu-plateau-table", "68, 296").unwrap(),
            [0, 68, 1, 40]
        );
        assert!(csv("default-ip-ttl", "256").is_err());
        assert!(csv("interface-mtu", "-1").is_err());
        assert!(csv("interface-mtu", "big").is_err());
    }

    #[test]
    fn booleans() {
        assert_eq!(csv("ip-forwarding", "true").unwrap(), [1]);
        assert_eq!(csv("ip-forwarding", "FALSE").unwrap(), [0]);
        assert_eq!(csv("ip-forwarding", "1").unwrap(), [1]);
        assert!(csv("ip-forwarding", "yes").is_err());
    }

    #[test]
    fn strings_are_plain_bytes() {
        assert_eq!(csv("domain-name", "example.test").unwrap(), b"example.test");
        assert_eq!(
            csv("boot-file-name", " pxelinux.0 ").unwrap(),
            b"pxelinux.0"
        );
        assert_eq!(csv("host-name", "a\\,b").unwrap(), b"a,b");
        assert!(csv("domain-name", "a.test, b.test").is_err());
    }

    #[test]
    fn fqdn_list_in_wire_format() {
        assert_eq!(
            csv("domain-search", "example.test, lab.").unwrap(),
            b"\x07example\x04test\x00\x03lab\x00"
        );
        assert_eq!(csv("v4-access-domain", ".").unwrap(), [0]);
        assert_eq!(csv("v4-lost", "a\\.b.c").unwrap(), b"\x03a.b\x01c\x00");
        assert!(csv("domain-search", "a..b").is_err());
        assert!(csv("domain-search", &"x".repeat(64)).is_err());
    }

    #[test]
    fn binary_and_hex() {
        let hex = |data| encode(standard_option("user-class").unwrap(), data, false);
        assert_eq!(hex("0a0b0c").unwrap(), [10, 11, 12]);
        assert_eq!(hex("0A:0B").unwrap(), [10, 11]);
        assert_eq!(hex("a:b").unwrap(), [10, 11]);
        assert_eq!(hex("0x0a0b").unwrap(), [10, 11]);
        assert_eq!(hex("0a 0b 0c").unwrap(), [10, 11, 12]);
        assert_eq!(hex("abc").unwrap(), [0x0a, 0xbc]);
        assert_eq!(hex("'text'").unwrap(), b"text");
        assert_eq!(hex("").unwrap(), Vec::<u8>::new());
        assert!(hex("0a::0b").is_err());
        assert!(hex("xyz").is_err());
        assert!(hex("0a  0b").is_err());
        assert_eq!(
            csv("dhcp-client-identifier", "01020304").unwrap(),
            [1, 2, 3, 4]
        );
        assert!(csv("dhcp-client-identifier", "010").is_err());
    }

    #[test]
    fn records() {
        assert_eq!(csv("client-ndi", "1, 2, 3").unwrap(), [1, 2, 3]);
        assert!(csv("client-ndi", "1, 2").is_err());
        assert!(csv("client-ndi", "1, 2, 3, 4").is_err());
        assert_eq!(csv("uuid-guid", "0, 0102").unwrap(), [0, 1, 2]);
        assert_eq!(
            csv("fqdn", "1, 0, 0, host.test").unwrap(),
            b"\x01\x00\x00\x04host\x04test\x00"
        );
        assert_eq!(
            csv("slp-directory-agent", "true, 192.0.2.1, 192.0.2.2").unwrap(),
            [1, 192, 0, 2, 1, 192, 0, 2, 2]
        );
        assert_eq!(csv("v4-portparams", "0, 52/6").unwrap(), [0, 6, 0xd0, 0]);
        assert!(csv("v4-portparams", "0, 64/6").is_err());
        let sixrd = csv("option-6rd", "0, 16, 2001:db8::, 192.0.2.1").unwrap();
        assert_eq!(sixrd.len(), 2 + 16 + 4);
    }

    #[test]
    fn tuples() {
        assert_eq!(
            csv("v4-sztp-redirect", "https://a, https://bc").unwrap(),
            b"\x09https://a\x0ahttps://bc"
        );
    }

    #[test]
    fn classless_static_routes() {
        assert_eq!(
            csv(
                "classless-static-route",
                "10.229.0.128/25 - 10.229.0.1, 0.0.0.0/0 - 10.0.0.1, 10.0.0.0/8-10.0.0.2"
            )
            .unwrap(),
            [
                25, 10, 229, 0, 128, 10, 229, 0, 1, 0, 10, 0, 0, 1, 8, 10, 10, 0, 0, 2
            ]
        );
        assert!(csv("classless-static-route", "10.0.0.1/8 - 10.0.0.2").is_err());
        assert!(csv("classless-static-route", "10.0.0.0/8").is_err());
    }

    #[test]
    fn empty_types_take_no_csv_data() {
        assert_eq!(
            csv("vendor-encapsulated-options", "").unwrap(),
            Vec::<u8>::new()
        );
        assert!(csv("vendor-encapsulated-options", "1").is_err());
        let def = standard_option("vendor-encapsulated-options").unwrap();
        assert_eq!(encode(def, "01:02:ab", false).unwrap(), [1, 2, 0xab]);
    }

    #[test]
    fn oversized_payload_is_refused() {
        let many = vec!["192.0.2.1"; 64].join(",");
        assert!(csv("routers", &many).is_err());
    }
}
