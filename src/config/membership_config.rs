//! The built-in group service as the configuration chooses it: the
//! `Membership` block, the top-level `Quorum`, and how a node finds itself
//! among the listed nodes.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::base::membership_timing::Timing;

/// `Port` when the block names none.
pub const DEFAULT_MEMBERSHIP_PORT: u16 = 4810;
pub use crate::base::MAX_NODES;

/// Most links (addresses per node) `Nodes` may give a node.
pub const MAX_LINKS: usize = 4;

/// A `Membership` block: the cluster runs the built-in group service
/// instead of connecting to Spread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipConfig {
    /// Every node of the cluster, in the order every node lists them: 1 to
    /// [`MAX_NODES`] addresses, none twice.
    pub nodes: Vec<Ipv4Addr>,
    /// The links after the first (at most [`MAX_LINKS`] - 1): for each,
    /// every node's address on it, in the order of `nodes`. Empty when
    /// each node has one address. Every address is listed once.
    pub more_links: Vec<Vec<Ipv4Addr>>,
    /// The UDP port of every node.
    pub port: u16,
    /// The file whose whole content is the cluster's shared key; read and
    /// checked by [`super::load_key`].
    pub key: PathBuf,
    /// `AcceptKey`: the file of one more key whose datagrams are accepted
    /// (never sent under), for a key rotation; another path than `key`.
    pub accept_key: Option<PathBuf>,
    /// `Heartbeat` and `Timeout`, accepted together by
    /// [`Timing::new`].
    pub timing: Timing,
}

/// `Quorum`: how many members a view needs before this node holds any
/// address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quorum {
    /// `none`: every view qualifies.
    #[default]
    None,
    /// `majority`: more than half of the configured nodes.
    Majority,
    /// `N`: at least N members (N >= 1).
    Count(u32),
}

impl Quorum {
    /// The number of members a view needs when the cluster has
    /// `configured` nodes; 0 when there is no quorum.
    pub fn needed(self, configured: usize) -> usize {
        match self {
            Quorum::None => 0,
            Quorum::Majority => configured / 2 + 1,
            Quorum::Count(n) => usize::try_from(n).unwrap_or(usize::MAX),
        }
    }

    /// Whether a view of `members` has the quorum in a cluster of
    /// `configured` nodes.
    pub fn is_met(self, members: usize, configured: usize) -> bool {
        members >= self.needed(configured)
    }
}

/// As `Quorum` is written: `none`, `majority` or the number.
impl fmt::Display for Quorum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Quorum::None => f.write_str("none"),
            Quorum::Majority => f.write_str("majority"),
            Quorum::Count(n) => write!(f, "{n}"),
        }
    }
}

/// Why a node cannot tell which of the listed nodes it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnIndexError {
    /// `Identity` (or `-i`) names an address that `Nodes` does not list.
    IdentityNotListed {
        /// The address named.
        identity: Ipv4Addr,
        /// The listed nodes.
        nodes: Vec<Ipv4Addr>,
    },
    /// No listed address is configured on this host.
    NoneLocal {
        /// The listed nodes.
        nodes: Vec<Ipv4Addr>,
    },
    /// Several listed addresses are configured on this host.
    SeveralLocal {
        /// The listed addresses found here.
        found: Vec<Ipv4Addr>,
    },
    /// This node has another of its addresses here, but not its address
    /// on this link: it could not send or receive there.
    LinkNotLocal {
        /// The address missing from this host.
        address: Ipv4Addr,
        /// Its link, counted from 1.
        link: usize,
    },
}

fn spaced(addresses: &[Ipv4Addr]) -> String {
    let written: Vec<String> = addresses.iter().map(Ipv4Addr::to_string).collect();
    written.join(" ")
}

impl fmt::Display for OwnIndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OwnIndexError::IdentityNotListed { identity, nodes } => write!(
                f,
                "Identity {identity} is not listed in Membership Nodes ({}); list it there or set \
                 Identity to this node's address among them",
                spaced(nodes)
            ),
            OwnIndexError::NoneLocal { nodes } => write!(
                f,
                "this host has none of the addresses listed in Membership Nodes ({}); configure \
                 this node's address on an interface or set Identity to it",
                spaced(nodes)
            ),
            OwnIndexError::SeveralLocal { found } => write!(
                f,
                "this host has several of the addresses listed in Membership Nodes ({}); set \
                 Identity to the one that is this node",
                spaced(found)
            ),
            OwnIndexError::LinkNotLocal { address, link } => write!(
                f,
                "this host has none of the addresses listed in Membership Nodes for link {link}: \
                 this node's {address} is on no interface; configure it or list the link's \
                 address of this host"
            ),
        }
    }
}

impl std::error::Error for OwnIndexError {}

