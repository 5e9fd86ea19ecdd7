//! Where a socket sits in the descriptor table, which decides how soon
//! the world learns that the process was killed.
//!
//! A process killed with SIGKILL runs none of its own code: the kernel
//! closes its descriptors for it. It walks the table from 0 upward, but
//! each socket is released later, from the dying thread's list of
//! deferred work, which runs last queued first: the socket with the
//! highest number is released first, the one at 0 last. Releasing an
//! AF_PACKET socket waits for an RCU grace period (milliseconds, more on a
//! loaded machine), so a Spread session numbered below the announcer's
//! packet sockets reaches its daemon's notice only after all those waits.
//! (Measured by `make bench`: a session numbered below one packet socket
//! ended 10.3 ms after the kill, median of 60 runs; above it, 0.35 ms.)
//!
//! So a socket whose closing tells peers we are gone is [`lift`]ed to the
//! top of the table, and everything else keeps the kernel's usual
//! lowest-free numbers below it. The top is under the soft
//! `RLIMIT_NOFILE` and at most [`CEILING`]: the table only grows to the
//! highest number in use, and a table of a million slots would cost the
//! kernel megabytes.

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Lifted descriptors stay below this number, whatever the limit.
pub const CEILING: RawFd = 1024;

/// Numbers kept at the top for lifted descriptors: the Spread session's
/// three (and three more while a new session replaces an old one), the
/// built-in membership's socket, and room to spare.
const TOP_SLOTS: RawFd = 32;

/// Moves `socket` to the lowest free number in the top `TOP_SLOTS` of
/// the table (close-on-exec, as everything of ours), closing its old
/// number. Best effort: where the table cannot grow there (a tiny file
/// limit), the socket stays where it is, which only makes the process's
/// death known later.
pub fn lift<S: AsFd + From<OwnedFd>>(socket: S) -> S {
    match duplicate_above(socket.as_fd().as_raw_fd(), floor()) {
        Ok(lifted) => S::from(lifted),
        Err(_) => socket,
    }
}

/// The lowest number of the top slots under the current file limit.
fn floor() -> RawFd {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass.
    let known = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    floor_under(known.then_some(limit.rlim_cur))
}

/// The lowest number of the top slots under a soft file limit (`None`:
/// unknown).
fn floor_under(limit: Option<libc::rlim_t>) -> RawFd {
    let top = limit.map_or(CEILING, |cur| {
        RawFd::try_from(cur).map_or(CEILING, |cur| cur.min(CEILING))
    });
    if top > 2 * TOP_SLOTS {
        top - TOP_SLOTS
    } else {
        top / 2
    }
}

/// `fcntl(F_DUPFD_CLOEXEC)`: a new descriptor for `fd`'s file at `floor`
/// or the first free number above it.
fn duplicate_above(fd: RawFd, floor: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC only reads the descriptor and the number.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, floor) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    fn cloexec(fd: RawFd) -> bool {
        // SAFETY: F_GETFD only reads the descriptor's flags.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        flags >= 0 && flags & libc::FD_CLOEXEC != 0
    }

    #[test]
    fn a_lifted_socket_sits_above_later_ones_and_still_works() {
        let (ours, mut theirs) = UnixStream::pair().expect("socket pair");
        let before = ours.as_raw_fd();
        let mut ours = lift(ours);
        let lifted = ours.as_raw_fd();
        assert!(lifted >= floor(), "{lifted} is below the top slots");
        assert!(lifted < CEILING);
        assert!(cloexec(lifted));
        // Its old number was given back: the next socket may take it, and
        // anything opened later sits below the lifted one.
        let (later, _peer) = UnixStream::pair().expect("socket pair");
        assert!(later.as_raw_fd() < lifted);
        assert_ne!(before, lifted);
        // The same connection, at its new number.
        ours.write_all(b"up").expect("write");
        let mut got = [0u8; 2];
        theirs.read_exact(&mut got).expect("read");
        assert_eq!(&got, b"up");
    }

    #[test]
    fn the_top_slots_end_at_the_file_limit_or_the_ceiling() {
        assert_eq!(floor_under(Some(1024)), 992);
        assert_eq!(floor_under(Some(1 << 20)), 992, "a huge limit: the ceiling");
        assert_eq!(floor_under(Some(libc::rlim_t::MAX)), 992, "unlimited");
        assert_eq!(floor_under(None), 992);
        assert_eq!(floor_under(Some(256)), 224);
        assert_eq!(floor_under(Some(64)), 32, "a tiny limit: its upper half");
        assert_eq!(floor_under(Some(20)), 10);
    }
}
