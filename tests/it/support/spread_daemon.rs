//! A small in-process Spread daemon for tests: the 4.4 handshake and
//! framing over a Unix or TCP socket, one total order of messages per
//! network component, and the membership messages Spread sends (join,
//! leave, disconnect, and transitional plus network memberships when
//! tests partition or merge the sessions).
//!
//! Every session is one private name. `partition` plays a network split
//! between daemons: sessions in different components no longer see each
//! other's messages or memberships. Names a partition does not list (now
//! or when they connect later) belong to the first component.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wackamole::config::SpreadAddress;
use wackamole::spread::wire::handshake::{
    decode_auth_choice, encode_auth_list, AUTH_CHOICE_LEN, NULL_AUTH,
};
use wackamole::spread::wire::membership_body::{encode_regular_body, encode_transitional_body};
use wackamole::spread::wire::service_bits as bits;
use wackamole::spread::wire::{
    decode_header, decode_payload, encode_frame, Accept, ByteOrder, ConnectRequest, Frame, GroupId,
    Outgoing, Parse, RejectCode, Version, HEADER_LEN, MAX_GROUPS_PER_REQUEST, MAX_GROUP_NAME,
    MAX_MESSAGE_BODY_LEN,
};

/// How long the daemon waits for a connect request or auth choice.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(1);

/// Where the daemon listens.
#[derive(Debug, Clone)]
pub enum Listen {
    Unix(PathBuf),
    /// Port 0 picks a free port; see [`TestDaemon::address`].
    Tcp(SocketAddr),
}

pub struct TestDaemon {
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
    bound: Listen,
}

struct Shared {
    daemon_name: String,
    state: Mutex<State>,
    stopping: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
    conns: Mutex<BTreeMap<u32, Conn>>,
    next_conn: AtomicU32,
    /// When each private name's last session ended (its client closed it
    /// or sent garbage), as its reader saw it.
    ended: Mutex<BTreeMap<String, Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug)]
enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Conn {
    fn try_clone(&self) -> io::Result<Conn> {
        Ok(match self {
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
        })
    }
    fn shutdown(&self, how: Shutdown) {
        let _ = match self {
            Conn::Unix(s) => s.shutdown(how),
            Conn::Tcp(s) => s.shutdown(how),
        };
    }
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Conn::Unix(s) => s.set_read_timeout(t),
            Conn::Tcp(s) => s.set_read_timeout(t),
        }
    }
    fn fd(&self) -> i32 {
        match self {
            Conn::Unix(s) => s.as_raw_fd(),
            Conn::Tcp(s) => s.as_raw_fd(),
        }
    }
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => Read::read(&mut &*s, buf),
            Conn::Tcp(s) => Read::read(&mut &*s, buf),
        }
    }
    fn read_exact(&self, buf: &mut [u8]) -> io::Result<()> {
        match self {
            Conn::Unix(s) => Read::read_exact(&mut &*s, buf),
            Conn::Tcp(s) => Read::read_exact(&mut &*s, buf),
        }
    }
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        match self {
            Conn::Unix(s) => Write::write_all(&mut &*s, buf),
            Conn::Tcp(s) => Write::write_all(&mut &*s, buf),
        }
    }
}

struct Client {
    name: String,
    membership: bool,
    component: usize,
    out: mpsc::Sender<Vec<u8>>,
}

#[derive(Clone, Default)]
struct View {
    /// Private groups, in Spread's order (one daemon: by name).
    members: Vec<String>,
    index: u32,
}

#[derive(Clone, Default)]
struct Component {
    time: u32,
    groups: BTreeMap<String, View>,
}

struct State {
    proc_id: u32,
    clients: BTreeMap<String, Client>,
    assignment: BTreeMap<String, usize>,
    components: Vec<Component>,
    last_time: u32,
}

fn native_frame(msg: &Outgoing<'_>) -> Vec<u8> {
    encode_frame(ByteOrder::native(), msg).expect("the test daemon builds only valid frames")
}

