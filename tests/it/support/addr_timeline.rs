//! The checker over a kernel-order timeline of address changes (see
//! tests/it/support/addr_witness.rs): which namespace had which address
//! when, and what that means for the promise "every address held by
//! exactly one connected machine":
//!
//! - a *double*: an address configured in two namespaces at once, from
//!   the second addition to the removal that leaves one;
//! - an *unheld* interval: an address configured nowhere, from the
//!   removal that left none to the next addition (only once it was held);
//! - a *handover*: the address went from one namespace to another
//!   (release then acquisition, a positive gap; or acquisition then
//!   release, an overlap: a negative gap), or was released and taken back
//!   by the same namespace with nothing in between (a *retake*).
//!
//! An address installed by ioctls appears as three changes: the entry
//! `SIOCSIFADDR` adds with the classful prefix, its removal and its
//! re-addition with the configured prefix (how `SIOCSIFNETMASK` changes a
//! mask). The address is usable from the first; the pair in between is a
//! change of mask, not a release, and is left out (see
//! [`Timeline::effective`]).
//!
//! A machine that is disconnected (its port down, its daemon killed)
//! keeps its addresses in its kernel, where nobody can reach them:
//! [`Timeline::without`] counts a node's addresses out for a while.
//!
//! Pure data: no I/O, no clock of its own (stamps are the witness's).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// One address added to or removed from one node's namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub at: Instant,
    pub node: usize,
    pub addr: IpAddr,
    /// The entry's prefix length.
    pub prefix: u8,
    pub added: bool,
    /// Made by [`Timeline::without`] (a node counted out or back in), not
    /// seen in a kernel.
    pub counted: bool,
}

impl Change {
    /// A change the witness saw.
    pub fn seen(at: Instant, node: usize, addr: IpAddr, prefix: u8, added: bool) -> Change {
        Change {
            at,
            node,
            addr,
            prefix,
            added,
            counted: false,
        }
    }

    /// An IPv4 entry with its address's classful prefix (/8, /16, /24):
    /// the one `SIOCSIFADDR` makes before `SIOCSIFNETMASK` sets the mask.
    fn classful(&self) -> bool {
        let IpAddr::V4(v4) = self.addr else {
            return false;
        };
        let first = v4.octets()[0];
        let class = match first {
            0..=127 => 8,
            128..=191 => 16,
            _ => 24,
        };
        self.prefix == class
    }
}

/// A span of time an address spent in a wrong state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    pub addr: IpAddr,
    /// Doubles: every namespace that had it meanwhile. Unheld: the one
    /// whose removal left it nowhere.
    pub nodes: Vec<usize>,
    pub from: Instant,
    /// None: still so at the end of the timeline.
    pub to: Option<Instant>,
    /// Unheld: it began when its holder was counted out.
    pub counted_out: bool,
}

impl Interval {
    /// Its length, up to `end` when it is still open.
    pub fn length(&self, end: Instant) -> Duration {
        self.to.unwrap_or(end).saturating_duration_since(self.from)
    }
}

/// An address changing hands (or a retake, `from == to`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover {
    pub addr: IpAddr,
    pub from: usize,
    pub to: usize,
    pub released: Instant,
    pub acquired: Instant,
    /// The release was its holder being counted out (a failover).
    pub counted_out: bool,
    /// The kernels released it before they acquired it (by the order of
    /// the timeline, whatever the stamps).
    pub in_order: bool,
}

impl Handover {
    /// Acquisition minus release in milliseconds: positive when the
    /// release came first, negative for an overlap.
    pub fn gap_ms(&self) -> f64 {
        signed_ms(self.released, self.acquired)
    }

    pub fn retake(&self) -> bool {
        self.from == self.to
    }

    pub fn started(&self) -> Instant {
        self.released.min(self.acquired)
    }
}

/// `b - a` in milliseconds, signed.
pub fn signed_ms(a: Instant, b: Instant) -> f64 {
    if b >= a {
        (b - a).as_secs_f64() * 1000.0
    } else {
        -(a - b).as_secs_f64() * 1000.0
    }
}

/// What a timeline says about some addresses.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub doubles: Vec<Interval>,
    pub unheld: Vec<Interval>,
    pub handovers: Vec<Handover>,
}

/// Address changes in kernel order, stamps never decreasing.
#[derive(Debug, Clone)]
pub struct Timeline {
    origin: Instant,
    changes: Vec<Change>,
}

impl Timeline {
    /// An empty timeline; stamps print relative to `origin`.
    pub fn new(origin: Instant) -> Timeline {
        Timeline {
            origin,
            changes: Vec::new(),
        }
    }

