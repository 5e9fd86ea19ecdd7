//! `Notify` (whom to tell about an acquired address) and `Announce` (how
//! often to tell everyone again).

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use super::{bad_value, is_keyword, required_interface, values, Located, Parser};
use crate::config::address::WrittenAddress;
use crate::config::error::Position;
use crate::config::keywords::{AnnounceParameter, ANNOUNCE_PARAMETERS};
use crate::config::lexer::TokenKind;
use crate::config::NotifyTarget;

const ANNOUNCE_PARAMETER: &str = "Refresh inside Announce";

/// The shortest refresh period: announcing more often than every second
/// only loads the LAN.
const MIN_REFRESH: Duration = Duration::from_secs(1);

impl Parser<'_> {
    pub(super) fn announce(&mut self) -> Located<()> {
        let open = self.open_brace("Announce")?;
        self.braced(
            open,
            ANNOUNCE_PARAMETER,
            Some("a parameter (Refresh) inside Announce"),
            Self::announce_parameter,
        )
    }

    /// `Refresh = T`: `off` or `0` turns it off (as not writing it does).
    fn announce_parameter(&mut self) -> Located<()> {
        let (AnnounceParameter::Refresh, _) =
            self.keyword(ANNOUNCE_PARAMETERS, ANNOUNCE_PARAMETER)?;
        self.expect_equals("Refresh")?;
        if self.peek_is("off") || self.peek_is("0") {
            self.next += 1;
            self.config.announce.refresh = None;
            return Ok(());
        }
        let at = self.peek().map_or(self.end, |t| t.position);
        let period = self.interval()?;
        if !period.is_zero() && period < MIN_REFRESH {
            return Err(bad_value(
                at,
                format!("a Refresh of {period:?}"),
                "off or a period of at least 1s",
            ));
        }
        self.config.announce.refresh = (!period.is_zero()).then_some(period);
        Ok(())
    }

    pub(super) fn notify(&mut self) -> Located<()> {
        match self.peek() {
            Some(t) if is_keyword(t, "none") => self.next += 1,
            Some(t) if t.kind == TokenKind::OpenBrace => {
                self.next += 1;
                self.braced(t.position, "a Notify entry", None, Self::notify_entry)?;
            }
            _ => self.notify_entry()?,
        }
        Ok(())
    }

    fn notify_entry(&mut self) -> Located<()> {
        const ENTRY: &str = "a Notify entry: IF:A.B.C.D[/BITS], IF:IPV6 or arp-cache";
        if self.peek_is("arp-cache") {
            self.next += 1;
            let ping = self.ping_flag();
            self.config.notify.push(NotifyTarget::ArpCache { ping });
            return Ok(());
        }
        let (written, at) = self.address(ENTRY)?;
        if let IpAddr::V6(addr) = written.addr {
            return self.notify_neighbour(written, addr, at);
        }
        let (interface, block) = self.ipv4_block(written, at, "Notify")?;
        let interface = required_interface(
            interface,
            block.addr.into(),
            at,
            "IF:A.B.C.D[/BITS] in Notify (as in eth0:10.0.0.0/24)",
        )?;
        let mut throttle = None;
        let mut ping = false;
        loop {
            if !ping && self.ping_flag() {
                ping = true;
            } else if throttle.is_none() && self.peek_is("throttle") {
                self.next += 1;
                const RATE: &str = "a number of destinations per second after throttle";
                let (rate, rate_at) = self.word(RATE)?;
                let rate = values::parse_number(rate)
                    .ok_or_else(|| bad_value(rate_at, format!("`{rate}`"), RATE))?;
                // The original reads `throttle 0` as no limit.
                throttle = Some((rate > 0).then_some(rate));
            } else {
                break;
            }
        }
        self.config.notify.push(NotifyTarget::Network {
            interface,
            block,
            throttle: throttle.flatten(),
            ping,
        });
        Ok(())
    }

    /// `IF:IPV6[/128]`: one neighbour, told by unicast.
    fn notify_neighbour(
        &mut self,
        written: WrittenAddress,
        addr: Ipv6Addr,
        at: Position,
    ) -> Located<()> {
        const NEIGHBOUR: &str =
            "one IPv6 neighbour IF:IPV6 in Notify (as in eth0:2001:db8::1), without /BITS below 128";
        let interface = required_interface(written.interface, written.addr, at, NEIGHBOUR)?;
        if written.bits.is_some_and(|b| b < 128) || addr.is_multicast() || addr.is_unspecified() {
            let text = self.tokens[self.next - 1].describe();
            return Err(bad_value(at, text, NEIGHBOUR));
        }
        self.config
            .notify
            .push(NotifyTarget::Neighbour { interface, addr });
        Ok(())
    }

    fn ping_flag(&mut self) -> bool {
        let ping = self.peek_is("ping");
        if ping {
            self.next += 1;
        }
        ping
    }
}
