//! VIP addresses on interfaces, both families through rtnetlink: IPv4
//! ones under alias labels `IF:N` (`iface4`), IPv6 ones without duplicate
//! address detection (`iface6`). This module holds what they share and
//! the entry points, which pick the family.
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

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use socket2::Socket;

use super::addrmsg::{Change, KernelAddress};
use super::error::{Action, Error, Reason, Result};
use super::ifreq;
use super::netlink::Netlink;
use super::{iface4, iface6, renewal};
use crate::base::{interface_name_fault, VifAddress};

/// One IPv4 address configured on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceAddress {
    /// `eth0` for the interface's own label, `eth0:3` for an alias.
    pub label: String,
    /// The address.
    pub addr: Ipv4Addr,
    /// Its netmask length.
    pub prefix_len: u8,
    /// Its broadcast address (0.0.0.0 when it has none).
    pub broadcast: Ipv4Addr,
    /// How much longer the kernel keeps it, in whole seconds rounded
    /// down; `None` for a permanent address.
    pub lifetime: Option<Duration>,
}

impl InterfaceAddress {
    /// Whether it carries an alias label (`IF:N`): only those can be ours.
    pub fn is_alias(&self) -> bool {
        self.label.contains(':')
    }
}

/// What [`bring_up_for`] or [`take_down`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The address was added under this label (IPv6: the interface name),
    /// with the lifetime asked for.
    Added {
        /// The label.
        label: String,
    },
    /// The interface already had the address (under this label): nothing
    /// was done. Asked for a lifetime: the address has one already (and
    /// keeps it until renewed).
    AlreadyPresent {
        /// The label.
        label: String,
    },
    /// Asked for a lifetime, the interface already had the address without
    /// one (added by hand, or without a lifetime): it is not ours to limit,
    /// so nothing was done. The kernel will not remove it should this
    /// process stall, and [`renew`] leaves it alone too.
    AlreadyPermanent {
        /// The label.
        label: String,
    },
    /// The address under this label was removed. `restored` lists the other
    /// addresses the kernel dropped along with it and that were put back.
    Removed {
        /// The label it had.
        label: String,
        /// Addresses put back.
        restored: Vec<Ipv4Addr>,
    },
    /// The interface did not have the address (or does not exist).
    AlreadyAbsent,
}

/// What [`renew`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// The address was there all along; the kernel keeps it for the new
    /// lifetime from now.
    Renewed,
    /// The address is not on its interface (the kernel let it expire, or
    /// someone removed it, or the interface is gone): nothing was added.
    /// Add it again with [`bring_up_for`] if it is still held.
    Missing,
    /// The address is there without a lifetime (not added by us with
    /// one): left as it is.
    Permanent,
}

/// The kernel's whole seconds for `lifetime`, rounded up: `None` for zero
/// and for what the kernel would read as forever (2^32 - 1 s and more).
pub fn lifetime_seconds(lifetime: Duration) -> Option<u32> {
    let seconds = lifetime
        .as_secs()
        .checked_add(u64::from(lifetime.subsec_nanos() > 0))?;
    u32::try_from(seconds)
        .ok()
        .filter(|&s| s > 0 && s < u32::MAX)
}

/// [`lifetime_seconds`], or the error naming the address it was for.
pub(super) fn checked_lifetime(
    lifetime: Duration,
    action: Action,
    vip: &VifAddress,
) -> Result<u32> {
    lifetime_seconds(lifetime).ok_or_else(|| {
        Error::new(
            action,
            &vip.interface,
            Some(vip.addr),
            Reason::BadLifetime { lifetime },
        )
    })
}

pub(super) fn check_interface_name(name: &str, action: Action, addr: Option<IpAddr>) -> Result<()> {
    if interface_name_fault(name).is_some() {
        return Err(Error::new(action, name, addr, Reason::BadInterfaceName));
    }
    Ok(())
}

fn control_socket(action: Action, interface: &str, addr: Option<IpAddr>) -> Result<Socket> {
    ifreq::control_socket().map_err(|e| Error::os(action, interface, addr, e))
}

/// An rtnetlink socket, or the error naming what it was for.
pub(super) fn netlink(action: Action, interface: &str, addr: Option<IpAddr>) -> Result<Netlink> {
    Netlink::open().map_err(|e| Error::os(action, interface, addr, e))
}

/// The index of `interface`, which must exist and be up (a VIP on a down
/// interface would reach nobody; we never change the interface itself).
pub(super) fn index_if_up(interface: &str, action: Action, addr: IpAddr) -> Result<u32> {
    let about = Some(addr);
    check_interface_name(interface, action, about)?;
    let sock = control_socket(action, interface, about)?;
    let device =
        ifreq::flags(&sock, interface).map_err(|e| Error::os(action, interface, about, e))?;
    if device & libc::IFF_UP as libc::c_short == 0 {
        return Err(Error::new(action, interface, about, Reason::InterfaceDown));
    }
    let index =
        ifreq::index(&sock, interface).map_err(|e| Error::os(action, interface, about, e))?;
    Ok(index as u32)
}

/// The index of `interface`, `None` when there is no such interface.
pub(super) fn index_of(
    interface: &str,
    action: Action,
    addr: Option<IpAddr>,
) -> Result<Option<u32>> {
    check_interface_name(interface, action, addr)?;
    let sock = control_socket(action, interface, addr)?;
    match ifreq::index(&sock, interface) {
        Ok(index) => Ok(Some(index as u32)),
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(Error::os(action, interface, addr, e)),
    }
}

