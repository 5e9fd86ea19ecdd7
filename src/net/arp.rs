//! Ethernet frames that tell a LAN where a VIP now lives. Pure builders:
//! the bytes are tested here, the sending is `packet`'s job.

use std::net::Ipv4Addr;

/// A MAC address.
pub type Mac = [u8; 6];

/// The Ethernet broadcast address.
pub const BROADCAST_MAC: Mac = [0xff; 6];

/// The shortest Ethernet frame (without FCS); shorter ones are padded.
pub const MIN_FRAME: usize = 60;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;
const ARP_REQUEST: u16 = 1;
const ARP_REPLY: u16 = 2;

fn ethernet_header(frame: &mut Vec<u8>, destination: Mac, source: Mac, ethertype: u16) {
    frame.extend_from_slice(&destination);
    frame.extend_from_slice(&source);
    frame.extend_from_slice(&ethertype.to_be_bytes());
}

/// An ARP packet for IPv4 over Ethernet, in an Ethernet frame padded to
/// [`MIN_FRAME`] bytes.
#[allow(clippy::too_many_arguments)]
fn arp_frame(
    destination: Mac,
    source: Mac,
    operation: u16,
    sender_mac: Mac,
    sender_ip: Ipv4Addr,
    target_mac: Mac,
    target_ip: Ipv4Addr,
) -> Vec<u8> {
    let mut frame = Vec::with_capacity(MIN_FRAME);
    ethernet_header(&mut frame, destination, source, ETHERTYPE_ARP);
    frame.extend_from_slice(&1u16.to_be_bytes()); // hardware: Ethernet
    frame.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    frame.extend_from_slice(&[6, 4]);
    frame.extend_from_slice(&operation.to_be_bytes());
    frame.extend_from_slice(&sender_mac);
    frame.extend_from_slice(&sender_ip.octets());
    frame.extend_from_slice(&target_mac);
    frame.extend_from_slice(&target_ip.octets());
    frame.resize(MIN_FRAME, 0);
    frame
}

/// The original's notification: an ARP reply from (our MAC, `vip`) to
/// (ff:ff:ff:ff:ff:ff, `target`), sent as an Ethernet broadcast or, when
/// the target's MAC is known, unicast to `destination`.
pub fn notification(our_mac: Mac, vip: Ipv4Addr, target: Ipv4Addr, destination: Mac) -> Vec<u8> {
    arp_frame(
        destination,
        our_mac,
        ARP_REPLY,
        our_mac,
        vip,
        BROADCAST_MAC,
        target,
    )
}

/// A gratuitous ARP in the RFC 5227 "ARP Announcement" form: a broadcast
/// request whose sender and target address are both the VIP and whose
/// target MAC is zero. Every common stack updates its cache from it.
pub fn gratuitous(our_mac: Mac, vip: Ipv4Addr) -> Vec<u8> {
    arp_frame(
        BROADCAST_MAC,
        our_mac,
        ARP_REQUEST,
        our_mac,
        vip,
        [0; 6],
        vip,
    )
}

/// The Internet checksum (RFC 1071) of `bytes`.
pub fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Identifies our echo requests (ICMP identifier); the sequence numbers
/// count up per sender.
pub const ECHO_IDENTIFIER: u16 = 0x5741; // "WA"

