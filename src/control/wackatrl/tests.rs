//! Tests of what `wackatrl` does, against fake daemons (the daemon's own
//! side is in the server's tests).

use super::*;
use crate::control::client::tests::{fake_daemon, reply};
use crate::control::status_report::tests::sample_status;
use crate::control::wire::{encode_state, RequestKind};
use crate::testutil::TempDir;
use std::io::Read;
use std::os::unix::net::UnixListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// An original daemon does not know request 3 and hangs up; the
/// listing then asks for the original state reply. A daemon that
/// answers request 3 with something that is not our document is an
/// error.
#[test]
fn the_listing_falls_back_to_the_state_reply_only_when_json_is_not_answered() {
    let dir = TempDir::new("original-control");
    let path = dir.path().join("control");
    let listener = UnixListener::bind(&path).expect("bind the fake daemon");
    let daemon = thread::spawn(move || {
        let mut asked = Vec::new();
        for _ in 0..2 {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut request = [0u8; 1];
            stream.read_exact(&mut request).expect("the request byte");
            asked.push(request[0]);
            if RequestKind::from_byte(request[0]) == Some(RequestKind::State) {
                let reply = encode_state(&sample_status().state_reply());
                stream.write_all(&reply).expect("the state reply");
            }
        }
        asked
    });
    let mut out = Vec::new();
    run(&path, Action::List, false, &mut out).expect("the listing");
    assert_eq!(daemon.join().expect("the fake daemon"), [3, 0]);
    let expected = render_listing(&sample_status().state_reply());
    assert_eq!(String::from_utf8_lossy(&out), expected);

    let not_ours = b"{\"state\":7}";
    let (_dir, path, daemon) = fake_daemon(reply(not_ours.len() as u32, not_ours));
    let outcome = run(&path, Action::List, false, &mut Vec::new());
    daemon.join().expect("the fake daemon");
    match outcome {
        Err(ControlError::BadReply(why)) => assert!(why.contains("state"), "{why}"),
        other => panic!("{other:?}"),
    }
}

/// Standard output whose reader is gone, or that fails otherwise.
struct FailingOut(std::io::ErrorKind);

impl Write for FailingOut {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(self.0.into())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_reader_gone_ends_the_output_quietly_and_other_failures_are_errors() {
    let document = b"{\"state\":\"running\"}";
    for (kind, fails) in [
        (std::io::ErrorKind::BrokenPipe, false),
        (std::io::ErrorKind::PermissionDenied, true),
    ] {
        let (_dir, path, daemon) = fake_daemon(reply(document.len() as u32, document));
        let outcome = run(&path, Action::List, true, &mut FailingOut(kind));
        daemon.join().expect("the fake daemon");
        assert_eq!(outcome.is_err(), fails, "{kind:?}: {outcome:?}");
    }
}

/// What `wackatrl -l --json` does against a daemon answering `reply`,
/// on a thread of its own so that a client that never returns fails
/// the test instead of hanging it.
fn wackatrl_json(reply: Vec<u8>) -> Result<String, ControlError> {
    let (_dir, path, daemon) = fake_daemon(reply);
    let (done, result) = mpsc::channel();
    thread::spawn(move || {
        let mut out = Vec::new();
        let outcome = run(&path, Action::List, true, &mut out);
        let _ = done.send(outcome.map(|()| String::from_utf8_lossy(&out).into_owned()));
    });
    let outcome = result
        .recv_timeout(Duration::from_secs(20))
        .expect("wackatrl --json returns");
    daemon.join().expect("the fake daemon");
    outcome
}

#[test]
fn json_replies_that_once_broke_the_client_are_refused() {
    // An unknown member without a value aborted the client; an
    // unclosed array after one made it spin forever.
    for body in [&b"{\"\":"[..], b"{\"\":[", b"{\"\":[[[[", b"{\"a\":1}x"] {
        match wackatrl_json(reply(body.len() as u32, body)) {
            Err(ControlError::BadReply(why)) => assert!(why.contains("at byte"), "{why}"),
            other => panic!("{body:?}: {other:?}"),
        }
    }
}

#[test]
fn json_reply_is_printed_as_received() {
    let document = sample_status().to_json();
    let printed = wackatrl_json(reply(document.len() as u32, document.as_bytes()));
    assert_eq!(printed.expect("a well-formed reply"), document + "\n");
    let unknown = r#"{"state":"RUN","later":{"x":[1,2,{"y":null}]}}"#;
    let printed = wackatrl_json(reply(unknown.len() as u32, unknown.as_bytes()));
    assert_eq!(
        printed.expect("unknown fields pass"),
        format!("{unknown}\n")
    );
}
