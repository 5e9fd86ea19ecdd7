//! IPv4 VIP addresses through rtnetlink, under alias labels `IF:N` (what
//! `ip addr` shows as `eth0:1`, and what the original daemon's ioctls
//! made), each with the broadcast address of its subnet and, if asked, a
//! lifetime.
//!
//! Linux deletes the secondaries of a subnet when its primary goes, unless
//! `promote_secondaries` is set on the interface. We never change that
//! setting (it belongs to the operator); instead [`take_down`] compares the
//! interface's addresses before and after and puts back, at once, whatever
//! the kernel dropped besides the VIP. Setting
//! `net.ipv4.conf.IF.promote_secondaries = 1` is still worthwhile: it
//! avoids the short gap in which those addresses are missing, and the
//! kernel's own expiry of a primary VIP (see [`iface`](super::iface)
//! on lifetimes) drops its secondaries with nobody to put them back.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::addrmsg::{settable_flags, Change, KernelAddress, Lifetimes};
use super::error::{Action, Error, Reason, Result};
use super::ifaddr::{
    add_unless_present, delete, label_of, listed, Deletion, InterfaceAddress, Outcome,
};
use super::ifreq::IFNAMSIZ;

fn is_alias(address: &KernelAddress) -> bool {
    address.label.as_ref().is_some_and(|l| l.contains(':'))
}

fn v4(address: &KernelAddress) -> Ipv4Addr {
    match address.local {
        IpAddr::V4(a) => a,
        IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    }
}

/// Every IPv4 address of `interface`, in the kernel's order (primaries of
/// each subnet before their secondaries). An interface that does not exist
/// has none.
pub fn list(interface: &str) -> Result<Vec<InterfaceAddress>> {
    Ok(listed(interface, libc::AF_INET)?
        .iter()
        .map(|a| InterfaceAddress {
            label: label_of(a, interface),
            addr: v4(a),
            prefix_len: a.prefix_len,
            broadcast: a.broadcast.unwrap_or(Ipv4Addr::UNSPECIFIED),
            lifetime: a.lifetimes.map(|l| Duration::from_secs(l.valid.into())),
        })
        .collect())
}

