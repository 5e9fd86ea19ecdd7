//! The `Membership` block (the built-in group service) and the top-level
//! `Quorum` directive.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use super::{bad_value, syntax, Located, Parser};
use crate::base::membership_timing::{Timing, TimingError, DEFAULT_HEARTBEAT, DEFAULT_TIMEOUT};
use crate::config::address::{parse_address, WrittenAddress};
use crate::config::error::{ErrorKind, Position};
use crate::config::keywords::{MembershipParameter, MEMBERSHIP_PARAMETERS};
use crate::config::values::{self, INTERVAL_EXPECTED};
use crate::config::{MembershipConfig, Quorum, DEFAULT_MEMBERSHIP_PORT, MAX_LINKS, MAX_NODES};

const PARAMETER: &str =
    "Nodes, Port, Key, AcceptKey, Heartbeat, Timeout or PortUnreachable inside Membership";
const SWITCH_EXPECTED: &str = "on or off";
const NODE_EXPECTED: &str = "a node address A.B.C.D, or one per link as A.B.C.D/A.B.C.D (at most \
     4; no interface, no /BITS, no :PORT: the port is Membership's Port)";
const PORT_EXPECTED: &str = "a UDP port of 1 to 65535";
const KEY_EXPECTED: &str = "the absolute path of the key file (as in /etc/wackamole/cluster.key)";
const ACCEPT_KEY_EXPECTED: &str =
    "the absolute path of the other key of a rotation, another file than Key's";
const QUORUM_EXPECTED: &str = "majority, none or a number of members of at least 1";

/// What a `Membership` block said so far, with where the values were
/// written.
#[derive(Default)]
struct Block {
    /// Each node's addresses, one per link, and where the node is written.
    nodes: Vec<(Vec<Ipv4Addr>, Position)>,
    /// Every address listed so far, with where it is written.
    addresses: Vec<(Ipv4Addr, Position)>,
    port: Option<u16>,
    key: Option<PathBuf>,
    accept_key: Option<(PathBuf, Position)>,
    heartbeat: Option<(Duration, Position)>,
    timeout: Option<(Duration, Position)>,
    port_unreachable: Option<bool>,
}

impl Parser<'_> {
    /// `Membership { ... }`, its keyword at `at`.
    pub(super) fn membership(&mut self, at: Position) -> Located<()> {
        if let Some(first) = self.spans.membership {
            return Err((at, ErrorKind::RepeatedMembership { first }));
        }
        self.spans.membership = Some(at);
        let open = self.open_brace("Membership")?;
        let mut block = Block::default();
        self.braced(open, PARAMETER, None, |p| {
            p.membership_parameter(&mut block)
        })?;
        let close = self.tokens[self.next - 1].position;
        if block.nodes.is_empty() {
            return Err(syntax(
                close,
                "`}`".to_string(),
                "Nodes { A.B.C.D ... } inside Membership",
            ));
        }
        let Some(key) = block.key.take() else {
            return Err(syntax(
                close,
                "`}`".to_string(),
                "Key = PATH inside Membership",
            ));
        };
        if let Some((path, at)) = &block.accept_key {
            if *path == key {
                return Err(bad_value(
                    *at,
                    format!("path \"{}\", the file Key names", path.display()),
                    ACCEPT_KEY_EXPECTED,
                ));
            }
        }
        let mut settings = timing(&block, close)?;
        settings.port_unreachable = block.port_unreachable.unwrap_or(true);
        let links = block.nodes[0].0.len();
        self.membership = Some(MembershipConfig {
            nodes: block.nodes.iter().map(|(addrs, _)| addrs[0]).collect(),
            more_links: (1..links)
                .map(|k| block.nodes.iter().map(|(addrs, _)| addrs[k]).collect())
                .collect(),
            port: block.port.unwrap_or(DEFAULT_MEMBERSHIP_PORT),
            key,
            accept_key: block.accept_key.map(|(path, _)| path),
            timing: settings,
        });
        Ok(())
    }

    fn membership_parameter(&mut self, block: &mut Block) -> Located<()> {
        let (parameter, _) = self.keyword(MEMBERSHIP_PARAMETERS, PARAMETER)?;
        match parameter {
            MembershipParameter::Nodes => self.nodes(block)?,
            MembershipParameter::Port => {
                self.expect_equals("Port")?;
                let (text, at) = self.word(PORT_EXPECTED)?;
                let port = values::parse_number(text)
                    .and_then(|n| u16::try_from(n).ok())
                    .filter(|&n| n != 0)
                    .ok_or_else(|| bad_value(at, format!("`{text}`"), PORT_EXPECTED))?;
                block.port = Some(port);
            }
            MembershipParameter::Key => {
                block.key = Some(self.key_path("Key", KEY_EXPECTED)?.0);
            }
            MembershipParameter::AcceptKey => {
                block.accept_key = Some(self.key_path("AcceptKey", ACCEPT_KEY_EXPECTED)?);
            }
            MembershipParameter::Heartbeat => {
                block.heartbeat = Some(self.timing_interval("Heartbeat")?)
            }
            MembershipParameter::Timeout => block.timeout = Some(self.timing_interval("Timeout")?),
            MembershipParameter::PortUnreachable => {
                self.expect_equals("PortUnreachable")?;
                let (word, at) = self.word(SWITCH_EXPECTED)?;
                block.port_unreachable = Some(match word.to_ascii_lowercase().as_str() {
                    "on" | "yes" => true,
                    "off" | "no" => false,
                    _ => return Err(bad_value(at, format!("`{word}`"), SWITCH_EXPECTED)),
                });
            }
        }
        Ok(())
    }

    /// `= PATH` of a key file, absolute: the daemon runs from `/`, where a
    /// relative path would name another file than under `-t`.
    fn key_path(&mut self, name: &str, expected: &'static str) -> Located<(PathBuf, Position)> {
        self.expect_equals(name)?;
        let (path, at) = self.string(expected)?;
        if !path.starts_with('/') {
            return Err(bad_value(at, format!("path \"{path}\""), expected));
        }
        Ok((PathBuf::from(path), at))
    }

    fn timing_interval(&mut self, name: &str) -> Located<(Duration, Position)> {
        self.expect_equals(name)?;
        let (text, at) = self.word(INTERVAL_EXPECTED)?;
        let interval = values::parse_interval(text)
            .map_err(|expected| bad_value(at, format!("`{text}`"), expected))?;
        Ok((interval, at))
    }

    /// `Nodes { A.B.C.D ... }`, each node written as its addresses on
    /// every link, `/` between them; a second `Nodes` adds to the list.
    fn nodes(&mut self, block: &mut Block) -> Located<()> {
        let open = self.open_brace("Nodes")?;
        self.braced(
            open,
            "a node address",
            Some("at least one node address A.B.C.D inside Nodes"),
            |p| {
                let (text, at) = p.word(NODE_EXPECTED)?;
                let mut addrs = Vec::new();
                let mut offset = 0;
                for part in text.split('/') {
                    let part_at = at.advanced(offset);
                    offset += part.chars().count() + 1;
                    // `A.B.C.D/24` is a prefix, not a second link.
                    let prefix =
                        offset > part.len() + 1 && part.bytes().all(|b| b.is_ascii_digit());
                    if part.is_empty() || prefix {
                        return Err(bad_value(at, format!("`{text}`"), NODE_EXPECTED));
                    }
                    let address = node_address(part, part_at)?;
                    if let Some(&(_, first)) = block.addresses.iter().find(|(a, _)| *a == address) {
                        return Err((part_at, ErrorKind::DuplicateNode { address, first }));
                    }
                    if addrs.len() == MAX_LINKS {
                        return Err((part_at, ErrorKind::TooManyLinks { address }));
                    }
                    block.addresses.push((address, part_at));
                    addrs.push(address);
                }
                if let Some((first, first_at)) = block.nodes.first() {
                    if first.len() != addrs.len() {
                        return Err((
                            at,
                            ErrorKind::MixedLinks {
                                node: addrs[0],
                                links: addrs.len(),
                                expected: first.len(),
                                first: *first_at,
                            },
                        ));
                    }
                }
                if block.nodes.len() == MAX_NODES {
                    return Err((at, ErrorKind::TooManyNodes { address: addrs[0] }));
                }
                block.nodes.push((addrs, at));
                Ok(())
            },
        )
    }

    /// `Quorum = majority | none | N`.
    pub(super) fn quorum(&mut self) -> Located<()> {
        self.expect_equals("Quorum")?;
        let (text, at) = self.word(QUORUM_EXPECTED)?;
        self.config.quorum = if text.eq_ignore_ascii_case("majority") {
            Quorum::Majority
        } else if text.eq_ignore_ascii_case("none") {
            Quorum::None
        } else {
            values::parse_number(text)
                .filter(|&n| n >= 1)
                .map(Quorum::Count)
                .ok_or_else(|| bad_value(at, format!("`{text}`"), QUORUM_EXPECTED))?
        };
        self.spans.quorum = Some(at);
        Ok(())
    }
}

