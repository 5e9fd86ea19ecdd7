//! The kernel-order witness: every address added to or removed from any
//! node's namespace of a cluster, as the kernels did it, in one timeline.
//!
//! One rtnetlink socket, opened in the cluster's hub namespace, joins the
//! IPv4 and IPv6 address groups with `NETLINK_LISTEN_ALL_NSID`: the kernel
//! then queues to it the address notifications of every namespace the hub
//! has an id for, each tagged with that id, into the socket's one receive
//! queue. Each notification is queued by the call that made its change,
//! right after making it, so the queue's order is the order in which the
//! kernels made the changes (to within the microseconds between a change
//! and its notification), whatever the reader thread's delays. Each change
//! is stamped with `Instant::now()` (the monotonic clock every test uses)
//! when the reader receives it; the reader runs at real-time priority when
//! the system allows it (see [`Witness::realtime`]), which keeps that
//! stamp within scheduling latency of the change. A queue overrun
//! (`ENOBUFS`) loses notifications: the witness records it, and
//! [`Witness::timeline`] then refuses to answer.
//!
//! An address re-announced while present (a lifetime renewal) changes
//! nothing in the timeline's state; see tests/it/support/addr_timeline.rs.

use std::fs::File;
use std::io;
use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::support::addr_timeline::{Change, Timeline};
use crate::support::netns::Netns;

const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_NEWNSID: u16 = 88;
const RTM_GETNSID: u16 = 90;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NETNSA_NSID: u16 = 1;
const NETNSA_FD: u16 = 3;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTNLGRP_IPV4_IFADDR: libc::c_int = 5;
const RTNLGRP_IPV6_IFADDR: libc::c_int = 9;
const NETLINK_LISTEN_ALL_NSID: libc::c_int = 8;
const SOL_NETLINK: libc::c_int = 270;
/// How often the reader looks whether it should stop.
const STOP_POLL: Duration = Duration::from_millis(50);
/// Receive queue asked for: room for thousands of notifications.
const QUEUE_BYTES: libc::c_int = 8 << 20;

/// What the reader thread shares with the test.
struct Shared {
    record: Mutex<Record>,
    changed: Condvar,
}

struct Record {
    timeline: Timeline,
    /// Why the timeline is incomplete, if it is.
    trouble: Option<String>,
}

/// A running witness; the reader stops when it is dropped.
pub struct Witness {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    realtime: bool,
    thread: Option<JoinHandle<()>>,
}

