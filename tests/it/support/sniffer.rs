//! A frame sniffer for root-only tests: an AF_PACKET socket that captures
//! every frame arriving on one interface, with the time the kernel
//! received it (not when the test got round to reading it: a test thread
//! that a loaded machine runs late would see frames bunched), and a
//! decoder for the ARP, ICMP and neighbour advertisement frames the
//! announcer sends.
//!
//! Open it inside the namespace of the interface (e.g. in `Netns::run`).

use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

/// How far a frame's time stamp, a wall-clock time placed on the
/// monotonic clock, may lie before an [`Instant`] taken before the frame
/// was sent (the two clocks are read a moment apart).
pub const STAMP_SLACK: Duration = Duration::from_millis(2);

/// How long a loaded machine may hold a sender between the moment it
/// decides a frame is due and the moment the frame leaves: what a gap
/// between two frames may lose against the sender's schedule.
pub const SEND_DELAY: Duration = Duration::from_millis(60);

/// One captured frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// When the kernel received it (its receive time stamp).
    pub at: Instant,
    pub bytes: Vec<u8>,
}

impl Frame {
    pub fn destination(&self) -> [u8; 6] {
        self.bytes[0..6].try_into().unwrap()
    }
    pub fn source(&self) -> [u8; 6] {
        self.bytes[6..12].try_into().unwrap()
    }
    pub fn ethertype(&self) -> u16 {
        u16::from_be_bytes([self.bytes[12], self.bytes[13]])
    }
    /// The ARP packet, if this is one.
    pub fn arp(&self) -> Option<Arp> {
        if self.ethertype() != 0x0806 || self.bytes.len() < 42 {
            return None;
        }
        let b = &self.bytes[14..];
        Some(Arp {
            hardware: u16::from_be_bytes([b[0], b[1]]),
            protocol: u16::from_be_bytes([b[2], b[3]]),
            hardware_len: b[4],
            protocol_len: b[5],
            operation: u16::from_be_bytes([b[6], b[7]]),
            sender_mac: b[8..14].try_into().unwrap(),
            sender_ip: Ipv4Addr::new(b[14], b[15], b[16], b[17]),
            target_mac: b[18..24].try_into().unwrap(),
            target_ip: Ipv4Addr::new(b[24], b[25], b[26], b[27]),
        })
    }
    /// (source, destination) of an IPv4 ICMP echo request.
    pub fn echo_request(&self) -> Option<(Ipv4Addr, Ipv4Addr)> {
        let b = self.bytes.get(14..)?;
        if self.ethertype() != 0x0800 || b.len() < 28 || b[9] != 1 || b[20] != 8 {
            return None;
        }
        Some((
            Ipv4Addr::new(b[12], b[13], b[14], b[15]),
            Ipv4Addr::new(b[16], b[17], b[18], b[19]),
        ))
    }
}

/// An ICMPv6 neighbour advertisement as captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertisement {
    pub source: Ipv6Addr,
    pub destination: Ipv6Addr,
    pub hop_limit: u8,
    pub router: bool,
    pub solicited: bool,
    pub override_flag: bool,
    pub target: Ipv6Addr,
    /// The target link-layer address option, if present.
    pub target_mac: Option<[u8; 6]>,
    /// The ICMPv6 checksum verifies over the pseudo-header.
    pub checksum_ok: bool,
}

