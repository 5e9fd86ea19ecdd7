//! The announcer: a worker thread that makes a LAN learn where a newly
//! acquired VIF lives. For each address it sends gratuitous ARPs
//! (immediately, then repeated), and walks the `Notify` list as the
//! original did (ALGORITHM.md, "ARP announcements"), throttled, for as
//! long as the VIF stays acquired. Callers only ever push a command on a
//! channel: nothing here can delay the state machine.
//!
//! The worker opens its packet sockets in the network namespace it was
//! spawned in.
//!
//! With a [`Lease`], nothing is sent unless the lease was renewed
//! recently: a process that was stopped or starved wakes with all its
//! threads at once, and the announcer must not go on announcing addresses
//! that the cluster may have moved meanwhile before the owner of the lease
//! (the group service) has had its turn to find out.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::arp::{self, Mac, BROADCAST_MAC};
use super::error::{Error, Result};
pub use super::lease::Lease;
use super::packet::PacketSender;
use crate::config::{prefix_mask, NotifyTarget, VifAddress};

/// How gratuitous ARPs are repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnounceSettings {
    /// Gratuitous ARPs per address in all, the first one immediately.
    pub gratuitous_count: u32,
    /// Time between two of them.
    pub gratuitous_interval: Duration,
}

impl Default for AnnounceSettings {
    /// Three, at 0, 250 and 500 ms: all within the first second.
    fn default() -> Self {
        AnnounceSettings {
            gratuitous_count: 3,
            gratuitous_interval: Duration::from_millis(250),
        }
    }
}

/// How soon a job held back by an expired lease looks again.
const LEASE_RETRY: Duration = Duration::from_millis(1);

/// What the worker tells its owner about an announcement.
#[derive(Debug)]
pub enum Report {
    /// Every frame of the VIF's announcement has been sent.
    Done { vif_index: usize },
    /// The announcement stopped at this error (the rest is not sent).
    Failed { vif_index: usize, error: Error },
}

enum Command {
    Announce(Box<Request>),
    Cancel(usize),
}

struct Request {
    vif_index: usize,
    addresses: Vec<VifAddress>,
    notify: Vec<NotifyTarget>,
    arp_cache: Vec<(Ipv4Addr, Mac)>,
}

/// Handle on the announcer thread. Dropping it stops the thread (work in
/// progress is abandoned).
pub struct Announcer {
    commands: Option<Sender<Command>>,
    worker: Option<JoinHandle<()>>,
}

impl Announcer {
    /// Starts the worker. `report` is called on the worker thread for every
    /// finished or failed announcement (the daemon forwards it to its log).
    pub fn spawn(
        settings: AnnounceSettings,
        report: impl FnMut(Report) + Send + 'static,
    ) -> std::io::Result<Announcer> {
        Announcer::spawn_leased(settings, None, report)
    }

    /// As [`spawn`](Announcer::spawn), sending only while `lease` (if
    /// any) is valid.
    pub fn spawn_leased(
        settings: AnnounceSettings,
        lease: Option<Arc<Lease>>,
        report: impl FnMut(Report) + Send + 'static,
    ) -> std::io::Result<Announcer> {
        let (commands, inbox) = mpsc::channel();
        let worker = thread::Builder::new()
            .name("announcer".into())
            .spawn(move || Worker::new(settings, lease, Box::new(report)).run(inbox))?;
        Ok(Announcer {
            commands: Some(commands),
            worker: Some(worker),
        })
    }

    fn send(&self, command: Command) {
        // The worker only ends when we drop the sender, so this cannot fail
        // while `self` lives; a failure would mean it panicked, and then
        // there is nobody left to announce anyway.
        if let Some(commands) = &self.commands {
            let _ = commands.send(command);
        }
    }

