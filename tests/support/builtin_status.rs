//! What a node of the built-in membership says about itself in its JSON
//! status (`wackatrl -l --json`, asked here straight on the control
//! socket), read as a JSON tree: `state`, `view_id`, `member_count` and
//! `quorum` at the top; `service.membership` with the installed `view`
//! (ltime, coordinator, incarnation, members), `views_installed`, the
//! `refused` datagrams no listed node can be blamed for (by reason), and
//! `nodes`: one object per configured node in `Nodes` order with its
//! `state` (`self`, `in view`, `reachable`, `suspected`, `unreachable`),
//! `incarnation`, `last_heard_ms` and its own `refused` counts.
//!
//! [`ViewWatch`] follows the views of several nodes on a thread and
//! counts how often they change.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use wackamole::control::ControlClient;

use crate::json::Json;

/// One node's JSON status.
#[derive(Debug, Clone)]
pub struct NodeReport {
    pub json: Json,
    pub text: String,
}

impl NodeReport {
    /// Asks the daemon behind `control` for its JSON status.
    pub fn ask(control: &Path, timeout: Duration) -> Result<NodeReport, String> {
        let text = ControlClient::connect(control, timeout)
            .and_then(|mut client| client.json_status())
            .map_err(|e| e.to_string())?;
        let json = Json::parse(&text).map_err(|e| format!("{e}: {text}"))?;
        Ok(NodeReport { json, text })
    }

    /// The engine's state: `BOOT`, `GATHER`, `RUN` or `DISCONNECTED`.
    pub fn state(&self) -> Option<&str> {
        self.json.get("state")?.as_str()
    }

    pub fn mature(&self) -> bool {
        self.json.get("mature") == Some(&Json::Bool(true))
    }

    /// The installed view's id (the membership's own when the document
    /// has it), as written in the document; None without a view.
    pub fn view_id(&self) -> Option<String> {
        if let Some(view) = self.membership().and_then(|m| m.get("view")) {
            return match view {
                Json::Null => None,
                view => Some(format!(
                    "{}/{}/{}",
                    view.get("ltime")?,
                    view.get("coordinator")?,
                    view.get("incarnation")?
                )),
            };
        }
        match self.json.get("view_id")? {
            Json::Null => None,
            id => Some(id.to_string()),
        }
    }

    /// The engine's view size (0 while it is out of the group, as under
    /// the quorum).
    pub fn member_count(&self) -> Option<u64> {
        self.json.get("member_count")?.as_u64()
    }

    /// How many members the membership's installed view has (the
    /// engine's count where the document has no membership).
    pub fn view_size(&self) -> Option<u64> {
        match self.membership().and_then(|m| m.get("view")) {
            Some(Json::Null) => Some(0),
            Some(view) => Some(view.get("members")?.as_array().len() as u64),
            None => self.member_count(),
        }
    }

    /// The document without its VIF and member lists, for messages.
    pub fn summary(&self) -> String {
        match &self.json {
            Json::Object(members) => {
                let mut short = members.clone();
                short.remove("vifs");
                short.remove("members");
                Json::Object(short).to_string()
            }
            other => other.to_string(),
        }
    }

    pub fn held_count(&self) -> Option<u64> {
        self.json.get("held_count")?.as_u64()
    }

    pub fn service(&self) -> Option<&Json> {
        self.json.get("service")
    }

    /// The service's name (`spread` or `membership`).
    pub fn service_name(&self) -> Option<&str> {
        self.service()?.get("name")?.as_str()
    }

    /// The service's own state (for the membership: `joining`, `in view`,
    /// `changing view`, `left` or `not answering`).
    pub fn service_state(&self) -> Option<&str> {
        self.service()?.get("state")?.as_str()
    }

    /// What the built-in membership reports, when it runs.
    pub fn membership(&self) -> Option<&Json> {
        self.service()?.get("membership")
    }

    /// The per-node objects, in configuration order.
    pub fn nodes(&self) -> &[Json] {
        self.membership()
            .and_then(|m| m.get("nodes"))
            .map_or(&[], Json::as_array)
    }

