//! The announcer: a worker thread that makes a LAN learn where a newly
//! acquired VIF lives. For each address it sends gratuitous ARPs (IPv4)
//! or unsolicited neighbour advertisements to all nodes (IPv6),
//! immediately, then repeated, and walks the `Notify` list as the
//! original did (ALGORITHM.md, "ARP announcements"), throttled, for as
//! long as the VIF stays acquired (`job`, `walk`). With a refresh period
//! it also announces every held address again, paced (`refresh`).
//! Callers only ever push a command on a channel: nothing here can delay
//! the state machine.
//!
//! The worker opens its packet sockets in the network namespace it was
//! spawned in.
//!
//! With a [`Lease`], nothing is sent unless the lease was renewed
//! recently: a process that was stopped or starved wakes with all its
//! threads at once, and the announcer must not go on announcing addresses
//! that the cluster may have moved meanwhile before the owner of the lease
//! (the group service) has had its turn to find out.

// The announcer is being rewritten; the crate's documentation and
// visibility lints are enforced here once the rewrite lands.
#![allow(missing_docs, unreachable_pub)]

mod job;
mod refresh;
mod walk;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::arp::Mac;
use super::error::Error;
pub use super::lease::Lease;
use crate::base::{NotifyTarget, VifAddress};
use job::{Job, Senders};
use refresh::Pacer;

/// How gratuitous ARPs and unsolicited neighbour advertisements are
/// repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnounceSettings {
    /// Announcements per address in all, the first one immediately.
    pub gratuitous_count: u32,
    /// Time between two of them.
    pub gratuitous_interval: Duration,
    /// Announce every held address again once per this period, paced
    /// (none: only on acquiring).
    pub refresh: Option<Duration>,
}

impl Default for AnnounceSettings {
    /// Three, at 0, 250 and 500 ms: all within the first second.
    fn default() -> Self {
        AnnounceSettings {
            gratuitous_count: 3,
            gratuitous_interval: Duration::from_millis(250),
            refresh: None,
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
    /// A periodic refresh of one of the VIF's addresses failed (the next
    /// round tries again).
    RefreshFailed { vif_index: usize, error: Error },
}

enum Command {
    Announce(Box<Request>),
    Cancel(usize),
}

pub(super) struct Request {
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

    /// Stops whatever is still to be sent for VIF `vif_index`, refresh
    /// included (on release).
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

struct Worker {
    settings: AnnounceSettings,
    lease: Option<Arc<Lease>>,
    report: Box<dyn FnMut(Report) + Send>,
    jobs: Vec<Job>,
    senders: Senders,
    /// The addresses of every VIF announced and not cancelled since: what
    /// the refresh walks.
    held: BTreeMap<usize, Vec<VifAddress>>,
    pacer: Option<Pacer>,
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
            held: BTreeMap::new(),
            pacer: settings
                .refresh
                .map(|period| Pacer::new(period, Instant::now())),
        }
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::Announce(request) => {
                self.jobs.retain(|j| j.vif_index != request.vif_index);
                self.held
                    .insert(request.vif_index, request.addresses.clone());
                self.jobs.push(Job::new(*request, Instant::now()));
            }
            Command::Cancel(vif_index) => {
                self.jobs.retain(|j| j.vif_index != vif_index);
                self.held.remove(&vif_index);
            }
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
            if let Some(pacer) = &mut self.pacer {
                pacer.postpone(now + LEASE_RETRY);
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
        if let Some(report) = self.refresh_due(now) {
            reports.push(report);
        }
        for report in reports {
            (self.report)(report);
        }
    }

    /// Announces the held address the pacer says is due, if any.
    fn refresh_due(&mut self, now: Instant) -> Option<Report> {
        let pacer = self.pacer.as_mut()?;
        let count = self.held.values().map(Vec::len).sum();
        let index = pacer.due(now, count)?;
        let (&vif_index, vip) = self
            .held
            .iter()
            .flat_map(|(vif, addresses)| addresses.iter().map(move |a| (vif, a)))
            .nth(index)?;
        let error = self.senders.announce(vip).err()?;
        Some(Report::RefreshFailed { vif_index, error })
    }

    /// When the worker next has something to do.
    fn next_due(&self) -> Option<Instant> {
        let jobs = self.jobs.iter().map(|j| j.due).min();
        let refresh = self.pacer.as_ref().map(Pacer::next);
        match (jobs, refresh) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn run(mut self, inbox: Receiver<Command>) {
        loop {
            let command = match self.next_due() {
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
