//! The real address that identifies this node to its peers.
//!
//! The original resolved the host name, which on many distributions gives
//! a loopback address (127.0.1.1) on every node: the whole cluster then
//! shares one identity. We take, in order: the explicit setting (`Identity`
//! in the configuration or `--identity`), the host name's first IPv4
//! address that is not loopback, and the first address of the interface of
//! the first VIF.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};

use crate::config::Config;
use crate::net::iface;

/// Where the identity came from, for the start-up log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Source {
    Configured,
    /// Our own address in the Membership block's Nodes.
    Membership,
    HostName(String),
    Interface(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Configured => f.write_str("set in the configuration or on the command line"),
            Source::Membership => f.write_str("this node's address in Membership Nodes"),
            Source::HostName(name) => write!(f, "the address of host name {name}"),
            Source::Interface(name) => write!(f, "the first address of interface {name}"),
        }
    }
}

/// No address could serve as this node's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityError {
    interface: String,
    reason: String,
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot choose this node's identity: the host name has no non-loopback IPv4 \
             address and interface {} has no usable address ({}); set `Identity = A.B.C.D` \
             in the configuration or pass --identity",
            self.interface, self.reason
        )
    }
}

impl std::error::Error for IdentityError {}

/// Chooses this node's real address.
pub(super) fn choose(config: &Config) -> Result<(Ipv4Addr, Source), IdentityError> {
    if let Some(addr) = config.identity {
        return Ok((addr, Source::Configured));
    }
    if let Some(name) = host_name() {
        if let Some(addr) = resolve(&name) {
            return Ok((addr, Source::HostName(name)));
        }
    }
    let interface = config
        .vifs
        .first()
        .map(|vif| vif.primary().interface.clone())
        .unwrap_or_default();
    let vips: Vec<Ipv4Addr> = config
        .vifs
        .iter()
        .flat_map(|vif| vif.addresses.iter().filter_map(|a| a.ipv4()))
        .collect();
    match iface::list(&interface) {
        Ok(addresses) => addresses
            .into_iter()
            .map(|a| a.addr)
            .find(|addr| usable(*addr) && !vips.contains(addr))
            .map(|addr| (addr, Source::Interface(interface.clone())))
            .ok_or(IdentityError {
                interface,
                reason: "it has no IPv4 address of its own".to_string(),
            }),
        Err(err) => Err(IdentityError {
            interface,
            reason: err.to_string(),
        }),
    }
}

fn usable(addr: Ipv4Addr) -> bool {
    !addr.is_loopback() && !addr.is_unspecified()
}

fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length, and gethostname
    // writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..len]).into_owned();
    (!name.is_empty()).then_some(name)
}

fn resolve(name: &str) -> Option<Ipv4Addr> {
    (name, 0)
        .to_socket_addrs()
        .ok()?
        .filter_map(|sa| match sa {
            SocketAddr::V4(v4) => Some(*v4.ip()),
            SocketAddr::V6(_) => None,
        })
        .find(|addr| usable(*addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_identity_wins() {
        let config = Config {
            identity: Some(Ipv4Addr::new(192, 0, 2, 7)),
            ..Config::default()
        };
        assert_eq!(
            choose(&config),
            Ok((Ipv4Addr::new(192, 0, 2, 7), Source::Configured))
        );
    }

    #[test]
    fn loopback_names_never_become_identities() {
        assert_eq!(resolve("localhost"), None);
        assert!(!usable(Ipv4Addr::new(127, 0, 1, 1)));
    }
}
