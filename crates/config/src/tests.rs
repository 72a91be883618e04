//! Whole-configuration tests: every supported key, the defaults, and each
//! class of problem with its line and path.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::*;

const LAB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/lab/kea-lab.json"
);
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/full.json");

fn env(name: &str) -> Option<String> {
    (name == "LEASE_DIR").then(|| "/srv/leasehold".to_owned())
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse_with_env(text, "test.json", &env)
}

fn parse_ok(text: &str) -> Config {
    parse(text).unwrap_or_else(|error| panic!("configuration refused:\n{error}"))
}

fn problems(text: &str) -> Vec<Problem> {
    match parse(text) {
        Ok(_) => panic!("configuration accepted"),
        Err(error) => error.problems,
    }
}

/// Asserts that parsing `text` reports exactly one problem, at `line` and
/// `path`, whose message contains `words`.
#[track_caller]
fn assert_single(text: &str, line: usize, path: &str, words: &str) {
    let found = problems(text);
    assert_eq!(found.len(), 1, "expected one problem, got {found:#?}");
    assert_problem(&found[0], line, path, words);
}

#[track_caller]
fn assert_problem(problem: &Problem, line: usize, path: &str, words: &str) {
    assert_eq!(
        (problem.line, problem.path.as_str()),
        (line, path),
        "{problem}"
    );
    assert!(problem.message.contains(words), "{problem}");
    assert_eq!(problem.source, "test.json");
}

/// A minimal configuration around one subnet body (the subnet's `{` is on
/// line 3).
fn with_subnet(body: &str) -> String {
    format!("{{\n\"Dhcp4\": {{ \"subnet4\": [\n{{ {body} }}\n] }}\n}}")
}

/// A configuration with the global keys `globals` and one subnet, whose body is on line 3.
fn with_globals_and_subnet(globals: &str, body: &str) -> String {
    format!("{{\n\"Dhcp4\": {{ {globals}, \"subnet4\": [\n{{ {body} }}\n] }}\n}}")
}

fn address(text: &str) -> Ipv4Addr {
    text.parse().expect("test address")
}

#[test]
fn kea_lab_configuration_parses() {
    let config = Config::load(Path::new(LAB)).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(config.interfaces.interfaces, ["veth-srv", "bcast-srv"]);
    assert_eq!(
        config.lease_database,
        LeaseDatabase::Memfile(Memfile {
            name: PathBuf::from("/tmp/dhcp-lab/leases4.csv"),
            persist: true,
            lfc_interval: 0,
        })
    );
    assert!(config.multi_threading.enabled);
    assert_eq!(config.multi_threading.thread_pool_size, 2);
    assert_eq!(config.valid_lifetime, 4000);
    assert_eq!(config.options.len(), 2);
    assert_eq!(config.options[0].code, 6);
    assert_eq!(config.options[0].data, [192, 0, 2, 53, 192, 0, 2, 54]);
    assert_eq!(config.options[1].data, b"example.test");
    assert_eq!(config.subnets.len(), 2);
    let relayed = &config.subnets[1];
    assert_eq!(relayed.relay_addresses, [address("192.0.2.2")]);
    assert_eq!(relayed.pools[0].last, address("10.0.255.250"));
    assert_eq!(relayed.renew_timer, Some(1000));
    assert_eq!(config.loggers[0].severity, Severity::Warn);
    assert_eq!(config.raw["Dhcp4"]["valid-lifetime"], 4000);
}

