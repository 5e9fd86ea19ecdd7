//! The two kinds of position the engine deals in, kept apart by type: a
//! VIF's place in the configuration and a member's place in the view.

/// A VIF's position in the configuration (`VirtualInterfaces` order),
/// the same on every node whose configuration agrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VifIndex(pub usize);

/// A member's position in the current view, in the group service's order
/// (0 leads). Meaningless once the view changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberIndex(pub usize);
