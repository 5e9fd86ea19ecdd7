//! The client side of the control socket: connect, ask, read the reply
//! within a time-out; and render the listing as the original tool prints
//! it. What the `wackatrl` command does with them is in
//! [`wackatrl`](super::wackatrl).

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr, Socket, Type};

use super::json::check::check_object;
use super::json::JsonStatus;
use super::wire::{
    decode_length, decode_state, AddressRecord, RequestKind, StateReply, VifRecord, VIF_LEN,
};
use super::ControlError;

/// Time allowed for connecting and for each reply, whole: a daemon that
/// trickles its answer a byte at a time does not hold the tool longer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest state reply accepted: far more VIFs than any cluster has.
/// Memory follows the bytes that arrive, not the length announced.
const MAX_STATE_LEN: usize = 65_536 * VIF_LEN;
/// Largest JSON reply accepted.
const MAX_JSON_LEN: usize = 64 << 20;
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 16 << 10;

/// A connection to a daemon's control socket.
pub struct ControlClient {
    stream: UnixStream,
    /// How long a whole reply may take.
    timeout: Duration,
    /// When the reply to the last request must be complete.
    deadline: Instant,
}

impl ControlClient {
    /// Connects within `timeout`; every later reply must also arrive,
    /// whole, within `timeout` of its request.
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
        stream
            .set_write_timeout(Some(timeout))
            .map_err(|e| ControlError::io("control socket: set time-outs", e))?;
        Ok(ControlClient {
            stream,
            timeout,
            deadline: Instant::now() + timeout,
        })
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

    /// Request 3 (ours): the JSON status, as received, once checked to be
    /// a well-formed document (see [`json_reply`]).
    pub fn json_status(&mut self) -> Result<String, ControlError> {
        self.json_text().and_then(well_formed)
    }

    /// Request 4 (ours): the connection, now a stream of watch lines, the
    /// first due within the time-out.
    pub(super) fn into_watch(mut self) -> Result<UnixStream, ControlError> {
        self.send(RequestKind::Watch)?;
        let timeouts = |e| ControlError::io("control socket: set time-outs", e);
        self.stream
            .set_read_timeout(Some(self.timeout))
            .map_err(timeouts)?;
        Ok(self.stream)
    }

    /// Request 3's reply as UTF-8 text, not yet checked.
    pub(super) fn json_text(&mut self) -> Result<String, ControlError> {
        self.send(RequestKind::JsonStatus)?;
        let len = decode_length(self.read_array("reading the JSON length")?, MAX_JSON_LEN)?;
        utf8(self.read_vec(len, "reading the JSON status")?)
    }

    fn acknowledged(&mut self, kind: RequestKind) -> Result<(), ControlError> {
        self.send(kind)?;
        match i32::from_be_bytes(self.read_array("reading the acknowledgement")?) {
            0 => Ok(()),
            code => Err(ControlError::Refused(code)),
        }
    }

    fn send(&mut self, kind: RequestKind) -> Result<(), ControlError> {
        self.deadline = Instant::now() + self.timeout;
        self.stream
            .write_all(&[kind.byte()])
            .map_err(|e| ControlError::transfer("sending the request", e))
    }

    /// One read of at most `buf.len()` bytes (0 at the end of the
    /// stream), waiting no later than the reply's deadline.
    fn read_some(&mut self, buf: &mut [u8], what: &'static str) -> Result<usize, ControlError> {
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ControlError::TimedOut(what));
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|e| ControlError::io("control socket: set time-outs", e))?;
            match self.stream.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                read => return read.map_err(|e| ControlError::transfer(what, e)),
            }
        }
    }

    fn read_array(&mut self, what: &'static str) -> Result<[u8; 4], ControlError> {
        let mut buf = [0u8; 4];
        let mut filled = 0;
        while filled < buf.len() {
            match self.read_some(&mut buf[filled..], what)? {
                0 => return Err(ControlError::Truncated(what)),
                n => filled += n,
            }
        }
        Ok(buf)
    }

    /// Reads `len` bytes, growing the buffer as they arrive: a peer that
    /// announces a long reply and sends little costs little.
    fn read_vec(&mut self, len: usize, what: &'static str) -> Result<Vec<u8>, ControlError> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; READ_CHUNK];
        while buf.len() < len {
            let want = (len - buf.len()).min(READ_CHUNK);
            match self.read_some(&mut chunk[..want], what)? {
                0 => return Err(ControlError::Truncated(what)),
                n => buf.extend_from_slice(&chunk[..n]),
            }
        }
        Ok(buf)
    }
}

