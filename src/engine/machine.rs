//! The engine proper: inputs in, outputs out (see the module docs of
//! `engine` for the rules it follows).

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::time::Duration;

use super::codec::{
    self, mess_type, ArpEntry, BalanceBody, ClaimPriority, GroupId, Move, StateBody,
};
use super::event::{Delivery, Input, Level, Message, Output, Timer, View};
use super::settings::{Settings, SILENT_WARNING_REPEAT};
use super::snapshot::{MemberSnapshot, MemberStatus, Phase, Snapshot, ViewSnapshot, VifSnapshot};
use super::table::{ClaimResult, Table};
use crate::config::{AcquisitionsPerRound, Balance, HookEvent};

struct Member {
    name: String,
    identity: Option<Ipv4Addr>,
    status: MemberStatus,
}

struct CurrentView {
    group_id: GroupId,
    members: Vec<Member>,
    my_index: usize,
}

impl CurrentView {
    fn names(&self, status: MemberStatus) -> Vec<&str> {
        self.members
            .iter()
            .filter(|m| m.status == status)
            .map(|m| m.name.as_str())
            .collect()
    }

    fn participants(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| self.members[i].status == MemberStatus::Reported)
            .collect()
    }

    fn participant_with(&self, identity: Ipv4Addr) -> Option<usize> {
        self.members
            .iter()
            .position(|m| m.status == MemberStatus::Reported && m.identity == Some(identity))
    }
}

pub struct Engine {
    settings: Settings,
    vif_by_primary: HashMap<Ipv4Addr, usize>,
    phase: Phase,
    mature: bool,
    view: Option<CurrentView>,
    table: Table,
    /// What we hold (have acquired and not released), with the priority
    /// our next STATE reports.
    held: Vec<Option<ClaimPriority>>,
    /// Whether our previous table (the original's Old_table: the settled
    /// table as of our last view change in RUN, with the entries a STATE
    /// conflict rewrote since) still gives the VIF to us. Our STATE
    /// reports what we hold and this table gives us, as a C node's does.
    previous_mine: Vec<bool>,
    /// Our leader sent a BALANCE that has not come back yet.
    balance_in_flight: bool,
    arp_cache: BTreeMap<Ipv4Addr, [u8; 6]>,
    out: Vec<Output>,
    acquired: bool,
    released: bool,
}

impl Engine {
    pub fn new(settings: Settings) -> Engine {
        let mut vif_by_primary = HashMap::with_capacity(settings.vifs.len());
        for (i, &primary) in settings.vifs.iter().enumerate() {
            vif_by_primary.entry(primary).or_insert(i);
        }
        let vifs = settings.vifs.len();
        Engine {
            settings,
            vif_by_primary,
            phase: Phase::Disconnected,
            mature: false,
            view: None,
            table: Table::new(vifs),
            held: vec![None; vifs],
            previous_mine: vec![false; vifs],
            balance_in_flight: false,
            arp_cache: BTreeMap::new(),
            out: Vec::new(),
            acquired: false,
            released: false,
        }
    }

