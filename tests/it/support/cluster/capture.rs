//! The ARP frames a cluster's nodes send, captured on the hub's bridge.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::support::netns::Netns;
use crate::support::sniffer::{Arp, Sniffer};

use super::Cluster;

/// One ARP frame seen on the bridge.
#[derive(Debug, Clone)]
pub struct SeenArp {
    pub at: Instant,
    pub source: [u8; 6],
    pub arp: Arp,
}

impl SeenArp {
    /// A gratuitous ARP for `vip` from `mac`: sender and target are the VIP.
    pub fn announces(&self, vip: Ipv4Addr, mac: [u8; 6]) -> bool {
        self.source == mac
            && self.arp.sender_mac == mac
            && self.arp.sender_ip == vip
            && self.arp.is_gratuitous()
    }
}

/// Every ARP frame reaching the hub's bridge, captured on a thread.
pub struct Capture {
    seen: Arc<Mutex<Vec<SeenArp>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Capture {
    /// Starts capturing on the bridge of `cluster` (broadcasts from every
    /// node reach it).
    pub fn start(cluster: &Cluster) -> Capture {
        Capture::on_bridge(cluster.hub(), "br0")
    }

    /// Starts capturing on `bridge` in the namespace `hub`.
    pub fn on_bridge(hub: &Netns, bridge: &str) -> Capture {
        let sniffer = hub.run(|| Sniffer::open(bridge));
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, seen) = (stop.clone(), seen.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Some(frame) = sniffer.next(Instant::now() + Duration::from_millis(50))
                    else {
                        continue;
                    };
                    if let Some(arp) = frame.arp() {
                        let entry = SeenArp {
                            at: frame.at,
                            source: frame.source(),
                            arp,
                        };
                        seen.lock().unwrap_or_else(|p| p.into_inner()).push(entry);
                    }
                }
            })
        };
        Capture {
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// When a gratuitous ARP for `vip` from `mac` was first seen at or
    /// after `since`.
    pub fn announced(&self, vip: Ipv4Addr, mac: [u8; 6], since: Instant) -> Option<Instant> {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|s| s.at >= since && s.announces(vip, mac))
            .map(|s| s.at)
    }

    /// Polls [`Capture::announced`] until `deadline`.
    pub fn wait_announced(
        &self,
        vip: Ipv4Addr,
        mac: [u8; 6],
        since: Instant,
        deadline: Instant,
    ) -> Option<Instant> {
        loop {
            if let Some(at) = self.announced(vip, mac, since) {
                return Some(at);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// Everything seen so far, for failure messages.
    pub fn summary(&self) -> String {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = format!("{} ARP frames:\n", seen.len());
        for s in seen.iter().rev().take(60) {
            let _ = writeln!(
                out,
                "  from {:02x?} op {} {} -> {}",
                s.source, s.arp.operation, s.arp.sender_ip, s.arp.target_ip
            );
        }
        out
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
