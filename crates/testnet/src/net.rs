//! The two-namespace network of `shared/lab/netns.sh`, one private copy per test.

use std::net::Ipv4Addr;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tempfile::TempDir;

use crate::error::{Error, Result};
use crate::process::{self, Finished};
use crate::relay::RelayClient;

/// Server side of the relay link (the address relayed packets go to).
pub const RELAY_SERVER_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The relay agent address of the lab: perfdhcp runs with `-l 192.0.2.2` and uses it as giaddr.
pub const RELAY_AGENT_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// A second relay agent address on the client side, used by [`RelayClient`] so that it can run
/// while perfdhcp holds `192.0.2.2:67`. [`TestNet::lab_config`] lists it as a relay address of
/// the relayed subnet.
pub const HARNESS_RELAY_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);
/// Server side of the broadcast link.
pub const BCAST_SERVER_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// Client side of the broadcast link (nmap needs an address on the interface it uses).
pub const BCAST_CLIENT_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 254);

/// Set this variable to keep each test's directory (configs, logs, lease files) after the test.
pub const KEEP_DIR_VAR: &str = "LEASEHOLD_TESTNET_KEEP";

static NEXT_NET: AtomicU32 = AtomicU32::new(0);
static NEXT_FILE: AtomicU32 = AtomicU32::new(0);

/// Which of the two namespaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Where the DHCP server runs.
    Server,
    /// Where clients, perfdhcp and the relay client run.
    Client,
}

/// Two network namespaces joined by two veth pairs, plus a scratch directory.
///
/// ```text
///   server ns                                   client ns
///   relay_server_if  192.0.2.1/24   <---->  relay_client_if  192.0.2.2/24, 192.0.2.3/24
///   bcast_server_if  198.51.100.1/24 <---->  bcast_client_if  198.51.100.254/24
/// ```
///
/// Every name carries the process id and a per-process counter, so tests may run in parallel
/// in one process (cargo test) or many (nextest). The veths are created directly inside their
/// namespaces, so they never appear in the root namespace at all. Dropping the value kills
/// whatever still runs in the namespaces, deletes them (which deletes the veths) and removes
/// the directory, unless [`KEEP_DIR_VAR`] is set.
#[derive(Debug)]
pub struct TestNet {
    server_ns: String,
    client_ns: String,
    relay_server_if: String,
    relay_client_if: String,
    bcast_server_if: String,
    bcast_client_if: String,
    dir: Option<TempDir>,
    dir_path: PathBuf,
    relay: Mutex<Option<RelayClient>>,
}

impl TestNet {
    /// Builds a fresh network; needs root.
    pub fn new() -> Result<Self> {
        remove_stale_namespaces();
        let pid = std::process::id();
        let serial = NEXT_NET.fetch_add(1, Ordering::Relaxed);
        // Interface names are at most 15 bytes: "lh" + pid (≤ 6 hex) + "-" + serial + role.
        let interface = |role: &str| format!("lh{pid:x}-{serial:x}{role}");
        let dir = tempfile::Builder::new()
            .prefix(&format!("leasehold-testnet-{pid}-{serial}-"))
            .tempdir()
            .map_err(|source| Error::system("create test directory", source))?;
        let net = Self {
            server_ns: format!("lh-{pid}-{serial}-s"),
            client_ns: format!("lh-{pid}-{serial}-c"),
            relay_server_if: interface("rs"),
            relay_client_if: interface("rc"),
            bcast_server_if: interface("bs"),
            bcast_client_if: interface("bc"),
            dir_path: dir.path().to_path_buf(),
            dir: Some(dir),
            relay: Mutex::new(None),
        };
        // `net` exists before the first namespace does, so a failure below still cleans up.
        net.build()?;
        Ok(net)
    }

