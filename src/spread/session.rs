//! A blocking session with a Spread daemon, over TCP or a Unix socket.
//!
//! A [`Session`] can be [split](Session::split) into a [`SessionReader`]
//! for a thread that blocks in [`receive`](SessionReader::receive) and a
//! [`SessionWriter`] for the owner that joins, leaves and multicasts.
//! Each keeps its frames whole when shared between threads.

use super::address::{describe, Stream};
use super::event::{ServiceType, SessionEvent};
use super::wire::handshake::{encode_auth_choice, parse_auth_list, NULL_AUTH};
use super::wire::{
    decode_header, decode_payload, encode_frame, is_legal_group_name, is_legal_private_name,
    service_bits, Accept, ByteOrder, ConnectRequest, EncodeError, Outgoing, Parse, Version,
    HEADER_LEN, MAX_GROUPS_PER_REQUEST, MAX_MESSAGE_BODY_LEN,
};
use super::Error;
use crate::base::SpreadAddress;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Receive membership messages.
    pub membership: bool,
    /// 0 or 1; it has no visible effect in Spread 4.
    pub priority: u8,
    /// Limit for connecting and the whole handshake.
    pub timeout: Duration,
    /// Limit for each send once connected (None: wait as long as the daemon
    /// takes, as the Spread library does). A send that times out leaves the
    /// stream mid-frame, so the session must then be shut down.
    pub send_timeout: Option<Duration>,
    /// Keep the session's descriptors at the top of the process's table
    /// ([`crate::descriptor::lift`]), so that if the process is killed the
    /// daemon sees the session end before slower sockets are released.
    pub lift_descriptors: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            membership: true,
            priority: 0,
            timeout: Duration::from_secs(5),
            send_timeout: None,
            lift_descriptors: false,
        }
    }
}

/// A connected session.
#[derive(Debug)]
pub struct Session {
    reader: SessionReader,
    writer: SessionWriter,
}

/// The receiving half of a session.
#[derive(Debug)]
pub struct SessionReader {
    stream: Mutex<Stream>,
    /// Set after an invalid frame: bytes already received may still be
    /// read after a shutdown, and none of them can be trusted.
    broken: AtomicBool,
    private_group: Arc<str>,
}

/// The sending half of a session.
#[derive(Debug)]
pub struct SessionWriter {
    stream: Mutex<Stream>,
    /// The same socket outside the lock, so that a shutdown never waits
    /// behind a send blocked on a daemon that stopped reading.
    closer: Stream,
    private_group: Arc<str>,
}

fn io_error(context: &'static str) -> impl Fn(io::Error) -> Error {
    move |source| match source.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionAborted => Error::ConnectionClosed,
        _ => Error::Io { context, source },
    }
}

/// Reads one handshake unit, exactly as many bytes as it needs.
fn read_unit<T>(
    stream: &Stream,
    address: &str,
    deadline: Instant,
    parse: impl Fn(&[u8]) -> Result<Parse<T>, Error>,
) -> Result<T, Error> {
    let mut buf = Vec::new();
    loop {
        match parse(&buf)? {
            Parse::Complete { value, .. } => return Ok(value),
            Parse::Rejected(code) => {
                return Err(Error::Rejected {
                    address: address.to_string(),
                    code,
                })
            }
            Parse::Incomplete { needed } => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::Timeout {
                        address: address.to_string(),
                    });
                }
                stream
                    .set_timeouts(Some(left))
                    .map_err(io_error("setting handshake timeouts"))?;
                let have = buf.len();
                buf.resize(needed, 0);
                stream
                    .read_exact(&mut buf[have..])
                    .map_err(|e| handshake_error(e, address))?;
            }
        }
    }
}

fn handshake_error(e: io::Error, address: &str) -> Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout {
            address: address.to_string(),
        },
        _ => io_error("connecting")(e),
    }
}

