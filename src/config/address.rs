//! The address notation `[IF:]A.B.C.D[/BITS][nNET]` and its IPv6 form
//! `[IF:]ADDR[/BITS]`: the interface is everything before the first colon,
//! so `eth0:2001:db8::10/64` is `2001:db8::10/64` on eth0. A text that is
//! a whole IPv6 address (with its `/BITS`) has no interface.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::error::ErrorKind;
use crate::base::{interface_name_fault, InterfaceNameFault};

/// An address as written, before the directive decides which parts it
/// needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WrittenAddress {
    pub interface: Option<String>,
    pub addr: IpAddr,
    pub bits: Option<u8>,
    pub net: Option<u8>,
}

/// An error inside an address: `offset` counts characters from the start
/// of the token, so the message can point at the offending part.
#[derive(Debug)]
pub(super) struct AddressError {
    pub offset: usize,
    pub kind: ErrorKind,
}

fn bad(offset: usize, found: String, expected: &str) -> AddressError {
    AddressError {
        offset,
        kind: ErrorKind::BadValue {
            found,
            expected: expected.to_string(),
        },
    }
}

pub(super) fn parse_address(text: &str) -> Result<WrittenAddress, AddressError> {
    let (interface, rest, rest_offset) = match text.split_once(':') {
        Some(_) if is_bare_ipv6(text) => (None, text, 0),
        Some((name, rest)) => {
            check_interface_name(name)?;
            (Some(name.to_string()), rest, name.chars().count() + 1)
        }
        None => (None, text, 0),
    };
    let mut cursor = Cursor {
        text: rest,
        offset: rest_offset,
        whole: text,
    };
    let address_part = &rest[..rest.find(['/', 'n']).unwrap_or(rest.len())];
    let (addr, max_bits) = if address_part.contains(':') {
        (IpAddr::V6(cursor.ipv6(address_part)?), 128)
    } else {
        (IpAddr::V4(cursor.ipv4()?), 32)
    };
    let bits = if cursor.eat('/') {
        let expected = if max_bits == 32 {
            "a prefix length of 0 to 32 after `/`"
        } else {
            "a prefix length of 0 to 128 after `/`"
        };
        Some(cursor.number(max_bits, expected)?)
    } else {
        None
    };
    let net = if addr.is_ipv4() && cursor.eat('n') {
        Some(cursor.number(32, "a network length of 0 to 32 after `n`")?)
    } else {
        None
    };
    if let Some(c) = cursor.text.chars().next() {
        let expected = if addr.is_ipv4() {
            "the address to end, or `/BITS` or `nNET` (as in eth0:10.0.0.5/24n24)"
        } else {
            "the address to end, or `/BITS` (as in eth0:2001:db8::10/64; nNET is for IPv4 only)"
        };
        return Err(bad(cursor.offset, format!("`{c}` in `{text}`"), expected));
    }
    Ok(WrittenAddress {
        interface,
        addr,
        bits,
        net,
    })
}

/// Whether `text` up to its `/BITS` is an IPv6 address on its own (so the
/// part before its first colon is not an interface name).
fn is_bare_ipv6(text: &str) -> bool {
    let address = text.split_once('/').map_or(text, |(a, _)| a);
    address.parse::<Ipv6Addr>().is_ok()
}

/// The interface-name rule of [`crate::base::interface_name_fault`], as
/// an error pointing into the name.
fn check_interface_name(name: &str) -> Result<(), AddressError> {
    match interface_name_fault(name) {
        None => Ok(()),
        Some(InterfaceNameFault::Empty) => Err(bad(
            0,
            "`:` with no interface name before it".to_string(),
            "an interface name such as eth0 before `:`",
        )),
        Some(InterfaceNameFault::Forbidden { index, character }) => Err(bad(
            index,
            format!(
                "`{}` in interface name `{name}`",
                character.escape_default()
            ),
            "an interface name without `/`, `:` or white space",
        )),
        Some(InterfaceNameFault::Reserved) => Err(bad(
            0,
            format!("interface name `{name}`"),
            "an interface name other than `.` and `..`",
        )),
        Some(InterfaceNameFault::TooLong) => Err(AddressError {
            offset: 0,
            kind: ErrorKind::InterfaceNameTooLong {
                name: name.to_string(),
            },
        }),
    }
}

struct Cursor<'a> {
    text: &'a str,
    offset: usize,
    whole: &'a str,
}

