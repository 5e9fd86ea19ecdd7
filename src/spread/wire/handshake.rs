//! The connect handshake: request, authentication-method list and choice,
//! accept or reject. Parsers are incremental: given the bytes read so far
//! they say how many are needed, so a blocking reader never reads past
//! the unit (the daemon may send the first message right behind it).

use super::cursor::name_from_field;
use super::{is_legal_private_name, DecodeError, EncodeError, MAX_GROUP_NAME, MAX_PRIVATE_NAME};
use std::fmt;

/// Authentication slots in the client's choice.
pub const AUTH_SLOTS: usize = 3;
/// Size of one authentication-method slot.
pub const AUTH_NAME_LEN: usize = 30;
/// Size of the client's authentication choice.
pub const AUTH_CHOICE_LEN: usize = AUTH_SLOTS * AUTH_NAME_LEN;
/// The only authentication method we speak.
pub const NULL_AUTH: &str = "NULL";
/// The accept byte.
pub const ACCEPT_SESSION: u8 = 1;

/// A library or daemon version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// Patch level.
    pub patch: u8,
}

impl Version {
    /// The library version we announce and the daemon version we answer
    /// with: 4.4.0.
    pub const SPREAD_4_4: Version = Version {
        major: 4,
        minor: 4,
        patch: 0,
    };

    fn major_minor(self) -> u32 {
        u32::from(self.major) * 10_000 + u32::from(self.minor) * 100
    }

    /// Whether this client sends (and is answered with) the patch byte:
    /// from 3.15 on.
    pub fn has_patch_byte(self) -> bool {
        self.major_minor() > 31_400
    }

    /// Whether this client takes part in the authentication exchange:
    /// from 3.16 on.
    pub fn negotiates_auth(self) -> bool {
        self.major_minor() >= 31_600
    }

    /// Whether the daemon serves this client version at all (3.1 and later).
    pub fn is_supported_client(self) -> bool {
        self.major_minor() >= 30_100
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A reject code: one negative byte from the daemon in place of the
/// auth list or of the accept byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectCode {
    /// -3: the daemon's session table is full.
    Quota,
    /// -4: no name (defined, never sent by 4.4 daemons).
    NoName,
    /// -5: bad name length or character.
    IllegalName,
    /// -6: the name is already connected to this daemon.
    NotUnique,
    /// -7: client version too old.
    Version,
    /// -9: authentication refused.
    Auth,
    /// Any other non-accept byte.
    Other(i8),
}

impl RejectCode {
    /// The code a reject byte carries.
    pub fn from_byte(byte: u8) -> RejectCode {
        match byte as i8 {
            -3 => RejectCode::Quota,
            -4 => RejectCode::NoName,
            -5 => RejectCode::IllegalName,
            -6 => RejectCode::NotUnique,
            -7 => RejectCode::Version,
            -9 => RejectCode::Auth,
            other => RejectCode::Other(other),
        }
    }

    /// The reject byte of this code.
    pub fn to_byte(self) -> u8 {
        let code: i8 = match self {
            RejectCode::Quota => -3,
            RejectCode::NoName => -4,
            RejectCode::IllegalName => -5,
            RejectCode::NotUnique => -6,
            RejectCode::Version => -7,
            RejectCode::Auth => -9,
            RejectCode::Other(c) => c,
        };
        code as u8
    }
}

/// The result of an incremental parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse<T> {
    /// The unit is complete and took `len` bytes.
    Complete {
        /// What was parsed.
        value: T,
        /// Bytes it took.
        len: usize,
    },
    /// At least `needed` bytes (in total) are required.
    Incomplete {
        /// Bytes needed in total.
        needed: usize,
    },
    /// The peer refused the session (client side), or the request must be
    /// refused with this code (daemon side).
    Rejected(RejectCode),
}

/// The client's connect request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    /// The client library's version.
    pub version: Version,
    /// Bit 0: wants membership messages; high nibble: priority.
    pub flags: u8,
    /// Private name bytes; empty asks the daemon to pick one.
    pub name: String,
}