    /// Takes new timer settings (a re-read configuration). Timers already
    /// running keep their deadline; the next arming uses the new values.
    pub fn retune(&mut self, mature: Duration, balance: Balance, arp_share: Duration) {
        self.settings.mature = mature;
        self.settings.balance = balance;
        self.settings.arp_share = arp_share;
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether we hold VIF `vif` (acquired and not released).
    pub fn holds(&self, vif: usize) -> bool {
        self.held.get(vif).is_some_and(|h| h.is_some())
    }

    /// The cluster-wide ARP cache merged from every ARPCACHE received.
    pub fn arp_cache(&self) -> &BTreeMap<Ipv4Addr, [u8; 6]> {
        &self.arp_cache
    }

    /// Feeds one input; returns what the driver must do, in order.
    pub fn handle(&mut self, input: Input) -> Vec<Output> {
        self.acquired = false;
        self.released = false;
        match input {
            Input::Connected => self.on_connected(),
            Input::Disconnected => self.on_disconnected(),
            Input::View(view) => self.on_view(view),
            Input::Message(message) => self.on_message(message),
            Input::TimerFired(timer) => self.on_timer(timer),
            Input::LocalArpTable(entries) => self.on_local_arp_table(&entries),
        }
        if self.acquired {
            self.out.push(Output::PostHooks(HookEvent::PostUp));
        }
        if self.released {
            self.out.push(Output::PostHooks(HookEvent::PostDown));
        }
        std::mem::take(&mut self.out)
    }

    pub fn snapshot(&self) -> Snapshot {
        let counts = self
            .view
            .as_ref()
            .map(|v| self.table.counts(v.members.len()))
            .unwrap_or_default();
        let view = self.view.as_ref().map(|v| ViewSnapshot {
            group_id: v.group_id,
            my_index: v.my_index,
            members: v
                .members
                .iter()
                .zip(&counts)
                .map(|(m, &owned)| MemberSnapshot {
                    name: m.name.clone(),
                    identity: m.identity,
                    status: m.status,
                    owned: owned as usize,
                })
                .collect(),
        });
        let vifs = self
            .settings
            .vifs
            .iter()
            .zip(self.table.slots())
            .zip(&self.held)
            .map(|((&primary, slot), held)| VifSnapshot {
                primary,
                owner: slot.owner,
                owner_identity: slot
                    .owner
                    .and_then(|o| self.view.as_ref()?.members.get(o)?.identity),
                priority: slot.priority,
                held_here: held.is_some(),
            })
            .collect();
        Snapshot {
            phase: self.phase,
            mature: self.mature,
            view,
            vifs,
        }
    }

    fn log(&mut self, level: Level, text: String) {
        self.out.push(Output::Log(level, text));
    }

    fn multicast(&mut self, delivery: Delivery, mess_type: i16, body: Vec<u8>) {
        self.out.push(Output::Multicast {
            delivery,
            mess_type,
            body,
        });
    }

    fn arm(&mut self, timer: Timer, after: std::time::Duration) {
        self.out.push(Output::ArmTimer(timer, after));
    }

    fn disarm(&mut self, timer: Timer) {
        self.out.push(Output::DisarmTimer(timer));
    }

    fn acquire(&mut self, vif: usize, priority: ClaimPriority) {
        if self.held[vif].is_none() {
            self.held[vif] = Some(priority);
            self.acquired = true;
            self.out.push(Output::Acquire(vif));
            self.out.push(Output::Hooks(HookEvent::OnUp, vif));
        }
    }

    fn release(&mut self, vif: usize) {
        if self.held[vif].take().is_some() {
            self.released = true;
            self.out.push(Output::Release(vif));
            self.out.push(Output::Hooks(HookEvent::OnDown, vif));
        }
    }

    fn release_all(&mut self) {
        for vif in 0..self.held.len() {
            self.release(vif);
        }
    }

    fn my_index(&self) -> Option<usize> {
        self.view.as_ref().map(|v| v.my_index)
    }

    /// Out of any view: nothing held, nothing known, every timer stopped.
    fn forget_everything(&mut self, phase: Phase) {
        self.release_all();
        self.previous_mine.fill(false);
        self.phase = phase;
        self.mature = false;
        self.view = None;
        self.table.clear();
        self.balance_in_flight = false;
        for timer in [
            Timer::Maturity,
            Timer::Balance,
            Timer::StateWait,
            Timer::ArpShare,
        ] {
            self.disarm(timer);
        }
    }

    fn on_connected(&mut self) {
        self.forget_everything(Phase::Boot);
        self.arm(Timer::Maturity, self.settings.mature);
        self.arm(Timer::ArpShare, self.settings.arp_share);
        self.out.push(Output::ReadArpTable);
    }

    fn on_disconnected(&mut self) {
        self.forget_everything(Phase::Disconnected);
    }

    fn on_view(&mut self, view: View) {
        if self.phase == Phase::Disconnected {
            self.log(
                Level::Warning,
                "membership received while not connected; ignored".into(),
            );
            return;
        }
        if view.my_index >= view.members.len() {
            self.log(
                Level::Error,
                format!(
                    "membership lists {} members but places us at index {}; ignored",
                    view.members.len(),
                    view.my_index
                ),
            );
            return;
        }
        let mut names: Vec<&String> = view.members.iter().collect();
        names.sort();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            let text = format!("membership lists member {:?} twice; ignored", w[0]);
            self.log(Level::Error, text);
            return;
        }
        if self.phase == Phase::Run {
            // What we hold is what the settled table gave us; it becomes
            // our previous table, reported with the priority it settled on.
            for ((held, mine), slot) in self
                .held
                .iter_mut()
                .zip(&mut self.previous_mine)
                .zip(self.table.slots())
            {
                if let Some(priority) = held {
                    *priority = slot.priority;
                }
                *mine = held.is_some();
            }
        }
        let members = view
            .members
            .into_iter()
            .map(|name| Member {
                name,
                identity: None,
                status: MemberStatus::Awaited,
            })
            .collect::<Vec<_>>();
        self.view = Some(CurrentView {
            group_id: view.group_id,
            members,
            my_index: view.my_index,
        });
        self.table.clear();
        self.phase = Phase::Gather;
        self.balance_in_flight = false;
        self.disarm(Timer::Balance);
        let state = StateBody {
            group_id: view.group_id,
            identity: self.settings.identity,
            index: i32::try_from(view.my_index).unwrap_or(i32::MAX),
            mature: self.mature,
            held: self
                .held
                .iter()
                .enumerate()
                .filter(|&(i, _)| self.previous_mine[i])
                .filter_map(|(i, h)| h.map(|p| (self.settings.vifs[i], p)))
                .collect(),
            preferred: self.settings.preferred.clone(),
        };
        self.multicast(Delivery::Agreed, mess_type::STATE, state.encode());
        self.arm(Timer::StateWait, self.settings.state_wait);
        self.out.push(Output::ReadArpTable);
    }

