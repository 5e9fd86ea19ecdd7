//! What a running process's descriptors are, from /proc: which numbers
//! hold AF_PACKET sockets, which hold the client end of a Unix stream
//! (connected, with no path: our Spread session in the test clusters) and
//! which hold UDP sockets. The socket tables are read through
//! /proc/<pid>/net, so they are those of the process's own network
//! namespace.

use std::collections::BTreeMap;
use std::fs;
use std::io;

/// Descriptor numbers of a process by kind of socket, each list sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Descriptors {
    /// AF_PACKET sockets (the announcer's ARP senders).
    pub packet: Vec<i32>,
    /// Connected Unix stream sockets without an address of their own:
    /// the client side of a connection, such as a Spread session.
    pub unix_clients: Vec<i32>,
    /// UDP sockets (the built-in membership's), with their local port.
    pub udp: Vec<(i32, u16)>,
    /// Every open descriptor.
    pub all: Vec<i32>,
}

impl Descriptors {
    /// Reads the descriptor table of `pid`.
    pub fn of(pid: u32) -> io::Result<Descriptors> {
        let sockets = socket_descriptors(pid)?;
        let packet = inodes(pid, "packet", |f| f.last())?;
        // Num RefCount Protocol Flags Type St Inode [Path]: stream (0001),
        // connected (03), no path.
        let unix = inodes(pid, "unix", |f| {
            (f.len() == 7 && f[4] == "0001" && f[5] == "03").then(|| &f[6])
        })?;
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid
        // timeout inode ...; local_address is ADDR:PORT in hex.
        let udp_ports: BTreeMap<u64, u16> = table(pid, "udp")?
            .iter()
            .filter_map(|f| {
                let port = f.get(1)?.rsplit_once(':')?.1;
                Some((f.get(9)?.parse().ok()?, u16::from_str_radix(port, 16).ok()?))
            })
            .collect();
        let pick = |kind: &[u64]| -> Vec<i32> {
            sockets
                .iter()
                .filter(|(_, inode)| kind.contains(inode))
                .map(|(&fd, _)| fd)
                .collect()
        };
        Ok(Descriptors {
            packet: pick(&packet),
            unix_clients: pick(&unix),
            udp: sockets
                .iter()
                .filter_map(|(&fd, inode)| Some((fd, *udp_ports.get(inode)?)))
                .collect(),
            all: fds(pid)?,
        })
    }
}

fn fds(pid: u32) -> io::Result<Vec<i32>> {
    let mut all: Vec<i32> = fs::read_dir(format!("/proc/{pid}/fd"))?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    all.sort_unstable();
    Ok(all)
}

/// Descriptor number to socket inode, for every socket `pid` holds.
fn socket_descriptors(pid: u32) -> io::Result<BTreeMap<i32, u64>> {
    let mut sockets = BTreeMap::new();
    for fd in fds(pid)? {
        // A descriptor closed since the listing is simply not there.
        let Ok(target) = fs::read_link(format!("/proc/{pid}/fd/{fd}")) else {
            continue;
        };
        let target = target.to_string_lossy();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|rest| rest.strip_suffix(']'))
            .and_then(|n| n.parse().ok())
        {
            sockets.insert(fd, inode);
        }
    }
    Ok(sockets)
}

/// The rows of /proc/<pid>/net/<name> as fields, the header skipped.
fn table(pid: u32, name: &str) -> io::Result<Vec<Vec<String>>> {
    let text = fs::read_to_string(format!("/proc/{pid}/net/{name}"))?;
    Ok(text
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().map(str::to_string).collect())
        .collect())
}

/// The inodes of /proc/<pid>/net/<name> that `pick` finds in a row.
fn inodes(
    pid: u32,
    name: &str,
    pick: impl Fn(&[String]) -> Option<&String>,
) -> io::Result<Vec<u64>> {
    Ok(table(pid, name)?
        .iter()
        .filter_map(|fields| pick(fields)?.parse().ok())
        .collect())
}
