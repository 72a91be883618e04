//! The leasehold server: everything between the network, the clock, the
//! disk and the sans-I/O [`Engine`](leasehold_engine::Engine).
//!
//! Threads, and what each owns:
//!
//! - workers (per interface, `multi-threading.thread-pool-size` of them)
//!   receive a datagram, ask the engine for an outcome, and send replies
//!   that change no lease (OFFER, NAK, INFORM's ACK) at once;
//! - the committer receives every outcome that changes leases, writes a
//!   whole batch of them to the lease store with one sync (group commit),
//!   and only then sends their ACKs, so no ACK ever leaves for a lease
//!   that would not survive a crash;
//! - the housekeeper reclaims expired leases and compacts the lease file.
//!
//! Start at [`Server::start`]. Signals: SIGTERM and SIGINT stop the server
//! after in-flight leases are committed; SIGHUP reloads the configuration.

mod committer;
mod control;
mod database;
mod pace;
mod service;
mod socket;
mod source;
mod stats;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use leasehold_config::{Config, LeaseDatabase};
use leasehold_engine::{Arrival, Engine, Reply};
use leasehold_leases::memfile::MemfileStore;
use leasehold_leases::{LeaseStore, StoreError};
use tracing::{debug, info, warn};

use crate::committer::{Committer, Job, Pending};
pub use crate::control::reload::ReloadError;
pub use crate::database::params as sql_params;
pub use crate::pace::Pacing;
use crate::pace::{Pace, Standby};
pub use crate::socket::SocketError;
use crate::socket::{InterfaceSocket, ReceiveBatch};
pub use crate::source::{ConfigSource, SourceError};
pub use crate::stats::Stats;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The lease store could not be opened or loaded.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A socket could not be opened.
    #[error(transparent)]
    Socket(#[from] SocketError),
    /// The configuration lists no interface to serve.
    #[error("interfaces-config lists no interface to serve")]
    NoInterfaces,
    /// The control API's HTTP listener or unix socket could not be opened.
    #[error("cannot open the control API listener: {0}")]
    Control(std::io::Error),
}

/// Seconds since the Unix epoch: the only clock the engine sees.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// State shared by all server threads.
struct Shared {
    engine: ArcSwap<Engine>,
    stats: Stats,
    stopping: AtomicBool,
    config_path: Option<PathBuf>,
    pacing: Pacing,
    service: service::Service,
}

/// A running server.
pub struct Server {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    housekeeper: Option<JoinHandle<()>>,
    committer: Option<Committer>,
    control: Option<control::ControlListener>,
    poller: Option<source::Poller>,
}

impl Server {
    /// Loads leases, opens the sockets and starts serving `config`, letting
    /// work gather as `pacing` allows. `config_path`, if given, is re-read
    /// on [`reload`](Self::reload).
    pub fn start(
        config: Config,
        config_path: Option<&Path>,
        pacing: Pacing,
    ) -> Result<Self, StartError> {
        if config.interfaces.interfaces.is_empty() {
            return Err(StartError::NoInterfaces);
        }
        let mut config = config;
        database::add_host_reservations(&mut config)?;
        let mut store = open_store(&config)?;
        let leases = store.load()?;
        let loaded = leases.len();
        let (engine, orphans) = Engine::new(config.clone(), leases);
        if !orphans.is_empty() {
            warn!(
                count = orphans.len(),
                "leases of subnets not in the configuration are ignored"
            );
        }
        info!(leases = loaded, "leases loaded");

        let sockets: Vec<Arc<InterfaceSocket>> = socket::open_all(&config.interfaces.interfaces)?
            .into_iter()
            .map(Arc::new)
            .collect();
        let shared = Arc::new(Shared {
            engine: ArcSwap::from_pointee(engine),
            stats: Stats::default(),
            stopping: AtomicBool::new(false),
            config_path: config_path.map(Path::to_path_buf),
            pacing,
            service: service::Service::default(),
        });
        let committer = Committer::start(store, Arc::clone(&shared));
        let control = control::ControlListener::start(
            Arc::clone(&shared),
            committer.sender(),
            &config.control,
        )
        .map_err(StartError::Control)?;

        let per_interface = worker_count(&config);
        let mut workers = Vec::new();
        for socket in &sockets {
            info!(interface = %socket.name, address = %socket.address, "bound");
            let standby = Arc::new(Standby::default());
            for index in 0..per_interface {
                let (shared, socket) = (Arc::clone(&shared), Arc::clone(socket));
                let (jobs, standby) = (committer.sender(), Arc::clone(&standby));
                let role = if index == 0 { Role::First } else { Role::Spare };
                let thread = std::thread::Builder::new()
                    .name(format!("worker-{}-{index}", socket.name))
                    .spawn(move || serve(&shared, &socket, &jobs, role, &standby))
                    .map_err(|source| SocketError::Open {
                        interface: "thread".into(),
                        source,
                    })?;
                workers.push(thread);
            }
        }
        let housekeeper = {
            let (shared, jobs) = (Arc::clone(&shared), committer.sender());
            std::thread::Builder::new()
                .name("housekeeper".into())
                .spawn(move || housekeep(&shared, &jobs))
                .ok()
        };
        Ok(Self {
            shared,
            workers,
            housekeeper,
            committer: Some(committer),
            control: Some(control),
            poller: None,
        })
    }

