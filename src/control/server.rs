//! The daemon's side of the control socket: an acceptor thread that turns
//! each request into an event for the engine loop and writes its answer.
//!
//! A connection is served by a thread of its own, at most
//! [`Limits::max_connections`] at a time (further clients wait in the
//! listen backlog). Every read and write has a time-out and a connection
//! serves a bounded number of requests, so garbage, a silent client or a
//! flood costs the daemon at most a few parked threads, and at most one
//! outstanding request per connection reaches the engine loop. A
//! connection that asks to watch (request 4) gives its slot back and is
//! served by [`Watchers`], which bounds watchers on its own.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};

use super::status_report::StatusReport;
use super::watchers::Watchers;
use super::wire::{encode_state, RequestKind};
use super::ControlError;
use crate::log_debug;

/// A request for the engine loop. Answer it with the responder; dropping
/// the responder unanswered makes the client's connection close.
#[derive(Debug)]
pub enum Request {
    /// A snapshot for `wackatrl -l` (binary or JSON).
    GetState(Responder<StatusReport>),
    /// Disconnect from Spread, release every VIF, stop reconnecting.
    SimulateFailure(Responder<()>),
    /// Reconnect at once.
    EndFailure(Responder<()>),
}

/// The way back to the waiting client. Answering never blocks.
#[derive(Debug)]
pub struct Responder<T>(SyncSender<T>);

impl<T> Responder<T> {
    /// Sends the answer; a client that has gone is no error.
    pub fn respond(self, value: T) {
        // The client may have gone; nothing to do about it.
        let _ = self.0.try_send(value);
    }
}

pub(crate) fn responder<T>() -> (Responder<T>, Receiver<T>) {
    let (tx, rx) = mpsc::sync_channel(1);
    (Responder(tx), rx)
}

/// Bounds on what one client may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wait for the next request byte at most this long.
    pub idle: Duration,
    /// Wait for the client to take a reply at most this long.
    pub write: Duration,
    /// Wait for the engine loop's answer at most this long.
    pub answer: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Requests served on one connection.
    pub max_requests: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            idle: Duration::from_secs(2),
            write: Duration::from_secs(2),
            answer: Duration::from_secs(5),
            max_connections: 8,
            max_requests: 16,
        }
    }
}

/// A bound control socket, not yet served.
pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
    limits: Limits,
    watchers: Watchers,
}

impl ControlServer {
    /// Creates the socket at `path` with mode 0600. A stale socket file
    /// (nobody answers on it) is replaced; a live one, or a path that is
    /// not a socket, is refused.
    pub fn bind(path: &Path) -> Result<ControlServer, ControlError> {
        clear_stale(path)?;
        let bind_error = |e| ControlError::io(format!("control socket {}", path.display()), e);
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(bind_error)?;
        // Linux creates the socket file with the socket inode's mode, so
        // setting it first leaves no moment where others may connect.
        // SAFETY: fchmod on a descriptor we own; no memory is touched.
        if unsafe { libc::fchmod(socket.as_raw_fd(), 0o600) } != 0 {
            return Err(bind_error(std::io::Error::last_os_error()));
        }
        let address = SockAddr::unix(path).map_err(bind_error)?;
        socket.bind(&address).map_err(bind_error)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(bind_error)?;
        socket.listen(16).map_err(bind_error)?;
        Ok(ControlServer {
            listener: UnixListener::from(std::os::fd::OwnedFd::from(socket)),
            path: path.to_path_buf(),
            limits: Limits::default(),
            watchers: Watchers::default(),
        })
    }

    /// The same server with other limits on clients.
    pub fn with_limits(mut self, limits: Limits) -> ControlServer {
        self.limits = limits;
        self
    }

    /// The same server feeding the watchers of `watchers` (by default, a
    /// hub of its own with [`WatchLimits`](super::WatchLimits)' defaults).
    pub fn with_watchers(mut self, watchers: Watchers) -> ControlServer {
        self.watchers = watchers;
        self
    }