    /// Announces VIF `vif_index`, whose addresses are already up, replacing
    /// any announcement still running for it. `arp_cache` is the
    /// cluster-wide shared ARP cache, walked by `arp-cache` notify entries.
    pub fn announce(
        &self,
        vif_index: usize,
        addresses: Vec<VifAddress>,
        notify: Vec<NotifyTarget>,
        arp_cache: Vec<(Ipv4Addr, Mac)>,
    ) {
        self.send(Command::Announce(Box::new(Request {
            vif_index,
            addresses,
            notify,
            arp_cache,
        })));
    }

    /// Stops whatever is still to be sent for VIF `vif_index` (on release).
    pub fn cancel(&self, vif_index: usize) {
        self.send(Command::Cancel(vif_index));
    }
}

impl Drop for Announcer {
    fn drop(&mut self) {
        self.commands = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// Whom one stretch of the walk notifies.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Destinations {
    /// Every address from `first` to `last` (a CIDR intersection).
    Range { first: u32, last: u32 },
    /// Entries of the shared ARP cache, whose MACs are known.
    Known(Vec<(Ipv4Addr, Mac)>),
}

impl Destinations {
    fn len(&self) -> u64 {
        match self {
            Destinations::Range { first, last } => u64::from(last - first) + 1,
            Destinations::Known(entries) => entries.len() as u64,
        }
    }

    fn get(&self, i: u64) -> (Ipv4Addr, Option<Mac>) {
        match self {
            Destinations::Range { first, .. } => (Ipv4Addr::from(first + i as u32), None),
            Destinations::Known(entries) => {
                let (ip, mac) = entries[i as usize];
                (ip, Some(mac))
            }
        }
    }
}

/// One stretch of the walk: one address of the VIF and one notify entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    /// Index into the VIF's addresses.
    address: usize,
    destinations: Destinations,
    /// At most this many destinations per second.
    throttle: Option<u32>,
    ping: bool,
}

/// The addresses two CIDR blocks have in common, as an inclusive range.
fn intersection(a: (Ipv4Addr, u8), b: (Ipv4Addr, u8)) -> Option<(u32, u32)> {
    let (wide, narrow) = if a.1 <= b.1 { (a, b) } else { (b, a) };
    let wide_mask = prefix_mask(wide.1);
    if u32::from(wide.0) & wide_mask != u32::from(narrow.0) & wide_mask {
        return None;
    }
    let mask = prefix_mask(narrow.1);
    let first = u32::from(narrow.0) & mask;
    Some((first, first | !mask))
}

/// The walk for a VIF: for every address, every notify entry in order.
fn plan(
    addresses: &[VifAddress],
    notify: &[NotifyTarget],
    arp_cache: &[(Ipv4Addr, Mac)],
) -> Vec<Segment> {
    let mut walk = Vec::new();
    for (index, address) in addresses.iter().enumerate() {
        let attached = address.attached_network();
        for target in notify {
            let segment = match target {
                NotifyTarget::Network {
                    interface,
                    block,
                    throttle,
                    ping,
                } => {
                    if *interface != address.interface {
                        continue;
                    }
                    let Some((first, last)) = intersection(
                        (attached.addr, attached.prefix_len),
                        (block.addr, block.prefix_len),
                    ) else {
                        continue;
                    };
                    Segment {
                        address: index,
                        destinations: Destinations::Range { first, last },
                        throttle: throttle.filter(|t| *t > 0),
                        ping: *ping,
                    }
                }
                NotifyTarget::ArpCache { ping } => {
                    let known: Vec<_> = arp_cache
                        .iter()
                        .copied()
                        .filter(|(ip, _)| attached.contains(*ip))
                        .collect();
                    if known.is_empty() {
                        continue;
                    }
                    Segment {
                        address: index,
                        destinations: Destinations::Known(known),
                        throttle: None,
                        ping: *ping,
                    }
                }
            };
            walk.push(segment);
        }
    }
    walk
}

/// Destinations handled per turn, so commands (a cancel) are seen quickly
/// even during a long unthrottled walk.
const TURN: u32 = 32;

