//! `wackatrl --metrics`: the JSON status in the Prometheus text exposition
//! format (version 0.0.4), for node_exporter's textfile collector or a
//! scrape through a small wrapper.
//!
//! It is rendered by the client from the status the daemon serves
//! (request 3), so every daemon that answers it can be scraped. Every
//! family has `# HELP` and `# TYPE` lines before its samples; names carry
//! the `wackamole_` prefix, counters end in `_total`, times are in
//! seconds, states are one sample per state valued 1 or 0 (the state the
//! daemon reports is always among them), and label values are escaped as
//! the format asks (backslash, double quote, newline). A series the status
//! would name twice (a daemon listing a member twice) is given once.

use std::collections::HashSet;
use std::fmt::Write as _;

use super::json::{JsonMembership, JsonRefused, JsonStatus};

/// The engine's phases, as the status's `state` names them.
const PHASES: [&str; 4] = ["BOOT", "GATHER", "RUN", "DISCONNECTED"];
/// The states each group service reports.
const SPREAD_STATES: [&str; 5] = ["connected", "connecting", "waiting", "refused", "left"];
const MEMBERSHIP_STATES: [&str; 5] = [
    "joining",
    "in view",
    "changing view",
    "left",
    "not answering",
];
/// How this node sees a listed node of the built-in membership.
const PEER_STATES: [&str; 5] = ["self", "in view", "reachable", "suspected", "unreachable"];

/// The exposition of `status`, ending with a newline.
pub fn render(status: &JsonStatus) -> String {
    let mut out = Exposition::default();
    node(&mut out, status);
    vifs(&mut out, status);
    service(&mut out, status);
    if let Some(membership) = status.service.as_ref().and_then(|s| s.membership.as_ref()) {
        membership_metrics(&mut out, membership);
    }
    out.render()
}

fn node(out: &mut Exposition, status: &JsonStatus) {
    let service = status.service.as_ref();
    out.gauge(
        "wackamole_info",
        "This node: its identity and group service; always 1.",
    )
    .sample(
        &[
            ("identity", status.identity.as_deref().unwrap_or("")),
            ("service", service.map_or("", |s| s.name.as_str())),
            ("endpoint", service.map_or("", |s| s.endpoint.as_str())),
        ],
        1,
    );
    let phase = out.gauge(
        "wackamole_state",
        "The engine's phase: 1 for the one it is in, 0 for the others.",
    );
    state_set(phase, &[], "state", &PHASES, &status.state);
    out.gauge(
        "wackamole_mature",
        "Whether this node has matured (1) or not (0).",
    )
    .sample(&[], u64::from(status.mature));
    out.gauge("wackamole_view_members", "Members of the group view.")
        .sample(&[], status.member_count as u64);
    out.gauge("wackamole_vifs", "Configured VIFs.")
        .sample(&[], status.vif_count as u64);
    out.gauge("wackamole_vifs_acquired", "VIFs some member holds.")
        .sample(&[], status.acquired_count as u64);
    out.gauge("wackamole_vifs_held", "VIFs this node holds.")
        .sample(&[], status.held_count as u64);
    let held = out.gauge(
        "wackamole_member_vifs_held",
        "VIFs each member of the view holds, by member name and address.",
    );
    for m in &status.members {
        let address = m.address.as_deref().unwrap_or("");
        held.sample(&[("member", &m.name), ("node", address)], u64::from(m.held));
    }
}

fn vifs(out: &mut Exposition, status: &JsonStatus) {
    let labels = |vif: &super::json::JsonVif| {
        let primary = vif.addresses.first().map_or("", |a| a.address.as_str());
        [
            ("vif", vif.index.to_string()),
            ("address", primary.to_string()),
        ]
    };
    let owned_here = |vif: &super::json::JsonVif| {
        vif.owner.is_some() && vif.owner.as_deref() == status.identity.as_deref()
    };
    let held = out.gauge(
        "wackamole_vif_held",
        "Whether this node holds the VIF (1) or not (0), by index and primary address.",
    );
    for vif in &status.vifs {
        held.sample(&pairs(&labels(vif)), u64::from(owned_here(vif)));
    }
    let acquired = out.gauge(
        "wackamole_vif_acquired",
        "Whether some member holds the VIF (1) or none does (0).",
    );
    for vif in &status.vifs {
        acquired.sample(&pairs(&labels(vif)), u64::from(vif.owner.is_some()));
    }
    let owner = out.gauge(
        "wackamole_vif_owner_info",
        "The real address of the member holding the VIF; always 1.",
    );
    for vif in &status.vifs {
        if let Some(by) = &vif.owner {
            let [vif_label, address] = labels(vif);
            owner.sample(&pairs(&[vif_label, address, ("owner", by.clone())]), 1);
        }
    }
    let priority = out.gauge(
        "wackamole_vif_claim_priority",
        "This node's claim priority on the VIF, 0 (UNCLAIMED) to 5 (PREFER_CLAIMED).",
    );
    for vif in &status.vifs {
        priority.sample_text(&pairs(&labels(vif)), vif.priority.to_string());
    }
}

