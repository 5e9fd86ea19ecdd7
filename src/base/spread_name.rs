//! The Spread group-name rule: the configuration checks `Group` by it and
//! the Spread layer sends by it.

/// Size of a name field on the wire, including its terminating NUL.
pub const GROUP_NAME_FIELD: usize = 32;
/// Longest group (or private group) name: the field minus its NUL.
pub const MAX_GROUP_NAME: usize = GROUP_NAME_FIELD - 1;

/// Whether `name` is a group name the library accepts: 1..=31 bytes, all
/// in 36..=126 (`$` to `~`).
pub fn is_legal_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_GROUP_NAME
        && name.bytes().all(|b| (36..=126).contains(&b))
}