impl Witness {
    /// Starts witnessing every namespace of `nodes` (node `i` is the open
    /// `/run/netns` file at index `i`) from `hub`, giving each an id in the
    /// hub when it has none. Changes before the return are not seen.
    pub fn start(hub: &Netns, nodes: &[Arc<File>]) -> Witness {
        let (socket, ids) = hub.run(|| {
            let ids: Vec<i32> = nodes
                .iter()
                .enumerate()
                .map(|(i, ns)| {
                    namespace_id(ns)
                        .unwrap_or_else(|e| panic!("no id for node {i}'s namespace: {e}"))
                })
                .collect();
            (listener().expect("the witness's netlink socket"), ids)
        });
        let origin = Instant::now();
        let shared = Arc::new(Shared {
            record: Mutex::new(Record {
                timeline: Timeline::new(origin),
                trouble: None,
            }),
            changed: Condvar::new(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (started, realtime) = std::sync::mpsc::channel();
        let thread = {
            let (shared, stop) = (shared.clone(), stop.clone());
            thread::spawn(move || {
                let _ = started.send(raise_priority());
                read(&socket, &ids, &shared, &stop);
            })
        };
        let realtime = realtime.recv().unwrap_or(false);
        Witness {
            shared,
            stop,
            realtime,
            thread: Some(thread),
        }
    }

    /// Whether the reader got real-time priority (its stamps then trail
    /// the kernel's by scheduling latency only).
    #[cfg_attr(test, allow(dead_code))] // read by tests/bench/promise.rs only
    pub fn realtime(&self) -> bool {
        self.realtime
    }

    fn record(&self) -> MutexGuard<'_, Record> {
        self.shared
            .record
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Everything seen so far; panics if notifications were lost.
    pub fn timeline(&self) -> Timeline {
        let record = self.record();
        if let Some(trouble) = &record.trouble {
            panic!("the witness's timeline is incomplete: {trouble}");
        }
        record.timeline.clone()
    }

    /// Waits, woken by each change, until `done` holds of the timeline;
    /// returns the stamp of the last change then seen, or None after
    /// `within` (or when notifications were lost).
    pub fn wait_until(
        &self,
        within: Duration,
        mut done: impl FnMut(&Timeline) -> bool,
    ) -> Option<Instant> {
        let deadline = Instant::now() + within;
        let mut record = self.record();
        loop {
            if record.trouble.is_some() {
                return None;
            }
            if done(&record.timeline) {
                return Some(record.timeline.last_at());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            record = self
                .shared
                .changed
                .wait_timeout(record, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// SCHED_FIFO for the calling thread, if allowed: it sleeps in `recv`
/// and wakes for each notification, so it never holds a core long.
fn raise_priority() -> bool {
    let param = libc::sched_param { sched_priority: 10 };
    // SAFETY: sets the policy of the calling thread only.
    unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) == 0 }
}

fn netlink_socket() -> io::Result<OwnedFd> {
    let socket = socket2::Socket::new(
        socket2::Domain::from(libc::AF_NETLINK),
        socket2::Type::RAW,
        Some(socket2::Protocol::from(libc::NETLINK_ROUTE)),
    )?;
    Ok(socket.into())
}

fn set_option(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &[u8]) -> io::Result<()> {
    // SAFETY: value is a live buffer of the given length.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            value.as_ptr().cast(),
            value.len() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// An rtnetlink socket of the calling thread's namespace that hears its
/// IPv4 and IPv6 address changes (close-on-exec, blocking).
pub fn address_socket() -> io::Result<OwnedFd> {
    let socket = netlink_socket()?;
    let fd = socket.as_raw_fd();
    // SAFETY: an all-zero sockaddr_nl is valid (the kernel picks the port).
    let mut address: libc::sockaddr_nl = unsafe { mem::zeroed() };
    address.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: address is a sockaddr_nl of the length given.
    let rc = unsafe {
        libc::bind(
            fd,
            (&address as *const libc::sockaddr_nl).cast(),
            mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    for group in [RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR] {
        set_option(
            fd,
            SOL_NETLINK,
            libc::NETLINK_ADD_MEMBERSHIP,
            &group.to_ne_bytes(),
        )?;
    }
    Ok(socket)
}

/// The socket of the calling thread's namespace that hears every
/// namespace's address changes.
fn listener() -> io::Result<OwnedFd> {
    let socket = address_socket()?;
    let fd = socket.as_raw_fd();
    let queue = QUEUE_BYTES.to_ne_bytes();
    if set_option(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &queue).is_err() {
        set_option(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &queue)?;
    }
    set_option(
        fd,
        SOL_NETLINK,
        NETLINK_LISTEN_ALL_NSID,
        &1i32.to_ne_bytes(),
    )?;
    let socket = socket2::Socket::from(socket);
    socket.set_read_timeout(Some(STOP_POLL))?;
    let socket = OwnedFd::from(socket);
    Ok(socket)
}

/// One netlink request: header, `struct rtgenmsg` (padded), attributes.
fn nsid_request(kind: u16, flags: u16, attributes: &[(u16, [u8; 4])]) -> Vec<u8> {
    let mut body = vec![libc::AF_UNSPEC as u8, 0, 0, 0];
    for (kind, value) in attributes {
        body.extend_from_slice(&8u16.to_ne_bytes());
        body.extend_from_slice(&kind.to_ne_bytes());
        body.extend_from_slice(value);
    }
    let mut message = Vec::with_capacity(16 + body.len());
    message.extend_from_slice(&(16 + body.len() as u32).to_ne_bytes());
    message.extend_from_slice(&kind.to_ne_bytes());
    message.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
    message.extend_from_slice(&1u32.to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes());
    message.extend_from_slice(&body);
    message
}

/// Sends `request` on `socket` and returns the first reply message's
/// type and body (after its 16-byte header).
fn exchange(socket: &OwnedFd, request: &[u8]) -> io::Result<(u16, Vec<u8>)> {
    let fd = socket.as_raw_fd();
    // SAFETY: request is a live buffer of its length.
    if unsafe { libc::send(fd, request.as_ptr().cast(), request.len(), 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buffer = vec![0u8; 8192];
    // SAFETY: buffer is a live, writable buffer of its length.
    let n = unsafe { libc::recv(fd, buffer.as_mut_ptr().cast(), buffer.len(), 0) };
    if n < 16 {
        return Err(io::Error::last_os_error());
    }
    let kind = u16::from_ne_bytes([buffer[4], buffer[5]]);
    let length =
        (u32::from_ne_bytes([buffer[0], buffer[1], buffer[2], buffer[3]]) as usize).min(n as usize);
    Ok((kind, buffer[16..length.max(16)].to_vec()))
}

/// The id the calling thread's namespace has for the namespace `ns`,
/// assigned first when it has none.
fn namespace_id(ns: &File) -> io::Result<i32> {
    let socket = netlink_socket()?;
    let fd = (ns.as_raw_fd() as u32).to_ne_bytes();
    let ask = || -> io::Result<Option<i32>> {
        let (kind, body) = exchange(&socket, &nsid_request(RTM_GETNSID, 0, &[(NETNSA_FD, fd)]))?;
        if kind == NLMSG_ERROR {
            let errno = i32::from_ne_bytes(body[..4].try_into().expect("4 bytes"));
            return Err(io::Error::from_raw_os_error(-errno));
        }
        let id = attributes(&body, 4)
            .find(|(kind, _)| *kind == NETNSA_NSID)
            .and_then(|(_, value)| Some(i32::from_ne_bytes(value.get(..4)?.try_into().ok()?)));
        Ok(id.filter(|id| *id >= 0))
    };
    if let Some(id) = ask()? {
        return Ok(id);
    }
    let any = (-1i32).to_ne_bytes();
    let request = nsid_request(
        RTM_NEWNSID,
        NLM_F_ACK,
        &[(NETNSA_FD, fd), (NETNSA_NSID, any)],
    );
    let (kind, body) = exchange(&socket, &request)?;
    let errno = i32::from_ne_bytes(body.get(..4).unwrap_or(&[0; 4]).try_into().expect("4"));
    if kind != NLMSG_ERROR || (errno != 0 && errno != -libc::EEXIST) {
        return Err(io::Error::other(format!(
            "RTM_NEWNSID answered type {kind}, error {errno}"
        )));
    }
    ask()?.ok_or_else(|| io::Error::other("the namespace still has no id"))
}

/// The netlink attributes (type, value) of `body` from `offset` on.
fn attributes(body: &[u8], offset: usize) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = offset;
    std::iter::from_fn(move || {
        let header = body.get(at..at + 4)?;
        let length = usize::from(u16::from_ne_bytes([header[0], header[1]]));
        if length < 4 {
            return None;
        }
        let kind = u16::from_ne_bytes([header[2], header[3]]) & 0x3fff;
        let value = body.get(at + 4..at + length)?;
        at += (length + 3) & !3;
        Some((kind, value))
    })
}

/// The address an `RTM_NEWADDR`/`RTM_DELADDR` body (after the netlink
/// header) is about: `IFA_LOCAL` when present, else `IFA_ADDRESS`.
fn address_of(body: &[u8]) -> Option<IpAddr> {
    let family = i32::from(*body.first()?);
    let mut local = None;
    let mut address = None;
    for (kind, value) in attributes(body, 8) {
        let parsed = match (family, value.len()) {
            (libc::AF_INET, 4) => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(value).ok()?)),
            (libc::AF_INET6, 16) => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(value).ok()?)),
            _ => continue,
        };
        match kind {
            IFA_LOCAL => local = Some(parsed),
            IFA_ADDRESS => address = Some(parsed),
            _ => {}
        }
    }
    local.or(address)
}

/// The reader: every datagram on `socket`, its namespace id from the
/// control message, each address message in it recorded as a change.
fn read(socket: &OwnedFd, ids: &[i32], shared: &Shared, stop: &AtomicBool) {
    let mut buffer = vec![0u8; 1 << 16];
    let mut control = [0u64; 16];
    while !stop.load(Ordering::SeqCst) {
        let mut iov = libc::iovec {
            iov_base: buffer.as_mut_ptr().cast(),
            iov_len: buffer.len(),
        };
        // SAFETY: an all-zero msghdr is valid; its buffers are set below.
        let mut header: libc::msghdr = unsafe { mem::zeroed() };
        header.msg_iov = &mut iov;
        header.msg_iovlen = 1;
        header.msg_control = control.as_mut_ptr().cast();
        header.msg_controllen = mem::size_of_val(&control) as _;
        // SAFETY: header points at live buffers for the whole call.
        let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut header, 0) };
        let at = Instant::now();
        if n < 0 {
            let error = io::Error::last_os_error();
            match error.raw_os_error() {
                Some(libc::EAGAIN | libc::EINTR) => continue,
                Some(libc::ENOBUFS) => {
                    let mut record = shared.record.lock().unwrap_or_else(|p| p.into_inner());
                    record.trouble = Some("the kernel dropped notifications (ENOBUFS)".into());
                    shared.changed.notify_all();
                    continue;
                }
                _ => {
                    let mut record = shared.record.lock().unwrap_or_else(|p| p.into_inner());
                    record.trouble = Some(format!("recvmsg: {error}"));
                    shared.changed.notify_all();
                    return;
                }
            }
        }
        let Some(node) = origin(&header).and_then(|id| ids.iter().position(|&i| i == id)) else {
            continue;
        };
        let changes = messages(&buffer[..n as usize]).filter_map(|(kind, body)| {
            let added = match kind {
                RTM_NEWADDR => true,
                RTM_DELADDR => false,
                _ => return None,
            };
            let addr = address_of(body)?;
            Some(Change::seen(at, node, addr, *body.get(1)?, added))
        });
        let mut record = shared.record.lock().unwrap_or_else(|p| p.into_inner());
        for change in changes {
            record.timeline.push(change);
        }
        drop(record);
        shared.changed.notify_all();
    }
}

/// The namespace id a datagram came from (none: the hub's own).
fn origin(header: &libc::msghdr) -> Option<i32> {
    // SAFETY: header was filled by recvmsg; the CMSG macros walk its
    // control buffer within msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(header);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == SOL_NETLINK && (*cmsg).cmsg_type == NETLINK_LISTEN_ALL_NSID {
                return Some(std::ptr::read_unaligned(
                    libc::CMSG_DATA(cmsg).cast::<i32>(),
                ));
            }
            cmsg = libc::CMSG_NXTHDR(header, cmsg);
        }
    }
    None
}

/// The netlink messages of a datagram: (type, body after the header).
fn messages(datagram: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let header = datagram.get(at..at + 16)?;
        let length = u32::from_ne_bytes(header[..4].try_into().ok()?) as usize;
        if length < 16 {
            return None;
        }
        let kind = u16::from_ne_bytes([header[4], header[5]]);
        let body = datagram.get(at + 16..at + length)?;
        at += (length + 3) & !3;
        Some((kind, body))
    })
}
