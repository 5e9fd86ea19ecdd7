//! Faults for root-only cluster tests and benchmarks: datagram loss on
//! links (tc netem, or an nftables rule where the kernel has no netem),
//! busy loops that keep the CPUs loaded, and a foreign host that sends
//! junk and replays recorded frames.

use std::io::Write as _;
use std::mem;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::support::netns::Netns;
use crate::support::rng::Rng;
use crate::support::sniffer::{Frame, Sniffer};

/// How loss is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossMethod {
    /// `tc qdisc add dev DEV root netem loss P%`.
    Netem,
    /// An nftables `netdev` egress chain: `numgen random mod 100 < P drop`,
    /// for kernels built without sch_netem.
    Nftables,
}

/// Datagram loss on the egress of some interfaces; removed on drop.
pub struct Loss {
    pub method: LossMethod,
    targets: Vec<(String, String)>,
}

const NFT_TABLE: &str = "wkloss";

fn run(program: &str, args: &[&str], input: Option<&str>) -> Result<(), String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("{program}: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

impl Loss {
    /// Drops `percent` % of the frames each (namespace, interface) sends,
    /// at random. Uses tc netem; when this kernel has no netem qdisc, an
    /// nftables rule that drops the same share; fails the test when
    /// neither can be had (it never goes on without the loss).
    pub fn on_egress(targets: &[(&Netns, &str)], percent: u32) -> Loss {
        assert!((1..100).contains(&percent), "loss of {percent}%");
        let first = targets.first().expect("at least one interface");
        let loss = format!("{percent}%");
        let netem = |(ns, dev): &(&Netns, &str)| {
            run(
                "tc",
                &[
                    "-n",
                    ns.name(),
                    "qdisc",
                    "add",
                    "dev",
                    dev,
                    "root",
                    "netem",
                    "loss",
                    &loss,
                ],
                None,
            )
        };
        let method = match netem(first) {
            Ok(()) => LossMethod::Netem,
            Err(e) if e.contains("qdisc kind is unknown") => {
                let rule = nft_rule(first.1, percent);
                if let Err(nft) = run(
                    "ip",
                    &["netns", "exec", first.0.name(), "nft", "-f", "-"],
                    Some(&rule),
                ) {
                    panic!(
                        "no way to make datagram loss here: this kernel has no netem qdisc \
                         (tc: {e}), and nftables failed too ({nft}); install nftables \
                         (apt-get install nftables; make test does, etc/provision.sh) or use \
                         a kernel with CONFIG_NET_SCH_NETEM"
                    );
                }
                LossMethod::Nftables
            }
            Err(e) => panic!("tc netem on {} in {}: {e}", first.1, first.0.name()),
        };
        for target in &targets[1..] {
            let result = match method {
                LossMethod::Netem => netem(target),
                LossMethod::Nftables => run(
                    "ip",
                    &["netns", "exec", target.0.name(), "nft", "-f", "-"],
                    Some(&nft_rule(target.1, percent)),
                ),
            };
            if let Err(e) = result {
                panic!("loss on {} in {}: {e}", target.1, target.0.name());
            }
        }
        eprintln!(
            "loss: {percent}% on the egress of {} interfaces by {method:?}",
            targets.len()
        );
        Loss {
            method,
            targets: targets
                .iter()
                .map(|(ns, dev)| (ns.name().to_string(), dev.to_string()))
                .collect(),
        }
    }

    /// Ends the loss now.
    pub fn clear(mut self) {
        self.remove();
    }

    fn remove(&mut self) {
        for (ns, dev) in self.targets.drain(..) {
            let _ = match self.method {
                LossMethod::Netem => run(
                    "tc",
                    &["-n", &ns, "qdisc", "del", "dev", &dev, "root"],
                    None,
                ),
                LossMethod::Nftables => run(
                    "ip",
                    &[
                        "netns", "exec", &ns, "nft", "delete", "table", "netdev", NFT_TABLE,
                    ],
                    None,
                ),
            };
        }
    }
}

impl Drop for Loss {
    fn drop(&mut self) {
        self.remove();
    }
}

fn nft_rule(device: &str, percent: u32) -> String {
    format!(
        "table netdev {NFT_TABLE} {{\n\
         \tchain egress {{\n\
         \t\ttype filter hook egress device \"{device}\" priority 0; policy accept;\n\
         \t\tnumgen random mod 100 < {percent} drop\n\
         \t}}\n\
         }}\n"
    )
}

/// Sends `count` junk datagrams from `from` (an address of the calling
/// thread's namespace) to `targets` in turn, one every `gap`: random bytes
/// of random length, and half of them shaped like the membership's
/// datagrams (magic, version, a kind, plausible length) with a MAC that
/// cannot match. Returns how many were sent.
pub fn send_junk(
    from: Ipv4Addr,
    targets: &[SocketAddrV4],
    count: usize,
    gap: Duration,
    rng: &mut Rng,
) -> usize {
    let socket = UdpSocket::bind(SocketAddrV4::new(from, 0)).expect("junk sender socket");
    let mut sent = 0;
    for n in 0..count {
        let mut datagram: Vec<u8> = (0..rng.range(1, 1400)).map(|_| rng.next() as u8).collect();
        if n % 2 == 0 {
            datagram.resize(rng.range(62, 600), 0);
            datagram[..4].copy_from_slice(&[0x57, 0x4D, 1, rng.range(1, 7) as u8]);
        }
        let target = targets[n % targets.len()];
        if socket.send_to(&datagram, target).is_ok() {
            sent += 1;
        }
        thread::sleep(gap);
    }
    sent
}

/// The UDP frames `sniffer` sees to `port` until `deadline` or until
/// `want` of them are in.
pub fn record_udp(sniffer: &Sniffer, port: u16, want: usize, deadline: Instant) -> Vec<Frame> {
    let mut frames = Vec::new();
    while frames.len() < want {
        let Some(frame) = sniffer.next(deadline) else {
            break;
        };
        if udp_destination(&frame) == Some(port) {
            frames.push(frame);
        }
    }
    frames
}

/// The UDP destination port of an IPv4 frame.
pub fn udp_destination(frame: &Frame) -> Option<u16> {
    let b = frame.bytes.get(14..)?;
    if frame.ethertype() != 0x0800 || b.len() < 28 || b[9] != 17 {
        return None;
    }
    let header = usize::from(b[0] & 0x0f) * 4;
    let udp = b.get(header..header + 4)?;
    Some(u16::from_be_bytes([udp[2], udp[3]]))
}

/// Sends `frames` again, unchanged above Ethernet, on `interface` (of the
/// calling thread's namespace), with that interface's MAC as source so the
/// bridge does not move the original sender's address. The UDP checksum
/// is computed afresh: a frame captured on a veth may carry only the
/// partial sum its sender left for checksum offload.
pub fn replay(interface: &str, mac: [u8; 6], frames: &[Frame]) -> usize {
    let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0)))
        .expect("AF_PACKET socket (needs root)");
    let name = std::ffi::CString::new(interface).expect("interface name");
    // SAFETY: a NUL-terminated name.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert!(ifindex > 0, "no interface {interface} here");
    let mut sent = 0;
    for frame in frames {
        let mut bytes = frame.bytes.clone();
        bytes[6..12].copy_from_slice(&mac);
        set_udp_checksum(&mut bytes);
        // SAFETY: all-zero is a valid sockaddr_ll; fields set below.
        let mut to: libc::sockaddr_ll = unsafe { mem::zeroed() };
        to.sll_family = libc::AF_PACKET as u16;
        to.sll_ifindex = ifindex as i32;
        to.sll_halen = 6;
        to.sll_addr[..6].copy_from_slice(&bytes[0..6]);
        // SAFETY: a buffer of the length given and a sockaddr_ll of the
        // size given.
        let rc = unsafe {
            libc::sendto(
                socket.as_raw_fd(),
                bytes.as_ptr() as *const libc::c_void,
                bytes.len(),
                0,
                &to as *const libc::sockaddr_ll as *const libc::sockaddr,
                mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc == bytes.len() as isize {
            sent += 1;
        }
        thread::sleep(Duration::from_millis(1));
    }
    sent
}

/// Writes the right UDP checksum into an Ethernet frame holding an IPv4
/// UDP datagram (RFC 768: over a pseudo-header and the datagram).
fn set_udp_checksum(frame: &mut [u8]) {
    let ip = 14;
    let header = usize::from(frame[ip] & 0x0f) * 4;
    let udp = ip + header;
    let length = usize::from(u16::from_be_bytes([frame[udp + 4], frame[udp + 5]]));
    let end = (udp + length).min(frame.len());
    frame[udp + 6..udp + 8].fill(0);
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
        }
    };
    add(&frame[ip + 12..ip + 20]);
    add(&[0, 17]);
    add(&(length as u16).to_be_bytes());
    add(&frame[udp..end]);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let checksum = match !(sum as u16) {
        0 => 0xffff,
        c => c,
    };
    frame[udp + 6..udp + 8].copy_from_slice(&checksum.to_be_bytes());
}
