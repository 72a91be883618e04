//! The `leasehold` command: a DHCPv4 server that runs on ISC Kea's
//! configuration and lease file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use leasehold_config::{Config, LogOutput, Severity};

mod db;
mod perf;
mod privileges;
mod serve;

#[derive(Parser)]
#[command(
    version,
    about = "A DHCPv4 server for ISC Kea's configuration and lease files"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Check a configuration file: exit 0 if it loads, else print every
    /// problem and exit 1.
    CheckConfig {
        /// Kea Dhcp4 configuration file.
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Drive a server with DHCP load (like perfdhcp) and report rates, drops and latency.
    Perf(perf::PerfArgs),
    /// One real exchange against a server: exit 0 with a lease, else 1.
    Probe(perf::ProbeArgs),
    /// Create, upgrade or show Kea's schema in a PostgreSQL or MySQL database.
    Db(db::DbArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { config } => check_config(&config),
        Command::Perf(args) => perf::perf(&args),
        Command::Probe(args) => perf::probe(&args),
        Command::Db(args) => db::run(&args),
        Command::Serve(args) => match serve::serve(&args, cli.log_format) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("leasehold: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn check_config(path: &Path) -> ExitCode {
    match Config::load(path) {
        Ok(config) => {
            println!(
                "{}: configuration is valid ({} subnets)",
                path.display(),
                config.subnets.len()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// Sets up logging from the configuration's first logger; `RUST_LOG`, when
/// set, overrides its severity.
pub(crate) fn init_logging(config: &Config, format: LogFormat) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let logger = config.loggers.first();
    let level = match logger.map_or(Severity::Info, |logger| logger.severity) {
        Severity::Debug => "debug",
        Severity::Info => "info",
        Severity::Warn => "warn",
        Severity::Error | Severity::Fatal => "error",
        Severity::None => "off",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let output = logger.map_or(LogOutput::Stdout, |logger| logger.output.clone());
    let writer = match output {
        LogOutput::File(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("cannot open log file {}", path.display()))?;
            tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::sync::Mutex::new(file))
        }
        LogOutput::Stderr => tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr),
        LogOutput::Stdout | LogOutput::Syslog => {
            tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stdout)
        }
    };
    let builder = builder.with_writer(writer);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    Ok(())
}
