//! The test daemon held against the recorded transcripts, and sessions
//! against it: several clients, agreed order, disconnects, partitions.

#[path = "support/spread_daemon.rs"]
mod spread_daemon;
#[path = "support/transcript.rs"]
mod transcript;

use spread_daemon::{Listen, TestDaemon};
