//! The membership key file: its whole content is the secret that
//! authenticates every datagram of the cluster. [`load_key`] refuses a file
//! that others could read or that is too short to be a key;
//! [`load_keys`] reads `Key` and, during a rotation, `AcceptKey`, which
//! must hold another key; [`write_new_key`] is `wackamole keygen`.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Fewest bytes a key may hold.
pub const MIN_KEY_LEN: usize = 16;
/// Most bytes a key may hold: anything longer is not a key file.
pub const MAX_KEY_LEN: usize = 4096;
/// Bytes of a key `wackamole keygen` writes.
pub const NEW_KEY_LEN: usize = 32;

/// Why a key file cannot be used or written.
#[derive(Debug)]
pub enum KeyFileError {
    /// The file cannot be opened or read.
    Unreadable {
        /// The key file.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// The path names a directory, a device or the like.
    NotAFile {
        /// The key file.
        path: PathBuf,
    },
    /// Group or others may read or write the file.
    Exposed {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Fewer bytes than the membership accepts as a key.
    TooShort {
        /// The key file.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
    /// Longer than [`MAX_KEY_LEN`].
    TooLong {
        /// The key file.
        path: PathBuf,
    },
    /// `keygen` found the file already there.
    Exists {
        /// The key file.
        path: PathBuf,
    },
    /// `keygen` could not create or fill the file.
    Unwritable {
        /// The key file.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// `keygen` could not get random bytes from the kernel.
    NoRandomness {
        /// The key file.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// The file `AcceptKey` names cannot be used (the reason inside).
    InAcceptKey(Box<KeyFileError>),
    /// `AcceptKey` holds the same key as `Key`.
    SameAsKey {
        /// The file `Key` names.
        key: PathBuf,
        /// The file `AcceptKey` names.
        accept: PathBuf,
    },
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileError::Unreadable { path, error } => {
                write!(
                    f,
                    "cannot read the membership key {}: {error}",
                    path.display()
                )
            }
            KeyFileError::NotAFile { path } => write!(
                f,
                "the membership key {} is not a regular file",
                path.display()
            ),
            KeyFileError::Exposed { path, mode } => write!(
                f,
                "the membership key {0} may be read or written by group or others (mode {1:04o}); \
                 chmod 600 {0}",
                path.display(),
                mode & 0o7777
            ),
            KeyFileError::TooShort { path, len } => write!(
                f,
                "the membership key {} holds {len} bytes, fewer than {MIN_KEY_LEN}; write a new \
                 one with `wackamole keygen FILE`",
                path.display()
            ),
            KeyFileError::TooLong { path } => write!(
                f,
                "the membership key {} is longer than {MAX_KEY_LEN} bytes, which no key file is; \
                 write a new one with `wackamole keygen FILE`",
                path.display()
            ),
            KeyFileError::Exists { path } => write!(
                f,
                "{} already exists; keygen never overwrites a file (remove it first to replace \
                 the key)",
                path.display()
            ),
            KeyFileError::Unwritable { path, error } => {
                write!(f, "cannot write the key file {}: {error}", path.display())
            }
            KeyFileError::NoRandomness { path, error } => write!(
                f,
                "cannot get random bytes for the key file {}: {error}",
                path.display()
            ),
            KeyFileError::InAcceptKey(inner) => write!(f, "AcceptKey: {inner}"),
            KeyFileError::SameAsKey { key, accept } => write!(
                f,
                "AcceptKey {} holds the same key as Key {}; AcceptKey names the other key of a \
                 rotation (remove it once every node sends under Key)",
                accept.display(),
                key.display()
            ),
        }
    }
}

impl std::error::Error for KeyFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeyFileError::Unreadable { error, .. }
            | KeyFileError::Unwritable { error, .. }
            | KeyFileError::NoRandomness { error, .. } => Some(error),
            KeyFileError::InAcceptKey(inner) => Some(&**inner),
            _ => None,
        }
    }
}

