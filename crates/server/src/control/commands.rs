//! The command table and the server commands (`config-*`, `status-get`,
//! `version-get`, `list-commands`, `leases-reclaim`, `dhcp-disable`,
//! `dhcp-enable`, `shutdown`), with
//! Kea's argument checks and texts (`ctrl_dhcp4_srv.cc`).

use std::path::PathBuf;

use leasehold_config::Config;
use leasehold_leases::LeaseChange;
use serde_json::{Value, json};
use tracing::{info, warn};

use super::reload::{self, ReloadError};
use super::{Answer, Control, leases, statistics};
use crate::service::Origin;

/// Every command served, for `list-commands`.
pub(crate) const COMMANDS: [&str; 28] = [
    "build-report",
    "config-get",
    "config-reload",
    "config-set",
    "config-test",
    "config-write",
    "dhcp-disable",
    "dhcp-enable",
    "lease4-add",
    "lease4-del",
    "lease4-get",
    "lease4-get-all",
    "lease4-get-by-client-id",
    "lease4-get-by-hostname",
    "lease4-get-by-hw-address",
    "lease4-get-page",
    "lease4-update",
    "lease4-wipe",
    "leases-reclaim",
    "list-commands",
    "shutdown",
    "stat-lease4-get",
    "statistic-get",
    "statistic-get-all",
    "statistic-reset",
    "statistic-reset-all",
    "status-get",
    "version-get",
];

/// Runs `command`.
pub(crate) fn dispatch(control: &Control, command: &str, arguments: Option<&Value>) -> Answer {
    match command {
        "list-commands" => list_commands(),
        "version-get" => version_get(),
        "build-report" => Answer::success(format!("leasehold {}", env!("CARGO_PKG_VERSION"))),
        "status-get" => status_get(control),
        "config-get" => config_get(control),
        "config-test" => config_test(arguments),
        "config-set" => config_set(control, arguments),
        "config-reload" => config_reload(control),
        "config-write" => config_write(control, arguments),
        "leases-reclaim" => leases_reclaim(control, arguments),
        "dhcp-disable" => dhcp_disable(control, arguments),
        "dhcp-enable" => dhcp_enable(control, arguments),
        "shutdown" => shutdown(arguments),
        "statistic-get" => statistics::get(control, arguments),
        "statistic-get-all" => statistics::get_all(control),
        "statistic-reset" => statistics::reset(control, arguments),
        "statistic-reset-all" => statistics::reset_all(control),
        "stat-lease4-get" => statistics::stat_lease4_get(control, arguments),
        "config-backend-pull" => Answer::empty("No config backend."),
        other if other.starts_with("lease4-") => leases::dispatch(control, other, arguments),
        other => Answer::unsupported(other),
    }
}

fn list_commands() -> Answer {
    Answer::arguments_only(json!(COMMANDS))
}

fn version_get() -> Answer {
    let version = env!("CARGO_PKG_VERSION");
    let extended = format!("leasehold {version} (serves Kea 2.2's dhcp4 control API)");
    Answer::success(version).with_arguments(json!({ "extended": extended }))
}

fn status_get(control: &Control) -> Answer {
    let (uptime, since_reload) = control.shared.stats.uptime();
    let engine = control.shared.engine.load();
    let threading = engine.config().multi_threading;
    let mut status = json!({
        "pid": std::process::id(),
        "uptime": uptime,
        "reload": since_reload,
        "multi-threading-enabled": threading.enabled,
        "sockets": { "status": "ready" },
    });
    if threading.enabled {
        status["thread-pool-size"] = json!(threading.thread_pool_size);
        status["packet-queue-size"] = json!(threading.packet_queue_size);
        status["packet-queue-statistics"] = json!([0.0, 0.0, 0.0]);
    }
    Answer::arguments_only(status)
}

fn config_get(control: &Control) -> Answer {
    let engine = control.shared.engine.load();
    Answer::arguments_only(engine.config().raw.clone())
}

