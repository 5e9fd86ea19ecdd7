//! The daemon's own core on every simulated node: the same
//! [`Core`] over the same built-in service the daemon runs, with the
//! node's driver played by the simulation (a [`SimLink`] collects the
//! service's commands; they are carried out on the simulated node at the
//! same simulated instant) and the machine played by a [`SimHost`] that
//! keeps what each host's kernel holds in [`Kernels`], in simulated time.
//!
//! What the checks look at is that physical timeline, not the engines'
//! tables: which host has an address configured at each instant.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wackamole::base::{ArpEntry, Level, VifAddress};
use wackamole::config::{self, Config, Hook, HookEvent};
use wackamole::control::WatchEvent;
use wackamole::daemon::builtin_service::{BuiltinService, NodeCommand, NodeLink, NodeReport};
use wackamole::daemon::core::{Core, KERNEL_SLACK};
use wackamole::daemon::group::GroupService;
use wackamole::daemon::host::{Added, Announcement, Host, HostError, Renewed};
use wackamole::engine::RELEASE_WAIT;
use wackamole::hooks::HookDetails;
use wackamole::membership::{self, MulticastError, NodeEvent, Timing, ViewId};
use wackamole::net::lease::Lease;

use super::rng::Rng;
use super::simnet::{self, Net, SlotState};
use super::vsync::Tag;

/// First byte after the tag of the simulation's own chatter (a bridge
/// payload starts with 0 or 1).
pub const CHATTER: u8 = 0xA5;

/// The service's commands, kept for the simulation to carry out, and the
/// lease the membership thread renews while its node is in a view.
#[derive(Clone)]
pub struct SimLink {
    outbox: Rc<RefCell<Vec<NodeCommand>>>,
    lease: Arc<Lease>,
}

impl NodeLink for SimLink {
    fn command(&mut self, command: NodeCommand) -> bool {
        self.outbox.borrow_mut().push(command);
        true
    }

    fn status(&self) -> Option<(membership::Status, Instant)> {
        None
    }

    fn lease(&self) -> Option<Arc<Lease>> {
        Some(self.lease.clone())
    }
}

/// One change of a kernel, for the checks of the step it happened in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub host: usize,
    pub address: String,
    pub at: u64,
    pub added: bool,
}

/// What every host's kernel holds, in simulated time (µs).
#[derive(Default)]
pub struct Kernels {
    /// Address → host → until when the kernel keeps it (µs; `u64::MAX`
    /// without a lifetime).
    held: BTreeMap<String, BTreeMap<usize, u64>>,
    /// (host, address) → when it was last taken down, and whether a
    /// failure explains it.
    released: BTreeMap<(usize, String), (u64, bool)>,
    /// Address → the last host to add it, and when.
    last_added: BTreeMap<String, (usize, u64)>,
    /// Changes since the last check.
    fresh: Vec<Change>,
    /// The simulated time of the call under way.
    pub now: u64,
    /// The last moment something disturbed the cluster (a fault, loss, a
    /// cut link, a paused node).
    pub disturbed_at: u64,
}

impl Kernels {
    fn add(&mut self, host: usize, address: &str, lifetime: Option<Duration>) -> bool {
        self.expire();
        let until = lifetime.map_or(u64::MAX, |l| self.now + l.as_micros() as u64);
        let added = self
            .held
            .entry(address.to_string())
            .or_default()
            .insert(host, until)
            .is_none();
        if added {
            self.fresh.push(Change {
                host,
                address: address.to_string(),
                at: self.now,
                added: true,
            });
        }
        added
    }

    /// Whether `host`'s kernel holds `address`; renewed for `lifetime`.
    fn renew(&mut self, host: usize, address: &str, lifetime: Duration) -> bool {
        self.expire();
        let until = self.now + lifetime.as_micros() as u64;
        match self.held.get_mut(address).and_then(|h| h.get_mut(&host)) {
            Some(at) => {
                *at = until;
                true
            }
            None => false,
        }
    }

    /// What the kernels dropped by themselves: every address whose
    /// lifetime ran out by now.
    pub fn expire(&mut self) {
        let now = self.now;
        for (address, holders) in self.held.iter_mut() {
            let gone: Vec<usize> = holders
                .iter()
                .filter(|(_, &until)| until <= now)
                .map(|(&h, _)| h)
                .collect();
            for host in gone {
                holders.remove(&host);
                self.fresh.push(Change {
                    host,
                    address: address.clone(),
                    at: now,
                    added: false,
                });
            }
        }
    }

