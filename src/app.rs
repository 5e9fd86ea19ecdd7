//! What the command line leads to: checking what the built-in membership
//! needs beyond the file, starting the daemon, talking to a running one,
//! and writing a membership key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use wackamole::cli::{CtlAction, CtlOptions, DaemonOptions, KeygenOptions};
use wackamole::config::{self, Config, Overrides};
use wackamole::net::iface;
use wackamole::{control, daemon, os};

/// Refuses, at start and under `-t`, a built-in membership that cannot
/// run: `-s` given against the file's Membership block, or a key file
/// (`Key`, `AcceptKey`) that is unreadable, exposed or too short, or an
/// accepted key that is the key itself.
pub fn check_membership(
    config: &Config,
    config_path: &Path,
    spread_override: bool,
) -> Result<(), String> {
    let Some(membership) = config.service.membership() else {
        return Ok(());
    };
    if spread_override {
        return Err(format!(
            "-s names a Spread daemon, but {} chooses the built-in membership (its Membership \
             block); drop -s or the block",
            config_path.display()
        ));
    }
    config::load_keys(&membership.key, membership.accept_key.as_deref())
        .map(|_| ())
        .map_err(|err| err.to_string())
}

/// For `-t`: which of the listed nodes this host is, as a summary line
/// (none without a Membership block).
pub fn own_node(config: &Config) -> Result<Option<String>, String> {
    let Some(membership) = config.service.membership() else {
        return Ok(None);
    };
    let local = match config.identity {
        // Identity decides alone: the host's addresses do not matter.
        Some(_) => Vec::new(),
        None => iface::local_addresses()
            .map_err(|err| format!("cannot find this node among Membership Nodes: {err}"))?,
    };
    let index = config::own_index(
        &membership.nodes,
        &membership.more_links,
        config.identity,
        &local,
    )
    .map_err(|err| err.to_string())?;
    let how = match config.identity {
        Some(_) => "set by Identity",
        None => "an address of this host",
    };
    Ok(membership.nodes.get(index).map(|node| {
        format!(
            "this node: {node} (node {} of {}, {how})",
            index + 1,
            membership.nodes.len()
        )
    }))
}

/// For `-t`: a warning for each interface of the `Track` block that does
/// not exist now (it counts as down until it appears).
pub fn missing_tracked_interfaces(config: &Config) -> Vec<String> {
    config
        .track
        .interfaces
        .iter()
        .filter(|name| !wackamole::net::linkwatch::exists(name))
        .map(|name| {
            format!(
                "warning: tracked interface {name} does not exist; it counts as down (this node \
                 unhealthy) until it appears"
            )
        })
        .collect()
}

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
        private_name: opts.private_name,
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
        CtlAction::Metrics => control::Action::Metrics,
        CtlAction::Watch => control::Action::Watch,
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

/// A new key file at `path`: [`config::NEW_KEY_LEN`] bytes from the
/// kernel's random number generator.
fn keygen(path: &Path) -> Result<(), config::KeyFileError> {
    let mut key = [0u8; config::NEW_KEY_LEN];
    os::random_bytes(&mut key).map_err(|error| config::KeyFileError::NoRandomness {
        path: path.to_path_buf(),
        error,
    })?;
    config::write_new_key(path, &key)
}

/// `wackamole keygen FILE`: silent on success.
pub fn run_keygen(opts: &KeygenOptions) -> ExitCode {
    match keygen(&opts.file) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wackamole keygen: {err}");
            ExitCode::FAILURE
        }
    }
}
