//! The binary as a user runs it: `wackamole -t`, the usage errors of both
//! faces, the configuration lookup, and the init script.

use crate::support::scratch;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use scratch::Scratch;

const BIN: &str = env!("CARGO_BIN_EXE_wackamole");
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/etc/wackamole.conf");
const INIT_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/etc/init.d/wackamole");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run wackamole")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_lines(output: &str, lines: &[&str]) {
    for line in lines {
        assert!(output.lines().any(|l| l == *line), "{line:?} in\n{output}");
    }
}

#[test]
fn test_mode_prints_the_shipped_example_normalized() {
    let out = run(&["-t", "-c", EXAMPLE]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    assert_lines(
        &text(&out.stdout),
        &[
            "spread: 4803 (local daemon)",
            "spread retry interval: 5s",
            "group: wack1",
            "control: /var/run/wackamole.sock",
            "log facility: daemon",
            "identity: derived at start",
            "mature: 5s",
            "arp-cache: 90s",
            "balance: acquisitions per round 1, interval 4s",
            "prefer: 192.168.10.80/32 (preferred primaries: 192.168.10.80)",
            "notify:",
            "  eth0:192.168.10.0/24 throttle 50",
            "  arp-cache",
            "  eth0:2001:db8:10::fffe",
            "announce refresh: 1m",
            "vifs: 3",
            "  1: eth0:192.168.10.80/32n24",
            "  2: eth0:192.168.10.1/24n24 eth1:203.0.113.1/29n29 eth0:2001:db8:10::1/64",
            "  3: eth0:2001:db8:10::80/64",
            "hooks:",
            "  on up: logger -t wackamole acquired an address",
            "  on down: logger -t wackamole released an address",
            "  post up: /etc/wackamole/reload-services",
        ],
    );
}

/// `wackamole -t | head -1`: the reader is gone before the summary is
/// written. The check still reports the file's result, with no panic.
#[test]
fn test_mode_into_a_closed_pipe_keeps_its_result() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe() writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe()");
    // SAFETY: both descriptors were just opened and are owned here only.
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    for (config, code) in [(EXAMPLE, 0), ("/nonexistent/wackamole.conf", 1)] {
        let out = Command::new(BIN)
            .args(["-t", "-c", config])
            .stdout(writer.try_clone().expect("dup the pipe"))
            .output()
            .expect("run wackamole");
        assert_eq!(out.status.code(), Some(code), "{}", text(&out.stderr));
        assert!(
            !text(&out.stderr).contains("panicked"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn test_mode_with_a_missing_file_fails_with_one_line() {
    let dir = Scratch::new("missing");
    let path = dir.path("nowhere.conf");
    let out = run(&["-t", "-c", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "wackamole: {}: cannot read the configuration",
            path.display()
        )),
        "{stderr}"
    );
}

#[test]
fn test_mode_with_a_bad_file_names_line_and_column() {
    let dir = Scratch::new("bad");
    let path = dir.write(
        "bad.conf",
        "Group = wack1\nVirtualInterfaces {\n  eth0:10.0.0.256/24\n}\n",
    );
    let out = run(&["-t", "-c", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        format!(
            "wackamole: {}:3:15: found 256 in `eth0:10.0.0.256/24`, expected an octet of 0 to 255\n",
            path.display()
        )
    );
}

#[test]
fn test_mode_reports_warnings_and_still_succeeds() {
    let dir = Scratch::new("warn");
    let path = dir.write(
        "warn.conf",
        "VIFs { eth0:10.0.0.5 }\nModuleDir = /usr/lib/wackamole\n",
    );
    let out = run(&["-t", "-c", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "wackamole: {}:2:1: warning: ModuleDir",
            path.display()
        )),
        "{stderr}"
    );
    assert_lines(&text(&out.stdout), &["vifs: 1", "  1: eth0:10.0.0.5/32n24"]);
}

#[test]
fn command_line_overrides_the_file() {
    let out = run(&["-t", "-c", EXAMPLE, "-s", "4900@10.1.1.1", "-i", "10.0.0.9"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_lines(
        &text(&out.stdout),
        &["spread: 4900@10.1.1.1", "identity: 10.0.0.9"],
    );
    let unix = run(&["-t", "-c", EXAMPLE, "-s", "/run/spread.sock"]);
    assert_lines(
        &text(&unix.stdout),
        &["spread: /run/spread.sock (Unix socket)"],
    );
}

#[test]
fn version_needs_no_configuration() {
    let out = run(&["-v", "-c", "/nonexistent/wackamole.conf"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        format!("wackamole {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_daemon_options_are_usage_errors() {
    for (args, gist) in [
        (&["-s", "fast"][..], "expected a Spread daemon"),
        (&["-i", "127.0.0.1"], "loopback"),
        (&["-u", "much-too-long"], "1 to 10 characters"),
        (&["-u", "node!1"], "from `$` to `~`"),
        (&["--frobnicate"], "Unrecognized argument: --frobnicate"),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            text(&out.stderr).contains(gist),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let help = run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help.stdout).starts_with("Usage: wackamole"));
}

#[test]
fn ctl_face_needs_exactly_one_action() {
    let none = run(&["ctl"]);
    assert_eq!(none.status.code(), Some(1));
    assert_eq!(
        text(&none.stderr),
        "wackamole ctl: give one of -l, -f, -s, --metrics or --watch (see wackamole ctl --help)\n"
    );
    let two = run(&["ctl", "-l", "-f", "--json"]);
    assert_eq!(two.status.code(), Some(1));
    assert!(text(&two.stderr).contains("give only one of -l, -f, -s, --metrics or --watch"));
    let unknown = run(&["ctl", "-x"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("-x"));
    let help = run(&["ctl", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help.stdout).starts_with("Usage: wackamole ctl"));
}

#[test]
fn invoked_as_wackatrl_it_is_the_control_tool() {
    let dir = Scratch::new("wackatrl");
    let link = dir.path("wackatrl");
    std::os::unix::fs::symlink(BIN, &link).expect("symlink");
    let out = Command::new(&link)
        .args(["-l", "-s"])
        .output()
        .expect("run wackatrl");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "wackatrl: give only one of -l, -f, -s, --metrics or --watch (see wackatrl --help)\n"
    );
    let help = Command::new(&link).arg("--help").output().expect("run");
    assert!(text(&help.stdout).contains("--json"));
}

#[test]
fn without_c_the_system_file_comes_before_the_working_directory() {
    let dir = Scratch::new("lookup");
    dir.write(
        "wackamole.conf",
        "Group = from-cwd\nVIFs { eth0:10.0.0.5 }\n",
    );
    let out = Command::new(BIN)
        .arg("-t")
        .current_dir(dir.dir())
        .output()
        .expect("run");
    let empty = Scratch::new("lookup-empty");
    let out_empty = Command::new(BIN)
        .arg("-t")
        .current_dir(empty.dir())
        .output()
        .expect("run");
    let system = Path::new(wackamole::cli::sysconfdir()).join("wackamole.conf");
    let stdout = text(&out.stdout);
    if system.exists() {
        // This machine has a system file: it wins over the working
        // directory, and there is always a file to read.
        assert!(!stdout.contains("group: from-cwd"), "{stdout}");
        assert!(!text(&out_empty.stderr).contains("no configuration file"));
    } else {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_lines(&stdout, &["group: from-cwd"]);
        assert_eq!(out_empty.status.code(), Some(1));
        assert_eq!(
            text(&out_empty.stderr),
            format!(
                "wackamole: no configuration file: tried {} and ./wackamole.conf (name one with -c FILE)\n",
                system.display()
            )
        );
    }
}

fn init_script(dir: &Scratch, action: &str, config: &Path) -> Output {
    Command::new("sh")
        .arg(INIT_SCRIPT)
        .arg(action)
        .env("DAEMON", BIN)
        .env("CONFIG", config)
        .env("PIDFILE", dir.path("wackamole.pid"))
        .output()
        .expect("run the init script")
}

#[test]
fn init_script_is_valid_posix_sh() {
    let out = Command::new("sh")
        .args(["-n", INIT_SCRIPT])
        .output()
        .expect("run sh -n");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn init_script_status_follows_the_pid_file() {
    let dir = Scratch::new("init-status");
    let config = Path::new(EXAMPLE);
    let absent = init_script(&dir, "status", config);
    assert_eq!(absent.status.code(), Some(3));
    assert_eq!(text(&absent.stdout), "wackamole is not running\n");

    let me = std::process::id();
    dir.write("wackamole.pid", &format!("{me}\n"));
    let running = init_script(&dir, "status", config);
    assert_eq!(running.status.code(), Some(0));
    assert_eq!(
        text(&running.stdout),
        format!("wackamole is running (pid {me})\n")
    );

    let mut gone = Command::new("true").spawn().expect("spawn");
    gone.wait().expect("wait");
    dir.write("wackamole.pid", &format!("{}\n", gone.id()));
    let stale = init_script(&dir, "status", config);
    assert_eq!(stale.status.code(), Some(1));
    assert!(text(&stale.stdout).contains("not running, but"));
}

#[test]
fn init_script_refuses_to_start_with_a_bad_configuration() {
    let dir = Scratch::new("init-start");
    let bad = dir.write("bad.conf", "Group wack1\n");
    let out = init_script(&dir, "start", &bad);
    assert_eq!(out.status.code(), Some(6));
    assert_eq!(
        text(&out.stderr),
        format!(
            "wackamole: {}:1:7: found `wack1`, expected `=` after Group\n",
            bad.display()
        )
    );
    assert!(!dir.path("wackamole.pid").exists());
}

fn path_text(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777
}

/// A key file of `len` bytes with `mode`, as an operator might leave it.
fn key_file(dir: &Scratch, name: &str, len: usize, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.path(name);
    std::fs::write(&path, vec![b'k'; len]).expect("write a key");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

/// A configuration with a Membership block listing `nodes` and using the
/// key at `key`; `extra` goes before the VIFs.
fn membership_conf(dir: &Scratch, key: &Path, nodes: &str, extra: &str) -> PathBuf {
    dir.write(
        "membership.conf",
        &format!(
            "Membership {{\n  Nodes {{ {nodes} }}\n  Key = {}\n}}\n{extra}VIFs {{ eth0:10.0.0.5 }}\n",
            key.display()
        ),
    )
}

#[test]
fn keygen_writes_a_private_key_and_never_overwrites_one() {
    let dir = Scratch::new("keygen");
    let key = dir.path("cluster.key");
    let out = run(&["keygen", path_text(&key)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(text(&out.stderr), "");
    assert_eq!(mode_of(&key), 0o600);
    let first = std::fs::read(&key).expect("read the key");
    assert_eq!(first.len(), 32);

    let again = run(&["keygen", path_text(&key)]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(text(&again.stdout), "");
    assert_eq!(
        text(&again.stderr),
        format!(
            "wackamole keygen: {} already exists; keygen never overwrites a file (remove it \
             first to replace the key)\n",
            key.display()
        )
    );
    assert_eq!(std::fs::read(&key).expect("read the key"), first);

    let nowhere = dir.path("no-such-dir").join("cluster.key");
    let out = run(&["keygen", path_text(&nowhere)]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "wackamole keygen: cannot write the key file {}: ",
            nowhere.display()
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let usage = run(&["keygen"]);
    assert_eq!(usage.status.code(), Some(1));
    assert!(
        text(&usage.stderr).contains("file"),
        "{}",
        text(&usage.stderr)
    );
}

#[test]
fn test_mode_prints_the_membership_and_this_node() {
    let dir = Scratch::new("membership");
    let key = dir.path("cluster.key");
    assert_eq!(run(&["keygen", path_text(&key)]).status.code(), Some(0));
    let conf = membership_conf(
        &dir,
        &key,
        "192.0.2.1 192.0.2.2",
        "Identity = 192.0.2.2\nQuorum = majority\n",
    );
    let out = run(&["-t", "-c", path_text(&conf)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let key_line = format!("membership key: {}", key.display());
    assert_lines(
        &text(&out.stdout),
        &[
            "spread: none (built-in membership)",
            "membership nodes: 192.0.2.1 192.0.2.2",
            "membership port: 4810",
            &key_line,
            "membership heartbeat: 20ms",
            "membership timeout: 200ms",
            "membership port unreachable: on",
            "quorum: majority (2 of 2 nodes)",
            "this node: 192.0.2.2 (node 2 of 2, set by Identity)",
        ],
    );
    // -i decides as Identity does.
    let out = run(&["-t", "-c", path_text(&conf), "-i", "192.0.2.1"]);
    assert_lines(
        &text(&out.stdout),
        &["this node: 192.0.2.1 (node 1 of 2, set by Identity)"],
    );
    let out = run(&["-t", "-c", path_text(&conf), "-i", "192.0.2.9"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert!(
        text(&out.stderr).starts_with(
            "wackamole: Identity 192.0.2.9 is not listed in Membership Nodes (192.0.2.1 192.0.2.2)"
        ),
        "{}",
        text(&out.stderr)
    );
    // -s would contradict the file's choice of group service.
    let out = run(&["-t", "-c", path_text(&conf), "-s", "4803"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("wackamole: -s names a Spread daemon, but"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn test_mode_finds_this_node_among_the_host_addresses() {
    let dir = Scratch::new("membership-local");
    let key = key_file(&dir, "cluster.key", 32, 0o600);
    // Every host has 127.0.0.1; no host here has 192.0.2.1 (TEST-NET-1).
    let conf = membership_conf(&dir, &key, "192.0.2.1 127.0.0.1", "");
    let out = run(&["-t", "-c", path_text(&conf)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_lines(
        &text(&out.stdout),
        &["this node: 127.0.0.1 (node 2 of 2, an address of this host)"],
    );
    let conf = membership_conf(&dir, &key, "192.0.2.1 198.51.100.1", "");
    let out = run(&["-t", "-c", path_text(&conf)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(
            "wackamole: this host has none of the addresses listed in Membership Nodes \
             (192.0.2.1 198.51.100.1)"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn test_mode_refuses_an_exposed_short_or_missing_key() {
    let dir = Scratch::new("badkey");
    let exposed = key_file(&dir, "exposed.key", 32, 0o644);
    let short = key_file(&dir, "short.key", 15, 0o600);
    let missing = dir.path("missing.key");
    for (key, expected) in [
        (
            &exposed,
            format!(
                "wackamole: the membership key {0} may be read or written by group or others \
                 (mode 0644); chmod 600 {0}\n",
                exposed.display()
            ),
        ),
        (
            &short,
            format!(
                "wackamole: the membership key {} holds 15 bytes, fewer than 16; write a new one \
                 with `wackamole keygen FILE`\n",
                short.display()
            ),
        ),
        (
            &missing,
            format!(
                "wackamole: cannot read the membership key {}: No such file or directory (os \
                 error 2)\n",
                missing.display()
            ),
        ),
    ] {
        let conf = membership_conf(&dir, key, "192.0.2.1", "Identity = 192.0.2.1\n");
        let out = run(&["-t", "-c", path_text(&conf)]);
        assert_eq!(out.status.code(), Some(1), "{}", key.display());
        assert_eq!(text(&out.stdout), "");
        assert_eq!(text(&out.stderr), expected);
    }
}

#[test]
fn test_mode_checks_the_accepted_key_like_the_key() {
    let dir = Scratch::new("acceptkey");
    let key = key_file(&dir, "current.key", 32, 0o600);
    let other = dir.path("other.key");
    assert_eq!(run(&["keygen", path_text(&other)]).status.code(), Some(0));
    // The same bytes as `key`, in another file.
    let same = key_file(&dir, "same.key", 32, 0o600);
    let exposed = key_file(&dir, "exposed.key", 32, 0o644);
    let short = key_file(&dir, "short.key", 15, 0o600);
    let conf = |accept: &Path| {
        dir.write(
            "accept.conf",
            &format!(
                "Membership {{\n  Nodes {{ 192.0.2.1 }}\n  Key = {}\n  AcceptKey = {}\n}}\n\
                 Identity = 192.0.2.1\nVIFs {{ eth0:10.0.0.5 }}\n",
                key.display(),
                accept.display()
            ),
        )
    };
    let out = run(&["-t", "-c", path_text(&conf(&other))]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let accepted_line = format!("membership accepted key: {}", other.display());
    assert_lines(&text(&out.stdout), &[&accepted_line]);
    for (accept, expected) in [
        (
            &same,
            format!(
                "wackamole: AcceptKey {} holds the same key as Key {}; AcceptKey names the other \
                 key of a rotation (remove it once every node sends under Key)\n",
                same.display(),
                key.display()
            ),
        ),
        (
            &exposed,
            format!(
                "wackamole: AcceptKey: the membership key {0} may be read or written by group or \
                 others (mode 0644); chmod 600 {0}\n",
                exposed.display()
            ),
        ),
        (
            &short,
            format!(
                "wackamole: AcceptKey: the membership key {} holds 15 bytes, fewer than 16; \
                 write a new one with `wackamole keygen FILE`\n",
                short.display()
            ),
        ),
    ] {
        let out = run(&["-t", "-c", path_text(&conf(accept))]);
        assert_eq!(out.status.code(), Some(1), "{}", accept.display());
        assert_eq!(text(&out.stdout), "");
        assert_eq!(text(&out.stderr), expected);
    }
}

#[test]
fn test_mode_warns_of_a_tracked_interface_that_does_not_exist() {
    let dir = Scratch::new("track");
    let path = dir.path("track.conf");
    std::fs::write(
        &path,
        "Track { Interface = lo  Interface = wk-nosuch0 }\nVirtualInterfaces { lo:10.0.0.5/24 }\n",
    )
    .expect("write the configuration");
    let out = run(&["-t", "-c", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("wackamole: warning: tracked interface wk-nosuch0 does not exist"),
        "{stderr}"
    );
    assert_lines(
        &text(&out.stdout),
        &["  interface lo", "  interface wk-nosuch0"],
    );
}
