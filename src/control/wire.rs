//! Byte layout of the original control protocol: request bytes and the
//! state reply.
//!
//! The state reply is int32 L then L bytes; per VIF 900 bytes: int32 claim
//! priority, then 32 records of 28 bytes (16-byte NUL-padded interface
//! name, address, broadcast, netmask; 4 bytes each, network order).
//! Record 0 carries the owner's real address (0 when not acquired), record
//! 1 the primary address, records 2.. the other addresses, zero-filled
//! when unused. So a VIF carries at most 31 addresses on this wire; the
//! JSON status carries them all. IPv6 addresses have no room in these
//! records and are left out (the original never had any); a VIF of IPv6
//! addresses only travels with no address record.

use std::net::{IpAddr, Ipv4Addr};

use super::ControlError;
use crate::base::{prefix_mask, VifAddress};

/// Bytes of a record's NUL-padded interface name.
pub const IFNAME_LEN: usize = 16;
/// Bytes of one address record.
pub const RECORD_LEN: usize = IFNAME_LEN + 12;
/// Address records per VIF.
pub const RECORDS_PER_VIF: usize = 32;
/// Bytes of one VIF in the state reply.
pub const VIF_LEN: usize = 4 + RECORDS_PER_VIF * RECORD_LEN;
/// Addresses one VIF can carry: every record but the owner's.
pub const MAX_ADDRESSES: usize = RECORDS_PER_VIF - 1;

/// One request of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// 0: the state reply.
    State,
    /// 1: leave the group and release every VIF, as if this node failed.
    SimulateFailure,
    /// 2: end the simulated failure.
    EndFailure,
    /// Ours: the JSON status.
    JsonStatus,
    /// Ours: a stream of events, one JSON line each, until either side
    /// closes ([`super::watch`]).
    Watch,
}

impl RequestKind {
    /// The request a request byte names, if any.
    pub fn from_byte(byte: u8) -> Option<RequestKind> {
        match byte {
            0 => Some(RequestKind::State),
            1 => Some(RequestKind::SimulateFailure),
            2 => Some(RequestKind::EndFailure),
            3 => Some(RequestKind::JsonStatus),
            4 => Some(RequestKind::Watch),
            _ => None,
        }
    }

    /// The request byte.
    pub fn byte(self) -> u8 {
        match self {
            RequestKind::State => 0,
            RequestKind::SimulateFailure => 1,
            RequestKind::EndFailure => 2,
            RequestKind::JsonStatus => 3,
            RequestKind::Watch => 4,
        }
    }
}

/// The state reply as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateReply {
    /// Every configured VIF, in configuration order.
    pub vifs: Vec<VifRecord>,
}

/// One VIF of the state reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VifRecord {
    /// Claim priority (0 UNCLAIMED .. 5 PREFER_CLAIMED).
    pub priority: i32,
    /// Real address of the member holding it.
    pub owner: Option<Ipv4Addr>,
    /// Primary first; at most [`MAX_ADDRESSES`] are sent.
    pub addresses: Vec<AddressRecord>,
}

/// One address of a VIF as the listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRecord {
    /// The interface it goes on.
    pub interface: String,
    /// The address.
    pub addr: IpAddr,
    /// Its prefix length on the interface.
    pub prefix_len: u8,
}

/// The netmask's length (`255.255.255.0` -> 24), counted from the lowest
/// set bit, so it is exact for every contiguous mask.
fn mask_len(netmask: Ipv4Addr) -> u8 {
    let mask = u32::from(netmask);
    if mask == 0 {
        0
    } else {
        (32 - mask.trailing_zeros()) as u8
    }
}

impl From<&VifAddress> for AddressRecord {
    fn from(a: &VifAddress) -> AddressRecord {
        AddressRecord {
            interface: a.interface.clone(),
            addr: a.addr,
            prefix_len: a.prefix_len,
        }
    }
}

/// The whole reply to request 0, length prefix included.
pub fn encode_state(reply: &StateReply) -> Vec<u8> {
    let body_len = reply.vifs.len() * VIF_LEN;
    let mut out = Vec::with_capacity(4 + body_len);
    // Bounded by the configuration (thousands of VIFs at most).
    out.extend_from_slice(&(body_len as u32).to_be_bytes());
    for vif in &reply.vifs {
        let start = out.len();
        out.extend_from_slice(&vif.priority.to_be_bytes());
        let owner = vif.owner.unwrap_or(Ipv4Addr::UNSPECIFIED);
        put_record(
            &mut out,
            "",
            owner,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
        );
        let ipv4 = vif.addresses.iter().filter_map(|a| match a.addr {
            IpAddr::V4(addr) => Some((a, addr)),
            IpAddr::V6(_) => None,
        });
        for (a, addr) in ipv4.take(MAX_ADDRESSES) {
            let mask = prefix_mask(a.prefix_len);
            let broadcast = Ipv4Addr::from(u32::from(addr) | !mask);
            put_record(&mut out, &a.interface, addr, broadcast, mask.into());
        }
        out.resize(start + VIF_LEN, 0);
    }
    out
}

