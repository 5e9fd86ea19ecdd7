//! Tests of the connection to the control socket and of the renderers.

use super::*;
use crate::control::status_report::tests::sample_status;
use crate::testutil::{allocations, TempDir};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;

/// A fake daemon that reads one request byte, lets `answer` write to
/// the connection, and closes.
pub(crate) fn fake_daemon_with(
    answer: impl FnOnce(&mut UnixStream) + Send + 'static,
) -> (TempDir, PathBuf, thread::JoinHandle<()>) {
    let dir = TempDir::new("fake-control");
    let path = dir.path().join("control");
    let listener = UnixListener::bind(&path).expect("bind the fake daemon");
    let daemon = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut request = [0u8; 1];
        stream.read_exact(&mut request).expect("the request byte");
        answer(&mut stream);
    });
    (dir, path, daemon)
}

/// A fake daemon that answers one request with `reply` and closes.
pub(crate) fn fake_daemon(reply: Vec<u8>) -> (TempDir, PathBuf, thread::JoinHandle<()>) {
    // The client may close first when it refuses the reply.
    fake_daemon_with(move |stream| drop(stream.write_all(&reply)))
}

#[test]
fn a_daemon_trickling_its_reply_is_given_up_on_at_the_deadline() {
    // A long reply announced, then one byte every 50 ms: each read
    // returns well within any per-read time-out.
    let (_dir, path, daemon) = fake_daemon_with(|stream| {
        let _ = stream.write_all(&(1u32 << 20).to_be_bytes());
        while stream.write_all(b" ").is_ok() {
            thread::sleep(std::time::Duration::from_millis(50));
        }
    });
    let (done, result) = mpsc::channel();
    thread::spawn(move || {
        let outcome = ControlClient::connect(&path, std::time::Duration::from_millis(500))
            .and_then(|mut client| client.json_status());
        let _ = done.send(outcome);
    });
    let outcome = result
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the client gives up instead of reading for ever");
    assert!(
        matches!(outcome, Err(ControlError::TimedOut(_))),
        "{outcome:?}"
    );
    daemon.join().expect("the fake daemon");
}

/// A reply of `body` announced as `announced` bytes long.
pub(crate) fn reply(announced: u32, body: &[u8]) -> Vec<u8> {
    let mut bytes = announced.to_be_bytes().to_vec();
    bytes.extend_from_slice(body);
    bytes
}

#[test]
fn the_listing_decodes_only_checked_documents_and_survives_strange_ones() {
    // Malformed: refused by the grammar check, naming the byte.
    for text in ["{\"\":", "{\"\":[", "{\"vifs\":[}", "{\"a\":1}x"] {
        match decode_status(text) {
            Err(ControlError::BadReply(why)) => assert!(why.contains(": byte "), "{why}"),
            other => panic!("{text:?}: {other:?}"),
        }
    }
    // Well-formed but not ours: unknown members holding every kind of
    // value, nested, escaped and in exponent form. An error is fine;
    // a panic or a hang is not.
    let deep = format!("{}{}", "[".repeat(60), "]".repeat(60));
    let strange = [
        "{}".to_string(),
        "{\"x\":{\"y\":[1,-2.5e-3,true,false,null,\"a\\\"b\\u00e9\"]},\"vifs\":[]}".to_string(),
        format!("{{\"x\":{deep}}}"),
        "{\"state\":\"RUN\",\"vifs\":{\"not\":\"an array\"}}".to_string(),
        "{\"vifs\":[{\"index\":\"zero\"}]}".to_string(),
    ];
    for text in &strange {
        let _ = decode_status(text);
    }
    // Our own document decodes.
    let ours = crate::control::status_report::tests::sample_status().to_json();
    assert!(decode_status(&ours).is_ok());
}

