//! Recursive-descent parser: tokens to a `Config`, remembering where each
//! VIF address and Prefer entry was written so validation can point at it.
//! The `Membership` block and `Quorum` are read in [`membership_block`],
//! `Notify` and `Announce` in [`notify`].

mod addresses;
mod membership_block;
mod notify;
mod track;

use std::net::IpAddr;
use std::path::PathBuf;

use super::address::{parse_address, WrittenAddress};
use super::error::{ErrorKind, Position, WarningKind};
use super::keywords::{self, BalanceParameter, Directive, BALANCE_PARAMETERS, DIRECTIVES};
use super::lexer::{Token, TokenKind};
use super::values::{self, FACILITY_EXPECTED, INTERVAL_EXPECTED, SPREAD_EXPECTED};
use super::{
    AcquisitionsPerRound, Config, Hook, HookEvent, Ipv4Block, MembershipConfig, Prefer,
    ServiceConfig, SpreadConfig, Vif, VifAddress,
};
use crate::base::spread_name::is_legal_group_name;

pub(super) type Located<T> = Result<T, (Position, ErrorKind)>;

/// Where the parts that validation looks at were written.
#[derive(Debug, Default)]
pub(super) struct Spans {
    /// One per VIF address, in the order of `Config::vifs` flattened.
    pub vif_addresses: Vec<Position>,
    /// One per block of `Prefer::Blocks`.
    pub prefer: Vec<Position>,
    /// The first `Spread` directive.
    pub spread: Option<Position>,
    /// The `Membership` block.
    pub membership: Option<Position>,
    /// The value of the last `Quorum`.
    pub quorum: Option<Position>,
    /// The `Lifetime` parameter, if written.
    pub lifetime: Option<Position>,
    /// `TakeoverWait = on`, if written.
    pub takeover_wait: Option<Position>,
}

pub(super) struct Parsed {
    pub config: Config,
    pub spans: Spans,
    pub warnings: Vec<(Position, WarningKind)>,
}

const DIRECTIVE_EXPECTED: &str = "a directive (Spread, SpreadRetryInterval, Group, Control, \
     LogFacility, Mature, Arp-Cache, Balance, Prefer, Notify, Announce, VirtualInterfaces, Run, \
     Identity, Membership, Quorum, Addresses, Track)";
const VIF_ADDRESS_EXPECTED: &str = "a VIF address IF:A.B.C.D[/BITS][nNET] or IF:IPV6[/BITS] \
     (as in eth0:10.0.0.5/24 or eth0:2001:db8::10/64)";
const VIF_EXPECTED: &str = "a VIF: IF:A.B.C.D[/BITS][nNET], IF:IPV6[/BITS] or `{` with several";
const BALANCE_PARAMETER: &str = "AcquisitionsPerRound or Interval inside Balance";
const EVENT_EXPECTED: &str = "an event: on up, on down, post up or post down";

/// Longest Unix socket path (sun_path 108 with its NUL).
const MAX_SOCKET_PATH: usize = 107;

pub(super) fn parse_tokens(tokens: &[Token], end: Position) -> Located<Parsed> {
    let mut parser = Parser {
        tokens,
        next: 0,
        end,
        config: Config::default(),
        spread: SpreadConfig::default(),
        membership: None,
        spans: Spans::default(),
        warnings: Vec::new(),
    };
    while parser.peek().is_some() {
        parser.directive()?;
    }
    parser.finish_addresses()?;
    let mut config = parser.config;
    // Validation refuses a file that names both.
    config.service = match parser.membership {
        Some(membership) => ServiceConfig::Membership(membership),
        None => ServiceConfig::Spread(parser.spread),
    };
    Ok(Parsed {
        config,
        spans: parser.spans,
        warnings: parser.warnings,
    })
}

struct Parser<'a> {
    tokens: &'a [Token],
    next: usize,
    end: Position,
    config: Config,
    /// `Spread`, `SpreadRetryInterval` and `Group` as read so far: the
    /// group service unless a `Membership` block comes.
    spread: SpreadConfig,
    /// The `Membership` block, once read.
    membership: Option<MembershipConfig>,
    spans: Spans,
    warnings: Vec<(Position, WarningKind)>,
}

