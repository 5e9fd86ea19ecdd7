//! Trackers: what decides this node's own health, without I/O.
//!
//! [`Trackers`] takes what the drivers observe (link states from the
//! interface watcher, the results of check commands, whether drain files
//! exist) and the time, and says when this node's [`LocalHealth`] changes.
//! It reads no clock and touches nothing: the daemon's loop feeds it,
//! runs the check commands it asks for, stats the files when it asks, and
//! hands every new [`LocalHealth`] to the core.
//!
//! The rules:
//!
//! - Every tracker of the `Track` block (an interface, a check command, a
//!   drain file) makes the node unhealthy while it fails. The interfaces
//!   the VIFs' addresses sit on are tracked without being listed: one of
//!   them failing makes its VIFs unservable here ([`LocalHealth::vifs`]).
//! - An interface fails while it is down, has no carrier or does not
//!   exist; a drain file fails while it exists. Either fails at once and
//!   passes again once it has been passing continuously for `HoldDown`.
//! - A check command fails after `Fall` failures in a row and passes
//!   again after `Rise` successes in a row; a time-out or a command that
//!   cannot be run is a failure. Until its first result a tracker is
//!   pending (it counts as passing) and its first result decides at once.
//! - Hold-down: the first change of health after a quiet period is
//!   applied at once; any further change waits until `HoldDown` after the
//!   last applied one. A link bouncing many times a second changes the
//!   health at most once per `HoldDown`.
//! - Every change of a tracker's state is one log notice naming the
//!   tracker and why.

mod machine;
mod outcome;
mod tracker;

#[cfg(test)]
mod tests;

pub use crate::engine::LocalHealth;
pub use machine::{Output, RunId, Trackers, FILE_CHECK};
pub use outcome::{bounded_line, CheckOutcome, LinkState, MAX_RESULT_CHARS};
pub use tracker::{Kind, State, TrackerStatus};
