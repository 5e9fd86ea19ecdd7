//! The announcer on a real link, for root-only tests: a node namespace
//! (veth `va`) wired to a peer namespace (veth `vb`) where a sniffer
//! listens, and an announcer spawned in the node whose reports arrive on
//! a channel. The namespaces go when the rig is dropped.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use wackamole::config::VifAddress;
use wackamole::net::announce::{AnnounceReport, AnnounceSettings, Announcer};
use wackamole::net::iface;

use crate::support::netns::{self, Netns};
use crate::support::sniffer::{Frame, Sniffer};

/// Which protocols the link between the namespaces carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stack {
    /// IPv4 only: IPv6 is off on both ends, so the kernel sends nothing
    /// of its own and every frame from the node is the announcer's.
    Ipv4,
    /// IPv4 and IPv6: the kernel's own IPv6 traffic (router
    /// solicitations, MLD, DAD) crosses the link too.
    Dual,
}

/// The two namespaces, the sniffer on the peer's end and the announcer.
pub(crate) struct Lan {
    /// The namespace of the announcer and of `va`.
    pub(crate) node: Netns,
    /// The namespace of `vb`, where the sniffer listens.
    pub(crate) peer: Netns,
    /// The MAC of `va`, the source of every frame the announcer sends.
    pub(crate) node_mac: [u8; 6],
    /// The MAC of `vb`.
    pub(crate) peer_mac: [u8; 6],
    /// Captures what arrives on `vb`.
    pub(crate) sniffer: Sniffer,
    /// Spawned in `node`.
    pub(crate) announcer: Announcer,
    /// What the announcer reports.
    pub(crate) reports: mpsc::Receiver<AnnounceReport>,
}

/// A rig whose namespaces are named after `tag`.
pub(crate) fn lan(tag: &str, stack: Stack, settings: AnnounceSettings) -> Lan {
    let node = Netns::new(tag);
    let peer = Netns::new(&format!("{tag}p"));
    match stack {
        Stack::Ipv4 => netns::quiet_veth(&node, "va", &peer, "vb"),
        Stack::Dual => netns::veth(&node, "va", &peer, "vb"),
    }
    let sniffer = peer.run(|| Sniffer::open("vb"));
    let (tx, reports) = mpsc::channel();
    let announcer = node.run(|| {
        Announcer::spawn(settings, move |report| {
            let _ = tx.send(report);
        })
        .expect("spawn announcer")
    });
    Lan {
        node_mac: netns::mac_of(&node, "va"),
        peer_mac: netns::mac_of(&peer, "vb"),
        node,
        peer,
        sniffer,
        announcer,
        reports,
    }
}

impl Lan {
    /// Puts `addresses` up in the node.
    pub(crate) fn bring_up(&self, addresses: &[VifAddress]) {
        self.node.run(|| {
            for a in addresses {
                iface::bring_up(a).expect("bring up");
            }
        });
    }

    /// Every frame from the node's MAC for `span`.
    pub(crate) fn capture(&self, span: Duration) -> Vec<Frame> {
        self.sniffer
            .capture_from(self.node_mac, Instant::now() + span, |_| false)
    }

    /// Fails the test on a failure report waiting.
    pub(crate) fn no_failure(&self) {
        if let Ok(
            AnnounceReport::Failed { error, .. } | AnnounceReport::RefreshFailed { error, .. },
        ) = self.reports.try_recv()
        {
            panic!("announcement failed: {error}");
        }
    }
}
