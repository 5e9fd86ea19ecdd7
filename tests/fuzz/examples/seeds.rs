//! Builds the seed corpora of the fuzz targets from the repository's own
//! files: the recorded Spread sessions of tests/data/spread-wire (frames,
//! handshakes, membership bodies, the engine's message bodies), the
//! example configurations of etc/ and of the tests, replies of the control
//! socket, and the datagrams of a three-node cluster of the built-in
//! membership run in memory. Usage: `seeds DIR` (one folder per target).

use std::collections::BTreeMap;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wackamole::control::wire::encode_state;
use wackamole::engine::codec::mess_type;
use wackamole::membership::wire::{open, Key};
use wackamole::membership::{Node, Timing};
use wackamole::spread::wire::service_bits::{REG_MEMB, TRANSITION};
use wackamole::spread::wire::{decode_frame, ByteOrder, HEADER_LEN};
use wackamole_fuzz::sample_status;

/// Seeds by target, each kept once.
#[derive(Default)]
struct Corpus(BTreeMap<&'static str, Vec<Vec<u8>>>);

impl Corpus {
    fn add(&mut self, target: &'static str, seed: Vec<u8>) {
        let seeds = self.0.entry(target).or_default();
        if !seeds.contains(&seed) {
            seeds.push(seed);
        }
    }

    fn write(&self, dir: &Path) -> std::io::Result<()> {
        for (target, seeds) in &self.0 {
            let folder = dir.join(target);
            fs::create_dir_all(&folder)?;
            for (n, seed) in seeds.iter().enumerate() {
                fs::write(folder.join(format!("seed-{n:04}")), seed)?;
            }
            println!("{target}: {} seeds", seeds.len());
        }
        Ok(())
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn hex(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let bytes = text.trim().as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

fn with(prefix: &[u8], body: &[u8]) -> Vec<u8> {
    [prefix, body].concat()
}

/// One unit of a recording, as the client (`C`) or the daemon (`D`) sent it.
fn spread_unit(corpus: &mut Corpus, from_client: bool, unit: &[u8]) {
    if unit.len() >= HEADER_LEN {
        corpus.add("spread_frame", unit.to_vec());
    } else if from_client {
        corpus.add("spread_handshake", with(&[2], unit));
    } else {
        corpus.add("spread_handshake", with(&[0], unit));
        corpus.add("spread_handshake", with(&[1, 4, 4, 0], unit));
    }
    if from_client && unit.len() == 90 {
        corpus.add("spread_handshake", with(&[3], unit));
    }
    let Ok((frame, _)) = decode_frame(unit) else {
        return;
    };
    let t = frame.header.service_type;
    let order = match frame.header.order {
        ByteOrder::Little => 0,
        ByteOrder::Big => 1,
    };
    if t & REG_MEMB != 0 {
        corpus.add("spread_membership", with(&[order], &frame.body));
    } else if t & TRANSITION != 0 {
        corpus.add("spread_membership", with(&[order | 2], &frame.body));
    } else {
        let choice = match frame.header.mess_type() {
            mess_type::STATE => 0,
            mess_type::MATURING => 1,
            mess_type::BALANCE => 2,
            mess_type::ARPCACHE => 3,
            mess_type::PROCEED => 4,
            _ => return,
        };
        let mismatch = if frame.header.hint_order == ByteOrder::native() {
            0
        } else {
            0x80
        };
        corpus.add("engine_codec", with(&[choice | mismatch], &frame.body));
    }
}

fn recordings(corpus: &mut Corpus) -> std::io::Result<()> {
    let dir = repo().join("tests/data/spread-wire");
    for entry in fs::read_dir(dir)? {
        let text = fs::read_to_string(entry?.path())?;
        for line in text.lines() {
            let (from_client, data) = match line.split_once(' ') {
                Some(("C", data)) => (true, data),
                Some(("D", data)) => (false, data),
                _ => continue,
            };
            if let Some(unit) = hex(data) {
                spread_unit(corpus, from_client, &unit);
            }
        }
    }
    Ok(())
}

/// Words of the configuration language: a string literal of the tests
/// holding one is taken for (part of) an example configuration.
const KEYWORDS: [&str; 8] = [
    "VirtualInterfaces",
    "Prefer",
    "Notify",
    "Group",
    "Membership",
    "Spread",
    "Balance",
    "Quorum",
];

/// The string literals of Rust source, raw (`r#"..."#`) or with the
/// usual escapes, unescaped. Format strings keep their doubled braces,
/// which are halved here.
fn string_literals(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find('"') {
        let raw = rest[..start].ends_with("r#");
        let after = &rest[start + 1..];
        let mut text = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' if !raw || after[i + 1..].starts_with('#') => {
                    end = i + 1;
                    break;
                }
                '\\' if !raw => match chars.next().map(|(_, e)| e) {
                    Some('n') => text.push('\n'),
                    Some('t') => text.push('\t'),
                    Some('r') => text.push('\r'),
                    Some('\n') => {}
                    Some(other) => text.push(other),
                    None => {}
                },
                c => text.push(c),
            }
        }
        found.push(text.replace("{{", "{").replace("}}", "}"));
        rest = &after[end.min(after.len())..];
    }
    found
}

/// etc/*.conf, and the example configurations in the tests' strings
/// (each also followed by one VIF, so that fragments parse on).
fn configurations(corpus: &mut Corpus) -> std::io::Result<()> {
    for entry in fs::read_dir(repo().join("etc"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "conf") {
            corpus.add("config_parse", fs::read(path)?);
        }
    }
    for entry in fs::read_dir(repo().join("tests"))? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        for text in string_literals(&fs::read_to_string(path)?) {
            if KEYWORDS.iter().any(|k| text.contains(k)) {
                corpus.add("config_parse", text.clone().into_bytes());
                let one_vif = "\nVirtualInterfaces { eth0:10.0.0.5/24 }\n";
                corpus.add("config_parse", (text + one_vif).into_bytes());
            }
        }
    }
    Ok(())
}

