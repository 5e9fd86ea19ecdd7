//! Interface addresses as both families see them: the types the entry
//! points of [`iface`](super::iface) return, and the kernel steps IPv4
//! (`iface4`), IPv6 (`iface6`) and renewal share (finding an interface,
//! listing its addresses, adding unless present, deleting exactly one).

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use socket2::Socket;

use super::addrmsg::{Change, KernelAddress};
use super::error::{Action, Error, Reason, Result};
use super::ifreq;
use super::netlink::Netlink;
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

/// What [`bring_up_for`](super::iface::bring_up_for) or
/// [`take_down`](super::iface::take_down) did.
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
    /// process stall, and [`renew`](super::iface::renew) leaves it alone too.
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

/// What [`renew`](super::iface::renew) found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// The address was there all along; the kernel keeps it for the new
    /// lifetime from now.
    Renewed,
    /// The address is not on its interface (the kernel let it expire, or
    /// someone removed it, or the interface is gone): nothing was added.
    /// Add it again with [`bring_up_for`](super::iface::bring_up_for) if it
    /// is still held.
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

pub(super) fn control_socket(
    action: Action,
    interface: &str,
    addr: Option<IpAddr>,
) -> Result<Socket> {
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
