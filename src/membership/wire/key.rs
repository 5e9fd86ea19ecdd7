//! The cluster key: one [`Key`] signs and verifies; [`Keys`] is what a
//! node holds during a rotation, the key it sends under and at most one
//! more it still (or already) accepts.
//!
//! A key is named in the status by its [`KeyId`]: the first 4 bytes of
//! HMAC-SHA256 under the key of the fixed text [`KEY_ID_LABEL`]. Telling
//! the key from its id is as hard as forging a tag under it, and no
//! datagram carries that text (every datagram starts with the magic), so
//! the id is no tag an attacker could use either.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::MAC_LEN;

/// Shortest cluster key accepted.
pub const MIN_KEY_LEN: usize = 16;
/// What a key signs to make its id.
pub const KEY_ID_LABEL: &[u8] = b"wackamole key id";

/// Names a key without revealing it: see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 4]);

/// As 8 lowercase hex digits.
impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// The cluster key, with the HMAC-SHA256 state already keyed: each
/// datagram clones that state instead of hashing the secret again.
#[derive(Clone)]
pub struct Key {
    mac: Hmac<Sha256>,
    /// The tag of [`KEY_ID_LABEL`]: tells two keys apart (whole) and
    /// names this one (its first bytes).
    fingerprint: [u8; MAC_LEN],
}

impl Key {
    /// Keys the MAC with `secret`, which must have at least [`MIN_KEY_LEN`] bytes.
    pub fn new(secret: &[u8]) -> Result<Key, KeyError> {
        if secret.len() < MIN_KEY_LEN {
            return Err(KeyError::TooShort { len: secret.len() });
        }
        let mac =
            <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes a key of any length");
        let mut key = Key {
            mac,
            fingerprint: [0; MAC_LEN],
        };
        key.fingerprint = key.tag(KEY_ID_LABEL);
        Ok(key)
    }

    /// The id the status shows for this key.
    pub fn id(&self) -> KeyId {
        let mut id = [0; 4];
        id.copy_from_slice(&self.fingerprint[..4]);
        KeyId(id)
    }

    pub(super) fn tag(&self, bytes: &[u8]) -> [u8; MAC_LEN] {
        let mut mac = self.mac.clone();
        mac.update(bytes);
        mac.finalize().into_bytes().into()
    }

    /// Compares in constant time, so the time a refusal takes tells an
    /// attacker nothing about how much of a forged tag was right.
    pub(super) fn verifies(&self, bytes: &[u8], tag: &[u8; MAC_LEN]) -> bool {
        let mut mac = self.mac.clone();
        mac.update(bytes);
        mac.verify_slice(tag).is_ok()
    }

    /// Whether `other` is the same secret.
    fn same_as(&self, other: &Key) -> bool {
        self.fingerprint == other.fingerprint
    }
}

/// The same secret (compared by the tag of [`KEY_ID_LABEL`]).
impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.same_as(other)
    }
}

impl Eq for Key {}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key").finish_non_exhaustive()
    }
}

/// The keys of a node: it sends under `current` and accepts datagrams
/// under `current` or `accepted`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    current: Key,
    accepted: Option<Key>,
}

impl Keys {
    /// `current`, and `accepted` beside it, which must be another key.
    pub fn new(current: Key, accepted: Option<Key>) -> Result<Keys, KeyError> {
        if accepted.as_ref().is_some_and(|a| a.same_as(&current)) {
            return Err(KeyError::SameKey);
        }
        Ok(Keys { current, accepted })
    }

    /// The key datagrams are sent under.
    pub fn current(&self) -> &Key {
        &self.current
    }

    /// The other key datagrams are accepted under, if any.
    pub fn accepted(&self) -> Option<&Key> {
        self.accepted.as_ref()
    }

    /// The id of the key `tag` verifies `signed` under: the current key
    /// is tried first, so only datagrams under the accepted key (or under
    /// neither) pay for a second try.
    pub(super) fn verify(&self, signed: &[u8], tag: &[u8; MAC_LEN]) -> Option<KeyId> {
        if self.current.verifies(signed, tag) {
            return Some(self.current.id());
        }
        self.accepted
            .as_ref()
            .filter(|key| key.verifies(signed, tag))
            .map(Key::id)
    }
}

/// One key, accepted and sent under.
impl From<Key> for Keys {
    fn from(current: Key) -> Keys {
        Keys {
            current,
            accepted: None,
        }
    }
}

/// Why a cluster key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The key has `len` bytes, fewer than [`MIN_KEY_LEN`].
    TooShort {
        /// The key's length in bytes.
        len: usize,
    },
    /// The accepted key is the current key again.
    SameKey,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::TooShort { len } => write!(
                f,
                "the cluster key has {len} bytes; it needs at least {MIN_KEY_LEN}"
            ),
            KeyError::SameKey => f.write_str("the accepted key is the current key"),
        }
    }
}

impl std::error::Error for KeyError {}
