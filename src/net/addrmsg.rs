//! The rtnetlink address messages, as pure functions over bytes: the
//! requests that add, replace (a new lifetime) and delete one address of
//! either family, the request for a dump of a family's addresses, and the
//! reading of the addresses a dump returns. Tested here byte for byte;
//! [`netlink`](super::netlink) only moves them.
//!
//! A message is a 16-byte header (length, type, flags, sequence number,
//! port), a `struct ifaddrmsg` (family, prefix length, the low eight flag
//! bits, scope, interface index) and attributes, each a length, a type and
//! a payload padded to four bytes. Integers are in host order, addresses
//! in network order.

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use crate::base::prefix_mask;

pub(super) const RTM_NEWADDR: u16 = 20;
pub(super) const RTM_DELADDR: u16 = 21;
const RTM_GETADDR: u16 = 22;
pub(super) const NLMSG_ERROR: u16 = 2;
pub(super) const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x01;
const NLM_F_ACK: u16 = 0x04;
/// Set on every part of a dump that the kernel saw change while it was
/// being dumped: the dump may be inconsistent.
pub(super) const NLM_F_DUMP_INTR: u16 = 0x10;
const NLM_F_ROOT: u16 = 0x100;
const NLM_F_MATCH: u16 = 0x200;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_BROADCAST: u16 = 4;
const IFA_CACHEINFO: u16 = 6;
const IFA_FLAGS: u16 = 8;
const IFA_RT_PRIORITY: u16 = 9;

/// No duplicate address detection (IPv6): the address is never tentative.
pub const IFA_F_NODAD: u32 = 0x02;
/// The address has no lifetime: the kernel never removes it by itself.
pub const IFA_F_PERMANENT: u32 = 0x80;
/// No prefix route was made for the address.
pub const IFA_F_NOPREFIXROUTE: u32 = 0x200;
/// `RT_SCOPE_UNIVERSE`: a global address.
pub const RT_SCOPE_UNIVERSE: u8 = 0;
/// `RT_SCOPE_LINK`: an address valid on its link only (fe80::/10).
pub const RT_SCOPE_LINK: u8 = 253;

/// The lifetime the kernel reads as "forever".
const INFINITY_LIFE_TIME: u32 = u32::MAX;
/// `struct nlmsghdr`.
pub(super) const HEADER_LEN: usize = 16;

/// Lifetimes of an address, in whole seconds from the moment the kernel
/// took them: past `preferred` it is no longer chosen as a source, past
/// `valid` the kernel removes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Seconds it stays preferred.
    pub preferred: u32,
    /// Seconds it stays at all (at least 1).
    pub valid: u32,
}

impl Lifetimes {
    /// Both lifetimes `seconds`, the way VIP addresses get them (a VIP is
    /// preferred for as long as it is there).
    pub fn both(seconds: u32) -> Lifetimes {
        Lifetimes {
            preferred: seconds,
            valid: seconds,
        }
    }
}

/// One address as rtnetlink describes it: what a request carries and
/// what a dump returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelAddress {
    /// The interface index.
    pub index: u32,
    /// The address itself (`IFA_LOCAL`).
    pub local: IpAddr,
    /// `IFA_ADDRESS`: the same as `local` except on point-to-point links,
    /// where it is the peer's.
    pub peer: IpAddr,
    /// Its prefix length.
    pub prefix_len: u8,
    /// The IPv4 label (`eth0`, `eth0:3`); IPv6 addresses have none.
    pub label: Option<String>,
    /// The IPv4 broadcast address, if it has one.
    pub broadcast: Option<Ipv4Addr>,
    /// `RT_SCOPE_*`.
    pub scope: u8,
    /// `IFA_F_*`.
    pub flags: u32,
    /// Its lifetimes; `None` for a permanent address. In a dump, what is
    /// left of them (rounded down to the second).
    pub lifetimes: Option<Lifetimes>,
    /// When the kernel created it, in hundredths of a second since boot
    /// (a dump's `cstamp`; 0 in a request): the same address removed and
    /// added again has another.
    pub created: u32,
    /// The metric of its prefix route, when not the default.
    pub metric: Option<u32>,
}

