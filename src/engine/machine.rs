//! The engine proper: inputs in, outputs out (see the module docs of
//! `engine` for the rules it follows). This file holds the [`Engine`]
//! type and its [`Phase`], its dispatch and the outputs every job shares;
//! the jobs live beside it: the view and its state exchange in `view`,
//! claiming in `claim`, balancing in `balance` and the snapshot in
//! `snapshot`.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::time::Duration;

use super::codec::{self, mess_type, Body, ClaimPriority};
use super::event::{Delivery, Input, Level, Message, Output, Timer};
use super::handoff_account::Handoff;
use super::health_map::Health;
use super::index::{MemberIndex, VifIndex};
use super::members::CurrentView;
use super::settings::Settings;
use super::table::Table;
use crate::base::ArpEntry;
use crate::config::{Balance, HookEvent};

/// Where the engine is in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not in the group.
    Disconnected,
    /// In the group, not (yet) allowed to claim: immature, or waiting for
    /// the first view.
    Boot,
    /// Exchanging STATE for the current view.
    Gather,
    /// The table is settled; the leader balances.
    Run,
}

impl Phase {
    /// Every phase, in the order a node passes through them. Balancing is
    /// no phase of its own: the leader balances while in `Run`.
    pub const ALL: [Phase; 4] = [Phase::Disconnected, Phase::Boot, Phase::Gather, Phase::Run];

    /// The state's name as the original's logs and our status spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Disconnected => "DISCONNECTED",
            Phase::Boot => "BOOT",
            Phase::Gather => "GATHER",
            Phase::Run => "RUN",
        }
    }
}

/// The Wackamole state machine: inputs in, outputs out, no I/O.
pub struct Engine {
    pub(super) settings: Settings,
    pub(super) vif_by_primary: HashMap<Ipv4Addr, VifIndex>,
    pub(super) phase: Phase,
    pub(super) mature: bool,
    pub(super) view: Option<CurrentView>,
    pub(super) table: Table,
    /// What we hold: acquired and not released (up in the kernel, once
    /// the driver has carried out our outputs).
    pub(super) held: Vec<bool>,
    /// The entries of our previous table (the original's Old_table: the
    /// settled table as of our last view change in RUN, with the entries
    /// a STATE conflict rewrote since) that name us, with their priority:
    /// exactly what our STATE reports, as a C node's does.
    pub(super) reported: Vec<Option<ClaimPriority>>,
    /// Who owes a RELEASED for what in this view, and what we wait for.
    pub(super) handoff: Handoff,
    /// Our leader sent a BALANCE that has not come back yet.
    pub(super) balance_in_flight: bool,
    /// Our health and the view's agreed health map.
    pub(super) health: Health,
    pub(super) arp_cache: BTreeMap<Ipv4Addr, [u8; 6]>,
    pub(super) out: Vec<Output>,
    /// What this input's round acquired and released, for the post hooks.
    acquired: Vec<VifIndex>,
    released: Vec<VifIndex>,
}

impl Engine {
    /// An engine for `settings`, disconnected until told [`Input::Connected`].
    pub fn new(settings: Settings) -> Engine {
        let mut vif_by_primary = HashMap::with_capacity(settings.vifs.len());
        for (i, &primary) in settings.vifs.iter().enumerate() {
            vif_by_primary.entry(primary).or_insert(VifIndex(i));
        }
        let vifs = settings.vifs.len();
        Engine {
            settings,
            vif_by_primary,
            phase: Phase::Disconnected,
            mature: false,
            view: None,
            table: Table::new(vifs),
            held: vec![false; vifs],
            reported: vec![None; vifs],
            handoff: Handoff::new(0, vifs),
            balance_in_flight: false,
            health: Health::new(vifs),
            arp_cache: BTreeMap::new(),
            out: Vec::new(),
            acquired: Vec::new(),
            released: Vec::new(),
        }
    }

    /// Takes new timer settings (a re-read configuration). Timers already
    /// running keep their deadline; the next arming uses the new values.
    pub fn retune(&mut self, mature: Duration, balance: Balance, arp_cache_interval: Duration) {
        self.settings.mature = mature;
        self.settings.balance = balance;
        self.settings.arp_cache_interval = arp_cache_interval;
    }

    /// Where the engine is in its cycle.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether we hold VIF `vif` (acquired and not released).
    pub fn holds(&self, vif: VifIndex) -> bool {
        self.held.get(vif.0).copied().unwrap_or(false)
    }

    /// The cluster-wide ARP cache merged from every ARPCACHE received.
    pub fn arp_cache(&self) -> &BTreeMap<Ipv4Addr, [u8; 6]> {
        &self.arp_cache
    }

