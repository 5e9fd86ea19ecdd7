//! The interface watcher: a `NETLINK_ROUTE` socket subscribed to the
//! kernel's link notifications (`RTNLGRP_LINK`), read by a thread of its
//! own that blocks on it (never polling). It starts with a dump of every
//! link (`RTM_GETLINK`), then reports each change as it comes: a link's
//! name, whether it is administratively up, and whether it has carrier
//! (`IFF_LOWER_UP` and `IFF_RUNNING`, the latter following the
//! operational state). A deleted interface is [`LinkEvent::Gone`]; a
//! renamed one is gone under its old name and reported under its new.
//! When the kernel dropped notifications (the socket's buffer overran),
//! the watcher dumps again and reports what changed meanwhile.
//!
//! The messages are read by pure functions, tested here; the namespace
//! test `tests/it/net_linkwatch.rs` drives the real kernel.

use std::collections::BTreeMap;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, OwnedFd};
use std::thread::{self, JoinHandle};

use super::addrmsg::{error_code, malformed, messages, HEADER_LEN, NLMSG_DONE, NLMSG_ERROR};
use super::netlink::{receive, route_socket, send, set_socket_option};

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const NLM_F_REQUEST: u16 = 0x01;
const NLM_F_DUMP: u16 = 0x300;
/// `RTMGRP_LINK`: the link notifications' multicast group, as a bind mask.
const RTMGRP_LINK: u32 = 1;
const IFLA_IFNAME: u16 = 3;
const IFF_UP: u32 = 0x1;
const IFF_RUNNING: u32 = 0x40;
const IFF_LOWER_UP: u32 = 0x1_0000;
/// `struct ifinfomsg`.
const IFINFO_LEN: usize = 16;
/// Link dumps come in datagrams of up to 32 KiB; notifications are small.
const RECEIVE_BUFFER: usize = 64 * 1024;
/// A larger socket buffer, so bursts of notifications are not dropped.
const SOCKET_BUFFER: libc::c_int = 1 << 20;

/// What the watcher reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// The link `name` exists, in this state.
    Link {
        /// Its name.
        name: String,
        /// Administratively up (`IFF_UP`).
        up: bool,
        /// It has carrier and is operational (`IFF_LOWER_UP` and
        /// `IFF_RUNNING`).
        carrier: bool,
    },
    /// No link of this name exists any more (deleted, or renamed).
    Gone {
        /// Its name.
        name: String,
    },
    /// The starting dump is complete: a name not reported is missing.
    Synced,
    /// The socket failed: no more reports come.
    Failed(String),
}

/// One link as a message describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkMessage {
    /// `RTM_DELLINK`: the link is gone.
    pub deleted: bool,
    /// The kernel's index.
    pub index: i32,
    /// `IFLA_IFNAME`.
    pub name: String,
    /// `ifi_flags`.
    pub flags: u32,
}

impl LinkMessage {
    /// Administratively up.
    pub fn up(&self) -> bool {
        self.flags & IFF_UP != 0
    }

    /// Up, with carrier, operational.
    pub fn carrier(&self) -> bool {
        self.up() && self.flags & IFF_LOWER_UP != 0 && self.flags & IFF_RUNNING != 0
    }
}

/// What one datagram holds for the watcher.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LinkPart {
    /// The links it describes, in order.
    pub links: Vec<LinkMessage>,
    /// The dump `seq` ended with it.
    pub done: bool,
}

/// Reads one datagram: the link messages in it (of any sequence number:
/// the dump's and the notifications'), and whether the dump `seq` ended.
/// Messages of other families (a bridge's port notices) are skipped.
pub fn read_links(datagram: &[u8], seq: u32) -> io::Result<LinkPart> {
    let mut part = LinkPart::default();
    for message in messages(datagram)? {
        match message.kind {
            RTM_NEWLINK | RTM_DELLINK => {
                if let Some(link) = read_link(message.body, message.kind == RTM_DELLINK)? {
                    part.links.push(link);
                }
            }
            NLMSG_DONE if message.seq == seq => part.done = true,
            NLMSG_ERROR if message.seq == seq => match error_code(message.body)? {
                0 => part.done = true,
                errno => return Err(io::Error::from_raw_os_error(errno)),
            },
            _ => {}
        }
    }
    Ok(part)
}