fn service(out: &mut Exposition, status: &JsonStatus) {
    if let Some(service) = &status.service {
        let known: &[&str] = match service.name.as_str() {
            "spread" => &SPREAD_STATES,
            "membership" => &MEMBERSHIP_STATES,
            _ => &[],
        };
        let states = out.gauge(
            "wackamole_service_state",
            "The group service's state: 1 for the one it is in, 0 for the others.",
        );
        let name = [("service", service.name.as_str())];
        state_set(states, &name, "state", known, &service.state);
        out.gauge(
            "wackamole_service_error",
            "Whether a failure of the group service needs someone to act (1) or not (0).",
        )
        .sample(&name, u64::from(service.error.is_some()));
    }
    if let Some(quorum) = &status.quorum {
        out.gauge(
            "wackamole_quorum_met",
            "Whether the view has the members the Quorum rule asks for (1) or not (0).",
        )
        .sample(&[], u64::from(quorum.met));
        out.gauge(
            "wackamole_quorum_needed",
            "Members a view needs, by Quorum rule (0 for none).",
        )
        .sample(&[("rule", &quorum.rule)], quorum.needed as u64);
        out.gauge(
            "wackamole_quorum_members",
            "Members of the current view as the quorum counts them (0 outside any view).",
        )
        .sample(&[], quorum.members.unwrap_or(0) as u64);
    }
}

fn membership_metrics(out: &mut Exposition, m: &JsonMembership) {
    out.gauge(
        "wackamole_membership_join_time_seconds",
        "When this node last joined (its incarnation), in seconds since 1970.",
    )
    .sample_text(&[], scaled(m.incarnation, 1_000_000, 6));
    out.gauge(
        "wackamole_membership_in_view",
        "Whether the built-in membership has installed a view (1) or not (0).",
    )
    .sample(&[], u64::from(m.view.is_some()));
    out.gauge(
        "wackamole_membership_view_members",
        "Members of the built-in membership's view (0 without a view).",
    )
    .sample(&[], m.view.as_ref().map_or(0, |v| v.members.len()) as u64);
    out.gauge(
        "wackamole_membership_changing_view",
        "Whether a view change is under way (1) or not (0).",
    )
    .sample(&[], u64::from(m.changing_view));
    let coordinator = out.gauge(
        "wackamole_membership_coordinator_info",
        "The node whose proposals this node follows; always 1.",
    );
    if let Some(address) = &m.coordinator {
        coordinator.sample(&[("node", address)], 1);
    }
    out.counter(
        "wackamole_membership_views_installed_total",
        "Views the built-in membership installed since the start.",
    )
    .sample(&[], m.views_installed);
    if let Some(count) = m.unreachable_suspicions {
        out.counter(
            "wackamole_membership_unreachable_suspicions_total",
            "Peers suspected at once because their host answered with ICMP port unreachable.",
        )
        .sample(&[], count);
    }
    out.counter(
        "wackamole_membership_dropped_multicasts_total",
        "Multicasts dropped: asked between views, or left unsequenced when a view ended.",
    )
    .sample(&[], m.dropped_multicasts);
    let refused = out.counter(
        "wackamole_membership_refused_datagrams_total",
        "Refused datagrams no listed node can be blamed for, by reason.",
    );
    refusals(refused, &[], &m.refused);
    let state = out.gauge(
        "wackamole_membership_peer_state",
        "How this node sees each listed node: 1 for its state, 0 for the others.",
    );
    for n in &m.nodes {
        state_set(
            state,
            &[("node", &n.address)],
            "state",
            &PEER_STATES,
            &n.state,
        );
    }
    let heard = out.gauge(
        "wackamole_membership_peer_last_heard_seconds",
        "Seconds since each listed node's last accepted datagram (absent if never).",
    );
    for n in &m.nodes {
        if let Some(ms) = n.last_heard_ms {
            heard.sample_text(&[("node", &n.address)], scaled(ms, 1000, 3));
        }
    }
    let blamed = out.counter(
        "wackamole_membership_peer_refused_datagrams_total",
        "Datagrams of each listed node that authenticated but were refused, by reason.",
    );
    for n in &m.nodes {
        refusals(blamed, &[("node", &n.address)], &n.refused);
    }
}

