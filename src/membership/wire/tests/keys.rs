//! Two keys at once: datagrams open under either, the current key first,
//! and key ids name keys without revealing them.

use super::*;

fn other_key() -> Key {
    Key::new(b"another key of the cluster").expect("long enough")
}

fn third_key() -> Key {
    Key::new(b"a key nobody here accepts").expect("long enough")
}

fn datagram(under: &Key) -> Vec<u8> {
    encode(under, &header(), &Body::Leave)
}

#[test]
fn a_key_id_is_the_start_of_the_tag_of_the_label() {
    // Expected values from Python's hmac over the same key and text.
    let rfc = Key::new(&[0x0b; 20]).expect("a 20-byte key");
    assert_eq!(rfc.id().to_string(), "7026558c");
    assert_eq!(key().id().to_string(), "d4e7e71e");
    assert_eq!(KEY_ID_LABEL, b"wackamole key id");
}

#[test]
fn a_key_id_is_stable_and_differs_between_keys() {
    assert_eq!(key().id(), key().id());
    assert_eq!(other_key().id(), other_key().id());
    assert_ne!(key().id(), other_key().id());
    assert_ne!(key().id(), third_key().id());
    // Eight hex digits, nothing of the secret.
    let shown = other_key().id().to_string();
    assert_eq!(shown.len(), 8);
    assert!(shown.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(!hex_of(b"another key of the cluster").contains(&shown));
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_datagram_opens_under_either_key_and_says_which() {
    let keys = Keys::new(key(), Some(other_key())).expect("two keys");
    for (under, id) in [(key(), key().id()), (other_key(), other_key().id())] {
        let bytes = datagram(&under);
        let (opened, used) = open_under(&keys, &bytes).expect("opens");
        assert_eq!(used, id);
        assert_eq!(opened.header, header());
        assert_eq!(opened.kind, Kind::Leave.byte());
    }
    // Under neither: refused as a bad MAC, as with one key.
    assert_eq!(
        open_under(&keys, &datagram(&third_key())),
        Err(WireError::BadMac)
    );
    // A flipped bit of the tag is no datagram under either.
    let mut broken = datagram(&other_key());
    let last = broken.len() - 1;
    broken[last] ^= 1;
    assert_eq!(open_under(&keys, &broken), Err(WireError::BadMac));
    // Framing is checked before any key.
    assert_eq!(
        open_under(&keys, &[0; 10]),
        Err(WireError::TooShort { len: 10 })
    );
}

#[test]
fn one_key_accepts_only_itself() {
    let keys = Keys::from(key());
    assert!(keys.accepted().is_none());
    assert_eq!(keys.current().id(), key().id());
    assert!(open_under(&keys, &datagram(&key())).is_ok());
    assert_eq!(
        open_under(&keys, &datagram(&other_key())),
        Err(WireError::BadMac)
    );
    // The single-key `open` agrees.
    assert!(open(&key(), &datagram(&key())).is_ok());
    assert_eq!(
        open(&key(), &datagram(&other_key())),
        Err(WireError::BadMac)
    );
}

#[test]
fn the_accepted_key_must_be_another_key() {
    assert_eq!(
        Keys::new(key(), Some(key())).map(|_| ()),
        Err(KeyError::SameKey)
    );
    assert!(Keys::new(key(), Some(other_key())).is_ok());
    assert!(Keys::new(key(), None).is_ok());
    assert_eq!(
        KeyError::SameKey.to_string(),
        "the accepted key is the current key"
    );
}
