use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;

use super::*;
use crate::control::watch::RefusalReason;

/// Long enough for anything a loaded machine does; only reached when a
/// test fails.
const PATIENCE: Duration = Duration::from_secs(30);

fn limits(queue: usize, max_watchers: usize) -> WatchLimits {
    WatchLimits {
        queue,
        max_watchers,
        stall: PATIENCE,
        refused_per_second: 10,
    }
}

fn view(n: usize) -> WatchEvent {
    WatchEvent::View {
        members: vec![format!("member-{n}")],
    }
}

/// A watcher served on a thread of its own, as the control server does.
struct Client {
    lines: BufReader<UnixStream>,
    served: thread::JoinHandle<()>,
}

fn watch(watchers: &Watchers) -> Client {
    let (ours, theirs) = UnixStream::pair().expect("a socket pair");
    ours.set_read_timeout(Some(PATIENCE)).expect("a time-out");
    let hub = watchers.clone();
    let served = thread::spawn(move || hub.serve(theirs));
    Client {
        lines: BufReader::new(ours),
        served,
    }
}

impl Client {
    fn record(&mut self) -> WatchRecord {
        let mut line = String::new();
        self.lines.read_line(&mut line).expect("a line");
        assert!(line.ends_with('\n'), "a whole line: {line:?}");
        WatchRecord::decode(line.trim_end()).expect("a watch line")
    }

    /// The rest of the stream, once the server has closed it (a reset
    /// when it left bytes of ours unread).
    fn rest(mut self) -> Vec<WatchRecord> {
        let mut bytes = Vec::new();
        match self.lines.read_to_end(&mut bytes) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            read => drop(read.expect("the rest")),
        }
        self.served.join().expect("the watcher's thread");
        let text = String::from_utf8(bytes).expect("UTF-8");
        text.lines()
            .map(|l| WatchRecord::decode(l).expect("a watch line"))
            .collect()
    }
}

fn end_cause(record: &WatchRecord) -> Option<EndCause> {
    match record.item {
        WatchItem::End { cause, .. } => Some(cause),
        _ => None,
    }
}

/// Waits, boundedly, until `done` holds.
fn until(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "never: {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_watcher_gets_every_event_in_order_then_the_end() {
    let watchers = Watchers::new(limits(16, 4));
    // Nobody watches: publishing is a no-op.
    watchers.publish(view(0));
    let mut client = watch(&watchers);
    assert_eq!(client.record().item, WatchItem::Watching);
    assert_eq!(watchers.count(), 1);
    // Far more than the queue holds, read as they come.
    for n in 1..=200 {
        watchers.publish(view(n));
        assert_eq!(client.record().item, WatchItem::Event(view(n)));
    }
    watchers.close();
    let rest = client.rest();
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert_eq!(end_cause(&rest[0]), Some(EndCause::Stopping));
    assert_eq!(watchers.count(), 0);
}

#[test]
fn a_stuck_reader_is_dropped_without_holding_up_publish() {
    let watchers = Watchers::new(limits(8, 4));
    let mut stuck = watch(&watchers);
    assert_eq!(stuck.record().item, WatchItem::Watching);
    // Publish, never reading, until the hub lets the reader go; on a
    // thread, so that a publish that blocked fails the test. A Unix
    // socket buffers a few hundred kilobytes (a few thousand lines), then
    // the queue fills. (A burst longer than the queue may also do it
    // before the watcher's thread has written any: the daemon's queue is
    // far longer than its bursts.)
    let hub = watchers.clone();
    let (done, published) = mpsc::channel();
    thread::spawn(move || {
        let mut n = 0;
        while hub.count() > 0 && n < 1_000_000 {
            n += 1;
            hub.publish(view(n));
            if n % 4 == 0 {
                thread::yield_now();
            }
        }
        let _ = done.send(n);
    });
    let published = published
        .recv_timeout(PATIENCE)
        .expect("publish never waits for a reader");
    assert_eq!(watchers.count(), 0, "dropped after {published} events");
    // Publishing on goes on at once with nobody watching.
    watchers.publish(view(0));
    // Reading late: what was written, in order, then the last line.
    let rest = stuck.rest();
    let (last, events) = rest.split_last().expect("lines");
    assert_eq!(end_cause(last), Some(EndCause::FellBehind), "{last:?}");
    assert!(events.len() < published, "{} of {published}", events.len());
    for (n, record) in events.iter().enumerate() {
        assert_eq!(record.item, WatchItem::Event(view(n + 1)));
    }
}

#[test]
fn watchers_are_bounded_and_a_place_freed_is_taken_again() {
    let watchers = Watchers::new(limits(8, 2));
    let mut first = watch(&watchers);
    let mut second = watch(&watchers);
    assert_eq!(first.record().item, WatchItem::Watching);
    assert_eq!(second.record().item, WatchItem::Watching);
    let refused = watch(&watchers).rest();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(end_cause(&refused[0]), Some(EndCause::TooManyWatchers));
    let WatchItem::End { reason, .. } = &refused[0].item else {
        unreachable!()
    };
    assert!(reason.contains("2 already watch"), "{reason}");
    // The first leaves; its thread notices and gives its place back.
    drop(first.lines);
    first
        .served
        .join()
        .expect("the thread ends once its client left");
    let mut third = watch(&watchers);
    assert_eq!(third.record().item, WatchItem::Watching);
    watchers.publish(view(1));
    assert_eq!(second.record().item, WatchItem::Event(view(1)));
    assert_eq!(third.record().item, WatchItem::Event(view(1)));
}

#[test]
fn a_watcher_that_sends_anything_is_ended() {
    let watchers = Watchers::new(limits(8, 2));
    let mut client = watch(&watchers);
    assert_eq!(client.record().item, WatchItem::Watching);
    client
        .lines
        .get_mut()
        .write_all(&[4, 0, 0xff])
        .expect("the hostile bytes");
    let rest = client.rest();
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert_eq!(end_cause(&rest[0]), Some(EndCause::BadRequest));
    until("the place is free", || watchers.count() == 0);
}

#[test]
fn once_closed_no_watch_starts() {
    let watchers = Watchers::new(limits(8, 2));
    watchers.close();
    let rest = watch(&watchers).rest();
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert_eq!(end_cause(&rest[0]), Some(EndCause::Stopping));
}

#[test]
fn refused_datagrams_are_shown_at_a_bounded_rate_and_the_rest_counted() {
    let watchers = Watchers::new(limits(100, 2));
    let subscription = watchers.subscribe().expect("a place");
    let refused = |port| WatchEvent::RefusedDatagram {
        reason: RefusalReason::Replayed,
        source: SocketAddr::from(([192, 0, 2, 1], port)),
    };
    let start = Instant::now();
    let wall = SystemTime::now();
    for port in 0..25 {
        watchers.publish_at(refused(port), start, wall);
    }
    // Other events are never held back.
    watchers.publish_at(view(1), start, wall);
    watchers.publish_at(refused(100), start + Duration::from_millis(1500), wall);
    let lines: Vec<WatchRecord> = subscription
        .queue
        .try_iter()
        .map(|l| WatchRecord::decode(l.trim_end()).expect("a line"))
        .collect();
    assert_eq!(lines.len(), 12, "{lines:?}");
    for (port, record) in lines[..10].iter().enumerate() {
        assert_eq!(record.item, WatchItem::Event(refused(port as u16)));
        assert_eq!(record.suppressed, 0);
    }
    assert_eq!(lines[10].item, WatchItem::Event(view(1)));
    assert_eq!(lines[11].item, WatchItem::Event(refused(100)));
    assert_eq!(lines[11].suppressed, 15);
}