    fn remove(&mut self, host: usize, address: &str) {
        self.expire();
        if let Some(holders) = self.held.get_mut(address) {
            if holders.remove(&host).is_some() {
                self.fresh.push(Change {
                    host,
                    address: address.to_string(),
                    at: self.now,
                    added: false,
                });
            }
        }
    }

    /// The machine of `host` is gone: so are its addresses.
    pub fn host_died(&mut self, host: usize) {
        for holders in self.held.values_mut() {
            holders.remove(&host);
        }
        self.released.retain(|(h, _), _| *h != host);
        self.fresh.retain(|c| c.host != host);
    }

    /// The changes since the last call.
    pub fn take_fresh(&mut self) -> Vec<Change> {
        self.expire();
        std::mem::take(&mut self.fresh)
    }

    /// The hosts holding `address` now.
    pub fn holders(&self, address: &str) -> Vec<usize> {
        self.held
            .get(address)
            .map(|h| h.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Checks the changes since the last call: a host that takes an
    /// address back after releasing it, when no other host held it
    /// meanwhile, no failure explains the release (`excused`, asked of
    /// each release) and nothing disturbed the cluster since, has
    /// flapped: a join made it give up what it keeps afterwards, and the
    /// address was out of service for nothing.
    pub fn check_flaps(
        &mut self,
        changes: &[Change],
        mut excused: impl FnMut(usize) -> bool,
    ) -> Result<(), String> {
        for change in changes.iter().cloned() {
            let key = (change.host, change.address.clone());
            if !change.added {
                let why = excused(change.host);
                self.released.insert(key, (change.at, why));
                continue;
            }
            let moved_meanwhile = self
                .last_added
                .insert(change.address.clone(), (change.host, change.at))
                .is_some_and(|(host, _)| host != change.host);
            if let Some(&(at, why)) = self.released.get(&key) {
                // Moved to another host and back is the balance at work;
                // released, unheld and taken back is a flap.
                if !why && !moved_meanwhile && at > self.disturbed_at {
                    return Err(format!(
                        "host {} took {} back at {}us after releasing it at {at}us, with no \
                         failure to explain the release and no fault since (last at {}us)",
                        change.host, change.address, change.at, self.disturbed_at
                    ));
                }
            }
        }
        Ok(())
    }
}

/// One simulated host: its kernel is a part of [`Kernels`].
pub struct SimHost {
    me: usize,
    kernels: Rc<RefCell<Kernels>>,
    trace: bool,
}

impl Host for SimHost {
    fn add(
        &mut self,
        address: &VifAddress,
        lifetime: Option<Duration>,
    ) -> Result<Added, HostError> {
        let mut kernels = self.kernels.borrow_mut();
        Ok(if kernels.add(self.me, &address.to_string(), lifetime) {
            Added::New
        } else {
            Added::Present
        })
    }

    fn renew(
        &mut self,
        addresses: &[VifAddress],
        lifetime: Duration,
    ) -> Vec<Result<Renewed, HostError>> {
        let mut kernels = self.kernels.borrow_mut();
        addresses
            .iter()
            .map(|a| {
                Ok(if kernels.renew(self.me, &a.to_string(), lifetime) {
                    Renewed::Renewed
                } else {
                    Renewed::Missing
                })
            })
            .collect()
    }

    fn remove(&mut self, address: &VifAddress) -> Result<(), HostError> {
        self.kernels
            .borrow_mut()
            .remove(self.me, &address.to_string());
        Ok(())
    }

    fn read_arp_table(&mut self) -> Result<Vec<ArpEntry>, HostError> {
        Ok(Vec::new())
    }

    fn announce(&mut self, _announcement: Announcement) {}

    fn cancel_announcement(&mut self, _vif: usize) {}

    fn run_hooks(&mut self, _event: HookEvent, _hooks: &[Hook], _details: HookDetails) {}

    fn watch(&mut self, _event: WatchEvent) {}

    fn log(&mut self, level: Level, message: fmt::Arguments<'_>) {
        if self.trace {
            eprintln!(
                "[{}us] daemon {} {}: {message}",
                self.kernels.borrow().now,
                self.me,
                level.as_str()
            );
        }
    }
}

type SimCore = Core<BuiltinService<SimLink>, SimHost>;

struct Slot {
    core: SimCore,
    link: SimLink,
    /// The join the node's events belong to.
    epoch: u64,
    /// The quorum the core asked the node to keep a lease for.
    quorum: usize,
}

/// A daemon core per node.
pub struct Daemons {
    slots: Vec<Option<Slot>>,
    configs: Vec<Config>,
    pub kernels: Rc<RefCell<Kernels>>,
    /// Per node: tagged payloads whose multicast bounced off an ended view.
    bounced: Vec<Vec<Vec<u8>>>,
    vifs: usize,
    /// Every node needs a majority of the listed nodes to hold anything.
    pub majority: bool,
    /// Survivors wait a departed member's lifetime out.
    pub takeover_wait: bool,
    /// How long the membership thread's lease lasts after a heartbeat.
    lease_age: Duration,
    /// Nodes that left (false) or joined with a new incarnation (true),
    /// in order, for the checker: a daemon may leave and join again by
    /// itself.
    pub lifecycle: Vec<(usize, bool)>,
    trace: bool,
}

/// The address of VIF `k` as configured.
pub fn vif_address(k: usize) -> String {
    format!("sim0:10.10.{}.{}/32", k / 200, k % 200 + 1)
}

impl Daemons {
    /// Configurations for `n` nodes drawn from `seed`: the VIFs, maturity,
    /// balancing, preferences and quorum.
    pub fn new(n: usize, seed: u64, settings: Timing) -> Daemons {
        let mut rng = Rng(seed ^ 0x00e4_614e);
        let vifs = rng.range(1, 12);
        let per_round = if rng.chance(50) {
            "all".to_string()
        } else {
            rng.range(1, 3).to_string()
        };
        let mature = rng.range(0, 400);
        let interval = rng.range(100, 400);
        let majority = rng.chance(50);
        let lifetime = rng.range(1, 3);
        let takeover_wait = rng.chance(20);
        let nodes: Vec<String> = (0..n)
            .map(|i| simnet::address(i).ip().to_string())
            .collect();
        let addresses: Vec<String> = (0..vifs).map(vif_address).collect();
        let configs = (0..n)
            .map(|_| {
                let prefer = if rng.chance(20) {
                    let k = rng.below(vifs);
                    format!("Prefer {}\n", &addresses[k][5..addresses[k].len() - 3])
                } else {
                    String::new()
                };
                let text = format!(
                    "Membership {{\n Nodes {{ {} }}\n Port = {}\n Key = /nonexistent/sim.key\n \
                     Heartbeat = {}ms\n Timeout = {}ms\n}}\nQuorum = {}\nMature = {mature}ms\n\
                     Balance {{ AcquisitionsPerRound = {per_round} Interval = {interval}ms }}\n\
                     Addresses {{ Lifetime = {lifetime}s TakeoverWait = {} }}\n\
                     {prefer}VirtualInterfaces {{ {} }}\n",
                    nodes.join(" "),
                    simnet::PORT,
                    settings.heartbeat.as_millis(),
                    settings.timeout.as_millis(),
                    if majority { "majority" } else { "none" },
                    if takeover_wait { "on" } else { "off" },
                    addresses.join(" "),
                );
                config::parse(&text, "sim.conf")
                    .unwrap_or_else(|e| panic!("the simulation's configuration: {e}\n{text}"))
                    .0
            })
            .collect();
        Daemons {
            slots: (0..n).map(|_| None).collect(),
            configs,
            kernels: Rc::new(RefCell::new(Kernels::default())),
            bounced: vec![Vec::new(); n],
            vifs,
            majority,
            takeover_wait,
            lease_age: settings.timeout / 2,
            lifecycle: Vec::new(),
            trace: std::env::var_os("WACKAMOLE_MSIM_ENGINE").is_some(),
        }
    }

    /// Simulated time the engines need to settle once the views have:
    /// maturity, balancing one VIF per round at worst, the release wait of
    /// a handoff, and under `TakeoverWait` the lifetime of a departed
    /// owner's addresses (a joining node waits it out for every VIF).
    pub fn settle_time(&self) -> Duration {
        let c = &self.configs[0];
        let wait = match (c.addresses.takeover_wait, c.addresses.lifetime) {
            (true, Some(lifetime)) => lifetime + KERNEL_SLACK,
            _ => Duration::ZERO,
        };
        c.mature
            + c.balance.interval * (self.vifs as u32 + 2)
            + wait
            + RELEASE_WAIT
            + Duration::from_millis(500)
    }

    /// Starts the daemon of node `i` (its node starts as it joins).
    pub fn start(&mut self, i: usize, net: &mut Net) {
        let config = self.configs[i].clone();
        let membership = config
            .service
            .membership()
            .cloned()
            .expect("a Membership block");
        let link = SimLink {
            outbox: Rc::default(),
            lease: Arc::new(Lease::new(self.lease_age)),
        };
        let service = BuiltinService::new(
            simnet::address(i),
            i,
            &membership,
            Default::default(),
            link.clone(),
        );
        let identity = service.identity().expect("the membership names us");
        let host = SimHost {
            me: i,
            kernels: self.kernels.clone(),
            trace: self.trace,
        };
        self.slots[i] = Some(Slot {
            core: Core::new(config, identity, service, host),
            link,
            epoch: 0,
            quorum: 0,
        });
        self.bounced[i].clear();
        self.with_core(i, net, |core, now| core.start(now));
    }

    /// kill -9 of the machine: the daemon and its addresses are gone.
    pub fn crashed(&mut self, i: usize) {
        self.slots[i] = None;
        self.kernels.borrow_mut().host_died(i);
    }

    /// SIGTERM: the daemon releases everything, leaves and exits.
    pub fn stop(&mut self, i: usize, net: &mut Net) {
        self.with_core(i, net, |core, now| core.shut_down(now));
        self.slots[i] = None;
    }

    /// Runs `f` on node `i`'s core at the simulation's time, then carries
    /// out what its service asked of the node.
    fn with_core(&mut self, i: usize, net: &mut Net, f: impl FnOnce(&mut SimCore, Instant)) {
        let now = net.instant(net.now);
        self.kernels.borrow_mut().now = net.now;
        self.kernels.borrow_mut().expire();
        let Some(slot) = self.slots[i].as_mut() else {
            return;
        };
        // As the membership thread does each turn: the lease follows the
        // node's heartbeats while it is in a view.
        match net.slots[i].node.as_ref() {
            Some(node) if node.status().view.is_some() => {
                slot.link.lease.renew(node.last_heartbeat())
            }
            _ => slot.link.lease.revoke(),
        }
        f(&mut slot.core, now);
        let commands = std::mem::take(&mut *slot.link.outbox.borrow_mut());
        for command in commands {
            self.carry_out(i, command, net);
        }
    }

    fn carry_out(&mut self, i: usize, command: NodeCommand, net: &mut Net) {
        match command {
            NodeCommand::Join { epoch, .. } => {
                let quorum = self.slots[i].as_mut().map_or(0, |slot| {
                    slot.epoch = epoch;
                    slot.quorum
                });
                net.start(i);
                if let Some(node) = net.slots[i].node.as_mut() {
                    node.set_quorum(quorum);
                }
                self.lifecycle.push((i, true));
            }
            NodeCommand::Quorum(needed) => {
                if let Some(slot) = self.slots[i].as_mut() {
                    slot.quorum = needed;
                }
                if let Some(node) = net.slots[i].node.as_mut() {
                    node.set_quorum(needed);
                }
            }
            NodeCommand::Leave => {
                net.leave(i);
                // What the node said as it left belongs to the member that
                // is gone; the checker hears of it as a departure.
                net.events.retain(|(n, _)| *n != i);
                self.lifecycle.push((i, false));
            }
            NodeCommand::Multicast { view, payload } => self.send(i, view, &payload, net),
            // The simulation never re-reads a configuration.
            NodeCommand::Timing(_) | NodeCommand::Keys(_) | NodeCommand::Stop => {}
        }
    }

    /// Multicasts a bridge payload of node `i` with the checker's tag.
    fn send(&mut self, i: usize, view: ViewId, payload: &[u8], net: &mut Net) {
        let Some(member) = net.slots[i].node.as_ref().map(|n| n.member()) else {
            return;
        };
        let tag = Tag {
            origin: member,
            counter: net.next_counter(i),
            view,
        };
        let tagged = tag.encode(payload);
        if net.multicast(i, view, tagged.clone()) == Err(MulticastError::ViewEnded) {
            self.bounced[i].push(tagged);
        }
    }

    /// The next deadline of a running node's core (a paused one acts
    /// once it wakes).
    pub fn next_at(&self, net: &Net) -> Option<u64> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(i, _)| net.running(*i))
            .filter_map(|(_, s)| s.as_ref()?.core.poll_timeout())
            // Rounded up: a deadline between two microseconds is due at the
            // later one (the core may ask for thirds of a second).
            .map(|at| {
                at.saturating_duration_since(net.base)
                    .as_nanos()
                    .div_ceil(1000) as u64
            })
            .min()
    }