impl Session {
    /// Connects to the daemon at `addr` as `private_name` (empty: the
    /// daemon picks one) and completes the handshake within
    /// `opts.timeout`.
    pub fn connect(
        addr: &SpreadAddress,
        private_name: &str,
        opts: ConnectOptions,
    ) -> Result<Session, Error> {
        if !is_legal_private_name(private_name.as_bytes()) {
            return Err(Error::IllegalPrivateName {
                name: private_name.to_string(),
            });
        }
        if opts.priority > 1 {
            return Err(Error::IllegalPriority(opts.priority));
        }
        let deadline = Instant::now() + opts.timeout;
        let address = describe(addr);
        let place = |stream: Stream| {
            if opts.lift_descriptors {
                stream.lifted()
            } else {
                stream
            }
        };
        let stream = place(Stream::open(addr, deadline)?);
        let private_group = handshake(&stream, &address, private_name, opts, deadline)
            .inspect_err(|_| stream.shutdown())?;
        stream
            .set_timeouts(None)
            .and_then(|()| stream.set_send_timeout(opts.send_timeout))
            .map_err(io_error("setting the session's time-outs"))?;
        let reader_stream = place(stream.try_clone().map_err(io_error("cloning the socket"))?);
        let closer = place(stream.try_clone().map_err(io_error("cloning the socket"))?);
        let private_group: Arc<str> = private_group.into();
        Ok(Session {
            reader: SessionReader {
                stream: Mutex::new(reader_stream),
                broken: AtomicBool::new(false),
                private_group: private_group.clone(),
            },
            writer: SessionWriter {
                stream: Mutex::new(stream),
                closer,
                private_group,
            },
        })
    }

    /// Our private group, `#<private name>#<daemon name>`.
    pub fn private_group(&self) -> &str {
        &self.writer.private_group
    }

    /// Joins `group`; its memberships arrive through [`Session::receive`].
    pub fn join(&self, group: &str) -> Result<(), Error> {
        self.writer.join(group)
    }

    /// Leaves `group`; a self-leave notice follows.
    pub fn leave(&self, group: &str) -> Result<(), Error> {
        self.writer.leave(group)
    }

    /// Sends `body` to `groups` with this service (see [`SessionWriter::multicast`]).
    pub fn multicast(
        &self,
        service: impl Into<ServiceType>,
        groups: &[&str],
        mess_type: i16,
        body: &[u8],
    ) -> Result<(), Error> {
        self.writer.multicast(service, groups, mess_type, body)
    }

    /// Blocks until the next message, membership, self-leave or reject.
    pub fn receive(&self) -> Result<SessionEvent, Error> {
        self.reader.receive()
    }

    /// Closes the connection so that a blocked `receive` wakes with
    /// [`Error::ConnectionClosed`].
    pub fn shutdown(&self) {
        self.writer.shutdown()
    }

    /// Tells the daemon we leave, then closes the connection.
    pub fn disconnect(self) -> Result<(), Error> {
        self.writer.disconnect()
    }

    /// Separates the halves, for a reader thread and a writing owner.
    pub fn split(self) -> (SessionReader, SessionWriter) {
        (self.reader, self.writer)
    }
}

fn handshake(
    stream: &Stream,
    address: &str,
    private_name: &str,
    opts: ConnectOptions,
    deadline: Instant,
) -> Result<String, Error> {
    let request = ConnectRequest::new(private_name, opts.membership, opts.priority);
    let request = request.encode().map_err(|_| Error::IllegalPrivateName {
        name: private_name.to_string(),
    })?;
    stream
        .set_timeouts(Some(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        ))
        .map_err(io_error("setting handshake timeouts"))?;
    stream
        .write_all(&request)
        .map_err(|e| handshake_error(e, address))?;
    let methods = read_unit(stream, address, deadline, |b| Ok(parse_auth_list(b)))?;
    if !methods.iter().any(|m| m == NULL_AUTH) {
        return Err(Error::NoNullAuth { offered: methods });
    }
    let choice =
        encode_auth_choice(&[NULL_AUTH]).map_err(|_| Error::NoNullAuth { offered: methods })?;
    stream
        .write_all(&choice)
        .map_err(|e| handshake_error(e, address))?;
    let accept = read_unit(stream, address, deadline, |b| {
        Ok(Accept::parse(Version::SPREAD_4_4, b)?)
    })?;
    let version = accept.daemon_version;
    let oldest = if opts.priority > 0 { (3, 8) } else { (3, 1) };
    if (version.major, version.minor) < oldest {
        return Err(Error::DaemonTooOld { version });
    }
    Ok(accept.private_group)
}

impl SessionReader {
    /// Our private group, `#<private name>#<daemon name>`.
    pub fn private_group(&self) -> &str {
        &self.private_group
    }

