//! Packet statistics under Kea's names (`pkt4-received`,
//! `pkt4-ack-sent`, ...), counted with relaxed atomics, and the few
//! lease counters Kea keeps (`cumulative-assigned-addresses`,
//! `reclaimed-leases`, ...). Per-subnet address counts are not kept here:
//! the control API computes them from the engine's lease tables when asked.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use leasehold_engine::{Destination, MessageType, Outcome, Silence};
use leasehold_leases::{LeaseChange, LeaseState};
use parking_lot::Mutex;
use tracing::{debug, warn};

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
pub struct Stats {
    received: AtomicU64,
    received_by_type: [AtomicU64; 8],
    sent: AtomicU64,
    sent_by_type: [AtomicU64; 8],
    parse_failed: AtomicU64,
    receive_drop: AtomicU64,
    commit_failed: AtomicU64,
    reclaimed: AtomicU64,
    reclaimed_declined: AtomicU64,
    /// New leases per subnet id (Kea's `cumulative-assigned-addresses`).
    assigned_by_subnet: Mutex<HashMap<u32, u64>>,
    io_errors: Mutex<Option<Instant>>,
    started: Option<Instant>,
    reloaded: Mutex<Option<Instant>>,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            received: AtomicU64::default(),
            received_by_type: Default::default(),
            sent: AtomicU64::default(),
            sent_by_type: Default::default(),
            parse_failed: AtomicU64::default(),
            receive_drop: AtomicU64::default(),
            commit_failed: AtomicU64::default(),
            reclaimed: AtomicU64::default(),
            reclaimed_declined: AtomicU64::default(),
            assigned_by_subnet: Mutex::default(),
            io_errors: Mutex::default(),
            started: Some(Instant::now()),
            reloaded: Mutex::default(),
        }
    }
}

impl Stats {
    pub(crate) fn count(&self, outcome: &Outcome) {
        self.received.fetch_add(1, Ordering::Relaxed);
        if let Some(received) = outcome.received {
            self.received_by_type[index(received)].fetch_add(1, Ordering::Relaxed);
        }
        if outcome.received == Some(MessageType::Request)
            && !outcome.extended
            && outcome
                .reply
                .as_ref()
                .is_some_and(|reply| reply.message_type == MessageType::Ack)
        {
            self.assigned(&outcome.changes);
        }
        match outcome.silence {
            Some(Silence::Malformed(_)) => {
                self.parse_failed.fetch_add(1, Ordering::Relaxed);
                self.receive_drop.fetch_add(1, Ordering::Relaxed);
            }
            Some(Silence::PoolExhausted) => {
                self.receive_drop.fetch_add(1, Ordering::Relaxed);
                alloc_failed();
            }
            Some(Silence::NoSubnet | Silence::BadRequest) => {
                self.receive_drop.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        if outcome
            .reply
            .as_ref()
            .is_some_and(|reply| reply.message_type == MessageType::Nak)
        {
            debug!(msg_id = "LH_NAK_SENT", "NAK sent");
        }
    }

    /// Counts queries dropped because `dhcp-disable` stopped the service,
    /// as received and dropped (Kea's `pkt4-receive-drop`).
    pub(crate) fn dropped_while_disabled(&self, queries: usize) {
        self.received.fetch_add(queries as u64, Ordering::Relaxed);
        self.receive_drop
            .fetch_add(queries as u64, Ordering::Relaxed);
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

    /// Counts reclaimed leases that were declined addresses; a DECLINE
    /// clears the lease's client, so a reclaimed lease without hardware
    /// address and client identifier was one.
    pub(crate) fn reclaimed_changes(&self, changes: &[LeaseChange]) {
        let declined = changes
            .iter()
            .map(LeaseChange::lease)
            .filter(|lease| lease.hwaddr.is_none() && lease.client_id.is_none())
            .count();
        self.reclaimed_declined
            .fetch_add(declined as u64, Ordering::Relaxed);
    }

    /// Counts leases handed out: every ACK of a new lease (not of a renewal,
    /// as in Kea) and every lease added through the control API.
    pub(crate) fn assigned(&self, changes: &[LeaseChange]) {
        let mut by_subnet = self.assigned_by_subnet.lock();
        for change in changes {
            if let LeaseChange::Upsert(lease) = change
                && lease.state == LeaseState::Assigned
            {
                *by_subnet.entry(lease.subnet_id).or_default() += 1;
            }
        }
    }

    /// Leases handed out per subnet id since start.
    pub(crate) fn assigned_by_subnet(&self) -> HashMap<u32, u64> {
        self.assigned_by_subnet.lock().clone()
    }

    /// Records a configuration reload, for `status-get`.
    pub(crate) fn reloaded(&self) {
        *self.reloaded.lock() = Some(Instant::now());
    }

    /// Seconds since start and since the last reload (or start).
    pub(crate) fn uptime(&self) -> (u64, u64) {
        let started = self.started.unwrap_or_else(Instant::now);
        let reloaded = self.reloaded.lock().unwrap_or(started);
        (started.elapsed().as_secs(), reloaded.elapsed().as_secs())
    }

    pub(crate) fn receive_error(&self, error: &io::Error) {
        if self.io_error_due() {
            warn!(msg_id = "LH_SOCKET_RECEIVE_FAILED", %error, "receive failed");
        }
    }

    pub(crate) fn send_error(&self, error: &io::Error, destination: Destination) {
        if self.io_error_due() {
            warn!(msg_id = "LH_SOCKET_SEND_FAILED", %error, ?destination, "send failed");
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
                "reclaimed-declined-addresses".to_owned(),
                load(&self.reclaimed_declined),
            ),
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

/// When `LH_ALLOC_FAIL` was last logged: once every ten seconds at most, as
/// an exhausted pool fails every client that asks.
static ALLOC_FAIL_LOGGED: Mutex<Option<Instant>> = Mutex::new(None);

fn alloc_failed() {
    let mut last = ALLOC_FAIL_LOGGED.lock();
    if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
        *last = Some(Instant::now());
        warn!(
            msg_id = "LH_ALLOC_FAIL",
            "no address to offer: the client's pools are exhausted"
        );
    }
}
