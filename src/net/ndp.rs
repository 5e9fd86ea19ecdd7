//! Neighbour advertisements (RFC 4861, section 4.4) that tell a LAN where
//! an IPv6 VIP now lives: the IPv6 counterpart of the gratuitous ARP in
//! `arp`. Pure builders: the bytes are tested here, the sending is
//! `packet`'s (all-nodes, whole frames) or `neighbour`'s (unicast, through
//! the kernel's routing and neighbour resolution).

use std::net::Ipv6Addr;

use super::arp::Mac;

const ETHERTYPE_IPV6: u16 = 0x86dd;
const NEXT_HEADER_ICMPV6: u8 = 58;
const NEIGHBOUR_ADVERTISEMENT: u8 = 136;
/// Receivers drop neighbour discovery with any other hop limit: it proves
/// the packet was not routed.
pub const HOP_LIMIT: u8 = 255;
/// Flags word: Override set (replace a cached MAC), Router and Solicited
/// clear (nobody asked).
const FLAG_OVERRIDE: u32 = 0x2000_0000;
const OPTION_TARGET_LINK_LAYER: u8 = 2;

/// ff02::1, every node on the link.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// The Ethernet address IPv6 maps ff02::1 to (33:33 and its low 32 bits).
pub const ALL_NODES_MAC: Mac = [0x33, 0x33, 0, 0, 0, 1];

/// Length of the ICMPv6 message: header, flags, target, one option.
pub const MESSAGE_LEN: usize = 32;
const IPV6_HEADER_LEN: usize = 40;
/// Length of the all-nodes frame: Ethernet, IPv6, message.
pub const FRAME_LEN: usize = 14 + IPV6_HEADER_LEN + MESSAGE_LEN;

/// The ICMPv6 neighbour advertisement for `target` at `mac`, from
/// `source` to `destination`, checksum included (the checksum covers the
/// IPv6 pseudo-header, hence both addresses).
pub fn advertisement(
    source: Ipv6Addr,
    destination: Ipv6Addr,
    target: Ipv6Addr,
    mac: Mac,
) -> [u8; MESSAGE_LEN] {
    let mut message = [0u8; MESSAGE_LEN];
    message[0] = NEIGHBOUR_ADVERTISEMENT;
    message[4..8].copy_from_slice(&FLAG_OVERRIDE.to_be_bytes());
    message[8..24].copy_from_slice(&target.octets());
    message[24] = OPTION_TARGET_LINK_LAYER;
    message[25] = 1; // in units of 8 bytes
    message[26..32].copy_from_slice(&mac);
    let sum = checksum(source, destination, &message);
    message[2..4].copy_from_slice(&sum.to_be_bytes());
    message
}

/// The unsolicited advertisement of `vip` at `our_mac` to all nodes, as a
/// whole Ethernet frame: source address the VIP itself, hop limit 255.
pub fn unsolicited(our_mac: Mac, vip: Ipv6Addr) -> Vec<u8> {
    let mut frame = Vec::with_capacity(FRAME_LEN);
    frame.extend_from_slice(&ALL_NODES_MAC);
    frame.extend_from_slice(&our_mac);
    frame.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
    frame.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, no class or flow
    frame.extend_from_slice(&(MESSAGE_LEN as u16).to_be_bytes());
    frame.extend_from_slice(&[NEXT_HEADER_ICMPV6, HOP_LIMIT]);
    frame.extend_from_slice(&vip.octets());
    frame.extend_from_slice(&ALL_NODES.octets());
    frame.extend_from_slice(&advertisement(vip, ALL_NODES, vip, our_mac));
    frame
}

/// The ICMPv6 checksum: one's complement of the one's complement sum of
/// the pseudo-header (source, destination, length, next header) and the
/// message with its checksum field zero.
pub fn checksum(source: Ipv6Addr, destination: Ipv6Addr, message: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let hi = u32::from(pair[0]) << 8;
            let lo = pair.get(1).copied().map_or(0, u32::from);
            sum += hi | lo;
        }
    };
    add(&source.octets());
    add(&destination.octets());
    add(&(message.len() as u32).to_be_bytes());
    add(&[0, 0, 0, NEXT_HEADER_ICMPV6]);
    add(&message[..2]);
    add(&message[4..]);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: Mac = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];

    fn vip() -> Ipv6Addr {
        "2001:db8::10".parse().unwrap()
    }

    #[rustfmt::skip]
    const TARGET: [u8; 16] = [
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];

    #[test]
    fn unsolicited_advertisement_is_byte_exact() {
        let frame = unsolicited(MAC, vip());
        let mut expected = Vec::new();
        // Ethernet: all-nodes multicast MAC, ours, IPv6.
        expected.extend_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
        expected.extend_from_slice(&MAC);
        expected.extend_from_slice(&[0x86, 0xdd]);
        // IPv6: version 6, payload 32, ICMPv6, hop limit 255.
        expected.extend_from_slice(&[0x60, 0, 0, 0, 0, 32, 58, 255]);
        expected.extend_from_slice(&TARGET); // source: the VIP itself
        expected.extend_from_slice(&[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        // ICMPv6: type 136, code 0, checksum (computed independently).
        expected.extend_from_slice(&[136, 0, 0x9a, 0xfc]);
        // Flags: Override only.
        expected.extend_from_slice(&[0x20, 0, 0, 0]);
        expected.extend_from_slice(&TARGET);
        // Target link-layer address option: type 2, 1 x 8 bytes, our MAC.
        expected.extend_from_slice(&[2, 1]);
        expected.extend_from_slice(&MAC);
        assert_eq!(frame, expected);
        assert_eq!(frame.len(), FRAME_LEN);
    }

    #[test]
    fn unicast_advertisement_checksums_over_its_destination() {
        let neighbour: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let message = advertisement(vip(), neighbour, vip(), MAC);
        assert_eq!(message[2..4], [0x6c, 0x46]);
        assert_eq!(message[4..8], [0x20, 0, 0, 0]);
        assert_eq!(message[8..24], TARGET);
    }

    #[test]
    fn a_correct_checksum_sums_to_all_ones() {
        // A receiver adds everything, checksum included, and expects
        // 0xffff: check our field passes that test for other inputs too.
        for last in [0u16, 1, 0xfffe, 0xffff] {
            let vip = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0x1234, last);
            let message = advertisement(vip, ALL_NODES, vip, [0xff; 6]);
            let mut sum: u32 = 0;
            let mut add = |bytes: &[u8]| {
                for pair in bytes.chunks(2) {
                    sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
                }
            };
            add(&vip.octets());
            add(&ALL_NODES.octets());
            add(&[0, 0, 0, 32, 0, 0, 0, 58]);
            add(&message);
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            assert_eq!(sum, 0xffff, "{vip}");
        }
    }
}
