//! What a node knows of the other listed nodes: which incarnation it
//! heard last and when, their last heartbeat, and from that the failure
//! detector and the choice of a coordinator (see the module documentation).

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::links::PeerLinks;
use super::replay::ReplayWindow;
use super::status::Refusals;
use super::unreachable::Bounce;
use super::wire::{Heartbeat, KeyId, Member};

/// A node whose heartbeat said it heard us within this many time-outs is
/// "recently lost" once we no longer reach it.
const RECENTLY_LOST_TIMEOUTS: u32 = 3;

#[derive(Debug, Default)]
pub(super) struct Peer {
    pub window: ReplayWindow,
    /// Newest incarnation heard from this node.
    pub incarnation: Option<u64>,
    /// The incarnation that said LEAVE (it and older ones are refused).
    pub departed: Option<u64>,
    /// When a datagram of it last arrived here (directly).
    pub last_heard: Option<Instant>,
    /// The latest moment another node heard its newest incarnation
    /// directly, as that node's heartbeats relayed it (see "Failure
    /// detector" in the module documentation).
    pub relayed: Option<Instant>,
    /// Since when we hear this incarnation without interruption.
    pub heard_since: Option<Instant>,
    /// Its last heartbeat (of its newest incarnation).
    pub heartbeat: Option<Heartbeat>,
    /// Since when its heartbeats name the choice the last one names.
    pub choice_since: Option<Instant>,
    /// When a heartbeat of it that says it hears us last arrived (of any
    /// incarnation: a node we follow is named by its index).
    pub listed_us_at: Option<Instant>,
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
    /// The key its last accepted datagram was signed under.
    pub key: Option<KeyId>,
    /// What each link to it shows.
    pub links: PeerLinks,
    /// What bounces (ICMP port unreachable) of our datagrams to it said.
    pub bounce: Bounce,
}

