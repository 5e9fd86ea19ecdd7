//! The real engine on every simulated node, fed by the built-in
//! membership exactly as the daemon feeds it: `Joined` is `Connected`,
//! a view is a view (group id from the view id, members named by node and
//! incarnation), a delivered payload is a message, `Left` is
//! `Disconnected`. What each engine holds is tracked from its Acquire and
//! Release outputs.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use wackamole::config::{AcquisitionsPerRound, Balance};
use wackamole::engine::{Engine, Input, Message, Output, Settings, Timer, View};
use wackamole::membership::{Event, Member, ViewId};

use super::rng::Rng;
use super::simnet::Net;
use super::vsync::Tag;

/// First byte after the tag of a payload that carries an engine message.
const ENGINE_MARK: u8 = 0xE0;

struct Slot {
    engine: Engine,
    held: Vec<bool>,
    timers: BTreeMap<Timer, u64>,
    view: Option<ViewId>,
    member: Option<Member>,
}

pub struct Engines {
    slots: Vec<Option<Slot>>,
    settings: Vec<Settings>,
    vifs: usize,
}

fn name(m: &Member) -> String {
    format!("n{}/{}", m.node, m.incarnation)
}

fn group_id(v: &ViewId) -> [u32; 3] {
    [
        (v.ltime >> 32) as u32,
        v.ltime as u32,
        (u32::from(v.coordinator) << 24) | (v.incarnation as u32 & 0x00FF_FFFF),
    ]
}

impl Engines {
    pub fn new(n: usize, seed: u64) -> Engines {
        let mut rng = Rng(seed ^ 0xe4_61_4e);
        let vifs = rng.range(1, 12);
        let addresses: Vec<Ipv4Addr> = (0..vifs)
            .map(|v| Ipv4Addr::new(10, 10, 0, v as u8 + 1))
            .collect();
        let acquisitions_per_round = if rng.chance(50) {
            AcquisitionsPerRound::All
        } else {
            AcquisitionsPerRound::Limited(rng.range(1, 3) as u32)
        };
        let mature = Duration::from_millis(rng.range(0, 400) as u64);
        let interval = Duration::from_millis(rng.range(100, 400) as u64);
        let settings = (0..n)
            .map(|i| Settings {
                identity: Ipv4Addr::new(10, 9, 0, i as u8 + 1),
                vifs: addresses.clone(),
                preferred: if rng.chance(20) {
                    vec![addresses[rng.below(vifs)]]
                } else {
                    Vec::new()
                },
                mature,
                balance: Balance {
                    acquisitions_per_round,
                    interval,
                },
                state_wait: Duration::from_secs(10),
                arp_share: Duration::from_secs(60),
            })
            .collect();
        Engines {
            slots: (0..n).map(|_| None).collect(),
            settings,
            vifs,
        }
    }

    /// Simulated time the engines need to settle once the views have:
    /// maturity, then balancing one VIF per round at worst.
    pub fn settle_time(&self) -> Duration {
        let s = &self.settings[0];
        s.mature + s.balance.interval * (self.vifs as u32 + 2) + Duration::from_millis(500)
    }

    pub fn started(&mut self, i: usize) {
        self.slots[i] = Some(Slot {
            engine: Engine::new(self.settings[i].clone()),
            held: vec![false; self.vifs],
            timers: BTreeMap::new(),
            view: None,
            member: None,
        });
    }

    /// A crash takes the node's addresses with it (a restart clears them).
    pub fn crashed(&mut self, i: usize) {
        self.slots[i] = None;
    }

