use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use super::check::{check, Exposition};
use super::*;
use crate::control::json::JsonMember;
use crate::control::json::{JsonNode, JsonRefused};
use crate::control::status_report::tests::{membership_status, sample_status};
use crate::control::status_report::{QuorumStatus, StatusReport};

/// The built-in membership below quorum: alone in a view of one, needing
/// two, holding nothing.
fn below_quorum() -> StatusReport {
    let mut status = membership_status();
    for vif in &mut status.vifs {
        vif.owner = None;
    }
    status.members.truncate(1);
    status.members[0].held = 0;
    status.quorum = Some(QuorumStatus {
        rule: "majority".to_string(),
        needed: 2,
        members: Some(1),
        met: false,
    });
    let membership = status.service.membership.as_mut().expect("a membership");
    let view = membership.view.as_mut().expect("a view");
    view.members.truncate(1);
    membership.nodes[1].state = "suspected".to_string();
    membership.nodes[1].last_heard_ms = Some(4_250);
    status
}

/// The built-in membership before any view: joining, nobody heard.
fn no_view() -> StatusReport {
    let mut status = below_quorum();
    status.state = "BOOT".to_string();
    status.mature = false;
    status.view_id = None;
    status.members.clear();
    status.service.state = "joining".to_string();
    status.quorum = Some(QuorumStatus {
        rule: "majority".to_string(),
        needed: 2,
        members: None,
        met: false,
    });
    let membership = status.service.membership.as_mut().expect("a membership");
    membership.view = None;
    membership.coordinator = None;
    membership.views_installed = 0;
    for node in membership.nodes.iter_mut().skip(1) {
        node.state = "unreachable".to_string();
        node.last_heard_ms = None;
    }
    status
}

/// Forty listed nodes in every state, with refusals, and a hundred VIFs.
fn many_peers() -> StatusReport {
    let mut status = membership_status();
    let states = ["in view", "reachable", "suspected", "unreachable"];
    let membership = status.service.membership.as_mut().expect("a membership");
    membership.nodes = (0..40u8)
        .map(|i| JsonNode {
            index: usize::from(i),
            address: Ipv4Addr::new(10, 1, 0, i + 1).to_string(),
            state: if i == 0 {
                "self"
            } else {
                states[usize::from(i) % 4]
            }
            .to_string(),
            incarnation: Some(1_714_566_800_000_000 + u64::from(i)),
            last_heard_ms: (i % 3 != 0).then_some(u64::from(i) * 1_001),
            key: None,
            refused: JsonRefused {
                malformed: u64::from(i),
                bad_mac: 0,
                wrong_cluster: 0,
                misdirected: 0,
                old_incarnation: 0,
                replayed: u64::MAX - u64::from(i),
            },
            links: Vec::new(),
            duplicates: 0,
        })
        .collect();
    membership.dropped_multicasts = 17;
    let vif = status.vifs[1].clone();
    status.vifs.extend(vec![vif; 98]);
    status
}

/// Every status the tests render, by name, as the client decodes them.
fn statuses() -> Vec<(&'static str, JsonStatus)> {
    let json = |status: StatusReport| {
        JsonStatus::decode(&status.to_json()).expect("our own document decodes")
    };
    let mut older = json(sample_status());
    older.service = None;
    older.quorum = None;
    vec![
        ("spread", json(sample_status())),
        ("membership", json(membership_status())),
        ("below quorum", json(below_quorum())),
        ("no view", json(no_view())),
        ("many peers", json(many_peers())),
        ("older daemon", older),
        ("hostile names", hostile()),
    ]
}

/// Names that need escaping, members named twice, states nobody knows.
fn hostile() -> JsonStatus {
    let mut status = sample_status().json();
    status.state = "NEW \"phase\"".to_string();
    let member = |name: &str, held| JsonMember {
        index: 0,
        name: name.to_string(),
        address: None,
        held,
        health: None,
        servable: None,
    };
    status.members = vec![
        member("quote\" back\\slash new\nline", 1),
        member("twice", 1),
        member("twice", 2),
    ];
    if let Some(service) = status.service.as_mut() {
        service.state = "on\nfire".to_string();
        service.error = Some("it broke".to_string());
    }
    status
}

