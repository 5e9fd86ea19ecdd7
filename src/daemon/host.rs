//! What the daemon core does to the machine, behind one trait.
//!
//! The [`Core`](super::core::Core) decides; a [`Host`] carries it out.
//! The daemon's host (`LinuxHost`, in `linux_host.rs`) puts
//! addresses on interfaces, reads the kernel's ARP table, hands
//! announcements to the announcer thread, queues hooks and writes the log;
//! tests and simulations record the same calls in simulated time and check
//! what a kernel would hold at each instant. Every method returns at once:
//! what may take long (an announcement walk, a hook) runs on a thread of
//! the host's own.

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::base::{ArpEntry, Level, NotifyTarget, VifAddress};
use crate::config::{Hook, HookEvent};
use crate::control::WatchEvent;
use crate::hooks::HookDetails;

/// What adding an address did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// The address is now configured (by us).
    New,
    /// The interface had it already: nothing was done.
    Present,
    /// The interface had it already without a lifetime though one was
    /// asked (added by hand): it is the operator's, left alone, and the
    /// kernel will not drop it should this process stall.
    Permanent,
}

/// What renewing an address found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewed {
    /// Its lifetime starts again.
    Renewed,
    /// It is not on its interface any more (expired, or removed by
    /// someone): nothing was added.
    Missing,
    /// It is there without a lifetime (the operator's): left alone.
    Permanent,
}

/// A refusal of the host (the kernel said no), for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError(pub String);

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HostError {}

/// One announcement to start for a VIF whose addresses are up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The VIF, by configuration index.
    pub vif: usize,
    /// Its addresses, primary first.
    pub addresses: Vec<VifAddress>,
    /// The configured `Notify` targets.
    pub notify: Vec<NotifyTarget>,
    /// The cluster's shared ARP cache, walked by `arp-cache` targets.
    pub arp_cache: Vec<(Ipv4Addr, [u8; 6])>,
}

/// The effects of the daemon core.
pub trait Host {
    /// Configures `address` on its interface; with a `lifetime`, the
    /// kernel removes it by itself that long after unless
    /// [`renew`](Host::renew)ed.
    fn add(&mut self, address: &VifAddress, lifetime: Option<Duration>)
        -> Result<Added, HostError>;

    /// Gives every address of `addresses` (added with a lifetime) that
    /// lifetime again from now; one answer per address, in order.
    fn renew(
        &mut self,
        addresses: &[VifAddress],
        lifetime: Duration,
    ) -> Vec<Result<Renewed, HostError>>;

    /// Removes `address` from its interface.
    fn remove(&mut self, address: &VifAddress) -> Result<(), HostError>;

    /// The kernel's ARP table.
    fn read_arp_table(&mut self) -> Result<Vec<ArpEntry>, HostError>;

    /// Announces a VIF, replacing whatever is still being sent for it.
    fn announce(&mut self, announcement: Announcement);

    /// Stops what is still to be sent for VIF `vif`.
    fn cancel_announcement(&mut self, vif: usize);

    /// Queues the hooks of `event`.
    fn run_hooks(&mut self, event: HookEvent, hooks: &[Hook], details: HookDetails);

    /// Writes one log record.
    fn log(&mut self, level: Level, message: fmt::Arguments<'_>);

    /// Tells the operators watching (`wackatrl --watch`) what happened.
    fn watch(&mut self, event: WatchEvent);
}
