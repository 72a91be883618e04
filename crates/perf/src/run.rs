//! The perf loop: paces exchanges, sends and receives in batches, feeds the clients.
//!
//! One thread does everything. Each turn it starts the exchanges that are due, sends them
//! with one `sendmmsg`, drains every reply that is waiting with `recvmmsg` (answering OFFERs
//! with REQUESTs in the same batch), counts the requests that timed out, and then sleeps in
//! `ppoll` until the next exchange is due, a reply arrives or a request times out. After the
//! last exchange has started it waits for the requests in flight, at most a drop timeout.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use crate::client::{Clients, Mode, Settings};
use crate::error::Error;
use crate::pacer::Pacer;
use crate::report::{Report, Stage, Stats};
use crate::socket::{BATCH, BatchSocket, Inbox, Outbox};

/// The server port.
pub const SERVER_PORT: u16 = 67;
/// The longest the loop sleeps, so that the progress line stays current.
const MAX_SLEEP: Duration = Duration::from_millis(100);

/// How the generator reaches the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// As a relay agent from `local`, whose address is the giaddr. Port 67 gets replies the
    /// usual way (perfdhcp's `-l`); any other port, 0 for an ephemeral one, sends the RFC 8357
    /// relay source port sub-option so replies come back to that port.
    Relay {
        /// Local address and port.
        local: SocketAddrV4,
    },
    /// As directly attached clients on `interface`: UDP from port 68 with the broadcast flag;
    /// replies are broadcast to port 68 on that link. Not a raw socket: the kernel routes the
    /// requests, so the destination must be reachable through the interface.
    Broadcast {
        /// Interface name.
        interface: String,
    },
}

impl Transport {
    /// Opens the socket.
    pub(crate) fn open(&self) -> Result<BatchSocket, Error> {
        match self {
            Self::Relay { local } => BatchSocket::bind(*local),
            Self::Broadcast { interface } => BatchSocket::broadcast(interface),
        }
    }

    /// The client mode that goes with this transport.
    pub fn mode(&self) -> Mode {
        match self {
            Self::Relay { local } => Mode::Relay {
                giaddr: *local.ip(),
                source_port: local.port() != SERVER_PORT,
            },
            Self::Broadcast { .. } => Mode::Broadcast,
        }
    }
}

/// The local address the kernel would send from to reach `server` (no packet is sent).
pub fn local_address_towards(server: Ipv4Addr) -> Result<Ipv4Addr, Error> {
    let target = SocketAddrV4::new(server, SERVER_PORT);
    let no_route = |source| Error::NoRoute {
        server: target,
        source,
    };
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(no_route)?;
    socket.connect(target).map_err(no_route)?;
    match socket.local_addr().map_err(no_route)? {
        std::net::SocketAddr::V4(local) => Ok(*local.ip()),
        std::net::SocketAddr::V6(_) => Err(no_route(std::io::Error::other("not IPv4"))),
    }
}

/// A perf run: where to, how, how much.
#[derive(Debug, Clone)]
pub struct PerfConfig {
    /// Where requests go (port 67; the broadcast address in broadcast mode).
    pub server: SocketAddrV4,
    /// How requests reach the server.
    pub transport: Transport,
    /// The clients; `settings.mode` is set from the transport.
    pub settings: Settings,
    /// Exchanges started per second; `None` for as fast as `window` allows.
    pub rate: Option<f64>,
    /// Stop after starting this many exchanges.
    pub exchanges: Option<u64>,
    /// Stop starting exchanges after this long.
    pub duration: Option<Duration>,
    /// Without a rate, at most this many requests in flight.
    pub window: usize,
    /// Print a progress line to stdout each second.
    pub progress: bool,
}

