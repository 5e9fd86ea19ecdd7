//! The random schedule: joins, graceful leaves, crashes, partitions,
//! merges, partial deliveries, timer firings and changes of health, and
//! the step that draws one of them.

use std::collections::BTreeSet;

use super::c_rules;
use super::sim::Sim;
use wackamole::engine::{Engine, Input, LocalHealth, Timer};

impl Sim {
    fn alive(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].alive)
            .collect()
    }

    fn join(&mut self, node: usize) {
        let labels: BTreeSet<usize> = self.alive().iter().map(|&i| self.nodes[i].label).collect();
        let label = if labels.is_empty() || self.rng.chance(15) {
            self.next_label += 1;
            self.next_label
        } else {
            *labels
                .iter()
                .nth(self.rng.below(labels.len()))
                .expect("in range")
        };
        self.note(|| format!("join n{node} (label {label})"));
        let n = &mut self.nodes[node];
        n.alive = true;
        n.label = label;
        if !n.foreign {
            n.engine = Some(Engine::new(n.settings.clone()));
            n.twin = (!self.duplicate && !self.health_seen)
                .then(|| c_rules::Twin::new(n.settings.identity, n.settings.vifs.clone()));
            self.feed(node, Input::Connected, None);
            let health = self.nodes[node].health.clone();
            if !health.is_full() {
                self.feed(node, Input::Health(health), None);
            }
        }
        self.membership_change();
    }

    fn leave(&mut self, node: usize) {
        self.note(|| format!("leave n{node}"));
        self.feed(node, Input::Disconnected, None);
        let n = &mut self.nodes[node];
        assert!(n.up.iter().all(|u| !u), "{} left holding VIFs", n.name);
        assert!(
            n.timers.is_empty(),
            "{} left with timers {:?}",
            n.name,
            n.timers
        );
        n.alive = false;
        n.engine = None;
        n.twin = None;
        self.membership_change();
    }

    fn crash(&mut self, node: usize) {
        self.note(|| format!("crash n{node}"));
        let n = &mut self.nodes[node];
        n.alive = false;
        n.engine = None;
        n.twin = None;
        n.up.fill(false);
        n.timers.clear();
        self.membership_change();
    }

    fn partition(&mut self) {
        let groups = self.groups();
        let splittable: Vec<&Vec<usize>> = groups.iter().filter(|g| g.len() >= 2).collect();
        if splittable.is_empty() {
            return;
        }
        let group = splittable[self.rng.below(splittable.len())].clone();
        let parts = self.rng.range(2, 3.min(group.len()));
        let labels: Vec<usize> = (0..parts)
            .map(|_| {
                self.next_label += 1;
                self.next_label
            })
            .collect();
        for &m in &group {
            self.nodes[m].label = labels[self.rng.below(parts)];
        }
        self.stats.partitions += 1;
        self.note(|| format!("partition {group:?} into {parts}"));
        self.membership_change();
    }

    fn merge(&mut self) {
        let labels: BTreeSet<usize> = self.alive().iter().map(|&i| self.nodes[i].label).collect();
        if labels.len() < 2 {
            return;
        }
        let labels: Vec<usize> = labels.into_iter().collect();
        let into = labels[self.rng.below(labels.len())];
        let count = self.rng.range(2, labels.len());
        let mut merged = Vec::new();
        for &l in labels.iter().take(count) {
            for n in self.nodes.iter_mut().filter(|n| n.alive && n.label == l) {
                n.label = into;
            }
            merged.push(l);
        }
        self.stats.merges += 1;
        self.note(|| format!("merge labels {merged:?} into {into}"));
        self.membership_change();
    }

    fn fire(&mut self, node: usize, timer: Timer) {
        let Some(deadline) = self.nodes[node].timers.remove(&timer) else {
            return;
        };
        self.now = self.now.max(deadline);
        self.note(|| format!("timer {timer:?} fires on n{node}"));
        let comp = self.comp_of(node);
        self.feed(node, Input::TimerFired(timer), comp);
    }

    fn fire_random_timer(&mut self) {
        let armed: Vec<(usize, Timer)> = self
            .alive()
            .into_iter()
            .flat_map(|i| self.nodes[i].timers.keys().map(move |&t| (i, t)))
            // A RELEASED comes within milliseconds, long before the
            // release timer: it fires only once nothing is left to deliver.
            .filter(|&(_, t)| t != Timer::ReleaseWait)
            .collect();
        if !armed.is_empty() {
            let (node, timer) = armed[self.rng.below(armed.len())];
            self.fire(node, timer);
        }
    }

    fn deliver_some(&mut self) {
        let busy: Vec<usize> = (0..self.comps.len())
            .filter(|&c| !self.comps[c].queue.is_empty())
            .collect();
        if busy.is_empty() {
            return;
        }
        let c = busy[self.rng.below(busy.len())];
        for _ in 0..self.rng.range(1, 5) {
            self.deliver_one(c);
        }
    }

    /// Delivers everything and lets timers run (earliest first) until
    /// nothing more happens; with `hold_maturity`, maturity timers stay
    /// unfired, so immature components can be checked too.
    pub(super) fn quiesce(&mut self, hold_maturity: bool) {
        for _ in 0..200_000 {
            let mut delivered = false;
            for c in 0..self.comps.len() {
                while self.deliver_one(c) {
                    delivered = true;
                }
            }
            if delivered {
                continue;
            }
            let next = self
                .alive()
                .into_iter()
                .flat_map(|i| {
                    self.nodes[i]
                        .timers
                        .iter()
                        .filter(|(&t, _)| {
                            t != Timer::ArpShare && !(hold_maturity && t == Timer::Maturity)
                        })
                        .map(move |(&t, &d)| (d, i, t))
                })
                .min();
            match next {
                Some((_, node, timer)) => self.fire(node, timer),
                None => return,
            }
        }
        panic!("the cluster never became quiet");
    }

    /// A node of ours changes health: node-wide, back to full, or some
    /// VIFs' interfaces.
    fn change_health(&mut self) {
        let ours: Vec<usize> = self
            .alive()
            .into_iter()
            .filter(|&i| !self.nodes[i].original && self.nodes[i].engine.is_some())
            .collect();
        if ours.is_empty() {
            return;
        }
        let node = ours[self.health_rng.below(ours.len())];
        let vifs = self.vifs.len();
        let health = match self.health_rng.below(10) {
            0..=4 => LocalHealth {
                healthy: !self.nodes[node].health.healthy,
                vifs: vec![true; vifs],
            },
            5..=7 => LocalHealth::full(vifs),
            _ => LocalHealth {
                healthy: true,
                vifs: (0..vifs).map(|_| !self.health_rng.chance(30)).collect(),
            },
        };
        self.note(|| format!("health of n{node}: {health:?}"));
        self.stats.health_changes += 1;
        self.health_seen = true;
        for n in &mut self.nodes {
            n.twin = None;
        }
        self.nodes[node].health = health.clone();
        let comp = self.comp_of(node);
        self.feed(node, Input::Health(health), comp);
    }

    pub(super) fn step(&mut self) {
        if self.health_on && self.health_rng.chance(12) {
            self.change_health();
        }
        let alive = self.alive();
        let down: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| !self.nodes[i].alive)
            .collect();
        match self.rng.below(100) {
            0..=24 if !down.is_empty() => {
                let n = down[self.rng.below(down.len())];
                self.join(n);
            }
            25..=32 if !alive.is_empty() => {
                let n = alive[self.rng.below(alive.len())];
                self.leave(n);
            }
            33..=39 if !alive.is_empty() => {
                let n = alive[self.rng.below(alive.len())];
                self.crash(n);
            }
            40..=49 => self.partition(),
            50..=59 => self.merge(),
            60..=74 => self.deliver_some(),
            75..=89 => self.fire_random_timer(),
            _ => {
                let hold_maturity = self.rng.chance(30);
                self.note(|| format!("quiesce (maturity held: {hold_maturity}) and check"));
                self.quiesce(hold_maturity);
                self.check();
            }
        }
    }
}
