//! The `struct ifreq` ioctls the other modules use, behind safe functions.
//! Each takes the socket to issue them on: the socket decides the network
//! namespace, so callers create it in the namespace they mean.

use std::io;
use std::mem;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, RawFd};

use socket2::{Domain, Socket, Type};

/// `IFNAMSIZ`: names and labels hold at most 15 bytes plus the NUL.
pub(super) const IFNAMSIZ: usize = 16;

/// The size of `struct ifreq`'s union: 24 bytes on 64-bit CPUs, 16 on
/// 32-bit ones (its largest member, `struct ifmap`, holds two `long`s).
/// SIOCGIFCONF lays out its answers at this stride.
const IFRU_LEN: usize = mem::size_of::<libc::ifreq>() - IFNAMSIZ;

/// `struct ifreq`: the name, then a union whose meaning depends on the
/// request (a `sockaddr`, flags, an index). Integers in it are in host
/// order, the address of a `sockaddr_in` in network order.
#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct IfReq {
    name: [u8; IFNAMSIZ],
    data: [u8; IFRU_LEN],
}

impl IfReq {
    /// A request about `name`; the caller has checked it fits.
    fn new(name: &str) -> io::Result<Self> {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.len() >= IFNAMSIZ || bytes.contains(&0) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let mut req = IfReq {
            name: [0; IFNAMSIZ],
            data: [0; IFRU_LEN],
        };
        req.name[..bytes.len()].copy_from_slice(bytes);
        Ok(req)
    }

    /// The name (an interface name or an address label) up to its NUL.
    pub(super) fn name(&self) -> String {
        let end = self.name.iter().position(|&b| b == 0).unwrap_or(IFNAMSIZ);
        String::from_utf8_lossy(&self.name[..end]).into_owned()
    }

    /// The IPv4 address of a `sockaddr_in` in the union.
    pub(super) fn inet(&self) -> Option<Ipv4Addr> {
        let family = u16::from_ne_bytes([self.data[0], self.data[1]]);
        (i32::from(family) == libc::AF_INET)
            .then(|| Ipv4Addr::new(self.data[4], self.data[5], self.data[6], self.data[7]))
    }

    fn flags(&self) -> libc::c_short {
        libc::c_short::from_ne_bytes([self.data[0], self.data[1]])
    }
}

/// A throw-away socket to issue ioctls on.
pub(super) fn control_socket() -> io::Result<Socket> {
    Socket::new(Domain::IPV4, Type::DGRAM.cloexec(), None)
}

fn ioctl(fd: RawFd, request: libc::c_ulong, req: &mut IfReq) -> io::Result<()> {
    // SAFETY: every request used here reads or writes one `struct ifreq`,
    // which `IfReq` lays out exactly and which lives for the call.
    let rc = unsafe { libc::ioctl(fd, request as libc::Ioctl, req as *mut IfReq) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Every IPv4 address of the namespace as (label, address), from
/// SIOCGIFCONF. The kernel lists all of them, whatever the interface state.
pub(super) fn addresses(sock: &Socket) -> io::Result<Vec<(String, Ipv4Addr)>> {
    #[repr(C)]
    struct IfConf {
        len: libc::c_int,
        buf: *mut IfReq,
    }
    let mut capacity = 16usize;
    loop {
        let mut reqs = vec![
            IfReq {
                name: [0; IFNAMSIZ],
                data: [0; IFRU_LEN]
            };
            capacity
        ];
        let bytes = capacity * mem::size_of::<IfReq>();
        let mut conf = IfConf {
            len: libc::c_int::try_from(bytes)
                .map_err(|_| io::Error::from_raw_os_error(libc::ENOMEM))?,
            buf: reqs.as_mut_ptr(),
        };
        // SAFETY: `conf` describes `reqs`, a buffer of `len` bytes that
        // outlives the call; the kernel writes at most `len` bytes.
        let rc = unsafe {
            libc::ioctl(
                sock.as_raw_fd(),
                libc::SIOCGIFCONF as libc::Ioctl,
                &mut conf as *mut IfConf,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let used = usize::try_from(conf.len).unwrap_or(0) / mem::size_of::<IfReq>();
        // A full buffer may mean a truncated list: try again, larger.
        if used < capacity {
            return Ok(reqs[..used]
                .iter()
                .filter_map(|r| r.inet().map(|a| (r.name(), a)))
                .collect());
        }
        capacity *= 4;
    }
}

/// The flags of the device `name` (or of the device a label belongs to).
pub(super) fn flags(sock: &Socket, name: &str) -> io::Result<libc::c_short> {
    let mut req = IfReq::new(name)?;
    ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req)?;
    Ok(req.flags())
}

/// The interface index of `name`.
pub(super) fn index(sock: &Socket, name: &str) -> io::Result<i32> {
    let mut req = IfReq::new(name)?;
    ioctl(sock.as_raw_fd(), libc::SIOCGIFINDEX, &mut req)?;
    Ok(i32::from_ne_bytes([
        req.data[0],
        req.data[1],
        req.data[2],
        req.data[3],
    ]))
}

/// The hardware (MAC) address of `name`: a `sockaddr` whose data holds it.
pub(super) fn hardware_address(sock: &Socket, name: &str) -> io::Result<[u8; 6]> {
    let mut req = IfReq::new(name)?;
    ioctl(sock.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req)?;
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&req.data[2..8]);
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_inet(name: &str, addr: Ipv4Addr) -> IfReq {
        let mut req = IfReq::new(name).expect("fits");
        req.data[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        req.data[4..8].copy_from_slice(&addr.octets());
        req
    }

    #[test]
    fn a_request_is_laid_out_as_the_kernel_expects_on_this_cpu() {
        assert_eq!(mem::size_of::<IfReq>(), mem::size_of::<libc::ifreq>());
        let req = with_inet("eth0:1", Ipv4Addr::new(192, 0, 2, 7));
        // The same bytes as the C library's own sockaddr_in: sa_family in
        // host order, sin_addr in network order, on any CPU.
        // SAFETY: all-zero is a valid sockaddr_in.
        let mut sin: libc::sockaddr_in = unsafe { mem::zeroed() };
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_addr.s_addr = u32::from(Ipv4Addr::new(192, 0, 2, 7)).to_be();
        // SAFETY: reads the bytes of a plain C struct that lives here.
        let sin_bytes = unsafe {
            std::slice::from_raw_parts(
                &sin as *const libc::sockaddr_in as *const u8,
                mem::size_of::<libc::sockaddr_in>(),
            )
        };
        assert_eq!(req.data[..8], sin_bytes[..8]);
        assert_eq!(req.inet(), Some(Ipv4Addr::new(192, 0, 2, 7)));
        assert_eq!(req.name(), "eth0:1");
        let mut flags = IfReq::new("eth0:1").expect("fits");
        flags.data[..2].copy_from_slice(&0x1043i16.to_ne_bytes());
        assert_eq!(flags.flags(), 0x1043);
    }
}
