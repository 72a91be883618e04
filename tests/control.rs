//! End-to-end tests of the control API: Kea's commands over HTTP (and the unix socket) against
//! a live `leasehold serve` in a test network, statistics and Prometheus metrics after
//! perfdhcp, and configuration reloads under load. Needs root, `ip netns` and perfdhcp.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use leasehold_testnet::scenarios::Lab;
use leasehold_testnet::{RELAY_AGENT_ADDR, RELAY_SERVER_ADDR, ServerKind, Side, TestNet};
use serde_json::{Value, json};

const PORT: u16 = 8000;
const USER: &str = "admin";
const PASSWORD: &str = "s3cret";

fn leasehold() -> ServerKind {
    ServerKind::Leasehold(PathBuf::from(env!("CARGO_BIN_EXE_leasehold")))
}

/// The lab configuration with an authenticated HTTP control socket.
fn with_control(config: &mut Value) {
    config["Dhcp4"]["control-sockets"] = json!([{
        "socket-type": "http",
        "socket-address": "127.0.0.1",
        "socket-port": PORT,
        "authentication": {
            "type": "basic",
            "realm": "leasehold-test",
            "clients": [{ "user": USER, "password": PASSWORD }]
        }
    }]);
    config["Dhcp4"]["hooks-libraries"] = json!([
        { "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so" },
        { "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_stat_cmds.so" }
    ]);
}

/// An HTTP response: status code, headers and body.
struct Response {
    status: u16,
    head: String,
    body: String,
}

impl Response {
    /// The first answer of a command response.
    fn answer(&self) -> Value {
        let list: Value = serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body));
        list[0].clone()
    }
}

