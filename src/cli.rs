//! The command lines of the binary's two faces: `wackamole` (the daemon)
//! and `wackatrl` (the control tool), chosen by the name the binary is
//! invoked as or by `wackamole ctl ...`; and `wackamole keygen FILE`, which
//! writes a key for the built-in membership.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use argh::FromArgs;

use crate::config::{self, SpreadAddress};
use crate::spread::wire::{is_legal_private_name, MAX_PRIVATE_NAME};

/// The version `-v` prints.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Wackamole: keeps virtual IP addresses alive across a cluster,
/// coordinated through Spread.
#[derive(FromArgs, Debug, Clone, PartialEq, Eq)]
pub struct DaemonOptions {
    /// configuration file (default: the system one, then ./wackamole.conf)
    #[argh(option, short = 'c')]
    pub config: Option<PathBuf>,
    /// debug: stay in the foreground and log to stderr
    #[argh(switch, short = 'd')]
    pub debug: bool,
    /// the Spread daemon: PORT, PORT@HOST or a Unix socket path
    /// (overrides the file)
    #[argh(option, short = 's', from_str_fn(spread_option))]
    pub spread: Option<SpreadAddress>,
    /// private name used with Spread (default wack<pid>, at most 10
    /// characters)
    // The text above is the option's help as argh prints it, not HTML.
    #[allow(rustdoc::invalid_html_tags)]
    #[argh(option, short = 'u', long = "user", from_str_fn(private_name_option))]
    pub private_name: Option<String>,
    /// print the version and exit
    #[argh(switch, short = 'v')]
    pub version: bool,
    /// test the configuration, print what was understood, and exit
    #[argh(switch, short = 't')]
    pub test: bool,
    /// this node's address as its peers know it (overrides the file)
    #[argh(option, short = 'i', from_str_fn(identity_option))]
    pub identity: Option<Ipv4Addr>,
    /// write the daemon's process id to this file
    #[argh(option)]
    pub pidfile: Option<PathBuf>,
}

/// wackatrl: query or steer a running wackamole through its control
/// socket.
#[derive(FromArgs, Debug)]
struct CtlArgs {
    /// configuration file naming the control socket
    #[argh(option, short = 'c')]
    config: Option<PathBuf>,
    /// list the VIFs and who holds them
    #[argh(switch, short = 'l')]
    list: bool,
    /// simulate a failure: leave the group and release every VIF
    #[argh(switch, short = 'f')]
    fail: bool,
    /// end a simulated failure: rejoin the group
    #[argh(switch, short = 's')]
    succeed: bool,
    /// print the state as JSON (with --watch: one JSON object a line)
    #[argh(switch)]
    json: bool,
    /// print the state as Prometheus metrics (text format 0.0.4)
    #[argh(switch)]
    metrics: bool,
    /// print each event (view changes, addresses acquired and released,
    /// quorum changes, refused datagrams) as it happens, until
    /// interrupted
    #[argh(switch)]
    watch: bool,
}

/// wackamole keygen: write a new key for the built-in membership to FILE
/// (32 random bytes, mode 0600); an existing file is never overwritten.
#[derive(FromArgs, Debug)]
struct KeygenArgs {
    /// the key file to create
    #[argh(positional)]
    file: PathBuf,
}

/// `wackamole keygen FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeygenOptions {
    /// Where to write the new key.
    pub file: PathBuf,
}

/// What `wackatrl` asks the daemon to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtlAction {
    /// `-l`: print who holds which VIF.
    List,
    /// `-f`: simulate a failure.
    Fail,
    /// `-s`: end the simulated failure.
    Succeed,
    /// `--metrics`: print the state as Prometheus metrics.
    Metrics,
    /// `--watch`: print events as they happen.
    Watch,
}

/// `wackatrl`'s options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtlOptions {
    /// `-c`: the configuration whose control socket to use.
    pub config: Option<PathBuf>,
    /// What to ask the daemon.
    pub action: CtlAction,
    /// `--json`: print the state (or, with `--watch`, each event) as
    /// JSON.
    pub json: bool,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// The daemon face, `wackamole`.
    Daemon(DaemonOptions),
    /// The control tool, `wackatrl` or `wackamole ctl`.
    Ctl(CtlOptions),
    /// `wackamole keygen`.
    Keygen(KeygenOptions),
}

/// The command line ends the program at once: help text (success) or a
/// usage error (failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlyExit {
    /// What to print.
    pub output: String,
    /// Whether the program exits successfully.
    pub success: bool,
}

/// Parses `argv` (program name first) into the face it selects.
pub fn parse_invocation(argv: &[String]) -> Result<Invocation, EarlyExit> {
    let program = argv.first().map(String::as_str).unwrap_or("wackamole");
    let rest: Vec<&str> = argv.iter().skip(1).map(String::as_str).collect();
    let invoked_as = Path::new(program)
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("wackamole");
    if invoked_as == "wackatrl" {
        return parse_ctl("wackatrl", &rest);
    }
    if rest.first() == Some(&"ctl") {
        return parse_ctl("wackamole ctl", &rest[1..]);
    }
    if rest.first() == Some(&"keygen") {
        return KeygenArgs::from_args(&["wackamole keygen"], &rest[1..])
            .map(|args| Invocation::Keygen(KeygenOptions { file: args.file }))
            .map_err(early_exit);
    }
    DaemonOptions::from_args(&["wackamole"], &rest)
        .map(Invocation::Daemon)
        .map_err(early_exit)
}

