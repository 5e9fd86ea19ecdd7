//! The rules of the trackers, each in simulated time.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::*;
use crate::base::{Level, VifAddress};
use crate::config::{CheckCommand, TrackConfig, Vif};

const HOLD: Duration = Duration::from_secs(2);

fn vif(interfaces: &[&str], last: u8) -> Vif {
    Vif {
        addresses: interfaces
            .iter()
            .enumerate()
            .map(|(i, name)| VifAddress {
                interface: name.to_string(),
                addr: IpAddr::V4(Ipv4Addr::new(10, 0, i as u8, last)),
                prefix_len: 24,
                network_len: 24,
            })
            .collect(),
    }
}

fn track(interfaces: &[&str], commands: Vec<CheckCommand>, files: &[&str]) -> TrackConfig {
    TrackConfig {
        interfaces: interfaces.iter().map(|s| s.to_string()).collect(),
        commands,
        files: files.iter().map(PathBuf::from).collect(),
        hold_down: HOLD,
        ..TrackConfig::default()
    }
}

/// A machine with its outputs collected.
struct Rig {
    t0: Instant,
    machine: Trackers,
    healths: Vec<(Duration, LocalHealth)>,
    notices: Vec<(Level, String)>,
    runs: Vec<(RunId, String, Duration)>,
    file_checks: usize,
}

impl Rig {
    fn new(config: &TrackConfig, vifs: &[Vif]) -> Rig {
        let t0 = Instant::now();
        let mut rig = Rig {
            t0,
            machine: Trackers::new(config, vifs, t0),
            healths: Vec::new(),
            notices: Vec::new(),
            runs: Vec::new(),
            file_checks: 0,
        };
        rig.drain();
        rig
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn drain(&mut self) {
        while let Some(output) = self.machine.poll_output() {
            match output {
                Output::Health(h) => self.healths.push((Duration::ZERO, h)),
                Output::Notice(level, text) => self.notices.push((level, text)),
                Output::Run {
                    id,
                    command,
                    timeout,
                } => self.runs.push((id, command, timeout)),
                Output::CheckFiles => self.file_checks += 1,
            }
        }
    }

    /// Runs the machine's timers up to `ms`, stamping health changes.
    fn advance(&mut self, ms: u64) {
        let end = self.at(ms);
        while let Some(due) = self.machine.poll_timeout().filter(|&d| d <= end) {
            self.machine.handle_timeout(due);
            self.stamp(due);
        }
    }

    fn stamp(&mut self, at: Instant) {
        let before = self.healths.len();
        self.drain();
        for entry in &mut self.healths[before..] {
            entry.0 = at - self.t0;
        }
    }

    fn link(&mut self, ms: u64, name: &str, state: LinkState) {
        self.advance(ms);
        let now = self.at(ms);
        self.machine.link(name, state, now);
        self.stamp(now);
    }

    fn result(&mut self, ms: u64, outcome: CheckOutcome) {
        self.advance(ms);
        let now = self.at(ms);
        let (id, _, _) = self.runs.pop().expect("a run under way");
        self.machine.command_result(id, &outcome, now);
        self.stamp(now);
    }

    fn healthy(&self) -> bool {
        self.machine.health().healthy
    }
}

/// The status of the one check command.
fn command_status(rig: &Rig, ms: u64) -> TrackerStatus {
    rig.machine
        .status(rig.at(ms))
        .into_iter()
        .find(|s| s.kind == Kind::Command)
        .expect("a command tracker")
}

fn exit(status: i32, output: &str) -> CheckOutcome {
    CheckOutcome::Exited {
        status,
        output: output.to_string(),
    }
}

#[test]
fn nothing_observed_is_healthy_and_changes_nothing() {
    let rig = Rig::new(&track(&["eth1"], vec![], &[]), &[vif(&["eth0"], 5)]);
    assert!(rig.healths.is_empty());
    assert_eq!(
        rig.machine.health(),
        &LocalHealth {
            healthy: true,
            vifs: vec![true]
        }
    );
    let kinds: Vec<(Kind, State)> = rig
        .machine
        .status(rig.t0)
        .iter()
        .map(|s| (s.kind, s.state))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (Kind::Interface, State::Pending),
            (Kind::VifInterface, State::Pending)
        ]
    );
}

