//! Checks properties 1 to 3 of etc/design/MEMBERSHIP.md on every event a
//! node reports, as it happens: agreement on views (same id, same members,
//! self-inclusion, configured order, ids growing and never reused), agreed
//! order (one sequence per view, at most once, FIFO per sender, never in
//! another view) and view synchrony (members going from V to the same W
//! delivered the same messages in V).
//!
//! Every payload starts with a [`Tag`]: who sent it, in which view, and
//! its number among the sender's messages.

use std::collections::{HashMap, HashSet};

use wackamole::membership::{Member, NodeEvent, ViewId};

pub const TAG_LEN: usize = 9 + 4 + 17;

/// Who sent a payload, in which view, and its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag {
    pub origin: Member,
    pub counter: u32,
    pub view: ViewId,
}

impl Tag {
    pub fn encode(&self, rest: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(TAG_LEN + rest.len());
        out.push(self.origin.node);
        out.extend_from_slice(&self.origin.incarnation.to_be_bytes());
        out.extend_from_slice(&self.counter.to_be_bytes());
        out.extend_from_slice(&self.view.ltime.to_be_bytes());
        out.push(self.view.coordinator);
        out.extend_from_slice(&self.view.incarnation.to_be_bytes());
        out.extend_from_slice(rest);
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<(Tag, &[u8])> {
        if bytes.len() < TAG_LEN {
            return None;
        }
        let u64_at = |i: usize| u64::from_be_bytes(bytes[i..i + 8].try_into().unwrap());
        let tag = Tag {
            origin: Member {
                node: bytes[0],
                incarnation: u64_at(1),
            },
            counter: u32::from_be_bytes(bytes[9..13].try_into().unwrap()),
            view: ViewId {
                ltime: u64_at(13),
                coordinator: bytes[21],
                incarnation: u64_at(22),
            },
        };
        Some((tag, &bytes[TAG_LEN..]))
    }
}

#[derive(Default)]
struct Track {
    member: Option<Member>,
    joined: bool,
    last_installed: Option<ViewId>,
    /// The view we are in, continuously since its install.
    current: Option<ViewId>,
    delivered: usize,
    last_counter: HashMap<Member, u32>,
    /// The last `Lease` event said held (and no `Left` since).
    lease: bool,
}

#[derive(Default)]
pub struct Checker {
    views: HashMap<ViewId, Vec<Member>>,
    order: HashMap<ViewId, Vec<Tag>>,
    seen: HashMap<ViewId, HashSet<Tag>>,
    transitions: HashMap<(ViewId, ViewId), usize>,
    tracks: Vec<Track>,
    pub installs: u64,
    pub deliveries: u64,
}

impl Checker {
    pub fn new(n: usize) -> Checker {
        Checker {
            tracks: (0..n).map(|_| Track::default()).collect(),
            ..Checker::default()
        }
    }

    /// Node `i` (re)started as `member`.
    pub fn started(&mut self, i: usize, member: Member) {
        self.tracks[i] = Track {
            member: Some(member),
            ..Track::default()
        };
    }

    /// Node `i` crashed: it reports nothing more.
    pub fn crashed(&mut self, i: usize) {
        self.tracks[i] = Track::default();
    }

    /// Node `i`'s last `Lease` event said held, and it has not left since.
    pub fn lease(&self, i: usize) -> bool {
        self.tracks[i].lease
    }

    pub fn current(&self, i: usize) -> Option<ViewId> {
        self.tracks[i].current
    }

    pub fn members(&self, view: &ViewId) -> Option<&Vec<Member>> {
        self.views.get(view)
    }