    /// The server's statistics.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// Re-reads the configuration file and swaps it in, keeping every
    /// lease. A configuration that does not load is refused and the running
    /// one keeps serving.
    /// The same path serves SIGHUP and the control API's `config-reload`.
    pub fn reload(&self) -> Result<(), ReloadError> {
        control::reload::reload_file(&self.shared)
    }

    /// Polls `url` every `interval` and applies its configuration when its
    /// text changes (SHA-256 differs from `started`, the digest of what the
    /// server started with) and it loads; see [`ConfigSource`]. SIGHUP then
    /// fetches at once.
    pub fn watch_url(&mut self, url: String, interval: Duration, started: [u8; 32]) {
        let shared = Arc::clone(&self.shared);
        self.poller = Some(source::Poller::start(shared, url, interval, started));
    }

    /// Blocks until SIGTERM or SIGINT, reloading on SIGHUP, then stops.
    pub fn run_until_signalled(self) -> std::io::Result<()> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGINT, SIGTERM])?;
        for signal in signals.forever() {
            if signal != SIGHUP {
                info!(signal, "stopping");
                break;
            }
            if let Some(poller) = &self.poller {
                poller.wake();
                continue;
            }
            if let Err(error) = self.reload() {
                warn!(
                    msg_id = "LH_CONFIG_REFUSED",
                    %error,
                    "configuration refused; the running one keeps serving"
                );
            }
        }
        self.stop();
        Ok(())
    }

    /// Stops taking packets, commits what is in flight, and returns.
    pub fn stop(mut self) {
        if let Some(control) = self.control.take() {
            control.stop();
        }
        self.shared.stopping.store(true, Ordering::Relaxed);
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        if let Some(poller) = self.poller.take() {
            poller.join();
        }
        if let Some(housekeeper) = self.housekeeper.take() {
            let _ = housekeeper.join();
        }
        if let Some(committer) = self.committer.take() {
            committer.finish();
        }
        info!("stopped");
    }
}

fn open_store(config: &Config) -> Result<Box<dyn LeaseStore>, StoreError> {
    match &config.lease_database {
        LeaseDatabase::Memfile(memfile) => Ok(Box::new(MemfileStore::open(
            memfile.name.clone(),
            memfile.persist,
        )?)),
        LeaseDatabase::Sql(database) => {
            // Servers sharing the database start their address searches
            // apart; see `leasehold_engine::set_allocation_seed`.
            leasehold_engine::set_allocation_seed(std::process::id() ^ (now() as u32) | 1);
            leasehold_leases::sql::open(&database::params(database))
        }
    }
}

/// Workers per interface: `thread-pool-size`, or one per CPU when it is 0,
/// or one when multi-threading is off.
fn worker_count(config: &Config) -> usize {
    let threading = config.multi_threading;
    if !threading.enabled {
        return 1;
    }
    match threading.thread_pool_size {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        size => size,
    }
}

/// How often a waiting spare worker checks whether the server stops.
const SPARE_CHECK: Duration = Duration::from_millis(200);

/// A worker's part in serving its socket.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Always serves; calls the spare workers when a full batch is queued.
    First,
    /// Serves only while called (see [`Standby`]).
    Spare,
}

