//! The announcer's state: the announcements in progress, the addresses
//! held for the refresh, and the lease that may hold everything back.
//! Pure: commands and the time come in as arguments, frames go out on the
//! [`Link`] passed in, and what happened comes back as [`AnnounceReport`]s; the
//! worker thread of `mod.rs` only feeds it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::job::{self, Job};
use super::link::Link;
use super::refresh::Pacer;
use super::{AnnounceReport, AnnounceSettings, Lease, Request};
use crate::base::VifAddress;

/// How soon a job held back by an expired lease looks again.
pub(super) const LEASE_RETRY: Duration = Duration::from_millis(1);

/// Everything the announcer has still to send.
pub(super) struct Schedule {
    settings: AnnounceSettings,
    lease: Option<Arc<Lease>>,
    jobs: Vec<Job>,
    /// The addresses of every VIF announced and not cancelled since: what
    /// the refresh walks.
    held: BTreeMap<usize, Vec<VifAddress>>,
    pacer: Option<Pacer>,
}

impl Schedule {
    /// An empty schedule; the first refresh (if any) is one period after
    /// `now`.
    pub(super) fn new(
        settings: AnnounceSettings,
        lease: Option<Arc<Lease>>,
        now: Instant,
    ) -> Schedule {
        Schedule {
            settings,
            lease,
            jobs: Vec::new(),
            held: BTreeMap::new(),
            pacer: settings.refresh.map(|period| Pacer::new(period, now)),
        }
    }

    /// Starts the announcement `request` asks for at `now`, replacing any
    /// still running for the same VIF.
    pub(super) fn announce(&mut self, request: Request, now: Instant) {
        self.jobs.retain(|j| j.vif_index != request.vif_index);
        self.held
            .insert(request.vif_index, request.addresses.clone());
        self.jobs.push(Job::new(request, now));
    }

    /// Stops whatever is still to be sent for VIF `vif_index`, refresh
    /// included.
    pub(super) fn cancel(&mut self, vif_index: usize) {
        self.jobs.retain(|j| j.vif_index != vif_index);
        self.held.remove(&vif_index);
    }

    /// Sends on `link` what is due at `now`; drops the finished and failed
    /// jobs and says what became of them.
    pub(super) fn run_due(&mut self, now: Instant, link: &mut dyn Link) -> Vec<AnnounceReport> {
        if self.lease.as_ref().is_some_and(|lease| !lease.valid(now)) {
            // Held back: the jobs wait (a cancel may come meanwhile).
            for job in self.jobs.iter_mut().filter(|job| job.due <= now) {
                job.due = now + LEASE_RETRY;
            }
            if let Some(pacer) = &mut self.pacer {
                pacer.postpone(now + LEASE_RETRY);
            }
            return Vec::new();
        }
        let settings = self.settings;
        let mut reports = Vec::new();
        self.jobs.retain_mut(|job| {
            if job.due > now {
                return true;
            }
            match job.step(now, &settings, link) {
                Ok(Some(due)) => {
                    job.due = due;
                    true
                }
                Ok(None) => {
                    reports.push(AnnounceReport::Done {
                        vif_index: job.vif_index,
                    });
                    false
                }
                Err(error) => {
                    reports.push(AnnounceReport::Failed {
                        vif_index: job.vif_index,
                        error,
                    });
                    false
                }
            }
        });
        if let Some(report) = self.refresh_due(now, link) {
            reports.push(report);
        }
        reports
    }

    /// Announces the held address the pacer says is due, if any.
    fn refresh_due(&mut self, now: Instant, link: &mut dyn Link) -> Option<AnnounceReport> {
        let pacer = self.pacer.as_mut()?;
        let count = self.held.values().map(Vec::len).sum();
        let index = pacer.due(now, count)?;
        let (&vif_index, vip) = self
            .held
            .iter()
            .flat_map(|(vif, addresses)| addresses.iter().map(move |a| (vif, a)))
            .nth(index)?;
        let error = job::announce(link, vip).err()?;
        Some(AnnounceReport::RefreshFailed { vif_index, error })
    }

    /// When there is next something to do (none: nothing until the next
    /// command).
    pub(super) fn next_due(&self) -> Option<Instant> {
        let jobs = self.jobs.iter().map(|j| j.due).min();
        let refresh = self.pacer.as_ref().map(Pacer::next);
        match (jobs, refresh) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
