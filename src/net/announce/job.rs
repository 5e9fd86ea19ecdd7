//! One VIF's announcement in progress: its gratuitous announcements and
//! its notification walk, sent on packet sockets kept per interface.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::super::arp::{self, Mac, BROADCAST_MAC};
use super::super::error::{Error, Result};
use super::super::packet::PacketSender;
use super::super::{ndp, neighbour};
use super::walk::{plan, Destination, Segment};
use super::{AnnounceSettings, Request};
use crate::base::VifAddress;

/// Destinations handled per turn, so commands (a cancel) are seen quickly
/// even during a long unthrottled walk.
const TURN: u32 = 32;

/// Packet senders by interface, opened on first use and kept for later
/// announcements: closing an AF_PACKET socket waits for an RCU grace
/// period (milliseconds), which must not delay the next acquisition.
#[derive(Default)]
pub(super) struct Senders(HashMap<String, PacketSender>);

impl Senders {
    /// Our MAC on `vip`'s interface; errors name `vip`.
    pub(super) fn mac(&mut self, vip: &VifAddress) -> Result<Mac> {
        if let Some(sender) = self.0.get(&vip.interface) {
            return Ok(sender.mac());
        }
        let sender = PacketSender::open(&vip.interface).map_err(|e| Error {
            address: Some(vip.addr),
            ..e
        })?;
        let mac = sender.mac();
        self.0.insert(vip.interface.clone(), sender);
        Ok(mac)
    }

    /// Sends `frame` about `vip`. A sender that failed is dropped, so a
    /// re-created interface gets a fresh one next time.
    pub(super) fn send(&mut self, vip: &VifAddress, frame: &[u8]) -> Result<()> {
        self.mac(vip)?;
        let result = self.0[&vip.interface].send(frame, vip.addr);
        if result.is_err() {
            self.0.remove(&vip.interface);
        }
        result
    }

    /// The unsolicited announcement of `vip` to its whole LAN: a
    /// gratuitous ARP for IPv4, a neighbour advertisement to all nodes for
    /// IPv6.
    pub(super) fn announce(&mut self, vip: &VifAddress) -> Result<()> {
        let mac = self.mac(vip)?;
        let frame = match vip.addr {
            IpAddr::V4(addr) => arp::gratuitous(mac, addr),
            IpAddr::V6(addr) => ndp::unsolicited(mac, addr),
        };
        self.send(vip, &frame)
    }
}

/// One VIF's announcement in progress.
pub(super) struct Job {
    pub(super) vif_index: usize,
    addresses: Vec<VifAddress>,
    started: Instant,
    gratuitous_sent: u32,
    walk: Vec<Segment>,
    segment: usize,
    position: u64,
    /// Start and size of the current throttle batch.
    batch: Option<(Instant, u32)>,
    echo_sequence: u16,
    /// When it next has something to send.
    pub(super) due: Instant,
}

impl Job {
    pub(super) fn new(request: Request, now: Instant) -> Job {
        let walk = plan(&request.addresses, &request.notify, &request.arp_cache);
        Job {
            vif_index: request.vif_index,
            addresses: request.addresses,
            started: now,
            gratuitous_sent: 0,
            walk,
            segment: 0,
            position: 0,
            batch: None,
            echo_sequence: 0,
            due: now,
        }
    }

    /// Sends what is due at `now`; returns when it next has work, or
    /// `None` once everything has been sent.
    pub(super) fn step(
        &mut self,
        now: Instant,
        settings: &AnnounceSettings,
        senders: &mut Senders,
    ) -> Result<Option<Instant>> {
        let mut next_gratuitous = None;
        if self.gratuitous_sent < settings.gratuitous_count {
            let at = self.started + settings.gratuitous_interval * self.gratuitous_sent;
            if at <= now {
                for vip in &self.addresses {
                    senders.announce(vip)?;
                }
                self.gratuitous_sent += 1;
            }
            if self.gratuitous_sent < settings.gratuitous_count {
                next_gratuitous =
                    Some(self.started + settings.gratuitous_interval * self.gratuitous_sent);
            }
        }
        let next_walk = self.walk_turn(now, senders)?;
        Ok(match (next_gratuitous, next_walk) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// Walks up to [`TURN`] destinations, respecting throttles.
    fn walk_turn(&mut self, now: Instant, senders: &mut Senders) -> Result<Option<Instant>> {
        for _ in 0..TURN {
            let Some(segment) = self.walk.get(self.segment) else {
                return Ok(None);
            };
            let (throttle, ping, address) = (segment.throttle, segment.ping, segment.address);
            let destination = segment.destinations.get(self.position);
            let length = segment.destinations.len();
            if let Some(limit) = throttle {
                match self.batch {
                    Some((start, sent)) if sent >= limit => {
                        let resume = start + Duration::from_secs(1);
                        if now < resume {
                            return Ok(Some(resume));
                        }
                        self.batch = Some((now, 0));
                    }
                    None => self.batch = Some((now, 0)),
                    Some(_) => {}
                }
            }
            self.notify(senders, address, destination, ping)?;
            if let Some((_, sent)) = &mut self.batch {
                *sent += 1;
            }
            self.position += 1;
            if self.position == length {
                self.segment += 1;
                self.position = 0;
                self.batch = None;
            }
        }
        Ok(Some(now))
    }

    /// Tells `destination` that the VIP lives at our MAC: an IPv4 host
    /// gets the broadcast reply twice, the unicast one twice when its MAC
    /// is known, then an echo request with `ping`; an IPv6 neighbour gets
    /// one unicast neighbour advertisement.
    fn notify(
        &mut self,
        senders: &mut Senders,
        address: usize,
        destination: Destination,
        ping: bool,
    ) -> Result<()> {
        let vip = &self.addresses[address];
        let ours = senders.mac(vip)?;
        let (addr, destination, mac) = match (vip.addr, destination) {
            (IpAddr::V4(addr), Destination::Host(ip, mac)) => (addr, ip, mac),
            (IpAddr::V6(addr), Destination::Neighbour(neighbour)) => {
                return neighbour::advertise(&vip.interface, addr, ours, neighbour);
            }
            // The plan pairs each address with its own family only.
            _ => return Ok(()),
        };
        self.echo_sequence = self.echo_sequence.wrapping_add(1);
        let sequence = self.echo_sequence;
        let broadcast = arp::notification(ours, addr, destination, BROADCAST_MAC);
        senders.send(vip, &broadcast)?;
        senders.send(vip, &broadcast)?;
        if let Some(mac) = mac {
            let unicast = arp::notification(ours, addr, destination, mac);
            senders.send(vip, &unicast)?;
            senders.send(vip, &unicast)?;
        }
        if ping {
            let echo = arp::echo_request(
                ours,
                addr,
                destination,
                mac.unwrap_or(BROADCAST_MAC),
                sequence,
            );
            senders.send(vip, &echo)?;
        }
        Ok(())
    }
}