/// The body of an `RTM_NEWLINK`/`RTM_DELLINK`; `None` for a family other
/// than `AF_UNSPEC` or a message without a name.
pub fn read_link(body: &[u8], deleted: bool) -> io::Result<Option<LinkMessage>> {
    if body.len() < IFINFO_LEN {
        return Err(malformed("link message shorter than struct ifinfomsg"));
    }
    if i32::from(body[0]) != libc::AF_UNSPEC {
        return Ok(None);
    }
    let index = i32::from_ne_bytes([body[4], body[5], body[6], body[7]]);
    let flags = u32::from_ne_bytes([body[8], body[9], body[10], body[11]]);
    let mut name = None;
    let mut rest = &body[IFINFO_LEN..];
    while rest.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([rest[0], rest[1]]));
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < 4 || len > rest.len() {
            return Err(malformed("attribute length outside its message"));
        }
        if kind == IFLA_IFNAME {
            let payload = &rest[4..len];
            let end = payload
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(payload.len());
            name = Some(String::from_utf8_lossy(&payload[..end]).into_owned());
        }
        let aligned = (len + 3) & !3;
        rest = &rest[aligned.min(rest.len())..];
    }
    Ok(name.filter(|n| !n.is_empty()).map(|name| LinkMessage {
        deleted,
        index,
        name,
        flags,
    }))
}

/// The `RTM_GETLINK` dump request.
pub fn dump_request(seq: u32) -> Vec<u8> {
    let len = HEADER_LEN + IFINFO_LEN;
    let mut message = Vec::with_capacity(len);
    message.extend_from_slice(&(len as u32).to_ne_bytes());
    message.extend_from_slice(&RTM_GETLINK.to_ne_bytes());
    message.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    message.extend_from_slice(&seq.to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes());
    message.extend_from_slice(&[0; IFINFO_LEN]);
    message
}

/// The links known, by index, turning messages into events.
#[derive(Debug, Default)]
pub struct LinkTable {
    links: BTreeMap<i32, (String, bool, bool)>,
}

impl LinkTable {
    /// The events `link` causes: a rename is the old name gone, then the
    /// new one; a state that did not change is no event.
    pub fn apply(&mut self, link: LinkMessage) -> Vec<LinkEvent> {
        let mut events = Vec::new();
        let old = self.links.remove(&link.index);
        if link.deleted {
            if let Some((name, _, _)) = old {
                events.push(LinkEvent::Gone { name });
            } else {
                events.push(LinkEvent::Gone { name: link.name });
            }
            return events;
        }
        let state = (link.name.clone(), link.up(), link.carrier());
        match &old {
            Some(previous) if *previous == state => {}
            Some((name, _, _)) if *name != link.name => {
                events.push(LinkEvent::Gone { name: name.clone() });
                events.push(event_of(&state));
            }
            _ => events.push(event_of(&state)),
        }
        self.links.insert(link.index, state);
        events
    }

    /// After a fresh dump that listed `seen` indices: everything else is
    /// gone.
    pub fn retain(&mut self, seen: &[i32]) -> Vec<LinkEvent> {
        let gone: Vec<i32> = self
            .links
            .keys()
            .filter(|index| !seen.contains(index))
            .copied()
            .collect();
        gone.into_iter()
            .filter_map(|index| self.links.remove(&index))
            .map(|(name, _, _)| LinkEvent::Gone { name })
            .collect()
    }
}

fn event_of((name, up, carrier): &(String, bool, bool)) -> LinkEvent {
    LinkEvent::Link {
        name: name.clone(),
        up: *up,
        carrier: *carrier,
    }
}