/// An ICMP echo request from `vip` to `target` in an Ethernet frame to
/// `destination` (the target's MAC when known, broadcast otherwise).
/// Answering it makes the target resolve the VIP afresh.
pub fn echo_request(
    our_mac: Mac,
    vip: Ipv4Addr,
    target: Ipv4Addr,
    destination: Mac,
    sequence: u16,
) -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0]; // echo request, code 0, checksum
    icmp.extend_from_slice(&ECHO_IDENTIFIER.to_be_bytes());
    icmp.extend_from_slice(&sequence.to_be_bytes());
    icmp.extend_from_slice(b"wackamole");
    let checksum = internet_checksum(&icmp);
    icmp[2..4].copy_from_slice(&checksum.to_be_bytes());

    let total = (20 + icmp.len()) as u16;
    let mut ip = vec![0x45, 0]; // version 4, 20-byte header; DSCP 0
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&sequence.to_be_bytes()); // identification
    ip.extend_from_slice(&[0x40, 0]); // don't fragment
    ip.extend_from_slice(&[64, 1, 0, 0]); // TTL 64, ICMP, checksum
    ip.extend_from_slice(&vip.octets());
    ip.extend_from_slice(&target.octets());
    let checksum = internet_checksum(&ip);
    ip[10..12].copy_from_slice(&checksum.to_be_bytes());

    let mut frame = Vec::with_capacity(MIN_FRAME);
    ethernet_header(&mut frame, destination, our_mac, ETHERTYPE_IPV4);
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&icmp);
    frame.resize(frame.len().max(MIN_FRAME), 0);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: Mac = [0x02, 0x00, 0x5e, 0x10, 0x20, 0x30];
    const THEIRS: Mac = [0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc];
    const VIP: Ipv4Addr = Ipv4Addr::new(10, 1, 2, 3);
    const TARGET: Ipv4Addr = Ipv4Addr::new(10, 1, 2, 77);

    #[test]
    fn broadcast_notification_bytes() {
        let frame = notification(OURS, VIP, TARGET, BROADCAST_MAC);
        let mut expected = vec![
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Ethernet destination
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, // Ethernet source
            0x08, 0x06, // ARP
            0x00, 0x01, 0x08, 0x00, 6, 4, // Ethernet/IPv4, lengths
            0x00, 0x02, // reply
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, 10, 1, 2, 3, // sender
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 10, 1, 2, 77, // target
        ];
        expected.resize(60, 0);
        assert_eq!(frame, expected);
    }

    #[test]
    fn unicast_notification_differs_only_in_ethernet_destination() {
        let broadcast = notification(OURS, VIP, TARGET, BROADCAST_MAC);
        let unicast = notification(OURS, VIP, TARGET, THEIRS);
        assert_eq!(&unicast[..6], &THEIRS);
        assert_eq!(&unicast[6..], &broadcast[6..]);
    }

    #[test]
    fn gratuitous_bytes() {
        let frame = gratuitous(OURS, VIP);
        let mut expected = vec![
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, 0x08,
            0x06, //
            0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, // request
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, 10, 1, 2, 3, // sender
            0, 0, 0, 0, 0, 0, 10, 1, 2, 3, // target: the VIP itself
        ];
        expected.resize(60, 0);
        assert_eq!(frame, expected);
    }

    #[test]
    fn checksum_matches_rfc1071_example() {
        // The worked example of RFC 1071 section 3: sum 0xddf2, checksum !0xddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&bytes), !0xddf2);
        assert_eq!(internet_checksum(&[0xab]), !0xab00);
    }

    #[test]
    fn echo_request_bytes() {
        let frame = echo_request(OURS, VIP, TARGET, THEIRS, 7);
        let mut expected = vec![
            0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc, 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, 0x08,
            0x00, //
            0x45, 0x00, 0x00, 37, 0x00, 0x07, 0x40, 0x00, 64, 1, 0x00,
            0x00, // header, checksum 0 for now
            10, 1, 2, 3, 10, 1, 2, 77, //
            8, 0, 0x00, 0x00, 0x57, 0x41, 0x00, 0x07, // echo request, checksum 0 for now
            b'w', b'a', b'c', b'k', b'a', b'm', b'o', b'l', b'e',
        ];
        // Checksums worked out by hand from the bytes above.
        let ip_sum: u32 =
            0x4500 + 37 + 0x0007 + 0x4000 + 0x4001 + 0x0a01 + 0x0203 + 0x0a01 + 0x024d;
        let ip_sum = !(((ip_sum & 0xffff) + (ip_sum >> 16)) as u16);
        expected[24..26].copy_from_slice(&ip_sum.to_be_bytes());
        let icmp_sum: u32 = 0x0800 + 0x5741 + 0x0007 + 0x7761 + 0x636b + 0x616d + 0x6f6c + 0x6500;
        let icmp_sum = !(((icmp_sum & 0xffff) + (icmp_sum >> 16)) as u16);
        expected[36..38].copy_from_slice(&icmp_sum.to_be_bytes());
        expected.resize(60, 0);
        assert_eq!(frame, expected);
        // A header with its checksum in place sums to zero.
        assert_eq!(internet_checksum(&frame[14..34]), 0);
        assert_eq!(internet_checksum(&frame[34..51]), 0);
    }
}