    fn on_message(&mut self, message: Message) {
        if self.phase == Phase::Disconnected {
            return;
        }
        let Message {
            sender,
            mess_type: kind,
            endian_mismatch,
            body,
        } = message;
        let result = match kind {
            mess_type::STATE => {
                codec::StateBody::decode(&body, endian_mismatch).map(|s| self.on_state(&sender, s))
            }
            mess_type::MATURING => codec::decode_maturing(&body).map(|()| self.on_maturing()),
            mess_type::BALANCE => codec::decode_balance(&body, endian_mismatch)
                .map(|balance| self.on_balance(&sender, &balance)),
            mess_type::ARPCACHE => {
                codec::decode_arp_cache(&body).map(|entries| self.on_arp_cache(&entries))
            }
            mess_type::PROCEED => {
                codec::decode_proceed(&body, endian_mismatch).map(|gid| self.on_proceed(gid))
            }
            mess_type::OPERATOR => Ok(()),
            other => {
                self.log(
                    Level::Debug,
                    format!("message of unknown type {other} from {sender}; ignored"),
                );
                Ok(())
            }
        };
        if let Err(e) = result {
            self.log(Level::Warning, format!("from {sender}: {e}; ignored"));
        }
    }

    fn on_state(&mut self, sender: &str, state: StateBody) {
        if self.phase != Phase::Gather {
            return;
        }
        let Some(view) = self.view.as_mut() else {
            return;
        };
        if state.group_id != view.group_id {
            return;
        }
        let Some(slot) = view.members.iter().position(|m| m.name == sender) else {
            let text = format!("STATE from {sender}, who is not in the current view; ignored");
            self.log(Level::Warning, text);
            return;
        };
        if view.members[slot].status != MemberStatus::Awaited {
            let text = format!("second STATE from {sender} in one view; ignored");
            self.log(Level::Warning, text);
            return;
        }
        let me = view.my_index;
        if let Some(first) = view.participant_with(state.identity) {
            view.members[slot].status = MemberStatus::DuplicateIdentity;
            view.members[slot].identity = Some(state.identity);
            let first_name = view.members[first].name.clone();
            let mut text = format!(
                "members {first_name} and {sender} both use identity {}: {sender} is left out \
                 of the allocation until the next membership; give every node its own Identity",
                state.identity
            );
            if slot == me {
                text.push_str("; this node refuses to claim");
            }
            self.log(Level::Error, text);
        } else {
            view.members[slot].status = MemberStatus::Reported;
            view.members[slot].identity = Some(state.identity);
            self.apply_claims(sender, slot, &state);
        }
        if !self.mature && state.mature {
            self.mature = true;
            self.disarm(Timer::Maturity);
        }
        let done = self
            .view
            .as_ref()
            .is_some_and(|v| v.members.iter().all(|m| m.status != MemberStatus::Awaited));
        if done {
            self.finish_gather();
        }
    }

