//! IPv6 VIP addresses on interfaces, through rtnetlink with
//! `IFA_F_NODAD`: an address we add is usable at once, never "tentative",
//! and may carry a lifetime like an IPv4 one (see [`iface`]). IPv6 has no
//! alias labels and no primaries whose removal takes others along:
//! removing one address removes exactly that one.
//!
//! Our own addresses are the ones carrying the no-DAD flag: an operator's
//! `ip addr add` leaves it clear, which is how start-up cleanup tells a
//! crashed instance's leftovers from the operator's addresses.
//!
//! [`iface`]: super::iface

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use super::addrmsg::{KernelAddress, Lifetimes};
pub use super::addrmsg::{IFA_F_NODAD, IFA_F_PERMANENT};
use super::error::{Action, Error, Reason, Result};
use super::ifaddr::{add_unless_present, delete, listed, Deletion, Outcome};

/// `IFA_F_TENTATIVE`: duplicate address detection still running.
pub const IFA_F_TENTATIVE: u32 = 0x40;

/// One IPv6 address configured on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6InterfaceAddress {
    /// The interface it is on.
    pub interface: String,
    /// The address.
    pub addr: Ipv6Addr,
    /// Its prefix length.
    pub prefix_len: u8,
    /// The kernel's `IFA_F_*` flags.
    pub flags: u32,
    /// How much longer the kernel keeps it, in whole seconds rounded
    /// down; `None` for a permanent address.
    pub lifetime: Option<Duration>,
}

impl Ipv6InterfaceAddress {
    /// Whether duplicate address detection is still running on it (the
    /// kernel does not use it yet).
    pub fn is_tentative(&self) -> bool {
        self.flags & IFA_F_TENTATIVE != 0
    }

    /// Added without duplicate address detection, as we add ours.
    pub fn is_nodad(&self) -> bool {
        self.flags & IFA_F_NODAD != 0
    }
}

/// Every IPv6 address of `interface` (none when IPv6 is off or the
/// interface does not exist).
pub fn list(interface: &str) -> Result<Vec<Ipv6InterfaceAddress>> {
    Ok(listed(interface, libc::AF_INET6)?
        .into_iter()
        .filter_map(|a| match a.local {
            IpAddr::V6(addr) => Some(Ipv6InterfaceAddress {
                interface: interface.to_string(),
                addr,
                prefix_len: a.prefix_len,
                flags: a.flags,
                lifetime: a.lifetimes.map(|l| Duration::from_secs(l.valid.into())),
            }),
            IpAddr::V4(_) => None,
        })
        .collect())
}

/// Brings up `addr/prefix_len` on `interface`, without duplicate address
/// detection, for `lifetime` seconds or for good (see
/// [`iface::bring_up_for`](super::iface::bring_up_for)).
pub fn bring_up(
    interface: &str,
    addr: Ipv6Addr,
    prefix_len: u8,
    lifetime: Option<u32>,
) -> Result<Outcome> {
    let action = Action::AddAddress;
    let about = Some(IpAddr::from(addr));
    let added = add_unless_present(interface, addr.into(), lifetime, |index, _| {
        Ok(KernelAddress::new(
            index,
            addr.into(),
            prefix_len,
            None,
            lifetime.map(Lifetimes::both),
        ))
    })?;
    added.map_err(|e| {
        // The kernel's answer when IPv6 is off on the interface, which
        // would otherwise read as a missing capability.
        if e.raw_os_error() == Some(libc::EACCES) && ipv6_disabled(interface) {
            Error::new(action, interface, about, Reason::Ipv6Disabled)
        } else {
            Error::os(action, interface, about, e)
        }
    })
}

fn ipv6_disabled(interface: &str) -> bool {
    let path = format!("/proc/sys/net/ipv6/conf/{interface}/disable_ipv6");
    std::fs::read_to_string(path).is_ok_and(|v| v.trim() == "1")
}

/// Takes `addr` off `interface`, whatever its prefix, and nothing else:
/// absent is success.
pub fn take_down(interface: &str, addr: Ipv6Addr) -> Result<Outcome> {
    let about = Some(IpAddr::from(addr));
    let Deletion::Deleted { after, .. } = delete(interface, addr.into(), |_| Ok(()))? else {
        return Ok(Outcome::AlreadyAbsent);
    };
    if after.iter().any(|a| a.local == IpAddr::V6(addr)) {
        let reason = Reason::StillPresent;
        return Err(Error::new(Action::RemoveAddress, interface, about, reason));
    }
    Ok(Outcome::Removed {
        label: interface.to_string(),
        restored: Vec::new(),
    })
}

/// Whether `addr/prefix_len` on `interface` is one we left behind: the
/// configured prefix and the no-DAD flag only we set.
pub fn is_leftover(interface: &str, addr: Ipv6Addr, prefix_len: u8) -> Result<bool> {
    Ok(list(interface)?
        .iter()
        .any(|a| a.addr == addr && a.prefix_len == prefix_len && a.is_nodad()))
}