/// The index in `nodes` of this node: the one `identity` names when it is
/// set (its address on any link), otherwise the only node with an address
/// among `local_addresses`, which must then have its address on every
/// link (`more_links`, as in [`MembershipConfig`]) there.
pub fn own_index(
    nodes: &[Ipv4Addr],
    more_links: &[Vec<Ipv4Addr>],
    identity: Option<Ipv4Addr>,
    local_addresses: &[Ipv4Addr],
) -> Result<usize, OwnIndexError> {
    let links = || std::iter::once(nodes).chain(more_links.iter().map(Vec::as_slice));
    let on_any_link = |i: usize, wanted: &dyn Fn(Ipv4Addr) -> bool| {
        links().any(|link| link.get(i).is_some_and(|&a| wanted(a)))
    };
    if let Some(identity) = identity {
        return (0..nodes.len())
            .find(|&i| on_any_link(i, &|a| a == identity))
            .ok_or_else(|| OwnIndexError::IdentityNotListed {
                identity,
                nodes: nodes.to_vec(),
            });
    }
    let local: Vec<usize> = (0..nodes.len())
        .filter(|&i| on_any_link(i, &|a| local_addresses.contains(&a)))
        .collect();
    match local.as_slice() {
        [index] => {
            for (k, link) in links().enumerate() {
                if let Some(&address) = link.get(*index) {
                    if !local_addresses.contains(&address) {
                        return Err(OwnIndexError::LinkNotLocal {
                            address,
                            link: k + 1,
                        });
                    }
                }
            }
            Ok(*index)
        }
        [] => Err(OwnIndexError::NoneLocal {
            nodes: nodes.to_vec(),
        }),
        several => Err(OwnIndexError::SeveralLocal {
            found: several.iter().map(|&i| nodes[i]).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, last)
    }

    #[test]
    fn identity_picks_its_node_wherever_it_is_configured() {
        let nodes = [addr(1), addr(2), addr(3)];
        assert_eq!(own_index(&nodes, &[], Some(addr(3)), &[]), Ok(2));
        // Identity wins over the host's addresses, even several listed ones.
        assert_eq!(
            own_index(&nodes, &[], Some(addr(2)), &[addr(1), addr(3)]),
            Ok(1)
        );
        let err = own_index(&nodes, &[], Some(addr(9)), &[addr(1)]).unwrap_err();
        assert_eq!(
            err,
            OwnIndexError::IdentityNotListed {
                identity: addr(9),
                nodes: nodes.to_vec()
            }
        );
        assert!(err.to_string().starts_with(
            "Identity 10.0.0.9 is not listed in Membership Nodes (10.0.0.1 10.0.0.2 10.0.0.3)"
        ));
    }

    #[test]
    fn without_identity_exactly_one_local_address_must_be_listed() {
        let nodes = [addr(1), addr(2), addr(3)];
        let host = [Ipv4Addr::LOCALHOST, Ipv4Addr::new(192, 0, 2, 1), addr(2)];
        assert_eq!(own_index(&nodes, &[], None, &host), Ok(1));
        let none = own_index(&nodes, &[], None, &host[..2]).unwrap_err();
        assert_eq!(
            none.to_string().split(';').next(),
            Some(
                "this host has none of the addresses listed in Membership Nodes \
                 (10.0.0.1 10.0.0.2 10.0.0.3)"
            )
        );
        let several = own_index(&nodes, &[], None, &[addr(3), addr(1)]).unwrap_err();
        assert_eq!(
            several,
            OwnIndexError::SeveralLocal {
                found: vec![addr(1), addr(3)]
            }
        );
        let message = several.to_string();
        assert!(
            message.contains("(10.0.0.1 10.0.0.3)") && message.contains("set Identity"),
            "{message}"
        );
    }

    #[test]
    fn a_one_node_cluster_finds_itself() {
        assert_eq!(own_index(&[addr(7)], &[], None, &[addr(7)]), Ok(0));
    }

    #[test]
    fn a_node_of_several_links_is_found_by_any_and_needs_all_here() {
        let nodes = [addr(1), addr(2)];
        let second = [vec![Ipv4Addr::new(10, 1, 0, 1), Ipv4Addr::new(10, 1, 0, 2)]];
        let both = [addr(2), Ipv4Addr::new(10, 1, 0, 2)];
        assert_eq!(own_index(&nodes, &second, None, &both), Ok(1));
        assert_eq!(
            own_index(&nodes, &second, Some(Ipv4Addr::new(10, 1, 0, 2)), &[]),
            Ok(1)
        );
        let missing = own_index(&nodes, &second, None, &[Ipv4Addr::new(10, 1, 0, 1)]);
        assert_eq!(
            missing,
            Err(OwnIndexError::LinkNotLocal {
                address: addr(1),
                link: 1
            })
        );
        let message = missing.unwrap_err().to_string();
        assert!(
            message.contains("link 1") && message.contains("10.0.0.1"),
            "{message}"
        );
    }

    #[test]
    fn quorum_counts() {
        assert_eq!(Quorum::default(), Quorum::None);
        assert_eq!(Quorum::None.needed(3), 0);
        assert!(Quorum::None.is_met(1, 3));
        for (configured, majority) in [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (32, 17)] {
            assert_eq!(
                Quorum::Majority.needed(configured),
                majority,
                "{configured}"
            );
        }
        assert!(!Quorum::Majority.is_met(1, 3));
        assert!(Quorum::Majority.is_met(2, 3));
        assert!(!Quorum::Majority.is_met(2, 4));
        assert_eq!(Quorum::Count(2).needed(5), 2);
        assert!(Quorum::Count(2).is_met(2, 5));
        assert!(!Quorum::Count(2).is_met(1, 5));
    }

    #[test]
    fn quorum_displays_as_written() {
        assert_eq!(Quorum::None.to_string(), "none");
        assert_eq!(Quorum::Majority.to_string(), "majority");
        assert_eq!(Quorum::Count(3).to_string(), "3");
    }
}
