//! Scale figures for the production configuration shape (run them, they print; they are
//! ignored by default because they take a while and mean most in a release build):
//!
//!     cargo test --release --test differential_scale -- --ignored --nocapture
//!
//! The generated configuration has 829 subnets in 142 shared networks (a per-subnet required
//! class each, carrying routers, DNS and domain name) and 14,404 host reservations. One test
//! times loading it (parse, validate, build the engine); the other measures the lease rate
//! perfdhcp gets from leasehold with it and with the one-subnet lab configuration.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use leasehold_testnet::TestNet;
use serde_json::{Value, json};

const NETWORKS: usize = 142;
const SUBNETS: usize = 829;
const RESERVATIONS: usize = 14_404;

/// The generated `Dhcp4` configuration, on top of `base` (the lab configuration, whose
/// interfaces and lease file it keeps). The last network's last subnet is the lab's relayed
/// 10.0.0.0/16, so perfdhcp in relay mode lands there.
fn generated(base: &Value) -> Value {
    let mut config = base.clone();
    let relay_subnet = base["Dhcp4"]["subnet4"]
        .as_array()
        .and_then(|subnets| subnets.iter().find(|subnet| subnet["id"] == 2))
        .cloned()
        .expect("lab relay subnet");
    let generated_subnets = SUBNETS - 1;
    let mut classes = Vec::new();
    let mut networks: Vec<Vec<Value>> = vec![Vec::new(); NETWORKS];
    let mut host = 0usize;
    for index in 0..generated_subnets {
        let (second, third) = (1 + index / 256, index % 256);
        let prefix = format!("10.{second}.{third}");
        let class = format!("subnet-{index}");
        classes.push(json!({
            "name": class,
            "only-if-required": true,
            "test": "member('ALL')",
            "option-data": [
                { "name": "routers", "data": format!("{prefix}.1") },
                { "name": "domain-name-servers", "data": format!("{prefix}.53, 192.0.2.53") },
                { "name": "domain-name", "data": format!("s{index}.example") }
            ]
        }));
        let count = RESERVATIONS / generated_subnets
            + usize::from(index < RESERVATIONS % generated_subnets);
        let reservations: Vec<Value> = (0..count)
            .map(|slot| {
                host += 1;
                let id = host.to_be_bytes();
                json!({
                    "hw-address": format!("02:ee:{:02x}:{:02x}:{:02x}:{:02x}", id[4], id[5], id[6], id[7]),
                    "ip-address": format!("{prefix}.{}", 200 + slot),
                })
            })
            .collect();
        networks[index % NETWORKS].push(json!({
            "id": 1000 + index,
            "subnet": format!("{prefix}.0/24"),
            "pools": [ { "pool": format!("{prefix}.10 - {prefix}.190") } ],
            "require-client-classes": [ class ],
            "valid-lifetime": 3600 + index,
            "reservations": reservations
        }));
    }
    networks[NETWORKS - 1].push(relay_subnet);
    let shared: Vec<Value> = networks
        .into_iter()
        .enumerate()
        .map(|(index, subnets)| json!({ "name": format!("site-{index}"), "subnet4": subnets }))
        .collect();
    let dhcp4 = &mut config["Dhcp4"];
    dhcp4["subnet4"] = json!([]);
    dhcp4["shared-networks"] = json!(shared);
    dhcp4["client-classes"] = json!(classes);
    dhcp4["host-reservation-identifiers"] = json!(["circuit-id", "hw-address", "client-id"]);
    config
}

/// The lab configuration with only its relayed subnet.
fn one_subnet(base: &Value) -> Value {
    let mut config = base.clone();
    if let Some(subnets) = config["Dhcp4"]["subnet4"].as_array_mut() {
        subnets.retain(|subnet| subnet["id"] == 2);
    }
    config
}

#[test]
#[ignore = "prints figures; run with --release --ignored --nocapture"]
fn generated_configuration_loads_quickly() {
    let net = TestNet::new().expect("test network");
    let text = serde_json::to_string_pretty(&generated(&net.lab_config())).unwrap();
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let config = leasehold_config::Config::parse(&text, "generated.json").expect("loads");
        let (engine, _) = leasehold_engine::Engine::new(config, Vec::new());
        best = best.min(start.elapsed());
        assert_eq!(engine.config().subnets.len(), SUBNETS);
        assert_eq!(engine.config().shared_networks.len(), NETWORKS);
        let reservations: usize = engine
            .config()
            .subnets
            .iter()
            .map(|subnet| subnet.reservations.len())
            .sum();
        assert_eq!(reservations, RESERVATIONS);
    }
    println!(
        "load: {} bytes, {SUBNETS} subnets, {NETWORKS} shared networks, {RESERVATIONS} \
         reservations: {:.1} ms (best of 5)",
        text.len(),
        best.as_secs_f64() * 1000.0
    );
    if !cfg!(debug_assertions) {
        assert!(best < Duration::from_millis(200), "load took {best:?}");
    }
}

/// Leases per second perfdhcp (relay mode, `rate` per second for `seconds`) gets.
fn lease_rate(config: &Value, rate: u32, seconds: u32) -> f64 {
    let net = TestNet::new().expect("test network");
    let kind =
        leasehold_testnet::ServerKind::Leasehold(PathBuf::from(env!("CARGO_BIN_EXE_leasehold")));
    let mut config = config.clone();
    config["Dhcp4"]["lease-database"]["name"] = json!(net.lease_file());
    config["Dhcp4"]["interfaces-config"]["interfaces"] = json!([net.relay_server_if()]);
    let _server = net.start_server(&kind, &config).expect("leasehold starts");
    let (rate, seconds) = (rate.to_string(), seconds.to_string());
    let relay = Ipv4Addr::new(192, 0, 2, 2).to_string();
    let args = [
        "-r",
        &rate,
        "-R",
        "1000000",
        "-p",
        &seconds,
        "-l",
        &relay,
        "192.0.2.1",
    ];
    let report = net.run_perfdhcp(&args).expect("perfdhcp");
    report.rate.unwrap_or(0.0)
}

#[test]
#[ignore = "prints figures; run with --release --ignored --nocapture"]
fn lease_rate_with_829_subnets_matches_one_subnet() {
    let base = TestNet::new().expect("test network").lab_config();
    let (rate, seconds) = (4000, 10);
    let single = lease_rate(&one_subnet(&base), rate, seconds);
    let large = lease_rate(&generated(&base), rate, seconds);
    let change = (large - single) / single * 100.0;
    println!(
        "perfdhcp relay mode at {rate}/s for {seconds} s: one subnet {single:.0} leases/s, \
         {SUBNETS} subnets {large:.0} leases/s ({change:+.1}%)"
    );
    assert!(
        large >= single * 0.9,
        "the large configuration is more than 10% slower"
    );
}