/// Runs the load and returns its report.
pub fn run(config: &PerfConfig) -> Result<Report, Error> {
    let mut settings = config.settings.clone();
    settings.mode = config.transport.mode();
    settings.validate().map_err(Error::Settings)?;
    if config.exchanges.is_none() && config.duration.is_none() {
        return Err(Error::Settings(
            "give a number of exchanges or a duration".into(),
        ));
    }
    let socket = config.transport.open()?;
    let mut run = Run {
        socket,
        server: config.server,
        clients: Clients::new(settings),
        outbox: Outbox::new(),
        inbox: Inbox::new(),
        last_reply: None,
    };
    let start = Instant::now();
    let mut pacer = Pacer::new(start, config.rate, config.exchanges, config.duration);
    let mut progress = config.progress.then(|| Progress::new(start));
    let mut sending_ended = None;

    loop {
        let now = Instant::now();
        let room = match config.rate {
            Some(_) => u64::MAX,
            None => config.window.saturating_sub(run.clients.in_flight()) as u64,
        };
        let due = pacer.due(now).min(room).min(4 * BATCH as u64);
        run.start(due, now)?;
        pacer.record(due);
        let received = run.receive()?;
        let now = Instant::now();
        run.clients.expire(now);
        if let Some(progress) = &mut progress {
            progress.update(now, run.clients.stats());
        }

        if pacer.is_done(now) {
            let ended = *sending_ended.get_or_insert(now);
            if run.clients.in_flight() == 0 {
                let elapsed = run.last_reply.map_or(ended, |last| last.max(ended)) - start;
                if progress.is_some() {
                    println!();
                }
                return Ok(Report {
                    stats: run.clients.into_stats(),
                    elapsed,
                    target_rate: config.rate,
                    do_only: config.settings.do_only,
                });
            }
        }
        if received > 0 || (config.rate.is_none() && room > due && !pacer.is_done(now)) {
            continue;
        }
        let wake = [pacer.next_due(now), run.clients.next_deadline()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now + MAX_SLEEP);
        let sleep = wake.saturating_duration_since(now).min(MAX_SLEEP);
        if !sleep.is_zero() {
            run.socket.wait_readable(sleep)?;
        }
    }
}

/// The state of one run that the loop hands around.
struct Run {
    socket: BatchSocket,
    server: SocketAddrV4,
    clients: Clients,
    outbox: Outbox,
    inbox: Inbox,
    last_reply: Option<Instant>,
}

impl Run {
    /// Starts `count` exchanges and sends their first requests.
    fn start(&mut self, count: u64, now: Instant) -> Result<(), Error> {
        for _ in 0..count {
            let Some(request) = self.clients.start(now) else {
                continue;
            };
            self.outbox
                .push(self.server, |buffer| request.encode(buffer));
            if self.outbox.is_full() {
                self.socket.send(&mut self.outbox)?;
            }
        }
        if !self.outbox.is_empty() {
            self.socket.send(&mut self.outbox)?;
        }
        Ok(())
    }

    /// Reads every reply that is waiting and sends the requests they call for.
    fn receive(&mut self) -> Result<usize, Error> {
        let mut total = 0;
        loop {
            let count = self.socket.receive(&mut self.inbox)?;
            if count == 0 {
                return Ok(total);
            }
            total += count;
            let now = Instant::now();
            self.last_reply = Some(now);
            for (datagram, _) in self.inbox.datagrams() {
                if let Some(request) = self.clients.on_reply(datagram, now) {
                    self.outbox
                        .push(self.server, |buffer| request.encode(buffer));
                }
            }
            if !self.outbox.is_empty() {
                self.socket.send(&mut self.outbox)?;
            }
            if count < BATCH {
                return Ok(total);
            }
        }
    }
}

/// The live progress line.
struct Progress {
    start: Instant,
    next: Instant,
    last_completed: u64,
}

impl Progress {
    fn new(start: Instant) -> Self {
        Self {
            start,
            next: start + Duration::from_secs(1),
            last_completed: 0,
        }
    }

