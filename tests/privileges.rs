//! `serve --user`: the server drops root after loading its configuration and keeps exactly
//! CAP_NET_BIND_SERVICE, CAP_NET_RAW and CAP_NET_ADMIN in every thread; relayed and directly
//! attached clients still get leases, and SIGHUP still reloads. Needs root, `ip netns`,
//! udhcpc and the `nobody` account.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use leasehold_testnet::{ServerProcess, TestNet};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_leasehold");
/// CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12) and CAP_NET_RAW (13), as /proc shows them.
const KEPT_CAPABILITIES: u64 = (1 << 10) | (1 << 12) | (1 << 13);

/// `id FLAG nobody`: nobody's uid (`-u`) or primary gid (`-g`).
fn nobody(flag: &str) -> u32 {
    let output = Command::new("id").args([flag, "nobody"]).output().unwrap();
    assert!(output.status.success(), "no user nobody");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap()
}

/// A field of a /proc status file: "Uid", "CapEff", ...
fn status_field(status: &str, name: &str) -> String {
    let prefix = format!("{name}:");
    let line = status.lines().find(|line| line.starts_with(&prefix));
    line.unwrap_or_else(|| panic!("no {name} in {status}"))[prefix.len()..]
        .trim()
        .to_owned()
}

fn wait_for_log(server: &ServerProcess, needle: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.log().matches(needle).count() < count {
        assert!(Instant::now() < deadline, "no {needle}:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every thread of `pid` runs as `uid`/`gid` with exactly the kept capabilities.
fn assert_unprivileged(pid: u32, uid: u32, gid: u32) {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    let mut threads = 0;
    for task in tasks {
        let status = std::fs::read_to_string(task.unwrap().path().join("status")).unwrap();
        let ids = |name| -> Vec<u32> {
            let field = status_field(&status, name);
            field
                .split_whitespace()
                .map(|id| id.parse().unwrap())
                .collect()
        };
        assert_eq!(ids("Uid"), [uid; 4], "{status}");
        assert_eq!(ids("Gid"), [gid; 4], "{status}");
        for set in ["CapEff", "CapPrm", "CapBnd"] {
            let value = u64::from_str_radix(&status_field(&status, set), 16).unwrap();
            assert_eq!(value, KEPT_CAPABILITIES, "{set} of {status}");
        }
        assert_eq!(status_field(&status, "CapInh"), format!("{:016x}", 0));
        threads += 1;
    }
    assert!(
        threads > 3,
        "workers, committer and control threads: {threads}"
    );
}

#[test]
fn serves_as_nobody_with_only_the_network_capabilities() {
    let (uid, gid) = (nobody("-u"), nobody("-g"));
    let net = TestNet::new().expect("test network");
    // nobody must reach its files through the (root-owned, 0700) test directory.
    std::fs::set_permissions(net.dir(), PermissionsExt::from_mode(0o711)).unwrap();
    let leases = net.dir().join("leases");
    std::fs::create_dir(&leases).unwrap();
    std::os::unix::fs::chown(&leases, Some(uid), Some(gid)).unwrap();
    let mut config = net.lab_config();
    config["Dhcp4"]["loggers"][0]["severity"] = json!("INFO");
    config["Dhcp4"]["lease-database"]["name"] = json!(leases.join("leases4.csv"));
    config["Dhcp4"]["lease-database"]["lfc-interval"] = json!(1);
    let path = net.write_config(&config).unwrap();
    let path_arg = path.display().to_string();
    let mut server = net
        .spawn_server(&[BIN, "serve", "-c", &path_arg, "--user", "nobody"])
        .expect("start leasehold");
    server.wait_until_serving(&net).expect("serving");
    assert!(
        server.log().contains("LH_PRIVILEGES_DROPPED"),
        "{}",
        server.log()
    );
    assert_unprivileged(server.pid(), uid, gid);

    // A relayed client, and a client on the directly attached link (its unicast reply needs
    // the ARP entry that CAP_NET_ADMIN allows).
    let relayed = net
        .relay()
        .unwrap()
        .dora([0x02, 0, 0, 0, 0x51, 1])
        .expect("relayed lease");
    assert_eq!(relayed.lease_time, Some(4000));
    let direct = net.udhcpc(net.bcast_client_if()).expect("direct lease");
    assert_eq!(direct.address.octets()[..3], [198, 51, 100]);
    assert!(leases.join("leases4.csv").exists());

    // SIGHUP re-reads the file as nobody.
    config["Dhcp4"]["valid-lifetime"] = json!(5000);
    std::fs::write(&path, config.to_string()).unwrap();
    let status = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_for_log(&server, "LH_CONFIG_RELOADED", 1);
    let after = net
        .relay()
        .unwrap()
        .dora([0x02, 0, 0, 0, 0x51, 2])
        .expect("lease after reload");
    assert_eq!(after.lease_time, Some(5000));
    assert_unprivileged(server.pid(), uid, gid);

    let status = server.terminate().expect("terminate");
    assert!(status.success(), "{status}: {}", server.log());
}

fn serve_fails(command: &mut Command, expected: &str) {
    let output = command.output().expect("run leasehold");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains(expected), "{stderr}");
}

#[test]
fn user_switch_is_refused_clearly() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/leasehold.json");
    let config = config.display().to_string();
    serve_fails(
        Command::new(BIN).args(["serve", "-c", &config, "--user", "no-such-user-lh"]),
        "--user no-such-user-lh: no such user",
    );
    serve_fails(
        Command::new(BIN).args(["serve", "--user", "nobody", "--group", "no-such-group-lh"]),
        "--group no-such-group-lh: no such group",
    );
    serve_fails(
        Command::new("setpriv")
            .args([
                "--reuid",
                "nobody",
                "--regid",
                "nogroup",
                "--clear-groups",
                BIN,
            ])
            .args(["serve", "-c", &config, "--user", "nobody"]),
        "needs leasehold to start as root",
    );
}

#[test]
fn lease_directory_not_writable_by_the_user_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), PermissionsExt::from_mode(0o755)).unwrap();
    let private = dir.path().join("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, PermissionsExt::from_mode(0o700)).unwrap();
    let config = json!({ "Dhcp4": {
        "interfaces-config": { "interfaces": [ "lo" ] },
        "lease-database": { "type": "memfile", "name": private.join("leases4.csv") },
        "subnet4": []
    } });
    let path = dir.path().join("kea-dhcp4.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let path = path.display().to_string();
    serve_fails(
        Command::new(BIN).args(["serve", "-c", &path, "--user", "nobody"]),
        &format!(
            "user nobody cannot write the lease file's directory {}",
            private.display()
        ),
    );
}
