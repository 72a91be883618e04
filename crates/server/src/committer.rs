//! Group commit: lease changes from all workers are made durable together,
//! and their replies sent only after that.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use leasehold_engine::Reply;
use leasehold_leases::{LeaseChange, LeaseStore, Lost};
use tracing::{debug, error, info, warn};

use crate::Shared;
use crate::pace::Pace;
use crate::socket::InterfaceSocket;

/// Most jobs folded into one commit; bounds the latency of the first.
const MAX_BATCH: usize = 4096;

/// How many leases the committer waits for, within its window (a sync costs
/// about the same for one lease as for a hundred): enough that
/// the sync's cost per lease is small; at high rates they gather in well
/// under the window.
const COMMIT_GATHER: usize = 64;

/// Lease changes and the reply that may leave once they are durable.
pub(crate) struct Pending {
    pub(crate) changes: Vec<LeaseChange>,
    pub(crate) reply: Option<Reply>,
}

/// Work for the committer.
pub(crate) enum Job {
    /// Persist every change of `batch`, then send the replies through `via`.
    Commit {
        batch: Vec<Pending>,
        via: Option<Arc<InterfaceSocket>>,
    },
    /// Rewrite the lease store from the engine's current leases.
    Compact,
    /// Persist `changes` made through the control API, then report the
    /// outcome on `done`.
    Durable {
        changes: Vec<LeaseChange>,
        done: Sender<Result<(), String>>,
    },
}

impl Job {
    /// How many leases the job changes (or replies it holds back).
    fn leases(&self) -> usize {
        match self {
            Self::Commit { batch, .. } => batch.len(),
            Self::Compact => 0,
            Self::Durable { changes, .. } => changes.len(),
        }
    }
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
    let mut races = RaceLog::default();
    let mut pace = Pace::new(shared.pacing.commit_window, COMMIT_GATHER);
    loop {
        let mut gathered = Vec::new();
        // When leases come often, wake on the timer alone and take what
        // gathered, sparing a wake-up for each job.
        if !pace.wait() {
            match jobs.recv() {
                Ok(job) => gathered.push(job),
                Err(_) => break,
            }
        }
        let mut disconnected = false;
        while gathered.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => gathered.push(job),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    disconnected = true;
                    break;
                }
            }
        }
        pace.taken(gathered.iter().map(Job::leases).sum());
        if gathered.is_empty() {
            if disconnected {
                break;
            }
            continue;
        }
        let mut changes = Vec::new();
        // For each change, the reply it holds back (numbered in batch order).
        let mut owners: Vec<Option<usize>> = Vec::new();
        let mut replies: Vec<(Arc<InterfaceSocket>, Vec<Reply>, Vec<usize>)> = Vec::new();
        let mut numbered = 0;
        let mut compact = false;
        let mut notify = Vec::new();
        for job in gathered {
            let (batch, via) = match job {
                Job::Commit { batch, via } => (batch, via),
                Job::Durable {
                    changes: more,
                    done,
                } => {
                    owners.extend(std::iter::repeat_n(None, more.len()));
                    changes.extend(more);
                    notify.push(done);
                    continue;
                }
                Job::Compact => {
                    compact = true;
                    continue;
                }
            };
            let mut outgoing = Vec::new();
            let mut numbers = Vec::new();
            for pending in batch {
                let number = pending.reply.is_some().then_some(numbered);
                numbered += usize::from(number.is_some());
                owners.extend(std::iter::repeat_n(number, pending.changes.len()));
                changes.extend(pending.changes);
                outgoing.extend(pending.reply);
                numbers.extend(number);
            }
            match (via, replies.last_mut()) {
                (Some(via), Some((last, queued, queued_numbers))) if Arc::ptr_eq(&via, last) => {
                    queued.extend(outgoing);
                    queued_numbers.extend(numbers);
                }
                (Some(via), _) => replies.push((via, outgoing, numbers)),
                (None, _) => {}
            }
        }
        let waiting: usize = replies.iter().map(|(_, queued, _)| queued.len()).sum();
        match store.commit_contested(&changes) {
            Ok(lost) => {
                let withheld = settle_lost(shared, &lost, &owners, &mut races);
                for (via, queued, numbers) in &mut replies {
                    if !withheld.is_empty() {
                        let mut numbers = numbers.iter();
                        queued.retain(|_| {
                            numbers
                                .next()
                                .is_none_or(|number| !withheld.contains(number))
                        });
                    }
                    crate::send_replies(shared, via, queued);
                }
                failures.recovered();
                notify.iter().for_each(|done| drop(done.send(Ok(()))));
            }
            Err(error) => {
                shared.stats.commit_failed(waiting);
                failures.failed(&error, waiting);
                notify
                    .iter()
                    .for_each(|done| drop(done.send(Err(error.to_string()))));
            }
        }
        if compact {
            compact_store(store.as_mut(), shared);
        }
    }
}

/// Tells the engine who holds each address another server won, so it is
/// not offered again, and returns the numbers of the replies to withhold.
fn settle_lost(
    shared: &Shared,
    lost: &[Lost],
    owners: &[Option<usize>],
    races: &mut RaceLog,
) -> std::collections::HashSet<usize> {
    if lost.is_empty() {
        return std::collections::HashSet::new();
    }
    let engine = shared.engine.load();
    for race in lost {
        debug!(address = %race.holder.address, "address taken by another server; ACK withheld");
        engine.adopt(race.holder.clone());
    }
    races.lost(lost.len());
    lost.iter()
        .filter_map(|race| owners.get(race.index).copied().flatten())
        .collect()
}

fn compact_store(store: &mut dyn LeaseStore, shared: &Shared) {
    let leases = shared.engine.load().leases();
    let started = Instant::now();
    match store.compact(&leases) {
        Ok(()) => {
            info!(leases = leases.len(), elapsed = ?started.elapsed(), "lease file compacted")
        }
        Err(error) => warn!(
            msg_id = "LH_LEASE_COMPACTION_FAILED",
            %error,
            "lease file compaction failed; the lease file keeps growing"
        ),
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
            error!(
                msg_id = "LH_LEASE_STORE_FAILED",
                %error,
                withheld_acks = self.withheld,
                "cannot persist leases; ACKs withheld"
            );
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

/// Counts races lost to other servers sharing the lease database, logged
/// at most every ten seconds.
#[derive(Default)]
struct RaceLog {
    last_logged: Option<Instant>,
    count: usize,
}

impl RaceLog {
    fn lost(&mut self, races: usize) {
        self.count += races;
        let due = self
            .last_logged
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(10));
        if due {
            info!(
                addresses = self.count,
                "addresses were taken by another server sharing the lease database; \
                 their ACKs were withheld"
            );
            self.last_logged = Some(Instant::now());
            self.count = 0;
        }
    }
}
