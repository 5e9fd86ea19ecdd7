//! What goes into the engine and what comes out of it.

use std::time::Duration;

use super::health_map::LocalHealth;
use super::index::VifIndex;
/// Log records carry the facade's severity; the engine only names it.
pub use crate::base::Level;
use crate::base::{ArpEntry, GroupId};
use crate::config::HookEvent;

/// A regular membership of our group, as the group service delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// The view's id: STATE and PROCEED bodies name it.
    pub group_id: GroupId,
    /// Opaque member names, in the group service's order (index 0 leads).
    pub members: Vec<String>,
    /// Our position in `members`.
    pub my_index: usize,
}

/// A message delivered to the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The sending member's name, as in [`View::members`].
    pub sender: String,
    /// The Wackamole message type ([`super::codec::mess_type`]).
    pub mess_type: i16,
    /// The sender's byte order differs from ours.
    pub endian_mismatch: bool,
    /// The body, as sent.
    pub body: Vec<u8>,
}

/// The engine's timers. Each is either armed once or not at all; arming
/// an armed timer restarts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// Announce maturity to the group.
    Maturity,
    /// The leader's next balancing round.
    Balance,
    /// Members of the view have not sent their STATE in time.
    StateWait,
    /// Share our ARP table again.
    ArpShare,
    /// A VIF given to us has waited [`super::RELEASE_WAIT`] for the
    /// RELEASED of a member that had it up.
    ReleaseWait,
}

/// What the engine is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// We joined the group (a view follows).
    Connected,
    /// We are out of the group, by choice or not.
    Disconnected,
    /// A new view of the group.
    View(View),
    /// A message delivered to the group.
    Message(Message),
    /// A timer the engine armed has expired.
    TimerFired(Timer),
    /// The kernel's ARP table, read because of [`Output::ReadArpTable`].
    LocalArpTable(Vec<ArpEntry>),
    /// What this node can serve now, as its trackers see it (until the
    /// first, everything).
    Health(LocalHealth),
}

/// Ordering a multicast needs from the group service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Totally ordered with every other agreed message and view.
    Agreed,
    /// Reliable, in no particular order.
    Reliable,
}

/// What the engine asks its driver to do, in order.
///
/// The driver must carry out each output completely before the next one:
/// in particular a [`Output::Multicast`] that follows a
/// [`Output::Release`] is sent only once the VIF's addresses are out of
/// the kernel. The RELEASED message relies on it: when it is delivered,
/// the addresses it lists are already down at its sender, and the new
/// owner brings them up only then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send a message to the group.
    Multicast {
        /// The ordering it needs.
        delivery: Delivery,
        /// The Wackamole message type.
        mess_type: i16,
        /// The encoded body.
        body: Vec<u8>,
    },
    /// Bring up every address of this VIF and announce it. Never emitted
    /// for a VIF we hold.
    Acquire(VifIndex),
    /// Take down every address of this VIF. Never emitted for a VIF we do
    /// not hold.
    Release(VifIndex),
    /// Run the hooks of this event (`OnUp` / `OnDown`) for this VIF.
    Hooks(HookEvent, VifIndex),
    /// Run the hooks of this event (`PostUp` / `PostDown`) once, after
    /// the round acquired (or released) these VIFs, in the order it did.
    PostHooks(HookEvent, Vec<VifIndex>),
    /// Start (or restart) a timer.
    ArmTimer(Timer, Duration),
    /// Stop a timer, if armed.
    DisarmTimer(Timer),
    /// Read the kernel's ARP table and hand it back as
    /// [`Input::LocalArpTable`].
    ReadArpTable,
    /// Log a record.
    Log(Level, String),
}
