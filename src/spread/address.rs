//! Reaching the daemon: what a configured [`SpreadAddress`] means, and
//! the stream (TCP or Unix) behind a session.

use super::Error;
use crate::base::SpreadAddress;
use crate::descriptor;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The directory of the daemon's Unix socket for a bare port, fixed in
/// Spread at build time.
pub const UNIX_SOCKET_DIR: &str = "/tmp";

/// The Unix socket path of a local daemon listening on `port`.
pub fn local_socket_path(port: u16) -> PathBuf {
    PathBuf::from(format!("{UNIX_SOCKET_DIR}/{port}"))
}

/// How an address reads in messages: `unix:/tmp/4803`, `tcp:host:4803`.
pub fn describe(addr: &SpreadAddress) -> String {
    match addr {
        SpreadAddress::Local { port } => format!("unix:{}", local_socket_path(*port).display()),
        SpreadAddress::Tcp { port, host } => format!("tcp:{host}:{port}"),
        SpreadAddress::Unix(path) => format!("unix:{}", path.display()),
    }
}

/// A connected stream to the daemon.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// Connects within `deadline`, as the library does: Unix for a bare
    /// port or a path; TCP with TCP_NODELAY and SO_KEEPALIVE otherwise.
    pub(crate) fn open(addr: &SpreadAddress, deadline: Instant) -> Result<Stream, Error> {
        let address = describe(addr);
        match addr {
            SpreadAddress::Local { port } => unix(&local_socket_path(*port), address),
            SpreadAddress::Unix(path) => unix(path, address),
            SpreadAddress::Tcp { port, host } => {
                let targets =
                    (host.as_str(), *port)
                        .to_socket_addrs()
                        .map_err(|source| Error::Resolve {
                            address: address.clone(),
                            source,
                        })?;
                let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
                for target in targets {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Error::Timeout { address });
                    }
                    match TcpStream::connect_timeout(&target, left) {
                        Ok(stream) => {
                            let tune = stream
                                .set_nodelay(true)
                                .and_then(|()| socket2::SockRef::from(&stream).set_keepalive(true));
                            tune.map_err(|source| Error::CouldNotConnect {
                                address: address.clone(),
                                source,
                            })?;
                            return Ok(Stream::Tcp(stream));
                        }
                        Err(e) => last = e,
                    }
                }
                Err(Error::CouldNotConnect {
                    address,
                    source: last,
                })
            }
        }
    }

    /// The same stream at the top of the descriptor table.
    pub(crate) fn lifted(self) -> Stream {
        match self {
            Stream::Tcp(s) => Stream::Tcp(descriptor::lift(s)),
            Stream::Unix(s) => Stream::Unix(descriptor::lift(s)),
        }
    }

    pub(crate) fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
        })
    }

    /// Closes both directions: a reader blocked on a clone wakes at EOF.
    pub(crate) fn shutdown(&self) {
        // Already shut down or reset: either way it is closed, as wanted.
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Both),
            Stream::Unix(s) => s.shutdown(Shutdown::Both),
        };
    }

    pub(crate) fn set_timeouts(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s
                .set_read_timeout(timeout)
                .and_then(|()| s.set_write_timeout(timeout)),
            Stream::Unix(s) => s
                .set_read_timeout(timeout)
                .and_then(|()| s.set_write_timeout(timeout)),
        }
    }

    /// Bounds every later send (the socket's SO_SNDTIMEO, shared by its
    /// clones; reads stay unbounded).
    pub(crate) fn set_send_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(timeout),
            Stream::Unix(s) => s.set_write_timeout(timeout),
        }
    }

    pub(crate) fn read_exact(&self, buf: &mut [u8]) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => Read::read_exact(&mut &*s, buf),
            Stream::Unix(s) => Read::read_exact(&mut &*s, buf),
        }
    }

    pub(crate) fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => Write::write_all(&mut &*s, buf),
            Stream::Unix(s) => Write::write_all(&mut &*s, buf),
        }
    }
}

fn unix(path: &std::path::Path, address: String) -> Result<Stream, Error> {
    UnixStream::connect(path)
        .map(Stream::Unix)
        .map_err(|source| Error::CouldNotConnect { address, source })
}
