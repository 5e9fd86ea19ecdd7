//! The `wackatrl` side: connect, ask, read the reply within a time-out,
//! and print the listing as the original tool does.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use nanoserde::DeJson;
use socket2::{Domain, SockAddr, Socket, Type};

use super::json::JsonStatus;
use super::wire::{
    decode_length, decode_state, AddressRecord, RequestKind, StateReply, VifRecord, VIF_LEN,
};
use super::ControlError;

/// Time allowed for connecting and for each reply.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest state reply accepted: far more VIFs than any cluster has.
const MAX_STATE_LEN: usize = 65_536 * VIF_LEN;
/// Largest JSON reply accepted.
const MAX_JSON_LEN: usize = 64 << 20;

/// What `wackatrl` was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `-l`
    List,
    /// `-f`: simulate a failure, then list.
    SimulateFailure,
    /// `-s`: end the simulated failure, then list.
    EndFailure,
}

/// A connection to a daemon's control socket.
pub struct ControlClient {
    stream: UnixStream,
}

impl ControlClient {
    /// Connects within `timeout`; every later reply must also arrive
    /// within `timeout`.
    pub fn connect(path: &Path, timeout: Duration) -> Result<ControlClient, ControlError> {
        let context = || {
            format!(
                "cannot connect to {} (is wackamole running?)",
                path.display()
            )
        };
        let address = SockAddr::unix(path).map_err(|e| ControlError::io(context(), e))?;
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)
            .map_err(|e| ControlError::io(context(), e))?;
        // A Unix connect waits for room in the listen backlog for at most
        // the send time-out (non-blocking connects report EAGAIN instead).
        socket
            .set_write_timeout(Some(timeout))
            .map_err(|e| ControlError::io(context(), e))?;
        socket.connect(&address).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => ControlError::TimedOut("connecting"),
            _ => ControlError::io(context(), e),
        })?;
        let stream = UnixStream::from(std::os::fd::OwnedFd::from(socket));
        let setup = |e| ControlError::io("control socket: set time-outs", e);
        stream.set_read_timeout(Some(timeout)).map_err(setup)?;
        stream.set_write_timeout(Some(timeout)).map_err(setup)?;
        Ok(ControlClient { stream })
    }

    /// Request 0: the VIF table.
    pub fn state(&mut self) -> Result<StateReply, ControlError> {
        self.send(RequestKind::State)?;
        let len = decode_length(self.read_array("reading the state length")?, MAX_STATE_LEN)?;
        decode_state(&self.read_vec(len, "reading the state")?)
    }

    /// Request 1.
    pub fn simulate_failure(&mut self) -> Result<(), ControlError> {
        self.acknowledged(RequestKind::SimulateFailure)
    }

    /// Request 2.
    pub fn end_failure(&mut self) -> Result<(), ControlError> {
        self.acknowledged(RequestKind::EndFailure)
    }

    /// Request 3 (ours): the JSON status, checked to be a well-formed
    /// document before it is returned.
    pub fn json_status(&mut self) -> Result<String, ControlError> {
        self.send(RequestKind::JsonStatus)?;
        let len = decode_length(self.read_array("reading the JSON length")?, MAX_JSON_LEN)?;
        let text = String::from_utf8(self.read_vec(len, "reading the JSON status")?)
            .map_err(|_| ControlError::BadReply("JSON status is not UTF-8".to_string()))?;
        JsonStatus::deserialize_json(&text)
            .map_err(|e| ControlError::BadReply(format!("JSON status: {e}")))?;
        Ok(text)
    }

    fn acknowledged(&mut self, kind: RequestKind) -> Result<(), ControlError> {
        self.send(kind)?;
        match i32::from_be_bytes(self.read_array("reading the acknowledgement")?) {
            0 => Ok(()),
            code => Err(ControlError::Refused(code)),
        }
    }

    fn send(&mut self, kind: RequestKind) -> Result<(), ControlError> {
        self.stream
            .write_all(&[kind.byte()])
            .map_err(|e| ControlError::transfer("sending the request", e))
    }

    fn read_array(&mut self, what: &'static str) -> Result<[u8; 4], ControlError> {
        let mut buf = [0u8; 4];
        self.stream
            .read_exact(&mut buf)
            .map_err(|e| ControlError::transfer(what, e))?;
        Ok(buf)
    }

    fn read_vec(&mut self, len: usize, what: &'static str) -> Result<Vec<u8>, ControlError> {
        let mut buf = vec![0u8; len];
        self.stream
            .read_exact(&mut buf)
            .map_err(|e| ControlError::transfer(what, e))?;
        Ok(buf)
    }
}