#[test]
fn fixture_sets_every_supported_key() {
    let text = std::fs::read_to_string(FIXTURE).expect("fixture");
    let config = parse_ok(&text);

    assert_eq!(
        config.interfaces,
        InterfacesConfig {
            interfaces: vec!["eth0".into(), "eth1/192.0.2.1".into()],
            socket_type: SocketType::Udp,
            outbound_interface: OutboundInterface::UseRouting,
        }
    );
    assert_eq!(
        config.lease_database,
        LeaseDatabase::Memfile(Memfile {
            name: PathBuf::from("/srv/leasehold/leases4.csv"),
            persist: false,
            lfc_interval: 1800,
        })
    );
    assert_eq!(config.valid_lifetime, 4000);
    assert_eq!(
        (config.renew_timer, config.rebind_timer),
        (Some(1000), Some(2000))
    );
    assert_eq!(config.decline_probation_period, 600);
    assert!(!config.match_client_id);
    assert!(config.authoritative);
    assert_eq!(config.next_server, Some(address("192.0.2.10")));

    let codes: Vec<u8> = config.options.iter().map(|option| option.code).collect();
    assert_eq!(codes, [6, 15, 119, 42, 224, 60]);
    assert!(config.options[0].always_send);
    assert!(!config.options[1].always_send);
    assert_eq!(config.options[4].data, [1, 2, 3]);
    assert_eq!(config.options[5].data, b"leasehold");

    let first = &config.subnets[0];
    assert_eq!(first.id, 1);
    assert_eq!(first.prefix, "198.51.100.0/24".parse().unwrap());
    assert_eq!(first.interface.as_deref(), Some("eth0"));
    assert_eq!(first.pools.len(), 2);
    assert_eq!(first.pools[1].first, address("198.51.100.128"));
    assert_eq!(first.pools[1].last, address("198.51.100.191"));
    assert_eq!(first.pools[1].options[0].data, [198, 51, 100, 2]);
    assert_eq!(first.options[0].code, 3);
    assert_eq!(first.valid_lifetime, 600);
    assert_eq!(
        (first.min_valid_lifetime, first.max_valid_lifetime),
        (300, 5000),
        "own minimum, global maximum"
    );
    assert_eq!(
        (first.renew_timer, first.rebind_timer),
        (Some(100), Some(200))
    );
    assert_eq!(first.next_server, Some(address("198.51.100.5")));
    assert_eq!(first.user_context, Some(serde_json::json!({ "rack": 7 })));

    let reservations = &first.reservations;
    assert_eq!(
        reservations[0].identifier,
        HostIdentifier::HwAddress(vec![2, 0, 0, 0, 0, 0xaa])
    );
    assert_eq!(reservations[0].address, Some(address("198.51.100.250")));
    assert_eq!(reservations[0].hostname.as_deref(), Some("reserved-host"));
    assert_eq!(
        reservations[1].identifier,
        HostIdentifier::ClientId(vec![1, 2, 0, 0, 0, 0, 0xbb])
    );
    assert_eq!(
        reservations[2].identifier,
        HostIdentifier::CircuitId(b"port-7".to_vec())
    );
    assert_eq!(reservations[2].address, None);
    assert_eq!(reservations[2].options[0].data, b"port7");
    assert!(
        matches!(reservations[3].identifier, HostIdentifier::Duid(ref duid) if duid.len() == 10)
    );
    assert_eq!(reservations[3].hostname, None);

    let second = &config.subnets[1];
    assert_eq!(
        second.relay_addresses,
        [address("192.0.2.2"), address("192.0.2.3")]
    );
    assert_eq!(second.valid_lifetime, 4000, "inherited");
    assert_eq!(
        (second.min_valid_lifetime, second.max_valid_lifetime),
        (3000, 5000)
    );
    assert_eq!(
        (second.renew_timer, second.rebind_timer),
        (Some(1000), Some(2000))
    );
    assert_eq!(second.next_server, Some(address("192.0.2.10")));
    assert_eq!(second.interface, None);
    assert_eq!(config.subnets[2].relay_addresses, [address("192.0.2.4")]);

    assert_eq!(
        config.expired_leases,
        ExpiredLeasesProcessing {
            reclaim_timer_wait_time: 5,
            flush_reclaimed_timer_wait_time: 20,
            hold_reclaimed_time: 1800,
            max_reclaim_leases: 50,
            max_reclaim_time: 100,
            unwarned_reclaim_cycles: 10,
        }
    );
    assert_eq!(
        config.multi_threading,
        MultiThreading {
            enabled: true,
            thread_pool_size: 4,
            packet_queue_size: 16,
        }
    );
    let loggers = &config.loggers;
    assert_eq!(
        loggers[0].output,
        LogOutput::File("/var/log/leasehold.log".into())
    );
    assert_eq!(
        (loggers[0].severity, loggers[0].debug_level),
        (Severity::Debug, 40)
    );
    assert_eq!(loggers[1].output, LogOutput::Syslog);
    assert_eq!(loggers[2].output, LogOutput::Stdout);
    assert_eq!(loggers[2].severity, Severity::Info);

    assert_eq!(
        config.raw["Dhcp4"]["lease-database"]["name"],
        "/srv/leasehold/leases4.csv"
    );
}