/// The body of a JSON reply as `wackatrl --json` prints it: UTF-8 text
/// holding one well-formed JSON object, returned unchanged. The check
/// cannot panic or loop, whatever the bytes.
pub fn json_reply(body: Vec<u8>) -> Result<String, ControlError> {
    utf8(body).and_then(well_formed)
}

fn utf8(body: Vec<u8>) -> Result<String, ControlError> {
    String::from_utf8(body)
        .map_err(|_| ControlError::BadReply("JSON status is not UTF-8".to_string()))
}

fn well_formed(text: String) -> Result<String, ControlError> {
    check_object(text.as_bytes())
        .map_err(|e| ControlError::BadReply(format!("JSON status: {e}")))?;
    Ok(text)
}

/// The listing of `wackatrl -l`, as the original prints it: per VIF
/// `Owner: ADDRESS` (or `not acquired`), the primary as `\t*   IF:ADDR/BITS`
/// and every other address as `\t -> IF:ADDR/BITS`, the interface name
/// right-aligned in five columns. (The original derived BITS from the mask
/// in host byte order and so printed /32 for every mask on little-endian
/// machines; we print the true length.)
pub fn render_listing(reply: &StateReply) -> String {
    render_marked(reply, &[])
}

/// A member whose agreed health is not `healthy`, from the JSON status:
/// its address, name, and the word the listing marks it with.
pub type HealthMark = (Option<std::net::Ipv4Addr>, String, String);

/// The listing, with each owner in `marks` marked by its word after its
/// address, and a line per marked member at the end (`Member NAME
/// (ADDRESS): unhealthy`), since an unhealthy member owns nothing while
/// another can.
pub fn render_marked(reply: &StateReply, marks: &[HealthMark]) -> String {
    let mut out = String::new();
    for vif in &reply.vifs {
        match vif.owner {
            Some(owner) => {
                let _ = write!(out, "Owner: {owner}");
                if let Some((_, _, word)) = marks.iter().find(|m| m.0 == Some(owner)) {
                    let _ = write!(out, " ({word})");
                }
                out.push('\n');
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
    for (address, name, word) in marks {
        let address = address.map_or_else(|| "no address yet".to_string(), |a| a.to_string());
        let _ = writeln!(out, "Member {name} ({address}): {word}");
    }
    out
}

/// The members of a JSON status whose health is `unhealthy` or
/// `partial`.
pub fn health_marks(status: &JsonStatus) -> Vec<HealthMark> {
    status
        .members
        .iter()
        .filter_map(|m| {
            let word = match (m.health.as_deref()?, m.servable) {
                ("unhealthy", _) => "unhealthy".to_string(),
                ("partial", Some(n)) => {
                    format!("partial: {n} of {} VIFs servable", status.vif_count)
                }
                _ => return None,
            };
            let address = m.address.as_deref().and_then(|a| a.parse().ok());
            Some((address, m.name.clone(), word))
        })
        .collect()
}

/// Our JSON status from the text of a reply ([`JsonStatus::decode`]: no
/// text can make it panic or loop).
pub fn decode_status(text: &str) -> Result<JsonStatus, ControlError> {
    JsonStatus::decode(text).map_err(|e| ControlError::BadReply(format!("JSON status: {e}")))
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

#[cfg(test)]
pub(crate) mod tests;
