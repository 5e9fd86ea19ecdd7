//! A node's JSON status, the one way tests read it: `wackatrl -l --json`
//! (or the same document asked straight on the control socket) decoded
//! into the daemon's own document type, with the text kept for messages.
//!
//! The document has `state`, `mature`, `view_id`, `member_count`,
//! `held_count` and `quorum` at the top; for the built-in membership,
//! `service.membership` holds the installed `view` (ltime, coordinator,
//! incarnation, members), `views_installed`, the `refused` datagrams no
//! listed node can be blamed for (by reason), and `nodes`: one object per
//! configured node in `Nodes` order with its `state` (`self`, `in view`,
//! `reachable`, `suspected`, `unreachable`), `incarnation`,
//! `last_heard_ms` and its own `refused` counts.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use nanoserde::SerJson;
use wackamole::control::json::{JsonMembership, JsonNode, JsonRefused, JsonStatus};
use wackamole::control::ControlClient;

/// One node's JSON status.
#[derive(Debug, Clone)]
pub struct Status {
    /// The document, decoded.
    pub doc: JsonStatus,
    /// The document as the daemon sent it.
    pub text: String,
}

impl Status {
    /// Decodes a document of our daemon.
    pub fn parse(text: &str) -> Result<Status, String> {
        let text = text.trim().to_string();
        let doc = JsonStatus::decode(&text)
            .map_err(|e| format!("not our JSON status document: {e}: {text}"))?;
        Ok(Status { doc, text })
    }

    /// What `wackatrl -l --json` printed, when it succeeded.
    pub fn from_listing(out: &Output) -> Result<Status, String> {
        if !out.status.success() {
            return Err(format!(
                "wackatrl -l --json failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Status::parse(&String::from_utf8_lossy(&out.stdout))
    }

    /// Runs `wackatrl -l --json` for the daemon configured by `config`.
    pub fn listing(config: &Path) -> Result<Status, String> {
        let out = Command::new(env!("CARGO_BIN_EXE_wackamole"))
            .args(["ctl", "-l", "--json", "-c"])
            .arg(config)
            .output()
            .map_err(|e| format!("cannot run wackatrl: {e}"))?;
        Status::from_listing(&out)
    }

    /// Asks the daemon behind `control` for its JSON status directly.
    pub fn ask(control: &Path, timeout: Duration) -> Result<Status, String> {
        let text = ControlClient::connect(control, timeout)
            .and_then(|mut client| client.json_status())
            .map_err(|e| e.to_string())?;
        Status::parse(&text)
    }

    /// The engine's state: `BOOT`, `GATHER`, `RUN` or `DISCONNECTED`.
    pub fn state(&self) -> &str {
        &self.doc.state
    }

    pub fn mature(&self) -> bool {
        self.doc.mature
    }

    pub fn held_count(&self) -> usize {
        self.doc.held_count
    }

    /// The group service's name (`spread` or `membership`) and state.
    pub fn service(&self) -> Option<(&str, &str)> {
        let service = self.doc.service.as_ref()?;
        Some((service.name.as_str(), service.state.as_str()))
    }

    /// What the built-in membership reports, when it runs.
    pub fn membership(&self) -> Option<&JsonMembership> {
        self.doc.service.as_ref()?.membership.as_ref()
    }

    /// The installed view's id (the membership's own when the document
    /// has it) as `ltime/coordinator/incarnation`, else the engine's;
    /// None without a view.
    pub fn view_id(&self) -> Option<String> {
        match self.membership() {
            Some(m) => m
                .view
                .as_ref()
                .map(|v| format!("{}/{}/{}", v.ltime, v.coordinator, v.incarnation)),
            None => self.doc.view_id.as_ref().map(|id| format!("{id:?}")),
        }
    }

    /// How many members the membership's installed view has (the
    /// engine's count where the document has no membership).
    pub fn view_size(&self) -> usize {
        match self.membership() {
            Some(m) => m.view.as_ref().map_or(0, |v| v.members.len()),
            None => self.doc.member_count,
        }
    }

    /// The per-node objects, in configuration order.
    pub fn nodes(&self) -> &[JsonNode] {
        self.membership().map_or(&[], |m| &m.nodes)
    }

    /// Each configured node's state as this node sees it.
    pub fn node_states(&self) -> Vec<String> {
        self.nodes().iter().map(|n| n.state.clone()).collect()
    }

    /// Every datagram this node refused, whatever the reason and sender.
    pub fn refused(&self) -> u64 {
        self.refusals().flat_map(reasons).map(|(_, n)| n).sum()
    }

    /// Refused datagrams for `reason` (`bad_mac`, `replayed`, ...), from
    /// no node in particular and from every node.
    pub fn refused_for(&self, reason: &str) -> u64 {
        self.refusals()
            .flat_map(reasons)
            .filter(|(name, _)| *name == reason)
            .map(|(_, n)| n)
            .sum()
    }

    /// The membership's own refusal counts, then each node's.
    fn refusals(&self) -> impl Iterator<Item = &JsonRefused> {
        self.membership()
            .map(|m| &m.refused)
            .into_iter()
            .chain(self.nodes().iter().map(|n| &n.refused))
    }

    /// How many views this node's membership has installed.
    pub fn views_installed(&self) -> Option<u64> {
        Some(self.membership()?.views_installed)
    }

    /// Peers this node's membership suspected on a port unreachable.
    pub fn unreachable_suspicions(&self) -> Option<u64> {
        self.membership()?.unreachable_suspicions
    }

    /// Whether the view meets the quorum (None when not reported).
    pub fn quorum_met(&self) -> Option<bool> {
        Some(self.doc.quorum.as_ref()?.met)
    }

    /// The document without its VIF and member lists, for messages.
    pub fn summary(&self) -> String {
        let mut short = self.doc.clone();
        short.vifs.clear();
        short.members.clear();
        short.serialize_json()
    }
}

/// Each refusal reason by its name in the document, with its count.
fn reasons(r: &JsonRefused) -> [(&'static str, u64); 6] {
    [
        ("malformed", r.malformed),
        ("bad_mac", r.bad_mac),
        ("wrong_cluster", r.wrong_cluster),
        ("misdirected", r.misdirected),
        ("old_incarnation", r.old_incarnation),
        ("replayed", r.replayed),
    ]
}
