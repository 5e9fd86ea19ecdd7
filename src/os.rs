//! What the operating system gives that no layer owns: random bytes from
//! the kernel. The system calls stay here, so the layers that use what
//! they give (a new key's bytes, formatted and checked by `config`) hold
//! no unsafe code.

use std::io;

/// Fills `buf` from the kernel's random number generator, waiting (only at
/// early boot) until it is seeded.
pub fn random_bytes(buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: `rest` is valid for writes of `rest.len()` bytes, and
        // getrandom writes at most that many.
        let got = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        match usize::try_from(got) {
            Ok(n) => filled += n,
            Err(_) => {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_fill_the_whole_buffer_and_differ_between_calls() {
        // 64 bytes: two equal draws, or a draw that leaves a whole half
        // zero, have a chance of 2^-256.
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        random_bytes(&mut a).expect("random bytes");
        random_bytes(&mut b).expect("random bytes");
        assert_ne!(a, b);
        assert!(a[32..].iter().any(|&x| x != 0), "{a:?}");
        let mut empty = [0u8; 0];
        random_bytes(&mut empty).expect("nothing to fill");
    }
}
