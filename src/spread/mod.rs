//! The Spread client protocol (Spread 4.4), spoken directly: no libspread.
//!
//! - [`wire`]: pure encoding and decoding of the handshake and frames;
//! - [`Session`]: a blocking session over TCP or a Unix socket, with the
//!   calls of the Spread library (connect, join, leave, multicast,
//!   receive, disconnect);
//! - [`SessionEvent`]: what `receive` returns;
//! - [`Error`]: every failure, with a message that says what to do.
//!
//! ```no_run
//! use wackamole::config::SpreadAddress;
//! use wackamole::spread::{ConnectOptions, SessionEvent, Service, Session};
//!
//! # fn main() -> Result<(), wackamole::spread::Error> {
//! let daemon = SpreadAddress::Local { port: 4803 };
//! let session = Session::connect(&daemon, "demo", ConnectOptions::default())?;
//! session.join("wack1")?;
//! session.multicast(Service::Agreed, &["wack1"], 1, b"hello")?;
//! loop {
//!     match session.receive()? {
//!         SessionEvent::Membership(view) => println!("view {} members {:?}", view.group_id, view.members),
//!         SessionEvent::Message(msg) if msg.sender == session.private_group() => break,
//!         other => println!("{other:?}"),
//!     }
//! }
//! session.disconnect()
//! # }
//! ```

#![forbid(unsafe_code)]

pub mod address;
mod error;
pub mod event;
pub mod session;
pub mod wire;

pub use error::Error;
pub use event::{
    Cause, Membership, MembershipKind, Message, Rejected, RejectedRequest, Service, ServiceType,
    SessionEvent,
};
pub use session::{ConnectOptions, Session, SessionReader, SessionWriter};
pub use wire::{GroupId, RejectCode};
