//! Waiting for work to gather, when it arrives often enough to gather.
//!
//! Each wake-up of a worker or of the committer costs a context switch,
//! and each commit a sync, whether it carries one packet or thirty. At a
//! moderate rate, letting a few milliseconds' worth of work gather before
//! taking it divides those costs per lease; at a low rate nothing would
//! gather, so nothing waits, and at a high rate the work gathers anyway.

use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// How long the server may let work gather before taking it, when it comes
/// often enough to gather: an operator's trade of reply latency for CPU
/// time per lease. Both windows zero answers every query as soon as it
/// arrives, with one sync per burst of leases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// Longest wait for leases to gather before a sync.
    pub commit_window: Duration,
    /// Longest wait for datagrams to queue before a worker takes them.
    pub receive_window: Duration,
}

impl Pacing {
    /// The default budget: up to 15 ms added to a reply.
    pub const DEFAULT_BUDGET: Duration = Duration::from_millis(15);

    /// Windows that add at most `budget` to a reply: two thirds of it for
    /// the commit, whose sync costs most, one third for the receive.
    pub fn within(budget: Duration) -> Self {
        let receive_window = budget / 3;
        Self {
            commit_window: budget - receive_window,
            receive_window,
        }
    }
}

impl Default for Pacing {
    fn default() -> Self {
        Self::within(Self::DEFAULT_BUDGET)
    }
}

/// Tracks the rate at which work is taken, as an exponentially weighted
/// average over batches, and says how long to let work gather: long enough
/// for `gather` items at that rate, at most `window`, and not at all when
/// not even one item is expected within `window`.
pub(crate) struct Pace {
    window: Duration,
    gather: f64,
    last_batch: Instant,
    per_second: f64,
}

impl Pace {
    /// Weight of the newest batch in the average.
    const WEIGHT: f64 = 0.2;

    pub(crate) fn new(window: Duration, gather: usize) -> Self {
        Self {
            window,
            gather: gather as f64,
            last_batch: Instant::now(),
            per_second: 0.0,
        }
    }

    /// How long to let work gather before taking it, if at all.
    pub(crate) fn pause(&self) -> Option<Duration> {
        let window = self.window.as_secs_f64();
        if self.per_second * window < 1.0 {
            return None;
        }
        Some(Duration::from_secs_f64(
            window.min(self.gather / self.per_second),
        ))
    }

    /// Sleeps for [`Self::pause`], if any; returns whether it slept.
    pub(crate) fn wait(&self) -> bool {
        let Some(pause) = self.pause() else {
            return false;
        };
        std::thread::sleep(pause);
        true
    }

    /// Counts a batch of `items` taken now.
    pub(crate) fn taken(&mut self, items: usize) {
        self.taken_at(items, Instant::now());
    }

    fn taken_at(&mut self, items: usize, now: Instant) {
        let elapsed = now.duration_since(self.last_batch).as_secs_f64();
        self.last_batch = now;
        let rate = items as f64 / elapsed.max(1e-6);
        self.per_second += Self::WEIGHT * (rate - self.per_second);
    }
}

/// Where the spare workers of one socket wait: the socket's first worker
/// calls them when it finds a full batch queued, and each goes back to
/// waiting once the batches it takes are small again. At a moderate rate
/// one worker serves the socket alone, with one wake-up per window instead
/// of one per worker.
#[derive(Default)]
pub(crate) struct Standby {
    called: Mutex<bool>,
    woken: Condvar,
}

impl Standby {
    /// Wakes the spare workers, if they wait.
    pub(crate) fn call(&self) {
        let mut called = self.called.lock();
        if !*called {
            *called = true;
            self.woken.notify_all();
        }
    }

    /// Sends the spare workers back to waiting.
    pub(crate) fn dismiss(&self) {
        *self.called.lock() = false;
    }

    /// Waits until called, or `timeout`; returns whether called.
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        let mut called = self.called.lock();
        if !*called {
            self.woken.wait_for(&mut called, timeout);
        }
        *called
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_splits_between_commit_and_receive() {
        let pacing = Pacing::default();
        assert_eq!(pacing.commit_window, Duration::from_millis(10));
        assert_eq!(pacing.receive_window, Duration::from_millis(5));
        let none = Pacing::within(Duration::ZERO);
        assert_eq!(
            (none.commit_window, none.receive_window),
            (Duration::ZERO, Duration::ZERO)
        );
    }

    #[test]
    fn a_zero_window_never_waits() {
        let mut pace = Pace::new(Duration::ZERO, 64);
        let start = Instant::now();
        for step in 1..=100 {
            pace.taken_at(32, start + Duration::from_micros(100 * step));
        }
        assert!(
            pace.per_second > 100_000.0,
            "the rate is high: {}",
            pace.per_second
        );
        assert_eq!(pace.pause(), None);
    }

    /// Feeds `pace` batches of `items` every `gap`, starting at `start`.
    fn feed(pace: &mut Pace, start: Instant, gap: Duration, items: usize, batches: u32) -> Instant {
        let mut now = start;
        for _ in 0..batches {
            now += gap;
            pace.taken_at(items, now);
        }
        now
    }

    #[test]
    fn pauses_only_when_work_arrives_faster_than_the_window() {
        let window = Duration::from_millis(4);
        let start = Instant::now();
        let mut pace = Pace::new(window, 8);
        pace.last_batch = start;
        assert_eq!(pace.pause(), None, "no history, no pause");

        // One item every 10 ms: nothing would gather in 4 ms.
        feed(&mut pace, start, Duration::from_millis(10), 1, 50);
        assert_eq!(pace.pause(), None, "{} per second", pace.per_second);

        // One item every millisecond: eight take longer than the window,
        // so the whole window is waited.
        let mut pace = Pace::new(window, 8);
        pace.last_batch = start;
        let later = feed(&mut pace, start, Duration::from_millis(1), 1, 50);
        assert_eq!(pace.pause(), Some(window), "{} per second", pace.per_second);

        // The rate falls off: pausing stops again.
        feed(&mut pace, later, Duration::from_millis(100), 1, 20);
        assert_eq!(pace.pause(), None, "{} per second", pace.per_second);
    }

    #[test]
    fn pauses_no_longer_than_it_takes_to_gather_at_high_rates() {
        let window = Duration::from_millis(10);
        let start = Instant::now();
        let mut pace = Pace::new(window, 64);
        pace.last_batch = start;
        // 32 items every millisecond: 64 gather in about 2 ms.
        feed(&mut pace, start, Duration::from_millis(1), 32, 100);
        let pause = pace.pause().expect("pauses at 32,000 per second");
        assert!(
            pause > Duration::from_micros(1_900) && pause < Duration::from_micros(2_100),
            "{pause:?}"
        );
    }

    #[test]
    fn spare_workers_wait_until_called_and_after_dismissal() {
        let standby = std::sync::Arc::new(Standby::default());
        assert!(!standby.wait(Duration::from_millis(1)), "not called yet");
        let caller = std::sync::Arc::clone(&standby);
        let call = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            caller.call();
        });
        assert!(
            standby.wait(Duration::from_secs(10)),
            "called while waiting"
        );
        call.join().unwrap();
        assert!(standby.wait(Duration::from_millis(1)), "stays called");
        standby.dismiss();
        assert!(!standby.wait(Duration::from_millis(1)), "dismissed");
    }
}
