//! Hostile datagrams at a node of a settled cluster: a datagram of every
//! kind, forged, altered, replayed, from an old incarnation, cut short,
//! announcing more than it carries, naming unlisted nodes, from another
//! cluster or for another node. Each is refused and counted under its
//! reason, and the node changes nothing else: no event, no datagram, the
//! same view, the same picture of its peers.

use crate::support::simnet;

use std::net::{SocketAddr, SocketAddrV4};

use simnet::{address, Net};
use wackamole::membership::wire::{self, Body, Header, Key, Sequenced, HEADER_LEN, MAC_LEN};
use wackamole::membership::{Member, Node, Refusals, Status, Timing, ViewId};

const KEY: &[u8] = b"simulated cluster key, 32 bytes";

/// A settled cluster of three; node 0 taken out to be fed by hand.
fn settled_node() -> (Net, Node) {
    let mut net = Net::new(3, Timing::default(), 7);
    for i in 0..3 {
        net.start(i);
    }
    let end = net.now + 2_000_000;
    while net.next_at().is_some_and(|t| t <= end) {
        net.run_next();
    }
    let node = net.slots[0].node.take().expect("node 0 runs");
    let status = node.status();
    let view = status.view.as_ref().expect("settled");
    assert_eq!(view.1.len(), 3, "the cluster settled into one view");
    (net, node)
}

fn without_refusals(mut s: Status) -> Status {
    s.refusals = Refusals::default();
    for n in &mut s.nodes {
        n.refusals = Refusals::default();
    }
    s
}

fn sum(s: &Status) -> Refusals {
    let mut total = s.refusals;
    for n in &s.nodes {
        total.add(&n.refusals);
    }
    total
}

struct Peer {
    member: Member,
    digest: [u8; 8],
}

impl Peer {
    fn header(&self, counter: u64) -> Header {
        Header {
            digest: self.digest,
            sender: self.member.node,
            destination: 0,
            incarnation: self.member.incarnation,
            counter,
        }
    }
}

fn peer(node: &Node, index: u8) -> Peer {
    let status = node.status();
    Peer {
        member: Member {
            node: index,
            incarnation: status.nodes[usize::from(index)].incarnation.expect("heard"),
        },
        digest: wire::cluster_digest(&(0..3).map(address).collect::<Vec<SocketAddrV4>>()),
    }
}

fn heartbeat() -> Body {
    simnet::heartbeat(0b111, None)
}

/// Feeds `bytes` from `from` and checks the refusal: `reason` picks the
/// counter that must grow by one; nothing else may change.
fn refused(
    node: &mut Node,
    net: &Net,
    from: SocketAddr,
    bytes: &[u8],
    reason: fn(&Refusals) -> u64,
) {
    let before = node.status();
    node.handle_datagram(from, bytes, net.instant(net.now));
    let after = node.status();
    assert_eq!(
        reason(&sum(&after)),
        reason(&sum(&before)) + 1,
        "refusal not counted under its reason: {:?} -> {:?}",
        sum(&before),
        sum(&after)
    );
    assert_eq!(sum(&after).total(), sum(&before).total() + 1);
    assert_eq!(without_refusals(after), without_refusals(before));
    assert_eq!(node.poll_event(), None, "a refused datagram made an event");
    assert_eq!(
        node.poll_transmit(),
        None,
        "a refused datagram made a datagram"
    );
}

/// A datagram re-sealed with the right key after `patch` changed it.
fn resealed(key: &Key, bytes: &[u8], patch: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut unsigned = bytes[..bytes.len() - MAC_LEN].to_vec();
    patch(&mut unsigned);
    wire::seal(key, &unsigned)
}