/// One address of a node, `text` written at `at`.
fn node_address(text: &str, at: Position) -> Located<Ipv4Addr> {
    let plain = || bad_value(at, format!("`{text}`"), NODE_EXPECTED);
    let address = match parse_address(text) {
        Ok(WrittenAddress {
            interface: None,
            addr: IpAddr::V4(addr),
            bits: None,
            net: None,
        }) => addr,
        Ok(_) => return Err(plain()),
        // `A.B.C.D:PORT` reads as an interface named A.B.C.D: say what
        // is wrong with it instead of pointing at the port.
        Err(_) if text.contains(':') => return Err(plain()),
        Err(err) => return Err((at.advanced(err.offset), err.kind)),
    };
    if let Some(problem) = not_a_node(address) {
        return Err(bad_value(
            at,
            format!("{address}, {problem}"),
            "the unicast address of a node",
        ));
    }
    Ok(address)
}

/// Why `address` cannot be a node's: no datagram could be sent to it.
/// Loopback addresses are allowed, for a cluster on one host.
fn not_a_node(address: Ipv4Addr) -> Option<&'static str> {
    if address.is_unspecified() {
        Some("the unspecified address")
    } else if address.is_broadcast() {
        Some("the broadcast address")
    } else if address.is_multicast() {
        Some("a multicast address")
    } else {
        None
    }
}

/// Heartbeat and Timeout (defaults for what is not written) as the
/// membership accepts them; a refusal points at the value it names, or at
/// the other one when that one is the default, or at the block's end.
fn timing(block: &Block, close: Position) -> Located<Timing> {
    let heartbeat = block.heartbeat.map(|(_, at)| at);
    let timeout = block.timeout.map(|(_, at)| at);
    Timing::new(
        block.heartbeat.map_or(DEFAULT_HEARTBEAT, |(d, _)| d),
        block.timeout.map_or(DEFAULT_TIMEOUT, |(d, _)| d),
    )
    .map_err(|error| {
        let at = match error {
            TimingError::HeartbeatOutOfRange(_) => heartbeat.or(timeout),
            TimingError::TimeoutOutOfRange(_) | TimingError::TimeoutTooShort { .. } => {
                timeout.or(heartbeat)
            }
        };
        (at.unwrap_or(close), ErrorKind::MembershipTiming(error))
    })
}