    pub fn fire_due(&mut self, net: &mut Net) {
        for i in 0..self.slots.len() {
            if !net.running(i) {
                continue;
            }
            let due = self.slots[i]
                .as_ref()
                .and_then(|s| s.core.poll_timeout())
                .is_some_and(|at| at <= net.instant(net.now));
            if due {
                self.with_core(i, net, |core, now| core.handle_timeout(now));
            }
        }
    }

    /// Hands a node's event to its daemon, as the membership thread would.
    pub fn event(&mut self, i: usize, event: &NodeEvent, net: &mut Net) {
        let Some(epoch) = self.slots[i].as_ref().map(|s| s.epoch) else {
            return;
        };
        let mut bounced = false;
        // The payloads carry the checker's tag before the bridge's bytes.
        let event = match event {
            NodeEvent::Deliver { origin, payload } => match Tag::decode(payload) {
                Some((_, rest)) if rest.first() != Some(&CHATTER) => NodeEvent::Deliver {
                    origin: *origin,
                    payload: rest.to_vec(),
                },
                _ => return,
            },
            NodeEvent::Undelivered { payload } => {
                let Some((_, rest)) = Tag::decode(payload) else {
                    return;
                };
                if let Some(k) = self.bounced[i].iter().position(|p| p == payload) {
                    self.bounced[i].swap_remove(k);
                    bounced = true;
                }
                NodeEvent::Undelivered {
                    payload: rest.to_vec(),
                }
            }
            other => other.clone(),
        };
        if self.trace {
            let what = match &event {
                NodeEvent::Deliver { origin, payload } => format!(
                    "message type {:?} from node {}",
                    wackamole::daemon::bridge::decode(payload).map(|(t, _, _)| t),
                    origin.node
                ),
                other => format!("{other:?}"),
            };
            eprintln!("[{}us] daemon {i} <- {what}", net.now);
        }
        let report = NodeReport {
            epoch,
            event,
            bounced,
        };
        self.with_core(i, net, |core, now| core.handle_report(report, now));
    }

