//! Running leasehold as the original container ran Kea: configuration from a URL, the lease
//! database prepared with `--db-init`, a ready file, and a boot probe. Needs root, `ip netns`,
//! and for the database tests PostgreSQL (/var/run/postgresql, trust) and MariaDB
//! (/run/mysqld/mysqld.sock, root).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leasehold_testnet::sqldb::{ScratchDatabase, SqlKind};
use leasehold_testnet::{ServerProcess, Side, TestNet};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_leasehold");

/// A one-file HTTP server bound inside the server namespace; stops when dropped.
struct ConfigHttp {
    body: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
    port: u16,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ConfigHttp {
    fn start(net: &TestNet, body: String) -> Self {
        let listener = net
            .in_namespace(Side::Server, || TcpListener::bind("127.0.0.1:0"))
            .expect("enter the server namespace")
            .expect("bind the HTTP listener");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let body = Arc::new(Mutex::new(body));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (body, stop) = (Arc::clone(&body), Arc::clone(&stop));
            std::thread::spawn(move || serve_http(&listener, &body, &stop))
        };
        Self {
            body,
            stop,
            port,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/kea-dhcp4.json", self.port)
    }

    fn set(&self, body: String) {
        *self.body.lock().unwrap() = body;
    }

    /// Stops answering: connections are refused from now on.
    fn shut_down(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for ConfigHttp {
    fn drop(&mut self) {
        self.shut_down();
    }
}

fn serve_http(listener: &TcpListener, body: &Mutex<String>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let Ok((mut stream, _)) = listener.accept() else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut request = Vec::new();
        let mut buffer = [0; 1024];
        while !request.windows(4).any(|window| window == b"\r\n\r\n") {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => request.extend_from_slice(&buffer[..read]),
            }
        }
        let body = body.lock().unwrap().clone();
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes());
    }
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

/// The lab configuration, logging at INFO so life-cycle events show.
fn lab_config(net: &TestNet) -> Value {
    let mut config = net.lab_config();
    config["Dhcp4"]["loggers"][0]["severity"] = json!("INFO");
    config
}

fn wait_for_file(path: &Path, present: bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while path.exists() != present {
        assert!(
            Instant::now() < deadline,
            "{} present: {}",
            path.display(),
            !present
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn config_url_is_polled_applied_refused_and_survives_outage() {
    let net = TestNet::new().expect("test network");
    let mut config = lab_config(&net);
    let mut http = ConfigHttp::start(&net, config.to_string());
    let ready = net.unique_path("ready", "pid");
    let url = http.url();
    let ready_arg = ready.display().to_string();
    let mut server = net
        .spawn_server(&[
            BIN,
            "--log-format",
            "json",
            "serve",
            "--config-url",
            &url,
            "--config-poll",
            "1",
            "--ready-file",
            &ready_arg,
        ])
        .expect("start leasehold");
    server.wait_until_serving(&net).expect("serving");
    wait_for_file(&ready, true);

    // Unchanged text is not re-applied.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        !server.log().contains("LH_CONFIG_RELOADED"),
        "{}",
        server.log()
    );

    // Changed: applied within a poll interval or two.
    config["Dhcp4"]["valid-lifetime"] = json!(5000);
    http.set(config.to_string());
    wait_for_log(&server, "LH_CONFIG_RELOADED", 1, Duration::from_secs(5));

    // Broken: refused once, and the server keeps serving.
    http.set("{ \"Dhcp4\": { \"no-such-key\": 1 } }".into());
    wait_for_log(&server, "LH_CONFIG_REFUSED", 1, Duration::from_secs(5));
    server
        .wait_until_serving(&net)
        .expect("serving after a refused configuration");

    // The HTTP server goes away: a logged fetch failure, and serving goes on.
    http.shut_down();
    wait_for_log(&server, "LH_CONFIG_FETCH_FAILED", 1, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        server.log().matches("LH_CONFIG_FETCH_FAILED").count(),
        1,
        "rate-limited"
    );
    server
        .wait_until_serving(&net)
        .expect("serving while the source is down");
    assert_eq!(
        server.log().matches("LH_CONFIG_REFUSED").count(),
        1,
        "refused once"
    );

    let status = server.terminate().expect("terminate");
    assert!(status.success(), "{status}: {}", server.log());
    wait_for_file(&ready, false);
}

/// The s3:// source itself is tested against moto in tests/s3_source.rs.
#[test]
fn s3_config_url_without_key_is_refused_clearly() {
    let output = Command::new(BIN)
        .args(["serve", "--config-url", "s3://bucket"])
        .output()
        .expect("run leasehold");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("s3://BUCKET/KEY"), "{stderr}");
}

/// The lab configuration with `lo` served too, and a subnet for relay 127.0.0.1 when `serve_lo`.
fn with_loopback(net: &TestNet, serve_lo: bool) -> Value {
    let mut config = lab_config(net);
    let dhcp4 = &mut config["Dhcp4"];
    dhcp4["interfaces-config"]["interfaces"]
        .as_array_mut()
        .unwrap()
        .push(json!("lo"));
    if serve_lo {
        dhcp4["subnet4"].as_array_mut().unwrap().push(json!({
            "id": 77,
            "subnet": "192.0.2.0/24",
            "relay": { "ip-addresses": [ "127.0.0.1" ] },
            "pools": [ { "pool": "192.0.2.10 - 192.0.2.20" } ]
        }));
    }
    config
}

fn boot_probe(serve_lo: bool) -> (ServerProcess, std::path::PathBuf, TestNet) {
    let net = TestNet::new().expect("test network");
    let path = net.write_config(&with_loopback(&net, serve_lo)).unwrap();
    let marker = net.unique_path("probe-failed", "txt");
    let on_failure = format!("echo \"$PROBE_STAGE\" > {}", marker.display());
    let path = path.display().to_string();
    let mut server = net
        .spawn_server(&[
            BIN,
            "serve",
            "-c",
            &path,
            "--boot-probe",
            "--on-failure",
            &on_failure,
        ])
        .expect("start leasehold");
    server.wait_until_serving(&net).expect("serving");
    (server, marker, net)
}

#[test]
fn boot_probe_gets_a_lease_from_the_server_itself() {
    let (mut server, marker, _net) = boot_probe(true);
    wait_for_log(&server, "LH_BOOT_PROBE_OK", 1, Duration::from_secs(10));
    assert!(!marker.exists());
    server.terminate().unwrap();
}

#[test]
fn boot_probe_failure_runs_the_command() {
    let (mut server, marker, _net) = boot_probe(false);
    wait_for_log(&server, "LH_BOOT_PROBE_FAILED", 1, Duration::from_secs(15));
    wait_for_file(&marker, true);
    let stage = std::fs::read_to_string(&marker).unwrap();
    assert_eq!(stage.trim(), "discover");
    server.terminate().unwrap();
}

/// `serve --db-init` on an empty database named through placeholders: the schema is created,
/// leases are served, and the ready file comes and goes.
fn db_init_with_placeholders(kind: SqlKind) {
    let host = ScratchDatabase::shared_host(kind);
    let database = ScratchDatabase::empty(kind, &host).expect("database created");
    let net = TestNet::new().expect("test network");
    let (host, user) = (host.display().to_string(), kind.user());
    let mut config = lab_config(&net);
    config["Dhcp4"]["lease-database"] = json!({
        "type": kind.name(),
        "name": "<LH_OPS_DB_NAME>",
        "host": "<LH_OPS_DB_HOST>",
        "user": user,
    });
    let path = net.write_config(&config).unwrap().display().to_string();
    let ready = net.unique_path("ready", "pid");
    let ready_arg = ready.display().to_string();
    let name_env = format!("LH_OPS_DB_NAME={}", database.name());
    let host_env = format!("LH_OPS_DB_HOST={host}");
    let mut server = net
        .spawn_server(&[
            "env",
            &name_env,
            &host_env,
            BIN,
            "serve",
            "-c",
            &path,
            "--db-init",
            "--ready-file",
            &ready_arg,
        ])
        .expect("start leasehold");
    server.wait_until_serving(&net).expect("serving");
    wait_for_file(&ready, true);
    assert!(
        server.log().contains("LH_DB_SCHEMA_READY"),
        "{}",
        server.log()
    );

    let version = Command::new(BIN)
        .args([
            "db",
            "version",
            "--type",
            kind.name(),
            "-n",
            database.name(),
        ])
        .args(["--host", &host, "--user", user])
        .output()
        .expect("run leasehold db version");
    assert!(
        version.status.success(),
        "{}",
        String::from_utf8_lossy(&version.stderr)
    );

    let status = server.terminate().expect("terminate");
    assert!(status.success(), "{status}: {}", server.log());
    wait_for_file(&ready, false);
}

#[test]
fn postgresql_db_init_with_placeholders() {
    db_init_with_placeholders(SqlKind::Postgresql);
}

#[test]
fn mysql_db_init_with_placeholders() {
    db_init_with_placeholders(SqlKind::Mysql);
}
