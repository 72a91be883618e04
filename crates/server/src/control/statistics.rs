//! Statistics under Kea's names, their sample history, the `statistic-*`
//! and `stat-lease4-get` commands, and the Prometheus exposition of the same
//! figures.
//!
//! Packet counters come from [`crate::Stats`]; per-subnet and per-pool
//! address counts from the engine's lease tables at the moment of asking.
//! Kea keeps a list of timestamped samples per statistic (the newest
//! first); here a sample is recorded whenever a statistic is read and its
//! value has changed, so the newest sample is always current.
//! `statistic-reset` records a baseline that is subtracted from then on.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::time::SystemTime;

use serde_json::{Map, Value, json};

use super::time::kea_timestamp;
use super::{Answer, Control};

/// Samples kept per statistic (Kea's `statistic-default-sample-count`).
const MAX_SAMPLES: usize = 20;

/// Every statistic's samples and reset baseline.
#[derive(Default)]
pub(crate) struct History {
    samples: BTreeMap<String, VecDeque<(i64, String)>>,
    baselines: HashMap<String, i64>,
}

impl History {
    /// Records `current` values, adding a sample where a value changed.
    fn record(&mut self, current: &[(String, i64)]) {
        let now = kea_timestamp(SystemTime::now());
        for (name, raw) in current {
            let value = raw - self.baselines.get(name).copied().unwrap_or(0);
            let samples = self.samples.entry(name.clone()).or_default();
            if samples.front().is_some_and(|(latest, _)| *latest == value) {
                continue;
            }
            samples.push_front((value, now.clone()));
            samples.truncate(MAX_SAMPLES);
        }
    }

    fn samples_json(samples: &VecDeque<(i64, String)>) -> Value {
        Value::Array(
            samples
                .iter()
                .map(|(value, at)| json!([value, at]))
                .collect(),
        )
    }
}

/// Every statistic now, with Kea's names, unreset.
pub(crate) fn collect(control: &Control) -> Vec<(String, i64)> {
    let stats = &control.shared.stats;
    let as_i64 = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    let mut all: Vec<(String, i64)> = stats
        .snapshot()
        .into_iter()
        .map(|(name, value)| (name, as_i64(value)))
        .collect();
    let assigned_by_subnet = stats.assigned_by_subnet();
    let cumulative: u64 = assigned_by_subnet.values().sum();
    all.push(("cumulative-assigned-addresses".into(), as_i64(cumulative)));
    let engine = control.shared.engine.load();
    let mut declined = 0;
    for subnet in engine.subnet_statistics() {
        let id = subnet.id;
        declined += subnet.declined;
        let name = |stat: &str| format!("subnet[{id}].{stat}");
        let subnet_cumulative = assigned_by_subnet.get(&id).copied().unwrap_or(0);
        all.push((name("total-addresses"), as_i64(subnet.total)));
        all.push((name("assigned-addresses"), as_i64(subnet.assigned)));
        all.push((name("declined-addresses"), as_i64(subnet.declined)));
        all.push((
            name("cumulative-assigned-addresses"),
            as_i64(subnet_cumulative),
        ));
        for (index, pool) in subnet.pools.iter().enumerate() {
            let name = |stat: &str| format!("subnet[{id}].pool[{index}].{stat}");
            all.push((name("total-addresses"), as_i64(pool.total)));
            all.push((name("assigned-addresses"), as_i64(pool.assigned)));
            all.push((name("declined-addresses"), as_i64(pool.declined)));
        }
    }
    all.push(("declined-addresses".into(), as_i64(declined)));
    all
}

/// `statistic-get-all`.
pub(crate) fn get_all(control: &Control) -> Answer {
    let current = collect(control);
    let mut history = control.history.lock();
    history.record(&current);
    let mut all = Map::new();
    for (name, _) in &current {
        if let Some(samples) = history.samples.get(name) {
            all.insert(name.clone(), History::samples_json(samples));
        }
    }
    Answer::arguments_only(Value::Object(all))
}

/// `statistic-get`: an unknown name answers with an empty map, as in Kea.
pub(crate) fn get(control: &Control, arguments: Option<&Value>) -> Answer {
    let name = match statistic_name(arguments) {
        Ok(name) => name,
        Err(answer) => return answer,
    };
    let current = collect(control);
    let mut history = control.history.lock();
    history.record(&current);
    let mut found = Map::new();
    if let Some(samples) = history.samples.get(name) {
        found.insert(name.to_owned(), History::samples_json(samples));
    }
    Answer::arguments_only(Value::Object(found))
}

