//! What `wackatrl --watch` streams (request byte 4): the events the daemon
//! publishes ([`WatchEvent`]), each on one line of JSON stamped with the
//! time, and the lines that open and end a watch.
//!
//! A line is one JSON object with `time` (UTC, to the millisecond) and
//! `event`, then the fields of that event:
//!
//! | `event` | fields |
//! |---|---|
//! | `watching` | none: the first line, once the watch is in place |
//! | `view` | `members`: the new view's members as the group service names them (none: out of any view) |
//! | `acquired`, `released` | `vif` (index), `addresses` (as in the JSON status), `reason` (see [`MoveReason`]) and, for `tracker`, `tracker` (its name) |
//! | `quorum_met`, `quorum_lost` | `member_count` (members of the view), `needed` |
//! | `refused_datagram` | `reason` (as the status's `refused` counts), `source` (`ADDRESS:PORT`), `suppressed` (refused datagrams left out since the previous line, when any) |
//! | `end` | `end` (`stopping`, `fell_behind`, `too_many_watchers` or `bad_request`), `reason` (in words): the last line |
//!
//! Events and fields are only ever added: a client shows what it does not
//! know as such, and skips unknown fields.

use std::fmt::{self, Write as _};
use std::net::SocketAddr;

use nanoserde::SerJson;

use super::json::decode::{decode_object, DecodeError, Fields, FromValue, Misfit};
use super::json::value::Value;
use super::json::JsonAddress;
use crate::base::VifAddress;

/// Why a VIF was acquired or released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveReason {
    /// The allocation of a new view (the start, a member that joined, a
    /// quorum met again).
    View,
    /// A member that held it left the view.
    MemberLeft,
    /// The leader's balancing moved it.
    Balance,
    /// A tracker, named, changed whether this node should hold it.
    Tracker(String),
    /// A signal stops the daemon (SIGTERM, SIGINT, SIGQUIT).
    Signal,
    /// The view fell below quorum.
    Quorum,
    /// `wackatrl -f` simulates a failure.
    SimulatedFailure,
    /// The group service was lost (Spread gone, or the membership left).
    ServiceLost,
}

impl MoveReason {
    const NAMES: [&'static str; 8] = [
        "view",
        "member_left",
        "balance",
        "tracker",
        "signal",
        "quorum",
        "simulated_failure",
        "service_lost",
    ];

    /// The name on the JSON line.
    pub fn name(&self) -> &'static str {
        let index = match self {
            MoveReason::View => 0,
            MoveReason::MemberLeft => 1,
            MoveReason::Balance => 2,
            MoveReason::Tracker(_) => 3,
            MoveReason::Signal => 4,
            MoveReason::Quorum => 5,
            MoveReason::SimulatedFailure => 6,
            MoveReason::ServiceLost => 7,
        };
        MoveReason::NAMES[index]
    }

    /// The reason a JSON line names (`tracker` is the tracker's name).
    fn from_name(name: &str, tracker: Option<String>) -> Result<MoveReason, Misfit> {
        Ok(match name {
            "view" => MoveReason::View,
            "member_left" => MoveReason::MemberLeft,
            "balance" => MoveReason::Balance,
            "tracker" => {
                MoveReason::Tracker(tracker.ok_or(Misfit::new("the field").within("tracker"))?)
            }
            "signal" => MoveReason::Signal,
            "quorum" => MoveReason::Quorum,
            "simulated_failure" => MoveReason::SimulatedFailure,
            "service_lost" => MoveReason::ServiceLost,
            _ => return Err(Misfit::new("a reason such as `balance`").within("reason")),
        })
    }
}

impl fmt::Display for MoveReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoveReason::View => f.write_str("a new view"),
            MoveReason::MemberLeft => f.write_str("a member left"),
            MoveReason::Balance => f.write_str("balance"),
            MoveReason::Tracker(name) => write!(f, "tracker {}", printable(name)),
            MoveReason::Signal => f.write_str("a signal"),
            MoveReason::Quorum => f.write_str("below quorum"),
            MoveReason::SimulatedFailure => f.write_str("simulated failure"),
            MoveReason::ServiceLost => f.write_str("group service lost"),
        }
    }
}

