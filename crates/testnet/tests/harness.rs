//! Checks of the harness itself that need no DHCP server: names, clean-up, failure messages.
//! Needs root and `ip netns`.

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use leasehold_testnet::{Error, Side, TestNet};

fn namespace_exists(name: &str) -> bool {
    let output = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .any(|line| line.split_whitespace().next() == Some(name))
}

#[test]
fn builds_the_lab_shape_with_unique_short_names() {
    let first = TestNet::new().unwrap();
    let second = TestNet::new().unwrap();
    let names = [
        first.relay_server_if(),
        first.relay_client_if(),
        first.bcast_server_if(),
        first.bcast_client_if(),
        second.relay_server_if(),
    ];
    assert!(names.iter().all(|name| name.len() <= 15), "{names:?}");
    assert_ne!(first.server_ns(), second.server_ns());
    assert_ne!(first.relay_server_if(), second.relay_server_if());

    let addresses = first.run(
        Side::Client,
        &["ip", "-o", "-4", "addr"],
        Duration::from_secs(5),
    );
    let addresses = addresses.unwrap().output;
    for expected in ["192.0.2.2/24", "192.0.2.3/24", "198.51.100.254/24"] {
        assert!(addresses.contains(expected), "{addresses}");
    }
    assert!(addresses.contains(first.bcast_client_if()), "{addresses}");
    for server in ["192.0.2.1:9", "198.51.100.1:9"] {
        assert_udp_reaches(&first, server);
    }
}

/// Sends a datagram from the client namespace to `server` in the server namespace.
fn assert_udp_reaches(net: &TestNet, server: &str) {
    let server: std::net::SocketAddr = server.parse().unwrap();
    let receiver = net.in_namespace(Side::Server, move || UdpSocket::bind(server));
    let receiver = receiver.unwrap().unwrap();
    let sender = net.in_namespace(Side::Client, || UdpSocket::bind("0.0.0.0:0"));
    let sender = sender.unwrap().unwrap();
    sender.send_to(b"hello", server).unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buffer = [0; 16];
    let (length, _) = receiver.recv_from(&mut buffer).unwrap();
    assert_eq!(&buffer[..length], b"hello");
}

#[test]
fn removes_namespaces_and_processes_on_drop_even_when_panicking() {
    let net = TestNet::new().unwrap();
    let (server_ns, client_ns) = (net.server_ns().to_owned(), net.client_ns().to_owned());
    let sleeper = net.spawn_server(&["sleep", "60"]).unwrap();
    let pid = sleeper.pid();
    std::mem::forget(sleeper);
    let outcome = std::panic::catch_unwind(move || {
        let _net = net;
        panic!("a failing test");
    });
    assert!(outcome.is_err());
    assert!(!namespace_exists(&server_ns) && !namespace_exists(&client_ns));
    std::thread::sleep(Duration::from_millis(100));
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        state.is_empty() || state.contains(") Z "),
        "process {pid} survived: {state}"
    );
}

#[test]
fn a_server_that_exits_fails_fast_with_its_log() {
    let net = TestNet::new().unwrap();
    let mut server = net
        .spawn_server(&["sh", "-c", "echo cannot open config; exit 3"])
        .unwrap();
    let started = std::time::Instant::now();
    let error = server.wait_until_serving(&net).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(error, Error::NotServing { .. }), "{error}");
    assert!(error.to_string().contains("cannot open config"), "{error}");
}

#[test]
fn a_silent_server_times_out() {
    let net = TestNet::new().unwrap();
    let mut server = net.spawn_server(&["sleep", "30"]).unwrap();
    let error = server
        .wait_until_serving_for(&net, Duration::from_secs(1))
        .unwrap_err();
    assert!(error.to_string().contains("still running"), "{error}");
    let status = server.terminate().unwrap();
    assert!(!status.success());
}
