//! Whether the server answers DHCP: `dhcp-disable` stops it, until
//! `dhcp-enable` or for at most `max-period` seconds, as Kea's network state
//! does. Queries that arrive meanwhile are dropped and counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `disabled_until` when the service is enabled.
const ENABLED: u64 = 0;
/// `disabled_until` when the service is disabled until `dhcp-enable`.
const UNTIL_ENABLED: u64 = u64::MAX;

/// The DHCP service's switch, read by every worker for every batch.
#[derive(Debug)]
pub(crate) struct Service {
    epoch: Instant,
    /// Milliseconds since `epoch` when the service resumes by itself, or
    /// [`ENABLED`] or [`UNTIL_ENABLED`].
    disabled_until: AtomicU64,
}

impl Default for Service {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            disabled_until: AtomicU64::new(ENABLED),
        }
    }
}

impl Service {
    /// Stops answering, for `period` if given, else until [`Self::enable`].
    pub(crate) fn disable(&self, period: Option<Duration>) {
        let until = match period {
            Some(period) => self.millis_at(Instant::now() + period).max(1),
            None => UNTIL_ENABLED,
        };
        self.disabled_until.store(until, Ordering::Relaxed);
    }

    /// Answers again.
    pub(crate) fn enable(&self) {
        self.disabled_until.store(ENABLED, Ordering::Relaxed);
    }

    /// Whether queries are answered now.
    pub(crate) fn is_enabled(&self) -> bool {
        match self.disabled_until.load(Ordering::Relaxed) {
            ENABLED => true,
            UNTIL_ENABLED => false,
            until => self.millis_at(Instant::now()) >= until,
        }
    }

    fn millis_at(&self, at: Instant) -> u64 {
        u64::try_from(at.duration_since(self.epoch).as_millis()).unwrap_or(UNTIL_ENABLED - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_until_enabled_or_for_a_period() {
        let service = Service::default();
        assert!(service.is_enabled());
        service.disable(None);
        assert!(!service.is_enabled());
        service.enable();
        assert!(service.is_enabled());
        service.disable(Some(Duration::from_millis(50)));
        assert!(!service.is_enabled());
        std::thread::sleep(Duration::from_millis(80));
        assert!(service.is_enabled(), "resumes after max-period");
    }
}
