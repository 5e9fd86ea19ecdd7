//! The simulated cluster: its nodes (each an engine, what it has up, its
//! timers and its C twin), the components that can reach each other, and
//! the group service stand-in that feeds a node, delivers a component's
//! queue in agreed order and installs a new membership.

use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::support::{rng, sim_handoff};

use super::c_rules;
use super::checks::table_of;
use super::runs::Stats;
use rng::Rng;
use wackamole::config::{AcquisitionsPerRound, Balance};
use wackamole::engine::codec::StateBody;
use wackamole::engine::{
    ArpEntry, Engine, GroupId, Input, Level, LocalHealth, Message, Output, Settings, StateReport,
    Timer, View, VifIndex,
};

pub(super) struct Node {
    pub(super) name: String,
    pub(super) settings: Settings,
    pub(super) foreign: bool,
    /// Behaves as an original node: never sends nor reads HOLDING and
    /// RELEASED.
    pub(super) original: bool,
    pub(super) alive: bool,
    pub(super) engine: Option<Engine>,
    /// What the node has up, from its Acquire/Release outputs.
    pub(super) up: Vec<bool>,
    pub(super) timers: BTreeMap<Timer, u64>,
    /// Nodes with the same label can reach each other.
    pub(super) label: usize,
    pub(super) arp: Vec<ArpEntry>,
    /// What a C node in this node's place would compute; None once this
    /// node's history is one a C node cannot have (a view settled by
    /// PROCEED, duplicate identities in the cluster, health).
    pub(super) twin: Option<c_rules::Twin>,
    /// What its trackers say (kept across crashes and rejoins).
    pub(super) health: LocalHealth,
}

pub(super) struct Component {
    pub(super) members: Vec<usize>,
    pub(super) queue: VecDeque<(usize, Message)>,
}

pub(super) struct Sim {
    pub(super) stats: Stats,
    pub(super) rng: Rng,
    /// Which nodes are original, and the order of each delivery.
    pub(super) mix_rng: Rng,
    pub(super) now: u64,
    pub(super) nodes: Vec<Node>,
    pub(super) comps: Vec<Component>,
    pub(super) vifs: Vec<Ipv4Addr>,
    pub(super) next_gid: u32,
    pub(super) next_label: usize,
    pub(super) trace: Option<Vec<String>>,
    pub(super) duplicate: bool,
    /// Health changes, drawn apart so seeds keep their schedules.
    pub(super) health_rng: Rng,
    pub(super) health_on: bool,
    /// A health change has happened in this seed.
    pub(super) health_seen: bool,
    pub(super) release_unservable: bool,
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

impl Sim {
    pub(super) fn new(seed: u64, tracing: bool) -> Sim {
        let mut rng = Rng(seed);
        let n_nodes = rng.range(1, 16);
        let n_vifs = rng.range(1, 64);
        let vifs: Vec<Ipv4Addr> = (0..n_vifs)
            .map(|i| Ipv4Addr::new(10, 0, (i / 200) as u8, (i % 200 + 1) as u8))
            .collect();
        let foreign_count = if rng.chance(20) { rng.range(1, 2) } else { 0 };
        let duplicate = n_nodes >= 2 && rng.chance(5);
        // Drawn apart from the schedule's numbers, so that a seed keeps
        // the schedule it had before original nodes were mixed in.
        let mut mix_rng = Rng(seed ^ 0x0419_1a41);
        let mixed = mix_rng.chance(30);
        let mut nodes = Vec::with_capacity(n_nodes);
        for i in 0..n_nodes {
            let mut identity = Ipv4Addr::new(192, 168, 1, i as u8 + 1);
            if duplicate && i == n_nodes - 1 {
                identity = Ipv4Addr::new(192, 168, 1, 1);
            }
            let preferred = match rng.below(4) {
                0 | 1 => Vec::new(),
                2 => vec![Ipv4Addr::UNSPECIFIED],
                _ => {
                    let mut p: Vec<Ipv4Addr> = (0..rng.range(1, 3))
                        .map(|_| vifs[rng.below(n_vifs)])
                        .collect();
                    p.dedup();
                    if rng.chance(20) {
                        p.push(Ipv4Addr::new(172, 16, 0, 1));
                    }
                    p
                }
            };
            let acquisitions_per_round = if rng.chance(30) {
                AcquisitionsPerRound::All
            } else {
                AcquisitionsPerRound::Limited(rng.range(1, 3) as u32)
            };
            let settings = Settings {
                identity,
                vifs: vifs.clone(),
                preferred,
                mature: Duration::from_millis(rng.range(500, 10_000) as u64),
                balance: Balance {
                    acquisitions_per_round,
                    interval: Duration::from_millis(rng.range(500, 5_000) as u64),
                },
                state_wait: Duration::from_secs(10),
                arp_cache_interval: Duration::from_secs(60),
                release_unservable: false,
            };
            let arp = vec![ArpEntry {
                addr: Ipv4Addr::new(10, 1, 0, i as u8 + 1),
                mac: [2, 0, 0, 0, 0, i as u8],
            }];
            let original = mixed && mix_rng.chance(40);
            nodes.push(Node {
                name: format!("#n{i}#sim"),
                settings,
                foreign: i < foreign_count,
                original,
                alive: false,
                engine: None,
                up: vec![false; n_vifs],
                timers: BTreeMap::new(),
                label: 0,
                arp,
                twin: None,
                health: LocalHealth::full(n_vifs),
            });
        }
        let mut health_rng = Rng(seed ^ 0x4ea1_7401);
        let health_on = health_rng.chance(50);
        let release_unservable = health_on && health_rng.chance(30);
        for n in &mut nodes {
            n.settings.release_unservable = release_unservable;
        }
        Sim {
            stats: Stats::default(),
            rng,
            mix_rng,
            now: 0,
            nodes,
            comps: Vec::new(),
            vifs,
            next_gid: 1,
            next_label: 1,
            trace: tracing.then(Vec::new),
            duplicate,
            health_rng,
            health_on,
            health_seen: false,
            release_unservable,
        }
    }

