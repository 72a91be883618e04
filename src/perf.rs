//! The client-side subcommands: `leasehold perf` (load generator) and `leasehold probe`
//! (health check). The work is done by the `leasehold-perf` crate; this module turns command
//! lines into its configurations and its results into output and exit codes.

use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use leasehold_perf::client::{Mode, Settings};
use leasehold_perf::probe::{self as health, ProbeConfig};
use leasehold_perf::run::{self, PerfConfig, SERVER_PORT, Transport};

/// Exit status when every exchange worked (perfdhcp's 0).
const EXIT_OK: u8 = 0;
/// Exit status for errors, and for addresses ACKed twice under `-u`.
const EXIT_FAILURE: u8 = 1;
/// Exit status when some exchanges got no reply or a NAK (perfdhcp's 3).
const EXIT_UNSUCCESSFUL_EXCHANGES: u8 = 3;

/// Where requests go and how (shared by perf and probe).
#[derive(Args, Debug)]
pub(crate) struct Target {
    /// The server's IPv4 address; with --interface, `all` broadcasts to 255.255.255.255.
    server: String,
    /// Relay mode from this local address, also used as giaddr. perf binds LOCAL:67 (with
    /// SO_REUSEADDR) and gets replies there, as perfdhcp's -l does; probe and
    /// `perf --source-port` use an ephemeral port and the RFC 8357 relay source port.
    /// Without -l and -i: relay mode from the address that routes to SERVER.
    #[arg(
        short = 'l',
        long = "local-addr",
        value_name = "LOCAL",
        conflicts_with = "interface"
    )]
    local: Option<Ipv4Addr>,
    /// Broadcast mode on this interface: a directly attached client, UDP from port 68 with
    /// the broadcast flag (not a raw socket).
    #[arg(short, long, value_name = "IFACE")]
    interface: Option<String>,
}

impl Target {
    /// The destination and transport; relay mode binds port `relay_port` (0: ephemeral).
    fn resolve(&self, relay_port: u16) -> anyhow::Result<(SocketAddrV4, Transport)> {
        let server = match (self.server.as_str(), &self.interface) {
            ("all", Some(_)) => Ipv4Addr::BROADCAST,
            (server, _) => server
                .parse()
                .map_err(|_| anyhow::anyhow!("{server} is not an IPv4 address"))?,
        };
        let destination = SocketAddrV4::new(server, SERVER_PORT);
        if let Some(interface) = &self.interface {
            let interface = interface.clone();
            return Ok((destination, Transport::Broadcast { interface }));
        }
        let local = match self.local {
            Some(local) => local,
            None => run::local_address_towards(server)?,
        };
        let local = SocketAddrV4::new(local, relay_port);
        Ok((destination, Transport::Relay { local }))
    }
}

