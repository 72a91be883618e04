//! Whether the server answers DHCP: `dhcp-disable` stops it, until
//! `dhcp-enable` or for at most `max-period` seconds, as Kea's network state
//! does. Each origin (`user`, `ha-partner`) has its own switch and the
//! service runs only while none is off. Queries that arrive meanwhile are
//! dropped and counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `disabled_until` when the service is enabled.
const ENABLED: u64 = 0;
/// `disabled_until` when the service is disabled until `dhcp-enable`.
const UNTIL_ENABLED: u64 = u64::MAX;

/// Who turns the service off: Kea's `origin` of `dhcp-disable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// An operator (`"user"`, the default).
    User,
    /// A high-availability partner (`"ha-partner"`).
    HaPartner,
}

impl Origin {
    /// The origin named by a command's `origin` argument.
    pub(crate) fn named(name: &str) -> Option<Self> {
        match name {
            "user" => Some(Self::User),
            "ha-partner" => Some(Self::HaPartner),
            _ => None,
        }
    }
}

/// The DHCP service's switches, read by every worker for every batch.
#[derive(Debug)]
pub(crate) struct Service {
    epoch: Instant,
    /// Per origin: milliseconds since `epoch` when the service resumes by
    /// itself, or [`ENABLED`] or [`UNTIL_ENABLED`].
    disabled_until: [AtomicU64; 2],
}

impl Default for Service {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            disabled_until: [AtomicU64::new(ENABLED), AtomicU64::new(ENABLED)],
        }
    }
}

impl Service {
    /// Stops answering for `origin`, for `period` if given, else until
    /// [`Self::enable`].
    pub(crate) fn disable(&self, origin: Origin, period: Option<Duration>) {
        let until = match period {
            Some(period) => self.millis_at(Instant::now() + period).max(1),
            None => UNTIL_ENABLED,
        };
        self.switch(origin).store(until, Ordering::Relaxed);
    }

    /// Lifts `origin`'s stop; the service answers once no origin stops it.
    pub(crate) fn enable(&self, origin: Origin) {
        self.switch(origin).store(ENABLED, Ordering::Relaxed);
    }

    /// Whether queries are answered now.
    pub(crate) fn is_enabled(&self) -> bool {
        self.disabled_until
            .iter()
            .all(|switch| match switch.load(Ordering::Relaxed) {
                ENABLED => true,
                UNTIL_ENABLED => false,
                until => self.millis_at(Instant::now()) >= until,
            })
    }

    fn switch(&self, origin: Origin) -> &AtomicU64 {
        &self.disabled_until[origin as usize]
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
        service.disable(Origin::User, None);
        assert!(!service.is_enabled());
        service.enable(Origin::User);
        assert!(service.is_enabled());
        service.disable(Origin::User, Some(Duration::from_millis(50)));
        assert!(!service.is_enabled());
        std::thread::sleep(Duration::from_millis(80));
        assert!(service.is_enabled(), "resumes after max-period");
    }

    #[test]
    fn each_origin_holds_the_service_off_until_it_enables_it() {
        let service = Service::default();
        service.disable(Origin::User, None);
        service.disable(Origin::HaPartner, None);
        service.enable(Origin::User);
        assert!(!service.is_enabled(), "the partner still holds it off");
        service.enable(Origin::HaPartner);
        assert!(service.is_enabled());
    }
}