impl Frame {
    /// The neighbour advertisement, if this is one.
    pub fn advertisement(&self) -> Option<Advertisement> {
        let ip = self.bytes.get(14..)?;
        if self.ethertype() != 0x86dd || ip.len() < 40 + 24 || ip[6] != 58 {
            return None;
        }
        let payload_len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
        let icmp = ip.get(40..40 + payload_len)?;
        if icmp[0] != 136 || icmp.len() < 24 {
            return None;
        }
        let source = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[8..24]).unwrap());
        let destination = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[24..40]).unwrap());
        // Receivers' check: everything summed, checksum included, is 0xffff.
        let mut sum: u32 = 0;
        let mut add = |bytes: &[u8]| {
            for pair in bytes.chunks(2) {
                sum += u32::from(pair[0]) << 8 | u32::from(*pair.get(1).unwrap_or(&0));
            }
        };
        add(&ip[8..40]);
        add(&(icmp.len() as u32).to_be_bytes());
        add(&[0, 0, 0, 58]);
        add(icmp);
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let mut target_mac = None;
        let mut options = &icmp[24..];
        while options.len() >= 8 && options[1] > 0 {
            let len = usize::from(options[1]) * 8;
            if options[0] == 2 && len >= 8 {
                target_mac = Some(options[2..8].try_into().unwrap());
            }
            options = options.get(len..).unwrap_or(&[]);
        }
        Some(Advertisement {
            source,
            destination,
            hop_limit: ip[7],
            router: icmp[4] & 0x80 != 0,
            solicited: icmp[4] & 0x40 != 0,
            override_flag: icmp[4] & 0x20 != 0,
            target: Ipv6Addr::from(<[u8; 16]>::try_from(&icmp[8..24]).unwrap()),
            target_mac,
            checksum_ok: sum == 0xffff,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arp {
    pub hardware: u16,
    pub protocol: u16,
    pub hardware_len: u8,
    pub protocol_len: u8,
    pub operation: u16,
    pub sender_mac: [u8; 6],
    pub sender_ip: Ipv4Addr,
    pub target_mac: [u8; 6],
    pub target_ip: Ipv4Addr,
}

impl Arp {
    /// A gratuitous ARP as the announcer sends it: a request whose sender
    /// and target address are the same.
    pub fn is_gratuitous(&self) -> bool {
        self.operation == 1 && self.sender_ip == self.target_ip
    }
}

pub struct Sniffer {
    socket: Socket,
}

impl Sniffer {
    /// Captures everything arriving on `interface` (call inside its
    /// namespace).
    pub fn open(interface: &str) -> Sniffer {
        let all = (libc::ETH_P_ALL as u16).to_be();
        let socket = Socket::new(
            Domain::PACKET,
            Type::RAW,
            Some(Protocol::from(i32::from(all))),
        )
        .expect("AF_PACKET socket (needs root)");
        let index = std::ffi::CString::new(interface).unwrap();
        // SAFETY: a NUL-terminated name.
        let ifindex = unsafe { libc::if_nametoindex(index.as_ptr()) };
        assert!(ifindex > 0, "no interface {interface} here");
        // SAFETY: all-zero is a valid sockaddr_ll; fields set below.
        let mut link: libc::sockaddr_ll = unsafe { mem::zeroed() };
        link.sll_family = libc::AF_PACKET as u16;
        link.sll_protocol = all;
        link.sll_ifindex = ifindex as i32;
        // SAFETY: `link` is a sockaddr_ll of the size given.
        let rc = unsafe {
            libc::bind(
                socket.as_raw_fd(),
                &link as *const libc::sockaddr_ll as *const libc::sockaddr,
                mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "bind sniffer: {}", std::io::Error::last_os_error());
        // Room for long bursts (a /24 walk) without drops.
        set_int_option(&socket, libc::SO_RCVBUFFORCE, 16 << 20);
        // Each frame's receive time, as an SCM_TIMESTAMPNS message.
        set_int_option(&socket, libc::SO_TIMESTAMPNS, 1);
        Sniffer { socket }
    }

    /// The next frame, or None when `deadline` passes first.
    pub fn next(&self, deadline: Instant) -> Option<Frame> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.socket
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .expect("set timeout");
            match self.receive() {
                Ok(frame) => return Some(frame),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!("sniffer recv: {e}"),
            }
        }
    }

    /// One frame with its receive time stamp (recvmsg with control data).
    fn receive(&self) -> std::io::Result<Frame> {
        let mut buf = [0u8; 2048];
        // u64s: aligned for the cmsghdr the kernel writes there.
        let mut control = [0u64; 16];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: all-zero is a valid msghdr; its pointers are set below.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = mem::size_of_val(&control) as _;
        // SAFETY: msg points at a buffer and a control area of the sizes
        // given, both alive for the call.
        let n = unsafe { libc::recvmsg(self.socket.as_raw_fd(), &mut msg, 0) };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let read = Instant::now();
        let at = received_at(&msg).map_or(read, |stamp| to_instant(stamp, read));
        Ok(Frame {
            at,
            bytes: buf[..n as usize].to_vec(),
        })
    }

    /// Frames from `source` until `deadline`, or until `enough` says so.
    pub fn capture_from(
        &self,
        source: [u8; 6],
        deadline: Instant,
        mut enough: impl FnMut(&[Frame]) -> bool,
    ) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next(deadline) {
            if frame.bytes.len() >= 14 && frame.source() == source {
                frames.push(frame);
                if enough(&frames) {
                    break;
                }
            }
        }
        frames
    }
}

/// Sets the SOL_SOCKET option `name` of `socket` to `value`.
fn set_int_option(socket: &Socket, name: libc::c_int, value: libc::c_int) {
    // SAFETY: an int option of the right size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            name,
            &value as *const libc::c_int as *const libc::c_void,
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "sniffer socket option {name}: {}",
        std::io::Error::last_os_error()
    );
}

/// The SCM_TIMESTAMPNS time stamp (CLOCK_REALTIME) among the control
/// messages of `msg`.
fn received_at(msg: &libc::msghdr) -> Option<libc::timespec> {
    // SAFETY: the CMSG macros walk the control area recvmsg filled in,
    // within the length it reported.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                return Some(std::ptr::read_unaligned(
                    libc::CMSG_DATA(cmsg).cast::<libc::timespec>(),
                ));
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    None
}

/// The [`Instant`] of the wall-clock time `stamp`, by how long before the
/// wall clock's now it lies (`read`: the monotonic now); `read` when it
/// cannot be placed.
fn to_instant(stamp: libc::timespec, read: Instant) -> Instant {
    let now = std::time::SystemTime::now();
    let stamp = std::time::UNIX_EPOCH + Duration::new(stamp.tv_sec as u64, stamp.tv_nsec as u32);
    now.duration_since(stamp)
        .ok()
        .and_then(|age| read.checked_sub(age))
        .unwrap_or(read)
}