impl ConnectRequest {
    /// A request from a 4.4.0 library. `priority` is 0 or 1.
    pub fn new(name: &str, membership: bool, priority: u8) -> ConnectRequest {
        ConnectRequest {
            version: Version::SPREAD_4_4,
            flags: u8::from(membership) | (priority.min(1) << 4),
            name: name.to_string(),
        }
    }

    /// Whether the client wants membership messages (the daemon reads the
    /// flags as a signed char and tests `flags % 2 == 1`).
    pub fn membership(&self) -> bool {
        (self.flags as i8) % 2 == 1
    }

    /// The priority in the high nibble, as the daemon reads it.
    pub fn priority(&self) -> i8 {
        (self.flags as i8) / 16
    }

    /// The request bytes. Only the name's length is checked: whether its
    /// characters are legal is the daemon's call (see [`Self::parse`]).
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        if self.name.len() > MAX_PRIVATE_NAME {
            return Err(EncodeError::BadName {
                field: "private name",
                name: self.name.clone(),
            });
        }
        let mut out = vec![self.version.major, self.version.minor];
        if self.version.has_patch_byte() {
            out.push(self.version.patch);
        }
        out.push(self.flags);
        out.push(self.name.len() as u8);
        out.extend_from_slice(self.name.as_bytes());
        Ok(out)
    }

    /// Daemon side: parses a request as the 4.4 daemon reads it, refusing
    /// too old versions and illegal names with the daemon's codes.
    pub fn parse(bytes: &[u8]) -> Parse<ConnectRequest> {
        if bytes.len() < 2 {
            return Parse::Incomplete { needed: 2 };
        }
        let mut version = Version {
            major: bytes[0],
            minor: bytes[1],
            patch: 0,
        };
        if !version.is_supported_client() {
            return Parse::Rejected(RejectCode::Version);
        }
        let mut at = 2;
        if version.has_patch_byte() {
            match bytes.get(at) {
                Some(&patch) => version.patch = patch,
                None => return Parse::Incomplete { needed: at + 1 },
            }
            at += 1;
        }
        let (flags, len) = match (bytes.get(at), bytes.get(at + 1)) {
            (Some(&flags), Some(&len)) => (flags, len as i8),
            _ => return Parse::Incomplete { needed: at + 2 },
        };
        at += 2;
        let len = match usize::try_from(len) {
            Ok(len) if len <= MAX_PRIVATE_NAME => len,
            _ => return Parse::Rejected(RejectCode::IllegalName),
        };
        let Some(name) = bytes.get(at..at + len) else {
            return Parse::Incomplete { needed: at + len };
        };
        if !is_legal_private_name(name) {
            return Parse::Rejected(RejectCode::IllegalName);
        }
        // Legal names are ASCII.
        let name = String::from_utf8_lossy(name).into_owned();
        Parse::Complete {
            value: ConnectRequest {
                version,
                flags,
                name,
            },
            len: at + len,
        }
    }
}

/// The daemon's list of authentication methods: a length byte, then each
/// name followed by one space.
pub fn encode_auth_list(methods: &[&str]) -> Vec<u8> {
    let text: String = methods.iter().map(|m| format!("{m} ")).collect();
    let mut out = vec![text.len().min(127) as u8];
    out.extend_from_slice(&text.as_bytes()[..text.len().min(127)]);
    out
}

/// Client side: parses the auth-method list, or the reject byte in its
/// place.
pub fn parse_auth_list(bytes: &[u8]) -> Parse<Vec<String>> {
    let Some(&first) = bytes.first() else {
        return Parse::Incomplete { needed: 1 };
    };
    if (first as i8) < 0 {
        return Parse::Rejected(RejectCode::from_byte(first));
    }
    let len = usize::from(first);
    let Some(text) = bytes.get(1..1 + len) else {
        return Parse::Incomplete { needed: 1 + len };
    };
    let methods = String::from_utf8_lossy(text)
        .split(' ')
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .collect();
    Parse::Complete {
        value: methods,
        len: 1 + len,
    }
}

