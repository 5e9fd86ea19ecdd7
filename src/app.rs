//! The two actions the command line leads to once a configuration is
//! loaded: starting the daemon and talking to a running one.

use std::process::ExitCode;

use wackamole::cli::{CtlOptions, DaemonOptions};
use wackamole::config::Config;

const NOT_AVAILABLE: &str = "wackamole: the daemon is not available in this build";

/// Starts the daemon with `config` (already validated, with the command
/// line's overrides applied).
pub fn run_daemon(_opts: DaemonOptions, _config: Config) -> ExitCode {
    eprintln!("{NOT_AVAILABLE}");
    ExitCode::FAILURE
}

/// Performs a `wackatrl` action against the daemon whose control socket
/// `config` names.
pub fn run_ctl(_opts: CtlOptions, _config: Config) -> ExitCode {
    eprintln!("{NOT_AVAILABLE}");
    ExitCode::FAILURE
}