/// Every address of one family (`libc::AF_INET` or `AF_INET6`) in the
/// namespace. A kernel without IPv6 has no IPv6 ones.
pub(super) fn all_addresses(
    nl: &mut Netlink,
    family: i32,
    (action, interface, addr): (Action, &str, Option<IpAddr>),
) -> Result<Vec<KernelAddress>> {
    match nl.addresses(family as u8) {
        Ok(all) => Ok(all),
        Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => Ok(Vec::new()),
        Err(e) => Err(Error::os(action, interface, addr, e)),
    }
}

/// The addresses of one family on the interface with index `index`.
pub(super) fn addresses_on(
    nl: &mut Netlink,
    family: i32,
    index: u32,
    context: (Action, &str, Option<IpAddr>),
) -> Result<Vec<KernelAddress>> {
    let mut all = all_addresses(nl, family, context)?;
    all.retain(|a| a.index == index);
    Ok(all)
}

/// The addresses of `family` on `interface`, as the kernel lists them;
/// none when there is no such interface.
pub(super) fn listed(interface: &str, family: i32) -> Result<Vec<KernelAddress>> {
    let action = Action::ListAddresses;
    let Some(index) = index_of(interface, action, None)? else {
        return Ok(Vec::new());
    };
    let mut nl = netlink(action, interface, None)?;
    addresses_on(&mut nl, family, index, (action, interface, None))
}

/// The label of `address` (IPv6 ones and unlabelled IPv4 ones: the
/// interface name).
pub(super) fn label_of(address: &KernelAddress, interface: &str) -> String {
    address
        .label
        .clone()
        .unwrap_or_else(|| interface.to_string())
}

/// What is there already of `addr` among `present`, as an outcome.
fn already(
    present: &[KernelAddress],
    addr: IpAddr,
    interface: &str,
    lifetime: Option<u32>,
) -> Option<Outcome> {
    let found = present.iter().find(|a| a.local == addr)?;
    let label = label_of(found, interface);
    Some(if lifetime.is_some() && found.is_permanent() {
        Outcome::AlreadyPermanent { label }
    } else {
        Outcome::AlreadyPresent { label }
    })
}

/// Adds the address `make` builds from the interface index and the
/// addresses of the family already there, unless `addr` is among them
/// (then the outcome says so, as it does when someone else adds it
/// meanwhile). `interface` must exist and be up. Other refusals of the
/// add come back as the kernel's error, for the family to word.
pub(super) fn add_unless_present(
    interface: &str,
    addr: IpAddr,
    lifetime: Option<u32>,
    make: impl FnOnce(u32, &[KernelAddress]) -> Result<KernelAddress>,
) -> Result<std::result::Result<Outcome, io::Error>> {
    let action = Action::AddAddress;
    let about = Some(addr);
    let family = match addr {
        IpAddr::V4(_) => libc::AF_INET,
        IpAddr::V6(_) => libc::AF_INET6,
    };
    let index = index_if_up(interface, action, addr)?;
    let mut nl = netlink(action, interface, about)?;
    let context = (action, interface, about);
    let present = addresses_on(&mut nl, family, index, context)?;
    if let Some(outcome) = already(&present, addr, interface, lifetime) {
        return Ok(Ok(outcome));
    }
    let address = make(index, &present)?;
    Ok(match nl.change(Change::Add, &address) {
        Ok(()) => Ok(Outcome::Added {
            label: label_of(&address, interface),
        }),
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            let present = addresses_on(&mut nl, family, index, context)?;
            already(&present, addr, interface, lifetime).ok_or(e)
        }
        Err(e) => Err(e),
    })
}

/// What [`delete`] found.
pub(super) enum Deletion {
    /// The interface, or the address on it, was not there.
    Absent,
    /// The address was deleted.
    Deleted {
        /// The socket it was deleted through, for what follows.
        nl: Netlink,
        /// The addresses of its family on its interface before.
        before: Vec<KernelAddress>,
        /// And after.
        after: Vec<KernelAddress>,
        /// The address as it was.
        target: KernelAddress,
    },
}

/// Deletes `addr` from `interface` as the kernel lists it (its prefix,
/// and its label for IPv4, so exactly that one goes), once `allowed`
/// agrees. Absent, or gone meanwhile: [`Deletion::Absent`].
pub(super) fn delete(
    interface: &str,
    addr: IpAddr,
    allowed: impl FnOnce(&KernelAddress) -> Result<()>,
) -> Result<Deletion> {
    let action = Action::RemoveAddress;
    let context = (action, interface, Some(addr));
    let family = match addr {
        IpAddr::V4(_) => libc::AF_INET,
        IpAddr::V6(_) => libc::AF_INET6,
    };
    let Some(index) = index_of(interface, action, Some(addr))? else {
        return Ok(Deletion::Absent);
    };
    let mut nl = netlink(action, interface, Some(addr))?;
    let before = addresses_on(&mut nl, family, index, context)?;
    let Some(target) = before.iter().find(|a| a.local == addr).cloned() else {
        return Ok(Deletion::Absent);
    };
    allowed(&target)?;
    match nl.change(Change::Delete, &target) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => return Ok(Deletion::Absent),
        Err(e) => return Err(Error::os(action, interface, Some(addr), e)),
    }
    let after = addresses_on(&mut nl, family, index, context)?;
    Ok(Deletion::Deleted {
        nl,
        before,
        after,
        target,
    })
}

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
/// reported [`Reason::StillPresent`].
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