#[test]
fn defaults_are_keas() {
    let config = parse_ok(r#"{ "Dhcp4": {} }"#);
    assert_eq!(config.interfaces, InterfacesConfig::default());
    assert_eq!(
        config.lease_database,
        LeaseDatabase::Memfile(Memfile {
            name: PathBuf::from("/var/lib/kea/kea-leases4.csv"),
            persist: true,
            lfc_interval: 3600,
        })
    );
    assert_eq!(config.valid_lifetime, 7200);
    assert_eq!((config.renew_timer, config.rebind_timer), (None, None));
    assert_eq!(config.decline_probation_period, 86_400);
    assert!(config.match_client_id);
    assert!(!config.authoritative);
    assert_eq!(config.next_server, None);
    assert!(config.options.is_empty() && config.subnets.is_empty());
    assert_eq!(
        config.expired_leases,
        ExpiredLeasesProcessing {
            reclaim_timer_wait_time: 10,
            flush_reclaimed_timer_wait_time: 25,
            hold_reclaimed_time: 3600,
            max_reclaim_leases: 100,
            max_reclaim_time: 250,
            unwarned_reclaim_cycles: 5,
        }
    );
    assert_eq!(
        config.multi_threading,
        MultiThreading {
            enabled: false,
            thread_pool_size: 0,
            packet_queue_size: 64,
        }
    );
    assert!(config.loggers.is_empty());
}

#[test]
fn lease_database_defaults_apply_inside_the_map() {
    let config = parse_ok(r#"{ "Dhcp4": { "lease-database": { "type": "memfile" } } }"#);
    assert_eq!(
        config.lease_database,
        LeaseDatabase::Memfile(Memfile {
            name: PathBuf::from("/var/lib/kea/kea-leases4.csv"),
            persist: true,
            lfc_interval: 3600,
        })
    );
}

#[test]
fn zero_next_server_means_none() {
    let config = parse_ok(r#"{ "Dhcp4": { "next-server": "0.0.0.0" } }"#);
    assert_eq!(config.next_server, None);
}

#[test]
fn subnet_host_bits_are_ignored_as_in_kea() {
    let config = parse_ok(&with_subnet(r#""id": 1, "subnet": "192.0.2.77/24""#));
    assert_eq!(config.subnets[0].prefix, "192.0.2.0/24".parse().unwrap());
}

#[test]
fn syntax_errors_have_a_line() {
    assert_single(
        "{\n  \"Dhcp4\": {\n    \"valid-lifetime\": 1,\n  }\n}",
        3,
        "",
        "comma",
    );
    assert_single("{\n\"Dhcp4\": { 'a': 1 }\n}", 2, "", "");
    assert_single("", 1, "", "empty");
}

#[test]
fn duplicate_keys_are_refused() {
    let text = "{\n\"Dhcp4\": {\n\"valid-lifetime\": 1,\n\"valid-lifetime\": 2\n}\n}";
    assert_single(
        text,
        4,
        "Dhcp4/valid-lifetime",
        "duplicate key 'valid-lifetime' (first given on line 3)",
    );
}

#[test]
fn top_level_must_be_dhcp4_only() {
    assert_single("[]", 1, "", "expected an object");
    assert_single("{}", 1, "", "missing required key 'Dhcp4'");
    let text = "{\n\"Dhcp4\": {},\n\"Logging\": {}\n}";
    assert_single(
        text,
        3,
        "Logging",
        "'Logging' is not supported by leasehold yet",
    );
    assert_single(
        "{\"Dhcp4\": {}, \"Dhcp5\": 1}",
        1,
        "Dhcp5",
        "unknown key 'Dhcp5'",
    );
}

#[test]
fn all_comment_styles_are_accepted() {
    let text =
        "# hash\n{ // slashes\n \"Dhcp4\": { /* block */ \"valid-lifetime\": 60 # tail\n }\n}";
    assert_eq!(parse_ok(text).valid_lifetime, 60);
}

#[test]
fn comments_keep_line_numbers() {
    let text = "# one\n/* two\nthree */\n{\n\"Dhcp4\": { \"valid-lifetime\": \"x\" }\n}";
    assert_single(text, 5, "Dhcp4/valid-lifetime", "expected an integer");
}

#[test]
fn placeholders_fill_and_report() {
    let config = parse_ok(
        r#"{ "Dhcp4": { "lease-database": { "type": "memfile", "name": "<LEASE_DIR>/l.csv" } } }"#,
    );
    let LeaseDatabase::Memfile(memfile) = config.lease_database else {
        panic!("expected memfile");
    };
    assert_eq!(memfile.name, PathBuf::from("/srv/leasehold/l.csv"));

    let text = "{\n\"Dhcp4\": {\n\"next-server\": \"<NEXT_SERVER>\"\n}\n}";
    let found = problems(text);
    assert_problem(
        &found[0],
        3,
        "Dhcp4/next-server",
        "'NEXT_SERVER' is not set",
    );
}

#[test]
fn placeholders_in_comments_are_ignored() {
    parse_ok("{ // <NOT_SET>\n \"Dhcp4\": {} # <ALSO_NOT_SET>\n}");
}

#[test]
fn parse_uses_the_process_environment() {
    // PATH is set in any environment the tests run in.
    let config = Config::parse(r#"{ "Dhcp4": { "comment": "<PATH>" } }"#, "<inline>");
    assert!(config.is_ok());
    let error = Config::parse(
        r#"{ "Dhcp4": { "comment": "<LEASEHOLD_SURELY_UNSET_VARIABLE>" } }"#,
        "<inline>",
    )
    .unwrap_err();
    assert_eq!(error.problems[0].source, "<inline>");
}

#[test]
fn unknown_keys_are_reported_at_every_depth() {
    let text = r#"{
"Dhcp4": {
  "valid-lifetim": 1,
  "interfaces-config": { "interface": [] },
  "subnet4": [ {
    "id": 1, "subnet": "10.0.0.0/24",
    "pools": [ { "pool": "10.0.0.1 - 10.0.0.9", "pol": 1 } ],
    "reservations": [ { "hw-address": "02:00:00:00:00:01", "ipaddress": "10.0.0.5" } ],
    "option-data": [ { "name": "routers", "data": "10.0.0.1", "sapce": "dhcp4" } ],
    "relay": { "ip-addrs": [] }
  } ],
  "loggers": [ { "name": "x", "output_options": [ { "outputs": "stdout" } ] } ]
}
}"#;
    let found = problems(text);
    let expected = [
        (3, "Dhcp4/valid-lifetim"),
        (4, "Dhcp4/interfaces-config/interface"),
        (7, "Dhcp4/subnet4[0]/pools[0]/pol"),
        (8, "Dhcp4/subnet4[0]/reservations[0]/ipaddress"),
        (9, "Dhcp4/subnet4[0]/option-data[0]/sapce"),
        (10, "Dhcp4/subnet4[0]/relay/ip-addrs"),
        (12, "Dhcp4/loggers[0]/output_options[0]/outputs"),
    ];
    for (line, path) in expected {
        let problem = found
            .iter()
            .find(|problem| problem.path == path)
            .unwrap_or_else(|| panic!("no problem at {path}: {found:#?}"));
        assert_problem(problem, line, path, "unknown key");
    }
}

#[test]
fn unsupported_kea_keys_are_named() {
    let text = r#"{
"Dhcp4": {
  "dhcp-queue-control": {},
  "reservation-mode": "all",
  "early-global-reservations-lookup": true,
  "statistic-default-sample-count": 1,
  "dhcp-ddns": {},
  "config-control": {},
  "hosts-databases": [],
  "t1-percent": 0.5,
  "ddns-send-updates": false,
  "dhcp4o6-port": 0,
  "sanity-checks": {},
  "server-tag": "a",
  "calculate-tee-times": true,
  "store-extended-info": true,
  "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "reservation-mode": "all" } ]
}
}"#;
    let found = problems(text);
    assert_eq!(found.len(), 15, "{found:#?}");
    for (index, problem) in found.iter().enumerate() {
        assert_eq!(problem.line, index + 3, "{problem}");
        assert!(
            problem
                .message
                .ends_with("is not supported by leasehold yet"),
            "{problem}"
        );
    }
    assert_eq!(found[14].path, "Dhcp4/subnet4[0]/reservation-mode");
}

#[test]
fn annotations_are_allowed_where_kea_allows_them() {
    let config = parse_ok(
        r#"{ "Dhcp4": { "comment": "a", "user-context": { "b": 1 },
        "lease-database": { "type": "memfile", "comment": "c" },
        "option-data": [
            { "name": "routers", "data": "10.0.0.1", "comment": "d", "user-context": {} }
        ],
        "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "comment": "e",
                       "pools": [ { "pool": "10.0.0.5-10.0.0.6", "user-context": {} } ] } ] } }"#,
    );
    assert_eq!(config.subnets[0].user_context, None);
    assert_single(
        r#"{ "Dhcp4": { "user-context": "x" } }"#,
        1,
        "Dhcp4/user-context",
        "expected an object",
    );
    assert_single(
        r#"{ "comment": "x", "Dhcp4": {} }"#,
        1,
        "comment",
        "unknown key",
    );
}

