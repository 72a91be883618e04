//! The `lease4-*` commands of Kea's lease_cmds hook, with its argument
//! checks and texts (`lease_cmds.cc`, `lease_parser.cc`).
//!
//! A change is made in the engine's lease table and then handed to the
//! committer, and the command answers only once the change is durable,
//! the same path a DHCP ACK takes.

use std::net::Ipv4Addr;
use std::str::FromStr;
use std::time::Duration;

use leasehold_engine::Engine;
use leasehold_leases::{ClientId, HwAddr, Lease, LeaseChange, LeaseState};
use serde_json::{Value, json};

use super::reload::TURN;
use super::{Answer, Control};
use crate::committer::Job;

/// How long a lease command waits for its change to be durable.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs a `lease4-*` command.
pub(crate) fn dispatch(control: &Control, command: &str, arguments: Option<&Value>) -> Answer {
    let result = match command {
        "lease4-add" => add(control, arguments),
        "lease4-update" => update(control, arguments),
        "lease4-get" => get(control, arguments),
        "lease4-get-all" => get_all(control, arguments),
        "lease4-get-page" => get_page(control, arguments),
        "lease4-get-by-hw-address" => get_by(control, arguments, "hw-address"),
        "lease4-get-by-client-id" => get_by(control, arguments, "client-id"),
        "lease4-get-by-hostname" => get_by(control, arguments, "hostname"),
        "lease4-del" => delete(control, arguments),
        "lease4-wipe" => wipe(control, arguments),
        other => return Answer::unsupported(other),
    };
    result.unwrap_or_else(Answer::error)
}

/// Hands `changes` to the committer and waits until they are durable.
pub(crate) fn persist(control: &Control, changes: Vec<LeaseChange>) -> Result<(), String> {
    if changes.is_empty() {
        return Ok(());
    }
    let (done, outcome) = crossbeam_channel::bounded(1);
    let job = Job::Durable { changes, done };
    control
        .jobs
        .send(job)
        .map_err(|_| "the server is stopping".to_owned())?;
    match outcome.recv_timeout(COMMIT_TIMEOUT) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(format!("cannot persist the lease change: {error}")),
        Err(_) => Err("the lease store did not confirm the change in time".into()),
    }
}

/// Kea's JSON form of a lease (`Lease4::toElement`).
pub(crate) fn lease_json(lease: &Lease) -> Value {
    let mut json = json!({
        "ip-address": lease.address.to_string(),
        "hw-address": lease.hwaddr.map(|hw| hw.to_string()).unwrap_or_default(),
        "valid-lft": lease.valid_lifetime,
        "cltt": lease.cltt(),
        "subnet-id": lease.subnet_id,
        "fqdn-fwd": lease.fqdn_fwd,
        "fqdn-rev": lease.fqdn_rev,
        "hostname": lease.hostname,
        "state": lease.state.code(),
    });
    if let Some(client_id) = &lease.client_id {
        json["client-id"] = json!(client_id.to_string());
    }
    if let Some(context) = &lease.user_context
        && let Ok(context) = serde_json::from_str::<Value>(context)
    {
        json["user-context"] = context;
    }
    json
}

fn arguments_map<'a>(arguments: Option<&'a Value>, missing: &str) -> Result<&'a Value, String> {
    arguments
        .filter(|arguments| arguments.is_object())
        .ok_or_else(|| missing.to_owned())
}

fn string<'a>(arguments: &'a Value, name: &str) -> Result<&'a str, String> {
    let value = arguments
        .get(name)
        .ok_or_else(|| format!("missing parameter '{name}'"))?;
    value
        .as_str()
        .ok_or_else(|| format!("invalid type specified for parameter '{name}'"))
}

fn integer(arguments: &Value, name: &str) -> Result<Option<i64>, String> {
    match arguments.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("invalid type specified for parameter '{name}'")),
    }
}

fn u32_parameter(arguments: &Value, name: &str) -> Result<Option<u32>, String> {
    let Some(value) = integer(arguments, name)? else {
        return Ok(None);
    };
    u32::try_from(value).map(Some).map_err(|_| {
        format!("The '{name}' value ({value}) is not within expected range: (0 - 4294967295)")
    })
}

fn boolean(arguments: &Value, name: &str) -> Result<Option<bool>, String> {
    match arguments.get(name) {
        None => Ok(None),
        Some(Value::Bool(value)) => Ok(Some(*value)),
        Some(_) => Err(format!("invalid type specified for parameter '{name}'")),
    }
}