impl Cursor<'_> {
    fn eat(&mut self, c: char) -> bool {
        match self.text.strip_prefix(c) {
            Some(rest) => {
                self.text = rest;
                self.offset += 1;
                true
            }
            None => false,
        }
    }

    fn expect_char(&mut self, c: char, expected: &str) -> Result<(), AddressError> {
        if self.eat(c) {
            return Ok(());
        }
        Err(bad(self.offset, self.found(), expected))
    }

    fn found(&self) -> String {
        match self.text.chars().next() {
            Some(c) => format!("`{c}` in `{}`", self.whole),
            None => format!("the end of `{}`", self.whole),
        }
    }

    /// `A.B.C.D`, each octet checked where it is written.
    fn ipv4(&mut self) -> Result<Ipv4Addr, AddressError> {
        let mut octets = [0u8; 4];
        for (i, octet) in octets.iter_mut().enumerate() {
            if i > 0 {
                self.expect_char('.', "`.` between the four octets of an IPv4 address")?;
            }
            *octet = self.number(255, "an octet of 0 to 255")?;
        }
        Ok(Ipv4Addr::from(octets))
    }

    /// `part`, the next characters of the text, as an IPv6 address.
    fn ipv6(&mut self, part: &str) -> Result<Ipv6Addr, AddressError> {
        let addr = part.parse::<Ipv6Addr>().map_err(|_| {
            bad(
                self.offset,
                format!("`{part}` in `{}`", self.whole),
                "an IPv6 address such as 2001:db8::10",
            )
        })?;
        self.text = &self.text[part.len()..];
        self.offset += part.chars().count();
        Ok(addr)
    }

    /// Decimal digits with a value of at most `max`.
    fn number(&mut self, max: u32, expected: &str) -> Result<u8, AddressError> {
        let digits = self.text.len()
            - self
                .text
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .len();
        if digits == 0 {
            return Err(bad(self.offset, self.found(), expected));
        }
        let (number, rest) = self.text.split_at(digits);
        let value = number
            .parse::<u32>()
            .ok()
            .filter(|&v| v <= max)
            .and_then(|v| u8::try_from(v).ok())
            .ok_or_else(|| {
                bad(
                    self.offset,
                    format!("{number} in `{}`", self.whole),
                    expected,
                )
            })?;
        self.text = rest;
        self.offset += digits;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_notation() {
        assert_eq!(
            parse_address("fxp0:192.168.10.2/32n23").expect("parses"),
            WrittenAddress {
                interface: Some("fxp0".to_string()),
                addr: Ipv4Addr::new(192, 168, 10, 2).into(),
                bits: Some(32),
                net: Some(23),
            }
        );
    }

    #[test]
    fn bare_address() {
        let written = parse_address("10.0.0.1").expect("parses");
        assert_eq!(written.interface, None);
        assert_eq!(written.addr, IpAddr::from([10, 0, 0, 1]));
        assert_eq!((written.bits, written.net), (None, None));
    }

    #[test]
    fn errors_point_into_the_token() {
        let offset = |text: &str| parse_address(text).unwrap_err().offset;
        assert_eq!(offset("eth0:10.0.300.1"), 10);
        assert_eq!(offset("eth0:10.0.0.1/33"), 14);
        assert_eq!(offset("10.0.0.1n40"), 9);
        assert_eq!(offset("10.0.0"), 6);
        assert_eq!(offset("10.0.0.1x"), 8);
        assert_eq!(offset(":10.0.0.1"), 0);
        assert_eq!(offset("a/b:10.0.0.1"), 1);
    }

    #[test]
    fn ipv6_after_the_first_colon() {
        let written = parse_address("eth0:2001:db8::10/64").expect("parses");
        assert_eq!(written.interface.as_deref(), Some("eth0"));
        assert_eq!(written.addr, "2001:db8::10".parse::<IpAddr>().unwrap());
        assert_eq!((written.bits, written.net), (Some(64), None));
        let mapped = parse_address("br-lan:::ffff:10.0.0.1").expect("parses");
        assert_eq!(mapped.interface.as_deref(), Some("br-lan"));
        assert_eq!(mapped.addr, "::ffff:10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_whole_ipv6_address_has_no_interface() {
        let written = parse_address("2001:db8::1/128").expect("parses");
        assert_eq!(written.interface, None);
        assert_eq!(written.addr, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(written.bits, Some(128));
    }

    #[test]
    fn ipv6_errors_point_into_the_token() {
        let offset = |text: &str| parse_address(text).unwrap_err().offset;
        assert_eq!(offset("eth0:2001:db8::g1/64"), 5);
        assert_eq!(offset("eth0:2001:db8::1/129"), 17);
        assert_eq!(offset("eth0:2001:db8::1/64n24"), 19);
        assert_eq!(offset("eth0:2001:db8:::1"), 5);
    }

    #[test]
    fn long_interface_name_is_its_own_error() {
        let err = parse_address("abcdefghijklmnop:10.0.0.1").unwrap_err();
        assert!(matches!(err.kind, ErrorKind::InterfaceNameTooLong { .. }));
        assert!(parse_address("abcdefghijklmno:10.0.0.1").is_ok());
    }
}