fn syntax(position: Position, found: String, expected: impl Into<String>) -> (Position, ErrorKind) {
    (
        position,
        ErrorKind::Syntax {
            found,
            expected: expected.into(),
        },
    )
}

fn bad_value(
    position: Position,
    found: String,
    expected: impl Into<String>,
) -> (Position, ErrorKind) {
    (
        position,
        ErrorKind::BadValue {
            found,
            expected: expected.into(),
        },
    )
}

/// The interface of an address written at `at` where one is required.
fn required_interface(
    interface: Option<String>,
    addr: IpAddr,
    at: Position,
    expected: &str,
) -> Located<String> {
    interface.ok_or_else(|| bad_value(at, format!("`{addr}` without an interface"), expected))
}

/// An IPv6 address where the wire between nodes carries IPv4 only.
fn ipv4_only(at: Position, addr: IpAddr, directive: &str) -> (Position, ErrorKind) {
    bad_value(
        at,
        format!("IPv6 address {addr}"),
        format!("an IPv4 address in {directive} (only VIFs and Notify take IPv6 addresses)"),
    )
}

fn is_keyword(token: &Token, keyword: &str) -> bool {
    matches!(&token.kind, TokenKind::Word(w) if w.eq_ignore_ascii_case(keyword))
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.next)
    }

    fn peek_is(&self, keyword: &str) -> bool {
        self.peek().is_some_and(|t| is_keyword(t, keyword))
    }

    /// An error about the next token (or the end of the file).
    fn unexpected(&self, expected: impl Into<String>) -> (Position, ErrorKind) {
        match self.peek() {
            Some(token) => syntax(token.position, token.describe(), expected),
            None => syntax(self.end, "the end of the file".to_string(), expected),
        }
    }

    fn expect(&mut self, kind: TokenKind, expected: &str) -> Located<&'a Token> {
        match self.peek() {
            Some(token) if token.kind == kind => {
                self.next += 1;
                Ok(token)
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    fn expect_equals(&mut self, directive: &str) -> Located<()> {
        self.expect(TokenKind::Equals, &format!("`=` after {directive}"))
            .map(|_| ())
    }

    /// A word of `table` (in any case) and where it stands; another word
    /// is a syntax error expecting `expected`.
    fn keyword<T: Copy>(&mut self, table: &[(&str, T)], expected: &str) -> Located<(T, Position)> {
        let (word, at) = self.word(expected)?;
        match keywords::lookup(table, word) {
            Some(meaning) => Ok((meaning, at)),
            None => Err(syntax(at, format!("`{word}`"), expected)),
        }
    }

    /// A bare word (keyword, number, interval or address).
    fn word(&mut self, expected: &str) -> Located<(&'a str, Position)> {
        match self.peek() {
            Some(Token {
                kind: TokenKind::Word(word),
                position,
            }) => {
                self.next += 1;
                Ok((word.as_str(), *position))
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    /// A string value, quoted or not.
    fn string(&mut self, expected: &str) -> Located<(&'a str, Position)> {
        match self.peek() {
            Some(Token {
                kind: TokenKind::Word(text) | TokenKind::Quoted(text),
                position,
            }) => {
                self.next += 1;
                Ok((text.as_str(), *position))
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    /// Consumes the `}` closing a block, if it comes next.
    fn close_brace_at(&mut self) -> bool {
        if matches!(self.peek(), Some(t) if t.kind == TokenKind::CloseBrace) {
            self.next += 1;
            return true;
        }
        false
    }

    /// The `{` opening the block of `directive`, and where it stands.
    fn open_brace(&mut self, directive: &str) -> Located<Position> {
        let expected = format!("`{{` after {directive}");
        Ok(self.expect(TokenKind::OpenBrace, &expected)?.position)
    }

    /// Parses items until the `}` closing the block opened at `open`. An
    /// empty block is refused with `required` as what was expected.
    fn braced(
        &mut self,
        open: Position,
        item: &str,
        required: Option<&str>,
        mut parse_item: impl FnMut(&mut Self) -> Located<()>,
    ) -> Located<()> {
        let mut count = 0;
        while !self.close_brace_at() {
            if self.peek().is_none() {
                return Err(self.unexpected(format!(
                    "{item} or `}}` closing the block opened at line {}, column {}",
                    open.line, open.column
                )));
            }
            parse_item(self)?;
            count += 1;
        }
        match required {
            Some(expected) if count == 0 => {
                let close = self.tokens[self.next - 1].position;
                Err(syntax(close, "`}`".to_string(), expected))
            }
            _ => Ok(()),
        }
    }

    fn directive(&mut self) -> Located<()> {
        let (keyword, position) = self.word(DIRECTIVE_EXPECTED)?;
        let Some(directive) = keywords::lookup(DIRECTIVES, keyword) else {
            return Err(syntax(position, format!("`{keyword}`"), DIRECTIVE_EXPECTED));
        };
        match directive {
            Directive::Spread => {
                self.spans.spread.get_or_insert(position);
                self.expect_equals("Spread")?;
                let (text, at) = self.string(SPREAD_EXPECTED)?;
                self.spread.address = values::parse_spread_address(text)
                    .map_err(|expected| bad_value(at, format!("`{text}`"), expected))?;
            }
            Directive::SpreadRetryInterval => {
                self.spread.retry_interval = self.positive_interval("SpreadRetryInterval")?
            }
            Directive::Group => self.group()?,
            Directive::Control => self.control()?,
            Directive::LogFacility => {
                self.expect_equals("LogFacility")?;
                let (name, at) = self.string(FACILITY_EXPECTED)?;
                self.config.log_facility = values::parse_log_facility(name)
                    .ok_or_else(|| bad_value(at, format!("`{name}`"), FACILITY_EXPECTED))?;
            }
            Directive::Mature => {
                self.expect_equals("Mature")?;
                self.config.mature = self.interval()?;
            }
            Directive::ArpCache => {
                self.config.arp_cache_interval = self.positive_interval("Arp-Cache")?
            }
            Directive::Balance => self.balance()?,
            Directive::Prefer => self.prefer()?,
            Directive::Notify => self.notify()?,
            Directive::Announce => self.announce()?,
            Directive::VirtualInterfaces => self.virtual_interfaces()?,
            Directive::Run => self.hook(keyword)?,
            Directive::Identity => self.identity()?,
            Directive::Membership => self.membership(position)?,
            Directive::Quorum => self.quorum()?,
            Directive::Addresses => self.addresses()?,
            Directive::Track => self.track()?,
            Directive::ModuleDir => {
                self.expect_equals("ModuleDir")?;
                self.string("a directory")?;
                self.warnings
                    .push((position, WarningKind::ModuleDirIgnored));
            }
            Directive::RunDynamic => {
                let event = self.rundynamic_event();
                return Err((
                    position,
                    ErrorKind::Unsupported {
                        directive: keyword.to_string(),
                        instead: format!("`Run \"COMMAND\" {}`", event.as_str()),
                    },
                ));
            }
        }
        Ok(())
    }

    /// The event of a `RunDynamic MODULE:FUNC EVENT` line, so the
    /// suggested replacement keeps it; `on up` when it cannot be read.
    fn rundynamic_event(&mut self) -> HookEvent {
        self.next += 1;
        self.event().unwrap_or(HookEvent::OnUp)
    }

    fn interval(&mut self) -> Located<std::time::Duration> {
        let (text, at) = self.word(INTERVAL_EXPECTED)?;
        values::parse_interval(text)
            .map_err(|expected| bad_value(at, format!("`{text}`"), expected))
    }

    fn positive_interval(&mut self, directive: &str) -> Located<std::time::Duration> {
        self.expect_equals(directive)?;
        let at = self.peek().map(|t| t.position);
        let interval = self.interval()?;
        if interval.is_zero() {
            return Err(bad_value(
                at.unwrap_or(self.end),
                "an interval of zero".to_string(),
                format!("an interval above zero for {directive}"),
            ));
        }
        Ok(interval)
    }

    fn group(&mut self) -> Located<()> {
        const EXPECTED: &str = "a Spread group name of 1 to 31 characters from `$` to `~`";
        self.expect_equals("Group")?;
        let (name, at) = self.string(EXPECTED)?;
        // The session's own rule: a group accepted here is never refused
        // at join time (which would leave the daemon retrying forever).
        if !is_legal_group_name(name) {
            return Err(bad_value(at, format!("group name \"{name}\""), EXPECTED));
        }
        self.spread.group = name.to_string();
        Ok(())
    }

    fn control(&mut self) -> Located<()> {
        const EXPECTED: &str = "a Unix socket path of 1 to 107 bytes";
        self.expect_equals("Control")?;
        let (path, at) = self.string(EXPECTED)?;
        if path.is_empty() || path.len() > MAX_SOCKET_PATH {
            return Err(bad_value(at, format!("path \"{path}\""), EXPECTED));
        }
        self.config.control = Some(PathBuf::from(path));
        Ok(())
    }

    fn balance(&mut self) -> Located<()> {
        let open = self.open_brace("Balance")?;
        self.braced(
            open,
            BALANCE_PARAMETER,
            Some("at least one parameter (AcquisitionsPerRound or Interval) inside Balance"),
            Self::balance_parameter,
        )
    }

    fn balance_parameter(&mut self) -> Located<()> {
        const COUNT: &str = "a number of VIFs or `all`";
        let (parameter, _) = self.keyword(BALANCE_PARAMETERS, BALANCE_PARAMETER)?;
        if parameter == BalanceParameter::AcquisitionsPerRound {
            self.expect_equals("AcquisitionsPerRound")?;
            let (count, count_at) = self.word(COUNT)?;
            self.config.balance.acquisitions_per_round = if count.eq_ignore_ascii_case("all") {
                AcquisitionsPerRound::All
            } else {
                let n = values::parse_number(count)
                    .ok_or_else(|| bad_value(count_at, format!("`{count}`"), COUNT))?;
                AcquisitionsPerRound::Limited(n)
            };
        } else {
            self.config.balance.interval = self.positive_interval("Interval")?;
        }
        Ok(())
    }

    fn prefer(&mut self) -> Located<()> {
        const EXPECTED: &str = "None, an address A.B.C.D[/BITS] or `{`";
        match self.peek() {
            Some(t) if is_keyword(t, "none") => {
                self.next += 1;
                if self.config.prefer == Prefer::Unspecified {
                    self.config.prefer = Prefer::None;
                }
            }
            Some(t) if t.kind == TokenKind::OpenBrace => {
                self.next += 1;
                self.braced(
                    t.position,
                    "an address",
                    Some("at least one address inside Prefer"),
                    Self::prefer_block,
                )?;
            }
            Some(Token {
                kind: TokenKind::Word(_),
                ..
            }) => self.prefer_block()?,
            _ => return Err(self.unexpected(EXPECTED)),
        }
        Ok(())
    }

    fn prefer_block(&mut self) -> Located<()> {
        let (_, block, at) = self.block_address("an address A.B.C.D[/BITS] to prefer", "Prefer")?;
        match &mut self.config.prefer {
            Prefer::Blocks(blocks) => blocks.push(block),
            prefer => *prefer = Prefer::Blocks(vec![block]),
        }
        self.spans.prefer.push(at);
        Ok(())
    }

    fn virtual_interfaces(&mut self) -> Located<()> {
        let open = self.open_brace("VirtualInterfaces")?;
        self.braced(
            open,
            VIF_EXPECTED,
            Some(&format!("at least one VIF ({VIF_EXPECTED})")),
            Self::vif,
        )
    }

    /// One address, or a braced set of addresses that move together.
    fn vif(&mut self) -> Located<()> {
        let mut addresses = Vec::new();
        match self.peek() {
            Some(t) if t.kind == TokenKind::OpenBrace => {
                self.next += 1;
                self.braced(
                    t.position,
                    "a VIF address",
                    Some(VIF_ADDRESS_EXPECTED),
                    |p| {
                        addresses.push(p.vif_address()?);
                        Ok(())
                    },
                )?;
            }
            _ => addresses.push(self.vif_address()?),
        }
        self.config.vifs.push(Vif { addresses });
        Ok(())
    }

    fn vif_address(&mut self) -> Located<VifAddress> {
        let (written, at) = self.address(VIF_ADDRESS_EXPECTED)?;
        let interface =
            required_interface(written.interface, written.addr, at, VIF_ADDRESS_EXPECTED)?;
        let (prefix_len, network_len) = match written.addr {
            IpAddr::V4(_) => (written.bits.unwrap_or(32), written.net.unwrap_or(24)),
            IpAddr::V6(addr) => {
                if addr.is_multicast() || addr.is_unspecified() || addr.is_loopback() {
                    return Err(bad_value(
                        at,
                        format!("{addr}, which cannot be an interface's own address"),
                        "a unicast IPv6 address for the VIF",
                    ));
                }
                let bits = written.bits.unwrap_or(128);
                (bits, bits)
            }
        };
        self.spans.vif_addresses.push(at);
        Ok(VifAddress {
            interface,
            addr: written.addr,
            prefix_len,
            network_len,
        })
    }

    fn address(&mut self, expected: &str) -> Located<(WrittenAddress, Position)> {
        let (text, at) = self.word(expected)?;
        let written = parse_address(text).map_err(|err| (at.advanced(err.offset), err.kind))?;
        Ok((written, at))
    }

    /// An address that names an IPv4 block (Prefer, Notify): `/BITS`
    /// defaults to 32, and an `nNET` suffix, which means nothing there, is
    /// warned about. The interface, if written, is the caller's to judge.
    fn block_address(
        &mut self,
        expected: &str,
        directive: &'static str,
    ) -> Located<(Option<String>, Ipv4Block, Position)> {
        let (written, at) = self.address(expected)?;
        let (interface, block) = self.ipv4_block(written, at, directive)?;
        Ok((interface, block, at))
    }

    fn ipv4_block(
        &mut self,
        written: WrittenAddress,
        at: Position,
        directive: &'static str,
    ) -> Located<(Option<String>, Ipv4Block)> {
        let IpAddr::V4(addr) = written.addr else {
            return Err(ipv4_only(at, written.addr, directive));
        };
        if written.net.is_some() {
            self.warnings
                .push((at, WarningKind::NetworkLengthIgnored { directive }));
        }
        let block = Ipv4Block {
            addr,
            prefix_len: written.bits.unwrap_or(32),
        };
        Ok((written.interface, block))
    }

    fn hook(&mut self, keyword: &str) -> Located<()> {
        let expected = format!("a command after {keyword}, quoted (as in \"logger up\")");
        let (command, at) = self.string(&expected)?;
        if command.trim().is_empty() {
            return Err(bad_value(at, "an empty command".to_string(), expected));
        }
        let event = self.event()?;
        self.config.hooks.push(Hook {
            command: command.to_string(),
            event,
        });
        Ok(())
    }

    fn event(&mut self) -> Located<HookEvent> {
        let start = self.next;
        let (when, _) = self.word(EVENT_EXPECTED)?;
        let when = when.to_ascii_lowercase();
        if when != "on" && when != "post" {
            self.next = start;
            return Err(self.unexpected(EVENT_EXPECTED));
        }
        let (what, what_at) = self.word(EVENT_EXPECTED)?;
        match (when.as_str(), what.to_ascii_lowercase().as_str()) {
            ("on", "up") => Ok(HookEvent::OnUp),
            ("on", "down") => Ok(HookEvent::OnDown),
            ("post", "up") => Ok(HookEvent::PostUp),
            ("post", "down") => Ok(HookEvent::PostDown),
            _ => Err(syntax(what_at, format!("`{what}`"), "up or down")),
        }
    }

    fn identity(&mut self) -> Located<()> {
        const EXPECTED: &str = "this node's own address A.B.C.D (no interface, no /BITS)";
        self.expect_equals("Identity")?;
        let (written, at) = self.address(EXPECTED)?;
        if written.interface.is_some() || written.bits.is_some() || written.net.is_some() {
            let text = self.tokens[self.next - 1].describe();
            return Err(bad_value(at, text, EXPECTED));
        }
        let IpAddr::V4(addr) = written.addr else {
            return Err(ipv4_only(at, written.addr, "Identity"));
        };
        if let Err(problem) = values::check_identity(addr) {
            return Err(bad_value(
                at,
                format!("{addr}, {problem}"),
                values::IDENTITY_EXPECTED,
            ));
        }
        self.config.identity = Some(addr);
        Ok(())
    }
}