#[test]
fn carrier_loss_acts_at_once_and_recovery_waits_the_hold_down() {
    let mut rig = Rig::new(&track(&["eth1"], vec![], &[]), &[vif(&["eth0"], 5)]);
    rig.link(0, "eth0", LinkState::Up);
    rig.link(0, "eth1", LinkState::Up);
    rig.link(10_000, "eth1", LinkState::NoCarrier);
    assert_eq!(rig.healths.len(), 1);
    assert_eq!(rig.healths[0].0, Duration::from_secs(10));
    assert!(!rig.healths[0].1.healthy);
    assert_eq!(rig.healths[0].1.vifs, vec![true]);
    assert_eq!(rig.notices.len(), 1);
    assert_eq!(rig.notices[0].0, Level::Warning);
    assert!(
        rig.notices[0].1.contains("interface eth1 lost carrier"),
        "{:?}",
        rig.notices
    );
    rig.link(11_000, "eth1", LinkState::Up);
    rig.advance(12_999);
    assert!(!rig.healthy(), "passing for less than the hold-down");
    rig.advance(13_000);
    assert!(rig.healthy());
    assert_eq!(rig.healths.len(), 2);
    assert_eq!(rig.healths[1].0, Duration::from_secs(13));
    assert!(
        rig.notices[1].1.contains("passing again"),
        "{:?}",
        rig.notices
    );
}

#[test]
fn a_vif_interface_marks_only_its_vifs() {
    let vifs = [
        vif(&["eth0"], 5),
        vif(&["eth2", "eth0"], 6),
        vif(&["eth2"], 7),
    ];
    let mut rig = Rig::new(&track(&[], vec![], &[]), &vifs);
    rig.link(0, "eth0", LinkState::Up);
    rig.link(0, "eth2", LinkState::Up);
    rig.link(5_000, "eth2", LinkState::Down);
    let (at, health) = rig.healths.last().expect("a change").clone();
    assert_eq!(at, Duration::from_secs(5));
    assert_eq!(
        health,
        LocalHealth {
            healthy: true,
            vifs: vec![true, false, false]
        }
    );
    assert!(rig.notices[0]
        .1
        .contains("interface eth2 (of a VIF) is down"));
}

#[test]
fn a_missing_interface_is_down_once_the_dump_is_complete() {
    let mut rig = Rig::new(&track(&["uplink9"], vec![], &[]), &[vif(&["eth0"], 5)]);
    rig.link(0, "eth0", LinkState::Up);
    assert!(
        rig.healths.is_empty(),
        "not known missing before the dump ends"
    );
    rig.machine.links_synced(rig.at(1));
    rig.stamp(rig.at(1));
    assert!(!rig.healthy());
    assert!(rig.notices[0].1.contains("uplink9 does not exist"));
    // It appears later, with carrier: healthy after the hold-down.
    rig.link(100, "uplink9", LinkState::Up);
    rig.advance(2_100);
    assert!(rig.healthy());
    // Deleted (or renamed away): down again, at once (a quiet period
    // has passed since the last change).
    rig.link(9_000, "uplink9", LinkState::Missing);
    assert!(!rig.healthy());
    assert_eq!(
        rig.healths.last().map(|h| h.0),
        Some(Duration::from_secs(9))
    );
}

#[test]
fn twenty_flaps_in_two_seconds_change_health_at_most_once_per_hold_down() {
    let mut rig = Rig::new(&track(&["eth1"], vec![], &[]), &[vif(&["eth0"], 5)]);
    rig.link(0, "eth0", LinkState::Up);
    rig.link(0, "eth1", LinkState::Up);
    // 20 downs and 20 ups, one every 50 ms, from t = 10 s to 12 s.
    for flap in 0..40u64 {
        let state = if flap % 2 == 0 {
            LinkState::NoCarrier
        } else {
            LinkState::Up
        };
        rig.link(10_000 + flap * 50, "eth1", state);
    }
    rig.advance(30_000);
    let times: Vec<Duration> = rig.healths.iter().map(|h| h.0).collect();
    assert_eq!(times.len(), 2, "{times:?}");
    assert_eq!(
        times[0],
        Duration::from_secs(10),
        "the first loss acts at once"
    );
    // Up for good at 11.95 s: passing after the hold-down, at 13.95 s.
    assert_eq!(times[1], Duration::from_millis(13_950));
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] >= HOLD, "{times:?}");
    }
    assert!(rig.healthy());
    // One notice per change of the tracker's state: it failed once and
    // recovered once (it never passed again while it bounced).
    assert_eq!(rig.notices.len(), 2, "{:?}", rig.notices);
}

