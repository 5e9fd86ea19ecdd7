//! `wackamole` and `wackatrl`: one binary, two faces (see `cli`).

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
            if opts.test {
                print!("{}", config::summary(&config));
                return ExitCode::SUCCESS;
            }
            app::run_daemon(opts, config, path, overrides)
        }
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