fn strs(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

impl State {
    fn next_time(&mut self) -> u32 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as u32);
        self.last_time = now.max(self.last_time + 1);
        self.last_time
    }

    fn gid(&self, comp: usize, view: &View) -> GroupId {
        GroupId {
            proc_id: self.proc_id,
            time: self.components[comp].time,
            index: view.index,
        }
    }

    fn send(&self, to: &str, bytes: Vec<u8>) {
        if let Some(c) = self.clients.get(to) {
            let _ = c.out.send(bytes);
        }
    }

    fn send_membership(&self, to: &str, bytes: Vec<u8>) {
        if self.clients.get(to).is_some_and(|c| c.membership) {
            self.send(to, bytes);
        }
    }

    fn regular_frame(
        group: &str,
        cause: u32,
        members: &[String],
        gid: GroupId,
        sets: &[Vec<String>],
        mine: usize,
    ) -> Vec<u8> {
        let body =
            encode_regular_body(ByteOrder::native(), gid, sets, mine).expect("valid vs-sets");
        native_frame(&Outgoing {
            service_type: bits::REG_MEMB | cause,
            sender: group,
            groups: &strs(members),
            mess_type: 0,
            original_type: None,
            body: &body,
        })
    }

    /// A join, leave or disconnect: the light form, whose one vs-set holds
    /// just the member that changed.
    fn announce(&self, comp: usize, group: &str, cause: u32, changed: &str) {
        let Some(view) = self.components[comp].groups.get(group) else {
            return;
        };
        let frame = Self::regular_frame(
            group,
            cause,
            &view.members,
            self.gid(comp, view),
            &[vec![changed.to_string()]],
            0,
        );
        for member in &view.members {
            self.send_membership(member, frame.clone());
        }
    }

    fn join(&mut self, who: &str, group: &str) {
        let comp = self.clients[who].component;
        let view = self.components[comp]
            .groups
            .entry(group.to_string())
            .or_default();
        if view.members.iter().any(|m| m == who) {
            return;
        }
        view.members.push(who.to_string());
        view.members.sort();
        view.index += 1;
        self.announce(comp, group, bits::CAUSED_BY_JOIN, who);
    }

    fn remove(&mut self, who: &str, group: &str, cause: u32) -> bool {
        let comp = self.clients[who].component;
        let groups = &mut self.components[comp].groups;
        let Some(view) = groups.get_mut(group) else {
            return false;
        };
        let Some(pos) = view.members.iter().position(|m| m == who) else {
            return false;
        };
        view.members.remove(pos);
        view.index += 1;
        if view.members.is_empty() {
            groups.remove(group);
        } else {
            self.announce(comp, group, cause, who);
        }
        true
    }

    fn leave(&mut self, who: &str, group: &str) {
        if self.remove(who, group, bits::CAUSED_BY_LEAVE) {
            let notice = native_frame(&Outgoing {
                service_type: bits::CAUSED_BY_LEAVE,
                sender: group,
                groups: &[],
                mess_type: 0,
                original_type: None,
                body: &[],
            });
            self.send_membership(who, notice);
        }
    }

    fn disconnect(&mut self, who: &str) {
        let Some(comp) = self.clients.get(who).map(|c| c.component) else {
            return;
        };
        let groups: Vec<String> = self.components[comp]
            .groups
            .iter()
            .filter(|(_, v)| v.members.iter().any(|m| m == who))
            .map(|(g, _)| g.clone())
            .collect();
        for group in groups {
            self.remove(who, &group, bits::CAUSED_BY_DISCONNECT);
        }
        self.clients.remove(who);
    }

    fn multicast(&self, who: &str, frame: &Frame) {
        let comp = self.clients[who].component;
        let mut targets = BTreeSet::new();
        for group in &frame.groups {
            if let Some(view) = self.components[comp].groups.get(group) {
                targets.extend(view.members.iter().cloned());
            } else if self.clients.get(group).is_some_and(|c| c.component == comp) {
                targets.insert(group.clone());
            }
        }
        if frame.header.service_type & bits::SELF_DISCARD != 0 {
            targets.remove(who);
        }
        let bytes = native_frame(&Outgoing {
            service_type: frame.header.service_type,
            sender: who,
            groups: &strs(&frame.groups),
            mess_type: frame.header.mess_type(),
            original_type: None,
            body: &frame.body,
        });
        for target in targets {
            self.send(&target, bytes.clone());
        }
    }

    /// Moves every session to its component and sends the memberships a
    /// daemon membership change causes.
    fn repartition(&mut self, assignment: BTreeMap<String, usize>, count: usize) {
        self.assignment = assignment;
        let count = count.max(1);
        let placed: BTreeMap<String, usize> = self
            .clients
            .iter()
            .map(|(pg, c)| {
                (
                    pg.clone(),
                    self.assignment
                        .get(&c.name)
                        .copied()
                        .filter(|&i| i < count)
                        .unwrap_or(0),
                )
            })
            .collect();
        let old = std::mem::take(&mut self.components);
        let mut transitional = Vec::new();
        let mut regular = Vec::new();
        let mut new = Vec::with_capacity(count);
        for c in 0..count {
            let sessions: BTreeSet<&String> = placed
                .iter()
                .filter(|(_, &k)| k == c)
                .map(|(pg, _)| pg)
                .collect();
            let unchanged = old.iter().enumerate().find(|(k, _)| {
                let before: BTreeSet<&String> = self
                    .clients
                    .iter()
                    .filter(|(_, cl)| cl.component == *k)
                    .map(|(pg, _)| pg)
                    .collect();
                !before.is_empty() && before == sessions
            });
            if let Some((_, comp)) = unchanged {
                new.push(comp.clone());
                continue;
            }
            let time = self.next_time();
            let mut groups: BTreeMap<String, Vec<(GroupId, Vec<String>)>> = BTreeMap::new();
            for comp in &old {
                for (g, view) in &comp.groups {
                    let kept: Vec<String> = view
                        .members
                        .iter()
                        .filter(|m| sessions.contains(m))
                        .cloned()
                        .collect();
                    if kept.is_empty() {
                        continue;
                    }
                    let old_gid = GroupId {
                        proc_id: self.proc_id,
                        time: comp.time,
                        index: view.index,
                    };
                    if kept.len() < view.members.len() {
                        for m in &kept {
                            transitional.push((m.clone(), g.clone(), old_gid));
                        }
                    }
                    groups.entry(g.clone()).or_default().push((old_gid, kept));
                }
            }
            let mut views = BTreeMap::new();
            for (g, mut sets) in groups {
                sets.sort();
                let mut members: Vec<String> =
                    sets.iter().flat_map(|(_, s)| s.iter().cloned()).collect();
                members.sort();
                let gid = GroupId {
                    proc_id: self.proc_id,
                    time,
                    index: 1,
                };
                let vs: Vec<Vec<String>> = sets.into_iter().map(|(_, s)| s).collect();
                for m in &members {
                    let mine = vs.iter().position(|s| s.contains(m)).unwrap_or(0);
                    regular.push((
                        m.clone(),
                        Self::regular_frame(&g, bits::CAUSED_BY_NETWORK, &members, gid, &vs, mine),
                    ));
                }
                views.insert(g, View { members, index: 1 });
            }
            new.push(Component {
                time,
                groups: views,
            });
        }
        self.components = new;
        for (pg, k) in placed {
            if let Some(c) = self.clients.get_mut(&pg) {
                c.component = k;
            }
        }
        for (to, group, old_gid) in transitional {
            let body = encode_transitional_body(ByteOrder::native(), old_gid);
            let frame = native_frame(&Outgoing {
                service_type: bits::TRANSITION,
                sender: &group,
                groups: &[],
                mess_type: 0,
                original_type: None,
                body: &body,
            });
            self.send_membership(&to, frame);
        }
        for (to, frame) in regular {
            self.send_membership(&to, frame);
        }
    }
}

