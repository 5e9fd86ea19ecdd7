//! VIP addresses on interfaces: IPv6 ones through `iface6`; IPv4 ones,
//! here, as alias labels `IF:N`, through the
//! classic ioctls (SIOCSIFADDR, SIOCSIFNETMASK, SIOCSIFBRDADDR,
//! SIOCSIFFLAGS), which need nothing beyond libc and work on every kernel.
//!
//! Linux deletes the secondaries of a subnet when its primary goes, unless
//! `promote_secondaries` is set on the interface. We never change that
//! setting (it belongs to the operator); instead [`take_down`] compares the
//! interface's addresses before and after and puts back, at once, whatever
//! the kernel dropped besides the VIP. Setting
//! `net.ipv4.conf.IF.promote_secondaries = 1` is still worthwhile: it
//! avoids the short gap in which those addresses are missing.

use std::net::{IpAddr, Ipv4Addr};

use socket2::Socket;

use super::error::{Action, Error, Reason, Result};
use super::iface6;
use super::ifreq::{self, IFNAMSIZ};
use crate::base::{interface_name_fault, prefix_mask, VifAddress};

/// One IPv4 address configured on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceAddress {
    /// `eth0` for the interface's own label, `eth0:3` for an alias.
    pub label: String,
    /// The address.
    pub addr: Ipv4Addr,
    /// Its netmask length.
    pub prefix_len: u8,
    /// Its broadcast address.
    pub broadcast: Ipv4Addr,
}

impl InterfaceAddress {
    /// Whether it carries an alias label (`IF:N`), the only kind the ioctls
    /// can remove without touching the interface.
    pub fn is_alias(&self) -> bool {
        self.label.contains(':')
    }
}

/// What [`bring_up`] or [`take_down`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The address was added under this alias label.
    Added {
        /// The label.
        label: String,
    },
    /// The interface already had the address (under this label): nothing
    /// was done.
    AlreadyPresent {
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

pub(super) fn check_interface_name(name: &str, action: Action, addr: Option<IpAddr>) -> Result<()> {
    if interface_name_fault(name).is_some() {
        return Err(Error::new(action, name, addr, Reason::BadInterfaceName));
    }
    Ok(())
}

fn socket(action: Action, interface: &str, addr: Option<IpAddr>) -> Result<Socket> {
    ifreq::control_socket().map_err(|e| Error::os(action, interface, addr, e))
}

/// Whether `label` belongs to `interface`: its own name or `interface:...`.
fn label_of(label: &str, interface: &str) -> bool {
    match label.strip_prefix(interface) {
        Some(rest) => rest.is_empty() || rest.starts_with(':'),
        None => false,
    }
}

/// (label, address) pairs of one interface: the cheap listing.
fn labels(
    sock: &Socket,
    interface: &str,
    action: Action,
    addr: Option<IpAddr>,
) -> Result<Vec<(String, Ipv4Addr)>> {
    let all = ifreq::addresses(sock).map_err(|e| Error::os(action, interface, addr, e))?;
    Ok(all
        .into_iter()
        .filter(|(label, _)| label_of(label, interface))
        .collect())
}

fn list_with(
    sock: &Socket,
    interface: &str,
    action: Action,
    addr: Option<IpAddr>,
) -> Result<Vec<InterfaceAddress>> {
    let mut out = Vec::new();
    for (label, a) in labels(sock, interface, action, addr)? {
        let (mask, broadcast) = match ifreq::mask_and_broadcast(sock, &label, a) {
            Ok(details) => details,
            // Removed (or its interface gone) between the listing and this
            // look-up: it is simply no longer there.
            Err(e) if vanished(&e) => continue,
            Err(e) => return Err(Error::os(action, interface, Some(a.into()), e)),
        };
        out.push(InterfaceAddress {
            label,
            addr: a,
            // Netmasks are contiguous on Linux: counting ones is exact.
            prefix_len: u32::from(mask).count_ones() as u8,
            broadcast,
        });
    }
    Ok(out)
}

/// The kernel's answer for a label that no longer exists.
fn vanished(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EADDRNOTAVAIL) | Some(libc::ENODEV)
    )
}

/// Every IPv4 address of `interface`, in the kernel's order (primaries of
/// each subnet before their secondaries). An interface that does not exist
/// has none.
pub fn list(interface: &str) -> Result<Vec<InterfaceAddress>> {
    check_interface_name(interface, Action::ListAddresses, None)?;
    let sock = socket(Action::ListAddresses, interface, None)?;
    list_with(&sock, interface, Action::ListAddresses, None)
}

/// Every IPv4 address of every interface of this host (the namespace of
/// the calling thread): where a node finds itself among the nodes a
/// cluster lists.
pub fn local_addresses() -> Result<Vec<Ipv4Addr>> {
    let sock = socket(Action::ListAddresses, "", None)?;
    let all = ifreq::addresses(&sock).map_err(|e| Error::os(Action::ListAddresses, "", None, e))?;
    let mut addresses: Vec<Ipv4Addr> = all.into_iter().map(|(_, addr)| addr).collect();
    addresses.sort_unstable();
    addresses.dedup();
    Ok(addresses)
}

