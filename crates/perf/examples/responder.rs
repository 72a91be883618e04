//! A dummy DHCP server that answers every DISCOVER and REQUEST at once and keeps no state,
//! for measuring the load generator itself: `responder [ADDRESS:PORT]` (default 0.0.0.0:67).
//! It runs until killed.

use std::net::SocketAddrV4;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use leasehold_perf::responder::Responder;

fn main() -> ExitCode {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "0.0.0.0:67".into());
    let Ok(local) = listen.parse::<SocketAddrV4>() else {
        eprintln!("responder: {listen} is not an IPv4 address and port");
        return ExitCode::FAILURE;
    };
    let stop = AtomicBool::new(false);
    let result = Responder::bind(local).and_then(|responder| responder.serve(&stop));
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("responder: {error}");
            ExitCode::FAILURE
        }
    }
}