/// The lowest free alias label `IF:N`, N >= 1 (`IF:0` is avoided, as the
/// original did: some tools read it as the interface itself).
pub(super) fn free_label(interface: &str, taken: &[String], addr: Ipv4Addr) -> Result<String> {
    let label = (1..)
        .map(|n| format!("{interface}:{n}"))
        .find(|l| !taken.contains(l))
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

/// Brings up `addr/prefix_len` on `interface` under the lowest free alias
/// label, for `lifetime` seconds or for good (see
/// [`iface::bring_up_for`](super::iface::bring_up_for)).
pub fn bring_up(
    interface: &str,
    addr: Ipv4Addr,
    prefix_len: u8,
    lifetime: Option<u32>,
) -> Result<Outcome> {
    let about = Some(IpAddr::from(addr));
    let added = add_unless_present(interface, addr.into(), lifetime, |index, present| {
        let taken: Vec<String> = present.iter().map(|a| label_of(a, interface)).collect();
        let label = free_label(interface, &taken, addr)?;
        Ok(KernelAddress::new(
            index,
            addr.into(),
            prefix_len,
            Some(label),
            lifetime.map(Lifetimes::both),
        ))
    })?;
    added.map_err(|e| Error::os(Action::AddAddress, interface, about, e))
}

/// Takes `addr` off `interface` (see [`iface::take_down`]), and puts back
/// what the kernel dropped with it.
///
/// [`iface::take_down`]: super::iface::take_down
pub fn take_down(interface: &str, addr: Ipv4Addr) -> Result<Outcome> {
    let action = Action::RemoveAddress;
    let about = Some(IpAddr::from(addr));
    let deletion = delete(interface, addr.into(), |target| {
        if is_alias(target) {
            return Ok(());
        }
        let label = label_of(target, interface);
        Err(Error::new(
            action,
            interface,
            about,
            Reason::NotAnAlias { label },
        ))
    })?;
    let Deletion::Deleted {
        mut nl,
        before,
        after,
        target,
    } = deletion
    else {
        return Ok(Outcome::AlreadyAbsent);
    };
    let restored = restore_dropped(&before, &after, addr, |lost| nl.change(Change::Add, lost))
        .map_err(|(lost, e)| Error::os(Action::RestoreAddress, interface, Some(lost.into()), e))?;
    if after.iter().any(|a| a.local == target.local) {
        return Err(Error::new(action, interface, about, Reason::StillPresent));
    }
    Ok(Outcome::Removed {
        label: label_of(&target, interface),
        restored,
    })
}

/// Re-adds, through `add`, every address of `before` (except `removed`)
/// missing from `after`, as it was: its label, mask, broadcast, scope,
/// metric, the no-prefix-route flag, and what was left of its lifetimes
/// (a valid one of at least a second, the least the kernel takes). One that cannot be put
/// back does not stop the others: the error names the first that stays
/// lost. An address someone else put back meanwhile counts as restored.
pub(super) fn restore_dropped(
    before: &[KernelAddress],
    after: &[KernelAddress],
    removed: Ipv4Addr,
    mut add: impl FnMut(&KernelAddress) -> io::Result<()>,
) -> std::result::Result<Vec<Ipv4Addr>, (Ipv4Addr, io::Error)> {
    let same =
        |a: &KernelAddress, b: &KernelAddress| a.local == b.local && a.prefix_len == b.prefix_len;
    let mut restored = Vec::new();
    let mut failure = None;
    for lost in before
        .iter()
        .filter(|b| b.local != IpAddr::V4(removed) && !after.iter().any(|a| same(a, b)))
    {
        let again = KernelAddress {
            flags: settable_flags(lost.local, lost.flags),
            lifetimes: lost.lifetimes.map(|l| Lifetimes {
                // Preferred for as long as it is valid stays so (VIPs).
                preferred: if l.preferred >= l.valid {
                    l.valid.max(1)
                } else {
                    l.preferred
                },
                valid: l.valid.max(1),
            }),
            created: 0,
            ..lost.clone()
        };
        match add(&again) {
            Ok(()) => restored.push(v4(lost)),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => restored.push(v4(lost)),
            Err(e) => {
                failure.get_or_insert((v4(lost), e));
            }
        }
    }
    failure.map_or(Ok(restored), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_label_skips_taken_and_zero() {
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let taken = ["eth0", "eth0:1", "eth0:3"].map(String::from);
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

    fn entry(last: u8, prefix_len: u8, label: &str, lifetimes: Option<Lifetimes>) -> KernelAddress {
        KernelAddress {
            flags: 0x01, // secondary
            created: 4711,
            ..KernelAddress::new(
                7,
                Ipv4Addr::new(10, 20, 0, last).into(),
                prefix_len,
                Some(label.into()),
                lifetimes,
            )
        }
    }

    #[test]
    fn what_the_kernel_dropped_comes_back_as_it_was() {
        let vip = entry(5, 24, "va:1", Some(Lifetimes::both(2)));
        let timed = entry(6, 24, "va:2", Some(Lifetimes::both(3)));
        let expiring = entry(7, 24, "va:3", Some(Lifetimes::both(0)));
        let operators = entry(9, 24, "va", None);
        let other_subnet = entry(8, 16, "va:4", None);
        let before = [
            vip,
            timed,
            expiring,
            operators.clone(),
            other_subnet.clone(),
        ];
        // The same address with another mask is not the one that was lost.
        let mut after = vec![other_subnet, entry(9, 25, "va", None)];
        after[0].flags = 0;
        let mut added = Vec::new();
        let restored = restore_dropped(&before, &after, Ipv4Addr::new(10, 20, 0, 5), |a| {
            added.push(a.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(
            restored,
            [6, 7, 9].map(|last| Ipv4Addr::new(10, 20, 0, last))
        );
        let summary: Vec<_> = added
            .iter()
            .map(|a| (a.label.as_deref().unwrap(), a.lifetimes, a.flags, a.created))
            .collect();
        assert_eq!(
            summary,
            [
                ("va:2", Some(Lifetimes::both(3)), 0, 0),
                // The kernel takes no valid lifetime below a second.
                ("va:3", Some(Lifetimes::both(1)), 0, 0),
                ("va", None, 0, 0),
            ]
        );
        assert_eq!(added[2].broadcast, operators.broadcast);
    }

    #[test]
    fn one_address_that_cannot_come_back_does_not_stop_the_others() {
        let before = [
            entry(5, 24, "va:1", None),
            entry(6, 24, "va:2", None),
            entry(7, 24, "va:3", None),
            entry(8, 24, "va:4", None),
        ];
        let mut tried = Vec::new();
        let (lost, err) = restore_dropped(&before, &[], Ipv4Addr::new(10, 20, 0, 5), |a| {
            tried.push(v4(a));
            match v4(a).octets()[3] {
                6 | 8 => Err(io::Error::from_raw_os_error(libc::ENOMEM)),
                7 => Err(io::Error::from_raw_os_error(libc::EEXIST)),
                _ => Ok(()),
            }
        })
        .unwrap_err();
        assert_eq!(tried, [6, 7, 8].map(|last| Ipv4Addr::new(10, 20, 0, last)));
        assert_eq!(lost, Ipv4Addr::new(10, 20, 0, 6));
        assert_eq!(err.raw_os_error(), Some(libc::ENOMEM));
    }
}
