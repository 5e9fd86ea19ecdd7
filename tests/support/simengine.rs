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
use wackamole::daemon::bridge::{self, Bridge};
use wackamole::daemon::group::GroupEvent;
use wackamole::engine::{Engine, Input, Output, Settings, Timer, VifIndex};
use wackamole::membership::{Event, Member, ViewId};

use super::rng::Rng;
use super::simnet::Net;
use super::vsync::Tag;

/// First byte after the tag of the simulation's own chatter (a bridge
/// payload starts with 0 or 1).
pub const CHATTER: u8 = 0xA5;

struct Slot {
    engine: Engine,
    held: Vec<bool>,
    timers: BTreeMap<Timer, u64>,
    view: Option<ViewId>,
    member: Option<Member>,
    bridge: Bridge,
}

pub struct Engines {
    slots: Vec<Option<Slot>>,
    settings: Vec<Settings>,
    vifs: usize,
}

impl Engines {
    pub fn new(n: usize, seed: u64) -> Engines {
        let mut rng = Rng(seed ^ 0x00e4_614e);
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
            bridge: Bridge::new(
                (0..self.settings.len())
                    .map(|n| super::simnet::address(n).ip().to_owned())
                    .collect(),
            ),
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
            while let Some(slot) = self.slots[i].as_mut() {
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

    /// Hands a node's event to its engine through the daemon's bridge.
    pub fn event(&mut self, i: usize, event: &Event, net: &mut Net) {
        let Some(slot) = self.slots[i].as_mut() else {
            return;
        };
        // The payloads carry the checker's tag before the bridge's bytes.
        let event = match event {
            Event::Deliver { origin, payload } => match Tag::decode(payload) {
                Some((_, rest)) if rest.first() != Some(&CHATTER) => Event::Deliver {
                    origin: *origin,
                    payload: rest.to_vec(),
                },
                _ => return,
            },
            Event::Undelivered { payload } => match Tag::decode(payload) {
                Some((_, rest)) => Event::Undelivered {
                    payload: rest.to_vec(),
                },
                None => return,
            },
            Event::View {
                id,
                members,
                my_index,
            } => {
                slot.view = Some(*id);
                slot.member = members.get(*my_index).copied();
                event.clone()
            }
            Event::Left(_) => {
                slot.view = None;
                event.clone()
            }
            Event::Joined => event.clone(),
            Event::Lease(_) => return,
        };
        let is_view = matches!(event, Event::View { .. });
        let Some(group_event) = slot.bridge.translate(event) else {
            return;
        };
        let input = match group_event {
            GroupEvent::Connected => Input::Connected,
            GroupEvent::View(v) => Input::View(v),
            GroupEvent::Message(m) => Input::Message(m),
            GroupEvent::Disconnected { .. } => Input::Disconnected,
        };
        self.feed(i, input, net);
        if is_view {
            let resends = self.slots[i]
                .as_mut()
                .map(|s| s.bridge.take_resends())
                .unwrap_or_default();
            for payload in resends {
                self.send(i, &payload, net);
            }
        }
    }

    /// Multicasts a bridge payload of node `i` with the checker's tag.
    fn send(&mut self, i: usize, payload: &[u8], net: &mut Net) {
        let Some(slot) = self.slots[i].as_ref() else {
            return;
        };
        let (Some(view), Some(member)) = (slot.view, slot.member) else {
            return;
        };
        let tag = Tag {
            origin: member,
            counter: net.next_counter(i),
            view,
        };
        net.multicast(i, view, tag.encode(payload));
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
            let mut outgoing = Vec::new();
            for output in slot.engine.handle(input) {
                if trace {
                    eprintln!("[{}us] engine {i} -> {output:?}", net.now);
                }
                match output {
                    Output::Acquire(VifIndex(v)) => {
                        assert!(!slot.held[v], "node {i} acquired VIF {v} twice");
                        slot.held[v] = true;
                    }
                    Output::Release(VifIndex(v)) => {
                        assert!(slot.held[v], "node {i} released VIF {v} it lacks");
                        slot.held[v] = false;
                    }
                    Output::Multicast {
                        mess_type, body, ..
                    } => outgoing.push(bridge::encode(mess_type, &body)),
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
            for payload in outgoing {
                self.send(i, &payload, net);
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
