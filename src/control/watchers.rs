//! The broadcaster behind `wackatrl --watch`: the daemon loop publishes
//! [`WatchEvent`]s to [`Watchers`], which never blocks it, and each
//! watcher's connection thread writes them out in order.
//!
//! Each watcher has a bounded queue. [`Watchers::publish`] stamps and
//! renders the event once, then offers the line to every queue without
//! waiting: a watcher whose queue is full has fallen behind and is dropped
//! (its thread writes what it had, then a last line saying so, and
//! closes). At most [`WatchLimits::max_watchers`] watch at once; one more
//! gets a line saying so and is closed. Refused datagrams, which outsiders
//! can send at any rate, are shown at most
//! [`WatchLimits::refused_per_second`] a second; the next line shown
//! counts those left out.
//!
//! What the daemon calls, from its loop's thread or any other (publishing
//! costs one uncontended lock when nobody watches):
//!
//! - once, after [`ControlServer::spawn`](super::ControlServer::spawn):
//!   [`ControlHandle::watchers`](super::ControlHandle::watchers), kept
//!   beside the handle (without a control socket, [`Watchers::default`],
//!   which nobody can reach);
//! - [`WatchEvent::View`] when a view is installed (its members as the
//!   status names them), and with no members when the node leaves or loses
//!   the group;
//! - [`WatchEvent::Acquired`] once a VIF's addresses are up, and
//!   [`WatchEvent::Released`] once they are down, with the
//!   [`MoveReason`](super::MoveReason) that moved it;
//! - [`WatchEvent::QuorumMet`] and [`WatchEvent::QuorumLost`] when the
//!   quorum's verdict on the view changes;
//! - [`WatchEvent::RefusedDatagram`] for every datagram the built-in
//!   membership refuses (the rate is bounded here);
//! - dropping the [`ControlHandle`](super::ControlHandle) at exit ends every
//!   watch with the line `stopping`, after the events already queued.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use socket2::SockRef;

use super::watch::{EndCause, WatchEvent, WatchItem, WatchRecord};
use crate::base::RateLimit;
use crate::log::utc_timestamp;

/// Bounds on what watchers may cost the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchLimits {
    /// Lines queued for one watcher before it counts as fallen behind.
    pub queue: usize,
    /// Watchers at once.
    pub max_watchers: usize,
    /// How long a watcher that reads nothing may hold up its own line
    /// before it is closed without one.
    pub stall: Duration,
    /// Refused datagrams shown a second, at most.
    pub refused_per_second: u32,
}

impl Default for WatchLimits {
    fn default() -> WatchLimits {
        WatchLimits {
            queue: 1024,
            max_watchers: 4,
            stall: Duration::from_secs(10),
            refused_per_second: 10,
        }
    }
}

/// How often an idle watcher's thread looks whether its client is still
/// there.
const IDLE_CHECK: Duration = Duration::from_millis(250);

/// The broadcaster: cheap to clone (every clone is the same hub), safe to
/// share between threads.
#[derive(Clone)]
pub struct Watchers {
    hub: Arc<Hub>,
}

struct Hub {
    limits: WatchLimits,
    state: Mutex<HubState>,
}

struct HubState {
    /// Taking new watchers and events.
    open: bool,
    /// Watchers still fed.
    queues: Vec<Queue>,
    /// Watchers whose threads still run (fed or finishing).
    serving: usize,
    /// The id the next watcher gets.
    next_id: u64,
    /// Refused datagrams shown: [`WatchLimits::refused_per_second`].
    refused: RateLimit,
}

struct Queue {
    id: u64,
    lines: SyncSender<Arc<str>>,
    behind: Arc<AtomicBool>,
}

impl Default for Watchers {
    /// A hub with the default limits.
    fn default() -> Watchers {
        Watchers::new(WatchLimits::default())
    }
}

impl std::fmt::Debug for Watchers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchers")
            .field("limits", &self.hub.limits)
            .field("watching", &self.count())
            .finish()
    }
}

impl Watchers {
    /// A hub with these limits, taking watchers.
    pub fn new(limits: WatchLimits) -> Watchers {
        Watchers {
            hub: Arc::new(Hub {
                limits,
                state: Mutex::new(HubState {
                    open: true,
                    queues: Vec::new(),
                    serving: 0,
                    next_id: 0,
                    refused: RateLimit::new(limits.refused_per_second, Duration::from_secs(1)),
                }),
            }),
        }
    }

    /// Its limits.
    pub fn limits(&self) -> WatchLimits {
        self.hub.limits
    }

    /// Tells every watcher of `event`, stamped with the time now. Never
    /// waits for a watcher: one whose queue is full is dropped. Costs a
    /// lock and a comparison when nobody watches.
    pub fn publish(&self, event: WatchEvent) {
        self.publish_at(event, Instant::now(), SystemTime::now());
    }

