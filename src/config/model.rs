//! The typed, validated configuration: what a `wackamole.conf` means once
//! it has been parsed. Every other layer reads these types; none of them
//! sees configuration text.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use super::{Quorum, ServiceConfig};
pub use crate::base::{
    prefix_mask, Ipv4Block, LogFacility, NotifyTarget, SpreadAddress, VifAddress,
    MAX_INTERFACE_NAME,
};

/// A virtual interface: addresses that always move together. The first is
/// the primary, which identifies the VIF on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vif {
    /// Never empty: the parser refuses an empty set.
    pub addresses: Vec<VifAddress>,
}

/// Where wire keys of VIFs with an IPv6 primary live: 240.0.0.0/4, which
/// no VIF uses.
const IPV6_KEY_BLOCK: u32 = 0xf000_0000;

impl Vif {
    /// The primary address: the first one listed, which names the VIF.
    pub fn primary(&self) -> &VifAddress {
        &self.addresses[0]
    }

    /// The four bytes that name this VIF between nodes (STATE and BALANCE
    /// carry IPv4 addresses): the primary itself when it is IPv4;
    /// otherwise a fixed hash of the IPv6 primary inside 240.0.0.0/4, the
    /// same on every node whatever the order of its VIFs. The
    /// configuration refuses two VIFs with the same key.
    pub fn wire_key(&self) -> Ipv4Addr {
        match self.primary().addr {
            IpAddr::V4(a) => a,
            IpAddr::V6(a) => Ipv4Addr::from(IPV6_KEY_BLOCK | (fnv1a(&a.octets()) >> 4)),
        }
    }
}

/// 32-bit FNV-1a: small, fixed forever, and spreads 16 bytes well enough
/// for a few thousand keys.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash: u32, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// What this node prefers to hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Prefer {
    /// No `Prefer` line at all: STATE carries no preferred address.
    #[default]
    Unspecified,
    /// `Prefer None`: STATE carries the single address 0.0.0.0, as C
    /// nodes send it.
    None,
    /// `Prefer ADDRESS` / `Prefer { ... }`: a block with BITS below 32
    /// prefers every VIF whose primary lies inside it.
    Blocks(Vec<Ipv4Block>),
}

/// `Announce { Refresh = T }` (ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AnnounceConfig {
    /// Announce every held address again every `T` (gratuitous ARP or
    /// unsolicited neighbour advertisement), spread over the period;
    /// `None` (the default): only when acquired.
    pub refresh: Option<Duration>,
}

/// The kernel lifetime given to a built-in membership's addresses when
/// the file does not say.
pub const DEFAULT_ADDRESS_LIFETIME: Duration = Duration::from_secs(2);

/// `Addresses { Lifetime = T  TakeoverWait = on }` (ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AddressesConfig {
    /// The kernel valid lifetime of every VIF address we add, renewed
    /// while we hold it: a process stopped or starved loses its addresses
    /// this long after its last renewal, by the kernel's own doing.
    /// `None`: permanent addresses, as the original added them (the
    /// default with Spread; [`DEFAULT_ADDRESS_LIFETIME`] with the built-in
    /// membership).
    pub lifetime: Option<Duration>,
    /// The survivors of a member that left the view bring its addresses up
    /// only once its kernel must have dropped them (the lifetime and the
    /// kernel's slack): never two holders even across a stall, at the
    /// price of a slower failover.
    pub takeover_wait: bool,
}

/// How long trackers wait between two changes of this node's health,
/// when the file does not say.
pub const DEFAULT_HOLD_DOWN: Duration = Duration::from_secs(2);

/// A check command's `Interval` when the file does not say.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// A check command's `Fall` when the file does not say.
pub const DEFAULT_CHECK_FALL: u32 = 3;

/// A check command's `Rise` when the file does not say.
pub const DEFAULT_CHECK_RISE: u32 = 2;