    /// Whether node `i`'s daemon runs.
    pub fn running(&self, i: usize) -> bool {
        self.slots[i].is_some()
    }

    /// Within a group of nodes that hear each other: every VIF is in
    /// exactly one host's kernel (in none, if the group is below a
    /// majority quorum).
    pub fn check_group(&self, group: &[usize]) -> Result<(), String> {
        let kernels = self.kernels.borrow();
        let expected = if self.majority && group.len() <= self.slots.len() / 2 {
            0
        } else {
            1
        };
        for k in 0..self.vifs {
            let address = vif_address(k);
            let holders: Vec<usize> = kernels
                .holders(&address)
                .into_iter()
                .filter(|h| group.contains(h))
                .collect();
            if holders.len() != expected {
                return Err(format!(
                    "settled group {group:?}: {address} is configured on hosts {holders:?}, \
                     expected on {expected}"
                ));
            }
        }
        Ok(())
    }

    /// The physical checks of the addresses added since the last step
    /// (`changes`): none may go into a kernel while another running host
    /// of the same view has it, nor (with a majority quorum) while any
    /// other running host has it. A paused host's kernel keeps its
    /// addresses until their lifetime runs out; with `TakeoverWait` it
    /// counts like any other (nobody may take them before that), without
    /// it is left out: the overlap is then bounded by the lifetime, as
    /// documented. Two holders that meet when partitions merge are not a
    /// taking: the state exchange of the merged view resolves them, and
    /// the settled check sees that it did.
    pub fn check_now(
        &self,
        net: &Net,
        view_of: impl Fn(usize) -> Option<ViewId>,
        changes: &[Change],
    ) -> Result<(), String> {
        let kernels = self.kernels.borrow();
        for change in changes.iter().filter(|c| c.added) {
            let x = change.host;
            if kernels.holders(&change.address).iter().all(|&h| h != x) {
                continue;
            }
            for y in kernels.holders(&change.address) {
                if y == x {
                    continue;
                }
                let running = net.slots[y].state == SlotState::Running;
                if !running && !self.takeover_wait {
                    continue;
                }
                let same_view = view_of(x).is_some() && view_of(x) == view_of(y);
                if same_view || self.majority || !running {
                    return Err(format!(
                        "host {x} took {} at {}us while host {y} had it ({}; views {:?} and \
                         {:?})",
                        change.address,
                        change.at,
                        if !running {
                            "a stalled holder under TakeoverWait"
                        } else if same_view {
                            "one view"
                        } else {
                            "majority quorum"
                        },
                        view_of(x),
                        view_of(y)
                    ));
                }
            }
        }
        Ok(())
    }
}