/// Whether an interface called `name` exists in the calling thread's
/// network namespace now.
pub fn exists(name: &str) -> bool {
    let Ok(name) = std::ffi::CString::new(name) else {
        return false;
    };
    // SAFETY: if_nametoindex reads the NUL-terminated name we pass.
    unsafe { libc::if_nametoindex(name.as_ptr()) != 0 }
}

/// Starts watching the links of the calling thread's network namespace:
/// the socket is opened and subscribed here (an error is returned at
/// once), then a thread dumps and reads, calling `report` with every
/// event. The thread ends when `report` returns false or the socket
/// fails (after reporting [`LinkEvent::Failed`]).
pub fn spawn(
    mut report: impl FnMut(LinkEvent) -> bool + Send + 'static,
) -> io::Result<JoinHandle<()>> {
    let socket = open()?;
    thread::Builder::new()
        .name("linkwatch".into())
        .spawn(move || {
            if let Err(err) = watch(&socket, &mut report) {
                report(LinkEvent::Failed(err.to_string()));
            }
        })
}

/// Dumps, then reads notifications until `report` says stop. An overrun
/// (`ENOBUFS`) dumps again.
fn watch(socket: &OwnedFd, report: &mut impl FnMut(LinkEvent) -> bool) -> io::Result<()> {
    let mut table = LinkTable::default();
    let mut buffer = vec![0; RECEIVE_BUFFER];
    let mut seq = 0u32;
    let mut dumping: Option<Vec<i32>> = Some(Vec::new());
    let mut first = true;
    send(socket, &dump_request(seq))?;
    loop {
        let got = match receive(socket, &mut buffer) {
            Ok(got) => got,
            Err(err) if err.raw_os_error() == Some(libc::ENOBUFS) => {
                seq = seq.wrapping_add(1);
                dumping = Some(Vec::new());
                send(socket, &dump_request(seq))?;
                continue;
            }
            Err(err) => return Err(err),
        };
        let part = read_links(&buffer[..got], seq)?;
        let mut events = Vec::new();
        for link in part.links {
            if let Some(seen) = dumping.as_mut() {
                seen.push(link.index);
            }
            events.extend(table.apply(link));
        }
        if part.done {
            if let Some(seen) = dumping.take() {
                events.extend(table.retain(&seen));
                if mem::take(&mut first) {
                    events.push(LinkEvent::Synced);
                }
            }
        }
        for event in events {
            if !report(event) {
                return Ok(());
            }
        }
    }
}