#[test]
fn a_second_change_inside_the_hold_down_waits_for_its_end() {
    let vifs = [vif(&["eth0"], 5)];
    let mut rig = Rig::new(&track(&["eth1"], vec![], &["/run/drain"]), &vifs);
    rig.link(0, "eth0", LinkState::Up);
    rig.link(0, "eth1", LinkState::Up);
    rig.machine.file("/run/drain", false, rig.at(0));
    rig.link(5_000, "eth1", LinkState::Down);
    assert_eq!(rig.healths.len(), 1);
    // The VIF's interface goes too, 100 ms later: applied at 7 s.
    rig.link(5_100, "eth0", LinkState::NoCarrier);
    assert_eq!(rig.healths.len(), 1);
    rig.advance(6_999);
    assert_eq!(rig.healths.len(), 1);
    rig.advance(7_000);
    assert_eq!(rig.healths.len(), 2);
    assert_eq!(rig.healths[1].0, Duration::from_secs(7));
    assert_eq!(rig.healths[1].1.vifs, vec![false]);
}

#[test]
fn a_command_fails_after_fall_and_recovers_after_rise() {
    let check = CheckCommand {
        fall: 3,
        rise: 2,
        ..CheckCommand::new("check-proxy")
    };
    let mut rig = Rig::new(&track(&[], vec![check], &[]), &[vif(&["eth0"], 5)]);
    assert_eq!(rig.runs.len(), 1, "the first run starts at once");
    assert_eq!(rig.runs[0].1, "check-proxy");
    assert_eq!(rig.runs[0].2, Duration::from_secs(1));
    rig.result(100, exit(0, "ok"));
    assert_eq!(rig.notices.len(), 0, "pending to passing is no change");
    // Runs every 2 s from the start of the last one.
    rig.advance(1_999);
    assert!(rig.runs.is_empty());
    rig.advance(2_000);
    assert_eq!(rig.runs.len(), 1);
    rig.result(2_100, exit(1, "backend down\nmore"));
    rig.advance(4_000);
    rig.result(4_100, exit(1, "backend down"));
    assert!(rig.healthy(), "two failures of three");
    rig.advance(6_000);
    rig.result(6_100, exit(1, "backend down"));
    assert!(!rig.healthy());
    assert_eq!(rig.healths[0].0, Duration::from_millis(6_100));
    assert_eq!(
        rig.notices[0].1,
        "check command \"check-proxy\" failed 3 times in a row: exit status 1: backend down"
    );
    rig.advance(8_000);
    rig.result(8_100, exit(0, ""));
    assert!(!rig.healthy(), "one success of two");
    rig.advance(10_000);
    rig.result(10_100, exit(0, ""));
    assert!(rig.healthy());
    assert_eq!(rig.notices.len(), 2);
    assert!(rig.notices[1].1.contains("passed 2 times in a row"));
}

#[test]
fn the_first_result_of_a_command_decides_at_once() {
    let mut rig = Rig::new(
        &track(&[], vec![CheckCommand::new("c")], &[]),
        &[vif(&["eth0"], 5)],
    );
    rig.result(
        5,
        CheckOutcome::CannotRun {
            error: "No such file or directory".into(),
        },
    );
    assert!(!rig.healthy());
    assert!(rig.notices[0].1.contains("failed its first run"));
    assert!(rig.notices[0]
        .1
        .contains("cannot be run: No such file or directory"));
    // The same error again is not logged again.
    for n in 1..5u64 {
        rig.advance(n * 2_000);
        rig.result(
            n * 2_000 + 5,
            CheckOutcome::CannotRun {
                error: "No such file or directory".into(),
            },
        );
    }
    assert_eq!(rig.notices.len(), 1);
    let status = command_status(&rig, 8_005);
    assert_eq!(status.state, State::Failing);
    assert_eq!(status.since, Duration::from_millis(8_000));
    assert_eq!(
        status.last_result,
        "cannot be run: No such file or directory"
    );
}

#[test]
fn a_time_out_counts_as_a_failure() {
    let check = CheckCommand {
        fall: 1,
        ..CheckCommand::new("sleep 60")
    };
    let mut rig = Rig::new(&track(&[], vec![check], &[]), &[vif(&["eth0"], 5)]);
    rig.result(0, exit(0, ""));
    rig.advance(2_000);
    rig.result(
        3_000,
        CheckOutcome::TimedOut {
            after: Duration::from_secs(1),
            output: String::new(),
        },
    );
    assert!(!rig.healthy());
    assert!(rig.notices[0].1.contains("timed out after 1s, killed"));
}