impl KernelAddress {
    /// A new address `addr/prefix_len` on interface `index`, as we add
    /// VIPs: IPv4 ones under `label` with the broadcast address of their
    /// subnet (none for /31 and /32), IPv6 ones without duplicate address
    /// detection; link scope for fe80::/10, global otherwise.
    pub fn new(
        index: u32,
        addr: IpAddr,
        prefix_len: u8,
        label: Option<String>,
        lifetimes: Option<Lifetimes>,
    ) -> KernelAddress {
        let (broadcast, scope, flags) = match addr {
            IpAddr::V4(v4) => {
                let broadcast = (prefix_len < 31)
                    .then(|| Ipv4Addr::from(u32::from(v4) | !prefix_mask(prefix_len)));
                (broadcast, RT_SCOPE_UNIVERSE, 0)
            }
            IpAddr::V6(v6) => {
                let scope = if v6.segments()[0] & 0xffc0 == 0xfe80 {
                    RT_SCOPE_LINK
                } else {
                    RT_SCOPE_UNIVERSE
                };
                (None, scope, IFA_F_NODAD)
            }
        };
        KernelAddress {
            index,
            local: addr,
            peer: addr,
            prefix_len,
            label,
            broadcast,
            scope,
            flags,
            lifetimes,
            created: 0,
            metric: None,
        }
    }

    /// Whether the kernel keeps it until someone removes it.
    pub fn is_permanent(&self) -> bool {
        self.lifetimes.is_none()
    }
}

/// The flags of `flags` that a request may carry for an address of
/// `addr`'s family, so that a renewal or a restore keeps them: for IPv6
/// the ones the kernel takes from userspace (no-DAD, home address,
/// managed temporary addresses, no prefix route, multicast auto-join,
/// optimistic), for IPv4 the no-prefix-route flag. The others (secondary,
/// permanent, deprecated, tentative) are the kernel's to set.
pub fn settable_flags(addr: IpAddr, flags: u32) -> u32 {
    match addr {
        IpAddr::V4(_) => flags & IFA_F_NOPREFIXROUTE,
        IpAddr::V6(_) => flags & (IFA_F_NODAD | 0x04 | 0x10 | 0x100 | IFA_F_NOPREFIXROUTE | 0x400),
    }
}

/// What a request does with its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Add it; the kernel refuses one already there (`EEXIST`).
    Add,
    /// Give the address already there the request's lifetimes. Careful:
    /// both families add an address that is not there, whatever the
    /// flags say, so the caller checks afterwards.
    Replace,
    /// Delete it (an IPv4 one only under the request's label, if any).
    Delete,
}

/// The request for `change` of `address`, sequence number `seq`, asking
/// for an acknowledgement.
pub fn address_request(change: Change, seq: u32, address: &KernelAddress) -> Vec<u8> {
    let (kind, flags) = match change {
        Change::Add => (
            RTM_NEWADDR,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        ),
        Change::Replace => (RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE),
        Change::Delete => (RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK),
    };
    let mut message = header(kind, flags, seq);
    message.extend_from_slice(&[
        family(address.local),
        address.prefix_len,
        // The low eight flags; all of them go in IFA_FLAGS below.
        address.flags as u8,
        address.scope,
    ]);
    message.extend_from_slice(&address.index.to_ne_bytes());
    attribute(&mut message, IFA_LOCAL, &octets(address.local));
    attribute(&mut message, IFA_ADDRESS, &octets(address.peer));
    if let Some(label) = &address.label {
        let mut text = label.as_bytes().to_vec();
        text.push(0);
        attribute(&mut message, IFA_LABEL, &text);
    }
    if change != Change::Delete {
        if let Some(broadcast) = address.broadcast {
            attribute(&mut message, IFA_BROADCAST, &broadcast.octets());
        }
        if address.flags != 0 {
            attribute(&mut message, IFA_FLAGS, &address.flags.to_ne_bytes());
        }
        if let Some(lifetimes) = address.lifetimes {
            // struct ifa_cacheinfo: preferred, valid, then two time stamps
            // the kernel ignores in requests.
            let mut info = Vec::with_capacity(16);
            info.extend_from_slice(&lifetimes.preferred.to_ne_bytes());
            info.extend_from_slice(&lifetimes.valid.to_ne_bytes());
            info.extend_from_slice(&[0; 8]);
            attribute(&mut message, IFA_CACHEINFO, &info);
        }
        if let Some(metric) = address.metric {
            attribute(&mut message, IFA_RT_PRIORITY, &metric.to_ne_bytes());
        }
    }
    finish(message)
}