    /// Appends a change (its stamp is raised to the last one's, so that
    /// order and stamps agree).
    pub fn push(&mut self, mut change: Change) {
        change.at = change.at.max(self.last_at());
        self.changes.push(change);
    }

    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// The last change's stamp (the origin when there is none).
    pub fn last_at(&self) -> Instant {
        self.changes.last().map_or(self.origin, |c| c.at)
    }

    /// `at` as milliseconds since the origin, for messages.
    pub fn stamp(&self, at: Instant) -> String {
        format!("+{:.3} ms", signed_ms(self.origin, at))
    }

    /// The changes that count: all but the removal of a classful entry
    /// followed, in its namespace, by the address's re-addition with
    /// another prefix, and that re-addition (a change of mask).
    pub fn effective(&self) -> Vec<Change> {
        let n = self.changes.len();
        let mut next: BTreeMap<(usize, IpAddr), usize> = BTreeMap::new();
        let mut skip = vec![false; n];
        for i in (0..n).rev() {
            let c = self.changes[i];
            let following = next.insert((c.node, c.addr), i);
            if c.added || c.counted || !c.classful() {
                continue;
            }
            if let Some(j) = following {
                let d = self.changes[j];
                if d.added && !d.counted && d.prefix != c.prefix {
                    skip[i] = true;
                    skip[j] = true;
                }
            }
        }
        self.changes
            .iter()
            .zip(skip)
            .filter(|(_, skip)| !skip)
            .map(|(c, _)| *c)
            .collect()
    }

    /// Who has which address after every change before `until`.
    fn state(&self, until: Option<Instant>) -> BTreeMap<IpAddr, BTreeSet<usize>> {
        let mut state: BTreeMap<IpAddr, BTreeSet<usize>> = BTreeMap::new();
        for c in self.effective() {
            if until.is_some_and(|u| c.at >= u) {
                break;
            }
            let holders = state.entry(c.addr).or_default();
            if c.added {
                holders.insert(c.node);
            } else {
                holders.remove(&c.node);
            }
        }
        state
    }

    /// The namespaces that have `addr` now.
    pub fn holders(&self, addr: IpAddr) -> Vec<usize> {
        let state = self.state(None);
        state.get(&addr).into_iter().flatten().copied().collect()
    }

    /// The addresses of `addrs` in `node`'s namespace now.
    pub fn held_by(&self, node: usize, addrs: &[IpAddr]) -> Vec<IpAddr> {
        let state = self.state(None);
        addrs
            .iter()
            .copied()
            .filter(|a| state.get(a).is_some_and(|h| h.contains(&node)))
            .collect()
    }

    /// Whether every address of `addrs` is in exactly one namespace, and
    /// that one of `among`.
    pub fn each_once_among(&self, addrs: &[IpAddr], among: &[usize]) -> bool {
        let state = self.state(None);
        addrs.iter().all(|a| {
            state
                .get(a)
                .is_some_and(|h| h.len() == 1 && h.iter().all(|n| among.contains(n)))
        })
    }

    /// The same timeline with `node`'s addresses counted out from `from`
    /// until `to` (forever when None): removed at `from`, its changes in
    /// between dropped, and at `to` whatever its kernel then had counted
    /// back in. Made-up changes are marked [`Change::counted`].
    pub fn without(&self, node: usize, from: Instant, to: Option<Instant>) -> Timeline {
        let made = |at: Instant, added: bool| -> Vec<Change> {
            let state = self.state(Some(at));
            state
                .iter()
                .filter(|(_, holders)| holders.contains(&node))
                .map(|(&addr, _)| Change {
                    at,
                    node,
                    addr,
                    prefix: 0,
                    added,
                    counted: true,
                })
                .collect()
        };
        let mut out = Timeline::new(self.origin);
        let mut leaving = Some(made(from, false));
        let mut returning = to.map(|to| made(to, true));
        for c in self.effective() {
            if c.at >= from {
                out.changes.extend(leaving.take().unwrap_or_default());
            }
            if to.is_some_and(|to| c.at >= to) {
                out.changes.extend(returning.take().unwrap_or_default());
            }
            let out_of_count = c.node == node && c.at >= from && !to.is_some_and(|to| c.at >= to);
            if !out_of_count {
                out.changes.push(c);
            }
        }
        out.changes.extend(leaving.unwrap_or_default());
        out.changes.extend(returning.unwrap_or_default());
        out
    }

