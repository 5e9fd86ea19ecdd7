//! The notification walk of one VIF: which destinations each of its
//! addresses is announced to, in order (ALGORITHM.md, "ARP
//! announcements"). Pure: planned here, sent by `job`.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::super::arp::Mac;
use crate::base::{prefix_mask, NotifyTarget, VifAddress};

/// Whom one stretch of the walk notifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Destinations {
    /// Every address from `first` to `last` (a CIDR intersection).
    Range { first: u32, last: u32 },
    /// Entries of the shared ARP cache, whose MACs are known.
    Known(Vec<(Ipv4Addr, Mac)>),
    /// One IPv6 neighbour (a `Notify` entry), told by unicast.
    Neighbour(Ipv6Addr),
}

/// One destination of the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Destination {
    /// An IPv4 host, with its MAC when the shared ARP cache knows it.
    Host(Ipv4Addr, Option<Mac>),
    Neighbour(Ipv6Addr),
}

impl Destinations {
    pub(super) fn len(&self) -> u64 {
        match self {
            Destinations::Range { first, last } => u64::from(last - first) + 1,
            Destinations::Known(entries) => entries.len() as u64,
            Destinations::Neighbour(_) => 1,
        }
    }

    pub(super) fn get(&self, i: u64) -> Destination {
        match self {
            Destinations::Range { first, .. } => {
                Destination::Host(Ipv4Addr::from(first + i as u32), None)
            }
            Destinations::Known(entries) => {
                let (ip, mac) = entries[i as usize];
                Destination::Host(ip, Some(mac))
            }
            Destinations::Neighbour(addr) => Destination::Neighbour(*addr),
        }
    }
}

/// One stretch of the walk: one address of the VIF and one notify entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Segment {
    /// Index into the VIF's addresses.
    pub(super) address: usize,
    pub(super) destinations: Destinations,
    /// At most this many destinations per second.
    pub(super) throttle: Option<u32>,
    pub(super) ping: bool,
}

/// The addresses two CIDR blocks have in common, as an inclusive range.
fn intersection(a: (Ipv4Addr, u8), b: (Ipv4Addr, u8)) -> Option<(u32, u32)> {
    let (wide, narrow) = if a.1 <= b.1 { (a, b) } else { (b, a) };
    let wide_mask = prefix_mask(wide.1);
    if u32::from(wide.0) & wide_mask != u32::from(narrow.0) & wide_mask {
        return None;
    }
    let mask = prefix_mask(narrow.1);
    let first = u32::from(narrow.0) & mask;
    Some((first, first | !mask))
}

