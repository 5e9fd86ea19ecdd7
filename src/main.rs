//! `wackamole` and `wackatrl`: one binary, two faces (see `cli`), and
//! `wackamole keygen`.

mod app;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use wackamole::cli::{self, Invocation};
use wackamole::config::{self, Config, Overrides};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    match cli::parse_invocation(&argv) {
        Ok(Invocation::Daemon(opts)) => {
            if opts.version {
                println!("wackamole {}", cli::VERSION);
                return ExitCode::SUCCESS;
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
                print!("{}", config::summary(&config));
                if let Some(line) = own_node {
                    println!("{line}");
                }
                return ExitCode::SUCCESS;
            }
            app::run_daemon(opts, config, path, overrides)
        }
        Ok(Invocation::Keygen(opts)) => app::run_keygen(&opts),
        Ok(Invocation::Ctl(opts)) => match load_config(opts.config.as_deref()) {
            Some((config, _)) => app::run_ctl(opts, config),
            None => ExitCode::FAILURE,
        },
        Err(exit) if exit.success => {
            println!("{}", exit.output);
            ExitCode::SUCCESS
        }
        Err(exit) => {
            eprintln!("{}", exit.output);
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
