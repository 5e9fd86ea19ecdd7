use super::*;
use crate::control::client::ControlClient;
use crate::control::render_listing;
use crate::control::status_report::tests::sample_status;
use crate::control::wackatrl::{self, Action};
use crate::control::watch::{EndCause, WatchEvent, WatchItem, WatchRecord};
use crate::testutil::TempDir;
use std::io::{BufRead, BufReader};
use std::time::Instant;

const TIMEOUT: Duration = Duration::from_secs(5);

/// A stand-in for the engine loop: answers every request and counts
/// what it was asked.
struct Daemon {
    handle: Option<ControlHandle>,
    seen: Receiver<&'static str>,
    _dir: TempDir,
    path: PathBuf,
}

fn daemon(limits: Limits) -> Daemon {
    let dir = TempDir::new("control");
    let path = dir.path().join("wackamole.sock");
    let (events, requests) = mpsc::channel::<Request>();
    let (note, seen) = mpsc::channel();
    thread::spawn(move || {
        for request in requests {
            // Noted before answering: once the client has its answer,
            // the test may look at what was seen.
            let _ = note.send(match &request {
                Request::GetState(_) => "state",
                Request::SimulateFailure(_) => "failure",
                Request::EndFailure(_) => "success",
            });
            match request {
                Request::GetState(r) => r.respond(sample_status()),
                Request::SimulateFailure(r) | Request::EndFailure(r) => r.respond(()),
            }
        }
    });
    let server = ControlServer::bind(&path).unwrap().with_limits(limits);
    let handle = server.spawn(events, |r| r).unwrap();
    Daemon {
        handle: Some(handle),
        seen,
        _dir: dir,
        path,
    }
}

fn quick() -> Limits {
    Limits {
        idle: Duration::from_millis(300),
        write: Duration::from_millis(300),
        answer: Duration::from_secs(2),
        max_connections: 4,
        max_requests: 16,
    }
}

fn raw(path: &Path) -> UnixStream {
    let stream = UnixStream::connect(path).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream
}

/// Reads until the server closes the connection (a reset when it
/// left our extra bytes unread).
fn read_to_close(stream: &mut UnixStream) -> Vec<u8> {
    let mut rest = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return rest,
            Ok(n) => rest.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return rest,
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
}

fn assert_serves(path: &Path) {
    let mut client = ControlClient::connect(path, TIMEOUT).unwrap();
    assert_eq!(client.state().unwrap(), sample_status().state_reply());
}