impl TestDaemon {
    /// Starts a daemon named `daemon_name` whose group ids carry 127.0.0.1.
    pub fn start(listen: Listen, daemon_name: &str) -> io::Result<TestDaemon> {
        TestDaemon::start_as(listen, daemon_name, Ipv4Addr::LOCALHOST)
    }

    /// Starts a daemon whose group ids carry `address` as their creator.
    pub fn start_as(
        listen: Listen,
        daemon_name: &str,
        address: Ipv4Addr,
    ) -> io::Result<TestDaemon> {
        if daemon_name.is_empty() || daemon_name.len() + 12 > MAX_GROUP_NAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "daemon name must be 1 to 19 bytes",
            ));
        }
        let (listener, bound) = match &listen {
            Listen::Unix(path) => {
                // A stale socket from an earlier (stopped) daemon.
                let _ = std::fs::remove_file(path);
                (Listener::Unix(UnixListener::bind(path)?), listen.clone())
            }
            Listen::Tcp(addr) => {
                let l = TcpListener::bind(addr)?;
                let local = l.local_addr()?;
                (Listener::Tcp(l), Listen::Tcp(local))
            }
        };
        let mut state = State {
            proc_id: u32::from(address),
            clients: BTreeMap::new(),
            assignment: BTreeMap::new(),
            components: vec![Component::default()],
            last_time: 0,
        };
        state.components[0].time = state.next_time();
        let shared = Arc::new(Shared {
            daemon_name: daemon_name.to_string(),
            state: Mutex::new(state),
            stopping: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
            conns: Mutex::new(BTreeMap::new()),
            next_conn: AtomicU32::new(0),
            ended: Mutex::new(BTreeMap::new()),
        });
        let acceptor = {
            let shared = shared.clone();
            thread::spawn(move || accept_loop(&shared, listener))
        };
        Ok(TestDaemon {
            shared,
            acceptor: Some(acceptor),
            bound,
        })
    }

    /// Where clients reach this daemon.
    pub fn address(&self) -> SpreadAddress {
        match &self.bound {
            Listen::Unix(path) => SpreadAddress::Unix(path.clone()),
            Listen::Tcp(addr) => SpreadAddress::Tcp {
                port: addr.port(),
                host: addr.ip().to_string(),
            },
        }
    }

    /// Private names of the connected sessions, sorted.
    pub fn sessions(&self) -> Vec<String> {
        let mut names: Vec<String> = lock(&self.shared.state)
            .clients
            .values()
            .map(|c| c.name.clone())
            .collect();
        names.sort();
        names
    }

    /// When the session of private name `name` last ended: the moment its
    /// reader met the end of the stream (or a request that ends it).
    #[cfg_attr(test, allow(dead_code))] // read by tests/bench/death.rs only
    pub fn ended(&self, name: &str) -> Option<Instant> {
        lock(&self.shared.ended).get(name).copied()
    }

    /// Private groups of `group`'s members, over all components, sorted.
    pub fn members(&self, group: &str) -> Vec<String> {
        let state = lock(&self.shared.state);
        let mut members: Vec<String> = state
            .components
            .iter()
            .filter_map(|c| c.groups.get(group))
            .flat_map(|v| v.members.clone())
            .collect();
        members.sort();
        members
    }

    /// Splits the sessions, by private name, into these components.
    pub fn partition(&self, components: &[Vec<String>]) {
        let assignment = components
            .iter()
            .enumerate()
            .flat_map(|(i, names)| names.iter().map(move |n| (n.clone(), i)))
            .collect();
        lock(&self.shared.state).repartition(assignment, components.len());
    }

    /// Joins every session into one component again.
    pub fn merge(&self) {
        lock(&self.shared.state).repartition(BTreeMap::new(), 1);
    }

    /// Closes the listener and every connection: the daemon disappears.
    /// A new daemon may then start on the same address.
    pub fn stop(&mut self) {
        let Some(acceptor) = self.acceptor.take() else {
            return;
        };
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the acceptor so it sees the flag and drops the listener.
        let _ = match &self.bound {
            Listen::Unix(path) => UnixStream::connect(path).map(drop),
            Listen::Tcp(addr) => TcpStream::connect(addr).map(drop),
        };
        let _ = acceptor.join();
        if let Listen::Unix(path) = &self.bound {
            let _ = std::fs::remove_file(path);
        }
        for conn in lock(&self.shared.conns).values() {
            conn.shutdown(Shutdown::Both);
        }
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        self.stop();
    }
}

enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

fn accept_loop(shared: &Arc<Shared>, listener: Listener) {
    loop {
        let conn = match &listener {
            Listener::Unix(l) => l.accept().map(|(s, _)| Conn::Unix(s)),
            Listener::Tcp(l) => l.accept().map(|(s, _)| {
                let _ = s.set_nodelay(true);
                Conn::Tcp(s)
            }),
        };
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(conn) = conn else { continue };
        let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = conn.try_clone() {
            lock(&shared.conns).insert(id, clone);
        }
        let shared2 = shared.clone();
        let handle = thread::spawn(move || {
            serve(&shared2, &conn);
            conn.shutdown(Shutdown::Both);
            lock(&shared2.conns).remove(&id);
        });
        lock(&shared.threads).push(handle);
    }
}

/// Refuses a session: the code byte, then close (after reading what the
/// client already sent, so the close does not reset the connection and
/// destroy the code byte).
fn refuse(conn: &Conn, code: RejectCode) {
    let _ = conn.write_all(&[code.to_byte()]);
    conn.shutdown(Shutdown::Write);
    let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
    let mut sink = [0u8; 256];
    while matches!(conn.read(&mut sink), Ok(n) if n > 0) {}
}

fn random_name(fd: i32) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("r{}-{fd}", nanos % 9999)
}

