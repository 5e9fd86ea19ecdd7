//! Watches a window of a schedule in which nothing happens but nodes
//! joining (a start, a partition healing): no node that holds a view may
//! lose it or install one with fewer members than its last. Under a
//! quorum, either would release every address for a join that takes
//! nothing away.

use wackamole::membership::Event;

/// An open window: per node, the member count of its last view.
pub struct JoinWindow {
    /// When the window opened (µs of simulated time).
    pub since: u64,
    sizes: Vec<Option<usize>>,
}

impl JoinWindow {
    /// A window opening at `since`; `sizes[i]` is the member count of
    /// node `i`'s view (`None`: it holds none).
    pub fn new(since: u64, sizes: Vec<Option<usize>>) -> JoinWindow {
        JoinWindow { since, sizes }
    }

    /// Node `i` reported `event` inside the window: an error if it was in
    /// a view and left it, or went to a smaller one.
    pub fn event(&mut self, i: usize, event: &Event) -> Result<(), String> {
        match event {
            Event::View { members, .. } => {
                let now = members.len();
                if let Some(before) = self.sizes[i].filter(|&before| now < before) {
                    return Err(format!(
                        "a join shrank a view: node {i} went from a view of {before} \
                         members to one of {now} in the join window opened at {}µs",
                        self.since
                    ));
                }
                self.sizes[i] = Some(now);
            }
            Event::Left(reason) => {
                if let Some(before) = self.sizes[i] {
                    return Err(format!(
                        "a join emptied a view: node {i} left its view of {before} \
                         members ({reason:?}) in the join window opened at {}µs",
                        self.since
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }
}