    pub(super) fn note(&mut self, text: impl FnOnce() -> String) {
        if let Some(t) = self.trace.as_mut() {
            t.push(format!("[{:>7}ms] {}", self.now, text()));
        }
    }

    pub(super) fn comp_of(&self, node: usize) -> Option<usize> {
        self.comps.iter().position(|c| c.members.contains(&node))
    }

    /// Feeds one input to a node and carries out its outputs; multicasts
    /// go to component `comp`'s queue.
    pub(super) fn feed(&mut self, node: usize, input: Input, comp: Option<usize>) {
        // Inputs an output asks for (the ARP table) follow in order.
        let mut follow_ups = Vec::new();
        let mut next = Some(input);
        while let Some(input) = next.take() {
            let n = &mut self.nodes[node];
            if let Some(twin) = n.twin.as_mut() {
                match &input {
                    Input::View(view) => {
                        if twin.state == c_rules::State::Run {
                            // A C node's next STATE reports the table it
                            // ran with; ours can only match if that table
                            // was ours.
                            let engine = n.engine.as_ref().expect("a twin has an engine");
                            twin.in_sync = table_of(&engine.snapshot()) == twin.alloc;
                        }
                        twin.view(view);
                    }
                    Input::Message(message) => twin.message(message),
                    _ => {}
                }
            }
            let proceed = matches!(&input, Input::Message(m) if m.mess_type == 6);
            let released = matches!(&input, Input::Message(m) if m.mess_type == 8);
            let mut acquired = Vec::new();
            let Some(engine) = self.nodes[node].engine.as_mut() else {
                return;
            };
            let outputs = engine.handle(input);
            if proceed {
                let view = engine.snapshot().view.expect("in a view");
                if view.members.iter().any(|m| m.status == StateReport::Silent) {
                    self.nodes[node].twin = None;
                }
            }
            for o in outputs {
                let n = &mut self.nodes[node];
                match o {
                    Output::Acquire(VifIndex(v)) => {
                        assert!(!n.up[v], "{} acquired VIF {v}, which it holds", n.name);
                        n.up[v] = true;
                        acquired.push(v);
                    }
                    Output::Release(VifIndex(v)) => {
                        assert!(
                            n.up[v],
                            "{} released VIF {v}, which it does not hold",
                            n.name
                        );
                        n.up[v] = false;
                    }
                    Output::Multicast { mess_type, .. }
                        if n.original && sim_handoff::ours_only(mess_type) => {}
                    Output::Multicast {
                        mess_type, body, ..
                    } => {
                        let twin = n.twin.as_ref().filter(|t| t.in_sync && mess_type == 1);
                        if let Some(twin) = twin {
                            let state = StateBody::decode(&body, false).expect("our STATE");
                            assert_eq!(
                                state.held,
                                twin.reported(),
                                "{} reports other VIFs than a C node in its place",
                                n.name
                            );
                        }
                        let message = Message {
                            sender: n.name.clone(),
                            mess_type,
                            endian_mismatch: false,
                            body,
                        };
                        if let Some(c) = comp {
                            self.comps[c].queue.push_back((node, message));
                        }
                    }
                    Output::ArmTimer(t, d) => {
                        n.timers.insert(t, self.now + ms(d));
                    }
                    Output::DisarmTimer(t) => {
                        n.timers.remove(&t);
                    }
                    Output::ReadArpTable => follow_ups.push(Input::LocalArpTable(n.arp.clone())),
                    Output::Log(level, text) => {
                        if level == Level::Error {
                            let duplicate = text.contains("both use identity");
                            assert!(duplicate, "{} logged an error: {text}", n.name);
                            self.stats.duplicates += 1;
                        }
                        let failed = level == Level::Warning && sim_handoff::handoff_failure(&text);
                        assert!(!failed, "{}: {text}", n.name);
                        if self.trace.is_some() {
                            let name = &self.nodes[node].name;
                            let line = format!("{name} log {level:?}: {text}");
                            self.note(|| line);
                        }
                    }
                    Output::Hooks(..) | Output::PostHooks(..) => {}
                }
            }
            if let Some(c) = comp.filter(|_| !self.nodes[node].original) {
                let members = &self.comps[c].members;
                for &v in &acquired {
                    let ours = |m: usize| !self.nodes[m].original && !self.nodes[m].foreign;
                    sim_handoff::check_exclusive(
                        node,
                        v,
                        members,
                        |m, v| self.nodes[m].up[v],
                        ours,
                    );
                }
                if released {
                    self.stats.handoffs += acquired.len() as u64;
                    if members.iter().any(|&m| self.nodes[m].original) {
                        self.stats.mixed_handoffs += acquired.len() as u64;
                    }
                }
            }
            if let Some(e) = self.nodes[node].engine.as_ref() {
                for v in 0..self.vifs.len() {
                    assert_eq!(
                        e.holds(VifIndex(v)),
                        self.nodes[node].up[v],
                        "holdings disagree"
                    );
                }
            }
            if !follow_ups.is_empty() {
                next = Some(follow_ups.remove(0));
            }
        }
    }

