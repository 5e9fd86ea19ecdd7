//! Which node holds which VIP, read fast and from any thread: a reader
//! thread per node inside its namespace, and a sampler that sweeps them
//! all in the background to catch a VIP held twice.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::INTERFACE;

/// Which nodes hold each VIP, from a sweep.
pub fn owners(holders: &[Vec<Ipv4Addr>]) -> BTreeMap<Ipv4Addr, Vec<usize>> {
    let mut owners: BTreeMap<Ipv4Addr, Vec<usize>> = BTreeMap::new();
    for (node, vips) in holders.iter().enumerate() {
        for vip in vips {
            owners.entry(*vip).or_default().push(node);
        }
    }
    owners
}

/// Reads the VIPs on every node's `wm0` quickly, from any thread: each
/// node has a reader thread that entered its namespace once (entering a
/// network namespace costs milliseconds) and lists `wm0` with ioctls on
/// request. The readers end when the last observer is dropped.
#[derive(Clone)]
pub struct Observer {
    readers: Vec<mpsc::Sender<mpsc::Sender<Vec<Ipv4Addr>>>>,
}

impl Observer {
    /// One reader per namespace (by its open `/run/netns` file), each
    /// reporting which of `vips` are on its [`INTERFACE`].
    pub fn spawn(namespaces: &[Arc<File>], vips: &[Ipv4Addr]) -> Observer {
        let readers = namespaces
            .iter()
            .enumerate()
            .map(|(i, ns)| {
                let (requests, inbox) = mpsc::channel::<mpsc::Sender<Vec<Ipv4Addr>>>();
                let (ns, vips) = (ns.clone(), vips.to_vec());
                thread::spawn(move || {
                    enter(&ns);
                    for reply in inbox {
                        let present = wackamole::net::iface::list(INTERFACE).unwrap_or_else(|e| {
                            panic!("cannot list the addresses of node {i}: {e}")
                        });
                        let held = present
                            .into_iter()
                            .map(|a| a.addr)
                            .filter(|a| vips.contains(a))
                            .collect();
                        let _ = reply.send(held);
                    }
                });
                requests
            })
            .collect();
        Observer { readers }
    }

    /// The VIPs on each node's `wm0`, by node, read by all readers at once.
    pub fn sweep(&self) -> Vec<Vec<Ipv4Addr>> {
        let replies: Vec<_> = (0..self.readers.len()).map(|i| self.ask(i)).collect();
        replies
            .into_iter()
            .map(|r| r.recv().expect("reader"))
            .collect()
    }

    /// The VIPs on node `i`'s `wm0`.
    pub fn on_node(&self, i: usize) -> Vec<Ipv4Addr> {
        self.ask(i).recv().expect("reader")
    }

    fn ask(&self, i: usize) -> mpsc::Receiver<Vec<Ipv4Addr>> {
        let (reply, answer) = mpsc::channel();
        self.readers[i].send(reply).expect("reader");
        answer
    }

    /// Starts a thread that sweeps every `every` and records any VIP seen
    /// on two nodes in two consecutive sweeps (a sweep is not one instant:
    /// a VIP moving between two nodes while it runs may show on both).
    pub fn sample(&self, every: Duration) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(SamplerReport::default()));
        let thread = {
            let (observer, stop, seen) = (self.clone(), stop.clone(), seen.clone());
            thread::spawn(move || {
                let mut previous: BTreeMap<Ipv4Addr, Vec<usize>> = BTreeMap::new();
                while !stop.load(Ordering::SeqCst) {
                    let holders = observer.sweep();
                    let now = owners(&holders);
                    let mut report = seen.lock().unwrap_or_else(|p| p.into_inner());
                    report.sweeps += 1;
                    for (vip, nodes) in &now {
                        if nodes.len() > 1 && previous.get(vip) == Some(nodes) {
                            report.doubles.push((*vip, nodes.clone(), holders.clone()));
                        }
                    }
                    drop(report);
                    previous = now;
                    thread::sleep(every);
                }
            })
        };
        Sampler {
            stop,
            seen,
            thread: Some(thread),
        }
    }
}

/// Moves the calling thread into the namespace of `file`.
fn enter(file: &File) {
    // SAFETY: setns on a namespace descriptor we hold open.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", io::Error::last_os_error());
}

#[derive(Debug, Default, Clone)]
pub struct SamplerReport {
    pub sweeps: usize,
    /// (VIP, nodes holding it, the whole sweep) for every double seen.
    pub doubles: Vec<(Ipv4Addr, Vec<usize>, Vec<Vec<Ipv4Addr>>)>,
}

/// A running sampler; [`Sampler::finish`] stops it.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<SamplerReport>>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    /// Stops sampling; what was seen.
    pub fn finish(mut self) -> SamplerReport {
        self.halt();
        self.report()
    }

    /// Samples on until at least `sweeps` sweeps are in or `within` has
    /// passed (a loaded machine sweeps slowly), then stops; what was seen.
    pub fn finish_after(self, sweeps: usize, within: Duration) -> SamplerReport {
        self.wait_sweeps(sweeps, within);
        self.finish()
    }

    /// Waits until at least `sweeps` sweeps are in, or `within` has passed;
    /// how many are.
    pub fn wait_sweeps(&self, sweeps: usize, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            let done = self.report().sweeps;
            if done >= sweeps || Instant::now() >= deadline {
                return done;
            }
            thread::sleep(Duration::from_millis(1));
        }
    }

    fn report(&self) -> SamplerReport {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.halt();
    }
}
