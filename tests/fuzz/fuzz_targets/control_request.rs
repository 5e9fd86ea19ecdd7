//! The daemon's side of the control socket, fed arbitrary request bytes
//! on a live server: each connection gets the replies of the requests it
//! sent, in order, up to the first byte that is no request (which closes
//! it) or the per-connection limit, and nothing else. A watch request
//! (4) turns the rest of the connection into watch lines: the first says
//! the watch is in place (or that too many watch), and any byte sent
//! after the request ends it with a line saying so.

#![no_main]

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use wackamole::control::wire::encode_state;
use wackamole::control::{
    ControlHandle, ControlServer, EndCause, Limits, Request, RequestKind, WatchItem, WatchRecord,
};
use wackamole_fuzz::sample_status;

const MAX_REQUESTS: usize = 16;

struct Server {
    path: PathBuf,
    _handle: ControlHandle,
}

/// One server for the whole run, answering from a stand-in engine loop.
fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        // A client closing early must not kill the fuzzer with SIGPIPE.
        // SAFETY: sets the disposition of one signal; touches no memory.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let path = std::env::temp_dir().join(format!("wackamole-fuzz-{}.sock", std::process::id()));
        let (events, requests) = mpsc::channel::<Request>();
        thread::spawn(move || {
            for request in requests {
                match request {
                    Request::GetState(r) => r.respond(sample_status()),
                    Request::SimulateFailure(r) | Request::EndFailure(r) => r.respond(()),
                }
            }
        });
        let limits = Limits {
            idle: Duration::from_secs(5),
            write: Duration::from_secs(5),
            answer: Duration::from_secs(5),
            max_connections: 8,
            max_requests: MAX_REQUESTS,
        };
        let handle = ControlServer::bind(&path)
            .expect("bind the control socket")
            .with_limits(limits)
            .spawn(events, |r| r)
            .expect("serve the control socket");
        Server {
            path,
            _handle: handle,
        }
    })
}

/// The replies to `requests` up to a watch request, and whether one came
/// (with bytes after it).
fn expected(requests: &[u8]) -> (Vec<u8>, Option<bool>) {
    let status = sample_status();
    let mut out = Vec::new();
    for (n, &byte) in requests.iter().take(MAX_REQUESTS).enumerate() {
        match RequestKind::from_byte(byte) {
            Some(RequestKind::Watch) => return (out, Some(n + 1 < requests.len())),
            Some(RequestKind::State) => out.extend(encode_state(&status.state_reply())),
            Some(RequestKind::JsonStatus) => {
                let json = status.to_json();
                out.extend((json.len() as u32).to_be_bytes());
                out.extend(json.as_bytes());
            }
            Some(RequestKind::SimulateFailure | RequestKind::EndFailure) => {
                out.extend(0i32.to_be_bytes())
            }
            None => break,
        }
    }
    (out, None)
}

/// The lines of a watch: the first says it is in place or that too many
/// watch; then, when bytes followed the request, the end for them. With
/// `cut`, the server may have reset the connection: lines may be missing.
fn check_watch(lines: &[u8], talked: bool, cut: bool) {
    let text = std::str::from_utf8(lines).expect("watch lines are UTF-8");
    let items: Vec<WatchItem> = text
        .split_inclusive('\n')
        .filter(|line| line.ends_with('\n') || !cut)
        .map(|line| WatchRecord::decode(line.trim_end()).expect("a watch line").item)
        .collect();
    let end = |cause| WatchItem::End { cause, reason: String::new() };
    let causes: Vec<WatchItem> = items
        .into_iter()
        .map(|item| match item {
            WatchItem::End { cause, .. } => end(cause),
            other => other,
        })
        .collect();
    let full = match causes.first() {
        Some(WatchItem::Watching) if talked => vec![WatchItem::Watching, end(EndCause::BadRequest)],
        Some(WatchItem::Watching) => vec![WatchItem::Watching],
        _ => vec![end(EndCause::TooManyWatchers)],
    };
    if cut {
        assert!(full.starts_with(&causes), "{text:?}");
    } else {
        assert_eq!(causes, full, "{text:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let requests = &data[..data.len().min(64)];
    let mut stream = UnixStream::connect(&server().path).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set a time-out");
    // The server may close before taking every byte.
    let _ = stream.write_all(requests);
    let _ = stream.shutdown(Shutdown::Write);
    let mut reply = Vec::new();
    match stream.read_to_end(&mut reply) {
        Ok(_) => {}
        // Closing with our bytes unread resets the connection.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("reading the replies: {e}"),
    }
    let (want, watch) = expected(requests);
    // A server that closes with request bytes unread resets the
    // connection, which may cut the replies short; otherwise all come.
    let all_read = requests.len() <= MAX_REQUESTS
        && requests
            .iter()
            .all(|&b| RequestKind::from_byte(b).is_some_and(|k| k != RequestKind::Watch));
    match watch {
        Some(talked) => {
            assert!(reply.starts_with(&want), "replies to {requests:?}");
            check_watch(&reply[want.len()..], talked, talked);
        }
        None if all_read => assert_eq!(reply, want, "replies to {requests:?}"),
        None => assert!(want.starts_with(&reply), "replies to {requests:?}"),
    }
});
