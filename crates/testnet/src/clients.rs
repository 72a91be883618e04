//! Real DHCP clients and tools run in the client namespace: perfdhcp, dhclient, udhcpc, nmap.
//!
//! dhclient and udhcpc are given a hook script written into the test directory that records
//! the client's environment and configures nothing, so the host's `/etc/resolv.conf` and
//! routes are never touched (the distribution's `dhclient-script` would rewrite them).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::net::{Side, TestNet};
use crate::process::{self, POLL};

/// How long perfdhcp may run before the harness kills it.
pub const PERFDHCP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long dhclient and udhcpc get to obtain a lease.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long nmap's broadcast-dhcp-discover script listens for offers, in seconds.
pub const NMAP_LISTEN_SECONDS: u32 = 3;

/// perfdhcp's counters for one exchange ("DISCOVER-OFFER" or "REQUEST-ACK").
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExchangeStats {
    /// The exchange's name as perfdhcp prints it.
    pub name: String,
    /// "sent packets".
    pub sent: u64,
    /// "received packets".
    pub received: u64,
    /// "drops".
    pub drops: u64,
    /// "drops ratio", percent.
    pub drops_ratio: Option<f64>,
    /// "orphans": replies that matched no request.
    pub orphans: u64,
    /// "rejected leases" (NAKs).
    pub rejected_leases: u64,
}

/// What perfdhcp printed at its end.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PerfdhcpReport {
    /// "Rate:", full exchanges per second.
    pub rate: Option<f64>,
    /// One entry per "Statistics for:" block, in print order.
    pub exchanges: Vec<ExchangeStats>,
    /// perfdhcp's exit code (3 when packets were dropped); `None` if killed at the timeout.
    pub exit_code: Option<i32>,
    /// The whole output, for messages.
    pub output: String,
}

impl PerfdhcpReport {
    /// The statistics of the exchange called `name`.
    pub fn exchange(&self, name: &str) -> Option<&ExchangeStats> {
        self.exchanges.iter().find(|exchange| exchange.name == name)
    }

    /// OFFERs received.
    pub fn offers(&self) -> u64 {
        self.exchange("DISCOVER-OFFER")
            .map_or(0, |exchange| exchange.received)
    }

    /// ACKs received (the completed four-way exchanges).
    pub fn acks(&self) -> u64 {
        self.exchange("REQUEST-ACK")
            .map_or(0, |exchange| exchange.received)
    }
}

/// Reads perfdhcp's closing statistics.
pub fn parse_perfdhcp(output: &str) -> Result<PerfdhcpReport> {
    let mut report = PerfdhcpReport {
        output: output.to_owned(),
        ..PerfdhcpReport::default()
    };
    for line in output.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("Rate:") {
            report.rate = rest
                .split_whitespace()
                .next()
                .and_then(|rate| rate.parse().ok());
        } else if let Some(rest) = line.strip_prefix("***Statistics for:") {
            let name = rest.trim().trim_end_matches('*').trim();
            report.exchanges.push(ExchangeStats {
                name: name.to_owned(),
                ..ExchangeStats::default()
            });
        } else if let Some(exchange) = report.exchanges.last_mut() {
            read_counter(exchange, line);
        }
    }
    if report.exchanges.is_empty() {
        return Err(Error::Parse {
            tool: "perfdhcp",
            reason: "no \"Statistics for:\" section".into(),
            output: output.to_owned(),
        });
    }
    Ok(report)
}

fn read_counter(exchange: &mut ExchangeStats, line: &str) {
    let Some((key, value)) = line.split_once(':') else {
        return;
    };
    let value = value.trim();
    let count = || value.parse().unwrap_or(0);
    match key.trim() {
        "sent packets" => exchange.sent = count(),
        "received packets" => exchange.received = count(),
        "drops" => exchange.drops = count(),
        "orphans" => exchange.orphans = count(),
        "rejected leases" => exchange.rejected_leases = count(),
        "drops ratio" => {
            let percent = value.trim_end_matches('%').trim();
            exchange.drops_ratio = percent.parse().ok();
        }
        _ => {}
    }
}