/// Why the built-in membership refused a datagram (the reasons of the
/// JSON status's `refused` counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// It does not parse.
    Malformed,
    /// It fails authentication (another key, or altered).
    BadMac,
    /// It comes from another `Nodes` list.
    WrongCluster,
    /// It is not for us, or not from the sender's listed address.
    Misdirected,
    /// It comes from an earlier run of its node, or one that left.
    OldIncarnation,
    /// It was seen already.
    Replayed,
}

impl RefusalReason {
    /// Every reason, in the order of the status's `refused` objects.
    pub const ALL: [RefusalReason; 6] = [
        RefusalReason::Malformed,
        RefusalReason::BadMac,
        RefusalReason::WrongCluster,
        RefusalReason::Misdirected,
        RefusalReason::OldIncarnation,
        RefusalReason::Replayed,
    ];

    /// The name on the JSON line (a field name of the status's `refused`).
    pub fn name(self) -> &'static str {
        match self {
            RefusalReason::Malformed => "malformed",
            RefusalReason::BadMac => "bad_mac",
            RefusalReason::WrongCluster => "wrong_cluster",
            RefusalReason::Misdirected => "misdirected",
            RefusalReason::OldIncarnation => "old_incarnation",
            RefusalReason::Replayed => "replayed",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            RefusalReason::Malformed => "malformed",
            RefusalReason::BadMac => "failed authentication",
            RefusalReason::WrongCluster => "another cluster",
            RefusalReason::Misdirected => "misdirected",
            RefusalReason::OldIncarnation => "an old incarnation",
            RefusalReason::Replayed => "replayed",
        }
    }
}

/// One thing that happened, as the daemon publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// A new view: its members as the group service names them (Spread
    /// private groups, `ADDRESS/INCARNATION` for the built-in
    /// membership); none once out of any view.
    View {
        /// In view order.
        members: Vec<String>,
    },
    /// This node brought up a VIF's addresses.
    Acquired {
        /// The VIF's index in the configuration.
        vif: usize,
        /// Its addresses, primary first.
        addresses: Vec<VifAddress>,
        /// Why.
        reason: MoveReason,
    },
    /// This node took down a VIF's addresses.
    Released {
        /// The VIF's index in the configuration.
        vif: usize,
        /// Its addresses, primary first.
        addresses: Vec<VifAddress>,
        /// Why.
        reason: MoveReason,
    },
    /// The view has the members the quorum rule asks for (again).
    QuorumMet {
        /// Members of the view.
        members: usize,
        /// Members the rule asks for.
        needed: usize,
    },
    /// The view has fewer members than the quorum rule asks for.
    QuorumLost {
        /// Members of the view (0 out of any view).
        members: usize,
        /// Members the rule asks for.
        needed: usize,
    },
    /// The built-in membership refused a datagram.
    RefusedDatagram {
        /// Why.
        reason: RefusalReason,
        /// Where it came from.
        source: SocketAddr,
    },
}

/// Why a watch ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndCause {
    /// The daemon stops (or closes its control socket).
    Stopping,
    /// The watcher read too slowly and its queue overflowed.
    FellBehind,
    /// As many watchers as allowed are watching already.
    TooManyWatchers,
    /// The watcher sent bytes after the watch request.
    BadRequest,
}

impl EndCause {
    /// The name on the JSON line.
    pub fn name(self) -> &'static str {
        match self {
            EndCause::Stopping => "stopping",
            EndCause::FellBehind => "fell_behind",
            EndCause::TooManyWatchers => "too_many_watchers",
            EndCause::BadRequest => "bad_request",
        }
    }

    fn from_name(name: &str) -> Result<EndCause, Misfit> {
        match name {
            "stopping" => Ok(EndCause::Stopping),
            "fell_behind" => Ok(EndCause::FellBehind),
            "too_many_watchers" => Ok(EndCause::TooManyWatchers),
            "bad_request" => Ok(EndCause::BadRequest),
            _ => Err(Misfit::new("an end such as `stopping`").within("end")),
        }
    }
}

/// What one line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchItem {
    /// The watch is in place: every event published from now on follows.
    Watching,
    /// Something happened.
    Event(WatchEvent),
    /// The last line.
    End {
        /// Why, for programs.
        cause: EndCause,
        /// Why, in words.
        reason: String,
    },
    /// An event a newer daemon sends that this client does not know.
    Unknown(String),
}

