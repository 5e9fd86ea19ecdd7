//! Errors and warnings of configuration loading, each tied to the place in
//! the file that caused it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use crate::base::membership_timing::TimingError;

/// A place in a configuration file: 1-based line and column (columns count
/// characters, a tab counts as one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl Position {
    /// The position at `line`, `column`.
    pub fn new(line: usize, column: usize) -> Self {
        Position { line, column }
    }

    /// The position `chars` characters further on the same line.
    pub fn advanced(self, chars: usize) -> Self {
        Position::new(self.line, self.column + chars)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// What went wrong.
#[derive(Debug)]
pub enum ErrorKind {
    /// The file could not be read.
    Read(std::io::Error),
    /// The token at the position does not fit the grammar.
    Syntax {
        /// The token as written.
        found: String,
        /// What the grammar allows there.
        expected: String,
    },
    /// The token fits the grammar but its value is not acceptable.
    BadValue {
        /// The value as written.
        found: String,
        /// What is acceptable there.
        expected: String,
    },
    /// A directive of the original that loaded code (shared objects or
    /// embedded Perl), which a static binary cannot do.
    Unsupported {
        /// The directive as written.
        directive: String,
        /// What to use instead.
        instead: String,
    },
    /// An interface name longer than Linux allows.
    InterfaceNameTooLong {
        /// The name as written.
        name: String,
    },
    /// The same address appears in two VIFs, or twice in one.
    DuplicateVifAddress {
        /// The repeated address.
        address: IpAddr,
        /// Where it first appears.
        first: Position,
    },
    /// Two VIFs that would travel under the same four-byte key (a hash
    /// of an IPv6 primary meeting another VIF's key).
    WireKeyClash {
        /// The address whose key clashes.
        address: IpAddr,
        /// Where the other VIF is.
        first: Position,
    },
    /// The file lists no VIF at all.
    NoVirtualInterfaces,
    /// Both a `Spread` directive and a `Membership` block: the file must
    /// choose one group service.
    SpreadAndMembership {
        /// Where the `Spread` directive is.
        spread: Position,
        /// Where the `Membership` block starts.
        membership: Position,
    },
    /// A second `Membership` block.
    RepeatedMembership {
        /// Where the first block starts.
        first: Position,
    },
    /// The same address listed twice in `Nodes`.
    DuplicateNode {
        /// The repeated address.
        address: Ipv4Addr,
        /// Where it is first listed.
        first: Position,
    },
    /// One node more than the membership can tell apart.
    TooManyNodes {
        /// The first node past the limit.
        address: Ipv4Addr,
    },
    /// A node written with more addresses than the membership has links.
    TooManyLinks {
        /// The first address past the limit.
        address: Ipv4Addr,
    },
    /// A node written with another number of links than the first node.
    MixedLinks {
        /// The node's first address.
        node: Ipv4Addr,
        /// Its number of addresses.
        links: usize,
        /// The first node's number of addresses.
        expected: usize,
        /// Where the first node is written.
        first: Position,
    },
    /// `Heartbeat` and `Timeout` that the built-in membership refuses.
    MembershipTiming(TimingError),
    /// A `Quorum` count above the number of listed nodes: never reached.
    QuorumAboveNodes {
        /// The configured count.
        quorum: u32,
        /// Nodes listed.
        nodes: usize,
    },
    /// `Quorum = majority` with Spread: no node list to take half of.
    MajorityWithoutNodes,
    /// A quorum with the built-in membership at fewer heartbeats per
    /// time-out than its quorum lease needs.
    QuorumWithFewHeartbeats {
        /// Heartbeats per time-out, rounded down.
        per_timeout: u32,
    },
}

/// Heartbeats per time-out the quorum lease needs: an echo of our
/// heartbeat comes back at most two heartbeats old, and the lease lasts
/// half a time-out.
pub(super) const MIN_HEARTBEATS_FOR_QUORUM: u32 = 5;

/// A configuration that cannot be used, with where and why.
#[derive(Debug)]
pub struct Error {
    /// The file as named by the caller.
    pub file: String,
    /// Absent only for [`ErrorKind::Read`].
    pub position: Option<Position>,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl Error {
    pub(crate) fn at(file: &str, position: Position, kind: ErrorKind) -> Self {
        Error {
            file: file.to_string(),
            position: Some(position),
            kind,
        }
    }

    /// The line of the error, if it has a position.
    pub fn line(&self) -> Option<usize> {
        self.position.map(|p| p.line)
    }

    /// The column of the error, if it has a position.
    pub fn column(&self) -> Option<usize> {
        self.position.map(|p| p.column)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(position) => write!(f, "{}:{}: ", self.file, position)?,
            None => write!(f, "{}: ", self.file)?,
        }
        match &self.kind {
            ErrorKind::Read(err) => write!(f, "cannot read the configuration: {err}"),
            ErrorKind::Syntax { found, expected } | ErrorKind::BadValue { found, expected } => {
                write!(f, "found {found}, expected {expected}")
            }
            ErrorKind::Unsupported { directive, instead } => write!(
                f,
                "found `{directive}`, which loaded code into the original daemon and is not \
                 supported; expected {instead} (runs COMMAND through /bin/sh)"
            ),
            ErrorKind::InterfaceNameTooLong { name } => write!(
                f,
                "found interface name `{name}` ({} bytes), expected at most {} bytes",
                name.len(),
                super::MAX_INTERFACE_NAME
            ),
            ErrorKind::DuplicateVifAddress { address, first } => write!(
                f,
                "found {address} again, expected each VIF address only once (first listed at \
                 line {}, column {})",
                first.line, first.column
            ),
            ErrorKind::WireKeyClash { address, first } => write!(
                f,
                "found VIF {address}, whose key between nodes equals that of the VIF at line {}, \
                 column {}; expected VIFs that can be told apart (write another of its addresses \
                 first)",
                first.line, first.column
            ),
            ErrorKind::NoVirtualInterfaces => write!(
                f,
                "found no VIF, expected a VirtualInterfaces block with at least one address"
            ),
            ErrorKind::SpreadAndMembership { spread, membership } => write!(
                f,
                "found both Spread (line {}, column {}) and a Membership block (line {}, column \
                 {}), expected one group service: remove Spread to use the built-in membership, \
                 or the Membership block to use Spread",
                spread.line, spread.column, membership.line, membership.column
            ),
            ErrorKind::RepeatedMembership { first } => write!(
                f,
                "found a second Membership block, expected only one (the first opens at line {}, \
                 column {})",
                first.line, first.column
            ),
            ErrorKind::DuplicateNode { address, first } => write!(
                f,
                "found node {address} again, expected each node listed once (first listed at \
                 line {}, column {})",
                first.line, first.column
            ),
            ErrorKind::TooManyNodes { address } => write!(
                f,
                "found node {address}, number {}, expected at most {} nodes in Membership Nodes",
                super::MAX_NODES + 1,
                super::MAX_NODES
            ),
            ErrorKind::TooManyLinks { address } => write!(
                f,
                "found {address}, a node's address number {}, expected at most {} addresses per \
                 node (one per link)",
                super::MAX_LINKS + 1,
                super::MAX_LINKS
            ),
            ErrorKind::MixedLinks {
                node,
                links,
                expected,
                first,
            } => write!(
                f,
                "found node {node} with {links} address(es), expected {expected} like the first \
                 node (line {}, column {}): every node has one address on each link",
                first.line, first.column
            ),
            ErrorKind::MembershipTiming(error) => write!(
                f,
                "found a Heartbeat and Timeout the built-in membership refuses: {error}"
            ),
            ErrorKind::QuorumAboveNodes { quorum, nodes } => write!(
                f,
                "found Quorum {quorum}, expected at most the {nodes} nodes listed in Membership \
                 Nodes (a larger quorum is never reached)"
            ),
            ErrorKind::QuorumWithFewHeartbeats { per_timeout } => write!(
                f,
                "found a Quorum with a Membership Timeout of {per_timeout} heartbeats, expected at \
                 least {MIN_HEARTBEATS_FOR_QUORUM}: a node keeps its addresses only while a quorum \
                 echoes its heartbeats within half a time-out, which needs that many"
            ),
            ErrorKind::MajorityWithoutNodes => f.write_str(
                "found Quorum majority with Spread, expected a number of members: majority counts \
                 the nodes a Membership block lists, and Spread's groups have no such list",
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Read(err) => Some(err),
            _ => None,
        }
    }
}

/// Something accepted but worth telling the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarningKind {
    /// `ModuleDir` only mattered for `RunDynamic`.
    ModuleDirIgnored,
    /// A `Prefer` block that contains no VIF's primary address.
    PreferMatchesNoVif {
        /// The block as written.
        block: String,
    },
    /// `nNET` written where only the address and prefix matter.
    NetworkLengthIgnored {
        /// The directive it was written in.
        directive: &'static str,
    },
}

/// A warning: the configuration loads, the caller logs these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file as named by the caller.
    pub file: String,
    /// Where the warning points.
    pub position: Position,
    /// What it is about.
    pub kind: WarningKind,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: warning: ", self.file, self.position)?;
        match &self.kind {
            WarningKind::ModuleDirIgnored => write!(
                f,
                "ModuleDir is ignored: there are no modules to load (use `Run \"COMMAND\" EVENT`)"
            ),
            WarningKind::PreferMatchesNoVif { block } => write!(
                f,
                "Prefer {block} matches no VIF's primary address, so it prefers nothing here"
            ),
            WarningKind::NetworkLengthIgnored { directive } => {
                write!(
                    f,
                    "the nNET suffix has no meaning in {directive} and is ignored"
                )
            }
        }
    }
}