impl Peer {
    /// Takes its latest heartbeat.
    pub(super) fn heartbeat_heard(&mut self, hb: Heartbeat, me: u8, now: Instant) {
        if hb.hears & bit(me) == 0 {
            self.unheard_since.get_or_insert(now);
        } else {
            self.unheard_since = None;
            self.listed_us_at = Some(now);
        }
        if self
            .heartbeat
            .as_ref()
            .map_or(true, |old| old.choice != hb.choice)
        {
            self.choice_since = Some(now);
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

    /// We hear it: it is alive (heard, directly or as relayed, less than
    /// `timeout` ago) and our link to it works (a datagram of it came
    /// here less than `window` ago).
    pub(super) fn hears(&self, now: Instant, timeout: Duration, window: Duration) -> bool {
        self.present()
            && self.bounce.suspected.is_none()
            && self.last_heard.is_some_and(|t| now < t + window)
            && self.freshest().is_some_and(|t| now < t + timeout)
    }

    /// The latest moment it was heard, here or, as relayed, elsewhere.
    fn freshest(&self) -> Option<Instant> {
        self.last_heard.max(self.relayed)
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
    pub(super) fn expiry(
        &self,
        now: Instant,
        timeout: Duration,
        window: Duration,
    ) -> Option<Instant> {
        if self.bounce.suspected.is_some() {
            return None;
        }
        let t = (self.last_heard? + window).min(self.freshest()? + timeout);
        (t > now).then_some(t)
    }

    /// Its last heartbeat asked for an answer to every heartbeat.
    pub(super) fn wants_answers(&self) -> bool {
        self.heartbeat.as_ref().is_some_and(|hb| hb.wants_answers)
    }
}

/// The failure detector's view of every listed node, from one node.
#[derive(Debug)]
pub(super) struct Peers {
    pub me: u8,
    timeout: Duration,
    /// Heartbeat periods a quiet node takes to heartbeat every peer once
    /// (see "Timing" in the module documentation): a link is taken for
    /// cut after this many time-outs without a datagram over it.
    pub spread: u32,
    /// `timeout` times `spread`.
    window: Duration,
    list: Vec<Peer>,
    /// Whom we hear (a bit per node) at one instant, kept until the
    /// instant or the time-out changes: the rules ask many times per
    /// input. The bits of `changed` are worked out again first.
    heard: Cell<Option<(Instant, u32)>>,
    /// Bit `n`: peer `n` may have changed since `heard` was worked out
    /// (it was lent out mutably).
    changed: Cell<u32>,
}

fn bit(node: u8) -> u32 {
    1u32 << node
}

/// The nodes of a bitmap (bit `n` for node `n`), lowest first.
pub(super) fn nodes_in(mut bits: u32) -> impl Iterator<Item = u8> {
    std::iter::from_fn(move || {
        if bits == 0 {
            return None;
        }
        let node = bits.trailing_zeros() as u8;
        bits &= bits - 1;
        Some(node)
    })
}

impl Peers {
    pub(super) fn new(count: usize, me: u8, timeout: Duration, spread: u32) -> Peers {
        Peers {
            me,
            timeout,
            spread,
            window: timeout * spread,
            list: (0..count).map(|_| Peer::default()).collect(),
            heard: Cell::new(None),
            changed: Cell::new(0),
        }
    }

    /// A new `Timeout` (a reload).
    pub(super) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
        self.window = timeout * self.spread;
        self.heard.set(None);
    }

    /// How long a link to a live node may be silent before we stop
    /// hearing that node: `Timeout` times the spread.
    pub(super) fn window(&self) -> Duration {
        self.window
    }

    /// Every listed node but us. The iterator borrows nothing, so the
    /// peers may change while it runs.
    pub(super) fn others(&self) -> impl Iterator<Item = u8> {
        let me = self.me;
        (0..self.list.len() as u8).filter(move |&n| n != me)
    }

    pub(super) fn get(&self, node: u8) -> &Peer {
        &self.list[usize::from(node)]
    }

    pub(super) fn get_mut(&mut self, node: u8) -> &mut Peer {
        self.changed.set(self.changed.get() | bit(node));
        &mut self.list[usize::from(node)]
    }

    pub(super) fn hears(&self, node: u8, now: Instant) -> bool {
        self.hears_bitmap(now) & bit(node) != 0
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

    /// Bit `n`: we hear node `n` (never ourselves).
    pub(super) fn hears_bitmap(&self, now: Instant) -> u32 {
        let changed = self.changed.replace(0);
        let (mut bits, again) = match self.heard.get() {
            Some((at, bits)) if at == now => (bits, changed),
            _ => (0, u32::MAX),
        };
        if again == 0 {
            return bits;
        }
        for n in self.others().filter(|&n| again & bit(n) != 0) {
            if self.get(n).hears(now, self.timeout, self.window) {
                bits |= bit(n);
            } else {
                bits &= !bit(n);
            }
        }
        self.heard.set(Some((now, bits)));
        bits
    }

    pub(super) fn reach_bitmap(&self, now: Instant) -> u32 {
        let heard = self.hears_bitmap(now);
        self.others()
            .filter(|&n| {
                heard & bit(n) != 0
                    && self
                        .get(n)
                        .heartbeat
                        .as_ref()
                        .is_some_and(|hb| hb.hears & bit(self.me) != 0)
            })
            .fold(0, |acc, n| acc | bit(n))
    }

    /// Some node we have heard for a whole time-out has said for a whole
    /// time-out that it does not hear us, and it reaches as many nodes as
    /// we do: the link is one-way and we are the side that cannot be
    /// heard. (One heartbeat saying so proves little on a lossy link; a
    /// time-out of them is what the failure detector itself would need to
    /// suspect us.) A node that reaches fewer than we do is the one cut
    /// off (say, a node that hears nobody while all hear it): we do not
    /// step back for it, we lose it.
    pub(super) fn deferring(&self, now: Instant) -> bool {
        let ours = self.reach_bitmap(now).count_ones();
        self.others().any(|n| {
            let peer = self.get(n);
            self.hears(n, now)
                && peer.heard_since.is_some_and(|s| now >= s + self.timeout)
                && peer.unheard_since.is_some_and(|s| now >= s + self.timeout)
                && peer
                    .heartbeat
                    .as_ref()
                    .is_some_and(|hb| hb.reach.count_ones() >= ours)
        })
    }

    /// We reached `node` not long ago and reach it no more: it failed,
    /// or it no longer hears us (a link cut one way, which is a failure
    /// for us just the same).
    pub(super) fn recently_lost(&self, node: u8, now: Instant) -> bool {
        !self.reaches(node, now)
            && self
                .get(node)
                .listed_us_at
                .is_some_and(|t| now < t + self.timeout * RECENTLY_LOST_TIMEOUTS)
    }

    /// We hear `node` since less than a time-out and do not reach it yet
    /// (its heartbeats do not say they hear us yet): a node that starts,
    /// or the other side of a split that heals.
    fn coming(&self, node: u8, now: Instant) -> bool {
        self.hears(node, now)
            && !self.reaches(node, now)
            && self
                .get(node)
                .heard_since
                .is_some_and(|t| now < t + self.timeout)
    }

    /// `node` (which we reach) coordinates, or is about to: it names
    /// itself, or names a node that we cannot follow at this moment, which
    /// we have just lost or which is only coming (it is about to change
    /// its choice, as we are, or we shall follow that node with it).
    fn eligible(&self, node: u8, now: Instant) -> bool {
        match self.get(node).heartbeat.as_ref().and_then(|hb| hb.choice) {
            Some(c) if c == node => true,
            Some(c) if usize::from(c) < self.list.len() && c != self.me => {
                self.recently_lost(c, now) || self.coming(c, now)
            }
            _ => false,
        }
    }

    /// `node`, the coordinator we follow, has chosen another (lower)
    /// node less than a time-out ago: we keep following it while that
    /// node's heartbeats, saying that it coordinates and that it hears
    /// us, are on their way, rather than fall back on ourselves for that
    /// moment (a merge, or a restarted lower node).
    fn handing_over(&self, node: u8, now: Instant) -> bool {
        let peer = self.get(node);
        let other = peer
            .heartbeat
            .as_ref()
            .and_then(|hb| hb.choice)
            .is_some_and(|c| c != node);
        other && peer.choice_since.is_some_and(|t| now < t + self.timeout)
    }

    /// The coordinator we follow: the lowest eligible node we reach (our
    /// present choice `current` stays eligible while it hands over), or
    /// ourselves. `None` while undecided or deferring (decided by the
    /// caller for the first, here for the second).
    pub(super) fn choice(&self, now: Instant, current: Option<u8>) -> Option<u8> {
        if self.deferring(now) {
            return None;
        }
        (0..self.list.len() as u8).find(|&n| {
            n == self.me
                || (self.reaches(n, now)
                    && (self.eligible(n, now) || (current == Some(n) && self.handing_over(n, now))))
        })
    }

    /// As coordinator: the nodes we would put in our view besides us.
    pub(super) fn wanted(&self, now: Instant) -> Vec<Member> {
        // Room for us too: the caller adds us.
        let mut wanted = Vec::with_capacity(self.list.len());
        let peers = self.others().filter(|&n| {
            let peer = self.get(n);
            let follows = match peer.heartbeat.as_ref().and_then(|hb| hb.choice) {
                Some(c) if c == self.me => true,
                Some(c) if usize::from(c) < self.list.len() && c != n => self.recently_lost(c, now),
                _ => false,
            };
            self.reaches(n, now) && follows && peer.declined_until.map_or(true, |t| now >= t)
        });
        wanted.extend(peers.filter_map(|n| self.get(n).member(n)));
        wanted
    }

    /// `member`, which we still reach, has chosen a coordinator below us
    /// less than a time-out ago: it goes over to a lower coordinator (a
    /// merge, which we shall most likely follow as soon as that
    /// coordinator's heartbeats reach us too) rather than fail.
    pub(super) fn moving(&self, member: Member, now: Instant) -> bool {
        let peer = self.get(member.node);
        if peer.incarnation != Some(member.incarnation) || !self.reaches(member.node, now) {
            return false;
        }
        let below_us = peer
            .heartbeat
            .as_ref()
            .and_then(|hb| hb.choice)
            .is_some_and(|c| c < self.me);
        below_us && peer.choice_since.is_some_and(|t| now < t + self.timeout)
    }

    /// As coordinator with `wanted` (us included): some node not in it
    /// may still come. We hear it, it has decided, does not follow a
    /// node below us, and has not declined; or we do not hear it (and
    /// it has not left), but a node of `wanted` reaches it.
    pub(super) fn expected(&self, wanted: &[Member], now: Instant) -> bool {
        let reached_by_wanted = wanted
            .iter()
            .filter(|m| m.node != self.me)
            .filter_map(|m| self.get(m.node).heartbeat.as_ref())
            .fold(0, |acc, hb| acc | hb.reach);
        self.others().any(|n| {
            let peer = self.get(n);
            if wanted.iter().any(|m| m.node == n) || peer.declined_until.is_some_and(|t| now < t) {
                return false;
            }
            if self.hears(n, now) {
                let choice = peer.heartbeat.as_ref().and_then(|hb| hb.choice);
                choice.is_some_and(|c| c >= self.me)
            } else {
                let left = peer.incarnation.is_some() && !peer.present();
                !left && reached_by_wanted & bit(n) != 0
            }
        })
    }

    pub(super) fn next_expiry(&self, now: Instant) -> Option<Instant> {
        self.others()
            .filter_map(|n| self.get(n).expiry(now, self.timeout, self.window))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nodes_of_a_bitmap_come_lowest_first() {
        assert_eq!(nodes_in(0).count(), 0);
        let nodes: Vec<u8> = nodes_in(1 | 1 << 5 | 1 << 31).collect();
        assert_eq!(nodes, [0, 5, 31]);
        assert_eq!(nodes_in(u32::MAX).count(), 32);
    }

    /// Whom we hear is kept for an instant, and a peer changed at that
    /// same instant is worked out again: the kept bits never lag behind.
    #[test]
    fn the_kept_hearing_follows_each_change_at_one_instant() {
        let timeout = Duration::from_millis(200);
        let mut peers = Peers::new(4, 0, timeout, 2);
        let start = Instant::now();
        for n in 1..4 {
            let peer = peers.get_mut(n);
            peer.incarnation = Some(7);
            peer.last_heard = Some(start);
        }
        let now = start + Duration::from_millis(10);
        assert_eq!(peers.hears_bitmap(now), 0b1110);
        // Gone silent long ago, at the same instant: no longer heard.
        peers.get_mut(2).last_heard = Some(start - timeout * 3);
        assert_eq!(peers.hears_bitmap(now), 0b1010);
        assert!(!peers.hears(2, now));
        // Relayed evidence alone keeps the node heard while the link's
        // window (2 time-outs) holds.
        peers.get_mut(2).last_heard = Some(now - timeout * 3 / 2);
        assert_eq!(peers.hears_bitmap(now), 0b1010);
        peers.get_mut(2).relayed = Some(now);
        assert_eq!(peers.hears_bitmap(now), 0b1110);
        // Later, everything is worked out again: node 2's link has been
        // silent for longer than the window.
        let later = start + Duration::from_millis(150);
        assert_eq!(peers.hears_bitmap(later), 0b1010);
        // A new time-out is taken at once.
        peers.set_timeout(timeout * 2);
        assert_eq!(peers.hears_bitmap(later), 0b1110);
    }
}
