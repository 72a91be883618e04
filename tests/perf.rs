//! `leasehold perf` against a live leasehold server in a test network: what it reports must
//! match the lease file. Needs root and `ip netns`, like the other end-to-end tests.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use leasehold_testnet::config::{BCAST_SUBNET_ID, RELAY_SUBNET_ID};
use leasehold_testnet::scenarios::Lab;
use leasehold_testnet::{RELAY_AGENT_ADDR, RELAY_SERVER_ADDR, ServerKind, Side};
use serde_json::Value;

const RUN_TIMEOUT: Duration = Duration::from_secs(60);
const BIN: &str = env!("CARGO_BIN_EXE_leasehold");

fn leasehold() -> ServerKind {
    ServerKind::Leasehold(PathBuf::from(env!("CARGO_BIN_EXE_leasehold")))
}

/// Runs `leasehold perf ARGS --json` in the client namespace; returns its exit code and report.
fn perf(lab: &Lab, args: &[&str]) -> (Option<i32>, Value) {
    let mut command = vec![env!("CARGO_BIN_EXE_leasehold"), "perf", "--json"];
    command.extend_from_slice(args);
    let finished = lab.check(lab.net.run(Side::Client, &command, RUN_TIMEOUT));
    let line = finished.output.lines().find(|line| line.starts_with('{'));
    let Some(report) = line.and_then(|line| serde_json::from_str(line).ok()) else {
        lab.fail(format!("no JSON report from perf: {finished:?}"));
    };
    (finished.status.and_then(|status| status.code()), report)
}

#[test]
fn relayed_acks_match_the_lease_file_and_are_unique() {
    let lab = Lab::start(&leasehold(), |_| {});
    let (agent, server) = (RELAY_AGENT_ADDR.to_string(), RELAY_SERVER_ADDR.to_string());
    let args = [
        "-l", &agent, "-r", "300", "-n", "600", "-R", "10000", "-u", "-d", "2", &server,
    ];
    let (code, report) = perf(&lab, &args);
    let leases = lab.leases();
    let relayed = leases.in_subnet(RELAY_SUBNET_ID as u32).len();
    if code != Some(0) || report["acks"] != 600 || relayed != 600 || report["unique"] != true {
        lab.fail(format!(
            "exit {code:?}, {relayed} relayed leases in the file, report {report:#}"
        ));
    }
    assert_eq!(report["stages"]["DISCOVER-OFFER"]["drops"], 0);
    assert!(report["stages"]["REQUEST-ACK"]["latency_ms"]["p99"].is_number());
}

#[test]
fn renewals_and_releases_keep_the_lease_file_in_step() {
    let lab = Lab::start(&leasehold(), |_| {});
    let (agent, server) = (RELAY_AGENT_ADDR.to_string(), RELAY_SERVER_ADDR.to_string());
    let args = [
        "-l",
        &agent,
        "-r",
        "300",
        "-n",
        "600",
        "-R",
        "10000",
        "-u",
        "-d",
        "2",
        "--renew-percent",
        "20",
        "--release-percent",
        "10",
        &server,
    ];
    let (code, report) = perf(&lab, &args);
    let stages = &report["stages"];
    let bound = stages["REQUEST-ACK"]["received"].as_u64().unwrap_or(0)
        - stages["RELEASE"]["sent"].as_u64().unwrap_or(0);
    // A RELEASE has no reply, so the last ones may still be on their way.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut leases = lab.leases().in_subnet(RELAY_SUBNET_ID as u32).len() as u64;
    while leases != bound && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        leases = lab.leases().in_subnet(RELAY_SUBNET_ID as u32).len() as u64;
    }
    if code != Some(0) || leases != bound || stages["RENEW-ACK"]["received"] == 0 {
        lab.fail(format!(
            "exit {code:?}, {leases} leases, expected {bound}: {report:#}"
        ));
    }
}

/// `serve --gather-window 0`: nothing waits to gather, and every ACK still leaves only for a
/// lease in the file.
#[test]
fn without_a_gather_window_every_ack_is_in_the_lease_file() {
    let mut lab = Lab::start(&leasehold(), |_| {});
    let stopped = lab.server.terminate();
    lab.check(stopped);
    let path = lab.check(lab.net.write_config(&lab.config));
    let path = path.display().to_string();
    let command = [BIN, "serve", "-c", &path, "--gather-window", "0"];
    let spawned = lab.net.spawn_server(&command);
    lab.server = lab.check(spawned);
    let serving = lab.server.wait_until_serving(&lab.net);
    lab.check(serving);
    let (agent, server) = (RELAY_AGENT_ADDR.to_string(), RELAY_SERVER_ADDR.to_string());
    let args = [
        "-l", &agent, "-r", "2000", "-n", "4000", "-R", "10000", "-u", "-d", "2", &server,
    ];
    let (code, report) = perf(&lab, &args);
    let relayed = lab.leases().in_subnet(RELAY_SUBNET_ID as u32).len();
    if code != Some(0) || report["acks"] != 4000 || relayed != 4000 {
        lab.fail(format!(
            "exit {code:?}, {relayed} relayed leases in the file, report {report:#}"
        ));
    }
}

#[test]
fn broadcast_clients_on_an_interface() {
    let lab = Lab::start(&leasehold(), |_| {});
    let interface = lab.net.bcast_client_if().to_owned();
    let args = [
        "-i", &interface, "-r", "100", "-n", "50", "-R", "50", "-u", "all",
    ];
    let (code, report) = perf(&lab, &args);
    let leases = lab.leases().in_subnet(BCAST_SUBNET_ID as u32).len();
    if code != Some(0) || report["acks"] != 50 || leases != 50 {
        lab.fail(format!("exit {code:?}, {leases} leases, report {report:#}"));
    }
}
