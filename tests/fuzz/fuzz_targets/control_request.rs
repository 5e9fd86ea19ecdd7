//! The daemon's side of the control socket, fed arbitrary request bytes
//! on a live server: each connection gets the replies of the requests it
//! sent, in order, up to the first byte that is no request (which closes
//! it) or the per-connection limit, and nothing else.

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
use wackamole::control::{ControlHandle, ControlServer, Limits, Request, RequestKind};
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

fn expected(requests: &[u8]) -> Vec<u8> {
    let status = sample_status();
    let mut out = Vec::new();
    for &byte in requests.iter().take(MAX_REQUESTS) {
        match RequestKind::from_byte(byte) {
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
    out
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
    let want = expected(requests);
    // A server that closes with request bytes unread resets the
    // connection, which may cut the replies short; otherwise all come.
    let all_read = requests.len() <= MAX_REQUESTS
        && requests
            .iter()
            .all(|&b| RequestKind::from_byte(b).is_some());
    if all_read {
        assert_eq!(reply, want, "replies to {requests:?}");
    } else {
        assert!(want.starts_with(&reply), "replies to {requests:?}");
    }
});
