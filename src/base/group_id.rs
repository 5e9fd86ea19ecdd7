//! The id of one view of the group: the group service delivers it with
//! every view, and the engine copies it into its STATE and PROCEED bodies
//! to tie them to that view.

use std::fmt;
use std::net::Ipv4Addr;

/// Identifies one view of a group. Spread delivers the three integers
/// with each membership; the built-in membership derives them from its
/// view id (see the daemon's bridge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId {
    /// First word. Spread: the IPv4 address of the daemon that created the
    /// daemon membership. Built-in: the high half of the view's ltime.
    pub proc_id: u32,
    /// Second word. Spread: the daemon membership's timestamp. Built-in:
    /// the low half of the view's ltime.
    pub time: u32,
    /// Third word. Spread: counts views of this group within that daemon
    /// membership. Built-in: the coordinator's index in the top byte over
    /// the low 24 bits of its incarnation.
    pub index: u32,
}

impl GroupId {
    /// The three integers, in the order Spread keeps them (and Wackamole
    /// copies into its STATE messages).
    pub const fn raw(&self) -> [u32; 3] {
        [self.proc_id, self.time, self.index]
    }

    /// The id whose integers, in [`GroupId::raw`]'s order, are `raw`.
    pub const fn from_raw(raw: [u32; 3]) -> GroupId {
        GroupId {
            proc_id: raw[0],
            time: raw[1],
            index: raw[2],
        }
    }
}

impl fmt::Display for GroupId {
    /// `10.99.0.1/1795562150/3`: the three words, the first as an IPv4
    /// address (Spread's creating daemon; for a built-in view it is just
    /// the ltime's high half written that way).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            Ipv4Addr::from(self.proc_id),
            self.time,
            self.index
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_keeps_spreads_order() {
        let id = GroupId::from_raw([1, 2, 3]);
        assert_eq!((id.proc_id, id.time, id.index), (1, 2, 3));
        assert_eq!(id.raw(), [1, 2, 3]);
    }

    #[test]
    fn display_names_daemon_time_and_index() {
        assert_eq!(
            GroupId::from_raw([174_260_225, 1_795_562_150, 3]).to_string(),
            "10.99.0.1/1795562150/3"
        );
    }
}
