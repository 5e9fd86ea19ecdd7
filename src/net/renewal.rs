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
use super::ifaddr::{all_addresses, checked_lifetime, index_of, netlink, Renewal};
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
    // Nothing to renew: no request, and no second read.
    let (answers, now) = if requests.is_empty() {
        (Vec::new(), None)
    } else {
        let refs: Vec<&KernelAddress> = requests.iter().collect();
        let answers = nl
            .change_all(Change::Replace, &refs)
            .map_err(|e| Error::os(ACTION, "", None, e))?;
        (answers, Some(Present::read(&mut nl, v4, v6)?))
    };
    let mut answers: Vec<Option<io::Result<()>>> = answers.into_iter().map(Some).collect();
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

/// What the second read says of an address renewed from `before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// The same address (the same creation stamp), with a lifetime.
    Renewed,
    /// The same address, now without a lifetime: someone made it
    /// permanent meanwhile.
    Permanent,
    /// Gone.
    Missing,
    /// Another address (a new creation stamp): it expired or was removed
    /// after the first read, and our request added it anew.
    AddedAnew,
}

fn verdict(before: &KernelAddress, now: Option<&KernelAddress>) -> Verdict {
    match now {
        None => Verdict::Missing,
        Some(now) if now.created != before.created => Verdict::AddedAnew,
        Some(now) if now.is_permanent() => Verdict::Permanent,
        Some(_) => Verdict::Renewed,
    }
}

/// The renewal of an address renewed from `before`, now `now`; one our
/// request added anew is deleted again and missing, as it was.
fn judge(
    nl: &mut Netlink,
    before: &KernelAddress,
    now: Option<&KernelAddress>,
    (interface, addr): (&str, IpAddr),
) -> Result<Renewal> {
    Ok(match verdict(before, now) {
        Verdict::Renewed => Renewal::Renewed,
        Verdict::Permanent => Renewal::Permanent,
        Verdict::Missing => Renewal::Missing,
        Verdict::AddedAnew => {
            if let Some(now) = now {
                match nl.change(Change::Delete, now) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {}
                    Err(e) => return Err(Error::os(ACTION, interface, Some(addr), e)),
                }
            }
            Renewal::Missing
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn at(created: u32, lifetimes: Option<Lifetimes>) -> KernelAddress {
        KernelAddress {
            created,
            ..KernelAddress::new(
                2,
                Ipv4Addr::new(10, 0, 0, 5).into(),
                24,
                Some("va:1".into()),
                lifetimes,
            )
        }
    }

    #[test]
    fn only_the_same_address_counts_as_renewed() {
        let before = at(500, Some(Lifetimes::both(1)));
        let renewed = at(500, Some(Lifetimes::both(2)));
        assert_eq!(verdict(&before, Some(&renewed)), Verdict::Renewed);
        assert_eq!(verdict(&before, None), Verdict::Missing);
        // Expired after the first read and added by the replace: a new
        // creation stamp, whatever its lifetime.
        let anew = at(612, Some(Lifetimes::both(2)));
        assert_eq!(verdict(&before, Some(&anew)), Verdict::AddedAnew);
        let made_permanent = at(500, None);
        assert_eq!(verdict(&before, Some(&made_permanent)), Verdict::Permanent);
    }
}