    /// Starts the acceptor: every request becomes `map(request)` sent on
    /// `events`. The returned handle stops it, ends every watch and
    /// removes the socket file; [`ControlHandle::watchers`] is where the
    /// daemon publishes what `wackatrl --watch` shows.
    pub fn spawn<T, F>(self, events: Sender<T>, map: F) -> Result<ControlHandle, ControlError>
    where
        T: Send + 'static,
        F: Fn(Request) -> T + Send + Sync + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let slots = Arc::new((Mutex::new(0usize), Condvar::new()));
        let listener = self
            .listener
            .try_clone()
            .map_err(|e| ControlError::io("control socket: duplicate listener", e))?;
        let acceptor = Acceptor {
            listener,
            stop: Arc::clone(&stop),
            slots: Arc::clone(&slots),
            limits: self.limits,
            events,
            map: Arc::new(map),
            watchers: self.watchers.clone(),
        };
        let thread = thread::Builder::new()
            .name("control".to_string())
            .spawn(move || acceptor.run())
            .map_err(|e| ControlError::io("control socket: start the acceptor thread", e))?;
        Ok(ControlHandle {
            listener: self.listener,
            path: self.path,
            stop,
            slots,
            thread: Some(thread),
            watchers: self.watchers,
        })
    }
}

fn clear_stale(path: &Path) -> Result<(), ControlError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(ControlError::io(
                format!("control socket {}", path.display()),
                e,
            ))
        }
    };
    if !meta.file_type().is_socket() {
        return Err(ControlError::NotASocket(path.to_path_buf()));
    }
    if UnixStream::connect(path).is_ok() {
        return Err(ControlError::InUse(path.to_path_buf()));
    }
    std::fs::remove_file(path).map_err(|e| {
        ControlError::io(
            format!("control socket {}: remove the stale socket", path.display()),
            e,
        )
    })
}

/// A running control socket. Dropping it stops accepting and removes the
/// socket file; connections already being served finish on their own.
pub struct ControlHandle {
    listener: UnixListener,
    path: PathBuf,
    stop: Arc<AtomicBool>,
    slots: Arc<(Mutex<usize>, Condvar)>,
    thread: Option<JoinHandle<()>>,
    watchers: Watchers,
}

impl ControlHandle {
    /// Where the daemon publishes the events `wackatrl --watch` shows:
    /// clone it once, then call [`Watchers::publish`] at each event.
    pub fn watchers(&self) -> Watchers {
        self.watchers.clone()
    }
}

impl Drop for ControlHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.watchers.close();
        // Wakes the acceptor from accept() (Linux returns EINVAL) ...
        // SAFETY: shutdown on a descriptor we own; no memory is touched.
        unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR) };
        // ... or from waiting for a free connection slot.
        self.slots.1.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

struct Acceptor<T, F> {
    listener: UnixListener,
    stop: Arc<AtomicBool>,
    slots: Arc<(Mutex<usize>, Condvar)>,
    limits: Limits,
    events: Sender<T>,
    map: Arc<F>,
    watchers: Watchers,
}

