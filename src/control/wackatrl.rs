//! What the `wackatrl` command does: act if asked to (`-f`, `-s`), then
//! print the listing, the JSON status or the metrics; or watch. It drives
//! the connection of [`client`](super::client) and the watch of
//! [`watch_client`](super::watch_client), which know nothing of it.

use std::io::Write;
use std::path::Path;

use super::client::{
    decode_status, health_marks, render_listing, render_marked, state_from_json, ControlClient,
    DEFAULT_TIMEOUT,
};
use super::ControlError;

/// What `wackatrl` was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `-l`
    List,
    /// `-f`: simulate a failure, then list.
    SimulateFailure,
    /// `-s`: end the simulated failure, then list.
    EndFailure,
    /// `--metrics`: the status in the Prometheus text format.
    Metrics,
    /// `--watch`: every event, until the watch ends.
    Watch,
}

/// What the listing shows: from our JSON status, which carries IPv6
/// addresses too; from the original state reply when the daemon does not
/// answer request 3 (an original daemon, which has no IPv6 addresses).
/// The JSON text is checked once, by the decoder; an answer that is not
/// our document is an error, not a reason to ask again.
fn listing(mut client: ControlClient, socket: &Path) -> Result<String, ControlError> {
    match client.json_text() {
        Ok(text) => {
            let status = decode_status(&text)?;
            Ok(render_marked(
                &state_from_json(&status)?,
                &health_marks(&status),
            ))
        }
        Err(_) => Ok(render_listing(
            &ControlClient::connect(socket, DEFAULT_TIMEOUT)?.state()?,
        )),
    }
}

/// What `wackatrl` does: act if asked to, then print the listing (or the
/// JSON document with `json`, or the metrics) to `out`; or watch.
pub fn run(
    socket: &Path,
    action: Action,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), ControlError> {
    if action == Action::Watch {
        return super::watch_client::watch(socket, json, out);
    }
    let mut client = ControlClient::connect(socket, DEFAULT_TIMEOUT)?;
    match action {
        Action::List | Action::Metrics | Action::Watch => {}
        Action::SimulateFailure => client.simulate_failure()?,
        Action::EndFailure => client.end_failure()?,
    }
    let text = if action == Action::Metrics {
        super::metrics::render(&decode_status(&client.json_text()?)?)
    } else if json {
        client.json_status()? + "\n"
    } else {
        listing(client, socket)?
    };
    match out.write_all(text.as_bytes()) {
        // The reader went away (`wackatrl -l | head`): nothing left to do.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => written.map_err(|e| ControlError::io("writing the listing", e)),
    }
}

#[cfg(test)]
mod tests;