#[test]
fn hostile_or_huge_output_changes_nothing_but_the_bounded_text() {
    let check = CheckCommand {
        fall: 2,
        ..CheckCommand::new("c")
    };
    let mut rig = Rig::new(&track(&[], vec![check], &[]), &[vif(&["eth0"], 5)]);
    rig.result(0, exit(0, ""));
    let huge = format!(
        "\n\n  {}\u{1b}[31m\r\0{}\nsecond line",
        "é".repeat(3000),
        "x".repeat(10_000)
    );
    rig.advance(2_000);
    rig.result(2_001, exit(0, &huge));
    assert!(rig.healthy());
    let status = command_status(&rig, 2_001);
    let text = &status.last_result;
    assert_eq!(text.chars().count(), MAX_RESULT_CHARS + 1);
    assert!(text.starts_with("exit status 0: éé"));
    assert!(text.ends_with('…'));
    assert!(!text.chars().any(char::is_control));
    let line = bounded_line("\u{1b}[31mred\u{7}\tx");
    assert_eq!(line, "?[31mred??x");
    // A passing result with junk stays passing; a failure with junk is
    // one failure of two.
    rig.advance(4_000);
    rig.result(4_001, exit(2, &huge));
    assert!(rig.healthy());
    assert!(rig.notices.is_empty());
}

#[test]
fn the_drain_file_drains_while_it_exists() {
    let mut rig = Rig::new(
        &track(&[], vec![], &["/run/wackamole.drain"]),
        &[vif(&["eth0"], 5)],
    );
    assert_eq!(rig.file_checks, 1, "looked at once at start");
    assert_eq!(
        rig.machine.files(),
        vec![PathBuf::from("/run/wackamole.drain")]
    );
    rig.machine.file("/run/wackamole.drain", false, rig.at(1));
    rig.advance(999);
    assert_eq!(rig.file_checks, 1);
    rig.advance(1_000);
    assert_eq!(rig.file_checks, 2, "then every second");
    rig.machine
        .file("/run/wackamole.drain", true, rig.at(1_000));
    rig.stamp(rig.at(1_000));
    assert!(!rig.healthy());
    assert_eq!(rig.notices[0].1, "drain file /run/wackamole.drain exists");
    rig.machine
        .file("/run/wackamole.drain", false, rig.at(5_000));
    rig.advance(6_999);
    assert!(!rig.healthy());
    rig.advance(7_000);
    assert!(rig.healthy());
}

#[test]
fn a_reload_adds_removes_and_changes_trackers() {
    let vifs = [vif(&["eth0"], 5)];
    let slow = CheckCommand {
        fall: 1,
        ..CheckCommand::new("check")
    };
    let mut rig = Rig::new(&track(&["eth1"], vec![slow.clone()], &[]), &vifs);
    rig.machine.links_synced(rig.at(0));
    rig.link(0, "eth0", LinkState::Up);
    rig.link(0, "eth1", LinkState::NoCarrier);
    rig.result(0, exit(0, ""));
    assert!(!rig.healthy());
    // eth1 removed, eth3 added (already known up), the command's
    // interval changed: its state is kept.
    let fast = CheckCommand {
        interval: Duration::from_millis(500),
        timeout: Duration::from_millis(200),
        ..slow
    };
    rig.link(100, "eth3", LinkState::Up);
    let now = rig.at(5_000);
    rig.machine
        .reconfigure(&track(&["eth3"], vec![fast], &[]), now);
    rig.stamp(now);
    assert!(rig.healthy(), "the failing tracker is gone");
    assert!(rig
        .notices
        .iter()
        .any(|n| n.1 == "tracked interface eth1 no longer tracked"));
    let status = rig.machine.status(now);
    let listed: Vec<(&str, State)> = status
        .iter()
        .map(|s| (s.target.as_str(), s.state))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("eth3", State::Passing),
            ("eth0", State::Passing),
            ("check", State::Passing)
        ]
    );
    // The new interval applies to the next run.
    assert_eq!(rig.runs.len(), 1, "run due at 2 s started at 5 s");
    assert_eq!(rig.runs[0].2, Duration::from_millis(200));
}

#[test]
fn a_result_of_a_removed_command_is_dropped() {
    let vifs = [vif(&["eth0"], 5)];
    let mut rig = Rig::new(&track(&[], vec![CheckCommand::new("old")], &[]), &vifs);
    let (id, _, _) = rig.runs.pop().expect("a run");
    rig.machine
        .reconfigure(&track(&[], vec![CheckCommand::new("new")], &[]), rig.at(1));
    rig.machine.command_result(id, &exit(1, "late"), rig.at(2));
    rig.stamp(rig.at(2));
    assert!(rig.healthy());
    let status = command_status(&rig, 2);
    assert_eq!(
        (status.target.as_str(), status.state),
        ("new", State::Pending)
    );
}