    fn build(&self) -> Result<()> {
        let (server, client) = (self.server_ns.as_str(), self.client_ns.as_str());
        ip(&["netns", "add", server])?;
        ip(&["netns", "add", client])?;
        self.add_veth(&self.relay_server_if, &self.relay_client_if)?;
        self.add_veth(&self.bcast_server_if, &self.bcast_client_if)?;
        let addresses = [
            (server, &self.relay_server_if, "192.0.2.1/24"),
            (client, &self.relay_client_if, "192.0.2.2/24"),
            (client, &self.relay_client_if, "192.0.2.3/24"),
            (server, &self.bcast_server_if, "198.51.100.1/24"),
            (client, &self.bcast_client_if, "198.51.100.254/24"),
        ];
        for (namespace, interface, address) in addresses {
            ip(&["-n", namespace, "addr", "add", address, "dev", interface])?;
        }
        for namespace in [server, client] {
            ip(&["-n", namespace, "link", "set", "lo", "up"])?;
        }
        self.set_up(server, &self.relay_server_if)?;
        self.set_up(server, &self.bcast_server_if)?;
        self.set_up(client, &self.relay_client_if)?;
        self.set_up(client, &self.bcast_client_if)
    }

    fn add_veth(&self, server_end: &str, client_end: &str) -> Result<()> {
        ip(&[
            "link",
            "add",
            "name",
            server_end,
            "netns",
            &self.server_ns,
            "type",
            "veth",
            "peer",
            "name",
            client_end,
            "netns",
            &self.client_ns,
        ])
    }

    fn set_up(&self, namespace: &str, interface: &str) -> Result<()> {
        ip(&["-n", namespace, "link", "set", interface, "up"])
    }

    /// The server namespace's name.
    pub fn server_ns(&self) -> &str {
        &self.server_ns
    }

    /// The client namespace's name.
    pub fn client_ns(&self) -> &str {
        &self.client_ns
    }

    /// The namespace's name for `side`.
    pub fn namespace(&self, side: Side) -> &str {
        match side {
            Side::Server => &self.server_ns,
            Side::Client => &self.client_ns,
        }
    }

    /// Server end of the relay link (`veth-srv` in the lab), 192.0.2.1/24.
    pub fn relay_server_if(&self) -> &str {
        &self.relay_server_if
    }

    /// Client end of the relay link (`veth-cli` in the lab), 192.0.2.2/24 and 192.0.2.3/24.
    pub fn relay_client_if(&self) -> &str {
        &self.relay_client_if
    }

    /// Server end of the broadcast link (`bcast-srv` in the lab), 198.51.100.1/24.
    pub fn bcast_server_if(&self) -> &str {
        &self.bcast_server_if
    }

    /// Client end of the broadcast link (`bcast-cli` in the lab), 198.51.100.254/24.
    pub fn bcast_client_if(&self) -> &str {
        &self.bcast_client_if
    }

    /// The scratch directory: configs, lease files, logs, client scripts.
    pub fn dir(&self) -> &Path {
        &self.dir_path
    }

    /// A new, unused path in [`Self::dir`] named `STEM-N.EXTENSION`.
    pub fn unique_path(&self, stem: &str, extension: &str) -> PathBuf {
        let serial = NEXT_FILE.fetch_add(1, Ordering::Relaxed);
        self.dir_path.join(format!("{stem}-{serial}.{extension}"))
    }

    /// Gives the client end of the broadcast link another MAC address, e.g. one that has a
    /// reservation. The link goes down and up again around the change.
    pub fn set_bcast_client_mac(&self, mac: [u8; 6]) -> Result<()> {
        let (namespace, interface) = (self.client_ns.as_str(), self.bcast_client_if.as_str());
        let mac = crate::format_mac(&mac);
        ip(&["-n", namespace, "link", "set", interface, "down"])?;
        ip(&["-n", namespace, "link", "set", interface, "address", &mac])?;
        ip(&["-n", namespace, "link", "set", interface, "up"])
    }

    /// A command that runs `args` inside the namespace of `side`, for tests that need a tool
    /// this crate does not wrap.
    pub fn command(&self, side: Side, args: &[&str]) -> Command {
        process::netns_command(self.namespace(side), args)
    }

    /// Runs `args` in the namespace of `side` until it exits or `timeout` passes (then it is
    /// killed). Output is kept in a log file named after the program in [`Self::dir`].
    pub fn run(&self, side: Side, args: &[&str], timeout: Duration) -> Result<Finished> {
        let program = args.first().map_or("command", |program| {
            Path::new(program)
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or("command")
        });
        let log = self.unique_path(program, "log");
        process::run_logged(self.command(side, args), &log, timeout)
    }

