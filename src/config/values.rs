//! Scalar values: intervals, numbers, Spread addresses, syslog facilities.
//! Each parser returns what it expected on failure, for the caller to
//! place in an error.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use super::{LogFacility, SpreadAddress};

pub(super) const INTERVAL_EXPECTED: &str =
    "an interval: digits and a unit s, m, h or ms (as in 5s)";

/// `90s`, `2m`, `1h`, `500ms`.
pub(super) fn parse_interval(text: &str) -> Result<Duration, &'static str> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let amount: u64 = digits.parse().map_err(|_| INTERVAL_EXPECTED)?;
    let per_unit_ms: u64 = match unit.to_ascii_lowercase().as_str() {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(INTERVAL_EXPECTED),
    };
    amount
        .checked_mul(per_unit_ms)
        .map(Duration::from_millis)
        .ok_or("an interval of at most a few billion hours")
}

/// A decimal number that fits in `u32`.
pub(super) fn parse_number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// What a `Spread` value must be, for error messages.
pub const SPREAD_EXPECTED: &str =
    "a Spread daemon: PORT, PORT@HOST or an absolute Unix socket path (as in 4803@127.0.0.1)";

/// `4803`, `4803@host`, or `/path/to/socket`; also what `-s` accepts.
pub fn parse_spread_address(text: &str) -> Result<SpreadAddress, &'static str> {
    if text.starts_with('/') {
        return Ok(SpreadAddress::Unix(PathBuf::from(text)));
    }
    let (port, host) = match text.split_once('@') {
        Some((port, host)) => (port, Some(host)),
        None => (text, None),
    };
    let port = parse_number(port)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|&p| p != 0)
        .ok_or(SPREAD_EXPECTED)?;
    match host {
        None => Ok(SpreadAddress::Local { port }),
        Some(host) if valid_host(host) => Ok(SpreadAddress::Tcp {
            port,
            host: host.to_string(),
        }),
        Some(_) => Err(SPREAD_EXPECTED),
    }
}

/// A host name or dotted address: what a resolver could look up.
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// What an `Identity` value must be, for error messages.
pub const IDENTITY_EXPECTED: &str =
    "a unicast address of this node that its peers can tell apart from theirs";

/// Refuses addresses that cannot tell one node from another: with them
/// every node would claim the same identity.
pub fn check_identity(addr: Ipv4Addr) -> Result<(), &'static str> {
    if addr.is_unspecified() {
        Err("the unspecified address")
    } else if addr.is_loopback() {
        Err("a loopback address")
    } else if addr.is_broadcast() {
        Err("the broadcast address")
    } else if addr.is_multicast() {
        Err("a multicast address")
    } else {
        Ok(())
    }
}

const FACILITIES: [(&str, LogFacility); 20] = [
    ("kern", LogFacility::Kern),
    ("user", LogFacility::User),
    ("mail", LogFacility::Mail),
    ("daemon", LogFacility::Daemon),
    ("auth", LogFacility::Auth),
    ("syslog", LogFacility::Syslog),
    ("lpr", LogFacility::Lpr),
    ("news", LogFacility::News),
    ("uucp", LogFacility::Uucp),
    ("cron", LogFacility::Cron),
    ("authpriv", LogFacility::AuthPriv),
    ("ftp", LogFacility::Ftp),
    ("local0", LogFacility::Local0),
    ("local1", LogFacility::Local1),
    ("local2", LogFacility::Local2),
    ("local3", LogFacility::Local3),
    ("local4", LogFacility::Local4),
    ("local5", LogFacility::Local5),
    ("local6", LogFacility::Local6),
    ("local7", LogFacility::Local7),
];

pub(super) const FACILITY_EXPECTED: &str =
    "a syslog facility: kern, user, mail, daemon, auth, syslog, \
     lpr, news, uucp, cron, authpriv, ftp or local0 to local7";

pub(super) fn parse_log_facility(text: &str) -> Option<LogFacility> {
    FACILITIES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|&(_, facility)| facility)
}

/// The facility as `LogFacility` accepts it.
pub fn log_facility_name(facility: LogFacility) -> &'static str {
    FACILITIES
        .iter()
        .find(|&&(_, f)| f == facility)
        .map_or("daemon", |&(name, _)| name)
}

/// The shortest way to write `duration` that `parse_interval` reads back.
pub fn format_interval(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms % 1000 != 0 || ms == 0 {
        return format!("{ms}ms");
    }
    let secs = ms / 1000;
    if secs % 3600 == 0 {
        format!("{}h", secs / 3600)
    } else if secs % 60 == 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_in_every_unit() {
        assert_eq!(parse_interval("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_interval("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_interval("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_interval("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_interval("5S"), Ok(Duration::from_secs(5)));
        for bad in [
            "5",
            "s",
            "5x",
            "5 s",
            "-5s",
            "5.5s",
            "99999999999999999999s",
        ] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn intervals_format_back_to_what_parses() {
        for text in ["90s", "2m", "1h", "500ms", "0ms", "1500ms"] {
            let duration = parse_interval(text).expect("parses");
            assert_eq!(format_interval(duration), text);
        }
    }

    #[test]
    fn spread_addresses() {
        assert_eq!(
            parse_spread_address("4803"),
            Ok(SpreadAddress::Local { port: 4803 })
        );
        assert_eq!(
            parse_spread_address("4803@10.0.0.1"),
            Ok(SpreadAddress::Tcp {
                port: 4803,
                host: "10.0.0.1".to_string()
            })
        );
        assert_eq!(
            parse_spread_address("/var/run/spread.sock"),
            Ok(SpreadAddress::Unix(PathBuf::from("/var/run/spread.sock")))
        );
        for bad in ["", "0", "70000", "4803@", "x@host", "4803x", "spread.sock"] {
            assert!(parse_spread_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_facility_round_trips() {
        for (name, facility) in FACILITIES {
            assert_eq!(parse_log_facility(name), Some(facility));
            assert_eq!(log_facility_name(facility), name);
        }
        assert_eq!(parse_log_facility("LOCAL3"), Some(LogFacility::Local3));
        assert_eq!(parse_log_facility("local8"), None);
    }
}