/// What a real client reported to its hook script when it was bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientLease {
    /// The leased address.
    pub address: Ipv4Addr,
    /// Routers (option 3).
    pub routers: Vec<Ipv4Addr>,
    /// DNS servers (option 6).
    pub dns_servers: Vec<Ipv4Addr>,
    /// Domain name (option 15).
    pub domain_name: Option<String>,
    /// Server identifier (option 54).
    pub server_id: Option<Ipv4Addr>,
    /// Lease time (option 51), seconds.
    pub lease_time: Option<u32>,
    /// The event the script saw ("BOUND" for dhclient, "bound" for udhcpc).
    pub reason: String,
    /// Every variable the script saw.
    pub environment: HashMap<String, String>,
}

/// Names of the environment variables one client uses for the lease's fields.
struct ClientVariables {
    address: &'static str,
    routers: &'static str,
    dns_servers: &'static str,
    domain_name: &'static str,
    server_id: &'static str,
    lease_time: &'static str,
}

const DHCLIENT_VARIABLES: ClientVariables = ClientVariables {
    address: "new_ip_address",
    routers: "new_routers",
    dns_servers: "new_domain_name_servers",
    domain_name: "new_domain_name",
    server_id: "new_dhcp_server_identifier",
    lease_time: "new_dhcp_lease_time",
};

const UDHCPC_VARIABLES: ClientVariables = ClientVariables {
    address: "ip",
    routers: "router",
    dns_servers: "dns",
    domain_name: "domain",
    server_id: "serverid",
    lease_time: "lease",
};

