//! `leasehold db`: create, upgrade and inspect Kea's SQL schema, as
//! `kea-admin db-init`, `db-upgrade` and `db-version` do.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use leasehold_config::{Config, LeaseDatabase};
use leasehold_leases::sql::{self, Backend, Params, SchemaOutcome};

#[derive(Args)]
pub(crate) struct DbArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Create Kea 2.2's lease and host schema in an empty database.
    Init(Target),
    /// Bring the schema to Kea 2.2's version (creating it if absent).
    Upgrade(Target),
    /// Print the schema version, as `kea-admin db-version` does.
    Version(Target),
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    /// PostgreSQL.
    #[value(alias = "pgsql")]
    Postgresql,
    /// MySQL or MariaDB.
    Mysql,
}

/// Which database: from `-c CONFIG`'s `lease-database`, or from the options
/// (which override the configuration's values).
#[derive(Args)]
struct Target {
    /// Take the database from this configuration's `lease-database`.
    #[arg(short, long)]
    config: Option<PathBuf>,
    /// Database kind.
    #[arg(long = "type", value_enum)]
    kind: Option<Kind>,
    /// Database name.
    #[arg(short, long)]
    name: Option<String>,
    /// Host name, address or unix socket directory/path.
    #[arg(long)]
    host: Option<String>,
    /// Port.
    #[arg(short = 'P', long)]
    port: Option<u16>,
    /// User.
    #[arg(short, long)]
    user: Option<String>,
    /// Password.
    #[arg(short, long)]
    password: Option<String>,
}

impl Target {
    fn params(&self) -> anyhow::Result<Params> {
        let mut params = match &self.config {
            Some(path) => from_config(&Config::load(path)?)?,
            None => {
                let Some(kind) = self.kind else {
                    bail!("give --type postgresql|mysql, or -c CONFIG");
                };
                let backend = match kind {
                    Kind::Postgresql => Backend::Postgresql,
                    Kind::Mysql => Backend::Mysql,
                };
                Params::new(backend, "kea")
            }
        };
        if let Some(name) = &self.name {
            params.name.clone_from(name);
        }
        if self.host.is_some() {
            params.host.clone_from(&self.host);
        }
        params.port = self.port.or(params.port);
        if self.user.is_some() {
            params.user.clone_from(&self.user);
        }
        if self.password.is_some() {
            params.password.clone_from(&self.password);
        }
        Ok(params)
    }
}

fn from_config(config: &Config) -> anyhow::Result<Params> {
    let LeaseDatabase::Sql(database) = &config.lease_database else {
        bail!("the configuration's lease-database is not postgresql or mysql");
    };
    Ok(leasehold_server::sql_params(database))
}

pub(crate) fn run(args: &DbArgs) -> ExitCode {
    match execute(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("leasehold db: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn execute(args: &DbArgs) -> anyhow::Result<()> {
    match &args.action {
        Action::Init(target) => {
            let params = target.params()?;
            let outcome =
                sql::init(&params).with_context(|| format!("cannot initialise {params}"))?;
            report(&params, outcome);
        }
        Action::Upgrade(target) => {
            let params = target.params()?;
            let outcome =
                sql::upgrade(&params).with_context(|| format!("cannot upgrade {params}"))?;
            report(&params, outcome);
        }
        Action::Version(target) => {
            let params = target.params()?;
            match sql::version(&params)? {
                Some(version) => println!("{version}"),
                None => bail!("{params} has no Kea schema"),
            }
        }
    }
    Ok(())
}

fn report(params: &Params, outcome: SchemaOutcome) {
    match outcome {
        SchemaOutcome::Created(version) => println!("{params}: schema {version} created"),
        SchemaOutcome::Current(version) => println!("{params}: schema {version} is current"),
    }
}

/// `serve --db-init`: creates or upgrades the schema of the configuration's
/// SQL lease database, as `db upgrade -c` does; a memfile needs nothing.
pub(crate) fn prepare(config: &Config) -> anyhow::Result<()> {
    if !matches!(config.lease_database, LeaseDatabase::Sql(_)) {
        tracing::info!("lease-database is memfile: no schema to prepare");
        return Ok(());
    }
    let params = from_config(config)?;
    let outcome = sql::upgrade(&params).with_context(|| format!("cannot prepare {params}"))?;
    let (state, version) = match outcome {
        SchemaOutcome::Created(version) => ("created", version),
        SchemaOutcome::Current(version) => ("current", version),
    };
    tracing::info!(msg_id = "LH_DB_SCHEMA_READY", database = %params, %version, state, "lease database schema ready");
    Ok(())
}
