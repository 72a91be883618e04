//! The `leasehold` command line: check-config's verdicts and messages, and
//! every configuration this repository ships.

use std::path::Path;
use std::process::{Command, Output};

fn leasehold(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leasehold"))
        .args(args)
        .output()
        .expect("run leasehold")
}

fn write_config(dir: &Path, text: &str) -> String {
    let path = dir.join("kea.json");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn check_config_accepts_every_shipped_configuration() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The compose stack's configuration takes its database from the environment.
    let environment = [("LH_DB_HOST", "postgres"), ("LH_DB_PASSWORD", "kea")];
    let lab = root.join("../shared/lab/kea-lab.json");
    let shipped = [
        root.join("etc/leasehold.json"),
        root.join("deploy/compose/kea-dhcp4.json"),
    ];
    for path in shipped.iter().chain(Some(&lab).filter(|lab| lab.exists())) {
        let output = Command::new(env!("CARGO_BIN_EXE_leasehold"))
            .args(["check-config", "-c", &path.to_string_lossy()])
            .envs(environment)
            .output()
            .expect("run leasehold");
        assert!(
            output.status.success(),
            "{} refused: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn check_config_names_each_bad_key_with_its_line_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        r#"{ "Dhcp4": {
            // a comment
            "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24",
                           "pools": [ { "pool": "10.0.1.1 - 10.0.1.9" } ] } ],
            "dhcp-ddns": { "enable-updates": false },
            "no-such-key": 1
        } }"#,
    );
    let output = leasehold(&["check-config", "-c", &config]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(":4: Dhcp4/subnet4[0]/pools[0]"),
        "pool outside subnet: {stderr}"
    );
    assert!(
        stderr.contains(":5:") && stderr.contains("dhcp-ddns"),
        "unsupported key: {stderr}"
    );
    assert!(
        stderr.contains(":6:") && stderr.contains("no-such-key"),
        "unknown key: {stderr}"
    );
}

#[test]
fn check_config_reports_a_missing_file() {
    let output = leasehold(&["check-config", "-c", "/nonexistent/kea-dhcp4.conf"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/kea-dhcp4.conf"));
}

#[test]
fn serve_refuses_a_bad_configuration_before_binding() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), r#"{ "Dhcp4": { "valid-lifetime": "long" } }"#);
    let output = leasehold(&["serve", "-c", &config]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("valid-lifetime"));
}
