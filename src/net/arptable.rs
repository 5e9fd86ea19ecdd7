//! The kernel's ARP table, `/proc/net/arp`: what this node shares with its
//! peers as its ARP cache.

use super::arp::Mac;
use super::error::{Action, Error, Result};
pub use crate::base::ArpEntry;

/// `/proc/net` shows the namespace of the process's main thread; this
/// shows the calling thread's, which is the one every other call here
/// acts in.
pub const PATH: &str = "/proc/thread-self/net/arp";

/// `ATF_COM`: the entry is complete (has a MAC).
const COMPLETE: u32 = 0x2;

/// Reads the ARP table of the calling thread's network namespace.
pub fn read() -> Result<Vec<ArpEntry>> {
    std::fs::read_to_string(PATH)
        .map(|text| parse(&text))
        .map_err(|e| Error::os(Action::ReadArpTable, "", None, e))
}

/// Complete entries of an ARP table in `/proc/net/arp` form. The header
/// and every line that does not parse (incomplete entries, odd formats,
/// a zero MAC) are skipped; the device column is not kept, as peers share
/// addresses and MACs only.
pub fn parse(text: &str) -> Vec<ArpEntry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<ArpEntry> {
    // IP address, HW type, Flags, HW address, Mask, Device.
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [ip, _hw_type, flags, mac, _mask, _interface] = fields[..] else {
        return None;
    };
    let flags = u32::from_str_radix(flags.strip_prefix("0x")?, 16).ok()?;
    if flags & COMPLETE == 0 {
        return None;
    }
    let mac = parse_mac(mac)?;
    if mac == [0; 6] {
        return None;
    }
    Some(ArpEntry {
        addr: ip.parse().ok()?,
        mac,
    })
}

/// `aa:bb:cc:dd:ee:ff` to bytes.
pub fn parse_mac(text: &str) -> Option<Mac> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in mac.iter_mut() {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const TABLE: &str = "\
IP address       HW type     Flags       HW address            Mask     Device
192.168.1.1      0x1         0x2         52:54:00:12:34:56     *        eth0
192.168.1.9      0x1         0x0         00:00:00:00:00:00     *        eth0
10.0.0.7         0x1         0x6         02:aa:bb:cc:dd:0e     *        br-lan
garbage line
10.0.0.8         0x1         0x2         02:aa:bb:cc:dd        *        br-lan
10.0.0.300       0x1         0x2         02:aa:bb:cc:dd:ee     *        br-lan
10.0.0.9         0x1         zz          02:aa:bb:cc:dd:ee     *        br-lan

";

    #[test]
    fn keeps_complete_entries_and_skips_the_rest() {
        assert_eq!(
            parse(TABLE),
            vec![
                ArpEntry {
                    addr: Ipv4Addr::new(192, 168, 1, 1),
                    mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
                },
                ArpEntry {
                    addr: Ipv4Addr::new(10, 0, 0, 7),
                    mac: [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x0e],
                },
            ]
        );
    }

    #[test]
    fn macs_must_have_six_hex_bytes() {
        assert_eq!(parse_mac("1:2:3:4:5:6"), Some([1, 2, 3, 4, 5, 6]));
        assert_eq!(parse_mac("01:02:03:04:05:06:07"), None);
        assert_eq!(parse_mac("01:02:03:04:05:g6"), None);
        assert_eq!(parse_mac("01:02:03:04:05:"), None);
    }
}