#[test]
fn type_errors_name_the_expected_type() {
    let text = r#"{
"Dhcp4": {
  "valid-lifetime": -1,
  "renew-timer": 1.5,
  "authoritative": "yes",
  "match-client-id": 1,
  "decline-probation-period": 4294967296,
  "next-server": "192.0.2",
  "subnet4": {},
  "interfaces-config": { "interfaces": "eth0", "dhcp-socket-type": "tcp" }
}
}"#;
    let found = problems(text);
    let expected = [
        (3, "Dhcp4/valid-lifetime", "out of range"),
        (4, "Dhcp4/renew-timer", "not an integer"),
        (5, "Dhcp4/authoritative", "expected true or false"),
        (6, "Dhcp4/match-client-id", "expected true or false"),
        (7, "Dhcp4/decline-probation-period", "out of range"),
        (8, "Dhcp4/next-server", "not an IPv4 address"),
        (9, "Dhcp4/subnet4", "expected an array"),
        (
            10,
            "Dhcp4/interfaces-config/interfaces",
            "expected an array",
        ),
        (
            10,
            "Dhcp4/interfaces-config/dhcp-socket-type",
            "not a socket type",
        ),
    ];
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    for (problem, (line, path, words)) in found.iter().zip(expected) {
        assert_problem(problem, line, path, words);
    }
}