fn open() -> io::Result<OwnedFd> {
    let fd = route_socket()?;
    set_socket_option(&fd, libc::SO_RCVBUF, &SOCKET_BUFFER)?;
    // SAFETY: an all-zero sockaddr_nl is valid; the fields are set below.
    let mut address: libc::sockaddr_nl = unsafe { mem::zeroed() };
    address.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    address.nl_groups = RTMGRP_LINK;
    // SAFETY: bind with a sockaddr_nl of the size we pass.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &address as *const libc::sockaddr_nl as *const libc::sockaddr,
            mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `RTM_NEWLINK`/`RTM_DELLINK` message as the kernel sends it.
    fn link_message(kind: u16, family: u8, index: i32, flags: u32, name: &str) -> Vec<u8> {
        let mut body = vec![family, 0, 1, 0];
        body.extend_from_slice(&index.to_ne_bytes());
        body.extend_from_slice(&flags.to_ne_bytes());
        body.extend_from_slice(&u32::MAX.to_ne_bytes());
        // IFLA_MTU first, then the name with its NUL.
        body.extend_from_slice(&8u16.to_ne_bytes());
        body.extend_from_slice(&4u16.to_ne_bytes());
        body.extend_from_slice(&1500u32.to_ne_bytes());
        let payload_len = name.len() + 1;
        body.extend_from_slice(&((4 + payload_len) as u16).to_ne_bytes());
        body.extend_from_slice(&IFLA_IFNAME.to_ne_bytes());
        body.extend_from_slice(name.as_bytes());
        body.push(0);
        body.resize((body.len() + 3) & !3, 0);
        let mut message = Vec::new();
        message.extend_from_slice(&((HEADER_LEN + body.len()) as u32).to_ne_bytes());
        message.extend_from_slice(&kind.to_ne_bytes());
        message.extend_from_slice(&0u16.to_ne_bytes());
        message.extend_from_slice(&0u32.to_ne_bytes());
        message.extend_from_slice(&0u32.to_ne_bytes());
        message.extend_from_slice(&body);
        message
    }

    const UP_WITH_CARRIER: u32 = IFF_UP | IFF_RUNNING | IFF_LOWER_UP;

    #[test]
    fn flags_give_up_and_carrier() {
        let datagram = [
            link_message(RTM_NEWLINK, 0, 2, UP_WITH_CARRIER, "eth0"),
            link_message(RTM_NEWLINK, 0, 3, IFF_UP, "eth1"),
            link_message(RTM_NEWLINK, 0, 4, 0, "eth2"),
            // A bridge's port notice: not a link of its own.
            link_message(RTM_DELLINK, libc::AF_BRIDGE as u8, 2, 0, "eth0"),
        ]
        .concat();
        let part = read_links(&datagram, 7).expect("well formed");
        assert!(!part.done);
        let seen: Vec<(&str, bool, bool)> = part
            .links
            .iter()
            .map(|l| (l.name.as_str(), l.up(), l.carrier()))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("eth0", true, true),
                ("eth1", true, false),
                ("eth2", false, false)
            ]
        );
    }

    #[test]
    fn a_short_or_overlong_message_is_an_error_not_a_panic() {
        let mut message = link_message(RTM_NEWLINK, 0, 2, 0, "eth0");
        assert!(read_link(&message[HEADER_LEN..HEADER_LEN + 8], false).is_err());
        // The name attribute claims more than the message holds.
        let at = HEADER_LEN + IFINFO_LEN + 8;
        message[at..at + 2].copy_from_slice(&200u16.to_ne_bytes());
        assert!(read_link(&message[HEADER_LEN..], false).is_err());
    }

    #[test]
    fn the_table_reports_changes_renames_and_deletions() {
        let mut table = LinkTable::default();
        let link = |deleted, index, flags, name: &str| LinkMessage {
            deleted,
            index,
            name: name.to_string(),
            flags,
        };
        let up = |name: &str, carrier| LinkEvent::Link {
            name: name.to_string(),
            up: true,
            carrier,
        };
        let gone = |name: &str| LinkEvent::Gone {
            name: name.to_string(),
        };
        assert_eq!(
            table.apply(link(false, 5, UP_WITH_CARRIER, "uplink")),
            vec![up("uplink", true)]
        );
        // The same state again (another attribute changed): no event.
        assert!(table
            .apply(link(false, 5, UP_WITH_CARRIER, "uplink"))
            .is_empty());
        assert_eq!(
            table.apply(link(false, 5, IFF_UP, "uplink")),
            vec![up("uplink", false)]
        );
        assert_eq!(
            table.apply(link(false, 5, IFF_UP, "wan0")),
            vec![gone("uplink"), up("wan0", false)]
        );
        assert_eq!(table.apply(link(true, 5, 0, "wan0")), vec![gone("wan0")]);
        table.apply(link(false, 6, IFF_UP, "a"));
        table.apply(link(false, 7, IFF_UP, "b"));
        assert_eq!(table.retain(&[7]), vec![gone("a")]);
    }

    #[test]
    fn the_dump_ends_on_its_own_done() {
        let mut done = link_message(NLMSG_DONE, 0, 0, 0, "x");
        done[8..12].copy_from_slice(&9u32.to_ne_bytes());
        assert!(read_links(&done, 9).expect("well formed").done);
        assert!(!read_links(&done, 8).expect("well formed").done);
        let request = dump_request(3);
        assert_eq!(request.len(), HEADER_LEN + IFINFO_LEN);
        assert_eq!(u16::from_ne_bytes([request[4], request[5]]), RTM_GETLINK);
    }
}