/// The request for every address of `family` (`libc::AF_INET` or
/// `libc::AF_INET6`) in the namespace, sequence number `seq`.
pub fn dump_request(family: u8, seq: u32) -> Vec<u8> {
    let mut message = header(RTM_GETADDR, NLM_F_REQUEST | NLM_F_ROOT | NLM_F_MATCH, seq);
    message.extend_from_slice(&[family, 0, 0, 0, 0, 0, 0, 0]);
    finish(message)
}

fn header(kind: u16, flags: u16, seq: u32) -> Vec<u8> {
    let mut message = Vec::with_capacity(96);
    message.extend_from_slice(&[0; 4]); // length, filled in by `finish`
    message.extend_from_slice(&kind.to_ne_bytes());
    message.extend_from_slice(&flags.to_ne_bytes());
    message.extend_from_slice(&seq.to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes()); // to the kernel
    message
}

fn finish(mut message: Vec<u8>) -> Vec<u8> {
    let len = message.len() as u32;
    message[..4].copy_from_slice(&len.to_ne_bytes());
    message
}

fn family(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => libc::AF_INET as u8,
        IpAddr::V6(_) => libc::AF_INET6 as u8,
    }
}

fn octets(addr: IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// An rtattr: length, type, payload padded to four bytes.
fn attribute(message: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    message.extend_from_slice(&(len as u16).to_ne_bytes());
    message.extend_from_slice(&kind.to_ne_bytes());
    message.extend_from_slice(payload);
    message.resize(message.len() + (4 - len % 4) % 4, 0);
}

/// One netlink message of a datagram: its type, flags, sequence number
/// and body.
pub(super) struct Message<'a> {
    pub(super) kind: u16,
    pub(super) flags: u16,
    pub(super) seq: u32,
    pub(super) body: &'a [u8],
}

/// The messages of one datagram from the kernel, in order; an error when
/// a length points outside it.
pub(super) fn messages(datagram: &[u8]) -> io::Result<Vec<Message<'_>>> {
    let mut out = Vec::new();
    let mut rest = datagram;
    while rest.len() >= HEADER_LEN {
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len < HEADER_LEN || len > rest.len() {
            return Err(malformed("message length outside the datagram"));
        }
        out.push(Message {
            kind: u16::from_ne_bytes([rest[4], rest[5]]),
            flags: u16::from_ne_bytes([rest[6], rest[7]]),
            seq: u32::from_ne_bytes([rest[8], rest[9], rest[10], rest[11]]),
            body: &rest[HEADER_LEN..len],
        });
        let aligned = (len + 3) & !3;
        rest = &rest[aligned.min(rest.len())..];
    }
    Ok(out)
}

/// The errno an `NLMSG_ERROR` body carries (0: an acknowledgement).
pub(super) fn error_code(body: &[u8]) -> io::Result<i32> {
    match body {
        [a, b, c, d, ..] => Ok(i32::from_ne_bytes([*a, *b, *c, *d]).saturating_neg()),
        _ => Err(malformed("error message without its code")),
    }
}

