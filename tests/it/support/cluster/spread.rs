//! The Spread side of a cluster: the in-process Spread test daemon its
//! nodes connect to, on a Unix socket in the cluster's directory (Unix
//! sockets cross network namespaces).

use crate::support::spread_daemon::{Listen, TestDaemon};

use super::{Cluster, GROUP};

impl Cluster {
    /// Starts the Spread test daemon on the cluster's socket.
    pub(super) fn start_spread(&mut self) {
        assert!(
            self.backend.daemon.is_none(),
            "the Spread test daemon already runs"
        );
        self.backend.daemon = Some(
            TestDaemon::start(Listen::Unix(self.backend.path.clone()), "wm1")
                .unwrap_or_else(|e| panic!("cannot start the Spread test daemon: {e}")),
        );
    }

    /// The Spread test daemon (while it runs).
    pub fn spread(&self) -> &TestDaemon {
        self.backend
            .daemon
            .as_ref()
            .expect("the Spread test daemon runs")
    }

    /// Stops the Spread test daemon: every session is closed.
    pub fn stop_spread(&mut self) {
        if let Some(mut daemon) = self.backend.daemon.take() {
            daemon.stop();
        }
    }

    /// Starts the Spread test daemon again on the same socket.
    pub fn restart_spread(&mut self) {
        self.start_spread();
    }

    /// The sessions (`#node<i>#wm1`) in the group, sorted.
    pub fn members(&self) -> Vec<String> {
        self.backend
            .daemon
            .as_ref()
            .map(|d| d.members(GROUP))
            .unwrap_or_default()
    }
}