/// One line of a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRecord {
    /// When, in UTC: `2024-05-01T12:34:56.789Z`.
    pub time: String,
    /// What.
    pub item: WatchItem,
    /// Refused datagrams left out (beyond the rate shown) since the
    /// previous line that showed one; 0 on every other line.
    pub suppressed: u64,
}

/// A line as it travels; every field but `time` and `event` is optional
/// and left out when empty.
#[derive(Debug, Clone, PartialEq, Default, SerJson)]
struct JsonWatchLine {
    time: String,
    event: String,
    members: Option<Vec<String>>,
    vif: Option<usize>,
    addresses: Option<Vec<JsonAddress>>,
    reason: Option<String>,
    tracker: Option<String>,
    member_count: Option<usize>,
    needed: Option<usize>,
    source: Option<String>,
    suppressed: Option<u64>,
    end: Option<String>,
}

impl WatchRecord {
    /// The line that travels: one JSON object and a newline.
    pub fn to_line(&self) -> String {
        let mut line = JsonWatchLine {
            time: self.time.clone(),
            suppressed: Some(self.suppressed).filter(|&n| n > 0),
            ..JsonWatchLine::default()
        };
        line.event = match &self.item {
            WatchItem::Watching => "watching".to_string(),
            WatchItem::Event(event) => event.fill(&mut line).to_string(),
            WatchItem::End { cause, reason } => {
                line.end = Some(cause.name().to_string());
                line.reason = Some(reason.clone());
                "end".to_string()
            }
            WatchItem::Unknown(name) => name.clone(),
        };
        line.serialize_json() + "\n"
    }

    /// Reads one line (without its newline). No text can make it panic or
    /// loop; an event this client does not know reads as
    /// [`WatchItem::Unknown`].
    pub fn decode(text: &str) -> Result<WatchRecord, DecodeError> {
        decode_object(text)
    }
}

impl WatchEvent {
    /// Fills the fields of this event; returns its name.
    fn fill(&self, line: &mut JsonWatchLine) -> &'static str {
        let json_addresses =
            |list: &[VifAddress]| Some(list.iter().map(JsonAddress::from).collect());
        let reason_fields = |line: &mut JsonWatchLine, reason: &MoveReason| {
            line.reason = Some(reason.name().to_string());
            if let MoveReason::Tracker(name) = reason {
                line.tracker = Some(name.clone());
            }
        };
        match self {
            WatchEvent::View { members } => {
                line.members = Some(members.clone());
                "view"
            }
            WatchEvent::Acquired {
                vif,
                addresses,
                reason,
            }
            | WatchEvent::Released {
                vif,
                addresses,
                reason,
            } => {
                line.vif = Some(*vif);
                line.addresses = json_addresses(addresses);
                reason_fields(line, reason);
                if matches!(self, WatchEvent::Acquired { .. }) {
                    "acquired"
                } else {
                    "released"
                }
            }
            WatchEvent::QuorumMet { members, needed }
            | WatchEvent::QuorumLost { members, needed } => {
                line.member_count = Some(*members);
                line.needed = Some(*needed);
                if matches!(self, WatchEvent::QuorumMet { .. }) {
                    "quorum_met"
                } else {
                    "quorum_lost"
                }
            }
            WatchEvent::RefusedDatagram { reason, source } => {
                line.reason = Some(reason.name().to_string());
                line.source = Some(source.to_string());
                "refused_datagram"
            }
        }
    }
}

