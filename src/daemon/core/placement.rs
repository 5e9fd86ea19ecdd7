//! Addresses in the kernel: bringing a VIF's addresses up (and trying
//! again where the kernel refused one), and taking them down.

use std::time::Instant;

use super::{Core, Deadline, ADDRESS_RETRY};
use crate::base::{Level, VifAddress};
use crate::control::{MoveReason, WatchEvent};
use crate::daemon::group::GroupService;
use crate::daemon::host::{Added, Announcement, Host};
use crate::engine::VifIndex;

impl<S: GroupService, H: Host> Core<S, H> {
    pub(super) fn addresses(&self, vif: VifIndex) -> Vec<VifAddress> {
        self.config
            .vifs
            .get(vif.0)
            .map(|v| v.addresses.clone())
            .unwrap_or_default()
    }

    /// Brings up every address of `vif` and announces them (on a later
    /// try, only if one came up). Where the kernel refuses an address, the
    /// VIF is remembered and tried again every [`ADDRESS_RETRY`]: the
    /// group has given it to us, so nobody else will serve it. The first
    /// refusal is an error in the log; the tries after it log at debug
    /// level, so an interface that stays down does not flood the log.
    /// `first_try` is why the VIF moves here (for the watchers), `None`
    /// on a later try.
    pub(super) fn place(&mut self, vif: VifIndex, first_try: Option<&MoveReason>, now: Instant) {
        let addresses = self.addresses(vif);
        let mut complete = true;
        let mut added = false;
        let lifetime = self.config.addresses.lifetime;
        for address in &addresses {
            match self.host.add(address, lifetime) {
                Ok(Added::New) => {
                    added = true;
                    self.log(Level::Notice, format_args!("UP: {address}"));
                }
                Ok(Added::Present) => {
                    self.log(Level::Debug, format_args!("{address} was already up"))
                }
                Ok(Added::Permanent) => self.log(
                    Level::Warning,
                    format_args!(
                        "{address} was already up without a lifetime (added by hand?): left \
                         as it is, so a stall of this daemon will not take it down"
                    ),
                ),
                Err(err) if first_try.is_some() => {
                    complete = false;
                    self.log(
                        Level::Error,
                        format_args!(
                            "cannot bring up {address}: {err}; trying again every \
                             {ADDRESS_RETRY:?}"
                        ),
                    );
                }
                Err(err) => {
                    complete = false;
                    self.log(Level::Debug, format_args!("{address} refused again: {err}"));
                }
            }
        }
        if lifetime.is_some() && self.timers.at(Deadline::Renew).is_none() {
            self.arm_renewal(now);
        }
        if complete {
            self.unplaced.remove(&vif);
        } else {
            if self.unplaced.is_empty() {
                self.timers
                    .arm(Deadline::PlaceAddresses, now + ADDRESS_RETRY);
            }
            self.unplaced.insert(vif);
        }
        if let Some(cause) = first_try {
            self.host.watch(WatchEvent::Acquired {
                vif: vif.0,
                addresses: addresses.clone(),
                reason: cause.clone(),
            });
        }
        if first_try.is_some() || added {
            let arp_cache = self
                .engine
                .arp_cache()
                .iter()
                .map(|(&addr, &mac)| (addr, mac))
                .collect();
            self.host.announce(Announcement {
                vif: vif.0,
                addresses,
                notify: self.config.notify.clone(),
                arp_cache,
            });
        }
    }

    /// Another try for the VIFs whose addresses did not all come up.
    pub(super) fn place_again(&mut self, now: Instant) {
        for vif in std::mem::take(&mut self.unplaced) {
            if self.acquired.contains_key(&vif) && !self.lapsed {
                self.place(vif, None, now);
            }
        }
    }

    /// Takes every address of `vif` out of the kernel, for `cause`.
    pub(super) fn release(&mut self, vif: VifIndex, cause: &MoveReason) {
        self.unplaced.remove(&vif);
        self.host.cancel_announcement(vif.0);
        if self.lapsed || self.deferred.remove(&vif) {
            // Not in the kernel.
            return;
        }
        self.take_down(vif, cause);
    }

    /// Takes `vif`'s addresses down, telling the watchers why (`cause`).
    pub(super) fn take_down(&mut self, vif: VifIndex, cause: &MoveReason) {
        self.host.watch(WatchEvent::Released {
            vif: vif.0,
            addresses: self.addresses(vif),
            reason: cause.clone(),
        });
        for address in &self.addresses(vif) {
            match self.host.remove(address) {
                Ok(()) => self.log(Level::Notice, format_args!("DOWN: {address}")),
                Err(err) => self.log(
                    Level::Error,
                    format_args!("cannot take down {address}: {err}"),
                ),
            }
        }
    }
}
