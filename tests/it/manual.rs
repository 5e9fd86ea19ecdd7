//! The manual pages and the systemd unit agree with the program: every
//! directive and block parameter the parser knows is documented in
//! wackamole.conf(5), every option `--help` lists is in the pages, the
//! example configuration parses, the markup uses only requests and escapes
//! the man macros have, and the unit starts the daemon with options it
//! accepts and the pid file it watches. The lists come from the code (the
//! parser's keyword tables, the binary's own `--help`), never from here.

use crate::support::roff;

use std::path::Path;
use std::process::Command;

use wackamole::cli::{self, Invocation};
use wackamole::config::{
    self, ADDRESSES_PARAMETERS, ANNOUNCE_PARAMETERS, BALANCE_PARAMETERS, CHECK_PARAMETERS,
    DIRECTIVES, MEMBERSHIP_PARAMETERS, TRACK_PARAMETERS,
};
use wackamole::engine::Phase;

const BIN: &str = env!("CARGO_BIN_EXE_wackamole");

fn page(file: &str) -> roff::Page {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("etc/man")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let (name, section) = file.rsplit_once('.').expect("a page file is NAME.SECTION");
    let title = format!(".TH {} {section} ", name.to_ascii_uppercase());
    assert!(
        text.lines().any(|l| l.starts_with(&title)),
        "{file}: no `{title}...` line"
    );
    let page = roff::read(file, &text);
    assert!(page.problems.is_empty(), "{}", page.problems.join("\n"));
    page
}

/// The options `args --help` lists, long and short (`-c`, `--config`).
fn options_in_help(args: &[&str]) -> Vec<String> {
    let out = Command::new(BIN)
        .args(args)
        .arg("--help")
        .output()
        .expect("run the binary");
    assert!(out.status.success(), "{args:?} --help failed");
    let help = String::from_utf8(out.stdout).expect("help is UTF-8");
    let options_section = help
        .split_once("Options:")
        .unwrap_or_else(|| panic!("{args:?} --help has no Options section:\n{help}"))
        .1;
    let options: Vec<String> = options_section
        .lines()
        .filter_map(|line| line.strip_prefix("  "))
        .filter(|line| line.starts_with('-'))
        .flat_map(|line| {
            // "-c, --config      description": the names before the gap.
            let names = line.split("  ").next().unwrap_or("");
            names
                .split(", ")
                .filter(|n| n.starts_with('-'))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        options.iter().any(|o| o == "--help"),
        "{args:?}: read no options from:\n{help}"
    );
    options
}

fn assert_documented(page: &roff::Page, what: &str, names: &[String]) {
    let missing: Vec<&String> = names.iter().filter(|n| !page.has_bold(n)).collect();
    assert!(
        missing.is_empty(),
        "{}: {what} not documented (in bold): {missing:?}",
        page.name
    );
}

fn names<T>(table: &[(&str, T)]) -> Vec<String> {
    table.iter().map(|(name, _)| name.to_string()).collect()
}

#[test]
fn every_directive_and_block_parameter_is_in_wackamole_conf_5() {
    let page = page("wackamole.conf.5");
    assert_documented(&page, "directives", &names(DIRECTIVES));
    assert_documented(&page, "Balance parameters", &names(BALANCE_PARAMETERS));
    assert_documented(
        &page,
        "Membership parameters",
        &names(MEMBERSHIP_PARAMETERS),
    );
    assert_documented(&page, "Announce parameters", &names(ANNOUNCE_PARAMETERS));
    assert_documented(&page, "Addresses parameters", &names(ADDRESSES_PARAMETERS));
    assert_documented(&page, "Track parameters", &names(TRACK_PARAMETERS));
    assert_documented(&page, "Track Command settings", &names(CHECK_PARAMETERS));
}

#[test]
fn every_option_is_in_the_pages() {
    let daemon = page("wackamole.8");
    assert_documented(&daemon, "daemon options", &options_in_help(&[]));
    assert_documented(&daemon, "keygen options", &options_in_help(&["keygen"]));
    assert!(daemon.has_bold("keygen"), "wackamole.8: keygen");
    let ctl = page("wackatrl.8");
    assert_documented(&ctl, "wackatrl options", &options_in_help(&["ctl"]));
}

#[test]
fn the_example_in_wackamole_conf_5_is_a_valid_configuration() {
    let page = page("wackamole.conf.5");
    assert!(!page.examples.is_empty(), "no example");
    for example in &page.examples {
        if let Err(err) = config::parse(example, "wackamole.conf.5 example") {
            panic!("{err}\n{example}");
        }
    }
}

#[test]
fn the_documented_states_are_the_engine_s_phases() {
    let names: Vec<&str> = Phase::ALL.iter().map(|p| p.as_str()).collect();
    let page = page("wackatrl.8");
    let missing: Vec<&&str> = names.iter().filter(|n| !page.has_bold(n)).collect();
    assert!(missing.is_empty(), "wackatrl.8 lacks states {missing:?}");
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let row = readme
        .lines()
        .find(|l| l.starts_with("| `state` |"))
        .expect("README documents the `state` field");
    let mut documented: Vec<&str> = row.split('`').skip(3).step_by(2).collect();
    let mut expected = names.clone();
    documented.sort_unstable();
    expected.sort_unstable();
    assert_eq!(documented, expected, "README: {row}");
}

#[test]
fn the_systemd_unit_starts_the_daemon_the_way_it_watches_it() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/systemd/wackamole.service");
    let unit = std::fs::read_to_string(&path).expect("the unit");
    let value = |key: &str| -> &str {
        let prefix = format!("{key}=");
        let mut values = unit.lines().filter_map(|l| l.strip_prefix(prefix.as_str()));
        let first = values.next().unwrap_or_else(|| panic!("no {key}="));
        assert!(values.next().is_none(), "{key}= twice");
        first
    };
    assert_eq!(value("Restart"), "on-failure");
    for key in ["CapabilityBoundingSet", "AmbientCapabilities"] {
        let mut caps: Vec<&str> = value(key).split_whitespace().collect();
        caps.sort_unstable();
        assert_eq!(caps, ["CAP_NET_ADMIN", "CAP_NET_RAW"], "{key}");
    }
    let argv: Vec<String> = value("ExecStart")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let Ok(Invocation::Daemon(options)) = cli::parse_invocation(&argv) else {
        panic!("ExecStart is not a daemon command line: {argv:?}");
    };
    // Forking: the daemon must detach and write the pid file systemd
    // watches; in the foreground it must not.
    match value("Type") {
        "forking" => {
            assert!(!options.debug, "a forking unit runs the daemon without -d");
            assert_eq!(
                options.pidfile.as_deref(),
                Some(Path::new(value("PIDFile"))),
                "--pidfile and PIDFile differ"
            );
        }
        "simple" | "exec" => assert!(options.debug, "a foreground unit needs -d"),
        other => panic!("Type={other}"),
    }
}