#[test]
fn interface_entries_are_checked() {
    let text = r#"{ "Dhcp4": { "interfaces-config": { "interfaces": [ "*", "eth0/192.0.2.300", "" ],
       "outbound-interface": "nowhere" } } }"#;
    let paths: Vec<_> = problems(text)
        .into_iter()
        .map(|problem| problem.path)
        .collect();
    assert_eq!(
        paths,
        [
            "Dhcp4/interfaces-config/interfaces[1]",
            "Dhcp4/interfaces-config/interfaces[2]",
            "Dhcp4/interfaces-config/outbound-interface",
        ]
    );
}

#[test]
fn lease_database_types() {
    let text =
        "{\n\"Dhcp4\": { \"lease-database\": {\n\"type\": \"mysql\", \"host\": \"db\" } }\n}";
    assert_single(
        text,
        2,
        "Dhcp4/lease-database",
        "missing required key 'name'",
    );
    let text = r#"{ "Dhcp4": { "lease-database": { "type": "postgresql", "name": "kea",
        "host": "/var/run/postgresql", "port": 5432, "user": "kea", "password": "secret",
        "connect-timeout": 3, "max-reconnect-tries": 10, "reconnect-wait-time": 500,
        "on-fail": "serve-retry-continue", "retry-on-startup": true },
        "hosts-database": { "type": "mysql", "name": "hosts" } } }"#;
    let config = parse_ok(text);
    let LeaseDatabase::Sql(database) = &config.lease_database else {
        panic!("expected a SQL lease database");
    };
    assert_eq!(database.backend, SqlBackend::Postgresql);
    assert_eq!(database.host.as_deref(), Some("/var/run/postgresql"));
    assert_eq!(
        (
            database.connect_timeout,
            database.max_reconnect_tries,
            database.reconnect_wait_time
        ),
        (3, 10, 500)
    );
    assert_eq!(database.on_fail, OnFail::ServeRetryContinue);
    assert!(database.retry_on_startup);
    let hosts = config.hosts_database.expect("hosts-database");
    assert_eq!(
        (hosts.backend, hosts.name.as_str()),
        (SqlBackend::Mysql, "hosts")
    );
    let text = r#"{ "Dhcp4": { "lease-database": { "type": "mysql", "name": "x",
        "on-fail": "explode" } } }"#;
    assert_single(
        text,
        2,
        "Dhcp4/lease-database/on-fail",
        "is not stop-retry-exit",
    );
    let text = r#"{ "Dhcp4": { "lease-database": { "type": "oracle" } } }"#;
    assert_single(
        text,
        1,
        "Dhcp4/lease-database/type",
        "not a lease database type",
    );
    let text = r#"{ "Dhcp4": { "lease-database": { "name": "x" } } }"#;
    assert_single(
        text,
        1,
        "Dhcp4/lease-database",
        "missing required key 'type'",
    );
    let text = r#"{ "Dhcp4": { "lease-database": { "type": "memfile", "host": "db" } } }"#;
    assert_single(
        text,
        1,
        "Dhcp4/lease-database/host",
        "not supported by leasehold yet",
    );
}

#[test]
fn lifetime_bounds_are_checked() {
    let text = "{\n\"Dhcp4\": {\n\"min-valid-lifetime\": 100,\n\"valid-lifetime\": 50 } }";
    assert_single(
        text,
        3,
        "Dhcp4/min-valid-lifetime",
        "greater than valid-lifetime",
    );
    let text = with_subnet(
        r#""id": 1, "subnet": "10.0.0.0/24", "valid-lifetime": 500, "max-valid-lifetime": 400"#,
    );
    assert_single(
        &text,
        3,
        "Dhcp4/subnet4[0]/valid-lifetime",
        "greater than max-valid-lifetime",
    );
    // Bounds are inherited one by one, and Kea checks the effective triple
    // wherever a scope sets one of its keys.
    let text = with_globals_and_subnet(
        r#""min-valid-lifetime": 3000"#,
        r#""id": 1, "subnet": "10.0.0.0/24", "valid-lifetime": 600"#,
    );
    assert_single(
        &text,
        3,
        "Dhcp4/subnet4[0]/valid-lifetime",
        "min-valid-lifetime (3000) is greater than valid-lifetime (600)",
    );
}