fn put_record(out: &mut Vec<u8>, name: &str, addr: Ipv4Addr, bcast: Ipv4Addr, mask: Ipv4Addr) {
    let mut field = [0u8; IFNAME_LEN];
    // Keep the terminating NUL the C reader relies on.
    let len = name.len().min(IFNAME_LEN - 1);
    field[..len].copy_from_slice(&name.as_bytes()[..len]);
    out.extend_from_slice(&field);
    for a in [addr, bcast, mask] {
        out.extend_from_slice(&a.octets());
    }
}

/// Reads the length prefix of a reply (`int32 L`), refusing lengths that
/// are negative or above `limit`.
pub fn decode_length(prefix: [u8; 4], limit: usize) -> Result<usize, ControlError> {
    let len = i32::from_be_bytes(prefix);
    usize::try_from(len)
        .ok()
        .filter(|&l| l <= limit)
        .ok_or_else(|| ControlError::BadReply(format!("length {len} outside 0..={limit}")))
}

/// Decodes the L bytes that follow the length prefix of a state reply.
pub fn decode_state(body: &[u8]) -> Result<StateReply, ControlError> {
    if body.len() % VIF_LEN != 0 {
        return Err(ControlError::BadReply(format!(
            "state of {} bytes is not a whole number of {VIF_LEN}-byte VIFs",
            body.len()
        )));
    }
    let vifs = body
        .chunks_exact(VIF_LEN)
        .enumerate()
        .map(|(index, chunk)| decode_vif(index, chunk))
        .collect::<Result<_, _>>()?;
    Ok(StateReply { vifs })
}

fn decode_vif(index: usize, chunk: &[u8]) -> Result<VifRecord, ControlError> {
    let priority = i32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    let records: Vec<&[u8]> = chunk[4..].chunks_exact(RECORD_LEN).collect();
    let owner = Some(address_at(records[0], IFNAME_LEN)).filter(|a| !a.is_unspecified());
    let mut addresses = Vec::new();
    for (n, record) in records.iter().enumerate().skip(1) {
        let addr = address_at(record, IFNAME_LEN);
        // As the original reader: the first empty record ends the list.
        if addr.is_unspecified() {
            break;
        }
        // Interface names are at most 15 bytes: the field always holds
        // the NUL that ends one (the C reader prints up to it).
        let name = &record[..IFNAME_LEN];
        let Some(end) = name.iter().position(|&b| b == 0) else {
            return Err(ControlError::BadReply(format!(
                "VIF {index}, record {n}: interface name has no terminating NUL"
            )));
        };
        let interface = std::str::from_utf8(&name[..end]).map_err(|_| {
            ControlError::BadReply(format!(
                "VIF {index}, record {n}: interface name is not UTF-8"
            ))
        })?;
        addresses.push(AddressRecord {
            interface: interface.to_string(),
            addr: addr.into(),
            prefix_len: mask_len(address_at(record, IFNAME_LEN + 8)),
        });
    }
    Ok(VifRecord {
        priority,
        owner,
        addresses,
    })
}

