//! Starting, probing and stopping the DHCP server under test in the server namespace.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::net::TestNet;
use crate::process::{self, POLL};

/// How long [`ServerProcess::wait_until_serving`] waits by default.
pub const SERVING_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`ServerProcess::terminate`] waits after SIGTERM before it uses SIGKILL.
pub const TERMINATE_TIMEOUT: Duration = Duration::from_secs(10);
/// The hardware address of the probe DISCOVER; the probe never completes an exchange, so it
/// leaves no lease behind.
pub const PROBE_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];

/// Which server a test drives; the same scenario runs against either.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// ISC Kea's `kea-dhcp4` from `PATH`, the behaviour leasehold must match.
    Kea,
    /// The `leasehold` binary at this path, run as `leasehold serve -c CONFIG`.
    Leasehold(PathBuf),
}

impl ServerKind {
    /// The command line that serves `config`.
    pub fn command(&self, config: &Path) -> Vec<String> {
        let config = config.display().to_string();
        match self {
            Self::Kea => vec!["kea-dhcp4".into(), "-c".into(), config],
            Self::Leasehold(binary) => {
                let binary = binary.display().to_string();
                vec![binary, "serve".into(), "-c".into(), config]
            }
        }
    }

    /// A short name for messages: "kea" or "leasehold".
    pub fn name(&self) -> &'static str {
        match self {
            Self::Kea => "kea",
            Self::Leasehold(_) => "leasehold",
        }
    }
}

/// The command line that makes `kind` serve `config` (same as [`ServerKind::command`]).
pub fn server_command(kind: &ServerKind, config: &Path) -> Vec<String> {
    kind.command(config)
}

/// A server running in the server namespace; killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    log: PathBuf,
    command: String,
    exit: Option<ExitStatus>,
}

impl TestNet {
    /// Runs `command` in the server namespace with stdout and stderr going to a new log file
    /// in [`Self::dir`].
    ///
    /// `KEA_PIDFILE_DIR` and `KEA_LOCKFILE_DIR` point at [`Self::dir`], as in
    /// `perf-compare.sh`, so parallel Kea instances do not fight over `/run/kea`.
    pub fn spawn_server<S: AsRef<OsStr>>(&self, command: &[S]) -> Result<ServerProcess> {
        let log = self.unique_path("server", "log");
        let mut ip = self.command(crate::Side::Server, &[]);
        ip.args(command);
        ip.env("KEA_PIDFILE_DIR", self.dir())
            .env("KEA_LOCKFILE_DIR", self.dir());
        let description = process::describe(&ip);
        let child = process::spawn_logged(ip, &log)?;
        Ok(ServerProcess {
            child,
            log,
            command: description,
            exit: None,
        })
    }

    /// Writes `config`, starts `kind` on it and waits until it answers a probe.
    pub fn start_server(
        &self,
        kind: &ServerKind,
        config: &serde_json::Value,
    ) -> Result<ServerProcess> {
        let path = self.write_config(config)?;
        let mut server = self.spawn_server(&kind.command(&path))?;
        server.wait_until_serving(self)?;
        Ok(server)
    }
}

impl ServerProcess {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The command line it was started with.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// Where its stdout and stderr go.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything it has logged so far (for assertion messages).
    pub fn log(&self) -> String {
        process::read_lossy(&self.log)
    }

    /// Its exit status if it has exited (it is reaped then).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.exit_status().is_none()
    }

    /// Kills it with SIGKILL, like a crash or an OOM kill, and reaps it.
    pub fn kill9(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.exit_status() {
            return Ok(status);
        }
        self.child
            .kill()
            .map_err(|source| Error::system("kill -9 server", source))?;
        let status = self
            .child
            .wait()
            .map_err(|source| Error::system("wait for server", source))?;
        self.exit = Some(status);
        Ok(status)
    }

    /// Asks it to stop with SIGTERM and waits for it; uses SIGKILL after [`TERMINATE_TIMEOUT`].
    pub fn terminate(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.exit_status() {
            return Ok(status);
        }
        process::send_signal(self.pid(), libc::SIGTERM)
            .map_err(|source| Error::system("send SIGTERM to server", source))?;
        match process::wait_timeout(&mut self.child, TERMINATE_TIMEOUT) {
            Some(status) => {
                self.exit = Some(status);
                Ok(status)
            }
            None => self.kill9(),
        }
    }

    /// Polls with a relayed DISCOVER from [`crate::HARNESS_RELAY_ADDR`] until the server
    /// answers with an OFFER, for up to [`SERVING_TIMEOUT`].
    ///
    /// The probe stops at the OFFER, so it leaves no lease and does not disturb lease counts.
    /// It fails early, with the log, when the server exits.
    pub fn wait_until_serving(&mut self, net: &TestNet) -> Result<()> {
        self.wait_until_serving_for(net, SERVING_TIMEOUT)
    }

    /// [`Self::wait_until_serving`] with another timeout.
    pub fn wait_until_serving_for(&mut self, net: &TestNet, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        let not_serving = |server: &mut Self| Error::NotServing {
            command: server.command.clone(),
            waited: start.elapsed(),
            state: match server.exit_status() {
                Some(status) => format!("exited: {status}"),
                None => "still running".into(),
            },
            log: server.log(),
        };
        while start.elapsed() < timeout {
            if !self.is_running() {
                return Err(not_serving(self));
            }
            let offer = net.relay()?.probe(PROBE_MAC, Duration::from_millis(250))?;
            if offer.is_some() {
                return Ok(());
            }
            thread::sleep(POLL);
        }
        Err(not_serving(self))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