#[test]
fn class_lifetimes_are_read_as_kea_reads_them() {
    let classes = |body: &str| {
        format!("{{\n\"Dhcp4\": {{ \"client-classes\": [\n{{ \"name\": \"c\", {body} }}\n] }}\n}}")
    };
    let lifetime = |body: &str| parse_ok(&classes(body)).client_classes[0].valid_lifetime;
    let bounds = |min, default, max| Some(ValidLifetime { min, default, max });
    assert_eq!(lifetime(r#""test": "member('ALL')""#), None);
    assert_eq!(lifetime(r#""valid-lifetime": 700"#), bounds(700, 700, 700));
    assert_eq!(
        lifetime(r#""valid-lifetime": 700, "max-valid-lifetime": 900"#),
        bounds(700, 700, 900)
    );
    assert_eq!(
        lifetime(r#""min-valid-lifetime": 300"#),
        bounds(300, 300, 300)
    );
    assert_eq!(
        lifetime(r#""max-valid-lifetime": 800"#),
        bounds(800, 800, 800)
    );
    assert_single(
        &classes(r#""min-valid-lifetime": 300, "max-valid-lifetime": 900"#),
        3,
        "Dhcp4/client-classes[0]/min-valid-lifetime",
        "need a valid-lifetime",
    );
    assert_single(
        &classes(r#""valid-lifetime": 700, "max-valid-lifetime": 600"#),
        3,
        "Dhcp4/client-classes[0]/valid-lifetime",
        "greater than max-valid-lifetime",
    );
}

#[test]
fn renew_must_not_exceed_rebind() {
    let text = "{\n\"Dhcp4\": {\n\"renew-timer\": 300,\n\"rebind-timer\": 200 } }";
    assert_single(text, 3, "Dhcp4/renew-timer", "greater than rebind-timer");
    // Inherited values count, as the subnet's effective timers.
    let text = with_globals_and_subnet(
        r#""renew-timer": 100"#,
        r#""id": 1, "subnet": "10.0.0.0/24", "rebind-timer": 50"#,
    );
    assert_single(
        &text,
        3,
        "Dhcp4/subnet4[0]/rebind-timer",
        "greater than rebind-timer",
    );
    // Timers beyond the lifetime are Kea's business at reply time, not errors.
    let config = parse_ok(
        r#"{ "Dhcp4": { "valid-lifetime": 100, "renew-timer": 200, "rebind-timer": 300 } }"#,
    );
    assert_eq!(config.rebind_timer, Some(300));
}

#[test]
fn subnet_needs_id_and_prefix() {
    assert_single(
        &with_subnet(r#""subnet": "10.0.0.0/24""#),
        3,
        "Dhcp4/subnet4[0]",
        "missing required key 'id'",
    );
    assert_single(
        &with_subnet(r#""id": 1"#),
        3,
        "Dhcp4/subnet4[0]",
        "missing required key 'subnet'",
    );
    assert_single(
        &with_subnet(r#""id": 0, "subnet": "10.0.0.0/24""#),
        3,
        "Dhcp4/subnet4[0]/id",
        "between 1",
    );
    assert_single(
        &with_subnet(r#""id": 1, "subnet": "10.0.0.0/33""#),
        3,
        "Dhcp4/subnet4[0]/subnet",
        "not an IPv4 prefix",
    );
    assert_single(
        &with_subnet(r#""id": 1, "subnet": "10.0.0.0""#),
        3,
        "Dhcp4/subnet4[0]/subnet",
        "not an IPv4 prefix",
    );
}

#[test]
fn subnets_must_not_collide() {
    let text = r#"{
"Dhcp4": { "subnet4": [
  { "id": 1, "subnet": "10.0.0.0/16" },
  { "id": 1, "subnet": "192.0.2.0/24" },
  { "id": 3, "subnet": "10.0.5.0/24" }
] }
}"#;
    let found = problems(text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_problem(
        &found[0],
        4,
        "Dhcp4/subnet4[1]/id",
        "already used by Dhcp4/subnet4[0]",
    );
    assert_problem(
        &found[1],
        5,
        "Dhcp4/subnet4[2]/subnet",
        "overlaps Dhcp4/subnet4[0]",
    );
}

#[test]
fn pools_are_checked() {
    let text = r#"{
"Dhcp4": { "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "pools": [
  { "pool": "10.0.0.10 - 10.0.0.20" },
  { "pool": "10.0.0.300 - 10.0.0.1" },
  { "pool": "10.0.0.20 - 10.0.0.10" },
  { "pool": "10.0.1.1 - 10.0.1.9" },
  { "pool": "10.0.0.15-10.0.0.30" },
  { "pool": "10.0.0.128/25" },
  { "comment": "no pool" }
] } ] }
}"#;
    let found = problems(text);
    assert_eq!(found.len(), 5, "{found:#?}");
    let pool = |index: usize| format!("Dhcp4/subnet4[0]/pools[{index}]/pool");
    assert_problem(
        &found[0],
        4,
        &pool(1),
        "'10.0.0.300 - 10.0.0.1' is not an address range",
    );
    assert_problem(&found[1], 5, &pool(2), "not an address range");
    assert_problem(&found[2], 6, &pool(3), "not inside subnet 10.0.0.0/24");
    assert_problem(&found[3], 7, &pool(4), "overlaps pools[0]");
    assert_problem(
        &found[4],
        9,
        "Dhcp4/subnet4[0]/pools[6]",
        "missing required key 'pool'",
    );
    assert_eq!(
        found[0].to_string(),
        "test.json:4: Dhcp4/subnet4[0]/pools[1]/pool: '10.0.0.300 - 10.0.0.1' is not an address range"
    );
}

#[test]
fn reservations_are_checked() {
    let text = r#"{
"Dhcp4": { "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "reservations": [
  { "hw-address": "02:00:00:00:00:01", "ip-address": "10.0.0.5" },
  { "hw-address": "02:00:00:00:00:01", "ip-address": "10.0.0.6" },
  { "hw-address": "02:00:00:00:00:02", "ip-address": "10.0.0.5" },
  { "ip-address": "10.0.0.7" },
  { "hw-address": "02:00:00:00:00:03", "duid": "01:02", "ip-address": "10.0.0.8" },
  { "client-id": "zz:01" },
  { "circuit-id": "" },
  { "hw-address": "02:00:00:00:00:04", "ip-address": "10.0.1.4" },
  { "hw-address": "000102030405060708090a0b0c0d0e0f1011121314" }
] } ] }
}"#;
    let found = problems(text);
    let reservation = |index: usize| format!("Dhcp4/subnet4[0]/reservations[{index}]");
    let expected = [
        (4, reservation(1), "already reserved by reservations[0]"),
        (
            5,
            format!("{}/ip-address", reservation(2)),
            "10.0.0.5 is already reserved",
        ),
        (6, reservation(3), "exactly one of"),
        (7, reservation(4), "(2 given)"),
        (
            8,
            format!("{}/client-id", reservation(5)),
            "invalid client-id",
        ),
        (
            9,
            format!("{}/circuit-id", reservation(6)),
            "cannot be empty",
        ),
        (
            10,
            format!("{}/ip-address", reservation(7)),
            "not inside subnet",
        ),
        (
            11,
            format!("{}/hw-address", reservation(8)),
            "at most 20 bytes",
        ),
    ];
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    for (problem, (line, path, words)) in found.iter().zip(expected) {
        assert_problem(problem, line, &path, words);
    }
}

#[test]
fn circuit_ids_accept_hex_and_quoted_text() {
    let config = parse_ok(&with_subnet(
        r#""id": 1, "subnet": "10.0.0.0/24", "reservations": [
           { "circuit-id": "01:02:0a" },
           { "circuit-id": "'eth0:7'" },
           { "circuit-id": "0x0102" } ]"#,
    ));
    let ids: Vec<_> = config.subnets[0]
        .reservations
        .iter()
        .map(|reservation| reservation.identifier.clone())
        .collect();
    assert_eq!(
        ids,
        [
            HostIdentifier::CircuitId(vec![1, 2, 10]),
            HostIdentifier::CircuitId(b"eth0:7".to_vec()),
            HostIdentifier::CircuitId(vec![1, 2]),
        ]
    );
}

#[test]
fn relay_forms() {
    let text = with_subnet(
        r#""id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-address": "192.0.2.1", "ip-addresses": [] }"#,
    );
    assert_single(&text, 3, "Dhcp4/subnet4[0]/relay", "not both");
    let text = with_subnet(
        r#""id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "192.0.2.1", "fe80::1" ] }"#,
    );
    assert_single(
        &text,
        3,
        "Dhcp4/subnet4[0]/relay/ip-addresses[1]",
        "not an IPv4 address",
    );
}

#[test]
fn option_data_problems() {
    let text = r#"{
"Dhcp4": { "option-data": [
  { "data": "1" },
  { "name": "no-such-option", "data": "1" },
  { "name": "routers", "code": 6, "data": "10.0.0.1" },
  { "name": "routers", "data": "10.0.0.300" },
  { "code": 224, "data": "1,2", "csv-format": true },
  { "code": 0, "data": "" },
  { "code": 256, "data": "" },
  { "name": "routers", "space": "vendor-4491", "data": "10.0.0.1" },
  { "name": "domain-name", "data": "a.test", "never-send": true },
  { "code": 224, "data": "zz" },
  { "name": "domain-name", "data": "a.test" },
  { "code": 15, "data": "b.test" }
] }
}"#;
    let found = problems(text);
    let entry = |index: usize| format!("Dhcp4/option-data[{index}]");
    let expected = [
        (3, entry(0), "needs a 'name' or a 'code'"),
        (
            4,
            format!("{}/name", entry(1)),
            "unknown option name 'no-such-option'",
        ),
        (
            5,
            format!("{}/name", entry(2)),
            "option 6 is 'domain-name-servers', not 'routers'",
        ),
        (
            6,
            format!("{}/data", entry(3)),
            "'10.0.0.300' is not an IPv4 address",
        ),
        (7, format!("{}/data", entry(4)), "no definition"),
        (8, format!("{}/code", entry(5)), "reserved for PAD and END"),
        (9, format!("{}/code", entry(6)), "out of range"),
        (
            10,
            format!("{}/space", entry(7)),
            "option space 'vendor-4491' is not supported",
        ),
        (
            11,
            format!("{}/never-send", entry(8)),
            "not supported by leasehold yet",
        ),
        (12, format!("{}/data", entry(9)), "not valid hex"),
        (14, entry(11), "option 15 is already configured"),
    ];
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    for (problem, (line, path, words)) in found.iter().zip(expected) {
        assert_problem(problem, line, &path, words);
    }
}

#[test]
fn option_data_encodings() {
    let config = parse_ok(
        r#"{ "Dhcp4": { "option-data": [
        { "name": "domain-name-servers", "data": "192.0.2.53, 192.0.2.54" },
        { "name": "default-ip-ttl", "data": "64" },
        { "name": "interface-mtu", "data": "1500" },
        { "name": "arp-cache-timeout", "data": "60" },
        { "name": "ip-forwarding", "data": "false" },
        { "name": "domain-name", "data": "example.test" },
        { "name": "domain-search", "data": "example.test" },
        { "name": "tftp-server-name", "csv-format": false, "data": "74:66:74:70" },
        { "name": "client-ndi", "data": "1, 3, 16" },
        { "name": "classless-static-route", "data": "10.0.0.0/8 - 192.0.2.1" },
        { "code": 250, "data": "" }
    ] } }"#,
    );
    let payloads: Vec<(u8, &[u8])> = config
        .options
        .iter()
        .map(|option| (option.code, option.data.as_slice()))
        .collect();
    assert_eq!(
        payloads,
        [
            (6, &[192, 0, 2, 53, 192, 0, 2, 54][..]),
            (23, &[64][..]),
            (26, &[5, 220][..]),
            (35, &[0, 0, 0, 60][..]),
            (19, &[0][..]),
            (15, &b"example.test"[..]),
            (119, &b"\x07example\x04test\x00"[..]),
            (66, &b"tftp"[..]),
            (94, &[1, 3, 16][..]),
            (121, &[8, 10, 192, 0, 2, 1][..]),
            (250, &[][..]),
        ]
    );
}

#[test]
fn expired_leases_limits() {
    let text = r#"{ "Dhcp4": { "expired-leases-processing": { "max-reclaim-time": 10001 } } }"#;
    assert_single(
        text,
        1,
        "Dhcp4/expired-leases-processing/max-reclaim-time",
        "limit of 10000",
    );
}

#[test]
fn logger_problems() {
    let text = r#"{
"Dhcp4": { "loggers": [
  { "severity": "INFO" },
  { "name": "a", "severity": "LOUD" },
  { "name": "b", "debuglevel": 100 },
  { "name": "c", "output_options": [ {} ] }
] }
}"#;
    let found = problems(text);
    let expected = [
        (3, "Dhcp4/loggers[0]", "missing required key 'name'"),
        (4, "Dhcp4/loggers[1]/severity", "not a severity"),
        (5, "Dhcp4/loggers[2]/debuglevel", "between 0 and 99"),
        (
            6,
            "Dhcp4/loggers[3]/output_options[0]",
            "missing required key 'output'",
        ),
    ];
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    for (problem, (line, path, words)) in found.iter().zip(expected) {
        assert_problem(problem, line, path, words);
    }
}