/// Packet senders by interface, opened on first use and kept for later
/// announcements: closing an AF_PACKET socket waits for an RCU grace
/// period (milliseconds), which must not delay the next acquisition.
#[derive(Default)]
struct Senders(HashMap<String, PacketSender>);

impl Senders {
    /// Our MAC on `vip`'s interface; errors name `vip`.
    fn mac(&mut self, vip: &VifAddress) -> Result<Mac> {
        if let Some(sender) = self.0.get(&vip.interface) {
            return Ok(sender.mac());
        }
        let sender = PacketSender::open(&vip.interface).map_err(|e| Error {
            address: Some(vip.addr),
            ..e
        })?;
        let mac = sender.mac();
        self.0.insert(vip.interface.clone(), sender);
        Ok(mac)
    }

    /// Sends `frame` about `vip`. A sender that failed is dropped, so a
    /// re-created interface gets a fresh one next time.
    fn send(&mut self, vip: &VifAddress, frame: &[u8]) -> Result<()> {
        self.mac(vip)?;
        let result = self.0[&vip.interface].send(frame, vip.addr);
        if result.is_err() {
            self.0.remove(&vip.interface);
        }
        result
    }
}

/// One VIF's announcement in progress.
struct Job {
    vif_index: usize,
    addresses: Vec<VifAddress>,
    started: Instant,
    gratuitous_sent: u32,
    walk: Vec<Segment>,
    segment: usize,
    position: u64,
    /// Start and size of the current throttle batch.
    batch: Option<(Instant, u32)>,
    echo_sequence: u16,
    /// When it next has something to send.
    due: Instant,
}

impl Job {
    fn new(request: Request, now: Instant) -> Job {
        let walk = plan(&request.addresses, &request.notify, &request.arp_cache);
        Job {
            vif_index: request.vif_index,
            addresses: request.addresses,
            started: now,
            gratuitous_sent: 0,
            walk,
            segment: 0,
            position: 0,
            batch: None,
            echo_sequence: 0,
            due: now,
        }
    }

