//! Redundant links: each node may have an address on up to
//! [`MAX_LINKS`] networks. Every datagram goes out once over each link,
//! the same bytes (one counter), and the first copy to arrive is the one
//! taken; the others are duplicates (see "Redundant links" in the module
//! documentation). This file keeps the addresses, tells which link a
//! datagram came over, and follows each link to each peer for the status
//! and the log.

use std::collections::VecDeque;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::node::Node;
use super::outputs::NodeError;
use super::wire;

/// Most links a node may have (addresses per node).
pub const MAX_LINKS: usize = 4;

/// Every node's address on every link.
#[derive(Debug, Clone)]
pub(super) struct Links {
    /// Per link, every node's address in node order (link 0 first).
    addrs: Vec<Vec<SocketAddrV4>>,
}

impl Links {
    /// `nodes` are the addresses on the first link, `more` those on each
    /// further link.
    pub(super) fn new(
        nodes: Vec<SocketAddrV4>,
        more: Vec<Vec<SocketAddrV4>>,
    ) -> Result<Links, NodeError> {
        if more.len() >= MAX_LINKS {
            return Err(NodeError::LinkCount(more.len() + 1));
        }
        if let Some((k, link)) = more
            .iter()
            .enumerate()
            .find(|(_, link)| link.len() != nodes.len())
        {
            return Err(NodeError::LinkNodes {
                link: k + 2,
                count: link.len(),
                nodes: nodes.len(),
            });
        }
        let mut addrs = vec![nodes];
        addrs.extend(more);
        Ok(Links { addrs })
    }

    pub(super) fn count(&self) -> usize {
        self.addrs.len()
    }

    /// Node `node`'s address on link `link`.
    pub(super) fn addr(&self, link: usize, node: u8) -> SocketAddrV4 {
        self.addrs[link][usize::from(node)]
    }

    /// The link over which a datagram from `from` claiming to be `node`'s
    /// came: the one where `from` is `node`'s address.
    pub(super) fn link_of(&self, node: u8, from: SocketAddr) -> Option<u8> {
        let SocketAddr::V4(from) = from else {
            return None;
        };
        (0..self.addrs.len())
            .find(|&k| self.addrs[k][usize::from(node)] == from)
            .map(|k| k as u8)
    }

    /// The node and link whose address `addr` is.
    pub(super) fn node_at(&self, addr: SocketAddr) -> Option<(u8, u8)> {
        let SocketAddr::V4(addr) = addr else {
            return None;
        };
        self.addrs.iter().enumerate().find_map(|(k, link)| {
            let node = link.iter().position(|a| *a == addr)?;
            Some((node as u8, k as u8))
        })
    }

    /// Names the configuration: [`wire::cluster_digest`] of the node list
    /// with one link (so such a cluster's datagrams are what they were
    /// before links), of every link's list in turn and the number of links
    /// otherwise.
    pub(super) fn digest(&self) -> [u8; 8] {
        if self.addrs.len() == 1 {
            return wire::cluster_digest(&self.addrs[0]);
        }
        let mut all: Vec<SocketAddrV4> = self.addrs.concat();
        // The count of links, as one more entry: a list of n nodes on two
        // links never digests as one of 2n nodes on one.
        all.push(SocketAddrV4::new(
            [0, 0, 0, 0].into(),
            self.addrs.len() as u16,
        ));
        wire::cluster_digest(&all)
    }
}

/// What we know of one peer on each link.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PeerLinks {
    /// When an authenticated datagram of it last came over each link
    /// (the first copy or a duplicate).
    pub last_heard: [Option<Instant>; MAX_LINKS],
    /// The state of each link as last reported ([`LinkChange`]); the
    /// first datagram over a link sets it without a report.
    pub up: [bool; MAX_LINKS],
    /// Copies of datagrams already taken over another link.
    pub duplicates: u64,
}

impl PeerLinks {
    /// Heard over `link` within `timeout`.
    pub(super) fn heard(&self, link: usize, now: Instant, timeout: Duration) -> bool {
        self.last_heard[link].is_some_and(|t| now < t + timeout)
    }
}

/// A link to a peer went silent or came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkChange {
    /// The peer's index.
    pub node: u8,
    /// The link, counted from 0 in the order of the addresses.
    pub link: u8,
    /// The peer is heard over it again (true) or was not heard over it
    /// for a time-out (false).
    pub up: bool,
}

/// One link to one peer, as [`Node::status`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStatus {
    /// The peer's address on this link.
    pub addr: SocketAddrV4,
    /// The peer was heard over this link within the time-out.
    pub up: bool,
    /// When an authenticated datagram of it last came over this link.
    pub last_heard: Option<Instant>,
}

impl Node {
    /// An authenticated datagram (or a copy of one) of `node` came over
    /// `link`.
    pub(super) fn heard_on_link(&mut self, node: u8, link: u8, now: Instant) {
        let several = self.links.count() > 1;
        let peer = &mut self.peers.get_mut(node).links;
        let k = usize::from(link);
        // The first datagram over a link is no news: only a link that was
        // reported down is reported back.
        let first = peer.last_heard[k].is_none();
        peer.last_heard[k] = Some(now);
        if !peer.up[k] {
            peer.up[k] = true;
            if several && !first {
                push_change(&mut self.link_changes, node, link, true);
            }
        }
    }

    /// Links to peers not heard over for the failure detector's window
    /// (a time-out times the spread) are reported gone (looked at every
    /// heartbeat: the failure detector does not wait for this, only the
    /// log does).
    pub(super) fn check_links(&mut self, now: Instant) {
        if self.links.count() < 2 {
            return;
        }
        let timeout = self.peers.window();
        for node in self.peers.others() {
            for k in 0..self.links.count() {
                let peer = &mut self.peers.get_mut(node).links;
                if peer.up[k] && !peer.heard(k, now, timeout) {
                    peer.up[k] = false;
                    push_change(&mut self.link_changes, node, k as u8, false);
                }
            }
        }
    }

    /// The next change of a link to a peer, if any (only with several
    /// links; at most one per change, not one per heartbeat).
    pub fn poll_link_change(&mut self) -> Option<LinkChange> {
        self.link_changes.pop_front()
    }

    /// Each link to `node`, for the status (empty for ourselves).
    pub(super) fn link_status(&self, node: u8) -> Vec<LinkStatus> {
        if node == self.me {
            return Vec::new();
        }
        let peer = &self.peers.get(node).links;
        (0..self.links.count())
            .map(|k| LinkStatus {
                addr: self.links.addr(k, node),
                up: peer.heard(k, self.now, self.peers.window()),
                last_heard: peer.last_heard[k],
            })
            .collect()
    }

    /// How many links each node has.
    pub fn link_count(&self) -> usize {
        self.links.count()
    }
}

/// Changes are kept for the driver to read; a driver that never reads
/// them keeps only the latest few hundred.
fn push_change(changes: &mut VecDeque<LinkChange>, node: u8, link: u8, up: bool) {
    const KEPT: usize = 256;
    if changes.len() == KEPT {
        changes.pop_front();
    }
    changes.push_back(LinkChange { node, link, up });
}

#[cfg(test)]
mod tests;