#[test]
fn severities_and_outputs() {
    let config = parse_ok(
        r#"{ "Dhcp4": { "loggers": [
        { "name": "a", "severity": "fatal", "output-options": [ { "output": "stderr" } ] },
        { "name": "b", "severity": "NONE", "output_options": [ { "output": "syslog" } ] },
        { "name": "c", "severity": "ERROR" }
    ] } }"#,
    );
    let loggers: Vec<_> = config
        .loggers
        .iter()
        .map(|logger| (logger.severity, logger.output.clone()))
        .collect();
    assert_eq!(
        loggers,
        [
            (Severity::Fatal, LogOutput::Stderr),
            (Severity::None, LogOutput::Syslog),
            (Severity::Error, LogOutput::Stdout),
        ]
    );
}

#[test]
fn many_problems_are_reported_in_one_pass() {
    let text = r#"{
"Dhcp4": {
  "valid-lifetime": "long",
  "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "pools": [ { "pool": "x" } ] } ],
  "bogus": 1
}
}"#;
    let lines: Vec<_> = problems(text).iter().map(|problem| problem.line).collect();
    assert_eq!(lines, [3, 4, 5]);
}

#[test]
fn unreadable_file_is_one_problem() {
    let error = Config::load(Path::new("/nonexistent/leasehold.json")).unwrap_err();
    assert_eq!(error.problems.len(), 1);
    assert_eq!(error.problems[0].line, 0);
    assert!(
        error
            .to_string()
            .starts_with("/nonexistent/leasehold.json: cannot read")
    );
}