/// Reads the key at `path`: a regular file, of mode 0600 or stricter,
/// holding [`MIN_KEY_LEN`] to [`MAX_KEY_LEN`] bytes, all of which are the
/// key.
pub fn load_key(path: &Path) -> Result<Vec<u8>, KeyFileError> {
    let unreadable = |error| KeyFileError::Unreadable {
        path: path.to_path_buf(),
        error,
    };
    let file = File::open(path).map_err(unreadable)?;
    // The checks look at the file opened, not at whatever the path names
    // a moment later.
    let metadata = file.metadata().map_err(unreadable)?;
    if !metadata.is_file() {
        return Err(KeyFileError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let mode = metadata.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Exposed {
            path: path.to_path_buf(),
            mode,
        });
    }
    let mut key = Vec::new();
    let limit = u64::try_from(MAX_KEY_LEN + 1).unwrap_or(u64::MAX);
    file.take(limit).read_to_end(&mut key).map_err(unreadable)?;
    if key.len() > MAX_KEY_LEN {
        return Err(KeyFileError::TooLong {
            path: path.to_path_buf(),
        });
    }
    if key.len() < MIN_KEY_LEN {
        return Err(KeyFileError::TooShort {
            path: path.to_path_buf(),
            len: key.len(),
        });
    }
    Ok(key)
}

/// The secrets of a `Membership` block: `Key`'s, and `AcceptKey`'s if set.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MembershipKeys {
    /// The key datagrams are sent (and accepted) under.
    pub current: Vec<u8>,
    /// One more key datagrams are accepted under, never sent under.
    pub accepted: Option<Vec<u8>>,
}

/// Never shows the secrets.
impl fmt::Debug for MembershipKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MembershipKeys")
            .field("accepted", &self.accepted.is_some())
            .finish_non_exhaustive()
    }
}

/// Reads `key` and `accept` (if any) as [`load_key`] does; an accepted
/// key must differ from the current one.
pub fn load_keys(key: &Path, accept: Option<&Path>) -> Result<MembershipKeys, KeyFileError> {
    let current = load_key(key)?;
    let accepted = match accept {
        None => None,
        Some(path) => {
            let accepted =
                load_key(path).map_err(|err| KeyFileError::InAcceptKey(Box::new(err)))?;
            if accepted == current {
                return Err(KeyFileError::SameAsKey {
                    key: key.to_path_buf(),
                    accept: path.to_path_buf(),
                });
            }
            Some(accepted)
        }
    };
    Ok(MembershipKeys { current, accepted })
}