/// The client's choice: up to three NUL-padded 30-byte slots.
pub fn encode_auth_choice(methods: &[&str]) -> Result<[u8; AUTH_CHOICE_LEN], EncodeError> {
    let mut out = [0u8; AUTH_CHOICE_LEN];
    if methods.len() > AUTH_SLOTS {
        return Err(EncodeError::TooManyGroups {
            count: methods.len(),
            max: AUTH_SLOTS,
        });
    }
    for (slot, method) in out.chunks_mut(AUTH_NAME_LEN).zip(methods) {
        if method.len() >= AUTH_NAME_LEN || method.as_bytes().contains(&0) {
            return Err(EncodeError::BadName {
                field: "auth method",
                name: method.to_string(),
            });
        }
        slot[..method.len()].copy_from_slice(method.as_bytes());
    }
    Ok(out)
}

/// Daemon side: the methods named in a choice (empty slots skipped).
pub fn decode_auth_choice(choice: &[u8; AUTH_CHOICE_LEN]) -> Vec<String> {
    choice
        .chunks(AUTH_NAME_LEN)
        .map(|slot| {
            let end = slot.iter().position(|&b| b == 0).unwrap_or(slot.len());
            String::from_utf8_lossy(&slot[..end]).into_owned()
        })
        .filter(|m| !m.is_empty())
        .collect()
}

/// The daemon's accept: its version and our private group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accept {
    /// The daemon's version.
    pub daemon_version: Version,
    /// Our private group's full name (`#name#host`).
    pub private_group: String,
}

impl Accept {
    /// The accept bytes as sent to a client of version `client`.
    pub fn encode(&self, client: Version) -> Result<Vec<u8>, EncodeError> {
        let group = self.private_group.as_bytes();
        if group.len() > MAX_GROUP_NAME || group.contains(&0) {
            return Err(EncodeError::BadName {
                field: "private group",
                name: self.private_group.clone(),
            });
        }
        let mut out = vec![
            ACCEPT_SESSION,
            self.daemon_version.major,
            self.daemon_version.minor,
        ];
        if client.has_patch_byte() {
            out.push(self.daemon_version.patch);
        }
        out.push(group.len() as u8);
        out.extend_from_slice(group);
        Ok(out)
    }

    /// Client side: parses the accept (or the reject byte in its place)
    /// sent to a client of version `client`.
    pub fn parse(client: Version, bytes: &[u8]) -> Result<Parse<Accept>, DecodeError> {
        let Some(&first) = bytes.first() else {
            return Ok(Parse::Incomplete { needed: 1 });
        };
        if first != ACCEPT_SESSION {
            return Ok(Parse::Rejected(RejectCode::from_byte(first)));
        }
        let head = if client.has_patch_byte() { 5 } else { 4 };
        let Some(head_bytes) = bytes.get(..head) else {
            return Ok(Parse::Incomplete { needed: head });
        };
        let daemon_version = Version {
            major: head_bytes[1],
            minor: head_bytes[2],
            patch: if client.has_patch_byte() {
                head_bytes[3]
            } else {
                0
            },
        };
        let len = usize::from(head_bytes[head - 1]);
        if len > MAX_GROUP_NAME {
            return Err(DecodeError::OutOfRange {
                field: "private group length",
                value: len as i64,
                max: MAX_GROUP_NAME,
            });
        }
        let Some(group) = bytes.get(head..head + len) else {
            return Ok(Parse::Incomplete { needed: head + len });
        };
        let mut field = group.to_vec();
        field.push(0);
        let private_group = name_from_field(&field, "private group")?;
        Ok(Parse::Complete {
            value: Accept {
                daemon_version,
                private_group,
            },
            len: head + len,
        })
    }
}