    fn apply_claims(&mut self, sender: &str, slot: usize, state: &StateBody) {
        let me = self.my_index();
        for &(primary, priority) in &state.held {
            let Some(&vif) = self.vif_by_primary.get(&primary) else {
                let text = format!(
                    "STATE from {sender} claims {primary}, which is not one of our \
                     VirtualInterfaces (configurations differ)"
                );
                self.log(Level::Warning, text);
                continue;
            };
            let result = self.table.claim(vif, slot, priority);
            if matches!(result, ClaimResult::Lost | ClaimResult::Displaced(_)) {
                // The conflict rewrites this entry of every member's
                // previous table to the winner (as on a C node), even if
                // the view is replaced before the exchange settles.
                self.previous_mine[vif] = self.table.slots()[vif].owner == me;
            }
            match result {
                ClaimResult::Lost if Some(slot) == me => self.release(vif),
                ClaimResult::Displaced(previous) if Some(previous) == me => self.release(vif),
                _ => {}
            }
        }
        for addr in &state.preferred {
            if let Some(&vif) = self.vif_by_primary.get(addr) {
                self.table.prefer(vif, slot);
            }
        }
    }

    fn on_proceed(&mut self, group_id: GroupId) {
        if self.phase != Phase::Gather {
            return;
        }
        let Some(view) = self.view.as_mut() else {
            return;
        };
        if view.group_id != group_id {
            return;
        }
        let silent = view.names(MemberStatus::Awaited).join(", ");
        let me_silent = view.members[view.my_index].status == MemberStatus::Awaited;
        for m in &mut view.members {
            if m.status == MemberStatus::Awaited {
                m.status = MemberStatus::Silent;
            }
        }
        let mut text = format!(
            "the group proceeds without the STATE of {silent}; they hold nothing until the next \
             membership"
        );
        if me_silent {
            text.push_str(" (this node is one of them)");
        }
        self.log(Level::Warning, text);
        self.finish_gather();
    }

    fn finish_gather(&mut self) {
        self.disarm(Timer::StateWait);
        if self.mature {
            self.claim_and_run();
        } else {
            self.phase = Phase::Boot;
        }
    }

    /// Priority claim, claim unclaimed, then make what we hold match the
    /// table, and start running.
    fn claim_and_run(&mut self) {
        let Some(view) = self.view.as_ref() else {
            return;
        };
        let participants = view.participants();
        let me = view.my_index;
        let members = view.members.len();
        let silent = view.names(MemberStatus::Silent).join(", ");
        self.table.priority_claim();
        // Counts always come from the table: every member derives the same.
        let mut counts = self.table.counts(members);
        self.table.claim_unclaimed(&participants, &mut counts);
        for vif in 0..self.held.len() {
            let slot = self.table.slots()[vif];
            if slot.owner == Some(me) {
                self.acquire(vif, slot.priority);
            } else {
                self.release(vif);
            }
        }
        self.phase = Phase::Run;
        self.balance_in_flight = false;
        if participants.first() != Some(&me) {
            return;
        }
        if !silent.is_empty() {
            // A C member of this view is still waiting for the silent
            // members' STATE (it ignores PROCEED) and would not apply a
            // BALANCE: a move away from it would put its VIF up twice, a
            // move to it would leave the VIF down.
            let text = format!(
                "not balancing this view: it settled without the STATE of {silent}, and a C \
                 member of it would not follow the moves"
            );
            self.log(Level::Notice, text);
            return;
        }
        match self.settings.balance.acquisitions_per_round {
            AcquisitionsPerRound::All => self.balance_round(),
            AcquisitionsPerRound::Limited(_) => {
                self.arm(Timer::Balance, self.settings.balance.interval)
            }
        }
    }

    fn on_maturing(&mut self) {
        if self.mature {
            return;
        }
        self.mature = true;
        self.disarm(Timer::Maturity);
        if self.phase == Phase::Boot && self.view.is_some() {
            self.claim_and_run();
        }
    }

    /// One balancing round of our leader.
    fn balance_round(&mut self) {
        let Some(view) = self.view.as_ref() else {
            return;
        };
        let participants = view.participants();
        if self.phase != Phase::Run
            || participants.first() != Some(&view.my_index)
            || view
                .members
                .iter()
                .any(|m| m.status == MemberStatus::Silent)
        {
            return;
        }
        let limited = match self.settings.balance.acquisitions_per_round {
            AcquisitionsPerRound::All => None,
            AcquisitionsPerRound::Limited(n) => Some(n as usize),
        };
        if self.balance_in_flight {
            // Planning on a table our last moves have not reached yet
            // would repeat them.
            self.arm(Timer::Balance, self.settings.balance.interval);
            return;
        }
        let counts = self.table.counts(view.members.len());
        let plan = self.table.plan_balance(&participants, &counts, limited);
        if plan.is_empty() {
            return;
        }
        let moves: Vec<Move> = plan
            .iter()
            .filter_map(|&(vif, owner)| {
                Some(Move {
                    owner: view.members[owner].identity?,
                    vif: self.settings.vifs[vif],
                })
            })
            .collect();
        self.multicast(
            Delivery::Agreed,
            mess_type::BALANCE,
            codec::encode_balance(&moves),
        );
        self.balance_in_flight = true;
        if limited.is_some() {
            self.arm(Timer::Balance, self.settings.balance.interval);
        }
    }

