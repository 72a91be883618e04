//! Kea's control API: commands such as `config-reload`, `lease4-get` and
//! `statistic-get-all` over HTTP (as Kea's control agent serves them) and
//! over a unix socket (as `kea-dhcp4` serves them), Prometheus metrics on
//! `/metrics` and a health check on `/health`.
//!
//! The listeners run on one small tokio runtime on a thread of their own,
//! so the DHCP workers stay plain threads. A command runs on the runtime's
//! blocking pool: it may wait for the lease tables' locks and, for lease
//! changes, for the committer to make the change durable, exactly as a
//! DHCP ACK does.
//!
//! Start at [`ControlListener::start`]; the commands are in
//! [`commands`], [`leases`] and [`statistics`].

mod answer;
mod commands;
mod http;
mod leases;
pub(crate) mod reload;
mod statistics;
mod time;
mod tls;
mod unix;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Sender;
use leasehold_config::ControlConfig;
use parking_lot::Mutex;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::Shared;
use crate::committer::Job;
pub(crate) use answer::Answer;
use statistics::History;

/// What every command handler works with.
pub(crate) struct Control {
    shared: Arc<Shared>,
    jobs: Sender<Job>,
    /// Sample history of each statistic, for `statistic-get*`.
    history: Mutex<History>,
}

/// The running control listeners.
pub(crate) struct ControlListener {
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl ControlListener {
    /// Binds the HTTP listener (and the unix socket, if configured) and
    /// starts serving on a thread of its own.
    pub(crate) fn start(
        shared: Arc<Shared>,
        jobs: Sender<Job>,
        config: &ControlConfig,
    ) -> std::io::Result<Self> {
        let address = SocketAddr::new(config.http.address, config.http.port);
        let tcp = std::net::TcpListener::bind(address)?;
        tcp.set_nonblocking(true)?;
        let http_address = tcp.local_addr()?;
        let unix = match &config.unix_socket {
            Some(path) => Some(unix::bind(path)?),
            None => None,
        };
        let tls = match &config.http.tls {
            Some(settings) => Some(tls::acceptor(settings).map_err(std::io::Error::other)?),
            None => None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(4)
            .build()?;
        let control = Arc::new(Control {
            shared,
            jobs,
            history: Mutex::default(),
        });
        let (stop, stopped) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("control".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let http = http::serve(Arc::clone(&control), tcp, tls, stopped.clone());
                    let unix = unix::serve(control, unix, stopped);
                    tokio::join!(http, unix);
                });
            })?;
        let scheme = if config.http.tls.is_some() {
            "https"
        } else {
            "http"
        };
        info!(address = %http_address, scheme, "control API listening");
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops accepting requests and waits for the listener thread.
    pub(crate) fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            warn!("control listener thread panicked");
        }
    }
}

impl Control {
    /// Runs one command document (`{"command": ..., "arguments": ...}`)
    /// and returns Kea's answer.
    fn execute(&self, request: &serde_json::Value) -> Answer {
        let Some(request) = request.as_object() else {
            return Answer::error("Invalid command Element specified, expected map");
        };
        let Some(command) = request.get("command") else {
            return Answer::error("Invalid answer specified, does not contain mandatory 'command'");
        };
        let Some(command) = command.as_str() else {
            return Answer::error("'command' element in command message must be a string");
        };
        if let Some(refused) = check_service(request.get("service")) {
            return refused;
        }
        let arguments = request.get("arguments");
        if let Some(arguments) = arguments
            && !arguments.is_object()
        {
            return Answer::error("'arguments' argument must be a map");
        }
        commands::dispatch(self, command, arguments)
    }
}

/// Kea's control agent forwards to the servers named in `service`; only
/// `dhcp4` is here.
fn check_service(service: Option<&serde_json::Value>) -> Option<Answer> {
    let service = service?;
    let Some(list) = service.as_array() else {
        return Some(Answer::error("service value must be a list"));
    };
    list.iter().find_map(|name| match name.as_str() {
        Some("dhcp4") => None,
        Some(other) => Some(Answer::error(format!(
            "forwarding socket is not configured for the server type {other}"
        ))),
        None => Some(Answer::error("service value must be a list of strings")),
    })
}
