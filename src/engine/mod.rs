//! The Wackamole allocation state machine, without I/O.
//!
//! [`Engine::handle`] takes one [`Input`] (we joined or left the group, a
//! view, a delivered message, a timer expiry, the kernel's ARP table) and
//! returns the [`Output`]s the driver must carry out in order, each one
//! done before the next (a multicast that follows a release goes out only
//! once the addresses are out of the kernel: RELEASED relies on it):
//! multicasts
//! (with the [`Delivery`] they need), acquire / release of a VIF (by its
//! index in the configuration), hooks, timer arm / disarm, a request to
//! read the ARP table, and log records. The engine reads no clock: timers
//! are relative durations the driver arms and reports back as
//! [`Input::TimerFired`]. [`Engine::snapshot`] is the picture the control
//! socket shows; [`Engine::arp_cache`] is the cluster-wide ARP cache the
//! announcer walks.
//!
//! Where each job lives:
//!
//! - `machine`: the [`Engine`] type, its dispatch of inputs and the
//!   outputs every job shares (acquire, release, timers, logs), plus
//!   maturity timers and the ARP cache;
//! - `view`: a new view and its state exchange (STATE, duplicate
//!   identities, silent members and PROCEED);
//! - `claim`: a STATE's claims and preferences, the priority claim, claim
//!   unclaimed, and making what we hold match the settled table;
//! - `balance`: the leader's balancing rounds and the application of a
//!   BALANCE;
//! - `handoff`: HOLDING and RELEASED, who may still have a VIF up, and a
//!   new owner waiting for the old one to take it down;
//! - `health`: this node's [`LocalHealth`], the view's agreed health map
//!   (HEALTH, type 9) and the rules that keep every VIF with a member
//!   that can serve it (its module docs say which);
//! - `snapshot`: the read-only picture the control socket shows;
//! - `table`: the allocation table and its pure rules; [`codec`]: the
//!   message bodies; `event` and `settings`: what goes in and out.
//!
//! What the jobs keep sits apart from the jobs, so that imports run one
//! way (the [`Engine`] type in `machine` imports the state, each job
//! imports `machine` and the state, nothing imports a job): `members`
//! holds the current view's members and where each stands in the state
//! exchange, `handoff_account` the account of who owes a RELEASED,
//! `health_map` this node's health and the view's agreed health map.
//!
//! The rules are those of the original C nodes (etc/design/ALGORITHM.md), and
//! the [`codec`] bodies are byte-compatible with theirs. Where we differ:
//!
//! - **Acquire and release are bookkept.** The engine keeps what it holds;
//!   it never emits `Acquire` for a VIF it holds nor `Release` for one it
//!   does not. When a state exchange settles, what we hold is made to
//!   match the table exactly (the original only touched VIFs the claim
//!   rules named, which left stale holdings in some merge orders).
//! - **Counts are derived from the table** whenever they are needed
//!   (claim unclaimed, balancing), rather than carried over from the
//!   STATE counts and adjusted against the previous table (as a C node
//!   does except at its first maturity). Every member computes them from
//!   the same table, so they agree. Where the members of a view share one
//!   previous table, and every STATE reports from it (ours do, see below),
//!   the C adjustments give exactly these counts, so claim unclaimed picks
//!   the same members (the simulation checks this against a model of the
//!   C rules). They differ only after a merge in which a preference was
//!   pending while members of both sides claimed the same VIF; C nodes
//!   from the two sides then count differently from each other, so no
//!   choice could agree with all of them, and it matters only if VIFs are
//!   unclaimed in that same view.
//! - **What our STATE reports** is what a C node's reports: the entries
//!   of our previous table (the settled table of our last view change in
//!   RUN) that name us, where a STATE conflict in any later view, even one
//!   replaced before it settled, rewrote the entry to the winner. So when
//!   a merge is cut short after two other members claimed a VIF we still
//!   have up, we stop reporting it, as a C node does, and give it up when
//!   the next exchange settles if the table names another owner. (We used
//!   to report whatever we held; a C member then counted such a VIF both
//!   for us and for the member preferring it, and gave the unclaimed VIFs
//!   out differently from us: a split table in a mixed cluster.) The one
//!   VIF we report without having it up is one the table gave us while we
//!   were still waiting for its old owner's RELEASED (below): a C node's
//!   table names it too.
//! - **A VIF moved between two of our members is never up at both.** In
//!   the original, a BALANCE (or the settling of a state exchange that
//!   hands a VIF to the member preferring it, or gives away one a member
//!   has up without reporting it) makes the new owner acquire and the old
//!   one release as each delivers it, so both answer ARP for the time
//!   between the two deliveries (up to a few milliseconds measured). We
//!   make the order explicit with two messages of ours (types 7 and 8,
//!   AGREED, which C nodes ignore; layout in [`codec`]):
//!   - HOLDING, sent on every view just before our STATE, lists the VIFs
//!     we have up. A member whose HOLDING came before its STATE is one of
//!     ours; one that sent none (a C node, or one of ours too old to
//!     know) is never waited for, and its VIFs move as in the original.
//!   - RELEASED lists VIFs we have just taken down: our `Release` outputs
//!     come first, then the RELEASED multicast (the driver carries out
//!     outputs in order), then the `on down` hooks. We send it when the
//!     settled table gives a VIF our HOLDING listed to another member,
//!     and when a BALANCE moves a VIF away from us (even one we were
//!     still waiting for).
//!   - Every member keeps, from these agreed messages alone, the same
//!     account of which members of ours owe a RELEASED for which VIF
//!     (once per time they gave it up). The owner brings a VIF up when
//!     no other member owes one for it: at once if none does (a VIF
//!     nobody had up, or one from a C node), else on delivering the last
//!     RELEASED. Until then the VIF is *waiting* (the snapshot's
//!     `awaiting_release`): the table is unchanged (every member still
//!     computes what a C node computes), a BALANCE may move it on (its
//!     debts follow it, and we owe one more), and a view change drops the
//!     wait: the new view's HOLDING and STATE messages decide afresh (our
//!     STATE claims the VIF, as a C node's would; the old owner took it
//!     down when it applied the BALANCE, so its HOLDING does not list it).
//!   - A RELEASED that does not come within [`RELEASE_WAIT`] (its sender
//!     stuck while the group keeps it) is given up on with a warning and
//!     the VIF brought up: an address down for longer would be the worse
//!     outage. Likewise a member of ours stuck for longer than the state
//!     wait, whose HOLDING has not arrived when PROCEED settles the view
//!     without it, is not known to have anything up and is not waited
//!     for; it takes its VIFs down when it delivers that PROCEED.
//!
//!   Neither message changes a byte of STATE or BALANCE. With a C node on
//!   either side of a move, the overlap stays what it was in the original
//!   (bounded by the time between the two nodes' deliveries of the
//!   BALANCE or of the settling message).
//! - **Balancing**: the fullest member that still holds a movable (below
//!   PREFER) VIF gives one to the emptiest while they differ by more than
//!   one; a fullest member holding only preferred VIFs no longer ends the
//!   round, and a BALANCE carries exactly the moves it announces. Only the
//!   leader plans moves and everyone applies the same BALANCE, so this is
//!   safe next to C nodes. The leader plans no new round while its last
//!   BALANCE has not come back, and stops re-arming once nothing moves.
//!   A move to the current owner does nothing.
//! - **Leader** is the lowest-index member that took part in the table
//!   (index 0 whenever every member sent its STATE, as in the original).
//! - **STATE** is only taken during the state exchange of its view; a
//!   member's second STATE in one view is ignored, as is a member claiming
//!   a VIF twice.
//! - **Duplicate identities**: a STATE whose real address another member
//!   of the view already reported is left out of the table (logged as an
//!   error by every member; the node it came from holds nothing until the
//!   next membership). Every member sees the STATEs in the same order, so
//!   every member leaves out the same one.
//! - **Silent members** (a view member that never sends STATE, such as a
//!   foreign client joined to the group; the original waits forever):
//!   after `Settings::state_wait` the engine logs a warning naming them,
//!   repeated every few seconds while the exchange stays stuck, and
//!   multicasts PROCEED (mess_type 6, AGREED, body: the view's group id).
//!   The first PROCEED for the current view that any member delivers
//!   finishes the exchange without the members whose STATE has not
//!   arrived by then: they are marked silent and hold nothing in this
//!   view's table. Because PROCEED is an agreed message, every member sees
//!   it after the same STATEs, so every member leaves out the same members
//!   and computes the same table; a STATE arriving after it is ignored. A
//!   C node ignores PROCEED and keeps waiting, as it would have anyway,
//!   holding what it claimed and applying no BALANCE; so a view settled
//!   by PROCEED is never balanced (a move away from a waiting C member
//!   would put its VIF up twice, a move to it would leave the VIF down).
//!   The VIFs nobody claimed are still spread by claim unclaimed; the
//!   next view whose members all report balances as usual.
//! - **Malformed bodies** are logged with what is wrong and ignored; no
//!   state changes. A BALANCE whose count announces more moves than the
//!   body carries is not malformed: a C leader sends that when the fullest
//!   member holds only preferred VIFs, and the C members apply the pairs
//!   present, so we apply exactly those (and log a notice) rather than
//!   drop moves the rest of the view carries out.
//! - **Addresses from a peer of the other byte order** are read as sent.
//!   Integers in a body follow the sender's CPU, addresses are always in
//!   network order; a C node byte-swaps the addresses along with the
//!   integers, so it sees every claim, identity and move of a peer of the
//!   other byte order as some other address, and a mixed-endian cluster
//!   of C nodes holds addresses twice. We swap only the integers, so our
//!   nodes agree whatever their CPUs (checked in `make cross-test`
//!   between a big-endian build under emulation and this host); a C node
//!   still misreads our addresses exactly as it misreads another C node's.
//! - **Health** is ours alone (`health`): a member that cannot serve a VIF
//!   holds it only while no member can, and only in views whose members
//!   are all ours (an original node ignores HEALTH and would compute
//!   another table).
//! - **ARP cache**: ARPCACHE addresses are never byte-swapped (they are in
//!   network order); 0.0.0.0 entries are skipped; the latest MAC wins.

#![forbid(unsafe_code)]

mod balance;
mod claim;
pub mod codec;
mod event;
mod handoff;
mod handoff_account;
#[cfg(test)]
mod handoff_tests;
mod health;
mod health_map;
#[cfg(test)]
mod health_tests;
mod index;
mod machine;
mod members;
mod settings;
mod snapshot;
mod table;
#[cfg(test)]
mod testkit;
mod view;

pub use crate::base::{ArpEntry, GroupId};
pub use codec::{ClaimPriority, CodecError};
pub use event::{Delivery, Input, Level, Message, Output, Timer, View};
pub use health_map::{LocalHealth, MemberHealth};
pub use index::{MemberIndex, VifIndex};
pub use machine::{Engine, Phase};
pub use members::StateReport;
pub use settings::{Settings, DEFAULT_STATE_WAIT, RELEASE_WAIT, SILENT_WARNING_REPEAT};
pub use snapshot::{MemberSnapshot, Snapshot, ViewSnapshot, VifSnapshot};