/// The `Dhcp4` map of `config-set` and `config-test`, checked as Kea
/// checks it, parsed into a configuration.
fn config_argument(arguments: Option<&Value>) -> Result<Config, Answer> {
    let Some(arguments) = arguments.and_then(Value::as_object) else {
        return Err(Answer::error("Missing mandatory 'arguments' parameter."));
    };
    let Some(dhcp4) = arguments.get("Dhcp4") else {
        return Err(Answer::error("Missing mandatory 'Dhcp4' parameter."));
    };
    if !dhcp4.is_object() {
        return Err(Answer::error("'Dhcp4' parameter expected to be a map."));
    }
    let others: Vec<&String> = arguments.keys().filter(|key| *key != "Dhcp4").collect();
    if let Some((first, rest)) = others.split_first() {
        let mut text = format!("Unsupported '{first}' parameter");
        for other in rest {
            text.push_str(&format!(" (and '{other}')"));
        }
        text.push('.');
        return Err(Answer::error(text));
    }
    let document = json!({ "Dhcp4": dhcp4 });
    let text = serde_json::to_string_pretty(&document).unwrap_or_default();
    Config::parse(&text, "<command>").map_err(|error| Answer::error(error.to_string()))
}

fn config_test(arguments: Option<&Value>) -> Answer {
    match config_argument(arguments) {
        Ok(_) => Answer::success(
            "Configuration seems sane. Control-socket, hook-libraries, and D2 configuration \
             were sanity checked, but not applied.",
        ),
        Err(answer) => answer,
    }
}

fn config_set(control: &Control, arguments: Option<&Value>) -> Answer {
    let mut config = match config_argument(arguments) {
        Ok(config) => config,
        Err(answer) => return answer,
    };
    if let Err(error) = crate::database::add_host_reservations(&mut config) {
        return Answer::error(format!("cannot read host reservations: {error}"));
    }
    match reload::apply(&control.shared, config) {
        Ok(()) => {
            info!("configuration set through the control API");
            Answer::success("Configuration successful.")
        }
        Err(error) => {
            warn!(msg_id = "LH_CONFIG_REFUSED", %error, "configuration refused; the running one keeps serving");
            Answer::error(error.to_string())
        }
    }
}

fn config_reload(control: &Control) -> Answer {
    match reload::reload_file(&control.shared) {
        Ok(()) => Answer::success("Configuration successful."),
        Err(error) => {
            warn!(msg_id = "LH_CONFIG_REFUSED", %error, "configuration refused; the running one keeps serving");
            let error = match error {
                ReloadError::Config(error) => {
                    let path = control.shared.config_path.as_ref();
                    let file = path.map(|p| p.display().to_string()).unwrap_or_default();
                    format!("configuration error using file '{file}': {error}")
                }
                other => other.to_string(),
            };
            Answer::error(format!("Config reload failed: {error}"))
        }
    }
}

fn config_write(control: &Control, arguments: Option<&Value>) -> Answer {
    let mut filename: Option<PathBuf> = None;
    if let Some(arguments) = arguments {
        if !arguments.is_object() {
            return Answer::error("Argument must be a map");
        }
        if let Some(name) = arguments.get("filename") {
            let Some(name) = name.as_str() else {
                return Answer::error("passed parameter 'filename' is not a string");
            };
            filename = Some(PathBuf::from(name));
        }
    }
    let Some(filename) = filename.or_else(|| control.shared.config_path.clone()) else {
        return Answer::error("Unable to determine filename.Please specify filename explicitly.");
    };
    let engine = control.shared.engine.load();
    let text = match serde_json::to_string_pretty(&engine.config().raw) {
        Ok(text) => text + "\n",
        Err(error) => return Answer::error(format!("Error during write-config:{error}")),
    };
    let name = filename.display().to_string();
    if let Err(error) = std::fs::write(&filename, &text) {
        return Answer::error(format!("Error writing configuration to {name}: {error}"));
    }
    let arguments = json!({ "filename": name, "size": text.len() });
    Answer::success(format!("Configuration written to {name} successful")).with_arguments(arguments)
}

