//! Every keyword the configuration language knows, one table per place it
//! may appear, spelled as the manual spells it (matching ignores case).
//! The parser finds directives and block parameters only through these
//! tables, so they are the complete list: the manual page test checks
//! wackamole.conf(5) against them.

/// A top-level directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Directive {
    Spread,
    SpreadRetryInterval,
    Group,
    Control,
    LogFacility,
    Mature,
    ArpCache,
    Balance,
    Prefer,
    Notify,
    Announce,
    VirtualInterfaces,
    Run,
    Identity,
    Membership,
    Quorum,
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
    ("ModuleDir", Directive::ModuleDir),
    ("RunDynamic", Directive::RunDynamic),
    ("PerlUse", Directive::RunDynamic),
    ("PerlUseLib", Directive::RunDynamic),
];

/// A parameter inside `Balance { ... }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalanceParameter {
    AcquisitionsPerRound,
    Interval,
}

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
    Nodes,
    Port,
    Key,
    Heartbeat,
    Timeout,
}

pub const MEMBERSHIP_PARAMETERS: &[(&str, MembershipParameter)] = &[
    ("Nodes", MembershipParameter::Nodes),
    ("Port", MembershipParameter::Port),
    ("Key", MembershipParameter::Key),
    ("Heartbeat", MembershipParameter::Heartbeat),
    ("Timeout", MembershipParameter::Timeout),
];

/// A parameter inside `Announce { ... }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnounceParameter {
    Refresh,
}

pub const ANNOUNCE_PARAMETERS: &[(&str, AnnounceParameter)] =
    &[("Refresh", AnnounceParameter::Refresh)];

/// What `word` names in `table`, whatever its case.
pub fn lookup<T: Copy>(table: &[(&str, T)], word: &str) -> Option<T> {
    table
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map(|&(_, meaning)| meaning)
}
