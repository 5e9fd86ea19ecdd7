//! Whose turn it is: the peers a node's heartbeat goes to each period.
//!
//! # Heartbeats in turn
//!
//! Heartbeats from every node to every other each period cost n(n − 1)
//! datagrams a period: at 32 nodes and the defaults, 3,100 a second in
//! and out of each node. From ten nodes on, a quiet node sends at most
//! eight a period:
//!
//! - The *spread* is `s = ⌈(n − 1) / 8⌉` periods: 1 up to nine nodes
//!   (nothing below changes then, and heartbeats relay nothing), 2 up to
//!   17, 4 at 32. Period `k` of node `m` goes to peer `p` when
//!   `(p + m + k) mod s = 0`: each peer gets one heartbeat a *round* of
//!   `s` periods, and when the nodes' periods line up, each node gets
//!   heartbeats from an `s`-th of its peers each period.
//! - Every peer gets the period's heartbeat while what every peer reads
//!   of it (choice, view, hears, reach, the largest logical time, the
//!   flags) changed less than a round ago. Such a change reaches every
//!   peer in the next period and `s` times in a row, as with heartbeats
//!   to everyone, so the rules that react to a peer's heartbeat see it as
//!   soon as before.
//! - The view's delivery counters (delivered, sequenced, stable) are read
//!   only between a coordinator and its members: the coordinator reads
//!   its members' to repair and to learn what is stable, a member its
//!   coordinator's to learn what it lacks and may forget. While only they
//!   changed less than a round ago, a member's heartbeat goes to its
//!   coordinator every period and a coordinator's to every member, so
//!   those pairs see each change as soon as before. Every message a view
//!   delivers changes every member's counters; if that made every peer's
//!   turn come, each message would cost a round of heartbeats from every
//!   node to every other (some 4,000 datagrams at 32 nodes), and a state
//!   exchange many of them.
//! - A peer whose last heartbeat asks for answers (it keeps a quorum
//!   lease) gets every period's heartbeat.
//!
//! The failure detector then takes evidence from two places. Each
//! heartbeat relays, for every node its sender received a datagram from
//! less than `Timeout` ago, that node's incarnation and how long ago:
//! only what the sender received itself, one hop, so no evidence goes
//! round and grows younger. Node `a` hears `b` when
//!
//! 1. `b` is *alive*: the latest datagram of `b`'s newest incarnation
//!    received by `a`, or by a peer as its heartbeat to `a` relays, came
//!    less than `Timeout` ago; and
//! 2. the *link* works: a datagram of `b` reached `a` itself less than
//!    `s × Timeout` ago (with several links, any of them).
//!
//! Why the failure detector keeps its promises:
//!
//! - **A crash, a stall, a partition.** Nothing of `b` is received on
//!   our side after its last heartbeat, so (1) fails `Timeout` after the
//!   last one any of us took, from `b`'s last period as before. A relayed
//!   age leaves out the relay's transit (it is counted from our receipt
//!   of the relay), so `b` looks younger by at most one transit: the only
//!   delay relays add to a failover.
//! - **Loss.** `b` reaches about eight nodes a period and each relays it,
//!   so (1) fails on a live `b` only when all of that is lost for a whole
//!   `Timeout`; (2) needs every direct heartbeat of `s × Timeout` lost, as
//!   many (ten at the defaults) as one `Timeout` of heartbeats to everyone.
//! - **A link cut between two live nodes** fails (2) only: it is noticed
//!   after `s × Timeout` rather than `Timeout` (400 ms at 16 nodes, 800 ms
//!   at 32, at the defaults). Until then what crosses that link (PROPOSE,
//!   FLUSH, INSTALL, SEQUENCED) is lost and resent as under loss.
//! - **A dead daemon on a live host** (port unreachable, `unreachable.rs`)
//!   is found by a datagram sent to it, and most peers send it nothing
//!   for up to a round. The first whose heartbeat bounces, once sure,
//!   heartbeats every peer at once, saying it no longer hears that node;
//!   a node that sees a peer stop hearing a node it still hears sends
//!   that node a probe at once, out of turn, one however many peers say
//!   so, and suspects it on that probe's bounce alone. So every node's
//!   own probe bounces within a heartbeat or so of the death, as in a
//!   small cluster, within the six bounces the dead host's kernel
//!   grants each peer (`turns_tests.rs` shows the coordinator, whose
//!   turn came just before the death, dropping the node within a
//!   heartbeat, with the kernel's limit modelled).
//! - **Safety** never depended on the failure detector (module
//!   documentation: any choice and any proposal yield valid views).
//! - **The stall rule** counts our own periods: unchanged.
//! - **The quorum lease** counts on echoes at most two periods late. A
//!   node that keeps a lease asks for answers, so every node heartbeats
//!   it every period, and "Quorum lease" holds word for word. A cluster
//!   with a quorum pays the full cost for that.
//! - **Forgery.** A relayed entry is authenticated with its datagram; a
//!   peer holding the key could keep a dead node heard, as it could by
//!   forging that node's heartbeats.

