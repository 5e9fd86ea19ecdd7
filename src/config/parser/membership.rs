//! The `Membership` block (the built-in group service) and the top-level
//! `Quorum` directive.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use super::{bad_value, syntax, Located, Parser};
use crate::base::membership_settings::{
    Settings, SettingsError, DEFAULT_HEARTBEAT, DEFAULT_TIMEOUT,
};
use crate::config::address::{parse_address, WrittenAddress};
use crate::config::error::{ErrorKind, Position};
use crate::config::keywords::{self, MembershipParameter, MEMBERSHIP_PARAMETERS};
use crate::config::lexer::TokenKind;
use crate::config::values::{self, INTERVAL_EXPECTED};
use crate::config::{MembershipConfig, Quorum, DEFAULT_MEMBERSHIP_PORT, MAX_MEMBERSHIP_NODES};

const PARAMETER: &str = "Nodes, Port, Key, Heartbeat, Timeout or PortUnreachable inside Membership";
const SWITCH_EXPECTED: &str = "on or off";
const NODE_EXPECTED: &str =
    "a node address A.B.C.D (no interface, no /BITS, no :PORT: the port is Membership's Port)";
const PORT_EXPECTED: &str = "a UDP port of 1 to 65535";
const KEY_EXPECTED: &str = "the absolute path of the key file (as in /etc/wackamole/cluster.key)";
const QUORUM_EXPECTED: &str = "majority, none or a number of members of at least 1";

/// What a `Membership` block said so far, with where the values were
/// written.
#[derive(Default)]
struct Block {
    nodes: Vec<(Ipv4Addr, Position)>,
    port: Option<u16>,
    key: Option<PathBuf>,
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
        let open = self
            .expect(TokenKind::OpenBrace, "`{` after Membership")?
            .position;
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
        let mut settings = timing(&block, close)?;
        settings.port_unreachable = block.port_unreachable.unwrap_or(true);
        self.config.membership = Some(MembershipConfig {
            nodes: block.nodes.iter().map(|&(addr, _)| addr).collect(),
            port: block.port.unwrap_or(DEFAULT_MEMBERSHIP_PORT),
            key,
            settings,
        });
        Ok(())
    }

    fn membership_parameter(&mut self, block: &mut Block) -> Located<()> {
        let (name, at) = self.word(PARAMETER)?;
        let Some(parameter) = keywords::lookup(MEMBERSHIP_PARAMETERS, name) else {
            return Err(syntax(at, format!("`{name}`"), PARAMETER));
        };
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
                self.expect_equals("Key")?;
                let (path, at) = self.string(KEY_EXPECTED)?;
                // The daemon runs from `/`: a relative path would name
                // another file there than under `-t`.
                if !path.starts_with('/') {
                    return Err(bad_value(at, format!("path \"{path}\""), KEY_EXPECTED));
                }
                block.key = Some(PathBuf::from(path));
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

    fn timing_interval(&mut self, name: &str) -> Located<(Duration, Position)> {
        self.expect_equals(name)?;
        let (text, at) = self.word(INTERVAL_EXPECTED)?;
        let interval = values::parse_interval(text)
            .map_err(|expected| bad_value(at, format!("`{text}`"), expected))?;
        Ok((interval, at))
    }

    /// `Nodes { A.B.C.D ... }`; a second `Nodes` adds to the list.
    fn nodes(&mut self, block: &mut Block) -> Located<()> {
        let open = self
            .expect(TokenKind::OpenBrace, "`{` after Nodes")?
            .position;
        self.braced(
            open,
            "a node address",
            Some("at least one node address A.B.C.D inside Nodes"),
            |p| {
                let (address, at) = p.node_address()?;
                if let Some(&(_, first)) = block.nodes.iter().find(|(a, _)| *a == address) {
                    return Err((at, ErrorKind::DuplicateNode { address, first }));
                }
                if block.nodes.len() == MAX_MEMBERSHIP_NODES {
                    return Err((at, ErrorKind::TooManyNodes { address }));
                }
                block.nodes.push((address, at));
                Ok(())
            },
        )
    }

    fn node_address(&mut self) -> Located<(Ipv4Addr, Position)> {
        let (text, at) = self.word(NODE_EXPECTED)?;
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
        Ok((address, at))
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
fn timing(block: &Block, close: Position) -> Located<Settings> {
    let heartbeat = block.heartbeat.map(|(_, at)| at);
    let timeout = block.timeout.map(|(_, at)| at);
    Settings::new(
        block.heartbeat.map_or(DEFAULT_HEARTBEAT, |(d, _)| d),
        block.timeout.map_or(DEFAULT_TIMEOUT, |(d, _)| d),
    )
    .map_err(|error| {
        let at = match error {
            SettingsError::HeartbeatOutOfRange(_) => heartbeat.or(timeout),
            SettingsError::TimeoutOutOfRange(_) | SettingsError::TimeoutTooShort { .. } => {
                timeout.or(heartbeat)
            }
        };
        (at.unwrap_or(close), ErrorKind::MembershipTiming(error))
    })
}