/// The lowest free alias label `IF:N`, N >= 1 (`IF:0` is avoided, as the
/// original did: some tools read it as the interface itself).
fn free_label(interface: &str, taken: &[(String, Ipv4Addr)], addr: Ipv4Addr) -> Result<String> {
    let label = (1..)
        .map(|n| format!("{interface}:{n}"))
        .find(|l| !taken.iter().any(|(t, _)| t == l))
        .unwrap_or_default();
    if label.len() >= IFNAMSIZ {
        return Err(Error::new(
            Action::AddAddress,
            interface,
            Some(addr.into()),
            Reason::LabelTooLong { label },
        ));
    }
    Ok(label)
}

/// Adds `addr` with `prefix_len` and `broadcast` under `label`. On a
/// failure after the address went in, it is taken out again so no
/// half-configured address stays behind.
fn add_labelled(
    sock: &Socket,
    interface: &str,
    label: &str,
    addr: Ipv4Addr,
    prefix_len: u8,
    broadcast: Ipv4Addr,
    action: Action,
) -> Result<()> {
    let err = |e| Error::os(action, interface, Some(addr.into()), e);
    // SIOCSIFADDR starts with a classful mask; the next two fix it.
    ifreq::set_inet(sock, libc::SIOCSIFADDR, label, addr).map_err(err)?;
    let configure = || -> std::io::Result<()> {
        ifreq::set_inet(
            sock,
            libc::SIOCSIFNETMASK,
            label,
            Ipv4Addr::from(prefix_mask(prefix_len)),
        )?;
        // The kernel keeps the classful broadcast for /31 and /32; those
        // have none.
        let broadcast = if prefix_len < 31 {
            broadcast
        } else {
            Ipv4Addr::UNSPECIFIED
        };
        ifreq::set_inet(sock, libc::SIOCSIFBRDADDR, label, broadcast)?;
        let device = ifreq::flags(sock, interface)?;
        ifreq::set_alias_flags(sock, label, device | libc::IFF_UP as libc::c_short)
    };
    configure().map_err(|e| {
        let _ = ifreq::set_alias_flags(sock, label, 0);
        err(e)
    })
}

/// Brings up one address of a VIF: IPv4 under the lowest free alias
/// label, IPv6 through rtnetlink without duplicate address detection
/// (`iface6`). Already present on that interface (under any label, with
/// any mask): success, nothing done. The interface must exist and be up;
/// we never change the interface itself.
pub fn bring_up(vip: &VifAddress) -> Result<Outcome> {
    let addr = match vip.addr {
        IpAddr::V4(addr) => addr,
        IpAddr::V6(addr) => return iface6::bring_up(&vip.interface, addr, vip.prefix_len),
    };
    let interface = vip.interface.as_str();
    check_interface_name(interface, Action::AddAddress, Some(addr.into()))?;
    let sock = socket(Action::AddAddress, interface, Some(addr.into()))?;
    let device = ifreq::flags(&sock, interface)
        .map_err(|e| Error::os(Action::AddAddress, interface, Some(addr.into()), e))?;
    if device & libc::IFF_UP as libc::c_short == 0 {
        return Err(Error::new(
            Action::AddAddress,
            interface,
            Some(addr.into()),
            Reason::InterfaceDown,
        ));
    }
    let present = labels(&sock, interface, Action::AddAddress, Some(addr.into()))?;
    if let Some((label, _)) = present.iter().find(|(_, a)| *a == addr) {
        return Ok(Outcome::AlreadyPresent {
            label: label.clone(),
        });
    }
    let label = free_label(interface, &present, addr)?;
    let broadcast = Ipv4Addr::from(u32::from(addr) | !prefix_mask(vip.prefix_len));
    add_labelled(
        &sock,
        interface,
        &label,
        addr,
        vip.prefix_len,
        broadcast,
        Action::AddAddress,
    )?;
    Ok(Outcome::Added { label })
}

fn same_address(a: &InterfaceAddress, b: &InterfaceAddress) -> bool {
    a.addr == b.addr && a.prefix_len == b.prefix_len
}

