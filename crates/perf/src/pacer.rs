//! When exchanges are due: a constant rate from the start of the run, an optional limit on
//! their number and on the run's duration. Sans-I/O: the caller passes `now`.
//!
//! The pacer counts from the start rather than from the last send, so a loop that wakes late
//! catches up with a larger batch instead of drifting below the rate.

use std::time::{Duration, Instant};

/// Paces the start of exchanges; see the module documentation.
#[derive(Debug, Clone)]
pub struct Pacer {
    start: Instant,
    /// Exchanges per second; `None` for as fast as the window allows.
    rate: Option<f64>,
    /// Stop after this many exchanges.
    limit: Option<u64>,
    /// Stop starting exchanges after this long.
    duration: Option<Duration>,
    started: u64,
}

impl Pacer {
    /// A pacer starting at `start`.
    pub fn new(
        start: Instant,
        rate: Option<f64>,
        limit: Option<u64>,
        duration: Option<Duration>,
    ) -> Self {
        Self {
            start,
            rate: rate.filter(|rate| *rate > 0.0),
            limit,
            duration,
            started: 0,
        }
    }

    /// Exchanges started so far.
    pub fn started(&self) -> u64 {
        self.started
    }

    /// Whether no more exchanges will be due: the limit is reached or the duration is over.
    pub fn is_done(&self, now: Instant) -> bool {
        let limit_reached = self.limit.is_some_and(|limit| self.started >= limit);
        let time_is_up = self
            .duration
            .is_some_and(|duration| now.duration_since(self.start) >= duration);
        limit_reached || time_is_up
    }

    /// How many exchanges are due at `now` (`u64::MAX` without a rate, bounded by the limit).
    pub fn due(&self, now: Instant) -> u64 {
        if self.is_done(now) {
            return 0;
        }
        let left = self.limit.map_or(u64::MAX, |limit| limit - self.started);
        let Some(rate) = self.rate else {
            return left;
        };
        let elapsed = now.saturating_duration_since(self.start).as_secs_f64();
        // The first exchange is due at once, the next one 1/rate later, and so on.
        let owed = (elapsed * rate).floor() as u64 + 1;
        owed.saturating_sub(self.started).min(left)
    }

    /// Records that `count` exchanges were started.
    pub fn record(&mut self, count: u64) {
        self.started += count;
    }

    /// When the next exchange falls due (`None` when done, or at once without a rate).
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        if self.is_done(now) {
            return None;
        }
        let rate = self.rate?;
        let at = self.start + Duration::from_secs_f64(self.started as f64 / rate);
        Some(at.max(now))
    }

    /// When the run stops starting exchanges because of its duration, if it has one.
    pub fn end(&self) -> Option<Instant> {
        self.duration.map(|duration| self.start + duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn a_rate_spreads_exchanges_over_time() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(t0, Some(1000.0), None, None);
        assert_eq!(pacer.due(t0), 1);
        pacer.record(1);
        assert_eq!(pacer.due(t0), 0);
        assert_eq!(pacer.next_due(t0), Some(t0 + ms(1)));
        assert_eq!(pacer.due(t0 + ms(10)), 10);
        pacer.record(10);
        // A late wake-up catches up rather than drifting.
        assert_eq!(pacer.due(t0 + ms(100)), 90);
    }

    #[test]
    fn the_limit_and_the_duration_end_the_run() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(t0, Some(1000.0), Some(5), Some(ms(1000)));
        assert_eq!(pacer.due(t0 + ms(100)), 5);
        pacer.record(5);
        assert!(pacer.is_done(t0 + ms(100)));
        assert_eq!(pacer.due(t0 + ms(200)), 0);
        assert_eq!(pacer.next_due(t0 + ms(200)), None);

        let pacer = Pacer::new(t0, Some(10.0), None, Some(ms(1000)));
        assert!(!pacer.is_done(t0 + ms(999)));
        assert!(pacer.is_done(t0 + ms(1000)));
        assert_eq!(pacer.end(), Some(t0 + ms(1000)));
    }

    #[test]
    fn without_a_rate_everything_left_is_due() {
        let t0 = Instant::now();
        let pacer = Pacer::new(t0, None, Some(7), None);
        assert_eq!(pacer.due(t0), 7);
        assert_eq!(pacer.next_due(t0), None);
        let unlimited = Pacer::new(t0, Some(0.0), None, None);
        assert_eq!(unlimited.due(t0), u64::MAX);
    }
}