    /// Checks one event of node `i`; `Err` says which property broke.
    pub fn event(&mut self, i: usize, event: &NodeEvent) -> Result<(), String> {
        let track = &mut self.tracks[i];
        let me = track
            .member
            .ok_or_else(|| format!("node {i} reported {event:?} while down"))?;
        match event {
            NodeEvent::Joined => {
                if track.joined {
                    return Err(format!("node {i} joined twice without leaving"));
                }
                track.joined = true;
            }
            NodeEvent::Undelivered { payload } => {
                let (tag, _) = Tag::decode(payload)
                    .ok_or_else(|| format!("node {i} gave back a payload without a tag"))?;
                if tag.origin != me {
                    return Err(format!("node {i} gave back {tag:?}, not its own"));
                }
            }
            NodeEvent::Left(_) => {
                track.joined = false;
                track.current = None;
                track.lease = false;
            }
            NodeEvent::Lease(held) => {
                if !track.joined {
                    return Err(format!("node {i} reported Lease({held}) outside a view"));
                }
                if track.lease == *held {
                    return Err(format!("node {i} reported Lease({held}) twice in a row"));
                }
                track.lease = *held;
            }
            NodeEvent::View {
                id,
                members,
                my_index,
            } => {
                if !track.joined {
                    return Err(format!("node {i} installed {id:?} before Joined"));
                }
                if members.get(*my_index) != Some(&me) {
                    return Err(format!(
                        "property 1: node {i} ({me:?}) installed {id:?} whose member {my_index} is not itself: {members:?}"
                    ));
                }
                if !members.windows(2).all(|w| w[0].node < w[1].node) {
                    return Err(format!(
                        "property 1: {id:?} lists its members out of configured order: {members:?}"
                    ));
                }
                if let Some(last) = track.last_installed {
                    if *id <= last {
                        return Err(format!(
                            "property 1: node {i} installed {id:?} after {last:?}"
                        ));
                    }
                }
                match self.views.get(id) {
                    Some(known) if known != members => {
                        return Err(format!(
                            "property 1: view {id:?} installed with members {members:?} and {known:?}"
                        ));
                    }
                    Some(_) => {}
                    None => {
                        self.views.insert(*id, members.clone());
                    }
                }
                if let Some(old) = track.current {
                    let count = track.delivered;
                    match self.transitions.get(&(old, *id)) {
                        Some(&other) if other != count => {
                            return Err(format!(
                                "property 3: going from {old:?} to {id:?}, node {i} delivered {count} messages in the old view, another member {other}"
                            ));
                        }
                        Some(_) => {}
                        None => {
                            self.transitions.insert((old, *id), count);
                        }
                    }
                }
                track.last_installed = Some(*id);
                track.current = Some(*id);
                track.delivered = 0;
                track.last_counter.clear();
                self.installs += 1;
            }
            NodeEvent::Deliver { origin, payload } => {
                let view = track
                    .current
                    .ok_or_else(|| format!("property 2: node {i} delivered outside any view"))?;
                let (tag, _) = Tag::decode(payload)
                    .ok_or_else(|| format!("node {i} delivered a payload without a tag"))?;
                if tag.view != view {
                    return Err(format!(
                        "property 2: node {i} delivered in {view:?} a message sent in {:?}",
                        tag.view
                    ));
                }
                if tag.origin != *origin {
                    return Err(format!(
                        "property 2: node {i} was told {origin:?} sent a message of {:?}",
                        tag.origin
                    ));
                }
                if let Some(&last) = track.last_counter.get(origin) {
                    if tag.counter <= last {
                        return Err(format!(
                            "property 2: node {i} delivered {origin:?}'s message {} after {last}",
                            tag.counter
                        ));
                    }
                }
                track.last_counter.insert(*origin, tag.counter);
                let order = self.order.entry(view).or_default();
                let k = track.delivered;
                match order.get(k) {
                    Some(t) if *t != tag => {
                        return Err(format!(
                            "property 2: in {view:?} node {i}'s delivery {k} is {tag:?}, another member's {t:?}"
                        ));
                    }
                    Some(_) => {}
                    None => {
                        if !self.seen.entry(view).or_default().insert(tag) {
                            return Err(format!("property 2: {tag:?} delivered twice in {view:?}"));
                        }
                        order.push(tag);
                    }
                }
                track.delivered += 1;
                self.deliveries += 1;
            }
        }
        Ok(())
    }
}