fn hardware_address(text: &str) -> Result<HwAddr, String> {
    HwAddr::from_str(text).map_err(|_| format!("invalid hardware address '{text}'"))
}

fn client_identifier(text: &str) -> Result<ClientId, String> {
    ClientId::from_str(text).map_err(|_| format!("invalid client identifier '{text}'"))
}

fn address(arguments: &Value) -> Result<Ipv4Addr, String> {
    let text = string(arguments, "ip-address")?;
    let address: std::net::IpAddr = text
        .parse()
        .map_err(|_| format!("Failed to convert '{text}' to address: Failed to convert string to address '{text}': Invalid argument"))?;
    match address {
        std::net::IpAddr::V4(address) => Ok(address),
        std::net::IpAddr::V6(_) => Err(format!("Non-IPv4 address specified: {text}")),
    }
}

/// Kea's `Lease4Parser`: a lease from `lease4-add` or `lease4-update`
/// arguments, and its `force-create` flag.
fn parse_lease(engine: &Engine, arguments: &Value) -> Result<(Lease, bool), String> {
    let address = address(arguments)?;
    let hwaddr_text = string(arguments, "hw-address")?;
    let hwaddr = hardware_address(hwaddr_text)?;
    let subnet = engine
        .lease_subnet(address, u32_parameter(arguments, "subnet-id")?)
        .map_err(|error| error.to_string())?;
    let client_id = match arguments.get("client-id") {
        None => None,
        Some(_) => {
            let text = string(arguments, "client-id")?;
            Some(client_identifier(text)?)
        }
    };
    let valid_lifetime = u32_parameter(arguments, "valid-lft")?.unwrap_or(subnet.valid_lifetime);
    let expire = match integer(arguments, "expire")? {
        None => crate::now() + u64::from(valid_lifetime),
        Some(expire) if expire <= 0 => {
            return Err(format!(
                "expiration time must be positive for address {address}"
            ));
        }
        Some(expire) if expire < i64::from(valid_lifetime) => {
            return Err(format!(
                "expiration time must be greater than valid lifetime for address {address}"
            ));
        }
        Some(expire) => expire.unsigned_abs(),
    };
    let fqdn_fwd = boolean(arguments, "fqdn-fwd")?.unwrap_or(false);
    let fqdn_rev = boolean(arguments, "fqdn-rev")?.unwrap_or(false);
    let hostname = match arguments.get("hostname") {
        None => String::new(),
        Some(_) => string(arguments, "hostname")?.to_owned(),
    };
    if hostname.is_empty() && (fqdn_fwd || fqdn_rev) {
        return Err(
            "No hostname specified and either forward or reverse fqdn was set to true.".into(),
        );
    }
    let state = match integer(arguments, "state")? {
        None => LeaseState::Assigned,
        Some(code) => u8::try_from(code)
            .ok()
            .and_then(LeaseState::from_code)
            .ok_or_else(|| {
                format!(
                    "Invalid state value: {code}, supported values are: 0 (default), \
                     1 (declined) and 2 (expired-reclaimed)"
                )
            })?,
    };
    let user_context = match arguments.get("user-context") {
        None => None,
        Some(context) if context.is_object() => Some(context.to_string()),
        Some(context) => {
            return Err(format!(
                "Invalid user context '{context}' is not a JSON map."
            ));
        }
    };
    let force_create = boolean(arguments, "force-create")?.unwrap_or(false);
    let lease = Lease {
        address,
        hwaddr: Some(hwaddr),
        client_id,
        valid_lifetime,
        expire,
        subnet_id: subnet.id,
        fqdn_fwd,
        fqdn_rev,
        hostname,
        state,
        user_context,
    };
    Ok((lease, force_create))
}

fn add(control: &Control, arguments: Option<&Value>) -> Result<Answer, String> {
    let arguments = arguments_map(arguments, "no parameters specified for the command")?;
    let _turn = TURN.lock();
    let engine = control.shared.engine.load();
    let (lease, _) = parse_lease(&engine, arguments)?;
    let change = engine.add_lease(lease.clone()).map_err(|e| e.to_string())?;
    control.shared.stats.assigned(std::slice::from_ref(&change));
    persist(control, vec![change])?;
    let text = format!(
        "Lease for address {}, subnet-id {} added.",
        lease.address, lease.subnet_id
    );
    Ok(Answer::success(text))
}