/// Reads the body of an `RTM_NEWADDR` message (one entry of a dump).
/// `None` for a family other than IPv4 and IPv6, or an entry without an
/// address; an error when the body is cut short.
pub fn read_address(body: &[u8]) -> io::Result<Option<KernelAddress>> {
    let [family, prefix_len, low_flags, scope, i0, i1, i2, i3, ref attributes @ ..] = *body else {
        return Err(malformed("address message shorter than struct ifaddrmsg"));
    };
    let width = match i32::from(family) {
        libc::AF_INET => 4,
        libc::AF_INET6 => 16,
        _ => return Ok(None),
    };
    let ip = |payload: &[u8]| -> Option<IpAddr> {
        match payload.len() {
            4 if width == 4 => Some(IpAddr::from(<[u8; 4]>::try_from(payload).ok()?)),
            16 if width == 16 => Some(IpAddr::from(<[u8; 16]>::try_from(payload).ok()?)),
            _ => None,
        }
    };
    let (mut local, mut peer, mut label, mut broadcast) = (None, None, None, None);
    let (mut flags, mut cacheinfo, mut metric) = (u32::from(low_flags), None, None);
    let mut rest = attributes;
    while rest.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([rest[0], rest[1]]));
        let kind = u16::from_ne_bytes([rest[2], rest[3]]);
        if len < 4 || len > rest.len() {
            return Err(malformed("attribute length outside its message"));
        }
        let payload = &rest[4..len];
        match kind {
            IFA_LOCAL => local = ip(payload),
            IFA_ADDRESS => peer = ip(payload),
            IFA_LABEL => {
                let end = payload
                    .iter()
                    .position(|&b| b == 0)
                    .unwrap_or(payload.len());
                label = Some(String::from_utf8_lossy(&payload[..end]).into_owned());
            }
            IFA_BROADCAST => {
                broadcast = <[u8; 4]>::try_from(payload).ok().map(Ipv4Addr::from);
            }
            IFA_FLAGS => flags = u32_of(payload).unwrap_or(flags),
            IFA_CACHEINFO if payload.len() >= 16 => {
                let word = |i: usize| u32_of(&payload[i * 4..i * 4 + 4]).unwrap_or(0);
                cacheinfo = Some((word(0), word(1), word(2)));
            }
            IFA_RT_PRIORITY => metric = u32_of(payload),
            _ => {}
        }
        let aligned = (len + 3) & !3;
        rest = &rest[aligned.min(rest.len())..];
    }
    let Some(local) = local.or(peer) else {
        return Ok(None);
    };
    let (preferred, valid, created) =
        cacheinfo.unwrap_or((INFINITY_LIFE_TIME, INFINITY_LIFE_TIME, 0));
    let lifetimes = (flags & IFA_F_PERMANENT == 0 && valid != INFINITY_LIFE_TIME)
        .then_some(Lifetimes { preferred, valid });
    Ok(Some(KernelAddress {
        index: u32::from_ne_bytes([i0, i1, i2, i3]),
        local,
        peer: peer.unwrap_or(local),
        prefix_len,
        label: label.filter(|l| !l.is_empty()),
        broadcast: broadcast.filter(|b| !b.is_unspecified()),
        scope,
        flags,
        lifetimes,
        created,
        metric: metric.filter(|&m| m != 0),
    }))
}

fn u32_of(payload: &[u8]) -> Option<u32> {
    <[u8; 4]>::try_from(payload).ok().map(u32::from_ne_bytes)
}

