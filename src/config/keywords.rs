//! Every keyword the configuration language knows, one table per place it
//! may appear, spelled as the manual spells it (matching ignores case).
//! The parser finds directives and block parameters only through these
//! tables, so they are the complete list: the manual page test checks
//! wackamole.conf(5) against them.

/// A top-level directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Directive {
    /// `Spread`: the Spread daemon to connect to.
    Spread,
    /// `SpreadRetryInterval`: how long to wait before connecting again.
    SpreadRetryInterval,
    /// `Group`: the Spread group to join.
    Group,
    /// `Control`: the control socket's path.
    Control,
    /// `LogFacility`: the syslog facility.
    LogFacility,
    /// `Mature`: how long a new node waits before claiming.
    Mature,
    /// `Arp-Cache`: how often the ARP table is shared.
    ArpCache,
    /// `Balance { ... }`.
    Balance,
    /// `Prefer`: the VIFs this node prefers.
    Prefer,
    /// `Notify`: whom to tell of a move.
    Notify,
    /// `Announce { ... }`.
    Announce,
    /// `VirtualInterfaces` (or `VIFs`, `VIPs`): the addresses to keep up.
    VirtualInterfaces,
    /// `Run` (or `Exec`): the hooks.
    Run,
    /// `Identity`: this node's real address.
    Identity,
    /// `Membership { ... }`: the built-in group service.
    Membership,
    /// `Quorum`: how many members a view needs.
    Quorum,
    /// `Addresses { ... }`: kernel lifetimes of the VIF addresses.
    Addresses,
    /// `Track { ... }`: what makes this node unhealthy.
    Track,
    /// The original's module directory: accepted and ignored.
    ModuleDir,
    /// The original's dynamic hooks: refused with the `Run` line to use.
    RunDynamic,
}

/// Every spelling of every top-level directive.
pub const DIRECTIVES: &[(&str, Directive)] = &[
    ("Spread", Directive::Spread),
    ("SpreadRetryInterval", Directive::SpreadRetryInterval),
    ("Group", Directive::Group),
    ("Control", Directive::Control),
    ("LogFacility", Directive::LogFacility),
    ("Mature", Directive::Mature),
    ("Arp-Cache", Directive::ArpCache),
    ("Balance", Directive::Balance),
    ("Prefer", Directive::Prefer),
    ("Notify", Directive::Notify),
    ("Announce", Directive::Announce),
    ("VirtualInterfaces", Directive::VirtualInterfaces),
    ("VIFs", Directive::VirtualInterfaces),
    ("VIPs", Directive::VirtualInterfaces),
    ("Run", Directive::Run),
    ("Exec", Directive::Run),
    ("Identity", Directive::Identity),
    ("Membership", Directive::Membership),
    ("Quorum", Directive::Quorum),
    ("Addresses", Directive::Addresses),
    ("Track", Directive::Track),
    ("ModuleDir", Directive::ModuleDir),
    ("RunDynamic", Directive::RunDynamic),
    ("PerlUse", Directive::RunDynamic),
    ("PerlUseLib", Directive::RunDynamic),
];

/// A parameter inside `Balance { ... }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalanceParameter {
    /// `AcquisitionsPerRound`: VIFs the leader moves per round.
    AcquisitionsPerRound,
    /// `Interval`: time between rounds.
    Interval,
}

/// Every spelling of every `Balance` parameter.
pub const BALANCE_PARAMETERS: &[(&str, BalanceParameter)] = &[
    (
        "AcquisitionsPerRound",
        BalanceParameter::AcquisitionsPerRound,
    ),
    ("Interval", BalanceParameter::Interval),
];

/// A parameter inside `Membership { ... }` (the built-in group service).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipParameter {
    /// `Nodes`: the node list.
    Nodes,
    /// `Port`: the UDP port.
    Port,
    /// `Key`: the cluster key.
    Key,
    /// `AcceptKey`: one more key datagrams are accepted under (a key
    /// rotation).
    AcceptKey,
    /// `Heartbeat`: time between heartbeats.
    Heartbeat,
    /// `Timeout`: silence after which a node is taken as gone.
    Timeout,
    /// `PortUnreachable`: whether a peer whose host answers with ICMP
    /// port unreachable is suspected at once.
    PortUnreachable,
}

/// Every spelling of every `Membership` parameter.
pub const MEMBERSHIP_PARAMETERS: &[(&str, MembershipParameter)] = &[
    ("Nodes", MembershipParameter::Nodes),
    ("Port", MembershipParameter::Port),
    ("Key", MembershipParameter::Key),
    ("AcceptKey", MembershipParameter::AcceptKey),
    ("Heartbeat", MembershipParameter::Heartbeat),
    ("Timeout", MembershipParameter::Timeout),
    ("PortUnreachable", MembershipParameter::PortUnreachable),
];

/// A parameter inside `Announce { ... }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnounceParameter {
    /// `Refresh`: how often every held address is announced again.
    Refresh,
}

/// Every spelling of every `Announce` parameter.
pub const ANNOUNCE_PARAMETERS: &[(&str, AnnounceParameter)] =
    &[("Refresh", AnnounceParameter::Refresh)];

/// A parameter inside `Addresses { ... }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressesParameter {
    /// `Lifetime`: how long the kernel keeps an address we stop renewing.
    Lifetime,
    /// `TakeoverWait`: survivors wait out that lifetime before taking the
    /// addresses of a member that left.
    TakeoverWait,
}

/// Every spelling of every `Addresses` parameter.
pub const ADDRESSES_PARAMETERS: &[(&str, AddressesParameter)] = &[
    ("Lifetime", AddressesParameter::Lifetime),
    ("TakeoverWait", AddressesParameter::TakeoverWait),
];

/// A parameter inside `Track { ... }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackParameter {
    /// `Interface`: an interface whose state and carrier are watched.
    Interface,
    /// `Command`: a check command run every interval.
    Command,
    /// `File`: a file whose existence drains this node.
    File,
    /// `HoldDown`: the least time between two changes of health.
    HoldDown,
    /// `Unservable`: keep or release a VIF no member can serve.
    Unservable,
}

/// Every spelling of every `Track` parameter.
pub const TRACK_PARAMETERS: &[(&str, TrackParameter)] = &[
    ("Interface", TrackParameter::Interface),
    ("Command", TrackParameter::Command),
    ("File", TrackParameter::File),
    ("HoldDown", TrackParameter::HoldDown),
    ("Unservable", TrackParameter::Unservable),
];

/// A setting of a check command, in the braces after `Command = "..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckParameter {
    /// `Interval`: time between two runs.
    Interval,
    /// `Timeout`: a run is killed this long after it started.
    Timeout,
    /// `Fall`: failures in a row that fail the tracker.
    Fall,
    /// `Rise`: successes in a row that recover it.
    Rise,
}

/// Every spelling of every check command setting.
pub const CHECK_PARAMETERS: &[(&str, CheckParameter)] = &[
    ("Interval", CheckParameter::Interval),
    ("Timeout", CheckParameter::Timeout),
    ("Fall", CheckParameter::Fall),
    ("Rise", CheckParameter::Rise),
];

/// What `word` names in `table`, whatever its case.
pub fn lookup<T: Copy>(table: &[(&str, T)], word: &str) -> Option<T> {
    table
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map(|&(_, meaning)| meaning)
}
