//! The standard DHCPv4 option definitions, as Kea lists them.
//!
//! Names, codes, types and array flags follow Kea 2.2's standard table
//! (RFC 2132 and the later option RFCs), plus the few definitions Kea added
//! up to 3.0 that need no sub-option spaces (121, 143 and the RFC 6926 bulk
//! leasequery options). Option 43 is Kea's "last resort" definition.

use super::OptionDefinition;
use super::OptionType::{
    self, Binary, Boolean, ClasslessStaticRoute, Empty, Fqdn, Int32, Ipv4Address, Ipv6Address,
    Psid, Record, String, Tuple, Uint8, Uint16, Uint32,
};

const fn def(name: &'static str, code: u8, kind: OptionType, array: bool) -> OptionDefinition {
    OptionDefinition {
        name,
        code,
        kind,
        array,
    }
}

/// SLP directory agent (RFC 2610): mandatory flag, agent addresses.
const SLP_DIRECTORY_AGENT: &[OptionType] = &[Boolean, Ipv4Address];
/// SLP service scope (RFC 2610): mandatory flag, scope list.
const SLP_SERVICE_SCOPE: &[OptionType] = &[Boolean, String];
/// Client FQDN (RFC 4702): flags, two obsolete rcodes, name.
const CLIENT_FQDN: &[OptionType] = &[Uint8, Uint8, Uint8, Fqdn];
/// V-I vendor class (RFC 3925): enterprise number, opaque data.
const VIVCO: &[OptionType] = &[Uint32, Binary];
/// Client network interface identifier (RFC 4578): type, major, minor.
const CLIENT_NDI: &[OptionType] = &[Uint8, Uint8, Uint8];
/// Client machine identifier (RFC 4578): type, identifier.
const UUID_GUID: &[OptionType] = &[Uint8, Binary];
/// RDNSS selection (RFC 6731): flags, two servers, domain list.
const RDNSS_SELECTION: &[OptionType] = &[Uint8, Ipv4Address, Ipv4Address, Fqdn];
/// Port parameters (RFC 7618): offset, PSID length and value.
const V4_PORTPARAMS: &[OptionType] = &[Uint8, Psid];
/// 6rd (RFC 5969): IPv4 mask length, 6rd prefix length, prefix, relays.
const OPTION_6RD: &[OptionType] = &[Uint8, Uint8, Ipv6Address, Ipv4Address];
/// Leasequery status code (RFC 6926): code, message.
const STATUS_CODE: &[OptionType] = &[Uint8, String];

