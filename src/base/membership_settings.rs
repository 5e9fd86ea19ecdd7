//! The timing settings of the built-in membership, and whether a port
//! unreachable answer to a heartbeat speeds up failure detection.

use std::fmt;
use std::time::Duration;

/// How often a node sends its heartbeat to every other listed node: ten
/// per time-out, so that a failure is only suspected after ten datagrams
/// in a row are lost (10% loss makes that a one in ten billion event).
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_millis(20);
/// How long a node stays heard without a datagram.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(200);

/// Shortest heartbeat interval accepted.
pub const MIN_HEARTBEAT: Duration = Duration::from_millis(1);
/// Longest heartbeat interval accepted.
pub const MAX_HEARTBEAT: Duration = Duration::from_secs(10);
/// The time-out must cover at least this many heartbeats, so that one or
/// two lost datagrams never look like a failure.
pub const MIN_HEARTBEATS_PER_TIMEOUT: u32 = 3;
/// Longest time-out accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(120);

/// `Heartbeat`, `Timeout` and `PortUnreachable` of a `Membership` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Time between heartbeats.
    pub heartbeat: Duration,
    /// Silence after which a node is no longer heard.
    pub timeout: Duration,
    /// A peer whose host answers our heartbeats with ICMP port
    /// unreachable (its daemon is gone, its host lives) is suspected at
    /// once, after one probe, instead of after `timeout` (on by default).
    pub port_unreachable: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            heartbeat: DEFAULT_HEARTBEAT,
            timeout: DEFAULT_TIMEOUT,
            port_unreachable: true,
        }
    }
}

/// Why a pair of settings is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsError {
    /// A heartbeat outside [`MIN_HEARTBEAT`]..=[`MAX_HEARTBEAT`].
    HeartbeatOutOfRange(Duration),
    /// A time-out above [`MAX_TIMEOUT`].
    TimeoutOutOfRange(Duration),
    /// The time-out covers fewer than [`MIN_HEARTBEATS_PER_TIMEOUT`]
    /// heartbeats.
    TimeoutTooShort {
        /// The heartbeat.
        heartbeat: Duration,
        /// The time-out.
        timeout: Duration,
    },
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::HeartbeatOutOfRange(d) => write!(
                f,
                "Heartbeat {d:?} is outside {MIN_HEARTBEAT:?} to {MAX_HEARTBEAT:?}"
            ),
            SettingsError::TimeoutOutOfRange(d) => {
                write!(f, "Timeout {d:?} is longer than {MAX_TIMEOUT:?}")
            }
            SettingsError::TimeoutTooShort { heartbeat, timeout } => write!(
                f,
                "Timeout {timeout:?} must be at least {MIN_HEARTBEATS_PER_TIMEOUT} heartbeats ({:?} with Heartbeat {heartbeat:?})",
                *heartbeat * MIN_HEARTBEATS_PER_TIMEOUT
            ),
        }
    }
}

impl std::error::Error for SettingsError {}

impl Settings {
    /// Checks a pair of timing settings (`port_unreachable` on).
    pub fn new(heartbeat: Duration, timeout: Duration) -> Result<Settings, SettingsError> {
        if !(MIN_HEARTBEAT..=MAX_HEARTBEAT).contains(&heartbeat) {
            return Err(SettingsError::HeartbeatOutOfRange(heartbeat));
        }
        if timeout > MAX_TIMEOUT {
            return Err(SettingsError::TimeoutOutOfRange(timeout));
        }
        if timeout < heartbeat * MIN_HEARTBEATS_PER_TIMEOUT {
            return Err(SettingsError::TimeoutTooShort { heartbeat, timeout });
        }
        Ok(Settings {
            heartbeat,
            timeout,
            port_unreachable: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn defaults_are_valid() {
        let d = Settings::default();
        assert_eq!(Settings::new(d.heartbeat, d.timeout), Ok(d));
    }

    #[test]
    fn bounds_are_enforced() {
        assert_eq!(
            Settings::new(Duration::from_micros(500), ms(10)),
            Err(SettingsError::HeartbeatOutOfRange(Duration::from_micros(
                500
            )))
        );
        assert_eq!(
            Settings::new(ms(11_000), ms(60_000)),
            Err(SettingsError::HeartbeatOutOfRange(ms(11_000)))
        );
        assert_eq!(
            Settings::new(ms(50), ms(121_000)),
            Err(SettingsError::TimeoutOutOfRange(ms(121_000)))
        );
        assert_eq!(
            Settings::new(ms(50), ms(149)),
            Err(SettingsError::TimeoutTooShort {
                heartbeat: ms(50),
                timeout: ms(149)
            })
        );
        assert!(Settings::new(ms(5), ms(25)).is_ok());
        assert!(Settings::new(ms(50), ms(150)).is_ok());
    }
}