#[test]
fn announced_lengths_are_not_allocated_before_the_bytes_arrive() {
    let most = [MAX_JSON_LEN, MAX_STATE_LEN];
    for (kind, announced) in [RequestKind::JsonStatus, RequestKind::State]
        .into_iter()
        .zip(most)
    {
        let (_dir, path, daemon) = fake_daemon(reply(announced as u32, &[b'{'; 100]));
        let mut client = ControlClient::connect(&path, DEFAULT_TIMEOUT).expect("connect");
        let (outcome, largest) = allocations::largest_during(|| match kind {
            RequestKind::State => client.state().map(|_| ()),
            _ => client.json_status().map(|_| ()),
        });
        daemon.join().expect("the fake daemon");
        assert!(
            matches!(outcome, Err(ControlError::Truncated(_))),
            "{outcome:?}"
        );
        assert!(largest < 64 << 10, "{kind:?}: allocated {largest} bytes");
    }
    // One byte over the limit is refused before anything is read.
    let (_dir, path, daemon) = fake_daemon(reply(MAX_JSON_LEN as u32 + 1, b""));
    let mut client = ControlClient::connect(&path, DEFAULT_TIMEOUT).expect("connect");
    assert!(matches!(
        client.json_status(),
        Err(ControlError::BadReply(_))
    ));
    daemon.join().expect("the fake daemon");
}

#[test]
fn a_long_reply_arrives_whole() {
    let mut status = sample_status();
    let vif = status.vifs[0].clone();
    status.vifs = vec![vif; 3000];
    let bytes = super::super::wire::encode_state(&status.state_reply());
    let (_dir, path, daemon) = fake_daemon(bytes);
    let mut client = ControlClient::connect(&path, DEFAULT_TIMEOUT).expect("connect");
    assert_eq!(client.state().expect("the state"), status.state_reply());
    daemon.join().expect("the fake daemon");
}

#[test]
fn listing_matches_the_original_format() {
    let text = render_listing(&sample_status().state_reply());
    assert_eq!(
        text,
        "Owner: 192.168.1.10\n\
         \t*    eth0:10.0.0.5/24\n\
         \t ->  eth1:192.0.2.5/32\n\
         Owner: not acquired\n\
         \t*    eth0:10.0.0.6/24\n"
    );
}

#[test]
fn ipv6_addresses_are_listed_in_their_usual_form() {
    let mut status = sample_status();
    status.vifs[1].addresses.push(crate::base::VifAddress {
        interface: "eth0".into(),
        addr: "2001:db8::6".parse().unwrap(),
        prefix_len: 64,
        network_len: 64,
    });
    let reply = state_from_json(&status.json()).unwrap();
    assert_eq!(reply, {
        let mut expected = status.state_reply();
        expected.vifs[1].addresses[1].prefix_len = 64;
        expected
    });
    assert_eq!(
        render_listing(&reply),
        "Owner: 192.168.1.10\n\
         \t*    eth0:10.0.0.5/24\n\
         \t ->  eth1:192.0.2.5/32\n\
         Owner: not acquired\n\
         \t*    eth0:10.0.0.6/24\n\
         \t ->  eth0:2001:db8::6/64\n"
    );
}

#[test]
fn long_interface_names_are_not_cut() {
    let mut status = sample_status();
    status.vifs.truncate(1);
    status.vifs[0].addresses.truncate(1);
    status.vifs[0].addresses[0].interface = "bond0.100".to_string();
    assert_eq!(
        render_listing(&status.state_reply()),
        "Owner: 192.168.1.10\n\t*   bond0.100:10.0.0.5/24\n"
    );
}

#[test]
fn the_listing_marks_members_that_are_not_healthy() {
    let mut status = sample_status();
    status.members[0].health = "partial".to_string();
    status.members[0].servable = Some(1);
    status.members[1].address = Some("192.168.1.11".parse().unwrap());
    status.members[1].health = "unhealthy".to_string();
    status.members[1].servable = Some(0);
    let json = status.json();
    let marks = health_marks(&json);
    assert_eq!(marks.len(), 2, "{marks:?}");
    assert_eq!(
        render_marked(&state_from_json(&json).unwrap(), &marks),
        "Owner: 192.168.1.10 (partial: 1 of 2 VIFs servable)\n\
         \t*    eth0:10.0.0.5/24\n\
         \t ->  eth1:192.0.2.5/32\n\
         Owner: not acquired\n\
         \t*    eth0:10.0.0.6/24\n\
         Member #wack123#node1 (192.168.1.10): partial: 1 of 2 VIFs servable\n\
         Member #wack456#node2 (192.168.1.11): unhealthy\n"
    );
    status.members[0].health = "healthy".to_string();
    status.members[1].health = "unknown".to_string();
    assert!(health_marks(&status.json()).is_empty());
}