fn refusals(family: &mut Family, labels: &[(&'static str, &str)], counts: &JsonRefused) {
    for (reason, count) in [
        ("malformed", counts.malformed),
        ("bad_mac", counts.bad_mac),
        ("wrong_cluster", counts.wrong_cluster),
        ("misdirected", counts.misdirected),
        ("old_incarnation", counts.old_incarnation),
        ("replayed", counts.replayed),
    ] {
        let mut with_reason = labels.to_vec();
        with_reason.push(("reason", reason));
        family.sample(&with_reason, count);
    }
}

/// One sample per state of `known`, 1 for `current`, which is added when
/// it is not among them.
fn state_set(
    family: &mut Family,
    labels: &[(&'static str, &str)],
    label: &'static str,
    known: &[&str],
    current: &str,
) {
    let extra = (!known.contains(&current)).then_some(current);
    for state in known.iter().copied().chain(extra) {
        let mut with_state = labels.to_vec();
        with_state.push((label, state));
        family.sample(&with_state, u64::from(state == current));
    }
}

fn pairs<'a, const N: usize>(
    labels: &'a [(&'static str, String); N],
) -> Vec<(&'static str, &'a str)> {
    labels.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// `value / unit` in decimal, exactly (`unit` = 10^`digits`).
fn scaled(value: u64, unit: u64, digits: usize) -> String {
    format!("{}.{:0digits$}", value / unit, value % unit)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gauge,
    Counter,
}

/// Metric families in the order they were opened.
#[derive(Default)]
struct Exposition {
    families: Vec<Family>,
}

struct Family {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    /// Rendered label sets and values, each label set once.
    samples: Vec<(String, String)>,
    seen: HashSet<String>,
}

impl Exposition {
    fn gauge(&mut self, name: &'static str, help: &'static str) -> &mut Family {
        self.family(name, help, Kind::Gauge)
    }

    fn counter(&mut self, name: &'static str, help: &'static str) -> &mut Family {
        self.family(name, help, Kind::Counter)
    }

    fn family(&mut self, name: &'static str, help: &'static str, kind: Kind) -> &mut Family {
        self.families.push(Family {
            name,
            help,
            kind,
            samples: Vec::new(),
            seen: HashSet::new(),
        });
        let last = self.families.len() - 1;
        &mut self.families[last]
    }

    /// Families without samples are left out.
    fn render(&self) -> String {
        let mut text = String::new();
        for family in self.families.iter().filter(|f| !f.samples.is_empty()) {
            let kind = match family.kind {
                Kind::Gauge => "gauge",
                Kind::Counter => "counter",
            };
            let name = family.name;
            let _ = writeln!(text, "# HELP {name} {}", escape_help(family.help));
            let _ = writeln!(text, "# TYPE {name} {kind}");
            for (labels, value) in &family.samples {
                let _ = writeln!(text, "{name}{labels} {value}");
            }
        }
        text
    }
}

impl Family {
    fn sample(&mut self, labels: &[(&'static str, &str)], value: u64) -> &mut Family {
        self.sample_text(labels, value.to_string())
    }

    fn sample_text(&mut self, labels: &[(&'static str, &str)], value: String) -> &mut Family {
        let mut text = String::new();
        if !labels.is_empty() {
            let rendered: Vec<String> = labels
                .iter()
                .map(|(name, v)| format!("{name}=\"{}\"", escape_label(v)))
                .collect();
            text = format!("{{{}}}", rendered.join(","));
        }
        if self.seen.insert(text.clone()) {
            self.samples.push((text, value));
        }
        self
    }
}

/// A label value as the format writes it: `\`, `"` and newline escaped.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Help text as the format writes it: `\` and newline escaped.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod check;
#[cfg(test)]
mod tests;