impl FromValue for WatchRecord {
    fn from_value(value: &Value) -> Result<WatchRecord, Misfit> {
        let f = Fields::of(value)?;
        let time: String = f.required("time")?;
        let event: String = f.required("event")?;
        let reason = || f.required::<String>("reason");
        let moved = || -> Result<(usize, Vec<VifAddress>, MoveReason), Misfit> {
            let addresses: Vec<JsonAddress> = f.required("addresses")?;
            let addresses = addresses
                .iter()
                .enumerate()
                .map(|(i, a)| vif_address(a).map_err(|m| m.within(&format!("addresses[{i}]"))))
                .collect::<Result<_, _>>()?;
            let why = MoveReason::from_name(&reason()?, f.optional("tracker")?)?;
            Ok((f.required("vif")?, addresses, why))
        };
        let counts = || -> Result<(usize, usize), Misfit> {
            Ok((f.required("member_count")?, f.required("needed")?))
        };
        let item = match event.as_str() {
            "watching" => WatchItem::Watching,
            "view" => WatchItem::Event(WatchEvent::View {
                members: f.required("members")?,
            }),
            "acquired" => {
                let (vif, addresses, reason) = moved()?;
                WatchItem::Event(WatchEvent::Acquired {
                    vif,
                    addresses,
                    reason,
                })
            }
            "released" => {
                let (vif, addresses, reason) = moved()?;
                WatchItem::Event(WatchEvent::Released {
                    vif,
                    addresses,
                    reason,
                })
            }
            "quorum_met" => {
                let (members, needed) = counts()?;
                WatchItem::Event(WatchEvent::QuorumMet { members, needed })
            }
            "quorum_lost" => {
                let (members, needed) = counts()?;
                WatchItem::Event(WatchEvent::QuorumLost { members, needed })
            }
            "refused_datagram" => {
                let name = reason()?;
                let reason = RefusalReason::ALL
                    .into_iter()
                    .find(|r| r.name() == name)
                    .ok_or(Misfit::new("a reason such as `bad_mac`").within("reason"))?;
                let source: String = f.required("source")?;
                let source = source
                    .parse()
                    .map_err(|_| Misfit::new("ADDRESS:PORT").within("source"))?;
                WatchItem::Event(WatchEvent::RefusedDatagram { reason, source })
            }
            "end" => WatchItem::End {
                cause: EndCause::from_name(&f.required::<String>("end")?)?,
                reason: reason()?,
            },
            _ => WatchItem::Unknown(event),
        };
        Ok(WatchRecord {
            time,
            item,
            suppressed: f.optional("suppressed")?.unwrap_or(0),
        })
    }
}

fn vif_address(a: &JsonAddress) -> Result<VifAddress, Misfit> {
    Ok(VifAddress {
        interface: a.interface.clone(),
        addr: a
            .address
            .parse()
            .map_err(|_| Misfit::new("an IP address").within("address"))?,
        prefix_len: a.prefix_len,
        network_len: a.network_len,
    })
}

impl fmt::Display for WatchRecord {
    /// The line `wackatrl --watch` prints, without its newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", printable(&self.time))?;
        match &self.item {
            WatchItem::Watching => f.write_str("watching"),
            WatchItem::Event(event) => write!(f, "{event}"),
            WatchItem::End { reason, .. } => write!(f, "watch ended: {}", printable(reason)),
            WatchItem::Unknown(name) => {
                write!(
                    f,
                    "{} (an event this wackatrl does not know)",
                    printable(name)
                )
            }
        }?;
        match self.suppressed {
            0 => Ok(()),
            n => write!(f, " ({n} more not shown)"),
        }
    }
}

impl fmt::Display for WatchEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addresses = |list: &[VifAddress]| {
            let mut text = String::new();
            for a in list {
                let _ = write!(text, " {}", printable(&a.to_string()));
            }
            text
        };
        match self {
            WatchEvent::View { members } if members.is_empty() => {
                f.write_str("view: none (out of the group)")
            }
            WatchEvent::View { members } => {
                let names: Vec<String> = members.iter().map(|m| printable(m)).collect();
                write!(
                    f,
                    "view: {}: {}",
                    count(members.len(), "member"),
                    names.join(" ")
                )
            }
            WatchEvent::Acquired {
                vif,
                addresses: list,
                reason,
            } => write!(f, "acquired VIF {vif}{} ({reason})", addresses(list)),
            WatchEvent::Released {
                vif,
                addresses: list,
                reason,
            } => write!(f, "released VIF {vif}{} ({reason})", addresses(list)),
            WatchEvent::QuorumMet { members, needed } => {
                write!(
                    f,
                    "quorum met: {}, {needed} needed",
                    count(*members, "member")
                )
            }
            WatchEvent::QuorumLost { members, needed } => {
                write!(
                    f,
                    "quorum lost: {}, {needed} needed",
                    count(*members, "member")
                )
            }
            WatchEvent::RefusedDatagram { reason, source } => {
                write!(f, "refused a datagram from {source}: {}", reason.describe())
            }
        }
    }
}

fn count(n: usize, what: &str) -> String {
    match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}

/// Text from the daemon as a terminal may show it: control characters
/// escaped, so that a name cannot move the cursor or end the line.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests;
