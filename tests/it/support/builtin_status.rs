//! [`ViewWatch`] follows the views of several nodes of the built-in
//! membership on a thread, asking each for its JSON status (see
//! status.rs), and counts how often they change.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::support::status::Status;

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
                        let answer = Status::ask(control, Duration::from_secs(2));
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

    /// Watches on until every node was asked at least `polls` times or
    /// `within` has passed (a loaded machine answers slowly), then stops;
    /// what was seen, by node.
    pub fn finish_after(self, polls: usize, within: Duration) -> BTreeMap<usize, ViewHistory> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let seen = self.snapshot();
            if !seen.is_empty() && seen.values().all(|h| h.polls >= polls) {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.finish()
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
