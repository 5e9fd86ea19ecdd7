//! `wackamole` and `wackatrl`: one binary, two faces (see `cli`), and
//! `wackamole keygen`.

mod app;

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use wackamole::cli::{self, Invocation};
use wackamole::config::{self, Config, Overrides};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    match cli::parse_invocation(&argv) {
        Ok(Invocation::Daemon(opts)) => {
            if opts.version {
                return print_out(&format!("wackamole {}\n", cli::VERSION));
            }
            let Some((config, path)) = load_config(opts.config.as_deref()) else {
                return ExitCode::FAILURE;
            };
            let overrides = Overrides {
                spread: opts.spread.clone(),
                identity: opts.identity,
            };
            let config = overrides.apply(config);
            if let Err(message) = app::check_membership(&config, &path, opts.spread.is_some()) {
                eprintln!("wackamole: {message}");
                return ExitCode::FAILURE;
            }
            if opts.test {
                let own_node = match app::own_node(&config) {
                    Ok(line) => line,
                    Err(message) => {
                        eprintln!("wackamole: {message}");
                        return ExitCode::FAILURE;
                    }
                };
                for warning in app::missing_tracked_interfaces(&config) {
                    eprintln!("wackamole: {warning}");
                }
                let mut text = config::summary(&config);
                if let Some(line) = own_node {
                    text.push_str(&line);
                    text.push('\n');
                }
                return print_out(&text);
            }
            app::run_daemon(opts, config, path, overrides)
        }
        Ok(Invocation::Keygen(opts)) => app::run_keygen(&opts),
        Ok(Invocation::Ctl(opts)) => match load_config(opts.config.as_deref()) {
            Some((config, _)) => app::run_ctl(opts, config),
            None => ExitCode::FAILURE,
        },
        Err(exit) if exit.success => print_out(&format!("{}\n", exit.output)),
        Err(exit) => {
            eprintln!("{}", exit.output);
            ExitCode::FAILURE
        }
    }
}

/// Writes `text` to standard output. A reader that went away (`wackamole
/// -t | head`) ends the output quietly and leaves the result as it was;
/// any other failure to write is reported and fails.
fn print_out(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wackamole: cannot write to standard output: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Finds and loads the configuration, printing warnings, or prints the one
/// line that says why it cannot be used.
fn load_config(explicit: Option<&Path>) -> Option<(Config, PathBuf)> {
    let candidates = cli::default_config_candidates();
    let path = match cli::resolve_config_path(explicit, &candidates) {
        Ok(path) => path,
        Err(message) => {
            eprintln!("wackamole: {message}");
            return None;
        }
    };
    match config::load(&path) {
        Ok((config, warnings)) => {
            for warning in warnings {
                eprintln!("wackamole: {warning}");
            }
            Some((config, path))
        }
        Err(err) => {
            eprintln!("wackamole: {err}");
            None
        }
    }
}
