//! The SQL lease and host databases: from configuration to a store, and
//! host rows into the subnets' reservations.

use std::time::Duration;

use leasehold_config::{Config, HostIdentifier, Reservation, SqlBackend, SqlDatabase};
use leasehold_leases::StoreError;
use leasehold_leases::sql::{self, Backend, IdentifierType, Params};
use tracing::{info, warn};

/// The connection parameters of a configured database, as the server and
/// the `db` command use them.
pub fn params(database: &SqlDatabase) -> Params {
    let backend = match database.backend {
        SqlBackend::Postgresql => Backend::Postgresql,
        SqlBackend::Mysql => Backend::Mysql,
    };
    let mut params = Params::new(backend, database.name.clone());
    params.host = database.host.clone();
    params.port = database.port;
    params.user = database.user.clone();
    params.password = database.password.clone();
    params.connect_timeout = Duration::from_secs(database.connect_timeout.max(1).into());
    params.max_reconnect_tries = database.max_reconnect_tries;
    // Kea's default of 0 would retry on every commit; a second apart is
    // as soon as an operator restarting the database needs.
    params.reconnect_wait_time = match database.reconnect_wait_time {
        0 => Duration::from_secs(1),
        wait => Duration::from_millis(wait.into()),
    };
    params.retry_on_startup = database.retry_on_startup;
    params
}

/// Adds the reservations of `hosts-database`, if configured, to the
/// configuration's subnets. Hosts of subnets the configuration does not
/// have are skipped, as are identifier kinds leasehold does not match on.
pub(crate) fn add_host_reservations(config: &mut Config) -> Result<(), StoreError> {
    let Some(database) = &config.hosts_database else {
        return Ok(());
    };
    let params = params(database);
    let hosts = sql::load_hosts(&params)?;
    let (mut added, mut skipped) = (0usize, 0usize);
    for host in hosts {
        let identifier = match host.identifier_type {
            IdentifierType::HwAddress => HostIdentifier::HwAddress(host.identifier),
            IdentifierType::ClientId => HostIdentifier::ClientId(host.identifier),
            IdentifierType::CircuitId => HostIdentifier::CircuitId(host.identifier),
            IdentifierType::Duid => HostIdentifier::Duid(host.identifier),
            IdentifierType::FlexId => {
                skipped += 1;
                continue;
            }
        };
        let Some(subnet) = config.subnets.iter_mut().find(|s| s.id == host.subnet_id) else {
            skipped += 1;
            continue;
        };
        if subnet
            .reservations
            .iter()
            .any(|r| r.identifier == identifier)
        {
            skipped += 1;
            continue;
        }
        subnet.reservations.push(Reservation {
            identifier,
            address: host.address,
            hostname: host.hostname,
            options: Vec::new(),
            next_server: None,
            server_hostname: None,
            boot_file_name: None,
            client_classes: Vec::new(),
        });
        added += 1;
    }
    info!(database = %params, added, skipped, "host reservations loaded");
    if skipped > 0 {
        warn!(
            skipped,
            "host rows of unknown subnets, flex-id, or duplicating a configured reservation \
             were skipped"
        );
    }
    Ok(())
}