pub(super) fn malformed(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed netlink reply: {what}"),
    )
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    /// `v` in host order, as netlink carries it.
    pub(in crate::net) fn ne16(v: u16) -> [u8; 2] {
        v.to_ne_bytes()
    }

    /// `v` in host order, as netlink carries it.
    pub(in crate::net) fn ne32(v: u32) -> [u8; 4] {
        v.to_ne_bytes()
    }

    fn header(expected: &mut Vec<u8>, len: u32, kind: u16, flags: u16, seq: u32) {
        expected.extend_from_slice(&ne32(len));
        expected.extend_from_slice(&ne16(kind));
        expected.extend_from_slice(&ne16(flags));
        expected.extend_from_slice(&ne32(seq));
        expected.extend_from_slice(&ne32(0));
    }

    fn attribute(expected: &mut Vec<u8>, len: u16, kind: u16, payload: &[u8]) {
        expected.extend_from_slice(&ne16(len));
        expected.extend_from_slice(&ne16(kind));
        expected.extend_from_slice(payload);
    }

    const ADDR6: [u8; 16] = [
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];

    fn vip6(lifetimes: Option<Lifetimes>) -> KernelAddress {
        KernelAddress::new(3, Ipv6Addr::from(ADDR6).into(), 64, None, lifetimes)
    }

    fn vip4(lifetimes: Option<Lifetimes>) -> KernelAddress {
        KernelAddress::new(
            5,
            Ipv4Addr::new(10, 20, 0, 5).into(),
            24,
            Some("va:1".into()),
            lifetimes,
        )
    }

    #[test]
    fn a_permanent_ipv6_add_is_byte_exact() {
        let message = address_request(Change::Add, 7, &vip6(None));
        let mut expected = Vec::new();
        header(&mut expected, 72, 20, 0x0605, 7); // RTM_NEWADDR, REQUEST|ACK|EXCL|CREATE
        expected.extend_from_slice(&[10, 64, 0x02, 0]); // AF_INET6, /64, NODAD, universe
        expected.extend_from_slice(&ne32(3));
        attribute(&mut expected, 20, 2, &ADDR6); // IFA_LOCAL
        attribute(&mut expected, 20, 1, &ADDR6); // IFA_ADDRESS
        attribute(&mut expected, 8, 8, &ne32(0x02)); // IFA_FLAGS: NODAD
        assert_eq!(message, expected);
    }

    #[test]
    fn an_ipv6_add_with_a_lifetime_carries_its_cacheinfo() {
        let message = address_request(Change::Add, 7, &vip6(Some(Lifetimes::both(3))));
        assert_eq!(message.len(), 92);
        assert_eq!(message[..4], ne32(92));
        let mut cacheinfo = Vec::new();
        attribute(&mut cacheinfo, 20, 6, &ne32(3)); // IFA_CACHEINFO: preferred
        cacheinfo.extend_from_slice(&ne32(3)); // valid
        cacheinfo.extend_from_slice(&[0; 8]); // time stamps, unused
        assert_eq!(message[72..], cacheinfo[..]);
    }

    #[test]
    fn an_ipv4_alias_with_a_lifetime_is_byte_exact() {
        let message = address_request(Change::Add, 11, &vip4(Some(Lifetimes::both(2))));
        let mut expected = Vec::new();
        header(&mut expected, 80, 20, 0x0605, 11);
        expected.extend_from_slice(&[2, 24, 0, 0]); // AF_INET, /24, no flags, universe
        expected.extend_from_slice(&ne32(5));
        attribute(&mut expected, 8, 2, &[10, 20, 0, 5]); // IFA_LOCAL
        attribute(&mut expected, 8, 1, &[10, 20, 0, 5]); // IFA_ADDRESS
        attribute(&mut expected, 9, 3, b"va:1\0"); // IFA_LABEL, NUL-terminated
        expected.extend_from_slice(&[0; 3]); // padding
        attribute(&mut expected, 8, 4, &[10, 20, 0, 255]); // IFA_BROADCAST
        attribute(&mut expected, 20, 6, &ne32(2)); // IFA_CACHEINFO: preferred
        expected.extend_from_slice(&ne32(2)); // valid
        expected.extend_from_slice(&[0; 8]);
        assert_eq!(message, expected);
    }

    #[test]
    fn a_replace_names_the_same_address_without_create() {
        let address = vip4(Some(Lifetimes::both(4)));
        let replace = address_request(Change::Replace, 12, &address);
        let add = address_request(Change::Add, 12, &address);
        assert_eq!(replace[6..8], ne16(0x0105)); // REQUEST|ACK|REPLACE
        assert_eq!(replace[..6], add[..6]);
        assert_eq!(replace[8..], add[8..]);
        assert_eq!(replace[replace.len() - 12..replace.len() - 8], ne32(4));
    }

    #[test]
    fn deletes_name_address_prefix_and_label_only() {
        let addr: Ipv6Addr = "fe80::10".parse().unwrap();
        let link_local = KernelAddress::new(4, addr.into(), 128, None, Some(Lifetimes::both(9)));
        let message = address_request(Change::Delete, 9, &link_local);
        assert_eq!(message.len(), 64);
        assert_eq!(message[4..6], ne16(21)); // RTM_DELADDR
        assert_eq!(message[6..8], ne16(0x0005)); // REQUEST|ACK
        assert_eq!(message[16..20], [10, 128, 0x02, 253]); // link scope
        assert_eq!(message[20..24], ne32(4));

        let message = address_request(Change::Delete, 9, &vip4(Some(Lifetimes::both(9))));
        let mut expected = Vec::new();
        header(&mut expected, 52, 21, 0x0005, 9);
        expected.extend_from_slice(&[2, 24, 0, 0]);
        expected.extend_from_slice(&ne32(5));
        attribute(&mut expected, 8, 2, &[10, 20, 0, 5]);
        attribute(&mut expected, 8, 1, &[10, 20, 0, 5]);
        attribute(&mut expected, 9, 3, b"va:1\0");
        expected.extend_from_slice(&[0; 3]);
        assert_eq!(message, expected);
    }

    #[test]
    fn a_dump_request_is_byte_exact() {
        let mut expected = Vec::new();
        header(&mut expected, 24, 22, 0x0301, 3); // RTM_GETADDR, REQUEST|DUMP
        expected.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(dump_request(2, 3), expected);
    }

    #[test]
    fn vips_get_their_subnet_broadcast_but_not_on_31_and_32() {
        let broadcast = |len| {
            KernelAddress::new(1, Ipv4Addr::new(10, 1, 2, 3).into(), len, None, None).broadcast
        };
        assert_eq!(broadcast(24), Some(Ipv4Addr::new(10, 1, 2, 255)));
        assert_eq!(broadcast(30), Some(Ipv4Addr::new(10, 1, 2, 3)));
        assert_eq!(broadcast(0), Some(Ipv4Addr::BROADCAST));
        assert_eq!(broadcast(31), None);
        assert_eq!(broadcast(32), None);
        let v6 = vip6(None);
        assert_eq!((v6.broadcast, v6.flags, v6.scope), (None, IFA_F_NODAD, 0));
    }

    #[test]
    fn a_permanent_ipv6_entry_is_read() {
        let mut body = vec![10, 64, 0x80, 0];
        body.extend_from_slice(&ne32(2));
        attribute(&mut body, 20, 1, &ADDR6);
        attribute(&mut body, 8, 8, &ne32(IFA_F_PERMANENT | IFA_F_NODAD));
        attribute(&mut body, 20, 6, &ne32(u32::MAX));
        body.extend_from_slice(&ne32(u32::MAX));
        body.extend_from_slice(&ne32(50));
        body.extend_from_slice(&ne32(60));
        let entry = read_address(&body).unwrap().expect("an address");
        assert_eq!(entry.local, IpAddr::from(ADDR6));
        assert_eq!(entry.peer, entry.local);
        assert!(entry.is_permanent());
        assert_eq!(entry.flags, IFA_F_PERMANENT | IFA_F_NODAD);
        assert_eq!((entry.label, entry.created), (None, 50));
        // Another family is skipped; a body shorter than ifaddrmsg is not.
        body[0] = 7;
        assert_eq!(read_address(&body).unwrap(), None);
        assert!(read_address(&body[..7]).is_err());
    }
}