/// `statistic-reset`.
pub(crate) fn reset(control: &Control, arguments: Option<&Value>) -> Answer {
    let name = match statistic_name(arguments) {
        Ok(name) => name,
        Err(answer) => return answer,
    };
    let current = collect(control);
    let Some((_, raw)) = current.iter().find(|(known, _)| known == name) else {
        return Answer::error(format!("No '{name}' statistic found"));
    };
    let mut history = control.history.lock();
    history.baselines.insert(name.to_owned(), *raw);
    history.record(&current);
    Answer::success(format!("Statistic '{name}' reset."))
}

/// `statistic-reset-all`.
pub(crate) fn reset_all(control: &Control) -> Answer {
    let current = collect(control);
    let mut history = control.history.lock();
    history.baselines = current.iter().cloned().collect();
    history.record(&current);
    Answer::success("All statistics reset to neutral values.")
}

fn statistic_name(arguments: Option<&Value>) -> Result<&str, Answer> {
    let missing = || Answer::error("Missing mandatory 'name' parameter.");
    let name = arguments.and_then(|a| a.get("name")).ok_or_else(missing)?;
    name.as_str()
        .ok_or_else(|| Answer::error("'name' parameter expected to be a string."))
}

/// `stat-lease4-get`: one row per subnet, optionally one subnet or a range.
pub(crate) fn stat_lease4_get(control: &Control, arguments: Option<&Value>) -> Answer {
    let range = match subnet_range(arguments) {
        Ok(range) => range,
        Err(text) => return Answer::error(text),
    };
    let engine = control.shared.engine.load();
    let cumulative = control.shared.stats.assigned_by_subnet();
    let rows: Vec<Value> = engine
        .subnet_statistics()
        .into_iter()
        .filter(|subnet| range.is_none_or(|(first, last)| (first..=last).contains(&subnet.id)))
        .map(|subnet| {
            let total = cumulative.get(&subnet.id).copied().unwrap_or(0);
            json!([
                subnet.id,
                subnet.total,
                total,
                subnet.assigned,
                subnet.declined
            ])
        })
        .collect();
    let label = match range {
        None => "[all subnets]".to_owned(),
        Some((first, last)) if first == last => format!("[subnet-id={first}]"),
        Some((first, last)) => format!("[subnets {first} through {last}]"),
    };
    if rows.is_empty() {
        let reason = match range {
            Some((first, last)) if first == last => format!("subnet-id: {first} does not exist"),
            Some((first, last)) => {
                format!("selected ID range: {first} through {last} includes no known subnets")
            }
            None => "no subnets configured".to_owned(),
        };
        let text = format!("stat-lease4-get{label}: no matching data, {reason}");
        return Answer::empty(text);
    }
    let text = format!("stat-lease4-get{label}: {} rows found", rows.len());
    let result_set = json!({
        "result-set": {
            "columns": ["subnet-id", "total-addresses", "cumulative-assigned-addresses",
                        "assigned-addresses", "declined-addresses"],
            "rows": rows,
            "timestamp": kea_timestamp(SystemTime::now()),
        }
    });
    Answer::success(text).with_arguments(result_set)
}

/// The subnets `stat-lease4-get` asks for: `subnet-id` or `subnet-range`.
fn subnet_range(arguments: Option<&Value>) -> Result<Option<(u32, u32)>, String> {
    let Some(arguments) = arguments else {
        return Ok(None);
    };
    let positive = |value: Option<&Value>, name: &str, missing: &str| -> Result<u32, String> {
        let value = value.ok_or_else(|| missing.to_owned())?;
        let number = value.as_i64().ok_or_else(|| missing.to_owned())?;
        u32::try_from(number)
            .ok()
            .filter(|&id| id > 0)
            .ok_or_else(|| format!("'{name}' parameter must be > 0"))
    };
    if let Some(id) = arguments.get("subnet-id") {
        if arguments.get("subnet-range").is_some() {
            return Err("cannot specify both subnet-id and subnet-range".into());
        }
        let id = positive(
            Some(id),
            "subnet-id",
            "'subnet-id' parameter is not integer",
        )?;
        return Ok(Some((id, id)));
    }
    let Some(range) = arguments.get("subnet-range") else {
        return Ok(None);
    };
    if !range.is_object() {
        return Err("subnet-range parameter is not a map".into());
    }
    let first = positive(
        range.get("first-subnet-id"),
        "first-subnet-id",
        "'first-subnet-id' parameter missing or not an integer",
    )?;
    let last = positive(
        range.get("last-subnet-id"),
        "last-subnet-id",
        "'last-subnet-id' parameter missing or not an integer",
    )?;
    if last <= first {
        return Err("'last-subnet-id' must be greater than 'first-subnet-id'".into());
    }
    Ok(Some((first, last)))
}

