//! VIP addresses on interfaces, both families through rtnetlink: IPv4
//! ones under alias labels `IF:N` (`iface4`), IPv6 ones without duplicate
//! address detection (`iface6`). This module holds the entry points, which
//! pick the family; what the families share is in `ifaddr`.
//!
//! # Lifetimes
//!
//! An address may be added with a lifetime ([`bring_up_for`]): the kernel
//! removes it by itself that long after it was added or last [`renew`]ed.
//! A process that holds addresses renews them while it runs; one that
//! stalls (SIGSTOP, starved) stops renewing, and its addresses leave the
//! kernel within the lifetime (plus the kernel's own rounding, measured by
//! `make bench`), so a stalled holder does not answer for them long after
//! the other nodes took them over. Lifetimes are whole seconds in the
//! kernel: a duration is rounded up, zero is refused. An address already
//! on the interface without a lifetime (an operator's) is never given
//! one: neither [`bring_up_for`] nor [`renew`] touches it. Beware that an
//! IPv4 VIP the kernel lets expire takes with it, when it is the primary
//! of its subnet on the interface, every secondary of that subnet, an
//! operator's too, unless `net.ipv4.conf.IF.promote_secondaries` is 1:
//! nobody is there to put them back.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::error::{Action, Error, Result};
use super::ifaddr::{checked_lifetime, control_socket};
pub use super::ifaddr::{lifetime_seconds, InterfaceAddress, Outcome, Renewal};
use super::ifreq;
use super::{iface4, iface6, renewal};
use crate::base::VifAddress;

/// Every IPv4 address of `interface`, in the kernel's order (primaries of
/// each subnet before their secondaries). An interface that does not exist
/// has none.
pub fn list(interface: &str) -> Result<Vec<InterfaceAddress>> {
    iface4::list(interface)
}

/// Every IPv4 address of every interface of this host (the namespace of
/// the calling thread): where a node finds itself among the nodes a
/// cluster lists.
pub fn local_addresses() -> Result<Vec<Ipv4Addr>> {
    let sock = control_socket(Action::ListAddresses, "", None)?;
    let all = ifreq::addresses(&sock).map_err(|e| Error::os(Action::ListAddresses, "", None, e))?;
    let mut addresses: Vec<Ipv4Addr> = all.into_iter().map(|(_, addr)| addr).collect();
    addresses.sort_unstable();
    addresses.dedup();
    Ok(addresses)
}

/// Brings up one address of a VIF without a lifetime:
/// [`bring_up_for`]`(vip, None)`.
pub fn bring_up(vip: &VifAddress) -> Result<Outcome> {
    bring_up_for(vip, None)
}

/// Brings up one address of a VIF: IPv4 under the lowest free alias label
/// `IF:N` (N from 1) with the broadcast address of its subnet, IPv6
/// without duplicate address detection. With a `lifetime` the kernel
/// removes it by itself that long after (rounded up to whole seconds)
/// unless [`renew`]ed; `None` keeps it until [`take_down`]. Already
/// present on that interface (under any label, with any mask): success,
/// nothing done ([`Outcome::AlreadyPermanent`] says when it has no
/// lifetime though one was asked for). The interface must exist and be
/// up; we never change the interface itself.
pub fn bring_up_for(vip: &VifAddress, lifetime: Option<Duration>) -> Result<Outcome> {
    let seconds = match lifetime {
        Some(lifetime) => Some(checked_lifetime(lifetime, Action::AddAddress, vip)?),
        None => None,
    };
    match vip.addr {
        IpAddr::V4(addr) => iface4::bring_up(&vip.interface, addr, vip.prefix_len, seconds),
        IpAddr::V6(addr) => iface6::bring_up(&vip.interface, addr, vip.prefix_len, seconds),
    }
}

/// Gives one address we brought up with a lifetime that lifetime again,
/// from now: one dump of the family's addresses, one request, one more
/// dump. It never adds an address: gone, it is [`Renewal::Missing`]; there
/// without a lifetime, [`Renewal::Permanent`] and untouched. For many
/// addresses at once, [`renew_all`] costs about the same as one.
pub fn renew(vip: &VifAddress, lifetime: Duration) -> Result<Renewal> {
    renew_all(std::slice::from_ref(vip), lifetime)?
        .pop()
        .unwrap_or(Ok(Renewal::Missing))
}

