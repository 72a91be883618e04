//! End-to-end test harness for leasehold: a private two-namespace network per test, a DHCP
//! server in one namespace (leasehold, or ISC Kea as the baseline) and real clients in the
//! other.
//!
//! Start with [`TestNet::new`], which builds the shape of `shared/lab/netns.sh` under unique
//! names; [`TestNet::lab_config`] gives the matching `kea-lab.json`; [`TestNet::start_server`]
//! runs a [`ServerKind`] on it. Clients: [`TestNet::run_perfdhcp`], [`TestNet::dhclient`],
//! [`TestNet::udhcpc`], [`TestNet::nmap_dhcp_discover`] and the in-process [`RelayClient`].
//! [`LeaseFile`] reads `leases4.csv` without the code under test. [`MotoServer`] is an S3
//! endpoint (moto) inside a namespace. [`scenarios`] holds test bodies written once and run
//! against both servers.
//!
//! Everything needs root and `ip netns`. Every name carries the process id and a counter, so
//! tests run in parallel; everything is undone on drop, during a panic too.
//!
//! What it does not do: IPv6, or any isolation beyond the network (clients and servers share
//! the machine's file system; each test keeps its files in its own [`TestNet::dir`]).

mod clients;
pub mod config;
mod error;
mod leasefile;
mod moto;
mod net;
mod process;
mod raw;
mod relay;
pub mod scenarios;
mod server;
pub mod sqldb;

pub use clients::{
    CLIENT_TIMEOUT, ClientLease, ExchangeStats, NMAP_LISTEN_SECONDS, NmapOffer, PERFDHCP_TIMEOUT,
    PerfdhcpReport, parse_nmap_offers, parse_perfdhcp,
};
pub use error::{Error, Result};
pub use leasefile::{LeaseFile, LeaseRecord};
pub use moto::{MOTO_PORT, MotoServer};
pub use net::{
    BCAST_CLIENT_ADDR, BCAST_SERVER_ADDR, HARNESS_RELAY_ADDR, KEEP_DIR_VAR, RELAY_AGENT_ADDR,
    RELAY_SERVER_ADDR, RelayGuard, Side, TestNet,
};
pub use process::Finished;
pub use raw::{ParsedReply, QueryBuilder, RawClient, RawDirect, RawRelay};
pub use relay::{Assignment, RelayClient, RequestOutcome};
pub use server::{
    PROBE_MAC, SERVING_TIMEOUT, ServerKind, ServerProcess, TERMINATE_TIMEOUT, server_command,
};

/// Formats a MAC address as Kea does: `02:00:00:00:00:aa`.
pub fn format_mac(mac: &[u8]) -> String {
    let octets: Vec<String> = mac.iter().map(|octet| format!("{octet:02x}")).collect();
    octets.join(":")
}

/// Runs `task` on a new thread inside network namespace `namespace` and returns its result.
///
/// Sockets created by the task stay in that namespace when handed back.
pub fn in_namespace<T, F>(namespace: &str, task: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    process::in_namespace(namespace, task)
}