/// The walk for a VIF: for every address, every notify entry in order
/// that concerns its family (IPv4 networks and the ARP cache for IPv4
/// addresses, IPv6 neighbours for IPv6 ones).
pub(super) fn plan(
    addresses: &[VifAddress],
    notify: &[NotifyTarget],
    arp_cache: &[(Ipv4Addr, Mac)],
) -> Vec<Segment> {
    let mut walk = Vec::new();
    for (index, address) in addresses.iter().enumerate() {
        let Some(attached) = address.attached_network() else {
            for target in notify {
                if let NotifyTarget::Neighbour { interface, addr } = target {
                    if *interface == address.interface {
                        walk.push(Segment {
                            address: index,
                            destinations: Destinations::Neighbour(*addr),
                            throttle: None,
                            ping: false,
                        });
                    }
                }
            }
            continue;
        };
        for target in notify {
            let segment = match target {
                NotifyTarget::Network {
                    interface,
                    block,
                    throttle,
                    ping,
                } => {
                    if *interface != address.interface {
                        continue;
                    }
                    let Some((first, last)) = intersection(
                        (attached.addr, attached.prefix_len),
                        (block.addr, block.prefix_len),
                    ) else {
                        continue;
                    };
                    Segment {
                        address: index,
                        destinations: Destinations::Range { first, last },
                        throttle: throttle.filter(|t| *t > 0),
                        ping: *ping,
                    }
                }
                NotifyTarget::Neighbour { .. } => continue,
                NotifyTarget::ArpCache { ping } => {
                    let known: Vec<_> = arp_cache
                        .iter()
                        .copied()
                        .filter(|(ip, _)| attached.contains(*ip))
                        .collect();
                    if known.is_empty() {
                        continue;
                    }
                    Segment {
                        address: index,
                        destinations: Destinations::Known(known),
                        throttle: None,
                        ping: *ping,
                    }
                }
            };
            walk.push(segment);
        }
    }
    walk
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::Ipv4Block;

    fn vip(interface: &str, addr: [u8; 4], network_len: u8) -> VifAddress {
        VifAddress {
            interface: interface.into(),
            addr: Ipv4Addr::from(addr).into(),
            prefix_len: 32,
            network_len,
        }
    }

    fn network(
        interface: &str,
        addr: [u8; 4],
        prefix_len: u8,
        throttle: Option<u32>,
    ) -> NotifyTarget {
        NotifyTarget::Network {
            interface: interface.into(),
            block: Ipv4Block {
                addr: addr.into(),
                prefix_len,
            },
            throttle,
            ping: false,
        }
    }

    fn range(first: [u8; 4], last: [u8; 4]) -> Destinations {
        Destinations::Range {
            first: Ipv4Addr::from(first).into(),
            last: Ipv4Addr::from(last).into(),
        }
    }

    #[test]
    fn intersections_of_blocks() {
        let a = |o: [u8; 4], l| (Ipv4Addr::from(o), l);
        let lo = |o: [u8; 4]| u32::from(Ipv4Addr::from(o));
        assert_eq!(
            intersection(a([10, 0, 0, 0], 24), a([10, 0, 0, 16], 28)),
            Some((lo([10, 0, 0, 16]), lo([10, 0, 0, 31])))
        );
        assert_eq!(
            intersection(a([10, 0, 0, 0], 16), a([10, 0, 7, 9], 24)),
            Some((lo([10, 0, 7, 0]), lo([10, 0, 7, 255])))
        );
        assert_eq!(
            intersection(a([10, 0, 0, 0], 24), a([10, 0, 1, 0], 24)),
            None
        );
        assert_eq!(
            intersection(a([0, 0, 0, 0], 0), a([10, 0, 1, 9], 32)),
            Some((lo([10, 0, 1, 9]), lo([10, 0, 1, 9])))
        );
    }

    #[test]
    fn plan_keeps_same_interface_and_attached_network_only() {
        let addresses = [
            vip("eth0", [10, 0, 0, 5], 24),
            vip("eth1", [192, 0, 2, 5], 29),
        ];
        let notify = [
            network("eth0", [10, 0, 0, 0], 16, Some(50)),
            network("eth0", [10, 9, 0, 0], 24, None), // outside 10.0.0.0/24
            network("eth1", [192, 0, 2, 0], 24, None),
            NotifyTarget::ArpCache { ping: true },
        ];
        let cache = [
            (Ipv4Addr::new(10, 0, 0, 9), [1; 6]),
            (Ipv4Addr::new(10, 0, 1, 9), [2; 6]),
            (Ipv4Addr::new(192, 0, 2, 3), [3; 6]),
            (Ipv4Addr::new(192, 0, 2, 9), [4; 6]),
        ];
        let walk = plan(&addresses, &notify, &cache);
        assert_eq!(
            walk,
            vec![
                Segment {
                    address: 0,
                    destinations: range([10, 0, 0, 0], [10, 0, 0, 255]),
                    throttle: Some(50),
                    ping: false
                },
                Segment {
                    address: 0,
                    destinations: Destinations::Known(vec![(Ipv4Addr::new(10, 0, 0, 9), [1; 6])]),
                    throttle: None,
                    ping: true
                },
                Segment {
                    address: 1,
                    destinations: range([192, 0, 2, 0], [192, 0, 2, 7]),
                    throttle: None,
                    ping: false
                },
                Segment {
                    address: 1,
                    destinations: Destinations::Known(vec![(Ipv4Addr::new(192, 0, 2, 3), [3; 6])]),
                    throttle: None,
                    ping: true
                },
            ]
        );
    }

    #[test]
    fn ipv6_addresses_notify_only_their_neighbours() {
        let v6 = VifAddress {
            interface: "eth0".into(),
            addr: "2001:db8::10".parse().unwrap(),
            prefix_len: 64,
            network_len: 64,
        };
        let neighbour = |interface: &str, addr: &str| NotifyTarget::Neighbour {
            interface: interface.into(),
            addr: addr.parse().unwrap(),
        };
        let addresses = [vip("eth0", [10, 0, 0, 5], 24), v6];
        let notify = [
            network("eth0", [10, 0, 0, 0], 30, None),
            neighbour("eth0", "2001:db8::1"),
            neighbour("eth1", "2001:db8::2"),
            neighbour("eth0", "fe80::1"),
            NotifyTarget::ArpCache { ping: false },
        ];
        let cache = [(Ipv4Addr::new(10, 0, 0, 9), [1; 6])];
        let walk = plan(&addresses, &notify, &cache);
        let to = |address, destinations| Segment {
            address,
            destinations,
            throttle: None,
            ping: false,
        };
        assert_eq!(
            walk,
            vec![
                to(0, range([10, 0, 0, 0], [10, 0, 0, 3])),
                to(0, Destinations::Known(cache.to_vec())),
                to(1, Destinations::Neighbour("2001:db8::1".parse().unwrap())),
                to(1, Destinations::Neighbour("fe80::1".parse().unwrap())),
            ]
        );
        assert_eq!(
            walk[2].destinations.get(0),
            Destination::Neighbour("2001:db8::1".parse().unwrap())
        );
    }

    #[test]
    fn zero_throttle_means_no_limit() {
        let walk = plan(
            &[vip("eth0", [10, 0, 0, 5], 24)],
            &[network("eth0", [10, 0, 0, 0], 30, Some(0))],
            &[],
        );
        assert_eq!(walk[0].throttle, None);
        assert_eq!(walk[0].destinations.len(), 4);
    }
}
