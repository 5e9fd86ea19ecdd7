//! What a node of the built-in membership says about itself in its JSON
//! status (`wackatrl -l --json`, asked here straight on the control
//! socket), read as a JSON tree:
//!
//! - `state`, `view_id` and `member_count` at the top, as with Spread;
//! - in `service`: an array of one object per configured node, in
//!   configuration order, each with its `state` (`self`, `in view`,
//!   `reachable`, `suspected`, `unreachable`);
//! - refused datagrams: every number under a key containing `refused`
//!   (an object there counts by its `total` if it has one, otherwise by
//!   the sum of its numbers), so that counts kept per node and for no node
//!   in particular add up;
//! - a count of installed views, if any: a number under a key containing
//!   `views`.
//!
//! [`ViewWatch`] follows the view ids of several nodes on a thread and
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

    /// The installed view's id as written in the document; None without
    /// a view.
    pub fn view_id(&self) -> Option<String> {
        match self.json.get("view_id")? {
            Json::Null => None,
            id => Some(id.to_string()),
        }
    }

    pub fn member_count(&self) -> Option<u64> {
        self.json.get("member_count")?.as_u64()
    }

    pub fn held_count(&self) -> Option<u64> {
        self.json.get("held_count")?.as_u64()
    }

    pub fn service(&self) -> Option<&Json> {
        self.json.get("service")
    }

    /// The service's name (`spread`, or the built-in one's).
    pub fn service_name(&self) -> Option<&str> {
        self.service()?.get("name")?.as_str()
    }

    /// The per-node objects of the service, in configuration order: the
    /// first array in it whose items are objects with a string `state`.
    pub fn nodes(&self) -> Vec<&Json> {
        fn find(value: &Json) -> Option<&[Json]> {
            match value {
                Json::Array(items)
                    if !items.is_empty()
                        && items
                            .iter()
                            .all(|i| i.get("state").and_then(Json::as_str).is_some()) =>
                {
                    Some(items)
                }
                Json::Array(items) => items.iter().find_map(find),
                Json::Object(_) => value.members().find_map(|(_, v)| find(v)),
                _ => None,
            }
        }
        self.service()
            .and_then(find)
            .map(|items| items.iter().collect())
            .unwrap_or_default()
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

    /// Every datagram this node refused, whatever the reason.
    pub fn refused(&self) -> u64 {
        self.service().map_or(0, refused_in)
    }

    /// Datagrams refused that the status puts on configured node `i`.
    pub fn refused_from(&self, i: usize) -> u64 {
        self.nodes().get(i).map_or(0, |n| refused_in(n))
    }

    /// The service's count of views installed, if it keeps one.
    pub fn views_installed(&self) -> Option<u64> {
        self.service()?
            .members()
            .find(|(key, value)| key.contains("views") && value.as_u64().is_some())
            .and_then(|(_, value)| value.as_u64())
    }
}

/// The refused datagrams counted anywhere under `value`.
fn refused_in(value: &Json) -> u64 {
    match value {
        Json::Object(_) => value
            .members()
            .map(|(key, v)| {
                if key.contains("refused") {
                    counted(v)
                } else {
                    refused_in(v)
                }
            })
            .sum(),
        Json::Array(items) => items.iter().map(refused_in).sum(),
        _ => 0,
    }
}

/// A count, or an object of counts by reason (its `total` if it has one).
fn counted(value: &Json) -> u64 {
    if let Some(n) = value.as_u64() {
        return n;
    }
    if let Some(total) = value.get("total").and_then(Json::as_u64) {
        return total;
    }
    value.members().map(|(_, v)| counted(v)).sum()
}

/// What a [`ViewWatch`] saw of one node.
#[derive(Debug, Clone, Default)]
pub struct ViewHistory {
    /// Every distinct view id, in the order first seen (None: no view).
    pub views: Vec<Option<String>>,
    /// Status requests that got no answer.
    pub silent: usize,
    pub polls: usize,
}

impl ViewHistory {
    /// View changes seen: distinct views after the first.
    pub fn changes(&self) -> usize {
        self.views.len().saturating_sub(1)
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