    /// Doubles, unheld intervals and handovers of `addrs` that start at
    /// or after `since`.
    pub fn analyse(&self, addrs: &[IpAddr], since: Instant) -> Analysis {
        let mut all = Analysis::default();
        let changes = self.effective();
        for &addr in addrs {
            self.analyse_one(&changes, addr, &mut all);
        }
        all.doubles.retain(|i| i.from >= since);
        all.unheld.retain(|i| i.from >= since);
        all.handovers.retain(|h| h.started() >= since);
        all
    }

    fn analyse_one(&self, changes: &[Change], addr: IpAddr, out: &mut Analysis) {
        // Holder -> when it added the address.
        let mut holders: BTreeMap<usize, Instant> = BTreeMap::new();
        let mut double: Option<Interval> = None;
        // The removal that left it nowhere: (node, when, counted).
        let mut released: Option<(usize, Instant, bool)> = None;
        for c in changes.iter().filter(|c| c.addr == addr) {
            if c.added {
                if holders.contains_key(&c.node) {
                    continue; // a renewal
                }
                if let Some((from, at, counted_out)) = released.take() {
                    let unheld = Interval {
                        addr,
                        nodes: vec![from],
                        from: at,
                        to: Some(c.at),
                        counted_out,
                    };
                    out.unheld.push(unheld);
                    out.handovers.push(Handover {
                        addr,
                        from,
                        to: c.node,
                        released: at,
                        acquired: c.at,
                        counted_out,
                        in_order: true,
                    });
                }
                holders.insert(c.node, c.at);
                if holders.len() == 2 {
                    double = Some(Interval {
                        addr,
                        nodes: holders.keys().copied().collect(),
                        from: c.at,
                        to: None,
                        counted_out: false,
                    });
                } else if let Some(d) = double.as_mut() {
                    d.nodes.push(c.node);
                }
            } else {
                let Some(since) = holders.remove(&c.node) else {
                    continue;
                };
                // Overlaps: everyone who added while it held takes over.
                for (&to, &acquired) in holders.iter().filter(|(_, &at)| at >= since) {
                    out.handovers.push(Handover {
                        addr,
                        from: c.node,
                        to,
                        released: c.at,
                        acquired,
                        counted_out: c.counted,
                        in_order: false,
                    });
                }
                if holders.len() == 1 {
                    if let Some(mut d) = double.take() {
                        d.to = Some(c.at);
                        out.doubles.push(d);
                    }
                }
                if holders.is_empty() {
                    released = Some((c.node, c.at, c.counted));
                }
            }
        }
        out.doubles.extend(double);
        if let Some((from, at, counted_out)) = released {
            out.unheld.push(Interval {
                addr,
                nodes: vec![from],
                from: at,
                to: None,
                counted_out,
            });
        }
    }

    /// The changes of `addrs` from `since` on, a line each, for messages.
    pub fn describe(&self, addrs: &[IpAddr], since: Instant) -> String {
        let mut out = String::new();
        for c in &self.changes {
            if c.at < since || !addrs.contains(&c.addr) {
                continue;
            }
            let sign = if c.added { '+' } else { '-' };
            let entry = if c.counted {
                " (counted)".to_string()
            } else {
                format!("/{}", c.prefix)
            };
            let _ = writeln!(
                out,
                "  {} node {} {sign} {}{entry}",
                self.stamp(c.at),
                c.node,
                c.addr
            );
        }
        out
    }

    /// An interval in words: "10.78.1.3 on nodes [1, 2] from +x to +y
    /// (z ms)".
    pub fn interval(&self, i: &Interval) -> String {
        let end = self.last_at();
        let to = i.to.map_or("the end".to_string(), |t| self.stamp(t));
        format!(
            "{} {} nodes {:?} from {} to {to} ({:.3} ms)",
            i.addr,
            if i.nodes.len() > 1 { "on" } else { "left by" },
            i.nodes,
            self.stamp(i.from),
            i.length(end).as_secs_f64() * 1000.0
        )
    }

    /// A handover in words.
    pub fn handover(&self, h: &Handover) -> String {
        let order = if h.in_order {
            "released first"
        } else {
            "ACQUIRED FIRST"
        };
        format!(
            "{}: node {} released it at {}, node {} acquired it at {} ({order}, gap {:+.3} ms)",
            h.addr,
            h.from,
            self.stamp(h.released),
            h.to,
            self.stamp(h.acquired),
            h.gap_ms()
        )
    }
}

/// min, median and max of `samples` in milliseconds (None when empty).
pub fn spread(samples: &[f64]) -> Option<(f64, f64, f64)> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    (n > 0).then(|| (sorted[0], sorted[n / 2], sorted[n - 1]))
}
