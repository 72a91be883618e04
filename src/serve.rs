//! `leasehold serve`: where the configuration comes from, the lease
//! database prepared, the server started, a ready file for orchestrators,
//! the switch to an unprivileged user, and an optional probe of the server by
//! itself once it serves.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use leasehold_config::Config;
use leasehold_perf::probe::{self as health, ProbeConfig};
use leasehold_perf::run::{SERVER_PORT, Transport};
use leasehold_server::{ConfigSource, Pacing, Server};

use crate::LogFormat;
use crate::privileges::Account;

/// The sample configuration `serve` runs when no configuration is given.
const SAMPLE_CONFIG: &str = include_str!("../etc/leasehold.json");
/// The boot probe's hardware address (the `probe` command's default).
const BOOT_PROBE_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x67];

/// `leasehold serve`.
#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Kea Dhcp4 configuration file; without it (and without --config-url),
    /// the built-in sample (etc/leasehold.json) is served.
    #[arg(short, long, conflicts_with = "config_url")]
    config: Option<PathBuf>,
    /// Fetch the configuration from this http://, https:// or
    /// s3://BUCKET/KEY URL, and again every --config-poll seconds; a changed
    /// text that loads is applied as a reload, and a failed fetch keeps the
    /// running configuration. s3:// uses the AWS SDK's credential chain
    /// (environment, ~/.aws profile files, web identity, ECS, EC2 metadata),
    /// AWS_REGION, and AWS_ENDPOINT_URL(_S3) for S3-compatible stores.
    #[arg(long, value_name = "URL")]
    config_url: Option<String>,
    /// Seconds between fetches of --config-url.
    #[arg(long, value_name = "SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    config_poll: u64,
    /// Create or upgrade the SQL lease database's schema before serving
    /// (as `leasehold db upgrade -c`); nothing for a memfile.
    #[arg(long)]
    db_init: bool,
    /// Once the configuration is loaded, run as this user (needs root), with
    /// only CAP_NET_BIND_SERVICE, CAP_NET_RAW and CAP_NET_ADMIN; the lease
    /// file's directory must be writable by it.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// With --user: this group instead of the user's primary group.
    #[arg(long, value_name = "NAME", requires = "user")]
    group: Option<String>,
    /// Write this file once the server serves; removed when it stops.
    #[arg(long, value_name = "PATH")]
    ready_file: Option<PathBuf>,
    /// Once serving, probe this server address with one relayed exchange
    /// (default 127.0.0.1: the configuration must serve `lo` and a subnet
    /// for relay 127.0.0.1, as the sample does; see docs/operations.md).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1")]
    boot_probe: Option<Ipv4Addr>,
    /// The boot probe's relay address (giaddr); default: the probed address.
    #[arg(long, value_name = "LOCAL", requires = "boot_probe")]
    boot_probe_local: Option<Ipv4Addr>,
    /// Shell command run when the boot probe gets no lease, with PROBE_SERVER,
    /// PROBE_STAGE, PROBE_ERROR and PROBE_MAC set.
    #[arg(long, value_name = "CMD", requires = "boot_probe")]
    on_failure: Option<String>,
    /// The most a reply may wait, in milliseconds, for other leases to share
    /// its sync and for datagrams to be taken together, once queries come
    /// faster than about 100 a second. 0 answers each at once: lower latency,
    /// more CPU time per lease.
    #[arg(long, value_name = "MS", default_value_t = Pacing::DEFAULT_BUDGET.as_millis() as u64, value_parser = clap::value_parser!(u64).range(0..=1000))]
    gather_window: u64,
}

/// Removes the ready file when the server stops, however `serve` returns.
struct ReadyFile(PathBuf);

impl ReadyFile {
    fn create(path: &Path) -> anyhow::Result<Self> {
        let content = format!("{}\n", std::process::id());
        std::fs::write(path, content)
            .with_context(|| format!("cannot write the ready file {}", path.display()))?;
        Ok(Self(path.to_path_buf()))
    }
}

impl Drop for ReadyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(crate) fn serve(args: &ServeArgs, format: LogFormat) -> anyhow::Result<()> {
    let account = args
        .user
        .as_deref()
        .map(|user| Account::lookup(user, args.group.as_deref()))
        .transpose()?;
    let source = match (&args.config, &args.config_url) {
        (Some(path), _) => Some(ConfigSource::File(path.clone())),
        (None, Some(url)) => Some(ConfigSource::url(url)?),
        (None, None) => None,
    };
    let (config, digest) = match &source {
        Some(source) => source.load()?,
        None => (Config::parse(SAMPLE_CONFIG, "<built-in sample>")?, [0; 32]),
    };
    crate::init_logging(&config, format)?;
    let described = source
        .as_ref()
        .map_or("<built-in sample>".into(), ToString::to_string);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), config = %described, "starting");
    if args.db_init {
        crate::db::prepare(&config)?;
    }
    let probe_target = args.boot_probe.map(|server| {
        let local = args.boot_probe_local.unwrap_or(server);
        (server, local)
    });
    let path = args.config.as_deref();
    // Before Server::start: its threads take their capabilities from this one.
    if let Some(account) = &account {
        account.switch()?;
        account.check_files(&config, path)?;
    }
    let pacing = Pacing::within(Duration::from_millis(args.gather_window));
    let mut server = Server::start(config, path, pacing).context("cannot start the server")?;
    if let Some(url) = &args.config_url {
        server.watch_url(url.clone(), Duration::from_secs(args.config_poll), digest);
    }
    let ready = args
        .ready_file
        .as_deref()
        .map(ReadyFile::create)
        .transpose();
    let ready = match ready {
        Ok(ready) => ready,
        Err(error) => {
            server.stop();
            return Err(error);
        }
    };
    if let Some((server_address, local)) = probe_target {
        let on_failure = args.on_failure.clone();
        std::thread::spawn(move || boot_probe(server_address, local, on_failure.as_deref()));
    }
    server
        .run_until_signalled()
        .context("cannot wait for signals")?;
    drop(ready);
    Ok(())
}

/// One relayed exchange against the server itself; logs the outcome and runs
/// `on_failure` when no lease was had.
fn boot_probe(server: Ipv4Addr, local: Ipv4Addr, on_failure: Option<&str>) {
    let config = ProbeConfig {
        server: SocketAddrV4::new(server, SERVER_PORT),
        transport: Transport::Relay {
            local: SocketAddrV4::new(local, 0),
        },
        mac: BOOT_PROBE_MAC,
        timeout: Duration::from_secs(2),
        retries: 2,
        keep: false,
    };
    let failure = match health::probe(&config) {
        Ok(lease) => {
            tracing::info!(
                msg_id = "LH_BOOT_PROBE_OK",
                address = %lease.address,
                elapsed_ms = lease.elapsed.as_millis() as u64,
                "boot probe got a lease"
            );
            return;
        }
        Err(failure) => failure,
    };
    tracing::error!(
        msg_id = "LH_BOOT_PROBE_FAILED",
        %server,
        stage = failure.stage(),
        error = %failure,
        "boot probe got no lease"
    );
    let Some(command) = on_failure else {
        return;
    };
    match health::run_on_failure(command, &config, &failure) {
        Ok(status) if status.success() => {}
        Ok(status) => tracing::warn!(%status, "the --on-failure command failed"),
        Err(error) => tracing::warn!(%error, "cannot run the --on-failure command"),
    }
}