    fn on_balance(&mut self, sender: &str, balance: &BalanceBody) {
        if self.phase != Phase::Run {
            return;
        }
        let moves = &balance.moves;
        if balance.announced > moves.len() {
            let text = format!(
                "BALANCE from {sender} announces {} moves but carries {}; applying the {} it \
                 carries, as the C nodes do",
                balance.announced,
                moves.len(),
                moves.len()
            );
            self.log(Level::Notice, text);
        }
        let Some(view) = self.view.as_ref() else {
            return;
        };
        let me = view.my_index;
        if view.members[me].name == sender {
            self.balance_in_flight = false;
        }
        let mut resolved = Vec::with_capacity(moves.len());
        let mut unknown = Vec::new();
        for m in moves {
            match (
                self.vif_by_primary.get(&m.vif),
                view.participant_with(m.owner),
            ) {
                (Some(&vif), Some(owner)) => resolved.push((vif, owner)),
                _ => unknown.push(format!("{}->{}", m.vif, m.owner)),
            }
        }
        if !unknown.is_empty() {
            let text = format!(
                "BALANCE from {sender} names VIFs or members we do not know: {}; those moves \
                 are skipped",
                unknown.join(", ")
            );
            self.log(Level::Warning, text);
        }
        for (vif, owner) in resolved {
            let previous = self.table.slots()[vif].owner;
            if previous == Some(owner) {
                continue;
            }
            self.table.reassign(vif, owner);
            if owner == me {
                let priority = self.table.slots()[vif].priority;
                self.acquire(vif, priority);
            } else if previous == Some(me) {
                self.release(vif);
            }
        }
    }

    fn on_arp_cache(&mut self, entries: &[ArpEntry]) {
        for e in entries {
            if !e.addr.is_unspecified() {
                self.arp_cache.insert(e.addr, e.mac);
            }
        }
    }

    fn on_timer(&mut self, timer: Timer) {
        match timer {
            Timer::Maturity => {
                if !self.mature && self.phase != Phase::Disconnected {
                    self.multicast(Delivery::Agreed, mess_type::MATURING, Vec::new());
                }
            }
            Timer::Balance => self.balance_round(),
            Timer::StateWait => self.on_state_wait(),
            Timer::ArpShare => {
                if self.phase != Phase::Disconnected {
                    self.out.push(Output::ReadArpTable);
                    self.arm(Timer::ArpShare, self.settings.arp_share);
                }
            }
        }
    }

    fn on_state_wait(&mut self) {
        if self.phase != Phase::Gather {
            return;
        }
        let Some(view) = self.view.as_ref() else {
            return;
        };
        let group_id = view.group_id;
        let text = format!(
            "no STATE from {} in view {:?}; the allocation cannot settle without it (a member \
             that is not a wackamole?); asking the group to proceed without them",
            view.names(MemberStatus::Awaited).join(", "),
            group_id
        );
        self.log(Level::Warning, text);
        self.multicast(
            Delivery::Agreed,
            mess_type::PROCEED,
            codec::encode_proceed(group_id),
        );
        self.arm(Timer::StateWait, SILENT_WARNING_REPEAT);
    }