fn leases_reclaim(control: &Control, arguments: Option<&Value>) -> Answer {
    let remove = match arguments.and_then(|a| a.get("remove")) {
        None => return Answer::error("Missing mandatory 'remove' parameter."),
        Some(Value::Bool(remove)) => *remove,
        Some(_) => return Answer::error("'remove' parameter expected to be a boolean."),
    };
    let _turn = reload::TURN.lock();
    let engine = control.shared.engine.load();
    let mut changes = engine.reclaim_expired(crate::now(), usize::MAX);
    control.shared.stats.reclaimed(changes.len());
    control.shared.stats.reclaimed_changes(&changes);
    if remove {
        changes = changes
            .iter()
            .filter_map(|change| engine.delete_lease(change.lease().address))
            .collect::<Vec<LeaseChange>>();
    }
    if let Err(error) = leases::persist(control, changes) {
        return Answer::error(error);
    }
    Answer::success("Reclamation of expired leases is complete.")
}

/// `origin` of `dhcp-disable` and `dhcp-enable` (default `user`): the
/// service runs while no origin holds it off.
fn origin(arguments: Option<&Value>, command: &str) -> Result<Origin, Answer> {
    let Some(arguments) = arguments else {
        return Ok(Origin::User);
    };
    if !arguments.is_object() {
        return Err(Answer::error(format!(
            "arguments for the '{command}' command must be a map"
        )));
    }
    match arguments.get("origin") {
        None => Ok(Origin::User),
        Some(Value::String(name)) => Origin::named(name).ok_or_else(|| {
            Answer::error(format!("invalid value used for 'origin' parameter: {name}"))
        }),
        Some(_) => Err(Answer::error("'origin' argument must be a string")),
    }
}

fn dhcp_disable(control: &Control, arguments: Option<&Value>) -> Answer {
    let origin = match origin(arguments, "dhcp-disable") {
        Ok(origin) => origin,
        Err(answer) => return answer,
    };
    let period = match arguments.and_then(|a| a.get("max-period")) {
        None => None,
        Some(value) => match value.as_i64() {
            None => return Answer::error("'max-period' argument must be a number"),
            Some(seconds) if seconds <= 0 => {
                return Answer::error("'max-period' must be positive integer");
            }
            Some(seconds) => Some(seconds.unsigned_abs()),
        },
    };
    control
        .shared
        .service
        .disable(origin, period.map(std::time::Duration::from_secs));
    info!(
        msg_id = "LH_SERVICE_DISABLED",
        ?origin,
        max_period = period,
        "DHCP service disabled"
    );
    match period {
        Some(seconds) => Answer::success(format!("DHCPv4 service disabled for {seconds} seconds")),
        None => Answer::success("DHCPv4 service disabled"),
    }
}

fn dhcp_enable(control: &Control, arguments: Option<&Value>) -> Answer {
    let origin = match origin(arguments, "dhcp-enable") {
        Ok(origin) => origin,
        Err(answer) => return answer,
    };
    control.shared.service.enable(origin);
    info!(
        msg_id = "LH_SERVICE_ENABLED",
        ?origin,
        "DHCP service enabled"
    );
    Answer::success("DHCP service successfully enabled")
}

fn shutdown(arguments: Option<&Value>) -> Answer {
    if let Some(arguments) = arguments {
        if !arguments.is_object() {
            return Answer::error("Argument must be a map");
        }
        if let Some(value) = arguments.get("exit-value")
            && !value.is_i64()
        {
            return Answer::error("parameter 'exit-value' is not an integer");
        }
    }
    info!("shutdown requested through the control API");
    // Answer first; the signal thread then stops the server as on SIGTERM.
    std::thread::spawn(|| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let _ = signal_hook::low_level::raise(signal_hook::consts::SIGTERM);
    });
    Answer::success("Shutting down.")
}