fn address_at(record: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(record[at], record[at + 1], record[at + 2], record[at + 3])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(interface: &str, addr: [u8; 4], prefix: u8) -> AddressRecord {
        AddressRecord::from(&VifAddress {
            interface: interface.to_string(),
            addr: Ipv4Addr::from(addr).into(),
            prefix_len: prefix,
            network_len: 24,
        })
    }

    fn sample() -> StateReply {
        crate::control::status_report::tests::sample_status().state_reply()
    }

    #[test]
    fn request_bytes_are_the_originals_plus_ours() {
        for (byte, kind) in [
            (0, RequestKind::State),
            (1, RequestKind::SimulateFailure),
            (2, RequestKind::EndFailure),
            (3, RequestKind::JsonStatus),
            (4, RequestKind::Watch),
        ] {
            assert_eq!(RequestKind::from_byte(byte), Some(kind));
            assert_eq!(kind.byte(), byte);
        }
        assert_eq!(RequestKind::from_byte(5), None);
        assert_eq!(RequestKind::from_byte(255), None);
    }

    #[test]
    fn state_reply_is_byte_exact() {
        let bytes = encode_state(&sample());
        assert_eq!(bytes.len(), 4 + 2 * 900);
        // L = VIFs x 900, network order.
        assert_eq!(bytes[..4], [0, 0, 0x07, 0x08]);
        let vif = &bytes[4..904];
        assert_eq!(vif[..4], [0, 0, 0, 5]);
        let mut owner = [0u8; 28];
        owner[16..20].copy_from_slice(&[192, 168, 1, 10]);
        assert_eq!(vif[4..32], owner);
        let primary: [u8; 28] = [
            b'e', b't', b'h', b'0', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // name
            10, 0, 0, 5, // address
            10, 0, 0, 255, // broadcast
            255, 255, 255, 0, // netmask
        ];
        assert_eq!(vif[32..60], primary);
        let second: [u8; 28] = [
            b'e', b't', b'h', b'1', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // name
            192, 0, 2, 5, // address
            192, 0, 2, 5, // broadcast
            255, 255, 255, 255, // netmask
        ];
        assert_eq!(vif[60..88], second);
        assert!(vif[88..].iter().all(|&b| b == 0));
        // The unowned VIF: priority 0, owner record all zero.
        assert!(bytes[904..936].iter().all(|&b| b == 0));
        assert_eq!(bytes[936..940], *b"eth0");
    }

    #[test]
    fn state_reply_round_trips() {
        let reply = sample();
        let bytes = encode_state(&reply);
        let len = decode_length([bytes[0], bytes[1], bytes[2], bytes[3]], 1 << 20).unwrap();
        assert_eq!(len, bytes.len() - 4);
        assert_eq!(decode_state(&bytes[4..]).unwrap(), reply);
        assert_eq!(decode_state(&[]).unwrap(), StateReply::default());
    }

    #[test]
    fn addresses_beyond_the_wire_limit_are_not_sent() {
        let addresses: Vec<_> = (1..=40)
            .map(|i| record("eth0", [10, 0, 1, i], 24))
            .collect();
        let reply = StateReply {
            vifs: vec![VifRecord {
                priority: 2,
                owner: None,
                addresses: addresses.clone(),
            }],
        };
        let bytes = encode_state(&reply);
        assert_eq!(bytes.len(), 904);
        let decoded = decode_state(&bytes[4..]).unwrap();
        assert_eq!(decoded.vifs[0].addresses, addresses[..MAX_ADDRESSES]);
    }

    #[test]
    fn prefix_lengths_come_from_the_netmask() {
        for bits in [0u8, 1, 8, 23, 24, 29, 32] {
            let reply = StateReply {
                vifs: vec![VifRecord {
                    priority: 1,
                    owner: None,
                    addresses: vec![record("eth0", [10, 0, 0, 5], bits)],
                }],
            };
            let decoded = decode_state(&encode_state(&reply)[4..]).unwrap();
            assert_eq!(decoded.vifs[0].addresses[0].prefix_len, bits);
        }
    }

    #[test]
    fn ipv6_addresses_have_no_record() {
        let v6 = AddressRecord {
            interface: "eth0".into(),
            addr: "2001:db8::10".parse().unwrap(),
            prefix_len: 64,
        };
        let mixed = StateReply {
            vifs: vec![
                VifRecord {
                    priority: 2,
                    owner: None,
                    addresses: vec![v6.clone(), record("eth0", [10, 0, 0, 5], 24)],
                },
                VifRecord {
                    priority: 2,
                    owner: Some(Ipv4Addr::new(192, 0, 2, 1)),
                    addresses: vec![v6],
                },
            ],
        };
        let decoded = decode_state(&encode_state(&mixed)[4..]).unwrap();
        assert_eq!(
            decoded.vifs[0].addresses,
            vec![record("eth0", [10, 0, 0, 5], 24)]
        );
        assert!(decoded.vifs[1].addresses.is_empty());
        assert_eq!(decoded.vifs[1].owner, Some(Ipv4Addr::new(192, 0, 2, 1)));
    }

    #[test]
    fn malformed_replies_are_refused() {
        assert!(decode_length((-1i32).to_be_bytes(), 1000).is_err());
        assert!(decode_length(901u32.to_be_bytes(), 900).is_err());
        let err = decode_state(&[0u8; 899]).unwrap_err();
        assert!(err.to_string().contains("899"), "{err}");
        let mut bytes = encode_state(&sample());
        bytes[36] = 0xff;
        let err = decode_state(&bytes[4..]).unwrap_err();
        assert!(err.to_string().contains("VIF 0, record 1"), "{err}");
    }

    /// Found by fuzzing: a 16-byte name without its NUL decoded into a
    /// name that no encoder writes (and that the C reader runs past).
    #[test]
    fn interface_names_without_their_nul_are_refused() {
        let mut bytes = encode_state(&sample());
        let second = 4 + 4 + 2 * RECORD_LEN;
        bytes[second..second + IFNAME_LEN].copy_from_slice(b"eth1234567890123");
        let err = decode_state(&bytes[4..]).unwrap_err();
        assert!(err.to_string().contains("VIF 0, record 2"), "{err}");
        assert!(err.to_string().contains("NUL"), "{err}");
        // Fifteen bytes and the NUL are the longest name, and round-trip.
        let mut reply = sample();
        reply.vifs[0].addresses[1].interface = "eth123456789012".to_string();
        let bytes = encode_state(&reply);
        assert_eq!(decode_state(&bytes[4..]).unwrap(), reply);
    }
}