fn parse_ctl(command: &str, args: &[&str]) -> Result<Invocation, EarlyExit> {
    let parsed = CtlArgs::from_args(&[command], args).map_err(early_exit)?;
    let chosen: Vec<CtlAction> = [
        (parsed.list, CtlAction::List),
        (parsed.fail, CtlAction::Fail),
        (parsed.succeed, CtlAction::Succeed),
        (parsed.metrics, CtlAction::Metrics),
        (parsed.watch, CtlAction::Watch),
    ]
    .into_iter()
    .filter_map(|(set, action)| set.then_some(action))
    .collect();
    match chosen.as_slice() {
        [CtlAction::Metrics] if parsed.json => Err(usage_error(
            command,
            "--metrics prints the Prometheus format; drop --json",
        )),
        [action] => Ok(Invocation::Ctl(CtlOptions {
            config: parsed.config,
            action: *action,
            json: parsed.json,
        })),
        [] => Err(usage_error(command, &format!("give one of {ACTIONS}"))),
        _ => Err(usage_error(command, &format!("give only one of {ACTIONS}"))),
    }
}

/// The actions `wackatrl` takes one of.
const ACTIONS: &str = "-l, -f, -s, --metrics or --watch";

fn usage_error(command: &str, message: &str) -> EarlyExit {
    EarlyExit {
        output: format!("{command}: {message} (see {command} --help)"),
        success: false,
    }
}

fn early_exit(exit: argh::EarlyExit) -> EarlyExit {
    EarlyExit {
        output: exit.output,
        success: exit.status.is_ok(),
    }
}

fn spread_option(text: &str) -> Result<SpreadAddress, String> {
    config::parse_spread_address(text).map_err(|expected| format!("expected {expected}"))
}

fn private_name_option(text: &str) -> Result<String, String> {
    // The session's own rule, so a name accepted here is never refused by
    // the Spread connection later.
    if text.is_empty() || !is_legal_private_name(text.as_bytes()) {
        return Err(format!(
            "expected a private name of 1 to {MAX_PRIVATE_NAME} characters from `$` to `~`"
        ));
    }
    Ok(text.to_string())
}

fn identity_option(text: &str) -> Result<Ipv4Addr, String> {
    let addr: Ipv4Addr = text
        .parse()
        .map_err(|_| format!("expected an IPv4 address A.B.C.D, found `{text}`"))?;
    config::check_identity(addr).map_err(|problem| {
        format!(
            "{addr} is {problem}; expected {}",
            config::IDENTITY_EXPECTED
        )
    })?;
    Ok(addr)
}

/// The system configuration directory, fixed at build time
/// (`WACKAMOLE_SYSCONFDIR`, as `make` passes it).
pub fn sysconfdir() -> &'static str {
    option_env!("WACKAMOLE_SYSCONFDIR").unwrap_or("/etc")
}

/// Where a configuration is looked for without `-c`, in order.
pub fn default_config_candidates() -> Vec<PathBuf> {
    vec![
        Path::new(sysconfdir()).join("wackamole.conf"),
        PathBuf::from("./wackamole.conf"),
    ]
}

