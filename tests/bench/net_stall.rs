//! Addresses with a lifetime. The stall bound: a holder that stops
//! renewing (stopped, starved) keeps its addresses until the kernel
//! removes them; measured from the start of the last renewal to the
//! kernel's `RTM_DELADDR` notification, for an IPv4 alias and an IPv6
//! address renewed together, 20 runs per lifetime, the last renewal at
//! phases spread over a second (the kernel checks lifetimes on a timer
//! rounded to whole seconds). And the cost of a renewal, of 1 and 254
//! addresses at once (one alone on the interface, and among 254), and of
//! 254 renewed one call each.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::netns::{self, Netns};
use super::report;
use super::support::addr_witness;
use wackamole::config::VifAddress;
use wackamole::net::addrmsg::read_address;
use wackamole::net::iface::{self, Renewal};

const STALL_RUNS: usize = 20;
const COST_RUNS: usize = 200;
const RTM_DELADDR: u16 = 21;

fn vip(addr: IpAddr, prefix_len: u8) -> VifAddress {
    VifAddress {
        interface: "va".into(),
        addr,
        prefix_len,
        network_len: prefix_len,
    }
}

/// An rtnetlink socket subscribed to the address notifications of both
/// families, in the namespace of the thread that opens it.
struct Watcher {
    fd: OwnedFd,
    buffer: Vec<u8>,
}

impl Watcher {
    fn open() -> io::Result<Watcher> {
        let socket = socket2::Socket::from(addr_witness::address_socket()?);
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let fd = OwnedFd::from(socket);
        Ok(Watcher {
            fd,
            buffer: vec![0; 64 * 1024],
        })
    }

    /// When each of `addrs` was reported deleted (read at once), waiting
    /// until `deadline` at most; `None` for those not seen by then.
    fn deletions(&mut self, addrs: &[IpAddr], deadline: Instant) -> Vec<Option<Instant>> {
        let mut seen = vec![None; addrs.len()];
        while seen.iter().any(Option::is_none) && Instant::now() < deadline {
            // SAFETY: the buffer is valid for writes of its length.
            let got = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buffer.as_mut_ptr() as *mut libc::c_void,
                    self.buffer.len(),
                    0,
                )
            };
            let at = Instant::now();
            if got <= 0 {
                continue;
            }
            let mut rest = &self.buffer[..got as usize];
            while rest.len() >= 16 {
                let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                if len < 16 || len > rest.len() {
                    break;
                }
                let kind = u16::from_ne_bytes([rest[4], rest[5]]);
                if kind == RTM_DELADDR {
                    if let Ok(Some(address)) = read_address(&rest[16..len]) {
                        for (i, addr) in addrs.iter().enumerate() {
                            if address.local == *addr && seen[i].is_none() {
                                seen[i] = Some(at);
                            }
                        }
                    }
                }
                rest = &rest[((len + 3) & !3).min(rest.len())..];
            }
        }
        seen
    }
}

/// The stall bound for each lifetime, the two series side by side in
/// namespaces of their own (the kernel checks lifetimes per namespace).
pub fn bound() {
    std::thread::scope(|scope| {
        let series: Vec<_> = [1u64, 2]
            .into_iter()
            .map(|seconds| scope.spawn(move || (seconds, stall_series(seconds))))
            .collect();
        for running in series {
            let (seconds, (v4, v6)) = running.join().expect("a stall series");
            for (family, samples) in [("IPv4 alias", v4), ("IPv6", v6)] {
                report(
                    &format!(
                        "stall bound, lifetime {seconds}s: last renewal -> {family} address \
                         removed by the kernel"
                    ),
                    samples,
                );
            }
        }
    });
}

fn stall_series(seconds: u64) -> (Vec<Duration>, Vec<Duration>) {
    let tag = format!("stall{seconds}");
    let node = Netns::new(&tag);
    let peer = Netns::new(&format!("{tag}p"));
    netns::veth(&node, "va", &peer, "vb");
    let lifetime = Duration::from_secs(seconds);
    node.run(|| {
        let mut watcher = Watcher::open().expect("a notification socket");
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for run in 0..STALL_RUNS {
            let addrs: [IpAddr; 2] = [
                Ipv4Addr::new(10, 60, seconds as u8, run as u8 + 1).into(),
                Ipv6Addr::new(0x2001, 0xdb8, 0x60, seconds as u16, 0, 0, 0, run as u16 + 1).into(),
            ];
            let vips = [vip(addrs[0], 24), vip(addrs[1], 64)];
            for v in &vips {
                iface::bring_up_for(v, Some(lifetime)).expect("bring up");
            }
            // The last renewal at a phase spread over a second.
            std::thread::sleep(Duration::from_millis((run as u64 * 379) % 1000));
            let last = Instant::now();
            let renewed = iface::renew_all(&vips, lifetime).expect("renew");
            for answer in renewed {
                assert_eq!(answer.expect("renewed"), Renewal::Renewed);
            }
            let deadline = last + lifetime + Duration::from_secs(10);
            let gone = watcher.deletions(&addrs, deadline);
            for (samples, at) in [(&mut v4, gone[0]), (&mut v6, gone[1])] {
                samples.push(at.expect("removed by the kernel") - last);
            }
        }
        (v4, v6)
    })
}

/// What renewing costs: 1 address, 254 in one call, and 254 one call
/// each (what one netlink round per address would cost the daemon).
pub fn renew_cost() {
    let node = Netns::new("renewcost");
    let peer = Netns::new("renewcostp");
    netns::quiet_veth(&node, "va", &peer, "vb");
    node.run(|| {
        let lifetime = Duration::from_secs(60);
        let vips: Vec<VifAddress> = (1..=254u8)
            .map(|i| vip(Ipv4Addr::new(10, 61, 0, i).into(), 24))
            .collect();
        let time = |runs: usize, mut renew: Box<dyn FnMut() + '_>| -> Vec<Duration> {
            (0..runs)
                .map(|_| {
                    let started = Instant::now();
                    renew();
                    started.elapsed()
                })
                .collect()
        };
        let renew_first = || {
            assert_eq!(
                iface::renew(&vips[0], lifetime).expect("renew"),
                Renewal::Renewed
            );
        };
        iface::bring_up_for(&vips[0], Some(lifetime)).expect("bring up");
        let alone = time(COST_RUNS, Box::new(renew_first));
        report("renew 1 IPv4 address, alone on the interface", alone);
        for v in &vips[1..] {
            iface::bring_up_for(v, Some(lifetime)).expect("bring up");
        }
        let one = time(COST_RUNS, Box::new(renew_first));
        report("renew 1 IPv4 address (254 on the interface)", one);
        let all = time(
            COST_RUNS,
            Box::new(|| {
                let answers = iface::renew_all(&vips, lifetime).expect("renew");
                assert!(answers.iter().all(|a| matches!(a, Ok(Renewal::Renewed))));
            }),
        );
        report("renew_all of 254 IPv4 addresses", all);
        let each = time(
            COST_RUNS / 20,
            Box::new(|| {
                for v in &vips {
                    iface::renew(v, lifetime).expect("renew");
                }
            }),
        );
        report("254 IPv4 addresses renewed one renew call each", each);
    });
}