/// What becomes of a VIF that no member of the group can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unservable {
    /// It stays where it is, served as well as it can be (the default).
    #[default]
    Keep,
    /// It is released: nobody holds it until a member can serve it.
    Release,
}

/// `Command = "..." { Interval = T  Timeout = T  Fall = N  Rise = N }`
/// inside `Track` (ours).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckCommand {
    /// The command line, run by `/bin/sh -c`; exit status 0 passes.
    pub command: String,
    /// Time from the start of one run to the start of the next.
    pub interval: Duration,
    /// A run still going this long after it started is killed (its
    /// whole process group) and counts as a failure; below `interval`.
    pub timeout: Duration,
    /// Failures in a row that make the tracker fail (at least 1).
    pub fall: u32,
    /// Successes in a row that make a failed tracker pass again (at
    /// least 1).
    pub rise: u32,
}

impl CheckCommand {
    /// `command` with the default settings: every 2 s, killed after half
    /// the interval, failing after 3 failures, passing after 2 successes.
    pub fn new(command: impl Into<String>) -> CheckCommand {
        CheckCommand {
            command: command.into(),
            interval: DEFAULT_CHECK_INTERVAL,
            timeout: DEFAULT_CHECK_INTERVAL / 2,
            fall: DEFAULT_CHECK_FALL,
            rise: DEFAULT_CHECK_RISE,
        }
    }
}

/// `Track { ... }` (ours): what makes this node unhealthy while it fails.
/// The interfaces the VIFs' addresses sit on are tracked per VIF without
/// being listed here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackConfig {
    /// `Interface = NAME`: down, without carrier or missing fails.
    pub interfaces: Vec<String>,
    /// `Command = "..."`: a check run every interval.
    pub commands: Vec<CheckCommand>,
    /// `File = PATH`: its existence drains this node.
    pub files: Vec<PathBuf>,
    /// `HoldDown = T`: the least time between two changes of this node's
    /// health, and how long a recovered tracker must pass first.
    pub hold_down: Duration,
    /// `Unservable = keep | release`.
    pub unservable: Unservable,
}

impl TrackConfig {
    /// Whether the block lists any tracker.
    pub fn is_empty(&self) -> bool {
        self.interfaces.is_empty() && self.commands.is_empty() && self.files.is_empty()
    }
}

impl Default for TrackConfig {
    fn default() -> Self {
        TrackConfig {
            interfaces: Vec::new(),
            commands: Vec::new(),
            files: Vec::new(),
            hold_down: DEFAULT_HOLD_DOWN,
            unservable: Unservable::Keep,
        }
    }
}

/// `AcquisitionsPerRound`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcquisitionsPerRound {
    /// Move at most this many VIFs per balance round.
    Limited(u32),
    /// Balance everything at once, once per transition to RUN.
    All,
}

/// `Balance { ... }`: how the leader evens out the VIFs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    /// VIFs moved per round.
    pub acquisitions_per_round: AcquisitionsPerRound,
    /// Time between rounds.
    pub interval: Duration,
}

impl Default for Balance {
    fn default() -> Self {
        Balance {
            acquisitions_per_round: AcquisitionsPerRound::Limited(1),
            interval: Duration::from_secs(4),
        }
    }
}

/// When a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookEvent {
    /// After each VIF is brought up.
    OnUp,
    /// After each VIF is taken down.
    OnDown,
    /// Once after a round in which anything was acquired.
    PostUp,
    /// Once after a round in which anything was released.
    PostDown,
}

impl HookEvent {
    /// The event as written in the configuration (`on up`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::OnUp => "on up",
            HookEvent::OnDown => "on down",
            HookEvent::PostUp => "post up",
            HookEvent::PostDown => "post down",
        }
    }
}

/// `Run "COMMAND" EVENT` (ours; `Exec` is a synonym).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// The command line, run by the shell.
    pub command: String,
    /// When it runs.
    pub event: HookEvent,
}