/// `-c FILE` if given (its absence is reported when it is read), else the
/// first of `candidates` that exists.
pub fn resolve_config_path(
    explicit: Option<&Path>,
    candidates: &[PathBuf],
) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    if let Some(found) = candidates.iter().find(|path| path.exists()) {
        return Ok(found.clone());
    }
    let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    Err(format!(
        "no configuration file: tried {} (name one with -c FILE)",
        tried.join(" and ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn daemon_options() {
        let parsed = parse_invocation(&argv(&[
            "/usr/sbin/wackamole",
            "-c",
            "/tmp/w.conf",
            "-d",
            "-s",
            "4803@10.0.0.1",
            "-u",
            "node1",
            "-t",
            "-i",
            "10.0.0.7",
            "--pidfile",
            "/run/w.pid",
        ]));
        assert_eq!(
            parsed,
            Ok(Invocation::Daemon(DaemonOptions {
                config: Some(PathBuf::from("/tmp/w.conf")),
                debug: true,
                spread: Some(SpreadAddress::Tcp {
                    port: 4803,
                    host: "10.0.0.1".to_string()
                }),
                private_name: Some("node1".to_string()),
                version: false,
                test: true,
                identity: Some(Ipv4Addr::new(10, 0, 0, 7)),
                pidfile: Some(PathBuf::from("/run/w.pid")),
            }))
        );
    }

    #[test]
    fn face_chosen_by_program_name_or_ctl() {
        let expected = Ok(Invocation::Ctl(CtlOptions {
            config: None,
            action: CtlAction::Fail,
            json: false,
        }));
        assert_eq!(parse_invocation(&argv(&["/sbin/wackatrl", "-f"])), expected);
        assert_eq!(
            parse_invocation(&argv(&["wackamole", "ctl", "-f"])),
            expected
        );
        let json = parse_invocation(&argv(&["wackatrl", "-l", "--json", "-c", "x"]));
        assert_eq!(
            json,
            Ok(Invocation::Ctl(CtlOptions {
                config: Some(PathBuf::from("x")),
                action: CtlAction::List,
                json: true,
            }))
        );
    }

    #[test]
    fn ctl_needs_exactly_one_action() {
        for args in [
            &["wackatrl"][..],
            &["wackatrl", "-l", "-s"],
            &["wackatrl", "--json"],
        ] {
            let err = parse_invocation(&argv(args)).unwrap_err();
            assert!(!err.success);
            assert!(
                err.output.contains("-l, -f, -s, --metrics or --watch"),
                "{}",
                err.output
            );
        }
    }

    #[test]
    fn metrics_and_watch_are_actions_of_their_own() {
        let ctl = |args: &[&str]| parse_invocation(&argv(args));
        let expected = |action, json| {
            Ok(Invocation::Ctl(CtlOptions {
                config: None,
                action,
                json,
            }))
        };
        assert_eq!(
            ctl(&["wackatrl", "--metrics"]),
            expected(CtlAction::Metrics, false)
        );
        assert_eq!(
            ctl(&["wackatrl", "--watch"]),
            expected(CtlAction::Watch, false)
        );
        assert_eq!(
            ctl(&["wackatrl", "--watch", "--json"]),
            expected(CtlAction::Watch, true)
        );
        for (args, gist) in [
            (&["wackatrl", "--metrics", "--json"][..], "drop --json"),
            (&["wackatrl", "--watch", "-l"], "give only one of"),
            (&["wackatrl", "--metrics", "--watch"], "give only one of"),
        ] {
            let err = ctl(args).unwrap_err();
            assert!(!err.success, "{args:?}");
            assert!(err.output.contains(gist), "{args:?}: {}", err.output);
        }
    }

    #[test]
    fn bad_option_values_are_usage_errors() {
        for (args, gist) in [
            (
                &["wackamole", "-s", "notaport"][..],
                "expected a Spread daemon",
            ),
            (&["wackamole", "-u", "elevenchars"], "1 to 10 characters"),
            (&["wackamole", "-i", "127.0.0.1"], "a loopback address"),
            (&["wackamole", "-i", "10.0.0"], "expected an IPv4 address"),
            (&["wackamole", "--bogus"], "Unrecognized argument: --bogus"),
        ] {
            let err = parse_invocation(&argv(args)).unwrap_err();
            assert!(!err.success, "{args:?}");
            assert!(err.output.contains(gist), "{args:?}: {}", err.output);
        }
    }

    #[test]
    fn keygen_takes_one_file() {
        assert_eq!(
            parse_invocation(&argv(&[
                "wackamole",
                "keygen",
                "/etc/wackamole/cluster.key"
            ])),
            Ok(Invocation::Keygen(KeygenOptions {
                file: PathBuf::from("/etc/wackamole/cluster.key")
            }))
        );
        for args in [
            &["wackamole", "keygen"][..],
            &["wackamole", "keygen", "a", "b"],
        ] {
            let err = parse_invocation(&argv(args)).unwrap_err();
            assert!(!err.success, "{args:?}");
        }
        let help = parse_invocation(&argv(&["wackamole", "keygen", "--help"])).unwrap_err();
        assert!(help.success);
        assert!(
            help.output.starts_with("Usage: wackamole keygen"),
            "{}",
            help.output
        );
    }

    #[test]
    fn help_is_a_successful_early_exit() {
        let exit = parse_invocation(&argv(&["wackamole", "--help"])).unwrap_err();
        assert!(exit.success);
        assert!(exit.output.contains("--pidfile"));
    }

    #[test]
    fn config_lookup_order() {
        let dir = TempDir::new("cli");
        let first = dir.path().join("first.conf");
        let second = dir.path().join("second.conf");
        std::fs::write(&second, "").expect("write");
        let candidates = vec![first.clone(), second.clone()];
        assert_eq!(resolve_config_path(None, &candidates), Ok(second.clone()));
        std::fs::write(&first, "").expect("write");
        assert_eq!(resolve_config_path(None, &candidates), Ok(first.clone()));
        let explicit = dir.path().join("missing.conf");
        assert_eq!(
            resolve_config_path(Some(&explicit), &candidates),
            Ok(explicit)
        );
        for path in &candidates {
            std::fs::remove_file(path).expect("remove a candidate");
        }
        let err = resolve_config_path(None, &candidates).unwrap_err();
        assert!(
            err.contains("first.conf") && err.contains("second.conf"),
            "{err}"
        );
    }
}
