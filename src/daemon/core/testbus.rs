//! What the stand-in group services of the core's tests share: the
//! message a member's multicast becomes, and the methods of a service
//! that delivers its reports as they are and has no deadline of its own.

use crate::engine::Message;

/// The message `sender`'s multicast of `mess_type` delivers.
pub(super) fn sent_by(sender: &str, mess_type: i16, body: &[u8]) -> Message {
    Message {
        sender: sender.into(),
        mess_type,
        endian_mismatch: false,
        body: body.to_vec(),
    }
}

/// The [`GroupService`](crate::daemon::group::GroupService) methods of a
/// stand-in whose reports are the group's events themselves, that has no
/// deadline and nothing to reconfigure, named `$name`.
macro_rules! passive_service {
    ($name:literal) => {
        type Report = GroupEvent;

        fn handle(&mut self, report: GroupEvent) -> Option<GroupEvent> {
            Some(report)
        }

        fn deadline(&self) -> Option<Instant> {
            None
        }

        fn on_deadline(&mut self) {}

        fn reconfigure(&mut self, _config: &Config) {}

        fn name(&self) -> &'static str {
            $name
        }
    };
}
pub(super) use passive_service;
