//! This node's own health, as its trackers decide it (placeholder until
//! the engine's health input is merged).

/// What this node's trackers say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalHealth {
    /// False while a node-wide tracker fails (an interface, a check command, the drain file).
    pub healthy: bool,
    /// One per VIF, in configuration order: false while an interface that one of the VIF's
    /// addresses sits on is down or has no carrier.
    pub vifs: Vec<bool>,
}
