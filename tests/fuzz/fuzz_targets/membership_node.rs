//! A node of the built-in membership (one of three listed) fed datagrams
//! from its peers, authenticated with the cluster key but with any kind
//! and body, from the right or a wrong address, interleaved with raw
//! unauthenticated bytes, the passing of time and a clean leave. Besides
//! not panicking, the node must only ever send to listed peers, within the
//! datagram limit, under the key, and report views it is a member of; and
//! no echo, however forged, may carry its quorum lease beyond `Timeout / 2`
//! from now.

#![no_main]

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use wackamole::membership::wire::{cluster_digest, open, seal, Key, MAGIC, MAX_DATAGRAM, VERSION};
use wackamole::membership::{NodeEvent, Node, Timing};
use wackamole_fuzz::Bytes;

const NODES: usize = 3;

fn listed() -> Vec<SocketAddrV4> {
    (0..NODES)
        .map(|i| SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 1 + i as u8), 4810))
        .collect()
}

fn drain(node: &mut Node, key: &Key, nodes: &[SocketAddrV4], now: Instant) {
    if let Some(until) = node.lease_until() {
        assert!(until <= now + Duration::from_millis(100), "a lease beyond L");
    }
    while let Some(t) = node.poll_transmit() {
        assert!(usize::from(t.to) < NODES && t.to != 0, "sent to {}", t.to);
        assert_eq!(t.addr, nodes[usize::from(t.to)]);
        assert!(t.bytes.len() <= MAX_DATAGRAM);
        open(key, &t.bytes).expect("what the node sends opens under the key");
    }
    while let Some(event) = node.poll_event() {
        if let NodeEvent::View {
            members, my_index, ..
        } = event
        {
            assert_eq!(members.get(my_index).map(|m| m.node), Some(0));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes::new(data);
    let key = Key::new(&[7u8; 32]).expect("a valid key");
    let nodes = listed();
    let digest = cluster_digest(&nodes);
    let settings = Timing::new(Duration::from_millis(20), Duration::from_millis(200))
        .expect("valid settings");
    let mut now = Instant::now();
    let mut node = Node::new(nodes.clone(), 0, key.clone(), settings, 1_000, now).expect("a node");
    node.set_quorum(2);
    let mut counters = [0u64; NODES];
    let mut steps = 0;
    while !input.is_empty() && steps < 100 {
        steps += 1;
        match input.below(8) {
            0..=4 => {
                let sender = 1 + input.below(NODES - 1);
                let kind = input.u8();
                let destination = if input.below(8) == 0 { input.u8() } else { 0 };
                let incarnation = 1_000 + u64::from(input.u8() % 4);
                counters[sender] += 1 + u64::from(input.u8() % 4);
                let mut unsigned = MAGIC.to_be_bytes().to_vec();
                unsigned.extend([VERSION, kind]);
                unsigned.extend(digest);
                unsigned.extend([sender as u8, destination]);
                unsigned.extend(incarnation.to_be_bytes());
                unsigned.extend(counters[sender].to_be_bytes());
                let len = usize::from(input.u16() % 1024);
                unsigned.extend(input.take(len));
                let from = if input.below(16) == 0 {
                    nodes[input.below(NODES)]
                } else {
                    nodes[sender]
                };
                node.handle_datagram(SocketAddr::V4(from), &seal(&key, &unsigned), now);
            }
            5 => {
                let raw = input.chunk();
                node.handle_datagram(SocketAddr::V4(nodes[1]), raw, now);
            }
            6 => {
                now += Duration::from_millis(u64::from(input.u16() % 1000));
                node.handle_timeout(now);
            }
            _ => {
                if input.below(8) == 0 {
                    node.leave(now);
                }
            }
        }
        drain(&mut node, &key, &nodes, now);
    }
});
