//! Renewing the lifetime of addresses we added with one (see
//! [`iface`](super::iface) on lifetimes), never adding one back.
//!
//! rtnetlink has no request that changes an address only if it is there:
//! both families add a missing address even to an `RTM_NEWADDR` without
//! `NLM_F_CREATE`. So a renewal reads the addresses first and replaces
//! only those there with a lifetime, then reads them again: the kernel
//! stamps each address with its creation time, so an address that expired
//! between the two reads and that our replace therefore added anew shows
//! another stamp. That one is deleted again and reported missing, as it
//! was. The requests go out many to a datagram; a renewal of N addresses
//! costs two dumps and about N / 32 round trips.

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::time::Duration;

use super::addrmsg::{settable_flags, Change, KernelAddress, Lifetimes};
use super::error::{Action, Error, Result};
use super::iface::{all_addresses, checked_lifetime, index_of, netlink, Renewal};
use super::netlink::Netlink;
use crate::base::VifAddress;

const ACTION: Action = Action::RenewAddress;

/// What is known of one address while renewing.
enum Step {
    /// Answered already.
    Done(Result<Renewal>),
    /// Renewal number `request` was asked for; `before` is the address as
    /// it was.
    Asked {
        request: usize,
        before: KernelAddress,
    },
}

/// The addresses of the families `vips` needs, of every interface.
struct Present {
    v4: Vec<KernelAddress>,
    v6: Vec<KernelAddress>,
}

impl Present {
    /// The IPv4 addresses if `v4`, the IPv6 ones if `v6`.
    fn read(nl: &mut Netlink, v4: bool, v6: bool) -> Result<Present> {
        let mut dump = |wanted: bool, family: i32| match wanted {
            true => all_addresses(nl, family, (ACTION, "", None)),
            false => Ok(Vec::new()),
        };
        Ok(Present {
            v4: dump(v4, libc::AF_INET)?,
            v6: dump(v6, libc::AF_INET6)?,
        })
    }

    fn find(&self, index: u32, addr: IpAddr) -> Option<&KernelAddress> {
        let family = match addr {
            IpAddr::V4(_) => &self.v4,
            IpAddr::V6(_) => &self.v6,
        };
        family.iter().find(|a| a.index == index && a.local == addr)
    }
}

/// See [`iface::renew_all`](super::iface::renew_all).
pub(super) fn renew_all(vips: &[VifAddress], lifetime: Duration) -> Result<Vec<Result<Renewal>>> {
    let Some(first) = vips.first() else {
        return Ok(Vec::new());
    };
    let seconds = checked_lifetime(lifetime, ACTION, first)?;
    let mut indexes: BTreeMap<&str, Option<u32>> = BTreeMap::new();
    let mut located: Vec<Result<Option<u32>>> = Vec::with_capacity(vips.len());
    for vip in vips {
        let known = indexes.get(vip.interface.as_str()).copied();
        located.push(match known {
            Some(known) => Ok(known),
            None => index_of(&vip.interface, ACTION, Some(vip.addr)).inspect(|&found| {
                indexes.insert(&vip.interface, found);
            }),
        });
    }
    let wanted = |v6: bool| {
        vips.iter()
            .zip(&located)
            .any(|(vip, at)| vip.addr.is_ipv6() == v6 && matches!(at, Ok(Some(_))))
    };
    let mut nl = netlink(ACTION, "", None)?;
    let (v4, v6) = (wanted(false), wanted(true));
    let before = Present::read(&mut nl, v4, v6)?;

    let mut requests = Vec::new();
    let mut steps: Vec<Step> = Vec::with_capacity(vips.len());
    for (vip, at) in vips.iter().zip(located) {
        let step = match at {
            Err(e) => Step::Done(Err(e)),
            Ok(None) => Step::Done(Ok(Renewal::Missing)),
            Ok(Some(index)) => match before.find(index, vip.addr) {
                None => Step::Done(Ok(Renewal::Missing)),
                Some(present) if present.is_permanent() => Step::Done(Ok(Renewal::Permanent)),
                Some(present) => {
                    requests.push(KernelAddress {
                        flags: settable_flags(present.local, present.flags),
                        lifetimes: Some(Lifetimes::both(seconds)),
                        created: 0,
                        ..present.clone()
                    });
                    Step::Asked {
                        request: requests.len() - 1,
                        before: present.clone(),
                    }
                }
            },
        };
        steps.push(step);
    }
    let after = if requests.is_empty() {
        None
    } else {
        let refs: Vec<&KernelAddress> = requests.iter().collect();
        let answers = nl
            .change_all(Change::Replace, &refs)
            .map_err(|e| Error::os(ACTION, "", None, e))?;
        Some((answers, Present::read(&mut nl, v4, v6)?))
    };
    let mut answers: Vec<Option<io::Result<()>>> = Vec::new();
    let now = after.map(|(replies, present)| {
        answers = replies.into_iter().map(Some).collect();
        present
    });
    Ok(vips
        .iter()
        .zip(steps)
        .map(|(vip, step)| match step {
            Step::Done(done) => done,
            Step::Asked { request, before } => {
                let about = (vip.interface.as_str(), vip.addr);
                if let Some(Err(e)) = answers.get_mut(request).and_then(Option::take) {
                    return Err(Error::os(ACTION, about.0, Some(about.1), e));
                }
                let found = now
                    .as_ref()
                    .and_then(|p| p.find(before.index, before.local));
                judge(&mut nl, &before, found, about)
            }
        })
        .collect())
}

/// What became of an address renewed from `before`, now `now`: the same
/// address (same creation stamp) was renewed; one our request created
/// anew is deleted again and missing, as it was.
fn judge(
    nl: &mut Netlink,
    before: &KernelAddress,
    now: Option<&KernelAddress>,
    (interface, addr): (&str, IpAddr),
) -> Result<Renewal> {
    let Some(now) = now else {
        return Ok(Renewal::Missing);
    };
    if now.created != before.created {
        return match nl.change(Change::Delete, now) {
            Ok(()) => Ok(Renewal::Missing),
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => Ok(Renewal::Missing),
            Err(e) => Err(Error::os(ACTION, interface, Some(addr), e)),
        };
    }
    Ok(if now.is_permanent() {
        Renewal::Permanent
    } else {
        Renewal::Renewed
    })
}