/// Every standard definition, in code order.
pub(super) const STANDARD: &[OptionDefinition] = &[
    def("subnet-mask", 1, Ipv4Address, false),
    def("time-offset", 2, Int32, false),
    def("routers", 3, Ipv4Address, true),
    def("time-servers", 4, Ipv4Address, true),
    def("name-servers", 5, Ipv4Address, true),
    def("domain-name-servers", 6, Ipv4Address, true),
    def("log-servers", 7, Ipv4Address, true),
    def("cookie-servers", 8, Ipv4Address, true),
    def("lpr-servers", 9, Ipv4Address, true),
    def("impress-servers", 10, Ipv4Address, true),
    def("resource-location-servers", 11, Ipv4Address, true),
    def("host-name", 12, String, false),
    def("boot-size", 13, Uint16, false),
    def("merit-dump", 14, String, false),
    def("domain-name", 15, String, false),
    def("swap-server", 16, Ipv4Address, false),
    def("root-path", 17, String, false),
    def("extensions-path", 18, String, false),
    def("ip-forwarding", 19, Boolean, false),
    def("non-local-source-routing", 20, Boolean, false),
    def("policy-filter", 21, Ipv4Address, true),
    def("max-dgram-reassembly", 22, Uint16, false),
    def("default-ip-ttl", 23, Uint8, false),
    def("path-mtu-aging-timeout", 24, Uint32, false),
    def("path-mtu-plateau-table", 25, Uint16, true),
    def("interface-mtu", 26, Uint16, false),
    def("all-subnets-local", 27, Boolean, false),
    def("broadcast-address", 28, Ipv4Address, false),
    def("perform-mask-discovery", 29, Boolean, false),
    def("mask-supplier", 30, Boolean, false),
    def("router-discovery", 31, Boolean, false),
    def("router-solicitation-address", 32, Ipv4Address, false),
    def("static-routes", 33, Ipv4Address, true),
    def("trailer-encapsulation", 34, Boolean, false),
    def("arp-cache-timeout", 35, Uint32, false),
    def("ieee802-3-encapsulation", 36, Boolean, false),
    def("default-tcp-ttl", 37, Uint8, false),
    def("tcp-keepalive-interval", 38, Uint32, false),
    def("tcp-keepalive-garbage", 39, Boolean, false),
    def("nis-domain", 40, String, false),
    def("nis-servers", 41, Ipv4Address, true),
    def("ntp-servers", 42, Ipv4Address, true),
    def("vendor-encapsulated-options", 43, Empty, false),
    def("netbios-name-servers", 44, Ipv4Address, true),
    def("netbios-dd-server", 45, Ipv4Address, true),
    def("netbios-node-type", 46, Uint8, false),
    def("netbios-scope", 47, String, false),
    def("font-servers", 48, Ipv4Address, true),
    def("x-display-manager", 49, Ipv4Address, true),
    def("dhcp-requested-address", 50, Ipv4Address, false),
    def("dhcp-lease-time", 51, Uint32, false),
    def("dhcp-option-overload", 52, Uint8, false),
    def("dhcp-message-type", 53, Uint8, false),
    def("dhcp-server-identifier", 54, Ipv4Address, false),
    def("dhcp-parameter-request-list", 55, Uint8, true),
    def("dhcp-message", 56, String, false),
    def("dhcp-max-message-size", 57, Uint16, false),
    def("dhcp-renewal-time", 58, Uint32, false),
    def("dhcp-rebinding-time", 59, Uint32, false),
    def("vendor-class-identifier", 60, String, false),
    def("dhcp-client-identifier", 61, Binary, false),
    def("nwip-domain-name", 62, String, false),
    def("nwip-suboptions", 63, Binary, false),
    def("nisplus-domain-name", 64, String, false),
    def("nisplus-servers", 65, Ipv4Address, true),
    def("tftp-server-name", 66, String, false),
    def("boot-file-name", 67, String, false),
    def("mobile-ip-home-agent", 68, Ipv4Address, true),
    def("smtp-server", 69, Ipv4Address, true),
    def("pop-server", 70, Ipv4Address, true),
    def("nntp-server", 71, Ipv4Address, true),
    def("www-server", 72, Ipv4Address, true),
    def("finger-server", 73, Ipv4Address, true),
    def("irc-server", 74, Ipv4Address, true),
    def("streettalk-server", 75, Ipv4Address, true),
    def(
        "streettalk-directory-assistance-server",
        76,
        Ipv4Address,
        true,
    ),
    def("user-class", 77, Binary, false),
    def("slp-directory-agent", 78, Record(SLP_DIRECTORY_AGENT), true),
    def("slp-service-scope", 79, Record(SLP_SERVICE_SCOPE), false),
    def("fqdn", 81, Record(CLIENT_FQDN), false),
    def("dhcp-agent-options", 82, Empty, false),
    def("nds-servers", 85, Ipv4Address, true),
    def("nds-tree-name", 86, String, false),
    def("nds-context", 87, String, false),
    def("bcms-controller-names", 88, Fqdn, true),
    def("bcms-controller-address", 89, Ipv4Address, true),
    def("authenticate", 90, Binary, false),
    def("client-last-transaction-time", 91, Uint32, false),
    def("associated-ip", 92, Ipv4Address, true),
    def("client-system", 93, Uint16, true),
    def("client-ndi", 94, Record(CLIENT_NDI), false),
    def("uuid-guid", 97, Record(UUID_GUID), false),
    def("uap-servers", 98, String, false),
    def("geoconf-civic", 99, Binary, false),
    def("pcode", 100, String, false),
    def("tcode", 101, String, false),
    def("v6-only-preferred", 108, Uint32, false),
    def("netinfo-server-address", 112, Ipv4Address, true),
    def("netinfo-server-tag", 113, String, false),
    def("v4-captive-portal", 114, String, false),
    def("auto-config", 116, Uint8, false),
    def("name-service-search", 117, Uint16, true),
    def("subnet-selection", 118, Ipv4Address, false),
    def("domain-search", 119, Fqdn, true),
    def("classless-static-route", 121, ClasslessStaticRoute, false),
    def("vivco-suboptions", 124, Record(VIVCO), false),
    def("vivso-suboptions", 125, Uint32, false),
    def("pana-agent", 136, Ipv4Address, true),
    def("v4-lost", 137, Fqdn, false),
    def("capwap-ac-v4", 138, Ipv4Address, true),
    def("sip-ua-cs-domains", 141, Fqdn, true),
    def("v4-sztp-redirect", 143, Tuple, true),
    def("rdnss-selection", 146, Record(RDNSS_SELECTION), true),
    def("status-code", 151, Record(STATUS_CODE), false),
    def("base-time", 152, Uint32, false),
    def("start-time-of-state", 153, Uint32, false),
    def("query-start-time", 154, Uint32, false),
    def("query-end-time", 155, Uint32, false),
    def("dhcp-state", 156, Uint8, false),
    def("data-source", 157, Uint8, false),
    def("v4-portparams", 159, Record(V4_PORTPARAMS), false),
    def("option-6rd", 212, Record(OPTION_6RD), true),
    def("v4-access-domain", 213, Fqdn, false),
];