/// A whole, validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `Spread`, `SpreadRetryInterval` and `Group`, or `Membership { ... }`:
    /// the group service.
    pub service: ServiceConfig,
    /// `Control = PATH`: the control socket, if any.
    pub control: Option<PathBuf>,
    /// `LogFacility`: where syslog records go.
    pub log_facility: LogFacility,
    /// `Mature`: how long a new node waits before claiming VIFs.
    pub mature: Duration,
    /// `Arp-Cache`: how often this node shares its ARP table with the
    /// others (not the merged cache, which the engine keeps).
    pub arp_cache_interval: Duration,
    /// `Balance { ... }`.
    pub balance: Balance,
    /// `Prefer`: the VIFs this node prefers.
    pub prefer: Prefer,
    /// `Notify`: whom to tell when a VIF arrives here.
    pub notify: Vec<NotifyTarget>,
    /// `Announce { ... }` (ours).
    pub announce: AnnounceConfig,
    /// `Addresses { ... }` (ours).
    pub addresses: AddressesConfig,
    /// `Track { ... }` (ours): this node's trackers.
    pub track: TrackConfig,
    /// Never empty.
    pub vifs: Vec<Vif>,
    /// `Run`/`Exec` hooks, in file order.
    pub hooks: Vec<Hook>,
    /// The real address identifying this node to its peers, if set
    /// explicitly (ours); otherwise the daemon derives it at start.
    pub identity: Option<Ipv4Addr>,
    /// `Quorum` (ours).
    pub quorum: Quorum,
}

impl Default for Config {
    /// The defaults of the manual page; `vifs` is empty, which the parser
    /// never lets through.
    fn default() -> Self {
        Config {
            service: ServiceConfig::default(),
            control: None,
            log_facility: LogFacility::default(),
            mature: Duration::from_secs(5),
            arp_cache_interval: Duration::from_secs(60),
            balance: Balance::default(),
            prefer: Prefer::default(),
            notify: Vec::new(),
            announce: AnnounceConfig::default(),
            addresses: AddressesConfig::default(),
            track: TrackConfig::default(),
            vifs: Vec::new(),
            hooks: Vec::new(),
            identity: None,
            quorum: Quorum::None,
        }
    }
}

/// Settings the command line gives over the file's (`-s`, `-i`). They are
/// applied again to a file re-read while running, so a reload compares
/// like with like.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Overrides {
    /// `-s`: the Spread daemon (a configuration with the built-in
    /// membership keeps it; the command line refuses the pair).
    pub spread: Option<SpreadAddress>,
    /// `-i`: this node's real address.
    pub identity: Option<Ipv4Addr>,
}

impl Overrides {
    /// `config` with these settings put over the file's.
    pub fn apply(&self, mut config: Config) -> Config {
        if let (Some(address), ServiceConfig::Spread(spread)) = (&self.spread, &mut config.service)
        {
            spread.address = address.clone();
        }
        if let Some(identity) = self.identity {
            config.identity = Some(identity);
        }
        config
    }
}