/// Reads the `env` dump of a hook script (`NAME=VALUE` lines).
fn parse_environment(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

fn client_lease(
    environment: HashMap<String, String>,
    names: &ClientVariables,
) -> Option<ClientLease> {
    let value = |name: &str| environment.get(name).map(String::as_str).unwrap_or("");
    let addresses = |name: &str| {
        value(name)
            .split_whitespace()
            .filter_map(|address| address.parse().ok())
            .collect()
    };
    let reason = environment
        .get("reason")
        .or_else(|| environment.get("event"))
        .cloned()
        .unwrap_or_default();
    Some(ClientLease {
        address: value(names.address).parse().ok()?,
        routers: addresses(names.routers),
        dns_servers: addresses(names.dns_servers),
        domain_name: Some(value(names.domain_name))
            .filter(|name| !name.is_empty())
            .map(str::to_owned),
        server_id: value(names.server_id).parse().ok(),
        lease_time: value(names.lease_time).parse().ok(),
        reason,
        environment,
    })
}

/// A hook script that records the environment on a bound-like event and does nothing else.
///
/// dhclient passes the event in `$reason` and gives its script a fresh environment (so the
/// output path is written into the script); udhcpc passes it as `$1`.
fn write_hook_script(net: &TestNet, client: &str) -> Result<(PathBuf, PathBuf)> {
    let script = net.unique_path(&format!("{client}-hook"), "sh");
    let record = script.with_extension("env");
    let events = script.with_extension("events");
    let text = format!(
        "#!/bin/sh\n\
         # Written by leasehold-testnet: records what {client} reports, configures nothing.\n\
         event=\"${{reason:-$1}}\"\n\
         echo \"$event\" >> '{events}'\n\
         case \"$event\" in\n\
         \x20 BOUND|REBOOT|RENEW|REBIND|bound|renew)\n\
         \x20   export event\n\
         \x20   env > '{record}.tmp' && mv '{record}.tmp' '{record}' ;;\n\
         esac\n\
         exit 0\n",
        events = events.display(),
        record = record.display(),
    );
    std::fs::write(&script, text).map_err(|source| Error::file(&script, source))?;
    let executable = std::fs::Permissions::from_mode(0o755);
    std::fs::set_permissions(&script, executable).map_err(|source| Error::file(&script, source))?;
    Ok((script, record))
}

impl TestNet {
    /// Runs `perfdhcp ARGS` in the client namespace and reads its statistics.
    ///
    /// A non-zero exit code is not an error by itself (perfdhcp exits with 3 when packets were
    /// dropped); check [`PerfdhcpReport::exit_code`] or the counters.
    pub fn run_perfdhcp(&self, args: &[&str]) -> Result<PerfdhcpReport> {
        let mut command = vec!["perfdhcp"];
        command.extend_from_slice(args);
        let finished = self.run(Side::Client, &command, PERFDHCP_TIMEOUT)?;
        let mut report = parse_perfdhcp(&finished.output)?;
        report.exit_code = finished.status.and_then(|status| status.code());
        Ok(report)
    }

    /// Gets a lease with ISC dhclient on `interface` of the client namespace.
    ///
    /// dhclient runs in the foreground (`-d`), tries once (`-1`), with its own configuration,
    /// lease and pid files in [`Self::dir`] and the recording hook script (`-sf`). It keeps
    /// running after it is bound, so the harness kills it as soon as the script has recorded
    /// the lease: no daemon is left behind and the lease is not released.
    pub fn dhclient(&self, interface: &str) -> Result<ClientLease> {
        let (script, record) = write_hook_script(self, "dhclient")?;
        let config = self.unique_path("dhclient", "conf");
        let config_text = "timeout 15;\nretry 1;\n\
             request subnet-mask, broadcast-address, routers, domain-name, domain-name-servers;\n";
        std::fs::write(&config, config_text).map_err(|source| Error::file(&config, source))?;
        let leases = config.with_extension("leases");
        let pid = config.with_extension("pid");
        let log = config.with_extension("log");
        let paths = [&config, &leases, &pid, &script].map(|path| path.display().to_string());
        let args = [
            "dhclient", "-4", "-d", "-1", "-v", "-cf", &paths[0], "-lf", &paths[1], "-pf",
            &paths[2], "-sf", &paths[3], interface,
        ];
        let child = process::spawn_logged(self.command(Side::Client, &args), &log)?;
        self.wait_for_record(
            child,
            &record,
            &log,
            "dhclient",
            interface,
            &DHCLIENT_VARIABLES,
        )
    }

    /// Gets a lease with busybox udhcpc on `interface` of the client namespace:
    /// `udhcpc -f -q -n -i IFACE -s SCRIPT -t 5 -T 1` (foreground, quit once bound, give up
    /// after five DISCOVERs one second apart).
    pub fn udhcpc(&self, interface: &str) -> Result<ClientLease> {
        let (script, record) = write_hook_script(self, "udhcpc")?;
        let log = script.with_extension("log");
        let script = script.display().to_string();
        let args = [
            "udhcpc", "-f", "-q", "-n", "-i", interface, "-s", &script, "-t", "5", "-T", "1",
        ];
        let child = process::spawn_logged(self.command(Side::Client, &args), &log)?;
        self.wait_for_record(child, &record, &log, "udhcpc", interface, &UDHCPC_VARIABLES)
    }

    /// Gets a lease with dhcpcd on `interface` of the client namespace: `dhcpcd -1 -B -4 -L
    /// -t 10 -f /dev/null -c SCRIPT IFACE` (one shot, foreground, IPv4 only, no link-local
    /// fallback, no system configuration, the recording hook instead of the system's).
    pub fn dhcpcd(&self, interface: &str) -> Result<ClientLease> {
        let (script, record) = write_hook_script(self, "dhcpcd")?;
        let log = script.with_extension("log");
        let script = script.display().to_string();
        let options = ["-1", "-B", "-4", "-L", "-t", "10", "-f", "/dev/null"];
        let args = [&["dhcpcd"][..], &options, &["-c", &script, interface]].concat();
        let child = process::spawn_logged(self.command(Side::Client, &args), &log)?;
        // dhcpcd hands its hook the same variables as dhclient.
        let variables = &DHCLIENT_VARIABLES;
        let lease = self.wait_for_record(child, &record, &log, "dhcpcd", interface, variables);
        // It keeps the lease in the host's /var/lib/dhcpcd, named by the interface.
        let _ = std::fs::remove_file(format!("/var/lib/dhcpcd/{interface}.lease"));
        lease
    }

    /// Waits until a hook script has recorded a lease or the client exits or times out; the
    /// client is killed in every case.
    fn wait_for_record(
        &self,
        mut child: std::process::Child,
        record: &Path,
        log: &Path,
        client: &'static str,
        interface: &str,
        names: &ClientVariables,
    ) -> Result<ClientLease> {
        let deadline = Instant::now() + CLIENT_TIMEOUT;
        while !record.exists() && Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                break;
            }
            thread::sleep(POLL);
        }
        let _ = child.kill();
        let _ = child.wait();
        let recorded = process::read_lossy(record);
        client_lease(parse_environment(&recorded), names).ok_or_else(|| Error::NoLease {
            client,
            interface: interface.to_owned(),
            output: format!("{}\n--- recorded ---\n{recorded}", process::read_lossy(log)),
        })
    }

    /// Runs nmap's `broadcast-dhcp-discover` script on `interface` of the client namespace and
    /// returns its output (read it with [`parse_nmap_offers`]).
    pub fn nmap_dhcp_discover(&self, interface: &str) -> Result<String> {
        let timeout = format!("broadcast-dhcp-discover.timeout={NMAP_LISTEN_SECONDS}");
        let args = [
            "nmap",
            "--script",
            "broadcast-dhcp-discover",
            "--script-args",
            &timeout,
            "-e",
            interface,
        ];
        let limit = Duration::from_secs(u64::from(NMAP_LISTEN_SECONDS) + 30);
        let finished = self.run(Side::Client, &args, limit)?;
        if !finished.is_success() {
            return Err(Error::Command {
                command: args.join(" "),
                status: format!("{:?}", finished.status),
                output: finished.output,
            });
        }
        Ok(finished.output)
    }
}