#[test]
fn every_hostile_datagram_is_refused_counted_and_changes_nothing() {
    let (net, mut node) = settled_node();
    let key = Key::new(KEY).expect("key");
    let p1 = peer(&node, 1);
    let from1 = SocketAddr::V4(address(1));
    let fresh = 1 << 40;
    let valid = wire::encode(&key, &p1.header(fresh), &heartbeat());

    // Failed authentication: a flipped bit, a wrong key, random bytes.
    let mut flipped = valid.clone();
    flipped[HEADER_LEN + 3] ^= 0x10;
    refused(&mut node, &net, from1, &flipped, |r| r.bad_mac);
    let other = Key::new(b"another cluster's key, 32 bytes!").expect("key");
    let forged = wire::encode(&other, &p1.header(fresh), &heartbeat());
    refused(&mut node, &net, from1, &forged, |r| r.bad_mac);
    let noise: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
    refused(&mut node, &net, from1, &noise, |r| r.malformed);

    // Cut short: below the minimum, and anywhere inside (the tag moves).
    refused(
        &mut node,
        &net,
        from1,
        &valid[..wire::MIN_DATAGRAM - 1],
        |r| r.malformed,
    );
    refused(&mut node, &net, from1, &valid[..valid.len() - 5], |r| {
        r.bad_mac
    });

    // Replays: a counter seen already, one far below the window, and an
    // old incarnation of the sender.
    refused(
        &mut node,
        &net,
        from1,
        &wire::encode(&key, &p1.header(0), &heartbeat()),
        |r| r.replayed,
    );
    let mut old = p1.header(fresh);
    old.incarnation -= 1;
    refused(
        &mut node,
        &net,
        from1,
        &wire::encode(&key, &old, &heartbeat()),
        |r| r.old_incarnation,
    );

    // Authenticated but not for us: another cluster's node list, another
    // destination, an unlisted sender, ourselves as sender, a sender
    // address that is not the listed one.
    let mut digest = p1.header(fresh + 1);
    digest.digest[0] ^= 1;
    refused(
        &mut node,
        &net,
        from1,
        &wire::encode(&key, &digest, &heartbeat()),
        |r| r.wrong_cluster,
    );
    let mut elsewhere = p1.header(fresh + 2);
    elsewhere.destination = 2;
    refused(
        &mut node,
        &net,
        from1,
        &wire::encode(&key, &elsewhere, &heartbeat()),
        |r| r.misdirected,
    );
    let mut unlisted = p1.header(fresh + 3);
    unlisted.sender = 9;
    refused(
        &mut node,
        &net,
        from1,
        &wire::encode(&key, &unlisted, &heartbeat()),
        |r| r.misdirected,
    );
    let mut myself = p1.header(fresh + 4);
    myself.sender = 0;
    refused(
        &mut node,
        &net,
        from1,
        &wire::encode(&key, &myself, &heartbeat()),
        |r| r.misdirected,
    );
    let stranger = SocketAddr::V4(SocketAddrV4::new([10, 9, 9, 9].into(), simnet::PORT));
    refused(&mut node, &net, stranger, &valid, |r| r.misdirected);

    // Authenticated, but a body that lies: more messages or members than
    // it carries, an unknown kind, trailing bytes, an unlisted node.
    let view = ViewId {
        ltime: 5,
        coordinator: 1,
        incarnation: p1.member.incarnation,
    };
    let flush = Body::Flush {
        proposal: view,
        old_view: None,
        delivered: 0,
        max_ltime: 0,
        messages: vec![Sequenced {
            seq: 1,
            origin: 1,
            local: 1,
            payload: vec![1, 2, 3],
        }],
    };
    let flush = wire::encode(&key, &p1.header(fresh + 5), &flush);
    // The FLUSH's message count sits after proposal (17), old view (17),
    // delivered (4) and max ltime (8).
    let count_at = HEADER_LEN + 17 + 17 + 4 + 8;
    let lying = resealed(&key, &flush, |b| {
        b[count_at..count_at + 2].copy_from_slice(&60_000u16.to_be_bytes())
    });
    refused(&mut node, &net, from1, &lying, |r| r.malformed);
    let unknown = resealed(&key, &valid, |b| b[3] = 99);
    refused(&mut node, &net, from1, &unknown, |r| r.malformed);
    let trailing = resealed(&key, &valid, |b| b.push(0));
    refused(&mut node, &net, from1, &trailing, |r| r.malformed);
    let propose = Body::Propose {
        proposal: view,
        members: vec![
            Member {
                node: 0,
                incarnation: 1,
            },
            Member {
                node: 40,
                incarnation: 1,
            },
        ],
    };
    refused(
        &mut node,
        &net,
        from1,
        &wire::encode(&key, &p1.header(fresh + 6), &propose),
        |r| r.malformed,
    );
    let install = Body::Install {
        view,
        members: vec![
            Member {
                node: 2,
                incarnation: 1,
            },
            Member {
                node: 0,
                incarnation: 1,
            },
        ],
        old_view: None,
        cut: 0,
        messages: Vec::new(),
    };
    refused(
        &mut node,
        &net,
        from1,
        &wire::encode(&key, &p1.header(fresh + 7), &install),
        |r| r.malformed,
    );

    // The last word: the same datagram, untouched and fresh, is taken.
    let before = node.status().nodes[1].last_heard;
    node.handle_datagram(from1, &valid, net.instant(net.now + 1));
    assert!(
        node.status().nodes[1].last_heard > before,
        "a valid datagram was refused"
    );
}