/// The listing of `wackatrl -l`, as the original prints it: per VIF
/// `Owner: ADDRESS` (or `not acquired`), the primary as `\t*   IF:ADDR/BITS`
/// and every other address as `\t -> IF:ADDR/BITS`, the interface name
/// right-aligned in five columns. (The original derived BITS from the mask
/// in host byte order and so printed /32 for every mask on little-endian
/// machines; we print the true length.)
pub fn render_listing(reply: &StateReply) -> String {
    let mut out = String::new();
    for vif in &reply.vifs {
        match vif.owner {
            Some(owner) => {
                let _ = writeln!(out, "Owner: {owner}");
            }
            None => out.push_str("Owner: not acquired\n"),
        }
        for (n, a) in vif.addresses.iter().enumerate() {
            let mark = if n == 0 { "*  " } else { " ->" };
            let _ = writeln!(
                out,
                "\t{mark} {:>5}:{}/{}",
                a.interface, a.addr, a.prefix_len
            );
        }
    }
    out
}

/// What the listing shows: from our JSON status, which carries IPv6
/// addresses too; from the original state reply when the daemon does not
/// answer request 3 (an original daemon, which has no IPv6 addresses).
fn listing(mut client: ControlClient, socket: &Path) -> Result<StateReply, ControlError> {
    let text = match client.json_status() {
        Ok(text) => text,
        Err(_) => return ControlClient::connect(socket, DEFAULT_TIMEOUT)?.state(),
    };
    let status = JsonStatus::deserialize_json(&text)
        .map_err(|e| ControlError::BadReply(format!("JSON status: {e}")))?;
    state_from_json(&status)
}

/// The listing's view of a JSON status.
pub fn state_from_json(status: &JsonStatus) -> Result<StateReply, ControlError> {
    let bad =
        |what: &str, text: &str| ControlError::BadReply(format!("JSON status: {what} `{text}`"));
    let mut vifs = Vec::with_capacity(status.vifs.len());
    for vif in &status.vifs {
        let owner = match &vif.owner {
            Some(text) => Some(text.parse().map_err(|_| bad("owner", text))?),
            None => None,
        };
        let mut addresses = Vec::with_capacity(vif.addresses.len());
        for a in &vif.addresses {
            addresses.push(AddressRecord {
                interface: a.interface.clone(),
                addr: a.address.parse().map_err(|_| bad("address", &a.address))?,
                prefix_len: a.prefix_len,
            });
        }
        vifs.push(VifRecord {
            priority: vif.priority,
            owner,
            addresses,
        });
    }
    Ok(StateReply { vifs })
}

/// What `wackatrl` does: act if asked to, then print the listing (or the
/// JSON document with `json`) to `out`.
pub fn run(
    socket: &Path,
    action: Action,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), ControlError> {
    let mut client = ControlClient::connect(socket, DEFAULT_TIMEOUT)?;
    match action {
        Action::List => {}
        Action::SimulateFailure => client.simulate_failure()?,
        Action::EndFailure => client.end_failure()?,
    }
    let text = if json {
        client.json_status()? + "\n"
    } else {
        render_listing(&listing(client, socket)?)
    };
    out.write_all(text.as_bytes())
        .map_err(|e| ControlError::io("writing the listing", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::status::tests::sample_status;

    #[test]
    fn listing_matches_the_original_format() {
        let text = render_listing(&sample_status().state_reply());
        assert_eq!(
            text,
            "Owner: 192.168.1.10\n\
             \t*    eth0:10.0.0.5/24\n\
             \t ->  eth1:192.0.2.5/32\n\
             Owner: not acquired\n\
             \t*    eth0:10.0.0.6/24\n"
        );
    }

    #[test]
    fn ipv6_addresses_are_listed_in_their_usual_form() {
        let mut status = sample_status();
        status.vifs[1].addresses.push(crate::base::VifAddress {
            interface: "eth0".into(),
            addr: "2001:db8::6".parse().unwrap(),
            prefix_len: 64,
            network_len: 64,
        });
        let reply = state_from_json(&status.json()).unwrap();
        assert_eq!(reply, {
            let mut expected = status.state_reply();
            expected.vifs[1].addresses[1].prefix_len = 64;
            expected
        });
        assert_eq!(
            render_listing(&reply),
            "Owner: 192.168.1.10\n\
             \t*    eth0:10.0.0.5/24\n\
             \t ->  eth1:192.0.2.5/32\n\
             Owner: not acquired\n\
             \t*    eth0:10.0.0.6/24\n\
             \t ->  eth0:2001:db8::6/64\n"
        );
    }

    #[test]
    fn long_interface_names_are_not_cut() {
        let mut status = sample_status();
        status.vifs.truncate(1);
        status.vifs[0].addresses.truncate(1);
        status.vifs[0].addresses[0].interface = "bond0.100".to_string();
        assert_eq!(
            render_listing(&status.state_reply()),
            "Owner: 192.168.1.10\n\t*   bond0.100:10.0.0.5/24\n"
        );
    }
}