/// Sends one HTTP request to the control port inside the server namespace.
fn http(
    net: &TestNet,
    method: &str,
    path: &str,
    body: &str,
    auth: Option<(&str, &str)>,
) -> Response {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some((user, password)) = auth {
        let token = base64(&format!("{user}:{password}"));
        request.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    let raw = net
        .in_namespace(Side::Server, move || {
            let mut stream = TcpStream::connect(("127.0.0.1", PORT))?;
            stream.set_read_timeout(Some(Duration::from_secs(60)))?;
            stream.write_all(request.as_bytes())?;
            let mut raw = String::new();
            stream.read_to_string(&mut raw)?;
            Ok::<_, std::io::Error>(raw)
        })
        .expect("enter the server namespace")
        .expect("HTTP exchange with the control port");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    Response {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// Runs a command with credentials and returns its answer.
fn command(net: &TestNet, command: &str, arguments: Option<Value>) -> Value {
    let mut request = json!({ "command": command, "service": ["dhcp4"] });
    if let Some(arguments) = arguments {
        request["arguments"] = arguments;
    }
    let response = http(
        net,
        "POST",
        "/",
        &request.to_string(),
        Some((USER, PASSWORD)),
    );
    assert_eq!(response.status, 200, "{command}: {}", response.body);
    response.answer()
}

/// Checks an answer's result (and text, when given).
#[track_caller]
fn expect(answer: &Value, result: i64, text: Option<&str>) {
    assert_eq!(
        answer["result"],
        json!(result),
        "unexpected answer {answer}"
    );
    if let Some(text) = text {
        assert_eq!(answer["text"], json!(text), "unexpected answer {answer}");
    }
}

fn base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
        for index in 0..4 {
            if index <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * index)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The latest sample of statistic `name` in a statistic-get(-all) answer.
fn latest(answer: &Value, name: &str) -> i64 {
    answer["arguments"][name][0][0]
        .as_i64()
        .unwrap_or_else(|| panic!("no statistic {name} in {answer}"))
}

fn perfdhcp_args(
    rate: &str,
    clients: &str,
    count: Option<&str>,
    period: Option<&str>,
) -> Vec<String> {
    let mut args: Vec<String> = ["-4", "-r", rate, "-R", clients, "-W", "20000000"]
        .iter()
        .map(|arg| (*arg).to_owned())
        .collect();
    if let Some(count) = count {
        args.extend([
            "-n".to_owned(),
            count.to_owned(),
            "-d".to_owned(),
            "2".to_owned(),
        ]);
    }
    if let Some(period) = period {
        args.extend(["-p".to_owned(), period.to_owned()]);
    }
    args.extend([
        "-l".to_owned(),
        RELAY_AGENT_ADDR.to_string(),
        RELAY_SERVER_ADDR.to_string(),
    ]);
    args
}

#[test]
fn authentication_and_health() {
    let lab = Lab::start(&leasehold(), |config| {
        with_control(config);
        let lease_file = config["Dhcp4"]["lease-database"]["name"].as_str().unwrap();
        let socket = PathBuf::from(lease_file).with_file_name("control.sock");
        let sockets = config["Dhcp4"]["control-sockets"].as_array_mut().unwrap();
        sockets[0]["http-headers"] = json!([
            { "name": "Strict-Transport-Security", "value": "max-age=31536000" }
        ]);
        sockets.push(json!({ "socket-type": "unix", "socket-name": socket }));
    });
    let body = json!({ "command": "version-get", "service": ["dhcp4"] }).to_string();
    let has_header = |response: &Response| {
        response
            .head
            .lines()
            .any(|line| line.eq_ignore_ascii_case("strict-transport-security: max-age=31536000"))
    };

    let anonymous = http(&lab.net, "POST", "/", &body, None);
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    assert!(
        anonymous.head.contains("Basic realm=\"leasehold-test\""),
        "{}",
        anonymous.head
    );
    let wrong = http(&lab.net, "POST", "/", &body, Some((USER, "wrong")));
    assert_eq!(wrong.status, 401);
    assert_eq!(http(&lab.net, "GET", "/metrics", "", None).status, 401);

    let health = http(&lab.net, "GET", "/health", "", None);
    assert_eq!(health.status, 200);
    let allowed = http(&lab.net, "POST", "/", &body, Some((USER, PASSWORD)));
    assert_eq!(allowed.status, 200);
    // http-headers go on every response, refusals included.
    for response in [&anonymous, &health, &allowed] {
        assert!(has_header(response), "{}", response.head);
    }
    expect(&allowed.answer(), 0, Some(env!("CARGO_PKG_VERSION")));

    let garbage = http(&lab.net, "POST", "/", "{not json", Some((USER, PASSWORD)));
    assert_eq!(garbage.status, 400);

    // Kea's unix socket: one answer document, not a list, no authentication.
    let mut unix = std::os::unix::net::UnixStream::connect(lab.net.dir().join("control.sock"))
        .expect("connect to the unix control socket");
    unix.write_all(br#"{"command": "status-get"}"#).unwrap();
    let mut answer = String::new();
    unix.read_to_string(&mut answer).unwrap();
    let answer: Value = serde_json::from_str(&answer).unwrap();
    expect(&answer, 0, None);
    assert!(answer["arguments"]["uptime"].is_u64(), "{answer}");
}

#[test]
fn server_commands() {
    let lab = Lab::start(&leasehold(), with_control);
    let net = &lab.net;

    let commands = command(net, "list-commands", None);
    expect(&commands, 0, None);
    for name in [
        "config-reload",
        "lease4-get-all",
        "statistic-get-all",
        "stat-lease4-get",
    ] {
        assert!(
            commands["arguments"]
                .as_array()
                .unwrap()
                .contains(&json!(name)),
            "{commands}"
        );
    }
    expect(
        &command(net, "no-such-command", None),
        2,
        Some("'no-such-command' command not supported."),
    );
    let request = json!({ "command": "status-get", "service": ["dhcp6"] }).to_string();
    let other = http(net, "POST", "/", &request, Some((USER, PASSWORD))).answer();
    expect(
        &other,
        1,
        Some("forwarding socket is not configured for the server type dhcp6"),
    );
    let missing = http(
        net,
        "POST",
        "/",
        "{\"service\": [\"dhcp4\"]}",
        Some((USER, PASSWORD)),
    );
    expect(&missing.answer(), 1, None);

    let status = command(net, "status-get", None);
    expect(&status, 0, None);
    assert!(status["arguments"]["pid"].as_u64().is_some(), "{status}");
    assert_eq!(status["arguments"]["multi-threading-enabled"], json!(true));

    let config = command(net, "config-get", None);
    expect(&config, 0, None);
    assert_eq!(config["arguments"]["Dhcp4"]["valid-lifetime"], json!(4000));

    // config-test: the whole running configuration passes, a broken one is refused.
    let full = config["arguments"].clone();
    expect(
        &command(net, "config-test", Some(full.clone())),
        0,
        Some(
            "Configuration seems sane. Control-socket, hook-libraries, and D2 configuration were \
         sanity checked, but not applied.",
        ),
    );
    let mut broken = full.clone();
    broken["Dhcp4"]["subnet4"][0]["pools"] = json!([{ "pool": "203.0.113.1 - 203.0.113.9" }]);
    let refused = command(net, "config-test", Some(broken.clone()));
    expect(&refused, 1, None);
    assert!(
        refused["text"].as_str().unwrap().contains("pool"),
        "{refused}"
    );
    expect(
        &command(net, "config-test", None),
        1,
        Some("Missing mandatory 'arguments' parameter."),
    );
    expect(
        &command(net, "config-test", Some(json!({}))),
        1,
        Some("Missing mandatory 'Dhcp4' parameter."),
    );

    // config-set applies, a broken one leaves the running configuration serving.
    let mut changed = full.clone();
    changed["Dhcp4"]["valid-lifetime"] = json!(5000);
    expect(
        &command(net, "config-set", Some(changed)),
        0,
        Some("Configuration successful."),
    );
    let config = command(net, "config-get", None);
    assert_eq!(config["arguments"]["Dhcp4"]["valid-lifetime"], json!(5000));
    expect(&command(net, "config-set", Some(broken)), 1, None);
    let config = command(net, "config-get", None);
    assert_eq!(config["arguments"]["Dhcp4"]["valid-lifetime"], json!(5000));
    lab.check(
        lab.net
            .relay()
            .and_then(|relay| relay.dora([2, 0, 0, 0, 9, 1])),
    );

    // config-reload goes back to the file; config-write writes the running one.
    expect(
        &command(net, "config-reload", None),
        0,
        Some("Configuration successful."),
    );
    let config = command(net, "config-get", None);
    assert_eq!(config["arguments"]["Dhcp4"]["valid-lifetime"], json!(4000));
    let written = net.dir().join("written.json");
    let answer = command(net, "config-write", Some(json!({ "filename": written })));
    expect(
        &answer,
        0,
        Some(&format!(
            "Configuration written to {} successful",
            written.display()
        )),
    );
    let text = std::fs::read_to_string(&written).unwrap();
    let reread: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(reread["Dhcp4"]["valid-lifetime"], json!(4000));
    expect(
        &command(net, "config-write", Some(json!({ "filename": 7 }))),
        1,
        Some("passed parameter 'filename' is not a string"),
    );

    expect(
        &command(net, "leases-reclaim", Some(json!({ "remove": false }))),
        0,
        Some("Reclamation of expired leases is complete."),
    );
    expect(
        &command(net, "leases-reclaim", None),
        1,
        Some("Missing mandatory 'remove' parameter."),
    );

    // The unix socket is not configured here; shutdown stops the server.
    expect(
        &command(net, "shutdown", Some(json!({ "exit-value": "x" }))),
        1,
        None,
    );
    expect(&command(net, "shutdown", None), 0, Some("Shutting down."));
    let mut lab = lab;
    let started = Instant::now();
    while lab.server.is_running() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !lab.server.is_running(),
        "server still running after shutdown"
    );
}

#[test]
fn dhcp_disable_stops_answering_until_enabled_or_for_max_period() {
    let lab = Lab::start(&leasehold(), with_control);
    let net = &lab.net;
    let relay = lab.check(net.relay());
    let answered = |n: u8| {
        let probe = relay.probe([2, 0, 0, 0, 0x0d, n], Duration::from_millis(500));
        lab.check(probe).is_some()
    };
    assert!(answered(1), "serving at start");

    expect(
        &command(net, "dhcp-disable", None),
        0,
        Some("DHCPv4 service disabled"),
    );
    let dropped = || {
        let name = "pkt4-receive-drop";
        latest(
            &command(net, "statistic-get", Some(json!({ "name": name }))),
            name,
        )
    };
    let dropped_before = dropped();
    assert!(!answered(2), "disabled");
    let dropped_after = dropped();
    assert!(dropped_after > dropped_before, "a dropped query is counted");
    expect(
        &command(net, "dhcp-enable", None),
        0,
        Some("DHCP service successfully enabled"),
    );
    assert!(answered(3), "enabled again");

    let period = json!({ "max-period": 1, "origin": "user" });
    expect(
        &command(net, "dhcp-disable", Some(period)),
        0,
        Some("DHCPv4 service disabled for 1 seconds"),
    );
    assert!(!answered(4), "disabled for a second");
    std::thread::sleep(Duration::from_millis(1200));
    assert!(answered(5), "resumed after max-period");

    for (arguments, text) in [
        (
            json!({ "max-period": 0 }),
            "'max-period' must be positive integer",
        ),
        (
            json!({ "max-period": "1" }),
            "'max-period' argument must be a number",
        ),
        (
            json!({ "origin": "someone" }),
            "invalid value used for 'origin' parameter: someone",
        ),
    ] {
        expect(
            &command(net, "dhcp-disable", Some(arguments)),
            1,
            Some(text),
        );
    }
    assert!(answered(6), "a refused dhcp-disable changes nothing");

    // Each origin holds the service off until that origin enables it.
    let partner = json!({ "origin": "ha-partner" });
    expect(
        &command(net, "dhcp-disable", Some(partner.clone())),
        0,
        None,
    );
    expect(&command(net, "dhcp-enable", None), 0, None);
    assert!(!answered(7), "the partner's stop holds");
    expect(&command(net, "dhcp-enable", Some(partner)), 0, None);
    assert!(answered(8), "no origin holds it off");
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate it signed, made with the
/// openssl command in `dir`: `ca.pem`, `server.pem`/`server.key`, `client.pem`/`client.key`.
/// The extensions make version 3 certificates, the only ones WebPKI accepts.
fn make_certificates(dir: &Path) {
    const SCRIPT: &str = r#"set -e
        key="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
        openssl req -x509 $key -keyout ca.key -out ca.pem -days 2 -subj "/CN=leasehold test CA"
        echo "subjectAltName=IP:127.0.0.1" > server.ext
        echo "extendedKeyUsage=clientAuth" > client.ext
        for name in server client; do
            openssl req $key -keyout $name.key -out $name.csr -subj "/CN=$name"
            openssl x509 -req -in $name.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
                -out $name.pem -days 2 -extfile $name.ext
        done"#;
    let output = std::process::Command::new("sh")
        .args(["-c", SCRIPT])
        .current_dir(dir)
        .output()
        .expect("run sh");
    assert!(output.status.success(), "openssl: {output:?}");
}

/// `curl` in the server namespace against the control port over TLS; its output and whether
/// it succeeded. `client` presents the client certificate.
fn curl_https(net: &TestNet, dir: &Path, client: bool) -> (bool, String) {
    let file = |name: &str| dir.join(name).display().to_string();
    let (ca, cert, key) = (file("ca.pem"), file("client.pem"), file("client.key"));
    let credentials = format!("{USER}:{PASSWORD}");
    let url = format!("https://127.0.0.1:{PORT}/");
    let body = r#"{ "command": "version-get", "service": [ "dhcp4" ] }"#;
    let mut args = vec![
        "curl",
        "-sS",
        "--max-time",
        "10",
        "--cacert",
        &ca,
        "-u",
        &credentials,
    ];
    if client {
        args.extend(["--cert", &cert, "--key", &key]);
    }
    args.extend(["-H", "Content-Type: application/json", "-d", body, &url]);
    let finished = net
        .run(Side::Server, &args, Duration::from_secs(20))
        .expect("run curl");
    (finished.is_success(), finished.output)
}

#[test]
fn https_control_socket_requires_a_client_certificate_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    let file = |name: &str| dir.path().join(name).display().to_string();
    let https = |cert_required: bool| {
        move |config: &mut Value| {
            with_control(config);
            let socket = &mut config["Dhcp4"]["control-sockets"][0];
            socket["socket-type"] = json!("https");
            socket["trust-anchor"] = json!(file("ca.pem"));
            socket["cert-file"] = json!(file("server.pem"));
            socket["key-file"] = json!(file("server.key"));
            socket["cert-required"] = json!(cert_required);
        }
    };
    let succeeded = |output: &str| {
        let answer: Option<Value> = serde_json::from_str(output).ok();
        answer.is_some_and(|answer| answer[0]["result"] == 0)
    };
    let lab = Lab::start(&leasehold(), https(true));
    let (ok, output) = curl_https(&lab.net, dir.path(), true);
    assert!(ok && succeeded(&output), "{output}");
    let (ok, output) = curl_https(&lab.net, dir.path(), false);
    assert!(!ok, "served a client without a certificate: {output}");
    // Plain HTTP on the TLS port gets nothing.
    let plain = lab.net.in_namespace(Side::Server, || {
        let mut stream = TcpStream::connect(("127.0.0.1", PORT))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")?;
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        Ok::<_, std::io::Error>(raw)
    });
    let plain = plain.unwrap().unwrap();
    assert!(
        !String::from_utf8_lossy(&plain).contains("200 OK"),
        "plain HTTP answered"
    );
    drop(lab);

    let lab = Lab::start(&leasehold(), https(false));
    let (ok, output) = curl_https(&lab.net, dir.path(), false);
    assert!(ok && succeeded(&output), "{output}");
}

#[test]
fn lease_commands() {
    let lab = Lab::start(&leasehold(), with_control);
    let net = &lab.net;
    let lease = json!({
        "ip-address": "10.0.5.5", "hw-address": "1a:1b:1c:1d:1e:1f", "subnet-id": 2,
        "client-id": "01:1a:1b:1c:1d:1e:1f", "hostname": "api-host.example.test"
    });
    expect(
        &command(net, "lease4-add", Some(lease.clone())),
        0,
        Some("Lease for address 10.0.5.5, subnet-id 2 added."),
    );
    expect(
        &command(net, "lease4-add", Some(lease.clone())),
        1,
        Some("IPv4 lease already exists."),
    );
    let outside =
        json!({ "ip-address": "10.1.0.1", "hw-address": "1a:00:00:00:00:01", "subnet-id": 2 });
    expect(
        &command(net, "lease4-add", Some(outside)),
        1,
        Some("The address 10.1.0.1 does not belong to subnet 10.0.0.0/16, subnet-id=2"),
    );
    let unknown =
        json!({ "ip-address": "10.0.0.99", "hw-address": "1a:00:00:00:00:01", "subnet-id": 77 });
    expect(
        &command(net, "lease4-add", Some(unknown)),
        1,
        Some("Invalid subnet-id: No IPv4 subnet with subnet-id=77 currently configured."),
    );
    expect(
        &command(net, "lease4-add", None),
        1,
        Some("no parameters specified for the command"),
    );
    let no_subnet = json!({ "ip-address": "10.0.5.6", "hw-address": "1a:00:00:00:00:02" });
    expect(
        &command(net, "lease4-add", Some(no_subnet)),
        0,
        Some("Lease for address 10.0.5.6, subnet-id 2 added."),
    );

    // The added lease is durable: it is in the lease file already.
    let on_disk = lab.leases();
    assert!(
        on_disk.get("10.0.5.5".parse().unwrap()).is_some(),
        "{on_disk:#?}"
    );

    let found = command(net, "lease4-get", Some(json!({ "ip-address": "10.0.5.5" })));
    expect(&found, 0, Some("IPv4 lease found."));
    assert_eq!(found["arguments"]["hw-address"], json!("1a:1b:1c:1d:1e:1f"));
    assert_eq!(found["arguments"]["subnet-id"], json!(2));
    assert_eq!(found["arguments"]["valid-lft"], json!(4000));
    let by_identifier = json!({ "subnet-id": 2, "identifier-type": "hw-address",
                                "identifier": "1a:1b:1c:1d:1e:1f" });
    expect(
        &command(net, "lease4-get", Some(by_identifier)),
        0,
        Some("IPv4 lease found."),
    );
    expect(
        &command(net, "lease4-get", Some(json!({ "ip-address": "10.0.9.9" }))),
        3,
        Some("Lease not found."),
    );
    expect(
        &command(net, "lease4-get", Some(json!({ "ip-address": "bogus" }))),
        1,
        Some("Invalid IPv4 address specified: bogus"),
    );
    expect(
        &command(net, "lease4-get", Some(json!({ "subnet-id": 2 }))),
        1,
        Some("No 'ip-address' provided and 'identifier-type' is either missing or not a string."),
    );

    let all = command(net, "lease4-get-all", Some(json!({ "subnets": [2] })));
    expect(&all, 0, Some("2 IPv4 lease(s) found."));
    expect(
        &command(net, "lease4-get-all", Some(json!({ "subnets": [1] }))),
        3,
        Some("0 IPv4 lease(s) found."),
    );
    expect(
        &command(net, "lease4-get-all", Some(json!({ "subnets": 2 }))),
        1,
        Some("'subnets' parameter must be a list"),
    );
    expect(
        &command(net, "lease4-get-all", None),
        0,
        Some("2 IPv4 lease(s) found."),
    );

    let page = command(
        net,
        "lease4-get-page",
        Some(json!({ "from": "start", "limit": 1 })),
    );
    expect(&page, 0, Some("1 IPv4 lease(s) found."));
    assert_eq!(
        page["arguments"]["leases"][0]["ip-address"],
        json!("10.0.5.5")
    );
    let next = command(
        net,
        "lease4-get-page",
        Some(json!({ "from": "10.0.5.5", "limit": 10 })),
    );
    assert_eq!(
        next["arguments"]["leases"][0]["ip-address"],
        json!("10.0.5.6")
    );
    expect(
        &command(net, "lease4-get-page", Some(json!({ "from": "start" }))),
        1,
        Some("'limit' parameter not specified"),
    );

    let by_hw = json!({ "hw-address": "1a:1b:1c:1d:1e:1f" });
    expect(
        &command(net, "lease4-get-by-hw-address", Some(by_hw)),
        0,
        Some("1 IPv4 lease(s) found."),
    );
    let by_id = json!({ "client-id": "01:1a:1b:1c:1d:1e:1f" });
    expect(
        &command(net, "lease4-get-by-client-id", Some(by_id)),
        0,
        Some("1 IPv4 lease(s) found."),
    );
    let by_name = json!({ "hostname": "api-host.example.test" });
    expect(
        &command(net, "lease4-get-by-hostname", Some(by_name)),
        0,
        Some("1 IPv4 lease(s) found."),
    );
    expect(
        &command(net, "lease4-get-by-hostname", Some(json!({}))),
        1,
        Some("'hostname' parameter not specified"),
    );

    let mut updated = lease.clone();
    updated["hostname"] = json!("renamed.example.test");
    expect(
        &command(net, "lease4-update", Some(updated)),
        0,
        Some("IPv4 lease updated."),
    );
    let renamed = command(net, "lease4-get", Some(json!({ "ip-address": "10.0.5.5" })));
    assert_eq!(
        renamed["arguments"]["hostname"],
        json!("renamed.example.test")
    );
    let absent = json!({ "ip-address": "10.0.5.7", "hw-address": "1a:00:00:00:00:03" });
    expect(
        &command(net, "lease4-update", Some(absent.clone())),
        1,
        None,
    );
    let mut forced = absent;
    forced["force-create"] = json!(true);
    expect(
        &command(net, "lease4-update", Some(forced)),
        0,
        Some("IPv4 lease added."),
    );

    let stats = command(net, "stat-lease4-get", Some(json!({ "subnet-id": 2 })));
    expect(
        &stats,
        0,
        Some("stat-lease4-get[subnet-id=2]: 1 rows found"),
    );
    assert_eq!(stats["arguments"]["result-set"]["rows"][0][3], json!(3));
    let all_stats = command(net, "stat-lease4-get", None);
    expect(
        &all_stats,
        0,
        Some("stat-lease4-get[all subnets]: 2 rows found"),
    );
    expect(
        &command(net, "stat-lease4-get", Some(json!({ "subnet-id": 99 }))),
        3,
        None,
    );

    expect(
        &command(net, "lease4-del", Some(json!({ "ip-address": "10.0.5.5" }))),
        0,
        Some("IPv4 lease deleted."),
    );
    expect(
        &command(net, "lease4-del", Some(json!({ "ip-address": "10.0.5.5" }))),
        3,
        Some("IPv4 lease not found."),
    );
    let on_disk = lab.leases();
    assert!(
        on_disk.get("10.0.5.5".parse().unwrap()).is_none(),
        "{on_disk:#?}"
    );

    expect(
        &command(net, "lease4-wipe", Some(json!({ "subnet-id": 2 }))),
        0,
        Some("Deleted 2 IPv4 lease(s) from subnet(s) 2"),
    );
    expect(
        &command(net, "lease4-wipe", None),
        3,
        Some("Deleted 0 IPv4 lease(s) from subnet(s) 1 2"),
    );
}

#[test]
fn perfdhcp_statistics_and_metrics() {
    let lab = Lab::start(&leasehold(), with_control);
    let net = &lab.net;
    let count = 50;
    let args = perfdhcp_args("50", &count.to_string(), Some(&count.to_string()), None);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = lab.check(net.run_perfdhcp(&args));
    assert_eq!(report.acks(), count, "{}", report.output);

    let all = command(net, "statistic-get-all", None);
    expect(&all, 0, None);
    assert_eq!(latest(&all, "pkt4-ack-sent"), count as i64, "{all}");
    assert_eq!(latest(&all, "pkt4-request-received"), count as i64);
    assert_eq!(latest(&all, "subnet[2].assigned-addresses"), count as i64);
    assert_eq!(
        latest(&all, "subnet[2].pool[0].assigned-addresses"),
        count as i64
    );
    assert_eq!(
        latest(&all, "subnet[2].cumulative-assigned-addresses"),
        count as i64
    );
    assert_eq!(latest(&all, "subnet[2].total-addresses"), 65_521);
    assert!(all["arguments"]["pkt4-received"][0][1].is_string(), "{all}");

    let one = command(
        net,
        "statistic-get",
        Some(json!({ "name": "pkt4-ack-sent" })),
    );
    assert_eq!(latest(&one, "pkt4-ack-sent"), count as i64);
    let unknown = command(net, "statistic-get", Some(json!({ "name": "no-such" })));
    expect(&unknown, 0, None);
    assert_eq!(unknown["arguments"], json!({}));
    expect(
        &command(net, "statistic-get", None),
        1,
        Some("Missing mandatory 'name' parameter."),
    );

    let metrics = http(net, "GET", "/metrics", "", Some((USER, PASSWORD)));
    assert_eq!(metrics.status, 200);
    for line in [
        format!("kea_dhcp4_packets_sent_total{{operation=\"ack\"}} {count}"),
        format!("kea_dhcp4_addresses_assigned_total{{subnet_id=\"2\"}} {count}"),
        "kea_dhcp4_addresses_total{subnet_id=\"2\"} 65521".to_owned(),
    ] {
        assert!(
            metrics.body.lines().any(|l| l == line),
            "no {line} in\n{}",
            metrics.body
        );
    }

    let reset = command(
        net,
        "statistic-reset",
        Some(json!({ "name": "pkt4-ack-sent" })),
    );
    expect(&reset, 0, Some("Statistic 'pkt4-ack-sent' reset."));
    let after = command(
        net,
        "statistic-get",
        Some(json!({ "name": "pkt4-ack-sent" })),
    );
    assert_eq!(latest(&after, "pkt4-ack-sent"), 0);
    expect(
        &command(net, "statistic-reset", Some(json!({ "name": "no-such" }))),
        1,
        Some("No 'no-such' statistic found"),
    );
    expect(
        &command(net, "statistic-reset-all", None),
        0,
        Some("All statistics reset to neutral values."),
    );
    let all = command(net, "statistic-get-all", None);
    assert_eq!(latest(&all, "pkt4-received"), 0);
}

/// perfdhcp at 1,000 exchanges/s while the configuration is reloaded ten times (config-reload,
/// config-set and SIGHUP) and a broken configuration is pushed: under 0.1% drops.
#[test]
fn reloads_under_load() {
    let lab = Lab::start(&leasehold(), with_control);
    let net = &lab.net;
    let args = perfdhcp_args("1000", "100000", None, Some("12"));
    let (report, refused) = std::thread::scope(|scope| {
        let perf = scope.spawn(|| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            net.run_perfdhcp(&args)
        });
        std::thread::sleep(Duration::from_secs(2));
        let mut refused = None;
        // LEASEHOLD_TEST_RELOADS=0 measures the same load without reloads, for comparison.
        let rounds: u32 = std::env::var("LEASEHOLD_TEST_RELOADS")
            .ok()
            .and_then(|rounds| rounds.parse().ok())
            .unwrap_or(10);
        for round in 0..rounds {
            match round % 3 {
                0 => expect(&command(net, "config-reload", None), 0, None),
                1 => {
                    let mut config = lab.config.clone();
                    config["Dhcp4"]["valid-lifetime"] = json!(4000 + round);
                    expect(&command(net, "config-set", Some(config)), 0, None);
                }
                _ => {
                    let pid = lab.server.pid().to_string();
                    let status = std::process::Command::new("kill")
                        .args(["-HUP", &pid])
                        .status();
                    assert!(status.is_ok_and(|status| status.success()));
                }
            }
            if round == rounds / 2 {
                let mut broken = lab.config.clone();
                broken["Dhcp4"]["subnet4"][1]["subnet"] = json!("10.0.0.0/33");
                refused = Some(command(net, "config-set", Some(broken)));
            }
            std::thread::sleep(Duration::from_millis(800));
        }
        (perf.join().expect("perfdhcp thread"), refused)
    });
    let report = lab.check(report);
    if let Some(refused) = refused {
        expect(&refused, 1, None);
    }
    let mut ratios = Vec::new();
    for name in ["DISCOVER-OFFER", "REQUEST-ACK"] {
        let exchange = report
            .exchange(name)
            .unwrap_or_else(|| lab.fail(&report.output));
        let ratio = exchange.drops as f64 / exchange.sent.max(1) as f64;
        eprintln!(
            "{name}: sent {} received {} drops {}",
            exchange.sent, exchange.received, exchange.drops
        );
        ratios.push(ratio);
        if ratio >= 0.001 {
            lab.fail(format!(
                "{name} dropped {:.3}% during reloads:\n{}",
                ratio * 100.0,
                report.output
            ));
        }
    }
    // Every durable lease is still in the tables after the reloads.
    let all = command(net, "statistic-get-all", None);
    let acked = latest(&all, "pkt4-ack-sent");
    let assigned = latest(&all, "subnet[2].assigned-addresses");
    let on_disk = lab.leases().in_subnet(2).len() as i64;
    eprintln!("ACKs {acked}, assigned-addresses {assigned}, leases in the file {on_disk}");
    assert_eq!(
        assigned, on_disk,
        "lease tables and lease file differ after reloads"
    );
    assert!(acked > 5_000, "only {acked} ACKs: {}", report.output);
}
