//! The two actions the command line leads to once a configuration is
//! loaded: starting the daemon and talking to a running one.

use std::path::PathBuf;
use std::process::ExitCode;

use wackamole::cli::{CtlAction, CtlOptions, DaemonOptions};
use wackamole::config::{Config, Overrides};
use wackamole::{control, daemon};

/// Starts the daemon with `config` (already validated, with the command
/// line's overrides applied), read from `config_path`.
pub fn run_daemon(
    opts: DaemonOptions,
    config: Config,
    config_path: PathBuf,
    overrides: Overrides,
) -> ExitCode {
    let options = daemon::Options {
        config_path,
        foreground: opts.debug,
        private_name: opts.user,
        pid_file: opts.pidfile,
        overrides,
    };
    match daemon::run(config, options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wackamole: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Performs a `wackatrl` action against the daemon whose control socket
/// `config` names.
pub fn run_ctl(opts: CtlOptions, config: Config) -> ExitCode {
    let Some(socket) = config.control else {
        eprintln!("wackatrl: the configuration names no control socket (add `Control = PATH`)");
        return ExitCode::FAILURE;
    };
    let action = match opts.action {
        CtlAction::List => control::Action::List,
        CtlAction::Fail => control::Action::SimulateFailure,
        CtlAction::Succeed => control::Action::EndFailure,
    };
    let mut out = std::io::stdout().lock();
    match control::run(&socket, action, opts.json, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wackatrl: {}: {err}", socket.display());
            ExitCode::FAILURE
        }
    }
}
