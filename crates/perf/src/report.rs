//! Counters and latencies of a perf run, and the report made from them (text or JSON).
//!
//! Stages follow perfdhcp: DISCOVER-OFFER and REQUEST-ACK of a four-way exchange, plus the
//! renewals and releases of the traffic mix. A request whose reply does not arrive within the
//! drop timeout is a drop of its stage; a reply that arrives later is counted as late (perfdhcp
//! calls these orphans) and not matched.

use std::net::Ipv4Addr;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// Latencies above this are recorded as this (one minute, in microseconds).
const MAX_LATENCY_US: u64 = 60_000_000;

/// One kind of request and the reply it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// DISCOVER, answered by OFFER.
    DiscoverOffer,
    /// REQUEST in the SELECTING state, answered by ACK (or NAK).
    RequestAck,
    /// REQUEST in the RENEWING state (ciaddr set), answered by ACK (or NAK).
    Renew,
    /// RELEASE, which has no reply.
    Release,
}

impl Stage {
    /// Every stage, in report order.
    pub const ALL: [Self; 4] = [
        Self::DiscoverOffer,
        Self::RequestAck,
        Self::Renew,
        Self::Release,
    ];

    /// The stage's name in reports, as perfdhcp spells the first two.
    pub fn name(self) -> &'static str {
        match self {
            Self::DiscoverOffer => "DISCOVER-OFFER",
            Self::RequestAck => "REQUEST-ACK",
            Self::Renew => "RENEW-ACK",
            Self::Release => "RELEASE",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Counters and latencies of one stage.
#[derive(Debug, Clone)]
pub struct StageStats {
    /// Requests sent.
    pub sent: u64,
    /// Replies matched to a request in time (ACKs and NAKs for the REQUEST stages).
    pub received: u64,
    /// NAKs among `received`.
    pub naks: u64,
    /// Requests that got no reply within the drop timeout.
    pub drops: u64,
    /// Request-to-reply times, microseconds.
    pub latency: Histogram<u64>,
}

impl Default for StageStats {
    fn default() -> Self {
        Self {
            sent: 0,
            received: 0,
            naks: 0,
            drops: 0,
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("constant histogram bounds are valid"),
        }
    }
}

impl StageStats {
    /// Records a reply that took `latency`.
    pub fn record_reply(&mut self, latency: Duration) {
        self.received += 1;
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency.saturating_record(micros.max(1));
    }

    /// Drops as a percentage of the requests that were answered or dropped.
    pub fn drop_percent(&self) -> f64 {
        let settled = self.received + self.drops;
        match settled {
            0 => 0.0,
            _ => self.drops as f64 * 100.0 / settled as f64,
        }
    }

    /// Latency at `quantile` (0.0 to 1.0), or `None` without replies.
    pub fn latency_at(&self, quantile: f64) -> Option<Duration> {
        (!self.latency.is_empty())
            .then(|| Duration::from_micros(self.latency.value_at_quantile(quantile)))
    }
}

/// Two clients that were both ACKed one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duplicate {
    /// The address.
    pub address: Ipv4Addr,
    /// The client that held it.
    pub holder: u32,
    /// The client that was ACKed it as well.
    pub other: u32,
}

/// Everything a run counts.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    stages: [StageStats; 4],
    /// Replies for no request in flight (late after a drop, duplicates, other clients').
    pub late: u64,
    /// Datagrams that were not a DHCP reply.
    pub malformed: u64,
    /// Exchanges that were due but not started because every client had one in flight.
    pub skipped: u64,
    /// Addresses ACKed to two clients at once (only counted with the uniqueness check on).
    pub duplicates: Vec<Duplicate>,
}

impl Stats {
    /// The counters of `stage`.
    pub fn stage(&self, stage: Stage) -> &StageStats {
        &self.stages[stage.index()]
    }

    /// The counters of `stage`, to update.
    pub fn stage_mut(&mut self, stage: Stage) -> &mut StageStats {
        &mut self.stages[stage.index()]
    }
}