    /// Each configured node's state as this node sees it.
    pub fn node_states(&self) -> Vec<String> {
        self.nodes()
            .iter()
            .map(|n| {
                n.get("state")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }

    /// Every datagram this node refused, whatever the reason and sender.
    pub fn refused(&self) -> u64 {
        let unattributed = self
            .membership()
            .and_then(|m| m.get("refused"))
            .map_or(0, sum);
        unattributed
            + (0..self.nodes().len())
                .map(|i| self.refused_from(i))
                .sum::<u64>()
    }

    /// Refused datagrams that authenticated as configured node `i`'s.
    pub fn refused_from(&self, i: usize) -> u64 {
        self.nodes()
            .get(i)
            .and_then(|n| n.get("refused"))
            .map_or(0, sum)
    }

    /// Refused datagrams for `reason` (`bad_mac`, `replayed`, ...), from
    /// no node in particular and from every node.
    pub fn refused_for(&self, reason: &str) -> u64 {
        let count = |v: Option<&Json>| v.and_then(|r| r.get(reason)).and_then(Json::as_u64);
        count(self.membership().and_then(|m| m.get("refused"))).unwrap_or(0)
            + self
                .nodes()
                .iter()
                .filter_map(|n| count(n.get("refused")))
                .sum::<u64>()
    }

    /// How many views this node's membership has installed.
    pub fn views_installed(&self) -> Option<u64> {
        self.membership()?.get("views_installed")?.as_u64()
    }

    /// Whether the view meets the quorum (None when not reported).
    pub fn quorum_met(&self) -> Option<bool> {
        match self.json.get("quorum")?.get("met")? {
            Json::Bool(met) => Some(*met),
            _ => None,
        }
    }
}

/// The sum of the counts in an object of counts (or the count itself).
fn sum(value: &Json) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| value.members().map(|(_, v)| sum(v)).sum())
}

/// What a [`ViewWatch`] saw of one node.
#[derive(Debug, Clone, Default)]
pub struct ViewHistory {
    /// Every distinct view id, in the order first seen (None: no view).
    pub views: Vec<Option<String>>,
    /// `views_installed` at the first and the latest answer.
    pub installed: Option<(u64, u64)>,
    /// Status requests that got no answer.
    pub silent: usize,
    pub polls: usize,
}

impl ViewHistory {
    /// View changes seen: distinct views after the first, or views
    /// installed meanwhile if that is more (a view the polls missed).
    pub fn changes(&self) -> usize {
        let installed = self.installed.map_or(0, |(first, last)| last - first);
        self.views
            .len()
            .saturating_sub(1)
            .max(usize::try_from(installed).unwrap_or(usize::MAX))
    }
}

/// Polls the view id of several nodes on a thread until finished.
pub struct ViewWatch {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<BTreeMap<usize, ViewHistory>>>,
    thread: Option<JoinHandle<()>>,
}

impl ViewWatch {
    /// Watches the nodes whose control sockets are `controls` (by node
    /// index), asking each every `every`.
    pub fn start(controls: Vec<(usize, PathBuf)>, every: Duration) -> ViewWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(BTreeMap::new()));
        let thread = {
            let (stop, seen) = (stop.clone(), seen.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let next = Instant::now() + every;
                    for (i, control) in &controls {
                        let answer = NodeReport::ask(control, Duration::from_secs(2));
                        let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                        let history: &mut ViewHistory = seen.entry(*i).or_default();
                        history.polls += 1;
                        match answer {
                            Ok(report) => {
                                let id = report.view_id();
                                if !history.views.contains(&id) {
                                    history.views.push(id);
                                }
                                if let Some(now) = report.views_installed() {
                                    let first = history.installed.map_or(now, |(first, _)| first);
                                    history.installed = Some((first, now));
                                }
                            }
                            Err(_) => history.silent += 1,
                        }
                    }
                    thread::sleep(next.saturating_duration_since(Instant::now()));
                }
            })
        };
        ViewWatch {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    /// What was seen so far, by node.
    pub fn snapshot(&self) -> BTreeMap<usize, ViewHistory> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stops watching; what was seen, by node.
    pub fn finish(mut self) -> BTreeMap<usize, ViewHistory> {
        self.halt();
        self.snapshot()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ViewWatch {
    fn drop(&mut self) {
        self.halt();
    }
}