    /// Blocks until the next event arrives. After an invalid frame the
    /// session is closed: where the next frame starts is unknown, and
    /// reading on could take bytes of a body for a frame.
    pub fn receive(&self) -> Result<SessionEvent, Error> {
        let stream = self
            .stream
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.broken.load(Ordering::Relaxed) {
            return Err(Error::ConnectionClosed);
        }
        let received = Self::read_event(&stream, &self.private_group);
        if let Err(Error::Protocol(_)) = received {
            self.broken.store(true, Ordering::Relaxed);
            stream.shutdown();
        }
        received
    }

    fn read_event(stream: &Stream, private_group: &str) -> Result<SessionEvent, Error> {
        let mut head = [0u8; HEADER_LEN];
        stream
            .read_exact(&mut head)
            .map_err(io_error("receiving"))?;
        let header = decode_header(&head)?;
        // Bounded: decode_header checked every count against the maxima.
        let mut payload = vec![0u8; header.payload_len()];
        stream
            .read_exact(&mut payload)
            .map_err(io_error("receiving"))?;
        let frame = decode_payload(header, &payload)?;
        Ok(SessionEvent::from_frame(frame, private_group)?)
    }
}

impl SessionWriter {
    /// Our private group, `#<private name>#<daemon name>`.
    pub fn private_group(&self) -> &str {
        &self.private_group
    }

    fn send(
        &self,
        service_type: u32,
        groups: &[&str],
        mess_type: i16,
        body: &[u8],
    ) -> Result<(), Error> {
        let frame = encode_frame(
            ByteOrder::native(),
            &Outgoing {
                service_type,
                sender: &self.private_group,
                groups,
                mess_type,
                original_type: None,
                body,
            },
        )
        .map_err(|e| match e {
            EncodeError::TooLong { len, max } => Error::MessageTooLong { len, max },
            EncodeError::BadName { name, .. } => Error::IllegalGroup { group: name },
            EncodeError::TooManyGroups { count, .. } => Error::GroupCount { count },
        })?;
        let stream = self
            .stream
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        stream.write_all(&frame).map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                // Part of the frame may be out: nothing more can follow it.
                self.shutdown();
                Error::SendTimedOut
            }
            _ => io_error("sending")(e),
        })
    }

    fn membership_request(&self, service_type: u32, group: &str) -> Result<(), Error> {
        if !is_legal_group_name(group) {
            return Err(Error::IllegalGroup {
                group: group.to_string(),
            });
        }
        self.send(service_type, &[group], 0, &[])
    }

    /// Asks the daemon to join `group` (a legal group name).
    pub fn join(&self, group: &str) -> Result<(), Error> {
        self.membership_request(service_bits::JOIN, group)
    }

    /// Asks the daemon to leave `group` (a legal group name).
    pub fn leave(&self, group: &str) -> Result<(), Error> {
        self.membership_request(service_bits::LEAVE, group)
    }

    /// Sends `body` to `groups` (group names or private groups) with the
    /// given service and 16-bit message type.
    pub fn multicast(
        &self,
        service: impl Into<ServiceType>,
        groups: &[&str],
        mess_type: i16,
        body: &[u8],
    ) -> Result<(), Error> {
        if groups.is_empty() || groups.len() > MAX_GROUPS_PER_REQUEST {
            return Err(Error::GroupCount {
                count: groups.len(),
            });
        }
        let len = body.len().saturating_add(32 * groups.len());
        if len > MAX_MESSAGE_BODY_LEN {
            return Err(Error::MessageTooLong {
                len,
                max: MAX_MESSAGE_BODY_LEN,
            });
        }
        self.send(service.into().bits(), groups, mess_type, body)
    }

    /// Closes the connection in both directions: a reader blocked in
    /// `receive` wakes with [`Error::ConnectionClosed`].
    pub fn shutdown(&self) {
        self.closer.shutdown();
    }

    /// Tells the daemon we leave (it reports a disconnect to our groups'
    /// members), then closes the connection.
    pub fn disconnect(self) -> Result<(), Error> {
        let own = self.private_group.clone();
        let sent = self.send(service_bits::KILL, &[&own], 0, &[]);
        self.shutdown();
        sent
    }
}
