use super::*;

const TIME: &str = "2024-05-01T12:34:56.789Z";

fn address(text: &str, prefix_len: u8) -> VifAddress {
    let (interface, addr) = text.split_once(':').expect("IF:ADDR");
    VifAddress {
        interface: interface.to_string(),
        addr: addr.parse().expect("an address"),
        prefix_len,
        network_len: prefix_len,
    }
}

fn record(item: WatchItem) -> WatchRecord {
    WatchRecord {
        time: TIME.to_string(),
        item,
        suppressed: 0,
    }
}

fn event(event: WatchEvent) -> WatchRecord {
    record(WatchItem::Event(event))
}

/// Every kind of line, with its text rendering.
pub(crate) fn every_kind() -> Vec<(WatchRecord, &'static str)> {
    let addresses = vec![
        address("eth0:10.0.0.5", 24),
        address("eth1:2001:db8::5", 64),
    ];
    let refused = WatchEvent::RefusedDatagram {
        reason: RefusalReason::BadMac,
        source: "192.168.1.12:4810".parse().expect("a socket address"),
    };
    vec![
        (record(WatchItem::Watching), "watching"),
        (
            event(WatchEvent::View {
                members: vec!["192.168.1.10/17".into(), "192.168.1.11/18".into()],
            }),
            "view: 2 members: 192.168.1.10/17 192.168.1.11/18",
        ),
        (
            event(WatchEvent::View { members: vec![] }),
            "view: none (out of the group)",
        ),
        (
            event(WatchEvent::Acquired {
                vif: 0,
                addresses: addresses.clone(),
                reason: MoveReason::MemberLeft,
            }),
            "acquired VIF 0 eth0:10.0.0.5/24 eth1:2001:db8::5/64 (a member left)",
        ),
        (
            event(WatchEvent::Released {
                vif: 3,
                addresses: addresses[..1].to_vec(),
                reason: MoveReason::Tracker("uplink".into()),
            }),
            "released VIF 3 eth0:10.0.0.5/24 (tracker uplink)",
        ),
        (
            event(WatchEvent::Released {
                vif: 1,
                addresses: vec![],
                reason: MoveReason::Quorum,
            }),
            "released VIF 1 (below quorum)",
        ),
        (
            event(WatchEvent::QuorumMet {
                members: 2,
                needed: 2,
            }),
            "quorum met: 2 members, 2 needed",
        ),
        (
            event(WatchEvent::QuorumLost {
                members: 1,
                needed: 2,
            }),
            "quorum lost: 1 member, 2 needed",
        ),
        (
            WatchRecord {
                suppressed: 41,
                ..event(refused)
            },
            "refused a datagram from 192.168.1.12:4810: failed authentication (41 more not shown)",
        ),
        (
            record(WatchItem::End {
                cause: EndCause::FellBehind,
                reason: "fell behind".into(),
            }),
            "watch ended: fell behind",
        ),
    ]
}

#[test]
fn every_line_round_trips_and_reads_as_text() {
    for (record, text) in every_kind() {
        let line = record.to_line();
        assert!(
            line.ends_with('\n') && !line[..line.len() - 1].contains('\n'),
            "{line}"
        );
        let decoded = WatchRecord::decode(line.trim_end()).expect(&line);
        assert_eq!(decoded, record, "{line}");
        assert_eq!(record.to_string(), format!("{TIME} {text}"));
    }
}