    fn update(&mut self, now: Instant, stats: &Stats) {
        if now < self.next {
            return;
        }
        self.next += Duration::from_secs(1);
        let offers = stats.stage(Stage::DiscoverOffer).received;
        let acks: u64 = [Stage::RequestAck, Stage::Renew]
            .iter()
            .map(|&stage| stats.stage(stage).received)
            .sum();
        let drops: u64 = Stage::ALL
            .iter()
            .map(|&stage| stats.stage(stage).drops)
            .sum();
        let sent: u64 = Stage::ALL
            .iter()
            .map(|&stage| stats.stage(stage).sent)
            .sum();
        let completed = acks.max(offers);
        let rate = completed - self.last_completed;
        self.last_completed = completed;
        print!(
            "\r[{:>4}s] sent {sent}  offers {offers}  acks {acks}  drops {drops}  {rate}/s   ",
            (now - self.start).as_secs()
        );
        let _ = std::io::stdout().flush();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread;

    use super::*;
    use crate::responder::Responder;

    /// A responder on an ephemeral loopback port, answered from another thread.
    fn responder() -> (SocketAddrV4, Arc<AtomicBool>, thread::JoinHandle<u64>) {
        let responder = Responder::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).unwrap();
        let address = responder.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || responder.serve(&flag).unwrap());
        (address, stop, thread)
    }

    fn config(server: SocketAddrV4) -> PerfConfig {
        let local = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
        let mut settings = Settings::relay(*local.ip(), 500);
        settings.unique_check = true;
        PerfConfig {
            server,
            transport: Transport::Relay { local },
            settings,
            rate: Some(2000.0),
            exchanges: Some(400),
            duration: None,
            window: 100,
            progress: false,
        }
    }

    #[test]
    fn a_paced_run_completes_every_exchange() {
        let (server, stop, thread) = responder();
        let report = run(&config(server)).unwrap();
        stop.store(true, Ordering::Relaxed);
        assert_eq!(thread.join().unwrap(), 800);

        assert_eq!(report.completed(), 400, "{}", report.text());
        assert!(report.is_unique());
        let discover = report.stats.stage(Stage::DiscoverOffer);
        assert_eq!(
            (discover.sent, discover.received, discover.drops),
            (400, 400, 0)
        );
        // 400 exchanges at 2000/s take about 0.2 s.
        assert!(
            report.elapsed >= Duration::from_millis(195),
            "{:?}",
            report.elapsed
        );
        assert!(
            report.elapsed < Duration::from_secs(2),
            "{:?}",
            report.elapsed
        );
    }

    #[test]
    fn an_unpaced_run_with_renewals_and_releases() {
        let (server, stop, thread) = responder();
        let mut config = config(server);
        config.rate = None;
        config.exchanges = Some(3000);
        config.settings.renew_percent = 20;
        config.settings.release_percent = 10;
        let report = run(&config).unwrap();
        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();

        // A renewal or release that finds no bound client is a DORA instead.
        let stats = &report.stats;
        let renewals = stats.stage(Stage::Renew).sent;
        let releases = stats.stage(Stage::Release).sent;
        assert!((500..=600).contains(&renewals), "{}", report.text());
        assert!((250..=300).contains(&releases), "{}", report.text());
        assert_eq!(report.completed(), 3000 - releases);
        assert!(report.is_unique());
    }

    #[test]
    fn without_a_server_everything_is_dropped() {
        let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let std::net::SocketAddr::V4(server) = silent.local_addr().unwrap() else {
            unreachable!("bound to an IPv4 address");
        };
        let mut config = config(server);
        config.exchanges = Some(20);
        config.settings.drop_timeout = Duration::from_millis(50);
        let report = run(&config).unwrap();
        assert_eq!(report.stats.stage(Stage::DiscoverOffer).drops, 20);
        assert_eq!(report.completed(), 0);
    }

    #[test]
    fn the_local_address_towards_loopback_is_loopback() {
        let local = local_address_towards(Ipv4Addr::LOCALHOST).unwrap();
        assert_eq!(local, Ipv4Addr::LOCALHOST);
    }
}