    /// The relay client of this network (giaddr [`HARNESS_RELAY_ADDR`]), bound on first use.
    ///
    /// One socket serves the whole test, so the lock also keeps two exchanges from reading
    /// each other's replies; hold the guard only for one exchange when threads share it.
    pub fn relay(&self) -> Result<RelayGuard<'_>> {
        let mut guard = self.relay.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            *guard = Some(RelayClient::bind(self, HARNESS_RELAY_ADDR)?);
        }
        Ok(RelayGuard(guard))
    }

    /// A UDP socket bound to `local` in the namespace of `side`.
    pub(crate) fn bind_udp(
        &self,
        side: Side,
        local: std::net::SocketAddrV4,
    ) -> Result<std::net::UdpSocket> {
        self.in_namespace(side, move || std::net::UdpSocket::bind(local))?
            .map_err(|source| Error::system(format!("bind {local}"), source))
    }

    /// Runs `task` on a thread inside the namespace of `side` (see [`crate::in_namespace`]).
    pub fn in_namespace<T, F>(&self, side: Side, task: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        process::in_namespace(self.namespace(side), task)
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        for namespace in [&self.server_ns, &self.client_ns] {
            kill_everything_in(namespace);
            let _ = ip(&["netns", "del", namespace]);
        }
        if std::env::var_os(KEEP_DIR_VAR).is_none() {
            return;
        }
        if let Some(dir) = self.dir.take() {
            eprintln!("leasehold-testnet: kept {}", dir.keep().display());
        }
    }
}

/// Exclusive use of a network's [`RelayClient`]; see [`TestNet::relay`].
#[derive(Debug)]
pub struct RelayGuard<'a>(MutexGuard<'a, Option<RelayClient>>);

impl Deref for RelayGuard<'_> {
    type Target = RelayClient;

    fn deref(&self) -> &RelayClient {
        self.0
            .as_ref()
            .expect("TestNet::relay fills the slot before handing out a guard")
    }
}

impl DerefMut for RelayGuard<'_> {
    fn deref_mut(&mut self) -> &mut RelayClient {
        self.0
            .as_mut()
            .expect("TestNet::relay fills the slot before handing out a guard")
    }
}

/// Runs `ip ARGS` in the root namespace and fails with its output unless it succeeds.
pub(crate) fn ip(args: &[&str]) -> Result<()> {
    let mut command = Command::new("ip");
    command.args(args);
    let output = command.output().map_err(|source| Error::Spawn {
        command: process::describe(&command),
        source,
    })?;
    if output.status.success() {
        return Ok(());
    }
    Err(Error::Command {
        command: process::describe(&command),
        status: output.status.to_string(),
        output: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    })
}

/// Kills the processes still running in one of our namespaces (a leaked client, say).
fn kill_everything_in(namespace: &str) {
    let Ok(output) = Command::new("ip")
        .args(["netns", "pids", namespace])
        .output()
    else {
        return;
    };
    let pids = String::from_utf8_lossy(&output.stdout);
    for pid in pids.split_whitespace().filter_map(|pid| pid.parse().ok()) {
        let _ = process::send_signal(pid, libc::SIGKILL);
    }
}

/// Deletes namespaces `lh-PID-N-s|c` left behind by test processes that no longer exist (a
/// test killed with SIGKILL cannot run its destructors).
fn remove_stale_namespaces() {
    let Ok(entries) = std::fs::read_dir("/var/run/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = stale_owner(name) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            kill_everything_in(name);
            let _ = ip(&["netns", "del", name]);
        }
    }
}

/// The pid in a namespace name of ours (`lh-PID-N-s` or `lh-PID-N-c`).
fn stale_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("lh-")?;
    let rest = rest
        .strip_suffix("-s")
        .or_else(|| rest.strip_suffix("-c"))?;
    let (pid, serial) = rest.split_once('-')?;
    serial.parse::<u32>().ok()?;
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_our_namespace_names() {
        assert_eq!(stale_owner("lh-1234-0-s"), Some(1234));
        assert_eq!(stale_owner("lh-1234-17-c"), Some(1234));
        assert_eq!(stale_owner("lh-1234-x-c"), None);
        assert_eq!(stale_owner("dhcp-srv"), None);
        assert_eq!(stale_owner("lh-1234-0-x"), None);
    }
}