/// Each family of `expected` has one sample, without labels, of that
/// value.
fn assert_unlabelled(m: &Exposition, expected: &[(&str, f64)]) {
    for &(name, value) in expected {
        assert_eq!(m.value(name, &[]), Some(value), "{name}");
        assert_eq!(m.of(name).len(), 1, "{name}");
    }
}

fn exposition(status: &JsonStatus) -> Exposition {
    let text = render(status);
    check(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn every_status_renders_a_valid_exposition() {
    for (name, status) in statuses() {
        let text = render(&status);
        let parsed = check(&text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
        assert!(parsed.samples.len() > 10, "{name}: {text}");
    }
}

#[test]
fn spread_status_shows_what_each_node_and_vif_holds() {
    let m = exposition(&sample_status().json());
    let vif = |index: &'static str, address: &'static str| [("vif", index), ("address", address)];
    assert_eq!(
        m.value("wackamole_vif_held", &vif("0", "10.0.0.5")),
        Some(1.0)
    );
    assert_eq!(
        m.value("wackamole_vif_held", &vif("1", "10.0.0.6")),
        Some(0.0)
    );
    assert_eq!(
        m.value("wackamole_vif_acquired", &vif("1", "10.0.0.6")),
        Some(0.0)
    );
    assert_eq!(
        m.value("wackamole_vif_claim_priority", &vif("0", "10.0.0.5")),
        Some(5.0)
    );
    let owners = m.of("wackamole_vif_owner_info");
    assert_eq!(owners.len(), 1, "only the acquired VIF has an owner");
    assert!(owners[0]
        .labels
        .contains(&("owner".to_string(), "192.168.1.10".to_string())));
    assert_unlabelled(
        &m,
        &[
            ("wackamole_vifs", 2.0),
            ("wackamole_vifs_acquired", 1.0),
            ("wackamole_vifs_held", 1.0),
            ("wackamole_view_members", 2.0),
            ("wackamole_mature", 1.0),
            ("wackamole_quorum_met", 1.0),
            ("wackamole_quorum_members", 2.0),
        ],
    );
    assert_eq!(
        m.value("wackamole_quorum_needed", &[("rule", "none")]),
        Some(0.0)
    );
    let held = |member, node| {
        m.value(
            "wackamole_member_vifs_held",
            &[("member", member), ("node", node)],
        )
    };
    assert_eq!(held("#wack123#node1", "192.168.1.10"), Some(1.0));
    assert_eq!(held("#wack456#node2", ""), Some(0.0));
    for (phase, value) in [
        ("BOOT", 0.0),
        ("GATHER", 0.0),
        ("RUN", 1.0),
        ("DISCONNECTED", 0.0),
    ] {
        assert_eq!(m.value("wackamole_state", &[("state", phase)]), Some(value));
    }
    let service = |state| {
        m.value(
            "wackamole_service_state",
            &[("service", "spread"), ("state", state)],
        )
    };
    assert_eq!(service("connected"), Some(1.0));
    assert_eq!(service("refused"), Some(0.0));
    assert_eq!(
        m.value("wackamole_service_error", &[("service", "spread")]),
        Some(0.0)
    );
    let info = m.of("wackamole_info");
    assert_eq!(info.len(), 1);
    assert!(info[0]
        .labels
        .contains(&("endpoint".to_string(), "unix:/var/run/4803".to_string())));
    assert!(
        !m.families
            .keys()
            .any(|f| f.starts_with("wackamole_membership_")),
        "Spread has no membership metrics"
    );
}

#[test]
fn the_membership_shows_its_view_peers_and_refusals() {
    let m = exposition(&membership_status().json());
    let node = |address| [("node", address)];
    let peer = |address, state| {
        m.value(
            "wackamole_membership_peer_state",
            &[("node", address), ("state", state)],
        )
    };
    assert_eq!(peer("192.168.1.10", "self"), Some(1.0));
    assert_eq!(peer("192.168.1.11", "in view"), Some(1.0));
    assert_eq!(peer("192.168.1.11", "suspected"), Some(0.0));
    assert_eq!(peer("192.168.1.12", "unreachable"), Some(1.0));
    let heard = "wackamole_membership_peer_last_heard_seconds";
    assert_eq!(m.value(heard, &node("192.168.1.11")), Some(0.012));
    assert_eq!(m.value(heard, &node("192.168.1.12")), None, "never heard");
    let blamed = |address, reason| {
        m.value(
            "wackamole_membership_peer_refused_datagrams_total",
            &[("node", address), ("reason", reason)],
        )
    };
    assert_eq!(blamed("192.168.1.12", "replayed"), Some(1.0));
    assert_eq!(blamed("192.168.1.12", "bad_mac"), Some(0.0));
    let refused = |reason| {
        m.value(
            "wackamole_membership_refused_datagrams_total",
            &[("reason", reason)],
        )
    };
    assert_eq!(refused("bad_mac"), Some(3.0));
    assert_eq!(refused("malformed"), Some(0.0));
    assert_eq!(
        m.of("wackamole_membership_refused_datagrams_total").len(),
        6
    );
    assert_unlabelled(
        &m,
        &[
            ("wackamole_membership_in_view", 1.0),
            ("wackamole_membership_view_members", 2.0),
            ("wackamole_membership_changing_view", 0.0),
            ("wackamole_membership_views_installed_total", 2.0),
            ("wackamole_membership_dropped_multicasts_total", 0.0),
            (
                "wackamole_membership_join_time_seconds",
                1_714_566_896.000_001,
            ),
            ("wackamole_quorum_met", 1.0),
        ],
    );
    let text = render(&membership_status().json());
    assert!(text.contains("wackamole_membership_join_time_seconds 1714566896.000001\n"));
    assert_eq!(
        m.value(
            "wackamole_membership_coordinator_info",
            &node("192.168.1.10")
        ),
        Some(1.0)
    );
    let state = |s| {
        m.value(
            "wackamole_service_state",
            &[("service", "membership"), ("state", s)],
        )
    };
    assert_eq!(state("in view"), Some(1.0));
    assert_eq!(state("not answering"), Some(0.0));
}

#[test]
fn below_quorum_and_without_a_view_the_gauges_say_so() {
    let m = exposition(&below_quorum().json());
    assert_eq!(m.value("wackamole_quorum_met", &[]), Some(0.0));
    assert_eq!(m.value("wackamole_quorum_members", &[]), Some(1.0));
    assert_eq!(
        m.value("wackamole_quorum_needed", &[("rule", "majority")]),
        Some(2.0)
    );
    assert_eq!(m.value("wackamole_vifs_held", &[]), Some(0.0));
    assert_eq!(m.value("wackamole_membership_view_members", &[]), Some(1.0));
    assert!(m.of("wackamole_vif_owner_info").is_empty());
    let heard = "wackamole_membership_peer_last_heard_seconds";
    assert_eq!(m.value(heard, &[("node", "192.168.1.11")]), Some(4.25));

    let m = exposition(&no_view().json());
    assert_unlabelled(
        &m,
        &[
            ("wackamole_membership_in_view", 0.0),
            ("wackamole_membership_view_members", 0.0),
            ("wackamole_membership_views_installed_total", 0.0),
            ("wackamole_quorum_members", 0.0),
            ("wackamole_quorum_met", 0.0),
            ("wackamole_view_members", 0.0),
            ("wackamole_mature", 0.0),
        ],
    );
    assert_eq!(m.value("wackamole_state", &[("state", "BOOT")]), Some(1.0));
    assert!(!m
        .families
        .contains_key("wackamole_membership_coordinator_info"));
    assert!(!m
        .families
        .contains_key("wackamole_membership_peer_last_heard_seconds"));
    assert!(!m.families.contains_key("wackamole_member_vifs_held"));
}

#[test]
fn many_peers_each_have_their_series() {
    let m = exposition(&many_peers().json());
    assert_eq!(m.of("wackamole_membership_peer_state").len(), 40 * 5);
    assert_eq!(
        m.of("wackamole_membership_peer_refused_datagrams_total")
            .len(),
        40 * 6
    );
    assert_eq!(m.of("wackamole_vif_held").len(), 100);
    let replayed = m.value(
        "wackamole_membership_peer_refused_datagrams_total",
        &[("node", "10.1.0.1"), ("reason", "replayed")],
    );
    assert_eq!(replayed, Some(u64::MAX as f64));
    let text = render(&many_peers().json());
    assert!(text.contains(&format!(",reason=\"replayed\"}} {}\n", u64::MAX)));
}

#[test]
fn label_values_are_escaped_and_series_given_once() {
    let status = hostile();
    let text = render(&status);
    assert!(
        text.contains(r#"member="quote\" back\\slash new\nline""#),
        "{text}"
    );
    let m = exposition(&status);
    let held = m.of("wackamole_member_vifs_held");
    assert_eq!(held.len(), 2, "a member listed twice is one series");
    assert_eq!(held[0].labels[0].1, "quote\" back\\slash new\nline");
    assert_eq!(held[1].value, 1.0, "the first listing counts");
    // States nobody knows are shown, as the current one.
    assert_eq!(
        m.value("wackamole_state", &[("state", "NEW \"phase\"")]),
        Some(1.0)
    );
    assert_eq!(m.value("wackamole_state", &[("state", "RUN")]), Some(0.0));
    let service = [("service", "spread"), ("state", "on\nfire")];
    assert_eq!(m.value("wackamole_service_state", &service), Some(1.0));
    assert_eq!(
        m.value("wackamole_service_error", &[("service", "spread")]),
        Some(1.0)
    );
    // A daemon that predates the service and quorum fields.
    let mut older = sample_status().json();
    older.service = None;
    older.quorum = None;
    let m = exposition(&older);
    assert!(!m.families.contains_key("wackamole_quorum_met"));
    assert_eq!(
        m.of("wackamole_info")[0].labels[1],
        ("service".to_string(), String::new())
    );
}

#[test]
fn the_checker_refuses_what_prometheus_would_not_take() {
    let good = "# HELP wackamole_x An x.\n# TYPE wackamole_x gauge\nwackamole_x{a=\"1\"} 2\n";
    assert!(check(good).is_ok());
    let cases = [
        (good.trim_end(), "newline"),
        ("wackamole_x 1\n", "before its HELP and TYPE"),
        ("# HELP wackamole_x X.\nwackamole_x 1\n", "before its HELP and TYPE"),
        (&format!("{good}# HELP wackamole_x again\n"), "HELP twice"),
        (&format!("{good}# TYPE wackamole_x gauge\n"), "TYPE twice"),
        (&format!("{good}wackamole_x{{a=\"1\"}} 3\n"), "series given twice"),
        (
            &format!("{good}# HELP wackamole_y Y.\n# TYPE wackamole_y gauge\nwackamole_y 1\nwackamole_x 1\n"),
            "appears again",
        ),
        ("# HELP wackamole_c C.\n# TYPE wackamole_c counter\nwackamole_c 1\n", "_total"),
        ("# HELP wackamole_c_total C.\n# TYPE wackamole_c_total gauge\nwackamole_c_total 1\n", "_total"),
        ("# HELP wackamole_c_total C.\n# TYPE wackamole_c_total counter\nwackamole_c_total -1\n", "below zero"),
        ("# HELP wackamole_x X.\n# TYPE wackamole_x gauge\nwackamole_x one\n", "not a float"),
        ("# HELP wackamole_x X.\n# TYPE wackamole_x gauge\nwackamole_x 1e\n", "not a float"),
        ("# HELP wackamole_x X.\n# TYPE wackamole_x gauge\nwackamole_x inf\n", "not a float"),
        ("# HELP wackamole_x X.\n# TYPE wackamole_x gauge\nwackamole_x{1a=\"v\"} 1\n", "label name"),
        ("# HELP wackamole_x X.\n# TYPE wackamole_x gauge\nwackamole_x{__a=\"v\"} 1\n", "label name"),
        ("# HELP wackamole_x X.\n# TYPE wackamole_x gauge\nwackamole_x{a=\"v\",a=\"w\"} 1\n", "twice"),
        ("# HELP wackamole_x X.\n# TYPE wackamole_x gauge\nwackamole_x{a=\"\\t\"} 1\n", "escape"),
        ("# HELP wackamole_x X.\n# TYPE wackamole_x gauge\nwackamole_x{a=\"v} 1\n", "unterminated"),
        ("# HELP wackamole_x X.\n# TYPE wackamole_x gauge\nwackamole_x{a=\"v\",} 1\n", "label"),
        ("# HELP wackamole_x X.\n# TYPE wackamole_x gauge\nwackamole_x  1\n", "not a float"),
        ("# HELP wackamole_x X \\q.\n# TYPE wackamole_x gauge\nwackamole_x 1\n", "escape"),
        ("# HELP wackamole_x X.\n# TYPE wackamole_x summary\nwackamole_x 1\n", "expected gauge"),
        ("# HELP wackamole_x X.\n# TYPE wackamole_x gauge\n", "no samples"),
        ("# HELP x-y X.\n", "metric name"),
        ("# HELP other_x X.\n", "prefix"),
        ("# a comment\n", "comment"),
        ("\n", "without a value"),
    ];
    for (text, gist) in cases {
        let err = check(text).expect_err(text);
        assert!(err.contains(gist), "{text:?}: {err}");
    }
}

/// Prometheus's own checker, when installed (Debian's `prometheus`
/// package, or WACKAMOLE_PROMTOOL naming the binary).
fn promtool() -> Option<String> {
    if let Ok(path) = std::env::var("WACKAMOLE_PROMTOOL") {
        return Some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("promtool"))
        .find(|candidate| candidate.is_file())
        .map(|found| found.display().to_string())
}

/// promtool's verdict on `text`: its complaints, if any.
fn promtool_verdict(promtool: &str, text: &str) -> Result<(), String> {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {promtool}: {e}"));
    let mut stdin = child.stdin.take().expect("promtool's stdin");
    std::io::Write::write_all(&mut stdin, text.as_bytes()).expect("feed promtool");
    drop(stdin);
    let out = child.wait_with_output().expect("promtool finishes");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && said.trim().is_empty() {
        Ok(())
    } else {
        Err(format!("promtool exit {:?}: {said}", out.status.code()))
    }
}

#[test]
fn promtool_agrees_when_installed() {
    let Some(promtool) = promtool() else {
        eprintln!(
            "promtool is not installed: the expositions were checked by the built-in \
             checker only (set WACKAMOLE_PROMTOOL or install Debian's prometheus)"
        );
        return;
    };
    // Its verdict counts only if it can fail.
    let bad = "# HELP wackamole_c C.\n# TYPE wackamole_c counter\nwackamole_c 1\n";
    assert!(
        promtool_verdict(&promtool, bad).is_err(),
        "promtool took {bad:?}"
    );
    for (name, status) in statuses() {
        let text = render(&status);
        if let Err(e) = promtool_verdict(&promtool, &text) {
            panic!("{name}: {e}\n{text}");
        }
    }
}

#[test]
fn every_family_is_documented() {
    let readme = include_str!("../../../README.md");
    let page = include_str!("../../../etc/man/wackatrl.8");
    let mut families = std::collections::BTreeSet::new();
    for (_, status) in statuses() {
        families.extend(exposition(&status).families.into_keys());
    }
    assert!(families.len() > 20, "{families:?}");
    for family in families {
        assert!(
            readme.contains(&format!("`{family}`")),
            "README.md: {family}"
        );
        assert!(page.contains(&family), "wackatrl.8: {family}");
    }
}