    fn publish_at(&self, event: WatchEvent, now: Instant, wall: SystemTime) {
        let mut state = self.state();
        if state.queues.is_empty() {
            return;
        }
        let mut suppressed = 0;
        if matches!(event, WatchEvent::RefusedDatagram { .. }) {
            match state.refused.admit(now) {
                Some(left_out) => suppressed = left_out,
                None => return,
            }
        }
        let record = WatchRecord {
            time: utc_timestamp(wall),
            item: WatchItem::Event(event),
            suppressed,
        };
        let line: Arc<str> = record.to_line().into();
        state
            .queues
            .retain(|queue| match queue.lines.try_send(Arc::clone(&line)) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    queue.behind.store(true, Ordering::SeqCst);
                    false
                }
                Err(TrySendError::Disconnected(_)) => false,
            });
    }

    /// Watchers being fed now.
    pub fn count(&self) -> usize {
        self.state().queues.len()
    }

    /// Ends every watch (each gets a last line: the daemon stops) and
    /// refuses new ones. [`ControlHandle`](super::ControlHandle) does it
    /// when dropped.
    pub fn close(&self) {
        let mut state = self.state();
        state.open = false;
        state.queues.clear();
    }

    fn state(&self) -> MutexGuard<'_, HubState> {
        self.hub.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place among the watchers, or why there is none.
    fn subscribe(&self) -> Result<Subscription, (EndCause, String)> {
        let mut state = self.state();
        if !state.open {
            return Err((EndCause::Stopping, "wackamole is stopping".to_string()));
        }
        let max = self.hub.limits.max_watchers;
        if state.serving >= max {
            return Err((
                EndCause::TooManyWatchers,
                format!("too many watchers: {max} already watch; try again later"),
            ));
        }
        // A queue of none would drop every watcher at its first event.
        let (lines, queue) = mpsc::sync_channel(self.hub.limits.queue.max(1));
        let behind = Arc::new(AtomicBool::new(false));
        let id = state.next_id;
        state.next_id += 1;
        state.queues.push(Queue {
            id,
            lines,
            behind: Arc::clone(&behind),
        });
        state.serving += 1;
        Ok(Subscription {
            watchers: self.clone(),
            id,
            queue,
            behind,
        })
    }

    /// Serves a connection that asked to watch, until the watch ends:
    /// the first line once the watch is in place, every event published
    /// after it, and a last line saying why it ends (unless the client
    /// has gone or reads nothing for [`WatchLimits::stall`]).
    pub(super) fn serve(&self, stream: UnixStream) {
        let mut out = Writer {
            stream,
            stall: self.hub.limits.stall,
        };
        let subscription = match self.subscribe() {
            Ok(subscription) => subscription,
            Err((cause, reason)) => {
                let _ = out.write(end_line(cause, reason));
                return;
            }
        };
        if out.write(record_line(WatchItem::Watching)).is_err() {
            return;
        }
        if let Some((cause, reason)) = subscription.forward(&mut out) {
            let _ = out.write(end_line(cause, reason));
        }
    }
}

/// One watcher's place: its queue, and whether it fell behind. Gives the
/// place back when dropped.
struct Subscription {
    watchers: Watchers,
    id: u64,
    queue: Receiver<Arc<str>>,
    behind: Arc<AtomicBool>,
}

impl Subscription {
    /// Writes the queued lines out until the watch ends; returns why, or
    /// none when the client has gone.
    fn forward(&self, out: &mut Writer) -> Option<(EndCause, String)> {
        loop {
            if let Some(end) = out.client_left_or_spoke() {
                return end;
            }
            let line = match self.queue.recv_timeout(IDLE_CHECK) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => {
                    return Some(
                        self.fell_behind()
                            .unwrap_or((EndCause::Stopping, "wackamole is stopping".to_string())),
                    )
                }
            };
            if let Some(end) = self.fell_behind() {
                return Some(end);
            }
            if out.write(line.as_bytes()).is_err() {
                return None;
            }
        }
    }

    fn fell_behind(&self) -> Option<(EndCause, String)> {
        self.behind.load(Ordering::SeqCst).then(|| {
            let queue = self.watchers.hub.limits.queue;
            (
                EndCause::FellBehind,
                format!("this watcher fell behind ({queue} events unread) and was dropped"),
            )
        })
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut state = self.watchers.state();
        state.queues.retain(|queue| queue.id != self.id);
        state.serving = state.serving.saturating_sub(1);
    }
}

fn record_line(item: WatchItem) -> String {
    WatchRecord {
        time: utc_timestamp(SystemTime::now()),
        item,
        suppressed: 0,
    }
    .to_line()
}

fn end_line(cause: EndCause, reason: String) -> String {
    record_line(WatchItem::End { cause, reason })
}

/// The watcher's connection, written to whole lines at a time.
struct Writer {
    stream: UnixStream,
    stall: Duration,
}

impl Writer {
    /// Writes `line` whole, or gives up once the client has taken none of
    /// it for the stall time (or has gone).
    fn write(&mut self, line: impl AsRef<[u8]>) -> std::io::Result<()> {
        let mut rest = line.as_ref();
        let mut deadline = Instant::now() + self.stall;
        while !rest.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(std::io::ErrorKind::TimedOut.into());
            }
            self.stream.set_write_timeout(Some(left))?;
            match self.stream.write(rest) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    rest = &rest[n..];
                    deadline = Instant::now() + self.stall;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Looks, without waiting, whether the client closed its side (the
    /// watch is over: `Some(None)`) or sent something, which a watcher
    /// never does (`Some(Some(bad request))`).
    fn client_left_or_spoke(&self) -> Option<Option<(EndCause, String)>> {
        let mut byte = [std::mem::MaybeUninit::<u8>::uninit()];
        let flags = libc::MSG_PEEK | libc::MSG_DONTWAIT;
        match SockRef::from(&self.stream).recv_with_flags(&mut byte, flags) {
            Ok(0) => Some(None),
            Ok(_) => Some(Some((
                EndCause::BadRequest,
                "a watcher sends nothing after request 4".to_string(),
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => None,
            Err(_) => Some(None),
        }
    }
}

#[cfg(test)]
mod tests;