use std::time::{Duration, Instant};

use super::wire::{Heartbeat, ViewId};

/// Peers a quiet node heartbeats per period, at most (besides those that
/// ask for an answer to every heartbeat).
const FAN_OUT: usize = 8;

/// Heartbeat periods a quiet node of a cluster of `nodes` takes to
/// heartbeat every peer once: 1 up to nine nodes, 4 at 32.
pub(super) fn spread(nodes: usize) -> u32 {
    nodes.saturating_sub(1).div_ceil(FAN_OUT).max(1) as u32
}

/// What a heartbeat says besides its send time, echo and relayed
/// entries, in two parts: what every peer reads, and the counters of the
/// view's delivery, which only a coordinator and its members read of each
/// other (a coordinator its members' to repair and to learn what is
/// stable, a member its coordinator's to learn what it lacks and may
/// forget).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Gist {
    hears: u32,
    reach: u32,
    choice: Option<u8>,
    view: Option<ViewId>,
    max_ltime: u64,
    wants_answers: bool,
    /// `delivered`, `sequenced` and `stable`.
    counters: (u32, u32, u32),
}

impl Gist {
    pub(super) fn of(heartbeat: &Heartbeat) -> Gist {
        Gist {
            hears: heartbeat.hears,
            reach: heartbeat.reach,
            choice: heartbeat.choice,
            view: heartbeat.view,
            max_ltime: heartbeat.max_ltime,
            wants_answers: heartbeat.wants_answers,
            counters: (heartbeat.delivered, heartbeat.sequenced, heartbeat.stable),
        }
    }

    /// The gist without the delivery counters.
    fn for_everyone(self) -> Gist {
        Gist {
            counters: (0, 0, 0),
            ..self
        }
    }
}

/// Whose turn a period is besides the peers of the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Extra {
    /// Every peer's: what every peer reads changed less than a round ago.
    pub everyone: bool,
    /// The node's coordinator's, or a coordinator's members': the
    /// delivery counters changed less than a round ago.
    pub counters: bool,
}

/// Whom our heartbeats go to: every peer while what they all read
/// changes, our coordinator or our members while only the delivery
/// counters change, and in a quiet cluster each peer once per `spread`
/// periods, in turn.
#[derive(Debug)]
pub(super) struct Rotation {
    /// Periods sent so far.
    tick: u64,
    /// What our heartbeats last said.
    said: Option<Gist>,
    /// When what every peer reads last changed.
    changed_at: Instant,
    /// When the delivery counters last changed.
    counted_at: Instant,
}

impl Rotation {
    pub(super) fn new(now: Instant) -> Rotation {
        Rotation {
            tick: 0,
            said: None,
            changed_at: now,
            counted_at: now,
        }
    }

    /// A new period, whose heartbeat says `gist`: the period's number,
    /// and whose turn it is besides the rotation's (the changes less than
    /// `round` ago).
    pub(super) fn period(&mut self, gist: Gist, now: Instant, round: Duration) -> (u64, Extra) {
        if self.said != Some(gist) {
            if self.said.map(Gist::for_everyone) != Some(gist.for_everyone()) {
                self.changed_at = now;
            }
            if self.said.map(|s| s.counters) != Some(gist.counters) {
                self.counted_at = now;
            }
            self.said = Some(gist);
        }
        let tick = self.tick;
        self.tick += 1;
        let extra = Extra {
            everyone: now < self.changed_at + round,
            counters: now < self.counted_at + round,
        };
        (tick, extra)
    }
}

/// Period `tick` of node `me` is the turn of peer `to`, in rounds of
/// `spread` periods.
pub(super) fn turn_of(to: u8, me: u8, tick: u64, spread: u32) -> bool {
    (u64::from(to) + u64::from(me) + tick) % u64::from(spread) == 0
}