/// Takes one address of a VIF down, and only that one: absent is success;
/// addresses the kernel drops along with it (secondaries of a primary
/// VIP) are put back, under their own alias label when it is free, under
/// a fresh one otherwise (an address with the interface's own label cannot
/// be re-added under it by ioctl without replacing the interface's first
/// address).
///
/// An IPv6 address is removed through rtnetlink, which never takes
/// another address with it.
pub fn take_down(vip: &VifAddress) -> Result<Outcome> {
    let addr = match vip.addr {
        IpAddr::V4(addr) => addr,
        IpAddr::V6(addr) => return iface6::take_down(&vip.interface, addr),
    };
    let interface = vip.interface.as_str();
    let action = Action::RemoveAddress;
    check_interface_name(interface, action, Some(addr.into()))?;
    let sock = socket(action, interface, Some(addr.into()))?;
    let before = list_with(&sock, interface, action, Some(addr.into()))?;
    let Some(target) = before.iter().find(|a| a.addr == addr).cloned() else {
        return Ok(Outcome::AlreadyAbsent);
    };
    if !target.is_alias() {
        return Err(Error::new(
            action,
            interface,
            Some(addr.into()),
            Reason::NotAnAlias {
                label: target.label,
            },
        ));
    }
    // SIOCSIFFLAGS deletes the first address carrying the label; when
    // another address shares it, that one may go first (and comes back
    // below), so try once per address with that label.
    let sharing = before.iter().filter(|a| a.label == target.label).count();
    let mut after = before.clone();
    for _ in 0..sharing {
        ifreq::set_alias_flags(&sock, &target.label, 0)
            .map_err(|e| Error::os(action, interface, Some(addr.into()), e))?;
        after = list_with(&sock, interface, action, Some(addr.into()))?;
        if !after.iter().any(|a| a.addr == addr) {
            break;
        }
    }
    let restored = restore_dropped(&sock, interface, &before, &after, addr)?;
    if after.iter().any(|a| a.addr == addr) {
        return Err(Error::new(
            action,
            interface,
            Some(addr.into()),
            Reason::StillPresent,
        ));
    }
    Ok(Outcome::Removed {
        label: target.label,
        restored,
    })
}

/// Re-adds every address of `before` (except `removed`) missing from
/// `after`. Those with alias labels go first, so an address that needs a
/// fresh label cannot take the label another is waiting to get back. One
/// that cannot be put back does not stop the others: the error names the
/// first that stays lost.
fn restore_dropped(
    sock: &Socket,
    interface: &str,
    before: &[InterfaceAddress],
    after: &[InterfaceAddress],
    removed: Ipv4Addr,
) -> Result<Vec<Ipv4Addr>> {
    let mut lost: Vec<&InterfaceAddress> = before
        .iter()
        .filter(|b| b.addr != removed && !after.iter().any(|a| same_address(a, b)))
        .collect();
    lost.sort_by_key(|a| !a.is_alias());
    let mut restored = Vec::new();
    let mut failure = None;
    for lost in lost {
        match restore(sock, interface, lost) {
            Ok(()) => restored.push(lost.addr),
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    failure.map_or(Ok(restored), Err)
}

/// Puts `lost` back under its own alias label when that is free, under a
/// fresh one otherwise.
fn restore(sock: &Socket, interface: &str, lost: &InterfaceAddress) -> Result<()> {
    let taken = labels(
        sock,
        interface,
        Action::RestoreAddress,
        Some(lost.addr.into()),
    )?;
    let label = if lost.is_alias() && !taken.iter().any(|(l, _)| *l == lost.label) {
        lost.label.clone()
    } else {
        free_label(interface, &taken, lost.addr).map_err(|e| Error {
            action: Action::RestoreAddress,
            ..e
        })?
    };
    add_labelled(
        sock,
        interface,
        &label,
        lost.addr,
        lost.prefix_len,
        lost.broadcast,
        Action::RestoreAddress,
    )
}

/// Start-up cleanup: removes every configured VIP address that is already
/// on its interface the way we add them (left behind by an instance that
/// crashed), so this node never answers for a VIP it does not own: IPv4
/// under an alias label with the configured mask, IPv6 with the
/// configured prefix and the no-DAD flag. Returns what it removed, for the
/// log. Addresses under the interface's own label, with another mask, or
/// IPv6 ones added with duplicate address detection are the operator's
/// and stay.
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
    fn labels_belong_to_their_interface_only() {
        assert!(label_of("eth0", "eth0"));
        assert!(label_of("eth0:3", "eth0"));
        assert!(!label_of("eth01", "eth0"));
        assert!(!label_of("eth1:0", "eth0"));
    }

    #[test]
    fn free_label_skips_taken_and_zero() {
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let taken = vec![
            ("eth0".to_string(), a),
            ("eth0:1".to_string(), a),
            ("eth0:3".to_string(), a),
        ];
        assert_eq!(free_label("eth0", &taken, a).unwrap(), "eth0:2");
        assert_eq!(free_label("eth0", &[], a).unwrap(), "eth0:1");
    }

    #[test]
    fn free_label_refuses_what_does_not_fit() {
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let err = free_label("abcdefghijklmn", &[], a).unwrap_err();
        assert!(
            matches!(err.reason, Reason::LabelTooLong { ref label } if label == "abcdefghijklmn:1")
        );
        assert!(free_label("abcdefghijklm", &[], a).is_ok());
    }
}
