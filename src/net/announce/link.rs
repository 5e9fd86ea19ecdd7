//! Where the announcer's frames go. The schedule only ever talks to a
//! [`Link`], so what it sends, where and when is tested in memory; the
//! daemon's link is [`Sockets`]: AF_PACKET sockets kept per interface,
//! and the kernel's ICMPv6 for unicast advertisements to neighbours.

use std::collections::HashMap;
use std::net::Ipv6Addr;

use super::super::arp::Mac;
use super::super::error::Result;
use super::super::neighbour;
use super::super::packet::PacketSender;

/// The announcer's way onto the LANs. Errors name the interface; the
/// announcer adds the address they concern.
pub(super) trait Link {
    /// The MAC address of `interface`: the source of every frame sent on
    /// it.
    fn mac(&mut self, interface: &str) -> Result<Mac>;

    /// Sends one complete Ethernet frame on `interface`.
    fn send(&mut self, interface: &str, frame: &[u8]) -> Result<()>;

    /// Tells `neighbour` on `interface`, by unicast through the kernel
    /// (which knows its MAC and the way out), that `vip` lives at `mac`.
    fn advertise(
        &mut self,
        interface: &str,
        vip: Ipv6Addr,
        mac: Mac,
        neighbour: Ipv6Addr,
    ) -> Result<()>;
}

/// Packet senders by interface, opened on first use and kept for later
/// announcements: closing an AF_PACKET socket waits for an RCU grace
/// period (milliseconds), which must not delay the next acquisition.
/// Opened in the network namespace of the thread that uses it.
#[derive(Default)]
pub(super) struct Sockets(HashMap<String, PacketSender>);

impl Link for Sockets {
    fn mac(&mut self, interface: &str) -> Result<Mac> {
        if let Some(sender) = self.0.get(interface) {
            return Ok(sender.mac());
        }
        let sender = PacketSender::open(interface)?;
        let mac = sender.mac();
        self.0.insert(interface.to_string(), sender);
        Ok(mac)
    }

    /// A sender that failed is dropped, so a re-created interface gets a
    /// fresh one next time.
    fn send(&mut self, interface: &str, frame: &[u8]) -> Result<()> {
        self.mac(interface)?;
        let result = self.0[interface].send(frame);
        if result.is_err() {
            self.0.remove(interface);
        }
        result
    }

    fn advertise(
        &mut self,
        interface: &str,
        vip: Ipv6Addr,
        mac: Mac,
        neighbour: Ipv6Addr,
    ) -> Result<()> {
        neighbour::advertise(interface, vip, mac, neighbour)
    }
}