    /// Feeds one input; returns what the driver must do, in order.
    pub fn handle(&mut self, input: Input) -> Vec<Output> {
        match input {
            Input::Connected => self.on_connected(),
            Input::Disconnected => self.on_disconnected(),
            Input::View(view) => self.on_view(view),
            Input::Message(message) => self.on_message(message),
            Input::TimerFired(timer) => self.on_timer(timer),
            Input::LocalArpTable(entries) => self.on_local_arp_table(&entries),
            Input::Health(health) => self.on_local_health(health),
        }
        if !self.acquired.is_empty() {
            let vifs = std::mem::take(&mut self.acquired);
            self.out.push(Output::PostHooks(HookEvent::PostUp, vifs));
        }
        if !self.released.is_empty() {
            let vifs = std::mem::take(&mut self.released);
            self.out.push(Output::PostHooks(HookEvent::PostDown, vifs));
        }
        std::mem::take(&mut self.out)
    }

    pub(super) fn log(&mut self, level: Level, text: String) {
        self.out.push(Output::Log(level, text));
    }

    pub(super) fn multicast(&mut self, delivery: Delivery, mess_type: i16, body: Vec<u8>) {
        self.out.push(Output::Multicast {
            delivery,
            mess_type,
            body,
        });
    }

    pub(super) fn arm(&mut self, timer: Timer, after: std::time::Duration) {
        self.out.push(Output::ArmTimer(timer, after));
    }

    pub(super) fn disarm(&mut self, timer: Timer) {
        self.out.push(Output::DisarmTimer(timer));
    }

    pub(super) fn acquire(&mut self, vif: VifIndex) {
        if !self.held[vif.0] {
            self.held[vif.0] = true;
            self.acquired.push(vif);
            self.out.push(Output::Acquire(vif));
            self.out.push(Output::Hooks(HookEvent::OnUp, vif));
        }
    }

    pub(super) fn release(&mut self, vif: VifIndex) {
        if self.take_down(vif) {
            self.down_hooks(&[vif]);
        }
    }

    /// Releases `vif` without its hooks (see [`Engine::down_hooks`]);
    /// whether we held it.
    pub(super) fn take_down(&mut self, vif: VifIndex) -> bool {
        if !std::mem::take(&mut self.held[vif.0]) {
            return false;
        }
        self.released.push(vif);
        self.out.push(Output::Release(vif));
        true
    }

    /// The `on down` hooks of VIFs taken down by [`Engine::take_down`].
    pub(super) fn down_hooks(&mut self, vifs: &[VifIndex]) {
        for &vif in vifs {
            self.out.push(Output::Hooks(HookEvent::OnDown, vif));
        }
    }

    fn release_all(&mut self) {
        for vif in (0..self.held.len()).map(VifIndex) {
            self.release(vif);
        }
    }

    pub(super) fn my_index(&self) -> Option<MemberIndex> {
        self.view.as_ref().map(|v| v.my_index)
    }

    /// Out of any view: nothing held, nothing known, every timer stopped.
    fn forget_everything(&mut self, phase: Phase) {
        self.release_all();
        self.reported.fill(None);
        self.handoff = Handoff::new(0, self.held.len());
        self.health.forget();
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
            Timer::ReleaseWait,
        ] {
            self.disarm(timer);
        }
    }

    fn on_connected(&mut self) {
        self.forget_everything(Phase::Boot);
        self.arm(Timer::Maturity, self.settings.mature);
        self.arm(Timer::ArpShare, self.settings.arp_cache_interval);
        self.out.push(Output::ReadArpTable);
    }

    fn on_disconnected(&mut self) {
        self.forget_everything(Phase::Disconnected);
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
        let vifs = self.settings.vifs.len();
        match Body::decode(kind, &body, endian_mismatch, vifs) {
            Ok(Body::State(state)) => self.on_state(&sender, state),
            Ok(Body::Maturing) => self.on_maturing(),
            Ok(Body::Balance(balance)) => self.on_balance(&sender, &balance),
            Ok(Body::ArpCache(entries)) => self.on_arp_cache(&entries),
            Ok(Body::Proceed(group_id)) => self.on_proceed(group_id),
            Ok(Body::Holding(list)) => self.on_holding(&sender, &list),
            Ok(Body::Released(list)) => self.on_released(&sender, &list),
            Ok(Body::Health(health)) => self.on_health(&sender, health),
            Ok(Body::Operator) => {}
            Ok(Body::Unknown(other)) => self.log(
                Level::Debug,
                format!("message of unknown type {other} from {sender}; ignored"),
            ),
            Err(e) => self.log(Level::Warning, format!("from {sender}: {e}; ignored")),
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
            Timer::ReleaseWait => self.on_release_wait(),
            Timer::ArpShare => {
                if self.phase != Phase::Disconnected {
                    self.out.push(Output::ReadArpTable);
                    self.arm(Timer::ArpShare, self.settings.arp_cache_interval);
                }
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
    use super::super::testkit::*;
    use super::*;

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
            (mess_type::HOLDING, vec![0; 15]),
            (
                mess_type::HEALTH,
                codec::encode_health(GID, false, &[true], false),
            ),
            (
                mess_type::RELEASED,
                codec::encode_released(GID, &[ip(0), ip(0)]),
            ),
        ] {
            let out = e.handle(msg(1, kind, body));
            assert_eq!(logs(&out, Level::Warning).len(), 1, "type {kind}: {out:?}");
            assert_eq!(out.len(), 1, "type {kind}: only the log");
            assert_eq!(e.snapshot(), before);
        }
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