#[test]
fn socket_is_private() {
    let d = daemon(quick());
    let mode = std::fs::metadata(&d.path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn state_reply_is_the_byte_protocol() {
    let d = daemon(quick());
    let mut stream = raw(&d.path);
    stream.write_all(&[0]).unwrap();
    let mut reply = vec![0u8; 4 + 2 * 900];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(reply, encode_state(&sample_status().state_reply()));
}

#[test]
fn wackatrl_lists_acts_and_prints_json() {
    let d = daemon(quick());
    let mut out = Vec::new();
    wackatrl::run(&d.path, Action::List, false, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        render_listing(&sample_status().state_reply())
    );

    let mut out = Vec::new();
    wackatrl::run(&d.path, Action::SimulateFailure, false, &mut out).unwrap();
    assert!(String::from_utf8(out)
        .unwrap()
        .starts_with("Owner: 192.168.1.10\n"));
    let mut out = Vec::new();
    wackatrl::run(&d.path, Action::EndFailure, true, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        sample_status().to_json() + "\n"
    );

    let seen: Vec<_> = d.seen.try_iter().collect();
    assert_eq!(seen, ["state", "failure", "state", "success", "state"]);
}

#[test]
fn garbage_closes_only_that_connection() {
    let d = daemon(quick());
    let mut stream = raw(&d.path);
    stream.write_all(&[9, 0xff, 0, 0, 0]).unwrap();
    assert!(read_to_close(&mut stream).is_empty());
    assert_serves(&d.path);
}

#[test]
fn silent_clients_are_dropped_and_never_block_others() {
    let d = daemon(quick());
    // More silent clients than connection slots.
    let mut silent: Vec<_> = (0..10).map(|_| raw(&d.path)).collect();
    let started = Instant::now();
    assert_serves(&d.path);
    assert!(started.elapsed() < TIMEOUT);
    for stream in &mut silent {
        assert!(read_to_close(stream).is_empty());
    }
    assert_eq!(d.seen.try_iter().count(), 1);
}

#[test]
fn a_client_leaving_mid_reply_does_not_matter() {
    let d = daemon(quick());
    for _ in 0..20 {
        let mut stream = raw(&d.path);
        stream.write_all(&[0]).unwrap();
        let mut part = [0u8; 10];
        stream.read_exact(&mut part).unwrap();
        drop(stream);
    }
    assert_serves(&d.path);
}

#[test]
fn many_clients_are_all_served() {
    let d = daemon(quick());
    let clients: Vec<_> = (0..40)
        .map(|_| {
            let path = d.path.clone();
            thread::spawn(move || {
                let mut client = ControlClient::connect(&path, TIMEOUT).unwrap();
                client.state().unwrap()
            })
        })
        .collect();
    for c in clients {
        assert_eq!(c.join().unwrap(), sample_status().state_reply());
    }
}

#[test]
fn a_connection_serves_a_bounded_number_of_requests() {
    let d = daemon(Limits {
        max_requests: 2,
        ..quick()
    });
    let mut stream = raw(&d.path);
    stream.write_all(&[1, 2, 1]).unwrap();
    assert_eq!(read_to_close(&mut stream), [0, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn an_unanswered_request_closes_the_connection() {
    let dir = TempDir::new("control-unanswered");
    let path = dir.path().join("sock");
    let (events, requests) = mpsc::channel::<Request>();
    // The engine drops every request unanswered.
    thread::spawn(move || requests.into_iter().for_each(drop));
    let _handle = ControlServer::bind(&path)
        .unwrap()
        .spawn(events, |r| r)
        .unwrap();
    let mut client = ControlClient::connect(&path, TIMEOUT).unwrap();
    let err = client.state().unwrap_err();
    assert!(matches!(err, ControlError::Truncated(_)), "{err}");
}

#[test]
fn a_live_socket_is_refused_and_a_stale_one_replaced() {
    let mut d = daemon(quick());
    let err = ControlServer::bind(&d.path)
        .err()
        .expect("a second daemon is refused");
    assert!(matches!(err, ControlError::InUse(_)), "{err}");
    assert_serves(&d.path);

    // A socket file nobody listens on any more.
    drop(d.handle.take());
    assert!(!d.path.exists(), "dropping the server removes its socket");
    let stale = std::os::unix::net::UnixListener::bind(&d.path).unwrap();
    drop(stale);
    assert!(d.path.exists());
    let (events, _requests) = mpsc::channel::<Request>();
    let handle = ControlServer::bind(&d.path).unwrap().spawn(events, |r| r);
    assert!(handle.is_ok());
}

#[test]
fn a_path_that_is_no_socket_is_left_alone() {
    let dir = TempDir::new("control-file");
    let path = dir.path().join("precious");
    std::fs::write(&path, "data").unwrap();
    let err = ControlServer::bind(&path).err().expect("refused");
    assert!(matches!(err, ControlError::NotASocket(_)), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "data");
}

/// `wackatrl` with `action` against the daemon at `path`, on a thread:
/// its outcome and what it printed.
fn wackatrl(
    path: &Path,
    action: Action,
    json: bool,
) -> thread::JoinHandle<(Result<(), ControlError>, String)> {
    let path = path.to_path_buf();
    thread::spawn(move || {
        let mut out = Vec::new();
        let outcome = wackatrl::run(&path, action, json, &mut out);
        (outcome, String::from_utf8(out).expect("UTF-8 output"))
    })
}

/// What the next line of a watch says.
fn next_item(reader: &mut BufReader<UnixStream>) -> WatchItem {
    let mut line = String::new();
    reader.read_line(&mut line).expect("a line");
    WatchRecord::decode(line.trim_end())
        .expect("a watch line")
        .item
}

/// Waits, boundedly, until `watchers` feeds `n` watchers.
fn until_watching(watchers: &Watchers, n: usize) {
    let start = Instant::now();
    while watchers.count() != n {
        assert!(start.elapsed() < TIMEOUT * 4, "{n} watchers never came");
        thread::sleep(Duration::from_millis(10));
    }
}

fn events() -> Vec<WatchEvent> {
    crate::control::watch::tests::every_kind()
        .into_iter()
        .filter_map(|(record, _)| match record.item {
            WatchItem::Event(event) => Some(event),
            _ => None,
        })
        .collect()
}

/// `2024-05-01T12:34:56.789Z`.
fn is_a_time(text: &str) -> bool {
    text.len() == 24 && text.ends_with('Z') && text.as_bytes()[10] == b'T'
}

#[test]
fn wackatrl_watch_prints_each_event_until_the_daemon_stops() {
    for json in [false, true] {
        let mut d = daemon(quick());
        let watchers = d.handle.as_ref().expect("the server").watchers();
        let tool = wackatrl(&d.path, Action::Watch, json);
        until_watching(&watchers, 1);
        for event in events() {
            watchers.publish(event);
        }
        drop(d.handle.take());
        let (outcome, printed) = tool.join().expect("wackatrl returns");
        outcome.expect("a daemon that stops ends the watch cleanly");
        let lines: Vec<&str> = printed.lines().collect();
        assert_eq!(lines.len(), events().len() + 2, "{printed}");
        let mut published = vec![WatchItem::Watching];
        published.extend(events().into_iter().map(WatchItem::Event));
        published.push(WatchItem::End {
            cause: EndCause::Stopping,
            reason: "wackamole is stopping".to_string(),
        });
        for (line, item) in lines.iter().zip(published) {
            if json {
                let record = WatchRecord::decode(line).expect("a JSON line");
                assert!(is_a_time(&record.time), "{line}");
                assert_eq!(record.item, item);
            } else {
                // As the record with that time prints.
                let (time, _) = line.split_once(' ').expect("the time first");
                assert!(is_a_time(time), "{line}");
                let record = WatchRecord {
                    time: time.to_string(),
                    item,
                    suppressed: 0,
                };
                assert_eq!(*line, record.to_string());
            }
        }
        if !json {
            assert!(lines[0].ends_with(" watching"), "{}", lines[0]);
            let last = lines[lines.len() - 1];
            assert!(
                last.ends_with(" watch ended: wackamole is stopping"),
                "{last}"
            );
        }
    }
}

#[test]
fn watchers_are_bounded_and_leave_room_for_other_requests() {
    let d = daemon(quick());
    let watchers = d.handle.as_ref().expect("the server").watchers();
    let max = watchers.limits().max_watchers;
    assert!(max >= quick().max_connections, "the test fills both bounds");
    let mut watching: Vec<_> = (0..max)
        .map(|_| {
            let mut stream = raw(&d.path);
            stream.write_all(&[4]).unwrap();
            let mut reader = BufReader::new(stream);
            assert_eq!(next_item(&mut reader), WatchItem::Watching);
            reader
        })
        .collect();
    // Every connection slot was a watcher once, yet the listing is served.
    assert_serves(&d.path);
    let (outcome, printed) = wackatrl(&d.path, Action::Watch, false).join().unwrap();
    match outcome {
        Err(ControlError::WatchEnded(why)) => assert!(why.contains("too many watchers"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(
        printed.contains(" watch ended: too many watchers"),
        "{printed}"
    );
    watchers.publish(WatchEvent::QuorumMet {
        members: 1,
        needed: 1,
    });
    for reader in &mut watching {
        assert_eq!(
            next_item(reader),
            WatchItem::Event(WatchEvent::QuorumMet {
                members: 1,
                needed: 1
            })
        );
    }
}

#[test]
fn watch_after_other_requests_and_nothing_after_it() {
    let d = daemon(quick());
    let mut stream = raw(&d.path);
    // The state, then the watch, on one connection.
    stream.write_all(&[0, 4]).unwrap();
    let mut reply = vec![0u8; 4 + 2 * 900];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(reply, encode_state(&sample_status().state_reply()));
    let mut reader = BufReader::new(stream);
    assert_eq!(next_item(&mut reader), WatchItem::Watching);
    // A watcher that goes on talking is ended, saying why.
    reader.get_mut().write_all(&[3, 0, 0, 0, 9]).unwrap();
    let rest = String::from_utf8(read_to_close(reader.get_mut())).unwrap();
    let last = WatchRecord::decode(rest.trim_end()).expect("one last line");
    assert!(
        matches!(
            last.item,
            WatchItem::End {
                cause: EndCause::BadRequest,
                ..
            }
        ),
        "{rest}"
    );
    assert_serves(&d.path);
}

#[test]
fn an_original_daemon_is_told_apart_from_ours() {
    // The original closes the connection on a request byte it does not know.
    let dir = TempDir::new("control-original");
    let path = dir.path().join("sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let original = thread::spawn(move || {
        for _ in 0..2 {
            let (mut stream, _) = listener.accept().unwrap();
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).unwrap();
            assert!(byte[0] >= 3, "asked {}", byte[0]);
        }
    });
    for action in [Action::Watch, Action::Metrics] {
        let (outcome, printed) = wackatrl(&path, action, false).join().unwrap();
        assert!(printed.is_empty(), "{printed}");
        let err = outcome.expect_err("the original serves neither");
        if action == Action::Watch {
            assert!(err.to_string().contains("does not serve --watch"), "{err}");
        }
    }
    original.join().unwrap();
}

#[test]
fn wackatrl_metrics_renders_the_status_the_daemon_serves() {
    let d = daemon(quick());
    let (outcome, printed) = wackatrl(&d.path, Action::Metrics, false).join().unwrap();
    outcome.expect("the metrics");
    assert_eq!(
        printed,
        crate::control::metrics::render(&sample_status().json())
    );
    assert!(printed.contains("wackamole_vif_held{vif=\"0\",address=\"10.0.0.5\"} 1\n"));
    let seen: Vec<_> = d.seen.try_iter().collect();
    assert_eq!(seen, ["state"], "one status request, no new one");
}