/// `leasehold perf`.
#[derive(Args, Debug)]
pub(crate) struct PerfArgs {
    #[command(flatten)]
    target: Target,
    /// Exchanges started per second; without it, as fast as --window allows.
    #[arg(short, long)]
    rate: Option<f64>,
    /// Number of distinct clients (hardware addresses).
    #[arg(short = 'R', long, default_value_t = 100_000)]
    clients: u32,
    /// Stop after starting this many exchanges.
    #[arg(short = 'n', long = "num-exchanges")]
    exchanges: Option<u64>,
    /// Stop starting exchanges after this many seconds (default 10 without -n).
    #[arg(short = 'p', long = "period")]
    period: Option<f64>,
    /// Seconds without a reply after which a request counts as dropped.
    #[arg(short = 'd', long = "drop-timeout", default_value_t = 1.0)]
    drop_timeout: f64,
    /// DISCOVER-OFFER only, no REQUEST.
    #[arg(short = 'x', long = "do-only")]
    do_only: bool,
    /// Percent of exchanges that renew a bound client's lease (relay mode only).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    renew_percent: u8,
    /// Percent of exchanges that release a bound client's lease.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    release_percent: u8,
    /// Fail (exit 1) if two clients were ACKed the same address.
    #[arg(short = 'u', long)]
    unique: bool,
    /// Relay mode from an ephemeral port with the RFC 8357 relay source port instead of
    /// LOCAL:67.
    #[arg(long, conflicts_with = "interface")]
    source_port: bool,
    /// Without --rate, at most this many requests in flight.
    #[arg(long, default_value_t = 1000)]
    window: usize,
    /// Second byte of the clients' hardware addresses (default: from the clock), so that
    /// runs use different clients.
    #[arg(long)]
    seed: Option<u8>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `leasehold perf`.
pub(crate) fn perf(args: &PerfArgs) -> ExitCode {
    let report = match perf_config(args).and_then(|config| Ok(run::run(&config)?)) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("leasehold perf: {error:#}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    if args.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.text());
    }
    let unsuccessful = leasehold_perf::report::Stage::ALL.iter().any(|&stage| {
        let stats = report.stats.stage(stage);
        stats.drops + stats.naks > 0
    });
    match (report.is_unique(), unsuccessful) {
        (false, _) => ExitCode::from(EXIT_FAILURE),
        (true, true) => ExitCode::from(EXIT_UNSUCCESSFUL_EXCHANGES),
        (true, false) => ExitCode::from(EXIT_OK),
    }
}

fn perf_config(args: &PerfArgs) -> anyhow::Result<PerfConfig> {
    let relay_port = if args.source_port { 0 } else { SERVER_PORT };
    let (server, transport) = args.target.resolve(relay_port)?;
    let seconds = |value: f64, name: &str| {
        Duration::try_from_secs_f64(value).map_err(|_| anyhow::anyhow!("bad {name}: {value}"))
    };
    let period = match (args.period, args.exchanges) {
        (Some(period), _) => Some(seconds(period, "period")?),
        (None, Some(_)) => None,
        (None, None) => Some(Duration::from_secs(10)),
    };
    let settings = Settings {
        mode: Mode::Broadcast,
        clients: args.clients,
        do_only: args.do_only,
        renew_percent: args.renew_percent,
        release_percent: args.release_percent,
        drop_timeout: seconds(args.drop_timeout, "drop timeout")?,
        unique_check: args.unique,
        mac_seed: args.seed.unwrap_or_else(clock_seed),
    };
    Ok(PerfConfig {
        server,
        transport,
        settings,
        rate: args.rate,
        exchanges: args.exchanges,
        duration: period,
        window: args.window.max(1),
        progress: !args.json && std::io::stdout().is_terminal(),
    })
}

fn clock_seed() -> u8 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    (nanos >> 10) as u8
}

/// `leasehold probe`.
#[derive(Args, Debug)]
pub(crate) struct ProbeArgs {
    #[command(flatten)]
    target: Target,
    /// Seconds to wait for each reply.
    #[arg(long, default_value_t = 2.0)]
    timeout: f64,
    /// How often to send a request again when no reply came.
    #[arg(long, default_value_t = 2)]
    retries: u32,
    /// Keep the lease instead of releasing it.
    #[arg(long)]
    keep: bool,
    /// The client's hardware address.
    #[arg(long, value_parser = parse_mac, default_value = "02:00:5e:10:00:67")]
    mac: [u8; 6],
    /// A shell command to run when the probe fails; it gets PROBE_SERVER, PROBE_STAGE
    /// (discover, request or setup), PROBE_ERROR and PROBE_MAC in its environment.
    #[arg(long, value_name = "CMD")]
    on_failure: Option<String>,
}

/// Runs `leasehold probe`: prints the lease and exits 0, or prints why not, runs the
/// failure command and exits 1.
pub(crate) fn probe(args: &ProbeArgs) -> ExitCode {
    let config = match probe_config(args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("leasehold probe: {error:#}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let failure = match health::probe(&config) {
        Ok(lease) => {
            println!("{lease}");
            return ExitCode::from(EXIT_OK);
        }
        Err(failure) => failure,
    };
    eprintln!("leasehold probe: {failure}");
    if let Some(command) = &args.on_failure {
        match health::run_on_failure(command, &config, &failure) {
            Ok(status) if status.success() => {}
            Ok(status) => eprintln!("leasehold probe: --on-failure command: {status}"),
            Err(error) => eprintln!("leasehold probe: cannot run --on-failure command: {error}"),
        }
    }
    ExitCode::from(EXIT_FAILURE)
}

fn probe_config(args: &ProbeArgs) -> anyhow::Result<ProbeConfig> {
    let (server, transport) = args.target.resolve(0)?;
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .map_err(|_| anyhow::anyhow!("bad timeout: {}", args.timeout))?;
    Ok(ProbeConfig {
        server,
        transport,
        mac: args.mac,
        timeout,
        retries: args.retries,
        keep: args.keep,
    })
}

fn parse_mac(text: &str) -> Result<[u8; 6], String> {
    let octets: Vec<u8> = text
        .split(':')
        .map(|octet| u8::from_str_radix(octet, 16))
        .collect::<Result<_, _>>()
        .map_err(|_| format!("{text} is not a hardware address like 02:00:5e:10:00:67"))?;
    octets
        .try_into()
        .map_err(|_| format!("{text} does not have six octets"))
}
