//! `leasehold probe` against a live leasehold server in a test network, and against nothing.
//! Needs root and `ip netns`, like the other end-to-end tests.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use leasehold_testnet::scenarios::Lab;
use leasehold_testnet::{
    Finished, LeaseFile, RELAY_AGENT_ADDR, RELAY_SERVER_ADDR, ServerKind, Side, TestNet,
};

/// The probe's default hardware address.
const PROBE_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x67];
/// Generous: a probe takes milliseconds, or `--timeout` times `--retries + 1` when it fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

fn leasehold() -> ServerKind {
    ServerKind::Leasehold(PathBuf::from(env!("CARGO_BIN_EXE_leasehold")))
}

fn probe(net: &TestNet, args: &[&str]) -> Finished {
    let mut command = vec![env!("CARGO_BIN_EXE_leasehold"), "probe"];
    command.extend_from_slice(args);
    net.run(Side::Client, &command, RUN_TIMEOUT)
        .unwrap_or_else(|error| panic!("cannot run the probe: {error}"))
}

/// The address in the probe's "lease ADDRESS from ..." line.
fn leased_address(output: &str) -> std::net::Ipv4Addr {
    let line = output.lines().find(|line| line.starts_with("lease "));
    let address = line.and_then(|line| line.split_whitespace().nth(1));
    address
        .and_then(|address| address.parse().ok())
        .unwrap_or_else(|| panic!("no lease in the probe's output:\n{output}"))
}

#[test]
fn probe_gets_a_lease_and_releases_it() {
    let lab = Lab::start(&leasehold(), |_| {});
    let (agent, server) = (RELAY_AGENT_ADDR.to_string(), RELAY_SERVER_ADDR.to_string());
    let finished = probe(&lab.net, &["-l", &agent, "--timeout", "1", &server]);
    if !finished.is_success() {
        lab.fail(format!("probe failed: {finished:?}"));
    }
    let address = leased_address(&finished.output);
    assert_eq!(address.octets()[..2], [10, 0], "{}", finished.output);

    // The ACK was written to the lease file, then the RELEASE removed it.
    let text = std::fs::read_to_string(lab.net.lease_file()).unwrap_or_default();
    assert!(
        text.contains("02:00:5e:10:00:67"),
        "no ACKed lease in:\n{text}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !lab.leases().by_mac(PROBE_MAC).is_empty() {
        if Instant::now() > deadline {
            lab.fail(format!(
                "{address} still leased after the probe released it"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn probe_keeps_the_lease_when_asked() {
    let lab = Lab::start(&leasehold(), |_| {});
    let (agent, server) = (RELAY_AGENT_ADDR.to_string(), RELAY_SERVER_ADDR.to_string());
    let finished = probe(&lab.net, &["-l", &agent, "--keep", &server]);
    if !finished.is_success() {
        lab.fail(format!("probe failed: {finished:?}"));
    }
    let address = leased_address(&finished.output);
    let leases = lab.leases();
    let held: Vec<_> = leases
        .by_mac(PROBE_MAC)
        .iter()
        .map(|lease| lease.address)
        .collect();
    assert_eq!(held, [address], "{leases:#?}");
}

#[test]
fn probe_as_a_direct_client_on_an_interface() {
    let lab = Lab::start(&leasehold(), |_| {});
    let interface = lab.net.bcast_client_if().to_owned();
    let finished = probe(&lab.net, &["-i", &interface, "--keep", "all"]);
    if !finished.is_success() {
        lab.fail(format!("probe failed: {finished:?}"));
    }
    let address = leased_address(&finished.output);
    assert_eq!(address.octets()[..3], [198, 51, 100], "{}", finished.output);
    assert!(
        finished.output.contains("from 198.51.100.1"),
        "{}",
        finished.output
    );
}

#[test]
fn probe_against_nothing_fails_and_runs_its_command() {
    let net = TestNet::new().unwrap_or_else(|error| panic!("cannot build test network: {error}"));
    let marker = net.dir().join("probe-failed");
    let command = format!(
        "echo \"$PROBE_STAGE $PROBE_SERVER $PROBE_MAC\" > {}",
        marker.display()
    );
    let (agent, server) = (RELAY_AGENT_ADDR.to_string(), RELAY_SERVER_ADDR.to_string());
    let args = [
        "-l",
        &agent,
        "--timeout",
        "0.3",
        "--retries",
        "1",
        "--on-failure",
        &command,
    ];
    let finished = probe(&net, &[&args[..], &[server.as_str()]].concat());
    assert_eq!(
        finished.status.and_then(|status| status.code()),
        Some(1),
        "{finished:?}"
    );
    assert!(
        finished
            .output
            .contains("no OFFER from 192.0.2.1:67 after 2 DISCOVERs"),
        "{finished:?}"
    );
    let written = std::fs::read_to_string(&marker).expect("the --on-failure command ran");
    assert_eq!(written.trim(), "discover 192.0.2.1 02:00:5e:10:00:67");
    assert!(LeaseFile::read(&net.lease_file()).unwrap().is_empty());
}