impl Config {
    /// The addresses this node sends as preferred in its STATE message:
    /// nothing for no `Prefer` line, 0.0.0.0 for `Prefer None`, otherwise
    /// the primary of every VIF inside a preferred block (a /32 block that
    /// matches no VIF is still sent, so peers see what we asked for).
    /// Blocks count in the order written, the VIFs of one block in
    /// configuration order, and each address once.
    ///
    /// The primaries are sorted once, so the VIFs of a block are a range
    /// found by binary search; a VIF taken by one block is skipped by
    /// later ones without being visited again. About n log n in the
    /// number of VIFs and blocks.
    pub fn preferred_addresses(&self) -> Vec<Ipv4Addr> {
        let blocks = match &self.prefer {
            Prefer::Unspecified => return Vec::new(),
            Prefer::None => return vec![Ipv4Addr::UNSPECIFIED],
            Prefer::Blocks(blocks) => blocks,
        };
        // (IPv4 primary, VIF index), by address then configuration order;
        // a VIF with an IPv6 primary lies in no IPv4 block.
        let mut sorted: Vec<(u32, usize)> = (self.vifs.iter().enumerate())
            .filter_map(|(i, vif)| vif.primary().ipv4().map(|a| (u32::from(a), i)))
            .collect();
        sorted.sort_unstable();
        let mut untaken = Untaken::new(sorted.len());
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut found = Vec::new();
        for block in blocks {
            if block.prefix_len >= 32 {
                if seen.insert(block.addr) {
                    out.push(block.addr);
                }
                continue;
            }
            let mask = prefix_mask(block.prefix_len);
            let first = u32::from(block.addr) & mask;
            let last = first | !mask;
            let start = sorted.partition_point(|&(a, _)| a < first);
            let end = sorted.partition_point(|&(a, _)| a <= last);
            found.clear();
            let mut at = untaken.next(start);
            while at < end {
                found.push(sorted[at].1);
                untaken.take(at);
                at = untaken.next(at + 1);
            }
            found.sort_unstable();
            for &vif in &found {
                let Some(primary) = self.vifs[vif].primary().ipv4() else {
                    continue;
                };
                if seen.insert(primary) {
                    out.push(primary);
                }
            }
        }
        out
    }
}

/// Positions 0..n not taken yet: `next(i)` is the first untaken position
/// at or after `i` (n when none), in amortized near-constant time (a
/// disjoint-set forest with path halving).
struct Untaken {
    /// Where to look next from each position; a position that points at
    /// itself is untaken. Position n is a sentinel, never taken.
    next: Vec<usize>,
}

impl Untaken {
    fn new(n: usize) -> Untaken {
        Untaken {
            next: (0..=n).collect(),
        }
    }

    fn next(&mut self, mut i: usize) -> usize {
        while self.next[i] != i {
            let skip = self.next[self.next[i]];
            self.next[i] = skip;
            i = skip;
        }
        i
    }

