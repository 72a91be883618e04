//! Group commit: lease changes from all workers are made durable together,
//! and their replies sent only after that.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use leasehold_engine::Reply;
use leasehold_leases::{LeaseChange, LeaseStore};
use tracing::{error, info, warn};

use crate::Shared;
use crate::socket::InterfaceSocket;

/// Most jobs folded into one commit; bounds the latency of the first.
const MAX_BATCH: usize = 4096;

/// Work for the committer.
pub(crate) enum Job {
    /// Persist `changes`, then send `reply` (if any) through `via`.
    Commit {
        changes: Vec<LeaseChange>,
        reply: Option<Reply>,
        via: Option<Arc<InterfaceSocket>>,
    },
    /// Rewrite the lease store from the engine's current leases.
    Compact,
}

/// The committer thread and the way to reach it.
pub(crate) struct Committer {
    sender: Sender<Job>,
    thread: JoinHandle<()>,
}

impl Committer {
    pub(crate) fn start(store: Box<dyn LeaseStore>, shared: Arc<Shared>) -> Self {
        let (sender, receiver) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("committer".into())
            .spawn(move || run(store, &shared, &receiver))
            .unwrap_or_else(|error| panic!("cannot start the committer thread: {error}"));
        Self { sender, thread }
    }

    pub(crate) fn sender(&self) -> Sender<Job> {
        self.sender.clone()
    }

    /// Waits until every job already sent is done. Call after every other
    /// sender is gone.
    pub(crate) fn finish(self) {
        drop(self.sender);
        let _ = self.thread.join();
    }
}

fn run(mut store: Box<dyn LeaseStore>, shared: &Shared, jobs: &Receiver<Job>) {
    let mut failures = FailureLog::default();
    while let Ok(first) = jobs.recv() {
        let mut changes = Vec::new();
        let mut replies = Vec::new();
        let mut compact = false;
        for job in std::iter::once(first).chain(jobs.try_iter().take(MAX_BATCH)) {
            match job {
                Job::Commit {
                    changes: more,
                    reply,
                    via,
                } => {
                    changes.extend(more);
                    if let (Some(reply), Some(via)) = (reply, via) {
                        replies.push((reply, via));
                    }
                }
                Job::Compact => compact = true,
            }
        }
        match store.commit(&changes) {
            Ok(()) => {
                for (reply, via) in &replies {
                    crate::send(shared, via, reply);
                }
                failures.recovered();
            }
            Err(error) => {
                shared.stats.commit_failed(replies.len());
                failures.failed(&error, replies.len());
            }
        }
        if compact {
            compact_store(store.as_mut(), shared);
        }
    }
}

fn compact_store(store: &mut dyn LeaseStore, shared: &Shared) {
    let leases = shared.engine.load().leases();
    let started = Instant::now();
    match store.compact(&leases) {
        Ok(()) => {
            info!(leases = leases.len(), elapsed = ?started.elapsed(), "lease file compacted")
        }
        Err(error) => warn!(%error, "lease file compaction failed; the lease file keeps growing"),
    }
}

/// Logs commit failures without flooding: the first at once, then one
/// summary every ten seconds while they go on.
#[derive(Default)]
struct FailureLog {
    since: Option<Instant>,
    last_logged: Option<Instant>,
    withheld: usize,
}

impl FailureLog {
    fn failed(&mut self, error: &leasehold_leases::StoreError, replies: usize) {
        self.since.get_or_insert_with(Instant::now);
        self.withheld += replies;
        let due = self
            .last_logged
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(10));
        if due {
            error!(%error, withheld_acks = self.withheld, "cannot persist leases; ACKs withheld");
            self.last_logged = Some(Instant::now());
            self.withheld = 0;
        }
    }

    fn recovered(&mut self) {
        if let Some(since) = self.since.take() {
            info!(after = ?since.elapsed(), "lease store writable again");
            self.last_logged = None;
            self.withheld = 0;
        }
    }
}
