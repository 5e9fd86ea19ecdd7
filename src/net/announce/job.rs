//! One VIF's announcement in progress: its gratuitous announcements and
//! its notification walk, sent on a [`Link`]. Pure: the time comes in as
//! an argument.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::super::arp::{self, Mac, BROADCAST_MAC};
use super::super::error::{Error, Result};
use super::super::ndp;
use super::link::Link;
use super::walk::{plan, Destination, Segment};
use super::{AnnounceSettings, Request};
use crate::base::VifAddress;

/// Destinations handled per turn, so commands (a cancel) are seen quickly
/// even during a long unthrottled walk.
pub(super) const TURN: u32 = 32;

/// `error` of the link, naming the VIP it concerns.
fn about(vip: &VifAddress) -> impl Fn(Error) -> Error + '_ {
    |error| Error {
        address: Some(vip.addr),
        ..error
    }
}

/// Our MAC on `vip`'s interface; errors name `vip`.
fn mac(link: &mut dyn Link, vip: &VifAddress) -> Result<Mac> {
    link.mac(&vip.interface).map_err(about(vip))
}

/// Sends `frame` about `vip` on its interface; errors name `vip`.
fn send(link: &mut dyn Link, vip: &VifAddress, frame: &[u8]) -> Result<()> {
    link.send(&vip.interface, frame).map_err(about(vip))
}

/// The unsolicited announcement of `vip` to its whole LAN: a gratuitous
/// ARP for IPv4, a neighbour advertisement to all nodes for IPv6.
pub(super) fn announce(link: &mut dyn Link, vip: &VifAddress) -> Result<()> {
    let mac = mac(link, vip)?;
    let frame = match vip.addr {
        IpAddr::V4(addr) => arp::gratuitous(mac, addr),
        IpAddr::V6(addr) => ndp::unsolicited(mac, addr),
    };
    send(link, vip, &frame)
}

/// One VIF's announcement in progress.
pub(super) struct Job {
    /// The VIF it announces.
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
    /// The announcement `request` asks for, starting at `now`.
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
        link: &mut dyn Link,
    ) -> Result<Option<Instant>> {
        let mut next_gratuitous = None;
        if self.gratuitous_sent < settings.gratuitous_count {
            let at = self.started + settings.gratuitous_interval * self.gratuitous_sent;
            if at <= now {
                for vip in &self.addresses {
                    announce(link, vip)?;
                }
                self.gratuitous_sent += 1;
            }
            if self.gratuitous_sent < settings.gratuitous_count {
                next_gratuitous =
                    Some(self.started + settings.gratuitous_interval * self.gratuitous_sent);
            }
        }
        let next_walk = self.walk_turn(now, link)?;
        Ok(match (next_gratuitous, next_walk) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// Walks up to [`TURN`] destinations, respecting throttles.
    fn walk_turn(&mut self, now: Instant, link: &mut dyn Link) -> Result<Option<Instant>> {
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
            self.notify(link, address, destination, ping)?;
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
        link: &mut dyn Link,
        address: usize,
        destination: Destination,
        ping: bool,
    ) -> Result<()> {
        let vip = &self.addresses[address];
        let ours = mac(link, vip)?;
        let (addr, destination, mac) = match (vip.addr, destination) {
            (IpAddr::V4(addr), Destination::Host(ip, mac)) => (addr, ip, mac),
            (IpAddr::V6(addr), Destination::Neighbour(neighbour)) => {
                return link
                    .advertise(&vip.interface, addr, ours, neighbour)
                    .map_err(about(vip));
            }
            // The plan pairs each address with its own family only.
            _ => return Ok(()),
        };
        self.echo_sequence = self.echo_sequence.wrapping_add(1);
        let sequence = self.echo_sequence;
        let broadcast = arp::notification(ours, addr, destination, BROADCAST_MAC);
        send(link, vip, &broadcast)?;
        send(link, vip, &broadcast)?;
        if let Some(mac) = mac {
            let unicast = arp::notification(ours, addr, destination, mac);
            send(link, vip, &unicast)?;
            send(link, vip, &unicast)?;
        }
        if ping {
            let echo = arp::echo_request(
                ours,
                addr,
                destination,
                mac.unwrap_or(BROADCAST_MAC),
                sequence,
            );
            send(link, vip, &echo)?;
        }
        Ok(())
    }
}
