//! Reader for the recorded Spread client<->daemon transcripts kept in
//! tests/data/spread-wire: byte recordings of real Spread 4.4 daemons and
//! original Wackamole nodes, each file opening with `#` lines that say
//! what was recorded and how.

use std::fs;
use std::path::PathBuf;

use wackamole::spread::wire::membership_body::{
    decode_regular_body, decode_transitional_body, encode_regular_body, encode_transitional_body,
};
use wackamole::spread::wire::{
    decode_frame, service_bits, ByteOrder, GROUP_NAME_FIELD, HEADER_LEN,
};

/// Where the recordings live, relative to the repository.
pub const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/spread-wire");

/// The recordings' directory: `DIR`, or `SPREAD_WIRE_DIR` when set (for
/// recordings kept outside the repository).
pub fn dir() -> PathBuf {
    std::env::var_os("SPREAD_WIRE_DIR").map_or_else(|| PathBuf::from(DIR), PathBuf::from)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Client to daemon.
    C,
    /// Daemon to client.
    D,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// One protocol unit, with the recorder's decoding comment.
    Data {
        dir: Dir,
        bytes: Vec<u8>,
        comment: String,
        line: usize,
    },
    /// A `# API ...` line: a library call and its result.
    Api { text: String, line: usize },
    /// That side closed its socket.
    Eof(Dir),
}

#[derive(Debug, Clone)]
pub struct Transcript {
    pub name: String,
    pub items: Vec<Item>,
}

impl Transcript {
    pub fn data(&self, dir: Dir) -> impl Iterator<Item = (&[u8], &str, usize)> {
        self.items.iter().filter_map(move |item| match item {
            Item::Data {
                dir: d,
                bytes,
                comment,
                line,
            } if *d == dir => Some((bytes.as_slice(), comment.as_str(), *line)),
            _ => None,
        })
    }

    pub fn api(&self) -> impl Iterator<Item = &str> {
        self.items.iter().filter_map(|item| match item {
            Item::Api { text, .. } => Some(text.as_str()),
            _ => None,
        })
    }

    /// A library client (rather than a raw socket or wackamole) made this.
    pub fn is_library_client(&self) -> bool {
        self.api().any(|a| a.starts_with("SP_connect("))
    }
}

pub fn hex(text: &str) -> Result<Vec<u8>, String> {
    if text.len() % 2 != 0 {
        return Err(format!("odd hex length {}", text.len()));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&text[i..i + 2], 16)
                .map_err(|e| format!("bad hex {:?}: {e}", &text[i..i + 2]))
        })
        .collect()
}

pub fn parse(name: &str, text: &str) -> Result<Transcript, String> {
    let mut items = Vec::new();
    let mut comment = String::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let at = |e: String| format!("{name}:{line}: {e}");
        if let Some(rest) = raw
            .strip_prefix("# API ")
            .filter(|r| !r.starts_with("calls on this connection"))
        {
            items.push(Item::Api {
                text: rest.to_string(),
                line,
            });
        } else if raw == "# C: EOF (client closed its side)" {
            items.push(Item::Eof(Dir::C));
        } else if raw == "# D: EOF (daemon closed its side)" {
            items.push(Item::Eof(Dir::D));
        } else if let Some(rest) = raw
            .strip_prefix("# C: ")
            .or_else(|| raw.strip_prefix("# D: "))
        {
            comment = strip_time(rest).to_string();
        } else if raw.starts_with('#') || raw.trim().is_empty() {
            continue;
        } else if let Some((tag, data)) = raw.split_once(' ') {
            let dir = match tag {
                "C" => Dir::C,
                "D" => Dir::D,
                other => return Err(at(format!("unknown line tag {other:?}"))),
            };
            let bytes = hex(data.trim()).map_err(at)?;
            items.push(Item::Data {
                dir,
                bytes,
                comment: std::mem::take(&mut comment),
                line,
            });
        } else {
            return Err(at(format!("unparseable line {raw:?}")));
        }
    }
    Ok(Transcript {
        name: name.to_string(),
        items,
    })
}

/// The wackamole recordings prefix decoding comments with `[hh:mm:ss.mmm] `.
fn strip_time(comment: &str) -> &str {
    match comment.strip_prefix('[').and_then(|r| r.split_once("] ")) {
        Some((_, rest)) => rest,
        None => comment,
    }
}

