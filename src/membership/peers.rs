//! What a node knows of the other listed nodes: which incarnation it
//! heard last and when, their last heartbeat, and from that the failure
//! detector and the choice of a coordinator (see the module documentation).

use std::time::{Duration, Instant};

use super::replay::ReplayWindow;
use super::status::Refusals;
use super::wire::{Heartbeat, Member};

/// A node we heard within this many time-outs is "recently lost" once we
/// no longer hear it.
const RECENTLY_LOST_TIMEOUTS: u32 = 3;

#[derive(Debug, Default)]
pub(super) struct Peer {
    pub window: ReplayWindow,
    /// Newest incarnation heard from this node.
    pub incarnation: Option<u64>,
    /// The incarnation that said LEAVE (it and older ones are refused).
    pub departed: Option<u64>,
    pub last_heard: Option<Instant>,
    /// Since when we hear this incarnation without interruption.
    pub heard_since: Option<Instant>,
    /// Its last heartbeat (of its newest incarnation).
    pub heartbeat: Option<Heartbeat>,
    /// The counter of the datagram that carried it.
    pub heartbeat_counter: Option<u64>,
    /// Since when its heartbeats say, without a break, that it does not
    /// hear us.
    pub unheard_since: Option<Instant>,
    /// It did not answer our last proposal: left out of our wanted set
    /// until then.
    pub declined_until: Option<Instant>,
    /// The send time (its clock) of its latest heartbeat, and when that
    /// heartbeat arrived: what our echoes carry.
    pub echo: Option<(u64, Instant)>,
    /// When the latest heartbeat of it that our echoes vouched for (flag
    /// set) arrived: the start of our promise to it.
    pub vouched: Option<Instant>,
    /// Until when its echo keeps our lease.
    pub lease: Option<Instant>,
    pub refusals: Refusals,
}

impl Peer {
    /// Takes its latest heartbeat.
    pub(super) fn heartbeat_heard(&mut self, hb: Heartbeat, me: u8, now: Instant) {
        if hb.hears & bit(me) == 0 {
            self.unheard_since.get_or_insert(now);
        } else {
            self.unheard_since = None;
        }
        self.heartbeat = Some(hb);
    }

    /// Its newest incarnation has not left.
    fn present(&self) -> bool {
        match (self.incarnation, self.departed) {
            (Some(inc), Some(gone)) => inc > gone,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    pub(super) fn hears(&self, now: Instant, timeout: Duration) -> bool {
        self.present() && self.last_heard.is_some_and(|t| now < t + timeout)
    }

    /// Heard once, not now, and not long ago.
    pub(super) fn recently_lost(&self, now: Instant, timeout: Duration) -> bool {
        !self.hears(now, timeout)
            && self
                .last_heard
                .is_some_and(|t| now < t + timeout * RECENTLY_LOST_TIMEOUTS)
    }

    pub(super) fn member(&self, node: u8) -> Option<Member> {
        self.incarnation
            .map(|incarnation| Member { node, incarnation })
    }

    /// When we stop hearing this peer unless it speaks again: the one
    /// change by the passing of time that must act at once (a failure).
    /// The others (a one-way link confirmed, a lost node forgotten, a
    /// decline expired) only speed convergence and wait for our next
    /// heartbeat.
    pub(super) fn expiry(&self, now: Instant, timeout: Duration) -> Option<Instant> {
        let t = self.last_heard? + timeout;
        (t > now).then_some(t)
    }
}

/// The failure detector's view of every listed node, from one node.
#[derive(Debug)]
pub(super) struct Peers {
    pub me: u8,
    pub timeout: Duration,
    pub list: Vec<Peer>,
}

fn bit(node: u8) -> u32 {
    1u32 << node
}

impl Peers {
    pub(super) fn new(count: usize, me: u8, timeout: Duration) -> Peers {
        Peers {
            me,
            timeout,
            list: (0..count).map(|_| Peer::default()).collect(),
        }
    }

    pub(super) fn others(&self) -> impl Iterator<Item = u8> + '_ {
        let me = self.me;
        (0..self.list.len() as u8).filter(move |&n| n != me)
    }

    pub(super) fn get(&self, node: u8) -> &Peer {
        &self.list[usize::from(node)]
    }

    pub(super) fn get_mut(&mut self, node: u8) -> &mut Peer {
        &mut self.list[usize::from(node)]
    }

    pub(super) fn hears(&self, node: u8, now: Instant) -> bool {
        node != self.me && self.get(node).hears(now, self.timeout)
    }

    /// Both ways: we hear it, and its last heartbeat says it hears us.
    pub(super) fn reaches(&self, node: u8, now: Instant) -> bool {
        self.hears(node, now)
            && self
                .get(node)
                .heartbeat
                .as_ref()
                .is_some_and(|hb| hb.hears & bit(self.me) != 0)
    }

    pub(super) fn hears_bitmap(&self, now: Instant) -> u32 {
        self.others()
            .filter(|&n| self.hears(n, now))
            .fold(0, |acc, n| acc | bit(n))
    }

    pub(super) fn reach_bitmap(&self, now: Instant) -> u32 {
        self.others()
            .filter(|&n| self.reaches(n, now))
            .fold(0, |acc, n| acc | bit(n))
    }

    /// Some node we have heard for a whole time-out has said for a whole
    /// time-out that it does not hear us: the link is one-way and we are
    /// the side that cannot be heard. (One heartbeat saying so proves
    /// little on a lossy link; a time-out of them is what the failure
    /// detector itself would need to suspect us.)
    pub(super) fn deferring(&self, now: Instant) -> bool {
        self.others().any(|n| {
            let peer = self.get(n);
            self.hears(n, now)
                && peer.heard_since.is_some_and(|s| now >= s + self.timeout)
                && peer.unheard_since.is_some_and(|s| now >= s + self.timeout)
        })
    }

    /// `node` (which we reach) coordinates, or is about to: it names
    /// itself, or names a node we have just lost.
    fn eligible(&self, node: u8, now: Instant) -> bool {
        match self.get(node).heartbeat.as_ref().and_then(|hb| hb.choice) {
            Some(c) if c == node => true,
            Some(c) if usize::from(c) < self.list.len() && c != self.me => {
                self.get(c).recently_lost(now, self.timeout)
            }
            _ => false,
        }
    }

    /// The coordinator we follow: the lowest eligible node we reach, or
    /// ourselves. `None` while undecided or deferring (decided by the
    /// caller for the first, here for the second).
    pub(super) fn choice(&self, now: Instant) -> Option<u8> {
        if self.deferring(now) {
            return None;
        }
        (0..self.list.len() as u8)
            .find(|&n| n == self.me || (self.reaches(n, now) && self.eligible(n, now)))
    }

    /// As coordinator: the nodes we would put in our view besides us.
    pub(super) fn wanted(&self, now: Instant) -> Vec<Member> {
        self.others()
            .filter(|&n| {
                let peer = self.get(n);
                let follows = match peer.heartbeat.as_ref().and_then(|hb| hb.choice) {
                    Some(c) if c == self.me => true,
                    Some(c) if usize::from(c) < self.list.len() && c != n => {
                        self.get(c).recently_lost(now, self.timeout)
                    }
                    _ => false,
                };
                self.reaches(n, now) && follows && peer.declined_until.map_or(true, |t| now >= t)
            })
            .filter_map(|n| self.get(n).member(n))
            .collect()
    }

    pub(super) fn next_expiry(&self, now: Instant) -> Option<Instant> {
        self.others()
            .filter_map(|n| self.get(n).expiry(now, self.timeout))
            .min()
    }
}