    /// The next engine timer of a running node (a paused one fires its
    /// timers once it wakes).
    pub fn next_at(&self, net: &Net) -> Option<u64> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(i, _)| net.running(*i))
            .filter_map(|(_, s)| s.as_ref())
            .flat_map(|s| s.timers.values().copied())
            .min()
    }

    pub fn fire_due(&mut self, net: &mut Net) {
        for i in 0..self.slots.len() {
            if !net.running(i) {
                continue;
            }
            loop {
                let Some(slot) = self.slots[i].as_mut() else {
                    break;
                };
                let due = slot
                    .timers
                    .iter()
                    .find(|(_, &at)| at <= net.now)
                    .map(|(t, _)| *t);
                let Some(timer) = due else {
                    break;
                };
                slot.timers.remove(&timer);
                self.feed(i, Input::TimerFired(timer), net);
            }
        }
    }

    pub fn event(&mut self, i: usize, event: &Event, net: &mut Net) {
        let Some(slot) = self.slots[i].as_mut() else {
            return;
        };
        let input = match event {
            Event::Joined => Input::Connected,
            Event::Left(_) => {
                slot.view = None;
                Input::Disconnected
            }
            Event::View {
                id,
                members,
                my_index,
            } => {
                slot.view = Some(*id);
                slot.member = members.get(*my_index).copied();
                Input::View(View {
                    group_id: group_id(id),
                    members: members.iter().map(name).collect(),
                    my_index: *my_index,
                })
            }
            Event::Deliver { origin, payload } => {
                let Some((_, rest)) = Tag::decode(payload) else {
                    return;
                };
                if rest.len() < 3 || rest[0] != ENGINE_MARK {
                    return;
                }
                Input::Message(Message {
                    sender: name(origin),
                    mess_type: i16::from_be_bytes([rest[1], rest[2]]),
                    endian_mismatch: false,
                    body: rest[3..].to_vec(),
                })
            }
        };
        self.feed(i, input, net);
    }

    fn feed(&mut self, i: usize, input: Input, net: &mut Net) {
        let mut inputs = vec![input];
        while let Some(input) = inputs.pop() {
            let Some(slot) = self.slots[i].as_mut() else {
                return;
            };
            let trace = std::env::var_os("WACKAMOLE_MSIM_ENGINE").is_some();
            if trace {
                eprintln!("[{}us] engine {i} <- {input:?}", net.now);
            }
            for output in slot.engine.handle(input) {
                if trace {
                    eprintln!("[{}us] engine {i} -> {output:?}", net.now);
                }
                match output {
                    Output::Acquire(v) => {
                        assert!(!slot.held[v], "node {i} acquired VIF {v} twice");
                        slot.held[v] = true;
                    }
                    Output::Release(v) => {
                        assert!(slot.held[v], "node {i} released VIF {v} it lacks");
                        slot.held[v] = false;
                    }
                    Output::Multicast {
                        mess_type, body, ..
                    } => {
                        let (Some(view), Some(member)) = (slot.view, slot.member) else {
                            continue;
                        };
                        let tag = Tag {
                            origin: member,
                            counter: net.next_counter(i),
                            view,
                        };
                        let mut rest = vec![ENGINE_MARK];
                        rest.extend_from_slice(&mess_type.to_be_bytes());
                        rest.extend_from_slice(&body);
                        net.multicast(i, tag.encode(&rest));
                    }
                    Output::ArmTimer(t, d) => {
                        slot.timers.insert(t, net.now + d.as_micros() as u64);
                    }
                    Output::DisarmTimer(t) => {
                        slot.timers.remove(&t);
                    }
                    Output::ReadArpTable => inputs.push(Input::LocalArpTable(Vec::new())),
                    Output::Hooks(..) | Output::PostHooks(..) | Output::Log(..) => {}
                }
            }
        }
    }

    /// Within a group of nodes that hear each other: every VIF is held,
    /// and by one node only.
    pub fn check_group(&self, group: &[usize]) -> Result<(), String> {
        for v in 0..self.vifs {
            let holders: Vec<usize> = group
                .iter()
                .copied()
                .filter(|&i| self.slots[i].as_ref().is_some_and(|s| s.held[v]))
                .collect();
            if holders.len() != 1 {
                return Err(format!(
                    "settled group {group:?}: VIF {v} is held by {holders:?}"
                ));
            }
        }
        Ok(())
    }
}
