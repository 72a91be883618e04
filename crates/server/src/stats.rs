//! Packet statistics under Kea's names (`pkt4-received`,
//! `pkt4-ack-sent`, ...), counted with relaxed atomics.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use leasehold_engine::{Destination, MessageType, Outcome, Silence};
use parking_lot::Mutex;
use tracing::warn;

const TYPES: [MessageType; 8] = [
    MessageType::Discover,
    MessageType::Offer,
    MessageType::Request,
    MessageType::Decline,
    MessageType::Ack,
    MessageType::Nak,
    MessageType::Release,
    MessageType::Inform,
];

fn index(message_type: MessageType) -> usize {
    TYPES.iter().position(|t| *t == message_type).unwrap_or(0)
}

/// Server-wide counters.
#[derive(Default)]
pub struct Stats {
    received: AtomicU64,
    received_by_type: [AtomicU64; 8],
    sent: AtomicU64,
    sent_by_type: [AtomicU64; 8],
    parse_failed: AtomicU64,
    receive_drop: AtomicU64,
    commit_failed: AtomicU64,
    reclaimed: AtomicU64,
    io_errors: Mutex<Option<Instant>>,
}

impl Stats {
    pub(crate) fn count(&self, outcome: &Outcome) {
        self.received.fetch_add(1, Ordering::Relaxed);
        if let Some(received) = outcome.received {
            self.received_by_type[index(received)].fetch_add(1, Ordering::Relaxed);
        }
        match outcome.silence {
            Some(Silence::Malformed(_)) => {
                self.parse_failed.fetch_add(1, Ordering::Relaxed);
                self.receive_drop.fetch_add(1, Ordering::Relaxed);
            }
            Some(Silence::NoSubnet | Silence::BadRequest | Silence::PoolExhausted) => {
                self.receive_drop.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    pub(crate) fn sent(&self, message_type: MessageType) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.sent_by_type[index(message_type)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn commit_failed(&self, replies: usize) {
        self.commit_failed
            .fetch_add(replies as u64, Ordering::Relaxed);
    }

    pub(crate) fn reclaimed(&self, leases: usize) {
        self.reclaimed.fetch_add(leases as u64, Ordering::Relaxed);
    }

    pub(crate) fn receive_error(&self, error: &io::Error) {
        if self.io_error_due() {
            warn!(%error, "receive failed");
        }
    }

    pub(crate) fn send_error(&self, error: &io::Error, destination: Destination) {
        if self.io_error_due() {
            warn!(%error, ?destination, "send failed");
        }
    }

    /// Socket errors tend to repeat for every packet; log one a second.
    fn io_error_due(&self) -> bool {
        let mut last = self.io_errors.lock();
        let due = last.is_none_or(|at| at.elapsed() >= Duration::from_secs(1));
        if due {
            *last = Some(Instant::now());
        }
        due
    }

    /// Every counter with its Kea statistic name.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut all = vec![
            ("pkt4-received".to_owned(), load(&self.received)),
            ("pkt4-sent".to_owned(), load(&self.sent)),
            ("pkt4-parse-failed".to_owned(), load(&self.parse_failed)),
            ("pkt4-receive-drop".to_owned(), load(&self.receive_drop)),
            ("reclaimed-leases".to_owned(), load(&self.reclaimed)),
            (
                "leasehold-commit-failed".to_owned(),
                load(&self.commit_failed),
            ),
        ];
        for (position, message_type) in TYPES.iter().enumerate() {
            let name = message_type.name();
            all.push((
                format!("pkt4-{name}-received"),
                load(&self.received_by_type[position]),
            ));
            all.push((
                format!("pkt4-{name}-sent"),
                load(&self.sent_by_type[position]),
            ));
        }
        all
    }
}