/// Every transcript file (`s*.txt`), sorted by name. Panics (the test
/// fails loudly) when the directory is missing or empty.
pub fn load_all() -> Vec<Transcript> {
    let dir = dir();
    let entries = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("transcript directory {} is missing: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.expect("reading the transcript directory").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with('s') && name.ends_with(".txt") && !name.contains("events")
        })
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 20,
        "expected the recorded transcripts in {}, found {}",
        dir.display(),
        paths.len()
    );
    paths
        .iter()
        .map(|p| {
            let name = p
                .file_stem()
                .and_then(|n| n.to_str())
                .unwrap_or("?")
                .to_string();
            let text =
                fs::read_to_string(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
            parse(&name, &text).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

pub fn load(name: &str) -> Transcript {
    load_all()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no transcript {name}"))
}

/// The value after `key=` in a comment or API line, up to `,`, `)` or a space.
pub fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let pattern = format!("{key}=");
    let start = text
        .match_indices(&pattern)
        .find(|(i, _)| {
            *i == 0
                || !text.as_bytes()[i - 1].is_ascii_alphanumeric() && text.as_bytes()[i - 1] != b'_'
        })?
        .0
        + pattern.len();
    let rest = &text[start..];
    let end = rest.find([',', ')', ' ']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// A quoted value `key="..."` or `key='...'`.
pub fn quoted<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    for quote in ['"', '\''] {
        let pattern = format!("{key}={quote}");
        if let Some(i) = text.find(&pattern) {
            let rest = &text[i + pattern.len()..];
            return rest.find(quote).map(|end| &rest[..end]);
        }
    }
    None
}

/// The Python list of strings following `anchor` (e.g. `groups=`), or the
/// first `[...]` list after it.
pub fn string_list(text: &str, anchor: &str) -> Option<Vec<String>> {
    let after = &text[text.find(anchor)? + anchor.len()..];
    let open = after.find('[')?;
    let close = open + after[open..].find(']')?;
    Some(
        after[open + 1..close]
            .split(',')
            .map(|s| s.trim().trim_matches('\'').to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

/// A Python bytes literal `b'...'` after `key=`; returns the bytes and
/// whether the recorder cut it short (it ends in `...`).
pub fn bytes_literal(text: &str, key: &str) -> Option<(Vec<u8>, bool)> {
    let start = text.find(&format!("{key}=b"))? + key.len() + 2;
    let quote = *text.as_bytes().get(start)?;
    let raw = text.as_bytes();
    let mut out = Vec::new();
    let mut i = start + 1;
    while i < raw.len() && raw[i] != quote {
        if raw[i] == b'\\' && i + 1 < raw.len() {
            let (byte, used) = match raw[i + 1] {
                b'x' => (
                    u8::from_str_radix(std::str::from_utf8(&raw[i + 2..i + 4]).ok()?, 16).ok()?,
                    4,
                ),
                b'n' => (b'\n', 2),
                b'r' => (b'\r', 2),
                b't' => (b'\t', 2),
                other => (other, 2),
            };
            out.push(byte);
            i += used;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    // The recorder marks a cut-off body with "..." just inside or just
    // after the closing quote.
    let mut truncated = text.get(i + 1..).is_some_and(|r| r.starts_with("..."));
    if out.ends_with(b"...") {
        out.truncate(out.len() - 3);
        truncated = true;
    }
    Some((out, truncated))
}

/// `bytes` with the integers of its Spread frame rewritten in `to`'s byte
/// order (its header, a reject's original type, a membership body),
/// marker included; anything that is not one whole frame is returned as
/// it is. The recordings are little-endian: a big-endian host compares
/// what it wrote with them through this.
pub fn in_order(bytes: &[u8], to: ByteOrder) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let Ok((frame, used)) = decode_frame(bytes) else {
        return out;
    };
    if used != bytes.len() {
        return out;
    }
    let h = &frame.header;
    let mut put = |at: usize, value: u32| out[at..at + 4].copy_from_slice(&to.write_u32(value));
    if h.hint_order != to {
        put(40, h.hint | to.marker());
    }
    if h.order == to {
        return out;
    }
    put(0, h.service_type | to.marker());
    put(36, h.num_groups as u32);
    put(44, h.data_len as u32);
    let mut at = HEADER_LEN;
    if let Some(original) = frame.original_type {
        put(at, original | to.marker());
        at += 4;
    }
    at += GROUP_NAME_FIELD * h.num_groups;
    let body = if h.service_type & service_bits::REG_MEMB != 0 {
        decode_regular_body(h.order, &frame.body)
            .ok()
            .and_then(|b| {
                encode_regular_body(to, b.group_id, &b.vs_sets, b.my_vs_set.unwrap_or(0)).ok()
            })
    } else if h.service_type & service_bits::TRANSITION != 0 {
        decode_transitional_body(h.order, &frame.body)
            .ok()
            .map(|id| encode_transitional_body(to, id).to_vec())
    } else {
        return out;
    };
    if let Some(body) = body {
        out[at..].copy_from_slice(&body);
    }
    out
}
