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
//! What is sent when is decided by a pure `schedule` (the time is an
//! argument) that sends through a `link`; the worker thread here only
//! feeds it commands and the clock. It opens its packet sockets in the
//! network namespace it was spawned in.
//!
//! With a [`Lease`], nothing is sent unless the lease was renewed
//! recently: a process that was stopped or starved wakes with all its
//! threads at once, and the announcer must not go on announcing addresses
//! that the cluster may have moved meanwhile before the owner of the lease
//! (the group service) has had its turn to find out.

mod job;
mod link;
mod refresh;
mod schedule;
#[cfg(test)]
mod tests;
mod walk;

use std::net::Ipv4Addr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::arp::Mac;
use super::error::Error;
pub use super::lease::Lease;
use crate::base::{NotifyTarget, VifAddress};
use link::Sockets;
use schedule::Schedule;

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

/// What the worker tells its owner about an announcement.
#[derive(Debug)]
pub enum AnnounceReport {
    /// Every frame of the VIF's announcement has been sent.
    Done {
        /// The VIF announced.
        vif_index: usize,
    },
    /// The announcement stopped at this error (the rest is not sent; the
    /// refresh, if any, still covers the VIF's addresses).
    Failed {
        /// The VIF announced.
        vif_index: usize,
        /// Why, naming the interface and address.
        error: Error,
    },
    /// A periodic refresh of one of the VIF's addresses failed (the next
    /// round tries again).
    RefreshFailed {
        /// The VIF whose address was refreshed.
        vif_index: usize,
        /// Why, naming the interface and address.
        error: Error,
    },
}

/// What the handle asks of the worker.
enum AnnounceCommand {
    Announce(Box<Request>),
    Cancel(usize),
}

/// One VIF to announce: its addresses (already up), whom to notify, and
/// the shared ARP cache the `arp-cache` notify entries walk.
pub(super) struct Request {
    vif_index: usize,
    addresses: Vec<VifAddress>,
    notify: Vec<NotifyTarget>,
    arp_cache: Vec<(Ipv4Addr, Mac)>,
}

/// Handle on the announcer thread. Dropping it stops the thread (work in
/// progress is abandoned).
pub struct Announcer {
    commands: Option<Sender<AnnounceCommand>>,
    worker: Option<JoinHandle<()>>,
}

impl Announcer {
    /// Starts the worker. `report` is called on the worker thread for every
    /// finished or failed announcement (the daemon forwards it to its log).
    pub fn spawn(
        settings: AnnounceSettings,
        report: impl FnMut(AnnounceReport) + Send + 'static,
    ) -> std::io::Result<Announcer> {
        Announcer::spawn_leased(settings, None, report)
    }

    /// As [`spawn`](Announcer::spawn), sending only while `lease` (if
    /// any) is valid.
    pub fn spawn_leased(
        settings: AnnounceSettings,
        lease: Option<Arc<Lease>>,
        report: impl FnMut(AnnounceReport) + Send + 'static,
    ) -> std::io::Result<Announcer> {
        let (commands, inbox) = mpsc::channel();
        let worker = thread::Builder::new()
            .name("announcer".into())
            .spawn(move || {
                let worker = AnnounceWorker {
                    schedule: Schedule::new(settings, lease, Instant::now()),
                    link: Sockets::default(),
                    report: Box::new(report),
                };
                worker.run(inbox)
            })?;
        Ok(Announcer {
            commands: Some(commands),
            worker: Some(worker),
        })
    }

    fn send(&self, command: AnnounceCommand) {
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
        self.send(AnnounceCommand::Announce(Box::new(Request {
            vif_index,
            addresses,
            notify,
            arp_cache,
        })));
    }

    /// Stops whatever is still to be sent for VIF `vif_index`, refresh
    /// included (on release).
    pub fn cancel(&self, vif_index: usize) {
        self.send(AnnounceCommand::Cancel(vif_index));
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

/// The thread around a [`Schedule`]: it waits for a command or for the
/// next thing due, and sends on packet sockets it opens itself (in the
/// network namespace it was spawned in).
struct AnnounceWorker {
    schedule: Schedule,
    link: Sockets,
    report: Box<dyn FnMut(AnnounceReport) + Send>,
}

impl AnnounceWorker {
    fn apply(&mut self, command: AnnounceCommand) {
        match command {
            AnnounceCommand::Announce(request) => self.schedule.announce(*request, Instant::now()),
            AnnounceCommand::Cancel(vif_index) => self.schedule.cancel(vif_index),
        }
    }

    fn run(mut self, inbox: Receiver<AnnounceCommand>) {
        loop {
            let command = match self.schedule.next_due() {
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
            for report in self.schedule.run_due(Instant::now(), &mut self.link) {
                (self.report)(report);
            }
        }
    }
}