/// A worker: receive a batch, decide, send the replies that change no
/// lease, and hand the rest to the committer in one job.
fn serve(
    shared: &Shared,
    socket: &Arc<InterfaceSocket>,
    jobs: &crossbeam_channel::Sender<Job>,
    role: Role,
    standby: &Standby,
) {
    let mut batch = ReceiveBatch::new();
    let mut immediate = Vec::with_capacity(socket::BATCH);
    let mut pending = Vec::new();
    let mut pace = Pace::new(shared.pacing.receive_window, socket::BATCH);
    // Whether the last receive filled the batch: more is queued, so the
    // next one takes it at once.
    let mut full = false;
    while !shared.stopping.load(Ordering::Relaxed) {
        match role {
            Role::First if !full => drop(pace.wait()),
            Role::First => {}
            Role::Spare if !standby.wait(SPARE_CHECK) => continue,
            Role::Spare => {}
        }
        match batch.receive(&socket.socket) {
            Ok(received) => {
                pace.taken(received);
                full = received == socket::BATCH;
                match role {
                    Role::First if received == socket::BATCH => standby.call(),
                    Role::Spare if received < socket::BATCH / 2 => standby.dismiss(),
                    _ => {}
                }
            }
            Err(error) if is_timeout(&error) => {
                full = false;
                continue;
            }
            Err(error) => {
                full = false;
                shared.stats.receive_error(&error);
                continue;
            }
        }
        if !shared.service.is_enabled() {
            // dhcp-disable: taken off the socket, counted, not answered.
            shared
                .stats
                .dropped_while_disabled(batch.datagrams().count());
            continue;
        }
        let engine = shared.engine.load();
        let now = now();
        for (datagram, source) in batch.datagrams() {
            let arrival = Arrival {
                interface: &socket.name,
                local_address: socket.address,
                source,
            };
            let outcome = engine.handle(datagram, &arrival, now);
            shared.stats.count(&outcome);
            if let Some(silence) = outcome.silence {
                debug!(interface = %socket.name, %source, reason = %silence, "no reply");
            }
            match (outcome.changes.is_empty(), outcome.reply) {
                (true, Some(reply)) => immediate.push(reply),
                (true, None) => {}
                (false, reply) => pending.push(Pending {
                    changes: outcome.changes,
                    reply,
                }),
            }
        }
        send_replies(shared, socket, &immediate);
        immediate.clear();
        if pending.is_empty() {
            continue;
        }
        let job = Job::Commit {
            batch: std::mem::take(&mut pending),
            via: Some(Arc::clone(socket)),
        };
        if jobs.send(job).is_err() {
            break;
        }
    }
}

fn is_timeout(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Sends replies through `socket` in as few system calls as possible.
fn send_replies(shared: &Shared, socket: &InterfaceSocket, replies: &[Reply]) {
    let mut datagrams = Vec::with_capacity(replies.len());
    let mut kinds = Vec::with_capacity(replies.len());
    for reply in replies {
        match socket.resolve(reply.destination) {
            Ok(target) => {
                datagrams.push((reply.bytes.as_slice(), target));
                kinds.push(reply.message_type);
            }
            Err(error) => shared.stats.send_error(&error, reply.destination),
        }
    }
    let failures = socket.send_batch(&datagrams);
    for (index, kind) in kinds.into_iter().enumerate() {
        match failures.iter().find(|(failed, _)| *failed == index) {
            None => shared.stats.sent(kind),
            Some((_, error)) => shared.stats.send_error(error, replies[index].destination),
        }
    }
}

/// Reclaims expired leases on Kea's timer and compacts the lease file
/// every `lfc-interval`.
fn housekeep(shared: &Shared, jobs: &crossbeam_channel::Sender<Job>) {
    let tick = Duration::from_millis(200);
    let mut since_reclaim = Duration::ZERO;
    let mut since_compaction = Duration::ZERO;
    while !shared.stopping.load(Ordering::Relaxed) {
        std::thread::sleep(tick);
        since_reclaim += tick;
        since_compaction += tick;
        let engine = shared.engine.load();
        let config = engine.config();
        let expired = config.expired_leases;
        if expired.reclaim_timer_wait_time > 0
            && since_reclaim >= Duration::from_secs(expired.reclaim_timer_wait_time.into())
        {
            since_reclaim = Duration::ZERO;
            let limit = match expired.max_reclaim_leases {
                0 => usize::MAX,
                limit => limit as usize,
            };
            let changes = engine.reclaim_expired(now(), limit);
            if !changes.is_empty() {
                shared.stats.reclaimed(changes.len());
                shared.stats.reclaimed_changes(&changes);
                let batch = vec![Pending {
                    changes,
                    reply: None,
                }];
                let _ = jobs.send(Job::Commit { batch, via: None });
            }
        }
        let Some(memfile) = config.lease_database.memfile() else {
            continue;
        };
        if memfile.lfc_interval > 0
            && since_compaction >= Duration::from_secs(memfile.lfc_interval.into())
        {
            since_compaction = Duration::ZERO;
            let _ = jobs.send(Job::Compact);
        }
    }
}
