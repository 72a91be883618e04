//! Running programs and threads inside a namespace, with timeouts.
//!
//! Programs run as `ip netns exec NS PROGRAM ...`; `ip` switches namespace and then `exec`s the
//! program, so the child's pid is the program's own pid and killing it kills the program.
//! Output goes to a file in the test directory rather than to a pipe: a client that forks a
//! daemon would otherwise hold the pipe open and hang the reader.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How often a waiting loop looks again.
pub(crate) const POLL: Duration = Duration::from_millis(20);

/// A program that ran to its end, or was killed at its timeout.
#[derive(Debug)]
pub struct Finished {
    /// The exit status; `None` when the harness killed it at the timeout.
    pub status: Option<ExitStatus>,
    /// Everything it wrote to stdout and stderr, interleaved.
    pub output: String,
}

impl Finished {
    /// Whether the program exited on its own with status 0.
    pub fn is_success(&self) -> bool {
        self.status.is_some_and(|status| status.success())
    }
}

/// Builds `ip netns exec NAMESPACE ARGS...`.
pub(crate) fn netns_command<S: AsRef<OsStr>>(namespace: &str, args: &[S]) -> Command {
    let mut command = Command::new("ip");
    command.args(["netns", "exec", namespace]).args(args);
    command.stdin(Stdio::null());
    command
}

/// The command line as one string, for messages.
pub(crate) fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Starts `command` with stdout and stderr appended to `log`.
pub(crate) fn spawn_logged(mut command: Command, log: &Path) -> Result<Child> {
    let file = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|source| Error::file(log, source))?;
    let stderr = file
        .try_clone()
        .map_err(|source| Error::file(log, source))?;
    command.stdout(file).stderr(stderr);
    command.spawn().map_err(|source| Error::Spawn {
        command: describe(&command),
        source,
    })
}

/// Runs `command` to its end or until `timeout`, then kills it; output is kept in `log`.
pub(crate) fn run_logged(command: Command, log: &Path, timeout: Duration) -> Result<Finished> {
    let mut child = spawn_logged(command, log)?;
    let status = wait_or_kill(&mut child, timeout);
    Ok(Finished {
        status,
        output: read_lossy(log),
    })
}

/// Waits for `child` until `timeout`; kills it if it is still running then.
pub(crate) fn wait_or_kill(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    if let Some(status) = wait_timeout(child, timeout) {
        return Some(status);
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Waits for `child` until `timeout`, returning its status if it exited.
pub(crate) fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(POLL),
            _ => return None,
        }
    }
}

/// A file's text, or an empty string if it cannot be read (for messages only).
pub(crate) fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// Runs `task` on a new thread whose network namespace is `namespace`, and returns its result.
///
/// `setns` changes the namespace of the calling thread only, so the thread is dedicated and ends
/// with the task. Sockets keep the namespace they were created in, so a task may create a
/// socket and hand it back for use from any thread.
pub(crate) fn in_namespace<T, F>(namespace: &str, task: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let path = PathBuf::from("/var/run/netns").join(namespace);
    let file = File::open(&path).map_err(|source| Error::file(&path, source))?;
    let thread = thread::spawn(move || {
        // SAFETY: `file` is an open namespace file that outlives the call; setns only reads it.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(Error::system(
                format!("setns into {}", path.display()),
                std::io::Error::last_os_error(),
            ));
        }
        Ok(task())
    });
    thread
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Sends `signal` to process `pid`.
pub(crate) fn send_signal(pid: u32, signal: libc::c_int) -> std::io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(std::io::Error::other)?;
    // SAFETY: kill(2) has no memory-safety preconditions; `pid` is a positive process id.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
