//! Configuration from an `s3://` URL, against moto's S3 server in the server namespace: loaded
//! at start, polled and applied when it changes, refused when broken, kept when the store is
//! down, and a clear failure at start when the object cannot be had. Needs root, `ip netns`
//! and moto (`scripts/test-deps.sh` installs it).

use std::time::{Duration, Instant};

use leasehold_testnet::{MotoServer, ServerProcess, Side, TestNet};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_leasehold");
const BUCKET: &str = "leasehold-config";
const KEY: &str = "dhcp/kea-dhcp4.json";

/// A test network with moto in its server namespace, or `None` (with a message) when moto is
/// not installed.
fn network_with_moto() -> Option<(TestNet, MotoServer)> {
    if !MotoServer::is_available() {
        eprintln!("SKIPPED: moto is not installed (python3 -m pip install 'moto[server]')");
        return None;
    }
    let net = TestNet::new().expect("test network");
    let moto = MotoServer::start(&net, Side::Server).expect("moto serving");
    moto.create_bucket(BUCKET).expect("bucket created");
    Some((net, moto))
}

/// The lab configuration, logging at INFO so life-cycle events show.
fn lab_config(net: &TestNet) -> Value {
    let mut config = net.lab_config();
    config["Dhcp4"]["loggers"][0]["severity"] = json!("INFO");
    config
}

/// `leasehold serve --config-url URL` with moto's endpoint and test credentials.
fn spawn(net: &TestNet, moto: &MotoServer, url: &str) -> ServerProcess {
    let mut command: Vec<String> = vec!["env".into()];
    command.extend(moto.client_env());
    command.extend(
        [BIN, "--log-format", "json", "serve", "--config-url", url]
            .into_iter()
            .map(String::from),
    );
    command.extend(["--config-poll".into(), "1".into()]);
    net.spawn_server(&command).expect("start leasehold")
}

/// Waits until `server`'s log holds `needle` `count` times; fails with the log after `timeout`.
fn wait_for_log(server: &ServerProcess, needle: &str, count: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while server.log().matches(needle).count() < count {
        assert!(
            Instant::now() < deadline,
            "no {needle} (x{count}) in the log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn s3_config_is_polled_applied_refused_and_survives_outage() {
    let Some((net, mut moto)) = network_with_moto() else {
        return;
    };
    let mut config = lab_config(&net);
    moto.put_object(BUCKET, KEY, config.to_string().as_bytes())
        .unwrap();
    let url = format!("s3://{BUCKET}/{KEY}");
    let mut server = spawn(&net, &moto, &url);
    server.wait_until_serving(&net).expect("serving");

    // Unchanged text is not re-applied.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        !server.log().contains("LH_CONFIG_RELOADED"),
        "{}",
        server.log()
    );

    // Changed: applied within a poll interval or two.
    config["Dhcp4"]["valid-lifetime"] = json!(5000);
    moto.put_object(BUCKET, KEY, config.to_string().as_bytes())
        .unwrap();
    wait_for_log(&server, "LH_CONFIG_RELOADED", 1, Duration::from_secs(10));
    assert!(server.log().contains(&url), "{}", server.log());

    // Broken: refused once, and the server keeps serving.
    let broken = "{ \"Dhcp4\": { \"no-such-key\": 1 } }";
    moto.put_object(BUCKET, KEY, broken.as_bytes()).unwrap();
    wait_for_log(&server, "LH_CONFIG_REFUSED", 1, Duration::from_secs(10));
    server
        .wait_until_serving(&net)
        .expect("serving after a refused configuration");

    // The store goes away: a logged fetch failure naming the URL, and serving goes on.
    moto.stop();
    wait_for_log(
        &server,
        "LH_CONFIG_FETCH_FAILED",
        1,
        Duration::from_secs(30),
    );
    let log = server.log();
    let failure = log
        .lines()
        .find(|line| line.contains("LH_CONFIG_FETCH_FAILED"))
        .unwrap();
    assert!(failure.contains(&url), "{failure}");
    server
        .wait_until_serving(&net)
        .expect("serving while the store is down");
    assert_eq!(
        server.log().matches("LH_CONFIG_REFUSED").count(),
        1,
        "refused once"
    );

    let status = server.terminate().expect("terminate");
    assert!(status.success(), "{status}: {}", server.log());
}

#[test]
fn missing_s3_object_fails_the_start_clearly() {
    let Some((net, moto)) = network_with_moto() else {
        return;
    };
    let url = format!("s3://{BUCKET}/no-such-key.json");
    let mut server = spawn(&net, &moto, &url);
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.is_running() {
        assert!(Instant::now() < deadline, "still running: {}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = server.exit_status().unwrap();
    let log = server.log();
    assert!(!status.success(), "{log}");
    assert!(log.contains(&url) && log.contains("NoSuchKey"), "{log}");
}