/// Creates `path` with mode 0600 and `key` in it (for `wackamole keygen`:
/// [`NEW_KEY_LEN`] random bytes the caller drew). An existing file is
/// never touched; a file this call created but could not fill is removed
/// again.
pub fn write_new_key(path: &Path, key: &[u8]) -> Result<(), KeyFileError> {
    let unwritable = |error| KeyFileError::Unwritable {
        path: path.to_path_buf(),
        error,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|error| match error.kind() {
            io::ErrorKind::AlreadyExists => KeyFileError::Exists {
                path: path.to_path_buf(),
            },
            _ => unwritable(error),
        })?;
    // The umask may only have taken bits away; set exactly 0600 anyway so
    // the key always loads.
    let filled = file
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| file.write_all(key))
        .and_then(|()| file.sync_all());
    if let Err(error) = filled {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(unwritable(error));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    fn write_with_mode(path: &Path, content: &[u8], mode: u32) {
        std::fs::write(path, content).expect("write a key");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn a_private_key_loads_whole() {
        let dir = TempDir::new("key-load");
        let path = dir.path().join("cluster.key");
        let content = b"sixteen bytes!!\n";
        write_with_mode(&path, content, 0o600);
        assert_eq!(load_key(&path).expect("loads"), content.to_vec());
        write_with_mode(&path, content, 0o400);
        assert!(load_key(&path).is_ok());
    }

    #[test]
    fn exposed_short_long_and_missing_keys_are_refused() {
        let dir = TempDir::new("key-refuse");
        let path = dir.path().join("cluster.key");
        for mode in [0o640, 0o604, 0o660, 0o644, 0o602] {
            write_with_mode(&path, &[7; 32], mode);
            let err = load_key(&path).unwrap_err();
            assert!(
                matches!(err, KeyFileError::Exposed { .. }),
                "{mode:o}: {err}"
            );
            let message = err.to_string();
            assert!(
                message.contains(&format!("chmod 600 {}", path.display()))
                    && message.contains(&format!("(mode {mode:04o})")),
                "{message}"
            );
        }
        write_with_mode(&path, &[7; 15], 0o600);
        let short = load_key(&path).unwrap_err();
        assert!(
            matches!(short, KeyFileError::TooShort { len: 15, .. }),
            "{short}"
        );
        assert!(short.to_string().contains("15 bytes, fewer than 16"));
        write_with_mode(&path, &[7; MAX_KEY_LEN + 1], 0o600);
        assert!(matches!(load_key(&path), Err(KeyFileError::TooLong { .. })));
        let missing = dir.path().join("absent.key");
        let err = load_key(&missing).unwrap_err();
        assert!(matches!(err, KeyFileError::Unreadable { .. }));
        assert!(err.to_string().starts_with(&format!(
            "cannot read the membership key {}: ",
            missing.display()
        )));
        assert!(matches!(
            load_key(dir.path()),
            Err(KeyFileError::NotAFile { .. })
        ));
    }

    #[test]
    fn an_accepted_key_is_checked_like_the_key_and_must_differ() {
        let dir = TempDir::new("key-accept");
        let key = dir.path().join("new.key");
        let accept = dir.path().join("old.key");
        write_with_mode(&key, &[1; 32], 0o600);
        write_with_mode(&accept, &[2; 32], 0o600);
        let keys = load_keys(&key, Some(&accept)).expect("two keys");
        assert_eq!(keys.current, vec![1; 32]);
        assert_eq!(keys.accepted, Some(vec![2; 32]));
        assert_eq!(load_keys(&key, None).expect("one key").accepted, None);
        assert!(!format!("{keys:?}").contains("1, 1"), "{keys:?}");
        write_with_mode(&accept, &[2; 15], 0o600);
        let short = load_keys(&key, Some(&accept)).unwrap_err();
        assert!(
            short.to_string().starts_with(&format!(
                "AcceptKey: the membership key {} holds 15 bytes, fewer than 16",
                accept.display()
            )),
            "{short}"
        );
        write_with_mode(&accept, &[2; 32], 0o644);
        let exposed = load_keys(&key, Some(&accept)).unwrap_err();
        assert!(
            exposed
                .to_string()
                .contains(&format!("chmod 600 {}", accept.display())),
            "{exposed}"
        );
        let missing = dir.path().join("absent.key");
        let unreadable = load_keys(&key, Some(&missing)).unwrap_err();
        assert!(
            unreadable.to_string().starts_with(&format!(
                "AcceptKey: cannot read the membership key {}",
                missing.display()
            )),
            "{unreadable}"
        );
        write_with_mode(&accept, &[1; 32], 0o600);
        let same = load_keys(&key, Some(&accept)).unwrap_err();
        assert!(matches!(same, KeyFileError::SameAsKey { .. }));
        assert_eq!(
            same.to_string(),
            format!(
                "AcceptKey {} holds the same key as Key {}; AcceptKey names the other key of a \
                 rotation (remove it once every node sends under Key)",
                accept.display(),
                key.display()
            )
        );
        // The key itself is checked first, and named as such.
        write_with_mode(&key, &[1; 8], 0o600);
        let err = load_keys(&key, Some(&accept)).unwrap_err();
        assert!(
            matches!(err, KeyFileError::TooShort { len: 8, .. }),
            "{err}"
        );
    }

    #[test]
    fn keygen_writes_a_fresh_private_key_once() {
        let dir = TempDir::new("keygen");
        let path = dir.path().join("new.key");
        let drawn = [7u8; NEW_KEY_LEN];
        write_new_key(&path, &drawn).expect("writes");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let key = load_key(&path).expect("the new key loads");
        assert_eq!(key, drawn);
        let err = write_new_key(&path, &[9u8; NEW_KEY_LEN]).unwrap_err();
        assert!(matches!(err, KeyFileError::Exists { .. }), "{err}");
        assert_eq!(load_key(&path).expect("still there"), key);
        let nowhere = dir.path().join("no-such-dir").join("x.key");
        let err = write_new_key(&nowhere, &drawn).unwrap_err();
        assert!(matches!(err, KeyFileError::Unwritable { .. }));
        assert!(err.to_string().contains(&nowhere.display().to_string()));
    }
}
