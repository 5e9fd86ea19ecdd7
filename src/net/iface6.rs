//! IPv6 VIP addresses on interfaces, through rtnetlink ([`netlink`]) with
//! `IFA_F_NODAD`: an address we add is usable at once, never "tentative".
//! IPv6 has no alias labels and no primaries whose removal takes others
//! along: removing one address removes exactly that one.
//!
//! The addresses of an interface are read from
//! `/proc/thread-self/net/if_inet6` (the namespace of the calling thread).
//! Our own addresses are the ones carrying the no-DAD flag: an operator's
//! `ip addr add` leaves it clear, which is how start-up cleanup tells a
//! crashed instance's leftovers from the operator's addresses.
//!
//! [`netlink`]: super::netlink

use std::net::{IpAddr, Ipv6Addr};

use super::error::{Action, Error, Reason, Result};
use super::iface::{check_interface_name, Outcome};
use super::ifreq;
use super::netlink::{Change, Netlink, IFA_F_NODAD};

const IF_INET6: &str = "/proc/thread-self/net/if_inet6";
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
    /// The kernel's `IFA_F_*` flags (as far as if_inet6 shows them).
    pub flags: u32,
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

/// Parses the text of if_inet6: per line the address in 32 hex digits,
/// the interface index, prefix length, scope and flags in hex, then the
/// interface name. Lines that do not fit are skipped.
pub fn parse_if_inet6(text: &str) -> Vec<Ipv6InterfaceAddress> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [addr, _index, prefix, _scope, flags, name] = fields[..] else {
                return None;
            };
            if addr.len() != 32 {
                return None;
            }
            let addr = u128::from_str_radix(addr, 16).ok()?;
            Some(Ipv6InterfaceAddress {
                interface: name.to_string(),
                addr: Ipv6Addr::from(addr),
                prefix_len: u8::from_str_radix(prefix, 16).ok()?,
                flags: u32::from_str_radix(flags, 16).ok()?,
            })
        })
        .collect()
}

/// Every IPv6 address of `interface` (none when IPv6 is off or the
/// interface does not exist).
pub fn list(interface: &str) -> Result<Vec<Ipv6InterfaceAddress>> {
    check_interface_name(interface, Action::ListAddresses, None)?;
    let text = match std::fs::read_to_string(IF_INET6) {
        Ok(text) => text,
        // No IPv6 in this kernel or namespace: no addresses.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::os(Action::ListAddresses, interface, None, e)),
    };
    Ok(parse_if_inet6(&text)
        .into_iter()
        .filter(|a| a.interface == interface)
        .collect())
}

fn netlink(action: Action, interface: &str, addr: Ipv6Addr) -> Result<Netlink> {
    Netlink::open().map_err(|e| Error::os(action, interface, Some(addr.into()), e))
}

/// Brings up `addr/prefix_len` on `interface`, without duplicate address
/// detection. Already there (with any prefix): success, nothing done. The
/// interface must exist and be up; we never change the interface itself.
pub fn bring_up(interface: &str, addr: Ipv6Addr, prefix_len: u8) -> Result<Outcome> {
    let action = Action::AddAddress;
    let about = Some(IpAddr::from(addr));
    check_interface_name(interface, action, about)?;
    let sock = ifreq::control_socket().map_err(|e| Error::os(action, interface, about, e))?;
    let device =
        ifreq::flags(&sock, interface).map_err(|e| Error::os(action, interface, about, e))?;
    if device & libc::IFF_UP as libc::c_short == 0 {
        return Err(Error::new(action, interface, about, Reason::InterfaceDown));
    }
    if list(interface)?.iter().any(|a| a.addr == addr) {
        return Ok(Outcome::AlreadyPresent {
            label: interface.to_string(),
        });
    }
    let index =
        ifreq::index(&sock, interface).map_err(|e| Error::os(action, interface, about, e))?;
    let added = netlink(action, interface, addr)?.change_address(
        Change::Add,
        index as u32,
        addr,
        prefix_len,
    );
    match added {
        Ok(()) => Ok(Outcome::Added {
            label: interface.to_string(),
        }),
        // Added by someone else between the listing and now.
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(Outcome::AlreadyPresent {
            label: interface.to_string(),
        }),
        // The kernel's answer when IPv6 is off on the interface, which
        // would otherwise read as a missing capability.
        Err(e) if e.raw_os_error() == Some(libc::EACCES) && ipv6_disabled(interface) => {
            Err(Error::new(action, interface, about, Reason::Ipv6Disabled))
        }
        Err(e) => Err(Error::os(action, interface, about, e)),
    }
}

fn ipv6_disabled(interface: &str) -> bool {
    let path = format!("/proc/sys/net/ipv6/conf/{interface}/disable_ipv6");
    std::fs::read_to_string(path).is_ok_and(|v| v.trim() == "1")
}

/// Takes `addr` off `interface`, whatever its prefix, and nothing else:
/// absent is success.
pub fn take_down(interface: &str, addr: Ipv6Addr) -> Result<Outcome> {
    let action = Action::RemoveAddress;
    let about = Some(IpAddr::from(addr));
    check_interface_name(interface, action, about)?;
    let Some(present) = list(interface)?.into_iter().find(|a| a.addr == addr) else {
        return Ok(Outcome::AlreadyAbsent);
    };
    let sock = ifreq::control_socket().map_err(|e| Error::os(action, interface, about, e))?;
    let index = match ifreq::index(&sock, interface) {
        Ok(index) => index,
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => return Ok(Outcome::AlreadyAbsent),
        Err(e) => return Err(Error::os(action, interface, about, e)),
    };
    let removed = netlink(action, interface, addr)?.change_address(
        Change::Delete,
        index as u32,
        addr,
        present.prefix_len,
    );
    match removed {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {
            return Ok(Outcome::AlreadyAbsent)
        }
        Err(e) => return Err(Error::os(action, interface, about, e)),
    }
    if list(interface)?.iter().any(|a| a.addr == addr) {
        return Err(Error::new(action, interface, about, Reason::StillPresent));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_inet6_lines_are_read() {
        let text = "00000000000000000000000000000001 01 80 10 80       lo\n\
                    20010db8000000000000000000000010 04 40 00 c2     eth0\n\
                    fe8000000000000000fc00fffe000001 04 40 20 80 br-lan.10\n\
                    garbage\n";
        let all = parse_if_inet6(text);
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].addr, Ipv6Addr::LOCALHOST);
        assert_eq!(all[0].prefix_len, 128);
        let vip = &all[1];
        assert_eq!(vip.interface, "eth0");
        assert_eq!(vip.addr, "2001:db8::10".parse::<Ipv6Addr>().unwrap());
        assert_eq!(vip.prefix_len, 64);
        assert!(vip.is_nodad() && vip.is_tentative());
        assert_eq!(all[2].interface, "br-lan.10");
        assert!(!all[2].is_nodad() && !all[2].is_tentative());
    }
}