    /// Delivers the head of component `c`'s queue to all its members.
    pub(super) fn deliver_one(&mut self, c: usize) -> bool {
        let Some((sender, message)) = self.comps[c].queue.pop_front() else {
            return false;
        };
        let t = message.mess_type;
        match t {
            3 => self.stats.balances += 1,
            6 => self.stats.proceeds += 1,
            _ => {}
        }
        if self.trace.is_some() {
            let members = &self.comps[c].members;
            let mut text = format!("deliver type {t} from n{sender} to {members:?}");
            if let Some(state) = (t == 1)
                .then(|| StateBody::decode(&message.body, false).ok())
                .flatten()
            {
                let held: Vec<String> = state
                    .held
                    .iter()
                    .map(|(vif, p)| format!("{vif}/{}", *p as i32))
                    .collect();
                text += &format!(
                    ": view {}, {}, mature {}, holds {held:?}, prefers {:?}",
                    state.group_id.index, state.identity, state.mature, state.preferred
                );
            }
            self.note(|| text);
        }
        let rng = &mut self.mix_rng;
        let order = sim_handoff::delivery_order(&self.comps[c].members, |n| rng.below(n));
        for m in order {
            let n = &self.nodes[m];
            if n.alive && !(n.original && sim_handoff::ours_only(t)) {
                self.feed(m, Input::Message(message.clone()), Some(c));
            }
        }
        true
    }

    /// The nodes reachable from each other now, as groups.
    pub(super) fn groups(&self) -> Vec<Vec<usize>> {
        let mut by_label: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, n) in self.nodes.iter().enumerate().filter(|(_, n)| n.alive) {
            by_label.entry(n.label).or_default().push(i);
        }
        by_label.into_values().collect()
    }

    /// Installs the membership that the labels now describe.
    pub(super) fn membership_change(&mut self) {
        let groups = self.groups();
        let old = std::mem::take(&mut self.comps);
        let mut kept = Vec::new();
        let mut leftovers: Vec<(usize, Message)> = Vec::new();
        for mut comp in old {
            if groups.contains(&comp.members) {
                kept.push(comp);
                continue;
            }
            // A prefix reaches the old view's survivors; the rest is
            // delivered in the sender's next view.
            let prefix = self.rng.below(comp.queue.len() + 1);
            self.comps.push(comp);
            let c = self.comps.len() - 1;
            for _ in 0..prefix {
                self.deliver_one(c);
            }
            comp = self.comps.pop().expect("pushed above");
            leftovers.extend(comp.queue);
        }
        self.comps = kept;
        let first_fresh = self.comps.len();
        let fresh: Vec<Vec<usize>> = groups
            .into_iter()
            .filter(|g| !self.comps.iter().any(|c| c.members == *g))
            .collect();
        for members in fresh {
            self.comps.push(Component {
                members,
                queue: VecDeque::new(),
            });
        }
        for (sender, message) in leftovers {
            if self.nodes[sender].engine.is_some() {
                if let Some(c) = self.comp_of(sender) {
                    self.comps[c].queue.push_back((sender, message));
                }
            }
        }
        // Every fresh component gets a view, delivered to its members
        // before anything queued in it.
        for c in first_fresh..self.comps.len() {
            self.stats.views += 1;
            let gid = [0x0a00_0001, 7, self.next_gid];
            self.next_gid += 1;
            let members = self.comps[c].members.clone();
            self.note(|| format!("view {gid:?} {members:?}"));
            let names: Vec<String> = members
                .iter()
                .map(|&m| self.nodes[m].name.clone())
                .collect();
            for (i, &m) in members.iter().enumerate() {
                let view = View {
                    group_id: GroupId::from_raw(gid),
                    members: names.clone(),
                    my_index: i,
                };
                self.feed(m, Input::View(view), Some(c));
            }
        }
    }
}