#[test]
fn lines_are_the_documented_json() {
    let (acquired, _) = every_kind().swap_remove(3);
    assert_eq!(
        acquired.to_line(),
        concat!(
            r#"{"time":"2024-05-01T12:34:56.789Z","event":"acquired","vif":0,"addresses":["#,
            r#"{"interface":"eth0","family":"ipv4","address":"10.0.0.5","prefix_len":24,"network_len":24,"netmask":"255.255.255.0","broadcast":"10.0.0.255"},"#,
            r#"{"interface":"eth1","family":"ipv6","address":"2001:db8::5","prefix_len":64,"network_len":64,"netmask":null,"broadcast":null}],"#,
            r#""reason":"member_left"}"#,
            "\n"
        )
    );
    let (tracker, _) = every_kind().swap_remove(4);
    assert!(tracker
        .to_line()
        .contains(r#""reason":"tracker","tracker":"uplink"}"#));
    let (lost, _) = every_kind().swap_remove(7);
    assert_eq!(
        lost.to_line(),
        "{\"time\":\"2024-05-01T12:34:56.789Z\",\"event\":\"quorum_lost\",\"member_count\":1,\"needed\":2}\n"
    );
    let (refused, _) = every_kind().swap_remove(8);
    assert!(refused.to_line().contains(
        r#""event":"refused_datagram","reason":"bad_mac","source":"192.168.1.12:4810","suppressed":41}"#
    ));
    let end = record(WatchItem::End {
        cause: EndCause::Stopping,
        reason: "wackamole is stopping".into(),
    });
    assert_eq!(
        end.to_line(),
        "{\"time\":\"2024-05-01T12:34:56.789Z\",\"event\":\"end\",\"reason\":\"wackamole is stopping\",\"end\":\"stopping\"}\n"
    );
}

#[test]
fn unknown_events_and_fields_from_newer_daemons_pass() {
    let line = r#"{"time":"T","event":"lease_renewed","later":{"x":[1]}}"#;
    let record = WatchRecord::decode(line).expect("an unknown event");
    assert_eq!(record.item, WatchItem::Unknown("lease_renewed".into()));
    assert_eq!(
        record.to_string(),
        "T lease_renewed (an event this wackatrl does not know)"
    );
    let line = r#"{"time":"T","event":"quorum_met","member_count":3,"needed":2,"rule":"majority"}"#;
    assert_eq!(
        WatchRecord::decode(line).expect("an extra field").item,
        WatchItem::Event(WatchEvent::QuorumMet {
            members: 3,
            needed: 2
        })
    );
}

#[test]
fn lines_that_do_not_fit_are_named_by_their_field() {
    let cases = [
        (r#"{"event":"watching"}"#, "time: expected the field"),
        (
            r#"{"time":"T","event":"view"}"#,
            "members: expected the field",
        ),
        (
            r#"{"time":"T","event":"acquired","vif":0,"addresses":[],"reason":"whim"}"#,
            "reason: expected a reason",
        ),
        (
            r#"{"time":"T","event":"released","vif":0,"addresses":[],"reason":"tracker"}"#,
            "tracker: expected the field",
        ),
        (
            r#"{"time":"T","event":"released","vif":-1,"addresses":[],"reason":"balance"}"#,
            "vif: expected a count",
        ),
        (
            r#"{"time":"T","event":"acquired","vif":0,"reason":"balance","addresses":[{"interface":"eth0","address":"10.0.0.300","prefix_len":24,"network_len":24}]}"#,
            "addresses[0].address: expected an IP address",
        ),
        (
            r#"{"time":"T","event":"refused_datagram","reason":"bad_mac","source":"10.0.0.1"}"#,
            "source: expected ADDRESS:PORT",
        ),
        (
            r#"{"time":"T","event":"refused_datagram","reason":"rude","source":"10.0.0.1:1"}"#,
            "reason: expected a reason",
        ),
        (
            r#"{"time":"T","event":"end","end":"bored","reason":"x"}"#,
            "end: expected an end",
        ),
        (r#"{"time":"T","event":"view","members":["a"]"#, "byte"),
        ("[]", "byte 0"),
    ];
    for (line, message) in cases {
        let err = WatchRecord::decode(line).expect_err(line);
        assert!(err.to_string().contains(message), "{line}: {err}");
    }
}

#[test]
fn text_from_the_daemon_cannot_steer_the_terminal() {
    let record = WatchRecord {
        time: "T\u{1b}[2J".into(),
        item: WatchItem::Event(WatchEvent::View {
            members: vec!["evil\r\nname".into()],
        }),
        suppressed: 0,
    };
    let text = record.to_string();
    assert!(!text.chars().any(char::is_control), "{text:?}");
    assert_eq!(text, "T\\u{1b}[2J view: 1 member: evil\\r\\nname");
    assert_eq!(
        WatchRecord::decode(record.to_line().trim_end()).expect("it travels"),
        record
    );
}

#[test]
fn any_text_travels_unchanged() {
    let every_control: String = (0u8..0x20)
        .map(char::from)
        .chain(['\u{7f}', '"', '\\', '/', 'é', '\u{2028}', '😀'])
        .collect();
    let record = WatchRecord {
        time: every_control.clone(),
        item: WatchItem::Event(WatchEvent::Released {
            vif: usize::MAX,
            addresses: vec![],
            reason: MoveReason::Tracker(every_control.clone()),
        }),
        suppressed: u64::MAX,
    };
    let line = record.to_line();
    assert_eq!(line.matches('\n').count(), 1, "{line:?}");
    assert_eq!(
        WatchRecord::decode(line.trim_end()).expect("it travels"),
        record
    );
}

#[test]
fn every_event_reason_and_end_is_documented() {
    let readme = include_str!("../../../README.md");
    let page = include_str!("../../../etc/man/wackatrl.8");
    let mut names: Vec<String> = every_kind()
        .iter()
        .map(|(record, _)| {
            let line = record.to_line();
            let at = line.find("\"event\":\"").expect("an event") + 9;
            line[at..].split('"').next().expect("its name").to_string()
        })
        .collect();
    names.extend(MoveReason::NAMES.iter().map(|n| n.to_string()));
    names.extend(RefusalReason::ALL.iter().map(|r| r.name().to_string()));
    let ends = [
        EndCause::Stopping,
        EndCause::FellBehind,
        EndCause::TooManyWatchers,
        EndCause::BadRequest,
    ];
    names.extend(ends.iter().map(|e| e.name().to_string()));
    for name in names {
        assert!(readme.contains(&format!("`{name}`")), "README.md: {name}");
        // In bold: on a `.B`, `.BR` or `.RB` line, as a word of its own.
        let bold_request = |l: &&str| [".B ", ".BR ", ".RB "].iter().any(|r| l.starts_with(r));
        let in_bold = page.lines().filter(bold_request).any(|l| {
            l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|word| word == name)
        });
        assert!(in_bold, "wackatrl.8: {name}");
    }
}