/// The result of a run, ready to print.
#[derive(Debug, Clone)]
pub struct Report {
    /// The counters.
    pub stats: Stats,
    /// How long exchanges were being started.
    pub elapsed: Duration,
    /// The rate asked for, exchanges per second (`None`: as fast as possible).
    pub target_rate: Option<f64>,
    /// Whether the run stopped at the OFFER (then an OFFER completes an exchange).
    pub do_only: bool,
}

impl Report {
    /// Completed exchanges: OFFERs in DISCOVER-OFFER-only runs, else ACKs of the two REQUEST
    /// stages (NAKs excluded).
    pub fn completed(&self) -> u64 {
        if self.do_only {
            return self.stats.stage(Stage::DiscoverOffer).received;
        }
        [Stage::RequestAck, Stage::Renew]
            .iter()
            .map(|&stage| {
                let stage = self.stats.stage(stage);
                stage.received - stage.naks
            })
            .sum()
    }

    /// ACKs of the two REQUEST stages.
    pub fn acks(&self) -> u64 {
        [Stage::RequestAck, Stage::Renew]
            .iter()
            .map(|&stage| {
                let stage = self.stats.stage(stage);
                stage.received - stage.naks
            })
            .sum()
    }

    /// Completed exchanges per second over the sending period.
    pub fn achieved_rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        match seconds > 0.0 {
            true => self.completed() as f64 / seconds,
            false => 0.0,
        }
    }

    /// Whether the uniqueness check found no address ACKed to two clients.
    pub fn is_unique(&self) -> bool {
        self.stats.duplicates.is_empty()
    }

    /// The report as perfdhcp-like text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let target = self
            .target_rate
            .map_or("unlimited".to_owned(), |rate| format!("{rate}"));
        let kind = if self.do_only { "2-way" } else { "4-way" };
        out += &format!(
            "Rate: {:.1} {kind} exchanges/second, expected rate: {target}\n",
            self.achieved_rate()
        );
        out += &format!(
            "Elapsed: {:.3} s, completed: {}, late: {}, malformed: {}, skipped: {}\n",
            self.elapsed.as_secs_f64(),
            self.completed(),
            self.stats.late,
            self.stats.malformed,
            self.stats.skipped
        );
        for stage in Stage::ALL {
            let stats = self.stats.stage(stage);
            if stats.sent == 0 {
                continue;
            }
            out += &format!("***Statistics for: {}***\n", stage.name());
            out += &format!("sent packets: {}\n", stats.sent);
            if stage == Stage::Release {
                continue;
            }
            out += &format!("received packets: {}\n", stats.received);
            out += &format!("naks: {}\n", stats.naks);
            out += &format!("drops: {}\n", stats.drops);
            out += &format!("drops ratio: {:.3} %\n", stats.drop_percent());
            let latency = |quantile| {
                stats
                    .latency_at(quantile)
                    .map_or("-".to_owned(), |latency| {
                        format!("{:.3} ms", millis(latency))
                    })
            };
            out += &format!(
                "latency min/p50/p99/max: {} / {} / {} / {}\n",
                latency(0.0),
                latency(0.5),
                latency(0.99),
                latency(1.0)
            );
        }
        match self.stats.duplicates.first() {
            None => {}
            Some(duplicate) => {
                out += &format!(
                    "NOT UNIQUE: {} addresses ACKed to two clients, first {} (clients {} and {})\n",
                    self.stats.duplicates.len(),
                    duplicate.address,
                    duplicate.holder,
                    duplicate.other
                );
            }
        }
        out
    }

    /// The report as one JSON object; latencies in milliseconds, `null` without replies.
    pub fn json(&self) -> Value {
        let mut stages = serde_json::Map::new();
        for stage in Stage::ALL {
            let stats = self.stats.stage(stage);
            let latency = |quantile| stats.latency_at(quantile).map(millis);
            stages.insert(
                stage.name().to_owned(),
                json!({
                    "sent": stats.sent,
                    "received": stats.received,
                    "naks": stats.naks,
                    "drops": stats.drops,
                    "drop_percent": stats.drop_percent(),
                    "latency_ms": {
                        "min": latency(0.0),
                        "p50": latency(0.5),
                        "p99": latency(0.99),
                        "max": latency(1.0),
                    },
                }),
            );
        }
        let duplicates: Vec<Value> = self
            .stats
            .duplicates
            .iter()
            .map(|duplicate| {
                json!({
                    "address": duplicate.address.to_string(),
                    "holder": duplicate.holder,
                    "other": duplicate.other,
                })
            })
            .collect();
        json!({
            "elapsed_s": self.elapsed.as_secs_f64(),
            "target_rate": self.target_rate,
            "achieved_rate": self.achieved_rate(),
            "do_only": self.do_only,
            "completed": self.completed(),
            "acks": self.acks(),
            "late": self.stats.late,
            "malformed": self.stats.malformed,
            "skipped": self.stats.skipped,
            "unique": self.is_unique(),
            "duplicates": duplicates,
            "stages": stages,
        })
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(do_only: bool) -> Report {
        let mut stats = Stats::default();
        let discover = stats.stage_mut(Stage::DiscoverOffer);
        discover.sent = 100;
        for micros in 1..=98 {
            discover.record_reply(Duration::from_micros(micros * 10));
        }
        discover.drops = 2;
        let request = stats.stage_mut(Stage::RequestAck);
        request.sent = 98;
        for _ in 0..98 {
            request.record_reply(Duration::from_millis(1));
        }
        request.naks = 8;
        Report {
            stats,
            elapsed: Duration::from_secs(2),
            target_rate: Some(50.0),
            do_only,
        }
    }

    #[test]
    fn rate_counts_acks_or_offers() {
        assert_eq!(report(false).completed(), 90);
        assert_eq!(report(false).achieved_rate(), 45.0);
        assert_eq!(report(true).completed(), 98);
        assert_eq!(report(true).achieved_rate(), 49.0);
    }

    #[test]
    fn drop_percent_is_of_settled_requests() {
        let report = report(false);
        assert_eq!(report.stats.stage(Stage::DiscoverOffer).drop_percent(), 2.0);
        assert_eq!(report.stats.stage(Stage::RequestAck).drop_percent(), 0.0);
        assert_eq!(StageStats::default().drop_percent(), 0.0);
    }

    #[test]
    fn percentiles_come_from_the_histogram() {
        let report = report(false);
        let discover = report.stats.stage(Stage::DiscoverOffer);
        assert_eq!(discover.latency_at(0.0), Some(Duration::from_micros(10)));
        let p50 = discover.latency_at(0.5).unwrap().as_micros();
        assert!((489..=491).contains(&p50), "p50 {p50}");
        let p99 = discover.latency_at(0.99).unwrap().as_micros();
        assert!((970..=981).contains(&p99), "p99 {p99}");
        assert!(StageStats::default().latency_at(0.5).is_none());
    }

    #[test]
    fn json_has_the_figures_scripts_read() {
        let json = report(false).json();
        assert_eq!(json["achieved_rate"], 45.0);
        assert_eq!(json["acks"], 90);
        assert_eq!(json["unique"], true);
        assert_eq!(json["stages"]["DISCOVER-OFFER"]["drops"], 2);
        assert_eq!(json["stages"]["REQUEST-ACK"]["latency_ms"]["p99"], 1.0);
        assert!(json["stages"]["RENEW-ACK"]["latency_ms"]["p50"].is_null());
    }

    #[test]
    fn text_names_stages_and_duplicates() {
        let mut report = report(false);
        report.stats.duplicates.push(Duplicate {
            address: Ipv4Addr::new(10, 0, 0, 10),
            holder: 1,
            other: 2,
        });
        let text = report.text();
        assert!(text.starts_with("Rate: 45.0 4-way exchanges/second, expected rate: 50\n"));
        assert!(text.contains("***Statistics for: REQUEST-ACK***\nsent packets: 98\n"));
        assert!(!text.contains("RENEW-ACK"));
        assert!(text.contains("NOT UNIQUE: 1 addresses ACKed to two clients, first 10.0.0.10"));
    }
}