impl<T, F> Acceptor<T, F>
where
    T: Send + 'static,
    F: Fn(Request) -> T + Send + Sync + 'static,
{
    fn run(self) {
        while !self.stop.load(Ordering::SeqCst) {
            if !self.take_slot() {
                return;
            }
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if !self.serve_in_thread(stream) {
                        self.free_slot();
                    }
                }
                Err(e) => {
                    self.free_slot();
                    if self.stop.load(Ordering::SeqCst) {
                        return;
                    }
                    log_debug!("control socket: accept failed: {e}");
                    // Out of descriptors, say: do not spin.
                    thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    /// Waits for a free connection slot; false when stopping.
    fn take_slot(&self) -> bool {
        let (count, freed) = &*self.slots;
        let mut active = count.lock().unwrap_or_else(|p| p.into_inner());
        while *active >= self.limits.max_connections {
            if self.stop.load(Ordering::SeqCst) {
                return false;
            }
            active = freed
                .wait_timeout(active, Duration::from_millis(200))
                .map(|(guard, _)| guard)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        *active += 1;
        true
    }

    fn free_slot(&self) {
        release_slot(&self.slots);
    }

    fn serve_in_thread(&self, stream: UnixStream) -> bool {
        let connection = Connection {
            stream,
            limits: self.limits,
            events: self.events.clone(),
            map: Arc::clone(&self.map),
        };
        let slots = Arc::clone(&self.slots);
        let watchers = self.watchers.clone();
        let spawned = thread::Builder::new()
            .name("control-client".to_string())
            .spawn(move || {
                let outcome = connection.serve();
                release_slot(&slots);
                match outcome {
                    Ok(Some(watcher)) => watchers.serve(watcher),
                    Ok(None) => {}
                    Err(e) => log_debug!("control client dropped: {e}"),
                }
            });
        match spawned {
            Ok(_) => true,
            Err(e) => {
                log_debug!("control socket: cannot start a client thread: {e}");
                false
            }
        }
    }
}

fn release_slot(slots: &(Mutex<usize>, Condvar)) {
    let mut active = slots.0.lock().unwrap_or_else(|p| p.into_inner());
    *active = active.saturating_sub(1);
    slots.1.notify_all();
}

struct Connection<T, F> {
    stream: UnixStream,
    limits: Limits,
    events: Sender<T>,
    map: Arc<F>,
}

impl<T, F> Connection<T, F>
where
    F: Fn(Request) -> T,
{
    /// Answers requests until the client is done; returns the connection
    /// when it asks to watch.
    fn serve(mut self) -> Result<Option<UnixStream>, ControlError> {
        let setup = |e| ControlError::io("control socket: set time-outs", e);
        self.stream
            .set_read_timeout(Some(self.limits.idle))
            .map_err(setup)?;
        self.stream
            .set_write_timeout(Some(self.limits.write))
            .map_err(setup)?;
        for _ in 0..self.limits.max_requests {
            let mut byte = [0u8; 1];
            match self.stream.read(&mut byte) {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(e) => return Err(ControlError::transfer("waiting for a request", e)),
            }
            let kind =
                RequestKind::from_byte(byte[0]).ok_or(ControlError::UnknownRequest(byte[0]))?;
            if kind == RequestKind::Watch {
                return Ok(Some(self.stream));
            }
            let reply = self.answer(kind)?;
            self.stream
                .write_all(&reply)
                .map_err(|e| ControlError::transfer("writing a reply", e))?;
        }
        Ok(None)
    }

    fn answer(&self, kind: RequestKind) -> Result<Vec<u8>, ControlError> {
        match kind {
            RequestKind::State => Ok(encode_state(&self.status()?.state_reply())),
            RequestKind::JsonStatus => {
                let json = self.status()?.to_json();
                let mut reply = (json.len() as u32).to_be_bytes().to_vec();
                reply.extend_from_slice(json.as_bytes());
                Ok(reply)
            }
            RequestKind::SimulateFailure => {
                self.ask(Request::SimulateFailure)?;
                Ok(0i32.to_be_bytes().to_vec())
            }
            RequestKind::EndFailure => {
                self.ask(Request::EndFailure)?;
                Ok(0i32.to_be_bytes().to_vec())
            }
            // Served by the watchers, not answered here.
            RequestKind::Watch => Err(ControlError::UnknownRequest(kind.byte())),
        }
    }

    fn status(&self) -> Result<StatusReport, ControlError> {
        self.ask(Request::GetState)
    }

    fn ask<R>(&self, request: impl FnOnce(Responder<R>) -> Request) -> Result<R, ControlError> {
        let (responder, answer) = responder();
        self.events
            .send((self.map)(request(responder)))
            .map_err(|_| ControlError::DaemonGone)?;
        answer
            .recv_timeout(self.limits.answer)
            .map_err(|_| ControlError::DaemonGone)
    }
}

#[cfg(test)]
mod tests;
