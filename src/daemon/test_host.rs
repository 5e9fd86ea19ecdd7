//! A [`Host`] for the daemon's unit tests: a kernel of addresses in
//! memory, and a journal of every call, shared with whoever else wants to
//! write in it (a fake group service), so tests can check the order of
//! effects across both.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::host::{Added, Announcement, Host, HostError, Renewed};
use crate::base::{ArpEntry, Level, VifAddress};
use crate::config::{Hook, HookEvent};
use crate::control::WatchEvent;
use crate::hooks::HookDetails;

/// One line per effect, in order.
pub(super) type Journal = Rc<RefCell<Vec<String>>>;

#[derive(Default)]
pub(super) struct Recorder {
    /// Addresses configured now.
    pub kernel: BTreeSet<String>,
    /// Addresses the kernel refuses to add.
    pub refuse: BTreeSet<String>,
    pub journal: Journal,
    pub logs: Vec<(Level, String)>,
    /// What `wackatrl --watch` would have shown.
    pub watched: Vec<WatchEvent>,
}

impl Recorder {
    pub(super) fn new(journal: Journal) -> Recorder {
        Recorder {
            journal,
            ..Recorder::default()
        }
    }

    fn note(&self, line: String) {
        self.journal.borrow_mut().push(line);
    }

    /// Whether a log line containing `text` was written.
    pub(super) fn logged(&self, text: &str) -> bool {
        self.logs.iter().any(|(_, line)| line.contains(text))
    }
}

impl Host for Recorder {
    fn add(
        &mut self,
        address: &VifAddress,
        lifetime: Option<Duration>,
    ) -> Result<Added, HostError> {
        let key = address.to_string();
        if self.refuse.contains(&key) {
            self.note(format!("refused {key}"));
            return Err(HostError("no such device".into()));
        }
        match lifetime {
            Some(lifetime) => self.note(format!("up {key} for {lifetime:?}")),
            None => self.note(format!("up {key}")),
        }
        Ok(if self.kernel.insert(key) {
            Added::New
        } else {
            Added::Present
        })
    }

    fn renew(
        &mut self,
        addresses: &[VifAddress],
        lifetime: Duration,
    ) -> Vec<Result<Renewed, HostError>> {
        addresses
            .iter()
            .map(|address| {
                let key = address.to_string();
                self.note(format!("renew {key} for {lifetime:?}"));
                Ok(if self.kernel.contains(&key) {
                    Renewed::Renewed
                } else {
                    Renewed::Missing
                })
            })
            .collect()
    }

    fn remove(&mut self, address: &VifAddress) -> Result<(), HostError> {
        let key = address.to_string();
        self.note(format!("down {key}"));
        self.kernel.remove(&key);
        Ok(())
    }

    fn read_arp_table(&mut self) -> Result<Vec<ArpEntry>, HostError> {
        Ok(Vec::new())
    }

    fn announce(&mut self, announcement: Announcement) {
        self.note(format!("announce {}", announcement.vif));
    }

    fn cancel_announcement(&mut self, vif: usize) {
        self.note(format!("cancel {vif}"));
    }

    fn run_hooks(&mut self, event: HookEvent, _hooks: &[Hook], details: HookDetails) {
        self.note(format!("hooks {} {:?}", event.as_str(), details.vif_index));
    }

    fn log(&mut self, level: Level, message: fmt::Arguments<'_>) {
        self.logs.push((level, message.to_string()));
    }

    fn watch(&mut self, event: WatchEvent) {
        self.watched.push(event);
    }
}
