//! Where the configuration comes from: a local file, or a URL polled on a
//! timer and applied when its content changes.
//!
//! A polled configuration goes through the same path as `config-set` and
//! SIGHUP ([`crate::control::reload::apply`]): one that does not load, or
//! changes something only a restart can change, is refused and the running
//! one keeps serving. A failed fetch keeps the running configuration too; it
//! is logged once per [`FAILURE_LOG_INTERVAL`] while the failures last.
//!
//! A URL is `http://`, `https://` or `s3://bucket/key`; the last is fetched
//! with the AWS SDK and its usual credential chain (see [`s3`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use leasehold_config::{Config, ConfigError};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::Shared;

mod s3;

use s3::{S3Fetcher, S3Object};

/// How long a fetch may take, connecting included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(20);
/// At most one "fetch failed" warning per this interval while failures last.
const FAILURE_LOG_INTERVAL: Duration = Duration::from_secs(300);
/// How often the poller looks at the server's stop flag.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// Where the configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// A local file, re-read on SIGHUP and `config-reload`.
    File(PathBuf),
    /// An `http://`, `https://` or `s3://bucket/key` URL, polled and
    /// re-fetched on SIGHUP.
    Url(String),
}

/// Why a configuration could not be fetched or loaded.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The URL's scheme is not http, https or s3.
    #[error("{0}: only http://, https:// and s3:// configuration URLs are supported")]
    Scheme(String),
    /// An `s3://` URL without both a bucket and a key.
    #[error("{0}: an S3 configuration URL is s3://BUCKET/KEY")]
    S3Url(String),
    /// The request failed: an HTTP error status, an S3 error (no such
    /// bucket or key, access denied), no credentials, or no answer.
    #[error("cannot fetch {url}: {message}")]
    Fetch {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The fetched text is not a valid configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl ConfigSource {
    /// Parses a `--config-url` value, refusing schemes it cannot fetch.
    pub fn url(url: &str) -> Result<Self, SourceError> {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("s3://") {
            S3Object::parse(url).ok_or_else(|| SourceError::S3Url(url.into()))?;
            return Ok(Self::Url(url.into()));
        }
        if !lower.starts_with("http://") && !lower.starts_with("https://") {
            return Err(SourceError::Scheme(url.into()));
        }
        Ok(Self::Url(url.into()))
    }

    /// Loads the configuration, placeholders filled from the environment,
    /// with the SHA-256 of its text (a file's digest is not needed: files
    /// are not polled, so it is zero).
    pub fn load(&self) -> Result<(Config, [u8; 32]), SourceError> {
        match self {
            Self::File(path) => Ok((Config::load(path)?, [0; 32])),
            Self::Url(url) => {
                let text = Remote::new(url)?.fetch()?;
                Ok((Config::parse(&text, url)?, digest(&text)))
            }
        }
    }
}

impl std::fmt::Display for ConfigSource {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(formatter, "{}", path.display()),
            Self::Url(url) => formatter.write_str(url),
        }
    }
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn short_hex(digest: &[u8; 32]) -> String {
    digest[..6]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A configuration URL and the client that fetches it, kept across polls.
struct Remote {
    url: String,
    client: Client,
}

enum Client {
    Http(ureq::Agent),
    S3(S3Fetcher, S3Object),
}

impl Remote {
    /// Prepares to fetch `url`, which [`ConfigSource::url`] accepted.
    fn new(url: &str) -> Result<Self, SourceError> {
        let client = match S3Object::parse(url) {
            Some(object) => {
                let fetcher = S3Fetcher::new().map_err(|error| SourceError::Fetch {
                    url: url.into(),
                    message: format!("cannot start the S3 client's runtime: {error}"),
                })?;
                Client::S3(fetcher, object)
            }
            None => Client::Http(
                ureq::Agent::config_builder()
                    .timeout_global(Some(FETCH_TIMEOUT))
                    .build()
                    .into(),
            ),
        };
        Ok(Self {
            url: url.into(),
            client,
        })
    }

    /// Fetches the URL and returns its content as text.
    fn fetch(&self) -> Result<String, SourceError> {
        match &self.client {
            Client::Http(agent) => fetch_http(agent, &self.url),
            Client::S3(fetcher, object) => fetcher.fetch(object),
        }
    }
}

/// GETs `url` and returns its body as text.
fn fetch_http(agent: &ureq::Agent, url: &str) -> Result<String, SourceError> {
    let failed = |message: String| SourceError::Fetch {
        url: url.into(),
        message,
    };
    let mut response = agent
        .get(url)
        .call()
        .map_err(|error| failed(error.to_string()))?;
    response
        .body_mut()
        .read_to_string()
        .map_err(|error| failed(error.to_string()))
}

/// The thread that polls a URL source; stops with the server.
pub(crate) struct Poller {
    wake: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Poller {
    /// Starts polling `url` every `interval`; `started` is the digest of
    /// the text the server started with, so an unchanged source is not
    /// re-applied.
    pub(crate) fn start(
        shared: Arc<Shared>,
        url: String,
        interval: Duration,
        started: [u8; 32],
    ) -> Self {
        let (wake, woken) = crossbeam_channel::bounded(1);
        let thread = std::thread::Builder::new()
            .name("config-poller".into())
            .spawn(move || poll(&shared, &url, interval, started, &woken))
            .ok();
        Self { wake, thread }
    }

    /// Fetches now instead of at the next tick (SIGHUP).
    pub(crate) fn wake(&self) {
        let _ = self.wake.try_send(());
    }

    /// Waits for the thread, which has seen the stop flag.
    pub(crate) fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The poller's loop: wait, fetch, compare, apply.
fn poll(shared: &Shared, url: &str, interval: Duration, started: [u8; 32], woken: &Receiver<()>) {
    let source = ConfigSource::Url(url.into());
    let remote = match Remote::new(url) {
        Ok(remote) => remote,
        Err(error) => {
            warn!(
                msg_id = "LH_CONFIG_FETCH_FAILED",
                %error,
                "configuration source not polled; the running one keeps serving"
            );
            return;
        }
    };
    let mut applied = started;
    let mut failures: u64 = 0;
    let mut last_failure_log: Option<Instant> = None;
    while wait(shared, interval, woken) {
        let text = match remote.fetch() {
            Ok(text) => text,
            Err(error) => {
                failures += 1;
                let due = last_failure_log.is_none_or(|at| at.elapsed() >= FAILURE_LOG_INTERVAL);
                if due {
                    warn!(
                        msg_id = "LH_CONFIG_FETCH_FAILED",
                        %error,
                        failures,
                        "configuration fetch failed; the running one keeps serving"
                    );
                    last_failure_log = Some(Instant::now());
                }
                continue;
            }
        };
        if failures > 0 {
            info!(%source, failures, "configuration source reachable again");
            failures = 0;
            last_failure_log = None;
        }
        let hash = digest(&text);
        if hash == applied {
            continue;
        }
        // A refused text is not tried again until it changes.
        applied = hash;
        match Config::parse(&text, url) {
            Ok(config) => apply(shared, &source, config, &hash),
            Err(error) => refuse(&source, &error),
        }
    }
}

fn refuse(source: &ConfigSource, error: &dyn std::fmt::Display) {
    warn!(
        msg_id = "LH_CONFIG_REFUSED",
        %source,
        %error,
        "configuration refused; the running one keeps serving"
    );
}

fn apply(shared: &Shared, source: &ConfigSource, mut config: Config, hash: &[u8; 32]) {
    if let Err(error) = crate::database::add_host_reservations(&mut config) {
        warn!(%error, "host reservations not reloaded from the hosts database");
    }
    match crate::control::reload::apply(shared, config) {
        Ok(()) => info!(
            msg_id = "LH_CONFIG_RELOADED",
            %source,
            sha256 = %short_hex(hash),
            "configuration reloaded"
        ),
        Err(error) => refuse(source, &error),
    }
}

/// Sleeps `interval` or until woken; false when the server is stopping.
fn wait(shared: &Shared, interval: Duration, woken: &Receiver<()>) -> bool {
    let deadline = Instant::now() + interval;
    loop {
        if shared.stopping.load(Ordering::Relaxed) {
            return false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        match woken.recv_timeout(left.min(STOP_CHECK)) {
            Ok(()) => return true,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_s3_and_unknown_schemes_are_refused() {
        assert!(ConfigSource::url("s3://bucket/kea.json").is_ok());
        assert!(matches!(
            ConfigSource::url("s3://bucket"),
            Err(SourceError::S3Url(_))
        ));
        assert!(matches!(
            ConfigSource::url("ftp://host/kea.json"),
            Err(SourceError::Scheme(_))
        ));
        assert!(ConfigSource::url("https://host/kea.json").is_ok());
    }

    #[test]
    fn unreachable_url_is_a_fetch_error() {
        let source = ConfigSource::url("http://127.0.0.1:1/kea.json").unwrap();
        assert!(matches!(source.load(), Err(SourceError::Fetch { .. })));
    }
}
