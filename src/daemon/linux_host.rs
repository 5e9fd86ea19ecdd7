//! The daemon's [`Host`]: this machine's interfaces, ARP table, announcer
//! thread, hook thread and log.

use std::fmt;
use std::time::Duration;

use super::host::{Added, Announcement, Host, HostError, Renewed};
use crate::base::{ArpEntry, Level, VifAddress};
use crate::config::{Hook, HookEvent};
use crate::control::{WatchEvent, Watchers};
use crate::hooks::{HookDetails, HookRunner};
use crate::log;
use crate::net::announce::Announcer;
use crate::net::arptable;
use crate::net::iface::{self, Outcome, Renewal};

/// Linux, through `net`, with the announcer and the hook runner threads.
pub(super) struct LinuxHost {
    announcer: Announcer,
    hooks: HookRunner,
    watchers: Watchers,
}

impl LinuxHost {
    pub(super) fn new(announcer: Announcer, hooks: HookRunner, watchers: Watchers) -> LinuxHost {
        LinuxHost {
            announcer,
            hooks,
            watchers,
        }
    }

    /// Stops the announcer and waits for the queued hooks (each bounded
    /// by its time-out), so `on down` hooks of a clean exit still run.
    pub(super) fn finish(self) {
        let LinuxHost {
            announcer, hooks, ..
        } = self;
        drop(announcer);
        hooks.finish();
    }
}

impl Host for LinuxHost {
    fn add(
        &mut self,
        address: &VifAddress,
        lifetime: Option<Duration>,
    ) -> Result<Added, HostError> {
        match iface::bring_up_for(address, lifetime) {
            Ok(Outcome::Added { .. }) => Ok(Added::New),
            Ok(Outcome::AlreadyPermanent { .. }) => Ok(Added::Permanent),
            Ok(_) => Ok(Added::Present),
            Err(err) => Err(HostError(err.to_string())),
        }
    }

    fn renew(
        &mut self,
        addresses: &[VifAddress],
        lifetime: Duration,
    ) -> Vec<Result<Renewed, HostError>> {
        match iface::renew_all(addresses, lifetime) {
            Ok(answers) => answers
                .into_iter()
                .map(|answer| match answer {
                    Ok(Renewal::Renewed) => Ok(Renewed::Renewed),
                    Ok(Renewal::Missing) => Ok(Renewed::Missing),
                    Ok(Renewal::Permanent) => Ok(Renewed::Permanent),
                    Err(err) => Err(HostError(err.to_string())),
                })
                .collect(),
            Err(err) => addresses
                .iter()
                .map(|_| Err(HostError(err.to_string())))
                .collect(),
        }
    }

    fn remove(&mut self, address: &VifAddress) -> Result<(), HostError> {
        iface::take_down(address)
            .map(|_| ())
            .map_err(|err| HostError(err.to_string()))
    }

    fn read_arp_table(&mut self) -> Result<Vec<ArpEntry>, HostError> {
        arptable::read().map_err(|err| HostError(err.to_string()))
    }

    fn announce(&mut self, announcement: Announcement) {
        self.announcer.announce(
            announcement.vif,
            announcement.addresses,
            announcement.notify,
            announcement.arp_cache,
        );
    }

    fn cancel_announcement(&mut self, vif: usize) {
        self.announcer.cancel(vif);
    }

    fn run_hooks(&mut self, event: HookEvent, hooks: &[Hook], details: HookDetails) {
        self.hooks.run(event, hooks, &details);
    }

    fn log(&mut self, level: Level, message: fmt::Arguments<'_>) {
        log::emit(level, message);
    }

    fn watch(&mut self, event: WatchEvent) {
        self.watchers.publish(event);
    }
}