fn update(control: &Control, arguments: Option<&Value>) -> Result<Answer, String> {
    let arguments = arguments_map(
        arguments,
        "no parameters specified for lease4-update command",
    )?;
    let _turn = TURN.lock();
    let engine = control.shared.engine.load();
    let (lease, force_create) = parse_lease(&engine, arguments)?;
    let (added, change) = engine
        .update_lease(lease, force_create)
        .map_err(|error| error.to_string())?;
    persist(control, vec![change])?;
    Ok(Answer::success(if added {
        "IPv4 lease added."
    } else {
        "IPv4 lease updated."
    }))
}

/// What `lease4-get` and `lease4-del` look a lease up by.
enum Key {
    Address(Ipv4Addr),
    HwAddr(u32, HwAddr),
    ClientId(u32, ClientId),
}

/// Kea's `getParameters`: an address, or a subnet and an identifier.
fn key(arguments: Option<&Value>) -> Result<Key, String> {
    let arguments = arguments_map(arguments, "Parameters missing or are not a map.")?;
    if let Some(kind) = arguments.get("type").and_then(Value::as_str)
        && !matches!(kind, "V4" | "3")
    {
        return Err(format!(
            "Invalid lease type specified: {kind}, only supported values are: IA_NA, IA_TA, \
             IA_PD and V4"
        ));
    }
    if let Some(address) = arguments.get("ip-address") {
        let Some(text) = address.as_str() else {
            return Err("'ip-address' is not a string.".into());
        };
        return match text.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(address)) => Ok(Key::Address(address)),
            _ => Err(format!("Invalid IPv4 address specified: {text}")),
        };
    }
    let Some(subnet_id) = arguments.get("subnet-id") else {
        return Err("Mandatory 'subnet-id' parameter missing.".into());
    };
    let Some(subnet_id) = subnet_id.as_u64().and_then(|id| u32::try_from(id).ok()) else {
        return Err("'subnet-id' parameter is not integer.".into());
    };
    let Some(kind) = arguments.get("identifier-type").and_then(Value::as_str) else {
        return Err(
            "No 'ip-address' provided and 'identifier-type' is either missing or not a string."
                .into(),
        );
    };
    let Some(identifier) = arguments.get("identifier").and_then(Value::as_str) else {
        return Err(
            "No 'ip-address' provided and 'identifier' is either missing or not a string.".into(),
        );
    };
    match kind {
        "hw-address" => {
            let hwaddr = hardware_address(identifier)?;
            Ok(Key::HwAddr(subnet_id, hwaddr))
        }
        "client-id" => {
            let client_id = client_identifier(identifier)?;
            Ok(Key::ClientId(subnet_id, client_id))
        }
        "duid" => Err("Query by duid is not allowed in v4.".into()),
        "circuit-id" | "flex-id" => Err(format!("Identifier type {kind} is not supported.")),
        other => Err(format!(
            "Incorrect identifier type: {other}, the only supported values are: \
             address, hw-address, duid"
        )),
    }
}

fn find(engine: &Engine, key: &Key) -> Option<Lease> {
    match key {
        Key::Address(address) => engine.lease(*address),
        Key::HwAddr(subnet_id, hwaddr) => engine.lease_by_hwaddr(*subnet_id, hwaddr),
        Key::ClientId(subnet_id, client_id) => engine.lease_by_client_id(*subnet_id, client_id),
    }
}

fn get(control: &Control, arguments: Option<&Value>) -> Result<Answer, String> {
    let key = key(arguments)?;
    let engine = control.shared.engine.load();
    Ok(match find(&engine, &key) {
        Some(lease) => Answer::success("IPv4 lease found.").with_arguments(lease_json(&lease)),
        None => Answer::empty("Lease not found."),
    })
}

/// The answer of the commands that return a list of leases.
fn lease_list(leases: &[Lease], count: bool) -> Answer {
    let text = format!("{} IPv4 lease(s) found.", leases.len());
    let json: Vec<Value> = leases.iter().map(lease_json).collect();
    let mut arguments = json!({ "leases": json });
    if count {
        arguments["count"] = json!(leases.len());
    }
    let answer = if leases.is_empty() {
        Answer::empty(text)
    } else {
        Answer::success(text)
    };
    answer.with_arguments(arguments)
}