fn control(corpus: &mut Corpus) {
    let status = sample_status();
    corpus.add(
        "control_reply",
        with(&[0], &encode_state(&status.state_reply())),
    );
    let json = status.to_json();
    let length = (json.len() as u32).to_be_bytes();
    corpus.add(
        "control_reply",
        [&[1][..], &length, json.as_bytes()].concat(),
    );
    for requests in [
        &[0u8][..],
        &[3],
        &[1, 0],
        &[2, 3],
        &[0, 1, 2, 3],
        &[3, 9],
        &[4],
        &[0, 4],
        &[4, 4],
    ] {
        corpus.add("control_request", requests.to_vec());
    }
    // Choice 2: the lines of a watch.
    let mut watch = vec![2, 0, 0, 0, 0];
    for (record, _) in wackamole_fuzz::watch_records() {
        watch.extend(record.to_line().into_bytes());
    }
    corpus.add("control_reply", watch);
}

/// Three nodes exchanging datagrams in memory for a simulated second.
/// Node 0's incoming datagrams become the operations of `membership_node`
/// (operation 0: a sealed datagram from a peer; 6: time passes).
fn membership(corpus: &mut Corpus) {
    let key = Key::new(&[7u8; 32]).expect("a valid key");
    let nodes: Vec<SocketAddrV4> = (0..3)
        .map(|i| SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 1 + i as u8), 4810))
        .collect();
    let settings = Timing::new(Duration::from_millis(20), Duration::from_millis(200))
        .expect("valid settings");
    let start = Instant::now();
    let mut cluster: Vec<Node> = (0..3)
        .map(|i| {
            Node::new(
                nodes.clone(),
                i,
                key.clone(),
                settings,
                1_000 + i as u64,
                start,
            )
            .expect("a node")
        })
        .collect();
    let mut ops = Vec::new();
    for tick in 1..=50u64 {
        let now = start + Duration::from_millis(tick * 20);
        ops.extend([6, 0, 20]);
        for node in cluster.iter_mut() {
            node.handle_timeout(now);
        }
        let mut sent = Vec::new();
        for (from, node) in cluster.iter_mut().enumerate() {
            while let Some(t) = node.poll_transmit() {
                sent.push((from, t));
            }
            while node.poll_event().is_some() {}
        }
        for (from, t) in sent {
            let Ok(opened) = open(&key, &t.bytes) else {
                continue;
            };
            corpus.add("membership_wire", with(&[opened.kind], opened.body));
            corpus.add("membership_wire", t.bytes.clone());
            if t.to == 0 {
                let len = (opened.body.len() as u16).to_be_bytes();
                let incarnation = (opened.header.incarnation - 1_000) as u8;
                ops.extend([0, from as u8 - 1, opened.kind, 1, incarnation, 0]);
                ops.extend(len);
                ops.extend(opened.body);
                ops.push(1); // from the sender's own address
            }
            let to = usize::from(t.to);
            cluster[to].handle_datagram(SocketAddr::V4(nodes[from]), &t.bytes, now);
        }
        if tick % 10 == 0 {
            corpus.add("membership_node", ops.clone());
        }
    }
}

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: seeds DIR");
        std::process::exit(2);
    };
    let mut corpus = Corpus::default();
    let read = recordings(&mut corpus).and_then(|()| configurations(&mut corpus));
    if let Err(e) = read {
        eprintln!("seeds: reading the repository's files: {e}");
        std::process::exit(1);
    }
    control(&mut corpus);
    membership(&mut corpus);
    for (target, seed) in [
        ("engine_inputs", vec![0u8, 0, 0, 0, 2, 0xff, 4, 0, 1]),
        (
            "engine_inputs",
            vec![1, 1, 1, 0, 3, 0x15, 5, 0, 1, 6, 0, 6, 1],
        ),
    ] {
        corpus.add(target, seed);
    }
    if let Err(e) = corpus.write(Path::new(&dir)) {
        eprintln!("seeds: writing {}: {e}", Path::new(&dir).display());
        std::process::exit(1);
    }
}
