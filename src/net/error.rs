//! The one error type of the networking layer. Its `Display` says what we
//! were doing, on which interface and address, and why the kernel (or our
//! own checks) refused, so the daemon can log it as one actionable line.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::time::Duration;

/// What the networking layer was doing when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Putting an address on an interface.
    AddAddress,
    /// Taking an address off an interface.
    RemoveAddress,
    /// Putting back an address the kernel dropped together with ours.
    RestoreAddress,
    /// Giving an address its lifetime again.
    RenewAddress,
    /// Listing an interface's addresses.
    ListAddresses,
    /// Opening a packet socket to send ARP or neighbour advertisements.
    OpenPacketSocket,
    /// Sending one of those frames.
    SendFrame,
    /// Reading the kernel's ARP table.
    ReadArpTable,
}

impl Action {
    fn describe(self) -> &'static str {
        match self {
            Action::AddAddress => "cannot add",
            Action::RemoveAddress => "cannot remove",
            Action::RestoreAddress => "cannot restore",
            Action::RenewAddress => "cannot renew",
            Action::ListAddresses => "cannot list addresses",
            Action::OpenPacketSocket => "cannot open a packet socket",
            Action::SendFrame => "cannot send a frame",
            Action::ReadArpTable => "cannot read the ARP table /proc/thread-self/net/arp",
        }
    }
}

/// Why it failed.
#[derive(Debug)]
pub enum Reason {
    /// The kernel refused; the OS error says why.
    Os(io::Error),
    /// The interface name is empty, longer than 15 bytes or holds a `:`.
    BadInterfaceName,
    /// The interface exists but is not up: a VIP there would reach nobody.
    InterfaceDown,
    /// The alias label `IF:N` for the next free N does not fit in 15 bytes.
    LabelTooLong {
        /// The label it would take.
        label: String,
    },
    /// The address carries the interface's own label; the alias ioctls can
    /// only remove it by taking the whole interface down, which we never do.
    NotAnAlias {
        /// The interface's own label.
        label: String,
    },
    /// The kernel accepted the removal but the address is still there.
    StillPresent,
    /// IPv6 is switched off on the interface (`disable_ipv6`).
    Ipv6Disabled,
    /// An address lifetime the kernel cannot take: zero, or 2^32 - 1
    /// seconds and more (which it reads as forever).
    BadLifetime {
        /// The lifetime asked for.
        lifetime: Duration,
    },
}

/// A failure of the networking layer.
#[derive(Debug)]
pub struct Error {
    /// What was being done.
    pub action: Action,
    /// The interface involved; empty when none is (reading the ARP table).
    pub interface: String,
    /// The address involved, if any.
    pub address: Option<IpAddr>,
    /// Why it failed.
    pub reason: Reason,
}

impl Error {
    /// An error of `action` on `interface` (and `address`) for `reason`.
    pub fn new(action: Action, interface: &str, address: Option<IpAddr>, reason: Reason) -> Self {
        Error {
            action,
            interface: interface.to_string(),
            address,
            reason,
        }
    }

    /// An error carrying the OS error of the last failed system call.
    pub fn last_os(action: Action, interface: &str, address: Option<IpAddr>) -> Self {
        Error::os(action, interface, address, io::Error::last_os_error())
    }

    /// An error of `action` on `interface` (and `address`) the kernel refused with `err`.
    pub fn os(action: Action, interface: &str, address: Option<IpAddr>, err: io::Error) -> Self {
        Error::new(action, interface, address, Reason::Os(err))
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Os(err) => match err.raw_os_error() {
                Some(libc::ENODEV) | Some(libc::ENXIO) => write!(f, "no such interface ({err})"),
                Some(libc::ENETDOWN) => write!(f, "interface is down ({err})"),
                Some(libc::EPERM) | Some(libc::EACCES) => {
                    write!(
                        f,
                        "permission denied, CAP_NET_ADMIN/CAP_NET_RAW needed ({err})"
                    )
                }
                _ => write!(f, "{err}"),
            },
            Reason::BadInterfaceName => {
                f.write_str("invalid interface name (1 to 15 bytes, no ':')")
            }
            Reason::InterfaceDown => f.write_str("interface is down"),
            Reason::LabelTooLong { label } => write!(
                f,
                "alias label {label:?} would be {} bytes, longer than the 15 Linux allows",
                label.len()
            ),
            Reason::NotAnAlias { label } => write!(
                f,
                "it carries the interface's own label {label:?}, not an alias label; \
                 remove it by hand"
            ),
            Reason::StillPresent => f.write_str("the kernel still lists it after removal"),
            Reason::Ipv6Disabled => {
                f.write_str("IPv6 is disabled on the interface (net.ipv6.conf.IF.disable_ipv6 = 1)")
            }
            Reason::BadLifetime { lifetime } if lifetime.is_zero() => {
                write!(f, "a lifetime must be at least 1s, not {lifetime:?}")
            }
            Reason::BadLifetime { lifetime } => write!(
                f,
                "a lifetime of {lifetime:?} is longer than the kernel counts ({}s at most)",
                u32::MAX - 1
            ),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.action.describe())?;
        if let Some(address) = self.address {
            write!(f, " {address}")?;
        }
        if !self.interface.is_empty() {
            write!(f, " on {}", self.interface)?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.reason {
            Reason::Os(err) => Some(err),
            _ => None,
        }
    }
}

/// The networking layer's result.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_interface_address_and_kernel_reason() {
        let err = Error::os(
            Action::AddAddress,
            "eth7",
            Some(std::net::Ipv4Addr::new(10, 0, 0, 5).into()),
            io::Error::from_raw_os_error(libc::ENODEV),
        );
        let text = err.to_string();
        assert!(
            text.starts_with("cannot add 10.0.0.5 on eth7: no such interface"),
            "{text}"
        );
    }

    #[test]
    fn display_without_interface_reads_cleanly() {
        let err = Error::os(
            Action::ReadArpTable,
            "",
            None,
            io::Error::from_raw_os_error(libc::ENOENT),
        );
        let text = err.to_string();
        assert!(
            text.starts_with("cannot read the ARP table /proc/thread-self/net/arp: "),
            "{text}"
        );
    }
}
