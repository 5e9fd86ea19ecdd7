//! The timing settings of the built-in membership, whether a port
//! unreachable answer to a heartbeat speeds up failure detection, and how
//! many nodes a cluster may list.

use std::fmt;
use std::time::Duration;

/// Most nodes a built-in membership cluster may list, in the `Membership`
/// block and in a view on the wire: its bitmaps are 32 bits wide.
pub const MAX_NODES: usize = 32;

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
pub struct Timing {
    /// Time between heartbeats.
    pub heartbeat: Duration,
    /// Silence after which a node is no longer heard.
    pub timeout: Duration,
    /// A peer whose host answers our heartbeats with ICMP port
    /// unreachable (its daemon is gone, its host lives) is suspected at
    /// once, after one probe, instead of after `timeout` (on by default).
    pub port_unreachable: bool,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            heartbeat: DEFAULT_HEARTBEAT,
            timeout: DEFAULT_TIMEOUT,
            port_unreachable: true,
        }
    }
}

/// Why a pair of settings is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimingError {
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

impl fmt::Display for TimingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimingError::HeartbeatOutOfRange(d) => write!(
                f,
                "Heartbeat {d:?} is outside {MIN_HEARTBEAT:?} to {MAX_HEARTBEAT:?}"
            ),
            TimingError::TimeoutOutOfRange(d) => {
                write!(f, "Timeout {d:?} is longer than {MAX_TIMEOUT:?}")
            }
            TimingError::TimeoutTooShort { heartbeat, timeout } => write!(
                f,
                "Timeout {timeout:?} must be at least {MIN_HEARTBEATS_PER_TIMEOUT} heartbeats ({:?} with Heartbeat {heartbeat:?})",
                *heartbeat * MIN_HEARTBEATS_PER_TIMEOUT
            ),
        }
    }
}

impl std::error::Error for TimingError {}

impl Timing {
    /// Checks a pair of timing settings (`port_unreachable` on).
    pub fn new(heartbeat: Duration, timeout: Duration) -> Result<Timing, TimingError> {
        if !(MIN_HEARTBEAT..=MAX_HEARTBEAT).contains(&heartbeat) {
            return Err(TimingError::HeartbeatOutOfRange(heartbeat));
        }
        if timeout > MAX_TIMEOUT {
            return Err(TimingError::TimeoutOutOfRange(timeout));
        }
        if timeout < heartbeat * MIN_HEARTBEATS_PER_TIMEOUT {
            return Err(TimingError::TimeoutTooShort { heartbeat, timeout });
        }
        Ok(Timing {
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
        let d = Timing::default();
        assert_eq!(Timing::new(d.heartbeat, d.timeout), Ok(d));
    }

    #[test]
    fn bounds_are_enforced() {
        assert_eq!(
            Timing::new(Duration::from_micros(500), ms(10)),
            Err(TimingError::HeartbeatOutOfRange(Duration::from_micros(500)))
        );
        assert_eq!(
            Timing::new(ms(11_000), ms(60_000)),
            Err(TimingError::HeartbeatOutOfRange(ms(11_000)))
        );
        assert_eq!(
            Timing::new(ms(50), ms(121_000)),
            Err(TimingError::TimeoutOutOfRange(ms(121_000)))
        );
        assert_eq!(
            Timing::new(ms(50), ms(149)),
            Err(TimingError::TimeoutTooShort {
                heartbeat: ms(50),
                timeout: ms(149)
            })
        );
        assert!(Timing::new(ms(5), ms(25)).is_ok());
        assert!(Timing::new(ms(50), ms(150)).is_ok());
    }
}
