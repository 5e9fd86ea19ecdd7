//! A reference model of a C node, written from the rules of
//! etc/design/ALGORITHM.md (counts carried from STATE and adjusted by the
//! claim rules and priority claim against the previous table, recounted
//! only at a node's first maturity; claim unclaimed over every member;
//! BALANCE applied by address). Each simulated node has one as a twin fed
//! the same views and messages, so it computes what a C node in the same
//! place would: where the twins of a component agree, our engines must
//! compute the same table.

use std::net::Ipv4Addr;

use wackamole::engine::codec::{self, mess_type, StateBody};
use wackamole::engine::{ClaimPriority, GroupId, Message, View};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum State {
    Boot,
    Gather,
    Run,
}

pub type Entry = (Option<Ipv4Addr>, ClaimPriority);
const NONE: Entry = (None, ClaimPriority::Unclaimed);

struct Member {
    name: String,
    addr: Option<Ipv4Addr>,
    n: i64,
}

pub struct Twin {
    identity: Ipv4Addr,
    /// Whether the table this twin last ran with was our engine's:
    /// only then must our STATE report what the twin's would.
    pub in_sync: bool,
    vifs: Vec<Ipv4Addr>,
    pub state: State,
    mature: bool,
    recounted: bool,
    gid: GroupId,
    members: Vec<Member>,
    pending: usize,
    pub alloc: Vec<Entry>,
    /// The previous table (the original's Old_table).
    held: Vec<Entry>,
}

impl Twin {
    pub fn new(identity: Ipv4Addr, vifs: Vec<Ipv4Addr>) -> Twin {
        let n = vifs.len();
        Twin {
            identity,
            in_sync: true,
            vifs,
            state: State::Boot,
            mature: false,
            recounted: false,
            gid: GroupId::from_raw([0; 3]),
            members: Vec::new(),
            pending: 0,
            alloc: vec![NONE; n],
            held: vec![NONE; n],
        }
    }

    /// What a C node's STATE reports: the entries of its previous
    /// table that name it.
    pub fn reported(&self) -> Vec<(Ipv4Addr, ClaimPriority)> {
        self.vifs
            .iter()
            .zip(&self.held)
            .filter(|(_, e)| e.0 == Some(self.identity))
            .map(|(&primary, e)| (primary, e.1))
            .collect()
    }

    pub fn view(&mut self, view: &View) {
        self.gid = view.group_id;
        self.members = view
            .members
            .iter()
            .map(|name| Member {
                name: name.clone(),
                addr: None,
                n: 0,
            })
            .collect();
        self.pending = self.members.len();
        if self.state == State::Run {
            self.held = self.alloc.clone();
        }
        self.alloc.fill(NONE);
        self.state = State::Gather;
    }

    pub fn message(&mut self, m: &Message) {
        match m.mess_type {
            mess_type::STATE => {
                let s = StateBody::decode(&m.body, false).expect("a STATE we sent");
                self.on_state(&m.sender, &s);
            }
            mess_type::MATURING => self.on_maturing(),
            mess_type::BALANCE if self.state == State::Run => {
                let b = codec::decode_balance(&m.body, false).expect("a BALANCE we sent");
                for mv in b.moves {
                    let Some(v) = self.vifs.iter().position(|&p| p == mv.vif) else {
                        continue;
                    };
                    let previous = self.alloc[v].0;
                    for member in &mut self.members {
                        member.n -= i64::from(member.addr.is_some() && member.addr == previous);
                        member.n += i64::from(member.addr == Some(mv.owner));
                    }
                    self.alloc[v].0 = Some(mv.owner);
                }
            }
            _ => {}
        }
    }

    fn by_addr(&mut self, addr: Option<Ipv4Addr>, delta: i64) {
        for member in self.members.iter_mut().filter(|m| m.addr.is_some()) {
            if member.addr == addr {
                member.n += delta;
            }
        }
    }

    fn on_state(&mut self, sender: &str, s: &StateBody) {
        if s.group_id != self.gid {
            return;
        }
        let Some(i) = self.members.iter().position(|m| m.name == sender) else {
            return;
        };
        self.members[i].addr = Some(s.identity);
        self.members[i].n = s.held.len() as i64;
        for &(primary, p) in &s.held {
            let Some(v) = self.vifs.iter().position(|&x| x == primary) else {
                continue;
            };
            let (owner, existing) = self.alloc[v];
            if owner.is_none() {
                self.alloc[v] = (Some(s.identity), p);
            } else if existing == ClaimPriority::PreferClaimed || existing == p {
                self.members[i].n -= 1;
                self.held[v] = self.alloc[v];
            } else if existing == ClaimPriority::Claimed && p == ClaimPriority::PreferClaimed {
                self.by_addr(owner, -1);
                self.alloc[v] = (Some(s.identity), p);
                self.held[v] = self.alloc[v];
            }
        }
        for addr in &s.preferred {
            if let Some(v) = self.vifs.iter().position(|x| x == addr) {
                if self.alloc[v].1 < ClaimPriority::Prefer {
                    self.alloc[v] = (Some(s.identity), ClaimPriority::Prefer);
                }
            }
        }
        if s.mature {
            self.mature = true;
        }
        self.pending -= 1;
        if self.pending == 0 {
            if self.mature {
                self.claim();
            } else {
                self.state = State::Boot;
            }
        }
    }

    fn on_maturing(&mut self) {
        if self.mature {
            return;
        }
        self.mature = true;
        if self.state == State::Boot && !self.members.is_empty() {
            self.claim();
        }
    }

    fn claim(&mut self) {
        for v in 0..self.vifs.len() {
            if self.alloc[v].1 == ClaimPriority::Prefer {
                let (old, new) = (self.held[v].0, self.alloc[v].0);
                if old != new {
                    self.by_addr(old, -1);
                    self.by_addr(new, 1);
                }
                self.alloc[v].1 = ClaimPriority::PreferClaimed;
            }
        }
        if !self.recounted {
            self.recounted = true;
            for member in &mut self.members {
                member.n = self.alloc.iter().filter(|e| e.0 == member.addr).count() as i64;
            }
        }
        for v in 0..self.vifs.len() {
            if self.alloc[v].1 != ClaimPriority::Unclaimed {
                continue;
            }
            let mut taker = 0;
            for j in 1..self.members.len() {
                if self.members[j].n < self.members[taker].n {
                    taker = j;
                }
            }
            self.members[taker].n += 1;
            self.alloc[v] = (self.members[taker].addr, ClaimPriority::Claimed);
        }
        self.state = State::Run;
    }
}