/// One offer as nmap's `broadcast-dhcp-discover` prints it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NmapOffer {
    /// "IP Offered".
    pub address: Option<Ipv4Addr>,
    /// "Server Identifier".
    pub server_id: Option<Ipv4Addr>,
    /// "DHCP Message Type", e.g. "DHCPOFFER".
    pub message_type: Option<String>,
    /// Every "Name: value" line of the response, in order.
    pub fields: Vec<(String, String)>,
}

/// Reads the responses in nmap's `broadcast-dhcp-discover` output (one per "Response N of M").
pub fn parse_nmap_offers(output: &str) -> Vec<NmapOffer> {
    let mut offers: Vec<NmapOffer> = Vec::new();
    for line in output.lines() {
        let text = line.trim_start_matches(['|', '_']).trim();
        if text.starts_with("Response ") {
            offers.push(NmapOffer::default());
            continue;
        }
        let (Some(offer), Some((name, value))) = (offers.last_mut(), text.split_once(": ")) else {
            continue;
        };
        let value = value.trim();
        match name {
            "IP Offered" => offer.address = value.parse().ok(),
            "Server Identifier" => offer.server_id = value.parse().ok(),
            "DHCP Message Type" => offer.message_type = Some(value.to_owned()),
            _ => {}
        }
        offer.fields.push((name.to_owned(), value.to_owned()));
    }
    offers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_env_dump() {
        let dump = "reason=BOUND\nnew_ip_address=198.51.100.10\nnew_routers=198.51.100.1\n\
                    new_domain_name_servers=192.0.2.53 192.0.2.54\nnew_domain_name=example.test\n\
                    new_dhcp_server_identifier=198.51.100.1\nnew_dhcp_lease_time=4000\n";
        let lease = client_lease(parse_environment(dump), &DHCLIENT_VARIABLES).unwrap();
        assert_eq!(lease.address, Ipv4Addr::new(198, 51, 100, 10));
        assert_eq!(lease.routers, [Ipv4Addr::new(198, 51, 100, 1)]);
        assert_eq!(lease.dns_servers.len(), 2);
        assert_eq!(lease.domain_name.as_deref(), Some("example.test"));
        assert_eq!(lease.lease_time, Some(4000));
        assert_eq!(lease.reason, "BOUND");
        assert!(client_lease(parse_environment("reason=PREINIT\n"), &DHCLIENT_VARIABLES).is_none());
    }

    #[test]
    fn reads_perfdhcp_statistics() {
        let report = parse_perfdhcp(include_str!("perfdhcp-output.txt")).unwrap();
        assert_eq!(report.rate, Some(0.399982));
        assert_eq!(report.exchanges.len(), 2);
        assert_eq!(report.offers(), 10);
        assert_eq!(report.acks(), 10);
        let acks = report.exchange("REQUEST-ACK").unwrap();
        assert_eq!(
            (acks.sent, acks.drops, acks.drops_ratio),
            (10, 0, Some(0.0))
        );
        assert!(parse_perfdhcp("perfdhcp: bind failed").is_err());
    }

    #[test]
    fn reads_nmap_offers() {
        let offers = parse_nmap_offers(include_str!("nmap-output.txt"));
        assert_eq!(offers.len(), 1);
        assert_eq!(offers[0].address, Some(Ipv4Addr::new(198, 51, 100, 10)));
        assert_eq!(offers[0].server_id, Some(Ipv4Addr::new(198, 51, 100, 1)));
        assert_eq!(offers[0].message_type.as_deref(), Some("DHCPOFFER"));
        assert!(
            offers[0]
                .fields
                .iter()
                .any(|(name, value)| name == "Domain Name" && value == "example.test")
        );
    }
}