    /// Sends what is due at `now`; returns when it next has work, or
    /// `None` once everything has been sent.
    fn step(
        &mut self,
        now: Instant,
        settings: &AnnounceSettings,
        senders: &mut Senders,
    ) -> Result<Option<Instant>> {
        let mut next_gratuitous = None;
        if self.gratuitous_sent < settings.gratuitous_count {
            let at = self.started + settings.gratuitous_interval * self.gratuitous_sent;
            if at <= now {
                for vip in &self.addresses {
                    let frame = arp::gratuitous(senders.mac(vip)?, vip.addr);
                    senders.send(vip, &frame)?;
                }
                self.gratuitous_sent += 1;
            }
            if self.gratuitous_sent < settings.gratuitous_count {
                next_gratuitous =
                    Some(self.started + settings.gratuitous_interval * self.gratuitous_sent);
            }
        }
        let next_walk = self.walk_turn(now, senders)?;
        Ok(match (next_gratuitous, next_walk) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// Walks up to [`TURN`] destinations, respecting throttles.
    fn walk_turn(&mut self, now: Instant, senders: &mut Senders) -> Result<Option<Instant>> {
        for _ in 0..TURN {
            let Some(segment) = self.walk.get(self.segment) else {
                return Ok(None);
            };
            let (throttle, ping, address) = (segment.throttle, segment.ping, segment.address);
            let (destination, mac) = segment.destinations.get(self.position);
            let length = segment.destinations.len();
            if let Some(limit) = throttle {
                match self.batch {
                    Some((start, sent)) if sent >= limit => {
                        let resume = start + Duration::from_secs(1);
                        if now < resume {
                            return Ok(Some(resume));
                        }
                        self.batch = Some((now, 0));
                    }
                    None => self.batch = Some((now, 0)),
                    Some(_) => {}
                }
            }
            self.notify(senders, address, destination, mac, ping)?;
            if let Some((_, sent)) = &mut self.batch {
                *sent += 1;
            }
            self.position += 1;
            if self.position == length {
                self.segment += 1;
                self.position = 0;
                self.batch = None;
            }
        }
        Ok(Some(now))
    }

    /// Tells `destination` that the VIP lives at our MAC: the broadcast
    /// reply twice, the unicast one twice when its MAC is known, then an
    /// echo request with `ping`.
    fn notify(
        &mut self,
        senders: &mut Senders,
        address: usize,
        destination: Ipv4Addr,
        mac: Option<Mac>,
        ping: bool,
    ) -> Result<()> {
        let vip = &self.addresses[address];
        self.echo_sequence = self.echo_sequence.wrapping_add(1);
        let sequence = self.echo_sequence;
        let ours = senders.mac(vip)?;
        let broadcast = arp::notification(ours, vip.addr, destination, BROADCAST_MAC);
        senders.send(vip, &broadcast)?;
        senders.send(vip, &broadcast)?;
        if let Some(mac) = mac {
            let unicast = arp::notification(ours, vip.addr, destination, mac);
            senders.send(vip, &unicast)?;
            senders.send(vip, &unicast)?;
        }
        if ping {
            let echo = arp::echo_request(
                ours,
                vip.addr,
                destination,
                mac.unwrap_or(BROADCAST_MAC),
                sequence,
            );
            senders.send(vip, &echo)?;
        }
        Ok(())
    }
}

struct Worker {
    settings: AnnounceSettings,
    lease: Option<Arc<Lease>>,
    report: Box<dyn FnMut(Report) + Send>,
    jobs: Vec<Job>,
    senders: Senders,
}

impl Worker {
    fn new(
        settings: AnnounceSettings,
        lease: Option<Arc<Lease>>,
        report: Box<dyn FnMut(Report) + Send>,
    ) -> Worker {
        Worker {
            settings,
            lease,
            report,
            jobs: Vec::new(),
            senders: Senders::default(),
        }
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::Announce(request) => {
                self.jobs.retain(|j| j.vif_index != request.vif_index);
                self.jobs.push(Job::new(*request, Instant::now()));
            }
            Command::Cancel(vif_index) => self.jobs.retain(|j| j.vif_index != vif_index),
        }
    }

    /// Runs every job that is due; drops the finished and failed ones.
    fn run_due(&mut self) {
        let now = Instant::now();
        if self.lease.as_ref().is_some_and(|lease| !lease.valid(now)) {
            // Held back: the jobs wait (a cancel may come meanwhile).
            for job in self.jobs.iter_mut().filter(|job| job.due <= now) {
                job.due = now + LEASE_RETRY;
            }
            return;
        }
        let settings = self.settings;
        let mut reports = Vec::new();
        let senders = &mut self.senders;
        self.jobs.retain_mut(|job| {
            if job.due > now {
                return true;
            }
            match job.step(now, &settings, senders) {
                Ok(Some(due)) => {
                    job.due = due;
                    true
                }
                Ok(None) => {
                    reports.push(Report::Done {
                        vif_index: job.vif_index,
                    });
                    false
                }
                Err(error) => {
                    reports.push(Report::Failed {
                        vif_index: job.vif_index,
                        error,
                    });
                    false
                }
            }
        });
        for report in reports {
            (self.report)(report);
        }
    }

    fn run(mut self, inbox: Receiver<Command>) {
        loop {
            let command = match self.jobs.iter().map(|j| j.due).min() {
                None => inbox.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(due) => inbox.recv_timeout(due.saturating_duration_since(Instant::now())),
            };
            match command {
                Ok(command) => {
                    self.apply(command);
                    while let Ok(more) = inbox.try_recv() {
                        self.apply(more);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            self.run_due();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Ipv4Block;

    fn vip(interface: &str, addr: [u8; 4], network_len: u8) -> VifAddress {
        VifAddress {
            interface: interface.into(),
            addr: addr.into(),
            prefix_len: 32,
            network_len,
        }
    }

    fn network(
        interface: &str,
        addr: [u8; 4],
        prefix_len: u8,
        throttle: Option<u32>,
    ) -> NotifyTarget {
        NotifyTarget::Network {
            interface: interface.into(),
            block: Ipv4Block {
                addr: addr.into(),
                prefix_len,
            },
            throttle,
            ping: false,
        }
    }

    fn range(first: [u8; 4], last: [u8; 4]) -> Destinations {
        Destinations::Range {
            first: Ipv4Addr::from(first).into(),
            last: Ipv4Addr::from(last).into(),
        }
    }

    #[test]
    fn intersections_of_blocks() {
        let a = |o: [u8; 4], l| (Ipv4Addr::from(o), l);
        let lo = |o: [u8; 4]| u32::from(Ipv4Addr::from(o));
        assert_eq!(
            intersection(a([10, 0, 0, 0], 24), a([10, 0, 0, 16], 28)),
            Some((lo([10, 0, 0, 16]), lo([10, 0, 0, 31])))
        );
        assert_eq!(
            intersection(a([10, 0, 0, 0], 16), a([10, 0, 7, 9], 24)),
            Some((lo([10, 0, 7, 0]), lo([10, 0, 7, 255])))
        );
        assert_eq!(
            intersection(a([10, 0, 0, 0], 24), a([10, 0, 1, 0], 24)),
            None
        );
        assert_eq!(
            intersection(a([0, 0, 0, 0], 0), a([10, 0, 1, 9], 32)),
            Some((lo([10, 0, 1, 9]), lo([10, 0, 1, 9])))
        );
    }

    #[test]
    fn plan_keeps_same_interface_and_attached_network_only() {
        let addresses = [
            vip("eth0", [10, 0, 0, 5], 24),
            vip("eth1", [192, 0, 2, 5], 29),
        ];
        let notify = [
            network("eth0", [10, 0, 0, 0], 16, Some(50)),
            network("eth0", [10, 9, 0, 0], 24, None), // outside 10.0.0.0/24
            network("eth1", [192, 0, 2, 0], 24, None),
            NotifyTarget::ArpCache { ping: true },
        ];
        let cache = [
            (Ipv4Addr::new(10, 0, 0, 9), [1; 6]),
            (Ipv4Addr::new(10, 0, 1, 9), [2; 6]),
            (Ipv4Addr::new(192, 0, 2, 3), [3; 6]),
            (Ipv4Addr::new(192, 0, 2, 9), [4; 6]),
        ];
        let walk = plan(&addresses, &notify, &cache);
        assert_eq!(
            walk,
            vec![
                Segment {
                    address: 0,
                    destinations: range([10, 0, 0, 0], [10, 0, 0, 255]),
                    throttle: Some(50),
                    ping: false
                },
                Segment {
                    address: 0,
                    destinations: Destinations::Known(vec![(Ipv4Addr::new(10, 0, 0, 9), [1; 6])]),
                    throttle: None,
                    ping: true
                },
                Segment {
                    address: 1,
                    destinations: range([192, 0, 2, 0], [192, 0, 2, 7]),
                    throttle: None,
                    ping: false
                },
                Segment {
                    address: 1,
                    destinations: Destinations::Known(vec![(Ipv4Addr::new(192, 0, 2, 3), [3; 6])]),
                    throttle: None,
                    ping: true
                },
            ]
        );
    }

    #[test]
    fn zero_throttle_means_no_limit() {
        let walk = plan(
            &[vip("eth0", [10, 0, 0, 5], 24)],
            &[network("eth0", [10, 0, 0, 0], 30, Some(0))],
            &[],
        );
        assert_eq!(walk[0].throttle, None);
        assert_eq!(walk[0].destinations.len(), 4);
    }
}
