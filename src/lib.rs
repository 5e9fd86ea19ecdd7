//! Wackamole: N-way IP failover for a cluster of Linux hosts. The members
//! of one group agree, through a group service, on which node holds each
//! virtual address, and move the addresses of a node that stops or fails
//! to the others. The group service is either an external Spread daemon
//! or the built-in membership (a `Membership` block in the configuration),
//! chosen once at start.
//!
//! # Layers
//!
//! | module | job |
//! |---|---|
//! | [`base`] | the vocabulary every layer shares (addresses, interface names, log levels, view ids, ARP entries, membership timing); imports nothing |
//! | [`config`] | reads `wackamole.conf` into a validated [`config::Config`], or one error naming file, line and column; no unsafe code |
//! | [`engine`] | the allocation state machine and the bodies of its messages (pure) |
//! | [`membership`] | the built-in group service's protocol: datagrams and time in, datagrams and events out (pure) |
//! | [`spread`] | the Spread client protocol, spoken directly: frame codecs and a blocking session |
//! | [`net`] | Linux networking: addresses on interfaces (rtnetlink, with kernel lifetimes), ARP and neighbour advertisements, the kernel's ARP table, the announcer |
//! | [`track`] | the trackers: when this node's own health changes, from link states, check results and drain files (pure) |
//! | [`check`] | runs the trackers' check commands, each on a thread of its own, killed at the time-out |
//! | [`control`] | the control socket (the original's byte protocol and our JSON status) and the `wackatrl` client |
//! | [`daemon`] | the wiring: starts the threads and runs the loop; every decision is in its pure core |
//! | [`hooks`] | the hook runner: `Run "COMMAND" on up` and the like, one at a time on a thread of its own |
//! | [`log`] | the one logging facade: syslog when detached, stderr in the foreground |
//! | [`process`] | the daemon as a Unix process: detaching, the pid file, signals turned into events |
//! | [`os`] | what the kernel gives that no layer owns: random bytes (for `wackamole keygen`) |
//! | [`descriptor`] | where sockets sit in the descriptor table, so a killed daemon's peers learn first |
//! | [`cli`] | the command lines of `wackamole`, `wackatrl` and `wackamole keygen` |
//!
//! The binary (`src/main.rs`, `src/app.rs`) parses its command line with
//! [`cli`] and either starts [`daemon::run`] or talks to a running daemon.
//!
//! Three parts are pure (sans-IO: no sockets, no threads, no clock reads;
//! time and input come in as arguments, effects go out as values) and are
//! tested deterministically, in simulation: the [`engine`], the
//! [`membership`] protocol, and the daemon's core [`daemon::core`], which
//! drives the engine, the quorum gate and the loop side of the group
//! service and touches the machine only through a [`daemon::host::Host`].
//! The simulations run that very core with a recording host.
//!
//! Layers only reach down: `base` imports nothing; `config`, `spread`,
//! `net` and `membership` import none of one another; the `engine` knows
//! no transport and no logging; `daemon` and `cli` are wiring and may
//! import anything. `tests/it/layers.rs` fails on any other import.
//!
//! # Threads of the running daemon
//!
//! - **The loop** (the thread that called [`daemon::run`]) owns the core.
//!   It waits on one channel with a time-out, the core's next deadline,
//!   and hands the core whatever arrives. Only the loop sends to the
//!   group.
//! - **The group service's threads.** Built-in: the `membership` worker,
//!   which owns the UDP socket and the protocol node; the loop gives it
//!   commands through a queue of its own and wakes it with one byte to its
//!   socket. Spread: a `spread-connect` thread for each connection attempt
//!   and a `spread-reader` thread that blocks on the session.
//! - **The control acceptor** (`control`) and one `control-client` thread
//!   per connection, a bounded number: each request goes to the loop,
//!   which answers it.
//! - **The signal thread** (`signals`): takes SIGTERM, SIGINT, SIGQUIT and
//!   SIGHUP with `sigwait` (no handler runs in signal context).
//! - **The announcer** (`announcer`): sends gratuitous ARPs, neighbour
//!   advertisements and the `Notify` walk (and, with `Announce`, sends
//!   them again periodically).
//! - **The hook runner** (`hooks`): runs the hook commands in order.
//! - **With a `Track` block**: the link watcher (`linkwatch`), which
//!   reports interface link changes, and one `check` thread per run of a
//!   check command, which reports its outcome.
//!
//! They talk through one channel into the loop: the group service's
//! threads, the control connections and the signal thread only ever send
//! events into it (so do the link watcher and the check threads). The
//! announcer and the hook runner only take work, which the core queues
//! for them through its host and never waits on; they report to the log.
//!
//! # Design texts
//!
//! `etc/design/ALGORITHM.md` explains the allocation engine (its messages
//! and their byte layouts, the rules, and what is compatible with original
//! C nodes); `etc/design/MEMBERSHIP.md` states what a group service must
//! guarantee the engine, the built-in service's failure model and how it is
//! checked. The built-in protocol itself is specified in [`membership`];
//! the engine's departures from the original are listed in [`engine`].

#![warn(unreachable_pub, missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod base;
pub mod check;
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod descriptor;
pub mod engine;
pub mod hooks;
pub mod log;
pub mod membership;
pub mod net;
pub mod os;
pub mod process;
pub mod spread;
pub mod track;

#[cfg(test)]
mod testutil;
