//! Engines driven by hand, each with its C twin, for the schedules kept
//! by name.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::c_rules;
use wackamole::config::{AcquisitionsPerRound, Balance};
use wackamole::engine::{Engine, GroupId, Input, Message, Output, Phase, Settings, View};

/// Engines driven by hand, each with its C twin, for schedules worth
/// keeping by name (reduced from seeds the simulation once failed on).
pub(super) struct Scripted {
    pub(super) engines: Vec<Engine>,
    pub(super) twins: Vec<c_rules::Twin>,
}

impl Scripted {
    /// Node `i` has identity 192.168.1.`i+1` and prefers the VIFs listed
    /// in `preferred[i]`; every node starts connected and immature.
    pub(super) fn new(vifs: usize, preferred: &[&[usize]]) -> Scripted {
        let vifs: Vec<Ipv4Addr> = (0..vifs)
            .map(|i| Ipv4Addr::new(10, 0, 0, i as u8 + 1))
            .collect();
        let mut engines = Vec::new();
        let mut twins = Vec::new();
        for (i, prefers) in preferred.iter().enumerate() {
            let identity = Ipv4Addr::new(192, 168, 1, i as u8 + 1);
            let mut engine = Engine::new(Settings {
                identity,
                vifs: vifs.clone(),
                preferred: prefers.iter().map(|&v| vifs[v]).collect(),
                mature: Duration::from_secs(5),
                balance: Balance {
                    acquisitions_per_round: AcquisitionsPerRound::Limited(1),
                    interval: Duration::from_secs(4),
                },
                state_wait: Duration::from_secs(10),
                arp_cache_interval: Duration::from_secs(60),
                release_unservable: false,
            });
            engine.handle(Input::Connected);
            engines.push(engine);
            twins.push(c_rules::Twin::new(identity, vifs.clone()));
        }
        Scripted { engines, twins }
    }

    pub(super) fn name(node: usize) -> String {
        format!("#s{node}#sim")
    }

    /// Feeds node `n` and its twin; returns the STATE and MATURING
    /// messages it multicasts.
    fn feed(&mut self, n: usize, input: Input) -> Vec<Message> {
        match &input {
            Input::View(view) => self.twins[n].view(view),
            Input::Message(message) => self.twins[n].message(message),
            _ => {}
        }
        let mut sent = Vec::new();
        for output in self.engines[n].handle(input) {
            if let Output::Multicast {
                mess_type: mess_type @ (1 | 2),
                body,
                ..
            } = output
            {
                sent.push(Message {
                    sender: Self::name(n),
                    mess_type,
                    endian_mismatch: false,
                    body,
                });
            }
        }
        sent
    }

    /// Installs view `gid` of `members`; returns their STATEs in order.
    pub(super) fn view(&mut self, gid: u32, members: &[usize]) -> Vec<Message> {
        let names: Vec<String> = members.iter().map(|&m| Self::name(m)).collect();
        let mut states = Vec::new();
        for (my_index, &m) in members.iter().enumerate() {
            let view = View {
                group_id: GroupId::from_raw([1, 2, gid]),
                members: names.clone(),
                my_index,
            };
            states.extend(self.feed(m, Input::View(view)));
        }
        states
    }

    pub(super) fn deliver(&mut self, to: &[usize], message: &Message) {
        for &m in to {
            self.feed(m, Input::Message(message.clone()));
        }
    }

    /// A whole exchange in view `gid`, then MATURING from its first
    /// member if the view is not mature yet.
    pub(super) fn settle(&mut self, gid: u32, members: &[usize]) {
        for state in self.view(gid, members) {
            self.deliver(members, &state);
        }
        let maturing = Message {
            sender: Self::name(members[0]),
            mess_type: 2,
            endian_mismatch: false,
            body: Vec::new(),
        };
        self.deliver(members, &maturing);
        for &m in members {
            assert_eq!(self.engines[m].phase(), Phase::Run, "node {m} settled");
        }
    }
}