/// A metric family: its type and its samples (labels, value).
type Family = (&'static str, Vec<(String, i64)>);

/// The statistics in Prometheus' text exposition format (version 0.0.4).
///
/// Names follow ISC Stork's Kea exporter where it has one
/// (`kea_dhcp4_packets_received_total{operation="discover"}`,
/// `kea_dhcp4_addresses_assigned_total{subnet_id="1"}`, ...); the rest are
/// `kea_dhcp4_` and the Kea name with `_` for `-`. Reset baselines apply.
pub(crate) fn prometheus(control: &Control) -> String {
    let current = collect(control);
    let baselines = control.history.lock().baselines.clone();
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for (name, raw) in &current {
        let value = raw - baselines.get(name).copied().unwrap_or(0);
        let (family, kind, labels) = metric(name);
        let entry = families.entry(family).or_insert((kind, Vec::new()));
        entry.1.push((labels, value));
    }
    let mut text = String::new();
    for (family, (kind, samples)) in families {
        let _ = writeln!(text, "# HELP {family} Kea statistic, see the README");
        let _ = writeln!(text, "# TYPE {family} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(text, "{family}{labels} {value}");
        }
    }
    text
}

/// The metric family, type and labels of a Kea statistic name.
fn metric(name: &str) -> (String, &'static str, String) {
    if let Some(rest) = name.strip_prefix("subnet[") {
        let (id, stat) = rest.split_once("].").unwrap_or((rest, ""));
        if let Some(pool_rest) = stat.strip_prefix("pool[") {
            let (pool, stat) = pool_rest.split_once("].").unwrap_or((pool_rest, ""));
            let labels = format!("{{subnet_id=\"{id}\",pool=\"{pool}\"}}");
            return (
                format!("kea_dhcp4_pool_{}", address_metric(stat)),
                "gauge",
                labels,
            );
        }
        let labels = format!("{{subnet_id=\"{id}\"}}");
        let kind = if stat.starts_with("cumulative") {
            "counter"
        } else {
            "gauge"
        };
        return (format!("kea_dhcp4_{}", address_metric(stat)), kind, labels);
    }
    if let Some(packet) = name.strip_prefix("pkt4-") {
        let (family, operation) = match packet {
            "received" => ("received", "all"),
            "sent" => ("sent", "all"),
            "parse-failed" => ("received", "parse-failed"),
            "receive-drop" => ("received", "drop"),
            other => match other.rsplit_once('-') {
                Some((operation, direction)) => (direction, operation),
                None => ("received", other),
            },
        };
        let labels = format!("{{operation=\"{operation}\"}}");
        return (
            format!("kea_dhcp4_packets_{family}_total"),
            "counter",
            labels,
        );
    }
    let kind = if name == "declined-addresses" {
        "gauge"
    } else {
        "counter"
    };
    let family = format!("kea_dhcp4_global_{}_total", name.replace('-', "_"));
    (family, kind, String::new())
}

/// Stork's names for the address statistics of subnets and pools.
fn address_metric(stat: &str) -> String {
    match stat {
        "total-addresses" => "addresses_total".into(),
        "assigned-addresses" => "addresses_assigned_total".into(),
        "declined-addresses" => "addresses_declined_total".into(),
        "cumulative-assigned-addresses" => "cumulative_addresses_assigned_total".into(),
        other => other.replace('-', "_"),
    }
}

#[cfg(test)]
mod tests {
    use super::metric;

    #[test]
    fn metric_names() {
        let packet = metric("pkt4-ack-sent");
        assert_eq!(packet.0, "kea_dhcp4_packets_sent_total");
        assert_eq!(packet.2, "{operation=\"ack\"}");
        let subnet = metric("subnet[2].assigned-addresses");
        assert_eq!(subnet.0, "kea_dhcp4_addresses_assigned_total");
        assert_eq!(subnet.2, "{subnet_id=\"2\"}");
        let pool = metric("subnet[2].pool[0].total-addresses");
        assert_eq!(pool.0, "kea_dhcp4_pool_addresses_total");
        assert_eq!(pool.2, "{subnet_id=\"2\",pool=\"0\"}");
        assert_eq!(metric("pkt4-received").2, "{operation=\"all\"}");
        assert_eq!(
            metric("reclaimed-leases").0,
            "kea_dhcp4_global_reclaimed_leases_total"
        );
    }
}