/// The daemon side of the handshake up to the accept; returns the
/// request, the private group and the accept bytes, or None when the
/// session was refused or the client went away.
fn handshake(shared: &Shared, conn: &Conn) -> Option<(ConnectRequest, String, Vec<u8>)> {
    conn.set_read_timeout(Some(HANDSHAKE_TIMEOUT)).ok()?;
    let mut buf = Vec::new();
    let request = loop {
        match ConnectRequest::parse(&buf) {
            Parse::Complete { value, .. } => break value,
            Parse::Rejected(code) => {
                refuse(conn, code);
                return None;
            }
            Parse::Incomplete { needed } => {
                let have = buf.len();
                buf.resize(needed, 0);
                // Silence or a close: the daemon just closes too.
                conn.read_exact(&mut buf[have..]).ok()?;
            }
        }
    };
    let name = if request.name.is_empty() {
        random_name(conn.fd())
    } else {
        request.name.clone()
    };
    let group = format!("#{name}#{}", shared.daemon_name);
    if lock(&shared.state).clients.contains_key(&group) {
        refuse(conn, RejectCode::NotUnique);
        return None;
    }
    if request.version.negotiates_auth() {
        conn.write_all(&encode_auth_list(&[NULL_AUTH])).ok()?;
        let mut choice = [0u8; AUTH_CHOICE_LEN];
        conn.read_exact(&mut choice).ok()?;
        let methods = decode_auth_choice(&choice);
        if methods.is_empty() || methods.iter().any(|m| m != NULL_AUTH) {
            refuse(conn, RejectCode::Auth);
            return None;
        }
    }
    let accept = Accept {
        daemon_version: Version::SPREAD_4_4,
        private_group: group.clone(),
    };
    let accept = accept.encode(request.version).ok()?;
    conn.set_read_timeout(None).ok()?;
    Some((ConnectRequest { name, ..request }, group, accept))
}

/// What the 4.4 daemon accepts from a client; anything else kills the
/// session without a word.
fn is_valid_request(frame: &Frame, me: &str) -> bool {
    let t = frame.header.service_type;
    let regular = t & bits::REGULAR;
    let control = t & (bits::JOIN | bits::LEAVE | bits::KILL | bits::GROUPS);
    let other = t & !(bits::REGULAR
        | bits::SELF_DISCARD
        | bits::JOIN
        | bits::LEAVE
        | bits::KILL
        | bits::GROUPS);
    let type_ok = other == 0
        && ((regular.count_ones() == 1 && control == 0)
            || (regular == 0 && control.count_ones() == 1 && t & bits::SELF_DISCARD == 0));
    type_ok
        && frame.header.name == me
        && frame.header.num_groups <= MAX_GROUPS_PER_REQUEST
        && frame.header.hint & !0x00ff_ff00 == 0
        && frame.body.len() + 32 * frame.groups.len() <= MAX_MESSAGE_BODY_LEN
}

fn read_request(conn: &Conn) -> Option<Frame> {
    let mut head = [0u8; HEADER_LEN];
    conn.read_exact(&mut head).ok()?;
    let header = decode_header(&head).ok()?;
    let mut payload = vec![0u8; header.payload_len()];
    conn.read_exact(&mut payload).ok()?;
    decode_payload(header, &payload).ok()
}

fn serve(shared: &Shared, conn: &Conn) {
    let Some((request, group, accept)) = handshake(shared, conn) else {
        return;
    };
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let Ok(out) = conn.try_clone() else { return };
    let writer = thread::spawn(move || {
        for bytes in rx {
            if out.write_all(&bytes).is_err() {
                out.shutdown(Shutdown::Both);
                return;
            }
        }
    });
    {
        let mut state = lock(&shared.state);
        if state.clients.contains_key(&group) || shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let component = state
            .assignment
            .get(&request.name)
            .copied()
            .filter(|&i| i < state.components.len())
            .unwrap_or(0);
        // The accept goes first through the queue: the session is known
        // (and may be sent to) from the moment the client is accepted.
        let _ = tx.send(accept);
        let client = Client {
            name: request.name.clone(),
            membership: request.membership(),
            component,
            out: tx,
        };
        state.clients.insert(group.clone(), client);
    }
    while let Some(frame) = read_request(conn) {
        if !is_valid_request(&frame, &group) {
            break;
        }
        let mut state = lock(&shared.state);
        let t = frame.header.service_type;
        let target = frame.groups.first().map(String::as_str).unwrap_or("");
        if t & bits::KILL != 0 {
            break;
        } else if t & bits::JOIN != 0 && !target.is_empty() {
            state.join(&group, target);
        } else if t & bits::LEAVE != 0 && !target.is_empty() {
            state.leave(&group, target);
        } else if t & bits::REGULAR != 0 {
            state.multicast(&group, &frame);
        }
    }
    lock(&shared.ended).insert(request.name.clone(), Instant::now());
    lock(&shared.state).disconnect(&group);
    conn.shutdown(Shutdown::Both);
    let _ = writer.join();
}