fn get_all(control: &Control, arguments: Option<&Value>) -> Result<Answer, String> {
    let mut subnets: Option<Vec<u32>> = None;
    if let Some(arguments) = arguments {
        let list = arguments
            .get("subnets")
            .ok_or("'subnets' parameter not specified")?;
        let list = list
            .as_array()
            .ok_or("'subnets' parameter must be a list")?;
        let ids = list
            .iter()
            .map(|id| id.as_u64().and_then(|id| u32::try_from(id).ok()))
            .collect::<Option<Vec<u32>>>()
            .ok_or("listed subnet identifiers must be numbers")?;
        subnets = Some(ids);
    }
    let engine = control.shared.engine.load();
    let leases = engine.leases_where(subnets.as_deref(), |_| true);
    Ok(lease_list(&leases, false))
}

fn get_page(control: &Control, arguments: Option<&Value>) -> Result<Answer, String> {
    let arguments = arguments
        .ok_or_else(|| "no parameters specified for the lease4-get-page command".to_owned())?;
    let from = arguments
        .get("from")
        .ok_or("'from' parameter not specified")?;
    let from = from.as_str().ok_or("'from' parameter must be a string")?;
    let start = if from == "start" {
        None
    } else {
        match from.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(address)) => Some(address),
            Ok(std::net::IpAddr::V6(_)) => {
                return Err(format!(
                    "'from' parameter value {from} is not an IPv4 address"
                ));
            }
            Err(_) => {
                return Err(
                    "'from' parameter value is neither 'start' keyword nor a valid IPv4 \
                            address"
                        .into(),
                );
            }
        }
    };
    let limit = arguments
        .get("limit")
        .ok_or("'limit' parameter not specified")?;
    let limit = limit.as_i64().ok_or("'limit' parameter must be a number")?;
    let limit = usize::try_from(limit)
        .ok()
        .filter(|&limit| limit > 0)
        .ok_or("page size of the retrieved leases must not be 0")?;
    let engine = control.shared.engine.load();
    let mut leases = engine.leases_where(None, |lease| start.is_none_or(|s| lease.address > s));
    leases.truncate(limit);
    Ok(lease_list(&leases, true))
}

fn get_by(control: &Control, arguments: Option<&Value>, name: &str) -> Result<Answer, String> {
    let arguments = arguments_map(arguments, "Command arguments missing or a not a map.")?;
    let value = arguments
        .get(name)
        .ok_or_else(|| format!("'{name}' parameter not specified"))?;
    let value = value
        .as_str()
        .ok_or_else(|| format!("'{name}' parameter must be a string"))?;
    let engine = control.shared.engine.load();
    let leases = match name {
        "hw-address" => {
            let hwaddr = hardware_address(value)?;
            engine.leases_where(None, |lease| lease.hwaddr == Some(hwaddr))
        }
        "client-id" => {
            let client_id = client_identifier(value)?;
            engine.leases_where(None, |lease| lease.client_id.as_ref() == Some(&client_id))
        }
        _ => {
            if value.is_empty() {
                return Err("'hostname' parameter is empty".into());
            }
            engine.leases_where(None, |lease| lease.hostname.eq_ignore_ascii_case(value))
        }
    };
    Ok(lease_list(&leases, false))
}

fn delete(control: &Control, arguments: Option<&Value>) -> Result<Answer, String> {
    let key = key(arguments)?;
    let _turn = TURN.lock();
    let engine = control.shared.engine.load();
    let Some(lease) = find(&engine, &key) else {
        return Ok(Answer::empty("IPv4 lease not found."));
    };
    let Some(change) = engine.delete_lease(lease.address) else {
        return Ok(Answer::empty("IPv4 lease not found."));
    };
    persist(control, vec![change])?;
    Ok(Answer::success("IPv4 lease deleted."))
}

fn wipe(control: &Control, arguments: Option<&Value>) -> Result<Answer, String> {
    let subnet_id = match arguments {
        Some(arguments) => u32_parameter(arguments, "subnet-id")?.filter(|&id| id != 0),
        None => None,
    };
    let _turn = TURN.lock();
    let engine = control.shared.engine.load();
    let ids: Vec<u32> = engine
        .config()
        .subnets
        .iter()
        .map(|subnet| subnet.id)
        .filter(|id| subnet_id.is_none_or(|wanted| wanted == *id))
        .collect();
    let ids = match subnet_id {
        Some(id) => vec![id],
        None => ids,
    };
    let changes = engine.wipe_leases(subnet_id);
    let count = changes.len();
    persist(control, changes)?;
    let listed: String = ids.iter().map(|id| format!(" {id}")).collect();
    let text = format!("Deleted {count} IPv4 lease(s) from subnet(s){listed}");
    Ok(if count == 0 {
        Answer::empty(text)
    } else {
        Answer::success(text)
    })
}