/// [`renew`] for every address of `vips`, with two dumps of the
/// addresses of each family involved and the requests batched: the
/// answers in the order of `vips`. The outer error is one that stopped
/// everything (a refused lifetime, no rtnetlink, a failed dump); an inner
/// one concerns its address only.
///
/// Renew from the thread that brings the addresses up and takes them
/// down, never beside it: an address taken down and brought up again
/// between a renewal's two reads looks like one the renewal added, and is
/// deleted; one taken down while a renewal adds it back for a moment is
/// reported [`Reason::StillPresent`](super::error::Reason::StillPresent).
pub fn renew_all(vips: &[VifAddress], lifetime: Duration) -> Result<Vec<Result<Renewal>>> {
    renewal::renew_all(vips, lifetime)
}

/// Takes one address of a VIF down, and only that one: absent is success.
/// IPv4: addresses the kernel drops along with it (secondaries of a
/// primary VIP, when `promote_secondaries` is off) are put back at once,
/// under their own label, with their mask, broadcast and what is left of
/// their lifetime. An IPv6 address never takes another with it. Whether
/// the address has a lifetime makes no difference.
pub fn take_down(vip: &VifAddress) -> Result<Outcome> {
    match vip.addr {
        IpAddr::V4(addr) => iface4::take_down(&vip.interface, addr),
        IpAddr::V6(addr) => iface6::take_down(&vip.interface, addr),
    }
}

/// Start-up cleanup: removes every configured VIP address that is already
/// on its interface the way we add them (left behind by an instance that
/// crashed), so this node never answers for a VIP it does not own: IPv4
/// under an alias label with the configured mask, IPv6 with the
/// configured prefix and the no-DAD flag, with a lifetime or without.
/// Returns what it removed, for the log. Addresses under the interface's
/// own label, with another mask, or IPv6 ones added with duplicate address
/// detection are the operator's and stay.
pub fn remove_leftovers(configured: &[VifAddress]) -> Result<Vec<VifAddress>> {
    let mut removed = Vec::new();
    for vip in configured {
        let leftover = match vip.addr {
            IpAddr::V4(addr) => list(&vip.interface)?
                .iter()
                .any(|a| a.addr == addr && a.prefix_len == vip.prefix_len && a.is_alias()),
            IpAddr::V6(addr) => iface6::is_leftover(&vip.interface, addr, vip.prefix_len)?,
        };
        if leftover {
            if let Outcome::Removed { .. } = take_down(vip)? {
                removed.push(vip.clone());
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::super::error::Reason;
    use super::*;

    #[test]
    fn lifetimes_round_up_to_whole_seconds_and_refuse_zero() {
        assert_eq!(lifetime_seconds(Duration::from_secs(1)), Some(1));
        assert_eq!(lifetime_seconds(Duration::from_millis(1)), Some(1));
        assert_eq!(lifetime_seconds(Duration::from_millis(1001)), Some(2));
        assert_eq!(lifetime_seconds(Duration::from_millis(2500)), Some(3));
        assert_eq!(lifetime_seconds(Duration::ZERO), None);
        assert_eq!(
            lifetime_seconds(Duration::from_secs(u64::from(u32::MAX) - 1)),
            Some(u32::MAX - 1)
        );
        // The kernel's "forever", and beyond.
        assert_eq!(
            lifetime_seconds(Duration::from_secs(u64::from(u32::MAX))),
            None
        );
        assert_eq!(lifetime_seconds(Duration::MAX), None);
    }

    #[test]
    fn a_refused_lifetime_names_the_address() {
        let vip = VifAddress {
            interface: "eth0".into(),
            addr: Ipv4Addr::new(10, 0, 0, 5).into(),
            prefix_len: 24,
            network_len: 24,
        };
        let err = bring_up_for(&vip, Some(Duration::ZERO)).unwrap_err();
        assert!(matches!(err.reason, Reason::BadLifetime { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "cannot add 10.0.0.5 on eth0: a lifetime must be at least 1s, not 0ns"
        );
        let err = renew(&vip, Duration::from_secs(1 << 40)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot renew 10.0.0.5 on eth0: a lifetime of "),
            "{err}"
        );
    }
}
