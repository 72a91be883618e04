//! Swapping in a new configuration while the workers keep serving.
//!
//! The new engine shares the running one's lease tables and is swapped in
//! atomically; workers never wait, and a worker that picked up the old
//! engine just before the swap changes the same tables the new one reads,
//! so no lease or offer is lost across a reload.

use std::sync::Arc;

use leasehold_config::{Config, ConfigError};
use parking_lot::Mutex;
use tracing::{info, warn};

use crate::Shared;

/// Reloads, `config-set` and lease commands take turns: a lease command
/// must not change an engine that a reload is replacing.
pub(crate) static TURN: Mutex<()> = Mutex::new(());

/// Why a configuration cannot be applied to the running server.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The configuration does not load.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// It changes something only a restart can change.
    #[error("{0} cannot change while the server runs; restart it to apply the change")]
    NeedsRestart(&'static str),
    /// The server runs without a configuration file.
    #[error("no configuration file to reload")]
    NoFile,
}

/// Checks that `config` can replace the running configuration.
pub(crate) fn check(shared: &Shared, config: &Config) -> Result<(), ReloadError> {
    let engine = shared.engine.load();
    let running = engine.config();
    if running.interfaces != config.interfaces {
        return Err(ReloadError::NeedsRestart("interfaces-config"));
    }
    if running.lease_database != config.lease_database {
        return Err(ReloadError::NeedsRestart("lease-database"));
    }
    if running.control != config.control {
        warn!("control-socket changes take effect at the next restart");
    }
    Ok(())
}

/// Re-reads the configuration file and applies it.
pub(crate) fn reload_file(shared: &Shared) -> Result<(), ReloadError> {
    let path = shared.config_path.as_ref().ok_or(ReloadError::NoFile)?;
    let mut config = Config::load(path)?;
    if let Err(error) = crate::database::add_host_reservations(&mut config) {
        warn!(%error, "host reservations not reloaded from the hosts database");
    }
    apply(shared, config)?;
    info!(msg_id = "LH_CONFIG_RELOADED", path = %path.display(), "configuration reloaded");
    Ok(())
}

/// Replaces the running configuration with `config`, keeping every lease.
///
/// The new engine shares the running one's lease tables (see
/// [`leasehold_engine::Engine::reconfigure`]), so the swap is atomic for clients: a worker
/// that still answers on the old engine changes the same tables.
pub(crate) fn apply(shared: &Shared, config: Config) -> Result<(), ReloadError> {
    let _turn = TURN.lock();
    check(shared, &config)?;
    let (engine, orphans) = shared.engine.load().reconfigure(config);
    if !orphans.is_empty() {
        warn!(
            count = orphans.len(),
            "leases of removed subnets are no longer served"
        );
    }
    shared.engine.store(Arc::new(engine));
    shared.stats.reloaded();
    Ok(())
}