    fn on_local_arp_table(&mut self, entries: &[ArpEntry]) {
        if self.phase == Phase::Disconnected {
            return;
        }
        self.multicast(
            Delivery::Reliable,
            mess_type::ARPCACHE,
            codec::encode_arp_cache(entries),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Balance;
    use std::time::Duration;

    const GID: GroupId = [1, 2, 3];

    fn settings(identity: Ipv4Addr, vifs: usize) -> Settings {
        Settings {
            identity,
            vifs: (0..vifs)
                .map(|i| Ipv4Addr::new(10, 0, 0, i as u8 + 1))
                .collect(),
            preferred: Vec::new(),
            mature: Duration::from_secs(5),
            balance: Balance {
                acquisitions_per_round: AcquisitionsPerRound::Limited(1),
                interval: Duration::from_secs(4),
            },
            state_wait: Duration::from_secs(10),
            arp_share: Duration::from_secs(60),
        }
    }

    fn name(m: usize) -> String {
        format!("#m{m}#d")
    }

    fn msg(m: usize, kind: i16, body: Vec<u8>) -> Input {
        Input::Message(Message {
            sender: name(m),
            mess_type: kind,
            endian_mismatch: false,
            body,
        })
    }

    fn state(m: usize, identity: Ipv4Addr, held: &[(usize, ClaimPriority)]) -> Input {
        state_in(GID, m, identity, held)
    }

    fn state_in(
        group_id: GroupId,
        m: usize,
        identity: Ipv4Addr,
        held: &[(usize, ClaimPriority)],
    ) -> Input {
        let body = StateBody {
            group_id,
            identity,
            index: m as i32,
            mature: true,
            held: held
                .iter()
                .map(|&(v, p)| (Ipv4Addr::new(10, 0, 0, v as u8 + 1), p))
                .collect(),
            preferred: Vec::new(),
        };
        msg(m, mess_type::STATE, body.encode())
    }

    /// An engine at `my_index` of a view of `members`, mature, gathering.
    fn gathering(my_index: usize, members: usize, vifs: usize) -> Engine {
        let mut e = Engine::new(settings(ip(my_index), vifs));
        e.handle(Input::Connected);
        e.mature = true;
        e.handle(Input::View(View {
            group_id: GID,
            members: (0..members).map(name).collect(),
            my_index,
        }));
        e
    }

    fn ip(m: usize) -> Ipv4Addr {
        Ipv4Addr::new(192, 168, 0, m as u8 + 1)
    }

    fn multicast_body(out: &[Output]) -> Option<Vec<u8>> {
        out.iter().find_map(|o| match o {
            Output::Multicast { body, .. } => Some(body.clone()),
            _ => None,
        })
    }

    fn logs(out: &[Output], level: Level) -> Vec<&str> {
        out.iter()
            .filter_map(|o| match o {
                Output::Log(l, t) if *l == level => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_duplicate_identity_is_reported_and_refuses_to_claim() {
        let mut e = gathering(1, 2, 4);
        e.handle(state(0, ip(0), &[]));
        // Member 1 (us) reports the same identity as member 0.
        let out = e.handle(state(1, ip(0), &[]));
        let errors = logs(&out, Level::Error);
        assert_eq!(errors.len(), 1, "{out:?}");
        assert!(errors[0].contains("both use identity 192.168.0.1"));
        assert!(errors[0].contains("refuses to claim"));
        assert!(!out.iter().any(|o| matches!(o, Output::Acquire(_))));
        let snap = e.snapshot();
        assert_eq!(snap.phase, Phase::Run);
        assert!(snap.vifs.iter().all(|v| v.owner == Some(0)));
        let members = snap.view.expect("view").members;
        assert_eq!(members[1].status, MemberStatus::DuplicateIdentity);
    }

    #[test]
    fn silent_members_are_named_and_left_out_on_an_agreed_proceed() {
        let mut e = gathering(0, 3, 3);
        e.handle(state(0, ip(0), &[]));
        let out = e.handle(Input::TimerFired(Timer::StateWait));
        let warnings = logs(&out, Level::Warning);
        assert!(warnings[0].contains("#m1#d, #m2#d"), "{warnings:?}");
        assert!(out.contains(&Output::ArmTimer(Timer::StateWait, SILENT_WARNING_REPEAT)));
        let proceed = out
            .iter()
            .find_map(|o| match o {
                Output::Multicast {
                    mess_type: mess_type::PROCEED,
                    body,
                    ..
                } => Some(body.clone()),
                _ => None,
            })
            .expect("asks the group to proceed");
        // A STATE arriving before the PROCEED still counts.
        e.handle(state(1, ip(1), &[]));
        let out = e.handle(msg(0, mess_type::PROCEED, proceed));
        assert!(out.contains(&Output::DisarmTimer(Timer::StateWait)));
        let snap = e.snapshot();
        assert_eq!(snap.phase, Phase::Run);
        let members = snap.view.expect("view").members;
        assert_eq!(members[2].status, MemberStatus::Silent);
        assert_eq!(
            snap.vifs.iter().map(|v| v.owner).collect::<Vec<_>>(),
            vec![Some(0), Some(1), Some(0)]
        );
        // A late STATE from the silent member changes nothing.
        e.handle(state(2, ip(2), &[(1, ClaimPriority::PreferClaimed)]));
        assert_eq!(e.snapshot().vifs[1].owner, Some(1));
    }

    #[test]
    fn a_view_settled_without_silent_members_is_not_balanced() {
        // We lead; member 1 holds everything; member 2 never speaks. A C
        // member 1 would still be gathering and ignore any BALANCE.
        let mut e = gathering(0, 3, 4);
        e.handle(state(0, ip(0), &[]));
        let all: Vec<_> = (0..4).map(|v| (v, ClaimPriority::Claimed)).collect();
        e.handle(state(1, ip(1), &all));
        let out = e.handle(msg(0, mess_type::PROCEED, codec::encode_proceed(GID)));
        assert_eq!(e.phase(), Phase::Run);
        assert!(
            !out.iter()
                .any(|o| matches!(o, Output::ArmTimer(Timer::Balance, _))),
            "{out:?}"
        );
        assert!(logs(&out, Level::Notice)[0].contains("not balancing this view"));
        let out = e.handle(Input::TimerFired(Timer::Balance));
        assert!(multicast_body(&out).is_none(), "{out:?}");
        // The next complete view balances again.
        e.handle(Input::View(View {
            group_id: [4, 5, 6],
            members: (0..2).map(name).collect(),
            my_index: 0,
        }));
        e.handle(state_in([4, 5, 6], 0, ip(0), &[]));
        e.handle(state_in([4, 5, 6], 1, ip(1), &all));
        let out = e.handle(Input::TimerFired(Timer::Balance));
        assert!(multicast_body(&out).is_some(), "{out:?}");
    }

    #[test]
    fn proceed_for_another_view_is_ignored() {
        let mut e = gathering(0, 2, 1);
        e.handle(state(0, ip(0), &[]));
        e.handle(msg(1, mess_type::PROCEED, codec::encode_proceed([9, 9, 9])));
        assert_eq!(e.phase(), Phase::Gather);
    }

    #[test]
    fn malformed_bodies_are_logged_and_change_nothing() {
        let mut e = gathering(0, 2, 2);
        e.handle(state(0, ip(0), &[(0, ClaimPriority::Claimed)]));
        let before = e.snapshot();
        for (kind, body) in [
            (mess_type::STATE, vec![1, 2, 3]),
            (mess_type::BALANCE, vec![0xff; 4]),
            (mess_type::MATURING, vec![0]),
            (mess_type::ARPCACHE, vec![0; 13]),
            (mess_type::PROCEED, vec![0; 4]),
        ] {
            let out = e.handle(msg(1, kind, body));
            assert_eq!(logs(&out, Level::Warning).len(), 1, "type {kind}: {out:?}");
            assert_eq!(out.len(), 1, "type {kind}: only the log");
            assert_eq!(e.snapshot(), before);
        }
    }

    /// Two members settled: member 0 (us) holds VIFs 0 and 1.
    fn running_pair(my_index: usize) -> Engine {
        let mut e = gathering(my_index, 2, 2);
        e.handle(state(
            0,
            ip(0),
            &[(0, ClaimPriority::Claimed), (1, ClaimPriority::Claimed)],
        ));
        e.handle(state(1, ip(1), &[]));
        assert_eq!(e.phase(), Phase::Run);
        e
    }

    fn balance(moves: &[(usize, usize)]) -> Vec<u8> {
        let moves: Vec<Move> = moves
            .iter()
            .map(|&(owner, v)| Move {
                owner: ip(owner),
                vif: Ipv4Addr::new(10, 0, 0, v as u8 + 1),
            })
            .collect();
        codec::encode_balance(&moves)
    }

    #[test]
    fn a_move_to_the_current_owner_does_nothing() {
        let mut e = running_pair(0);
        let out = e.handle(msg(0, mess_type::BALANCE, balance(&[(0, 0)])));
        assert!(out.is_empty(), "{out:?}");
        assert!(e.holds(0));
    }

    #[test]
    fn a_move_away_releases_and_a_move_here_acquires() {
        let mut e = running_pair(0);
        let out = e.handle(msg(0, mess_type::BALANCE, balance(&[(1, 1)])));
        assert_eq!(
            out,
            vec![
                Output::Release(1),
                Output::Hooks(HookEvent::OnDown, 1),
                Output::PostHooks(HookEvent::PostDown)
            ]
        );
        let mut peer = running_pair(1);
        let out = peer.handle(msg(0, mess_type::BALANCE, balance(&[(1, 1)])));
        assert_eq!(out[0], Output::Acquire(1));
        assert_eq!(peer.snapshot().view.expect("view").members[1].owned, 1);
    }

    #[test]
    fn a_c_leaders_balance_announcing_more_moves_than_it_carries_is_applied() {
        // A C leader with AcquisitionsPerRound 3 whose round moved one VIF
        // and then met a fullest member holding only preferred VIFs: count
        // 3, one pair. The C members apply that pair; so must we.
        let mut short = balance(&[(1, 1)]);
        short[0..4].copy_from_slice(&3i32.to_ne_bytes());
        let mut e = running_pair(0);
        let out = e.handle(msg(0, mess_type::BALANCE, short.clone()));
        assert!(out.contains(&Output::Release(1)), "{out:?}");
        assert_eq!(logs(&out, Level::Notice).len(), 1, "{out:?}");
        let mut peer = running_pair(1);
        let out = peer.handle(msg(0, mess_type::BALANCE, short));
        assert!(out.contains(&Output::Acquire(1)), "{out:?}");
        for engine in [&e, &peer] {
            let owners: Vec<_> = engine.snapshot().vifs.iter().map(|v| v.owner).collect();
            assert_eq!(owners, vec![Some(0), Some(1)]);
        }
    }

    #[test]
    fn balance_outside_run_is_ignored() {
        let mut e = gathering(0, 2, 2);
        e.handle(state(0, ip(0), &[(0, ClaimPriority::Claimed)]));
        let out = e.handle(msg(0, mess_type::BALANCE, balance(&[(0, 1)])));
        assert!(out.is_empty());
        assert_eq!(e.snapshot().vifs[1].owner, None);
    }

    #[test]
    fn the_leader_announces_exactly_the_moves_it_writes() {
        let mut e = gathering(0, 2, 4);
        let all: Vec<_> = (0..4).map(|v| (v, ClaimPriority::Claimed)).collect();
        e.handle(state(0, ip(0), &all));
        e.handle(state(1, ip(1), &[]));
        let out = e.handle(Input::TimerFired(Timer::Balance));
        let body = multicast_body(&out).expect("4 vs 0 needs a move");
        let balance = codec::decode_balance(&body, false).expect("our own BALANCE decodes");
        assert_eq!(balance.moves.len(), 1, "AcquisitionsPerRound 1");
        assert_eq!(balance.announced, 1);
        // No second round planned before the first comes back.
        let out = e.handle(Input::TimerFired(Timer::Balance));
        assert_eq!(
            out,
            vec![Output::ArmTimer(Timer::Balance, Duration::from_secs(4))]
        );
        // Once balanced, the leader stops planning rounds.
        e.handle(msg(0, mess_type::BALANCE, body));
        let out = e.handle(Input::TimerFired(Timer::Balance));
        let body = multicast_body(&out).expect("3 vs 1 needs a move");
        e.handle(msg(0, mess_type::BALANCE, body));
        assert!(e.handle(Input::TimerFired(Timer::Balance)).is_empty());
        assert_eq!(e.snapshot().view.expect("view").members[1].owned, 2);
    }

    #[test]
    fn a_lost_claim_releases_at_once() {
        let mut e = gathering(1, 2, 1);
        // Pretend we held VIF 0 from before.
        e.held[0] = Some(ClaimPriority::Claimed);
        e.handle(state(0, ip(0), &[(0, ClaimPriority::Claimed)]));
        let out = e.handle(state(1, ip(1), &[(0, ClaimPriority::Claimed)]));
        assert_eq!(out[0], Output::Release(0));
    }

    #[test]
    fn arp_cache_merges_latest_and_skips_the_unspecified_address() {
        let mut e = gathering(0, 1, 1);
        let entry = |a: u8, m: u8| ArpEntry {
            addr: Ipv4Addr::new(10, 9, 0, a),
            mac: [m; 6],
        };
        let zero = ArpEntry {
            addr: Ipv4Addr::UNSPECIFIED,
            mac: [1; 6],
        };
        let body = codec::encode_arp_cache(&[entry(1, 1), zero]);
        e.handle(msg(0, mess_type::ARPCACHE, body));
        e.handle(msg(
            0,
            mess_type::ARPCACHE,
            codec::encode_arp_cache(&[entry(1, 2)]),
        ));
        assert_eq!(e.arp_cache().len(), 1);
        assert_eq!(e.arp_cache()[&Ipv4Addr::new(10, 9, 0, 1)], [2; 6]);
    }
}
