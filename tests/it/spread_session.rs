//! The session against daemons that misbehave: invalid frames, and a
//! daemon that stops reading while we send.

use crate::support::scratch;

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use scratch::Scratch;
use wackamole::config::SpreadAddress;
use wackamole::spread::wire::handshake::{
    encode_auth_list, Accept, ConnectRequest, Version, AUTH_CHOICE_LEN, NULL_AUTH,
};
use wackamole::spread::wire::service_bits as bits;
use wackamole::spread::wire::{encode_frame, ByteOrder, Outgoing, HEADER_LEN};
use wackamole::spread::{ConnectOptions, Error, Service, Session};

/// Long enough to tell a hang from slowness on a loaded machine.
const HANG: Duration = Duration::from_secs(10);

/// Plays the daemon side of the handshake for `name` (as the recordings
/// show it) and hands over the connection.
fn accept_session(listener: &UnixListener, name: &str) -> UnixStream {
    let (mut sock, _) = listener.accept().unwrap();
    sock.set_read_timeout(Some(HANG)).unwrap();
    let expected = ConnectRequest::new(name, true, 0).encode().unwrap();
    let mut request = vec![0u8; expected.len()];
    sock.read_exact(&mut request).unwrap();
    assert_eq!(request, expected, "the connect request");
    sock.write_all(&encode_auth_list(&[NULL_AUTH])).unwrap();
    let mut choice = [0u8; AUTH_CHOICE_LEN];
    sock.read_exact(&mut choice).unwrap();
    let accept = Accept {
        daemon_version: Version::SPREAD_4_4,
        private_group: format!("#{name}#wm1"),
    };
    sock.write_all(&accept.encode(Version::SPREAD_4_4).unwrap())
        .unwrap();
    sock
}

fn message(sender: &str, body: &[u8]) -> Vec<u8> {
    encode_frame(
        ByteOrder::native(),
        &Outgoing {
            service_type: bits::AGREED,
            sender,
            groups: &["g"],
            mess_type: 1,
            original_type: None,
            body,
        },
    )
    .unwrap()
}

/// After a frame whose header does not decode, where the next frame
/// starts is unknown: the session closes instead of reading the bytes
/// that follow (here, a whole forged message) as a frame.
#[test]
fn an_invalid_frame_closes_the_session() {
    let dir = Scratch::new("session");
    let path = dir.path("invalid");
    let listener = UnixListener::bind(&path).unwrap();
    let daemon = thread::spawn(move || {
        let mut sock = accept_session(&listener, "x");
        let mut bad = message("#x#wm1", b"");
        bad[44..48].copy_from_slice(&(-1i32).to_ne_bytes());
        bad.truncate(HEADER_LEN);
        sock.write_all(&bad).unwrap();
        // The client may have closed already (that is the point): a
        // refused write is fine, a read of these bytes as a frame is not.
        let _ = sock.write_all(&message("#forged#wm1", b"inside a body"));
        // Hold the connection until the client has closed it.
        let mut rest = Vec::new();
        let _ = sock.read_to_end(&mut rest);
    });
    let session = Session::connect(
        &SpreadAddress::Unix(path.clone()),
        "x",
        ConnectOptions::default(),
    )
    .unwrap();
    let first = session.receive();
    assert!(matches!(first, Err(Error::Protocol(_))), "{first:?}");
    let second = session.receive();
    assert!(matches!(second, Err(Error::ConnectionClosed)), "{second:?}");
    drop(session);
    daemon.join().unwrap();
}

/// A daemon that stops reading leaves a send blocked; shutting the session
/// down must still return at once, and wake both the blocked sender and a
/// blocked reader.
#[test]
fn shutdown_is_not_held_up_by_a_blocked_send() {
    let dir = Scratch::new("session");
    let path = dir.path("blocked");
    let listener = UnixListener::bind(&path).unwrap();
    let (release, released) = mpsc::channel::<()>();
    let daemon = thread::spawn(move || {
        let sock = accept_session(&listener, "w");
        // Never read: the client's sends fill the socket and block.
        let _ = released.recv_timeout(HANG * 3);
        drop(sock);
    });
    let session = Arc::new(
        Session::connect(
            &SpreadAddress::Unix(path.clone()),
            "w",
            ConnectOptions::default(),
        )
        .unwrap(),
    );
    let (sent, sender_done) = mpsc::channel();
    let sender = {
        let session = session.clone();
        thread::spawn(move || {
            let body = vec![0u8; 100_000];
            let result = loop {
                if let Err(e) = session.multicast(Service::Reliable, &["g"], 1, &body) {
                    break e;
                }
            };
            let _ = sent.send(result);
        })
    };
    let (received, reader_done) = mpsc::channel();
    let reader = {
        let session = session.clone();
        thread::spawn(move || {
            let _ = received.send(session.receive());
        })
    };
    // Give the sender time to fill the socket buffer and block.
    thread::sleep(Duration::from_millis(300));
    assert!(
        sender_done.try_recv().is_err(),
        "the send should be blocked"
    );
    let (closed, shutdown_done) = mpsc::channel();
    {
        let session = session.clone();
        thread::spawn(move || {
            session.shutdown();
            let _ = closed.send(());
        });
    }
    let shut = shutdown_done.recv_timeout(HANG);
    let _ = release.send(());
    assert!(shut.is_ok(), "shutdown waited for the blocked send");
    let send_error = sender_done.recv_timeout(HANG).expect("the sender woke");
    assert!(
        matches!(send_error, Error::ConnectionClosed),
        "{send_error:?}"
    );
    let read = reader_done.recv_timeout(HANG).expect("the reader woke");
    assert!(matches!(read, Err(Error::ConnectionClosed)), "{read:?}");
    sender.join().unwrap();
    reader.join().unwrap();
    daemon.join().unwrap();
}

/// With a send time-out, a daemon that stops reading makes the send fail
/// with a clear error instead of hanging its caller, and the session is
/// closed (the frame may be cut off half way).
#[test]
fn a_send_time_out_turns_a_stalled_daemon_into_an_error() {
    let dir = Scratch::new("session");
    let path = dir.path("stalled");
    let listener = UnixListener::bind(&path).unwrap();
    let (release, released) = mpsc::channel::<()>();
    let daemon = thread::spawn(move || {
        let sock = accept_session(&listener, "t");
        let _ = released.recv_timeout(HANG * 3);
        drop(sock);
    });
    let session = Session::connect(
        &SpreadAddress::Unix(path.clone()),
        "t",
        ConnectOptions {
            send_timeout: Some(Duration::from_millis(200)),
            ..ConnectOptions::default()
        },
    )
    .unwrap();
    let body = vec![0u8; 100_000];
    let started = std::time::Instant::now();
    let error = loop {
        if let Err(e) = session.multicast(Service::Reliable, &["g"], 1, &body) {
            break e;
        }
        assert!(started.elapsed() < HANG, "the sends never stalled");
    };
    let _ = release.send(());
    assert!(matches!(error, Error::SendTimedOut), "{error:?}");
    assert!(error.to_string().contains("stopped taking our messages"));
    let after = session.multicast(Service::Reliable, &["g"], 1, b"x");
    assert!(matches!(after, Err(Error::ConnectionClosed)), "{after:?}");
    drop(session);
    daemon.join().unwrap();
}