    /// Takes position `i` (< n).
    fn take(&mut self, i: usize) {
        self.next[i] = i + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SpreadConfig;

    #[test]
    fn overrides_replace_only_what_they_name() {
        let file = Config {
            service: ServiceConfig::Spread(SpreadConfig {
                group: "g".into(),
                ..SpreadConfig::default()
            }),
            identity: Some(Ipv4Addr::new(192, 0, 2, 1)),
            ..Config::default()
        };
        let spread_only = Overrides {
            spread: Some(SpreadAddress::Unix("/run/spread.sock".into())),
            identity: None,
        };
        let applied = spread_only.apply(file.clone());
        assert_eq!(
            applied.service,
            ServiceConfig::Spread(SpreadConfig {
                address: SpreadAddress::Unix("/run/spread.sock".into()),
                group: "g".into(),
                ..SpreadConfig::default()
            })
        );
        assert_eq!(applied.identity, file.identity);
        let identity = Overrides {
            spread: None,
            identity: Some(Ipv4Addr::new(192, 0, 2, 9)),
        };
        assert_eq!(
            identity.apply(file.clone()).identity,
            Some(Ipv4Addr::new(192, 0, 2, 9))
        );
        assert_eq!(Overrides::default().apply(file.clone()), file);
        let builtin = Config {
            service: ServiceConfig::Membership(crate::config::MembershipConfig {
                nodes: vec![Ipv4Addr::new(192, 0, 2, 1)],
                more_links: Vec::new(),
                port: 4810,
                key: "/k".into(),
                accept_key: None,
                timing: Default::default(),
            }),
            ..Config::default()
        };
        assert_eq!(spread_only.apply(builtin.clone()), builtin);
    }

    #[test]
    fn wire_keys_name_ipv4_vifs_by_their_primary_and_ipv6_ones_inside_240_slash_4() {
        let vif = |addr: &str| Vif {
            addresses: vec![VifAddress {
                interface: "eth0".into(),
                addr: addr.parse().unwrap(),
                prefix_len: 64,
                network_len: 64,
            }],
        };
        assert_eq!(vif("10.0.0.5").wire_key(), Ipv4Addr::new(10, 0, 0, 5));
        let a = vif("2001:db8::10").wire_key();
        let b = vif("2001:db8::11").wire_key();
        assert_eq!(a.octets()[0] & 0xf0, 0xf0);
        assert_eq!(b.octets()[0] & 0xf0, 0xf0);
        assert_ne!(a, b);
        assert_eq!(a, vif("2001:db8::10").wire_key());
    }

    #[test]
    fn the_key_hash_is_fnv1a() {
        // Published FNV-1a test vectors: nodes of different builds agree.
        assert_eq!(fnv1a(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn preferred_addresses_follow_the_wire_convention() {
        let vif = |a: [u8; 4]| Vif {
            addresses: vec![VifAddress {
                interface: "eth0".into(),
                addr: Ipv4Addr::from(a).into(),
                prefix_len: 32,
                network_len: 24,
            }],
        };
        let mut config = Config {
            vifs: vec![vif([10, 0, 0, 1]), vif([10, 0, 0, 2]), vif([10, 0, 1, 1])],
            ..Config::default()
        };
        assert!(config.preferred_addresses().is_empty());
        config.prefer = Prefer::None;
        assert_eq!(config.preferred_addresses(), vec![Ipv4Addr::UNSPECIFIED]);
        config.prefer = Prefer::Blocks(vec![
            Ipv4Block {
                addr: Ipv4Addr::new(10, 0, 0, 0),
                prefix_len: 24,
            },
            Ipv4Block {
                addr: Ipv4Addr::new(10, 0, 0, 2),
                prefix_len: 32,
            },
        ]);
        assert_eq!(
            config.preferred_addresses(),
            vec![Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)]
        );
    }

    /// What `preferred_addresses` means, written the plain way: for each
    /// block in order, the /32 itself or every VIF primary inside it, in
    /// configuration order, each address once.
    fn preferred_by_definition(config: &Config) -> Vec<Ipv4Addr> {
        let Prefer::Blocks(blocks) = &config.prefer else {
            return config.preferred_addresses();
        };
        let mut out = Vec::new();
        for block in blocks {
            let inside: Vec<Ipv4Addr> = if block.prefix_len >= 32 {
                vec![block.addr]
            } else {
                let primaries = config.vifs.iter().filter_map(|v| v.primary().ipv4());
                primaries.filter(|&a| block.contains(a)).collect()
            };
            for a in inside {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
        out
    }

    #[test]
    fn preferred_addresses_match_the_definition_on_random_configs() {
        // splitmix64, so that every run checks the same configurations.
        let mut state = 0x5eed_u64;
        let mut next = move |below: u64| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) % below
        };
        for round in 0..3000 {
            // Addresses from a small space, so blocks overlap, nest and
            // repeat, and primaries repeat too.
            let address = |n: &mut dyn FnMut(u64) -> u64| {
                Ipv4Addr::new(10, n(3) as u8, n(4) as u8, n(8) as u8)
            };
            let vifs = (0..next(40))
                .map(|_| Vif {
                    addresses: vec![VifAddress {
                        interface: "eth0".into(),
                        addr: address(&mut next).into(),
                        prefix_len: 24,
                        network_len: 24,
                    }],
                })
                .collect();
            let blocks = (0..next(12))
                .map(|_| Ipv4Block {
                    addr: address(&mut next),
                    prefix_len: [0, 8, 16, 22, 24, 29, 30, 31, 32][next(9) as usize],
                })
                .collect();
            let config = Config {
                vifs,
                prefer: Prefer::Blocks(blocks),
                ..Config::default()
            };
            assert_eq!(
                config.preferred_addresses(),
                preferred_by_definition(&config),
                "round {round}: {config:?}"
            );
        }
    }
}
