//! `Vec`/`String` conveniences for [`IncomingResponse`] (feature `alloc`).

use alloc::{string::String, vec, vec::Vec};

use crate::{Error, HeaderError, IncomingResponse};

/// The largest header value or header block [`IncomingResponse::header_string`] and
/// [`IncomingResponse::headers_string`] will allocate for: a server cannot make the guest
/// allocate more than this for headers. Hosts cap response header sections far lower
/// (256 KiB by default).
pub const MAX_HEADER_BUFFER: usize = 1 << 20;

/// The first buffer [`IncomingResponse::read_to_end`] reads into; later reads grow with the body.
const FIRST_READ: usize = 8 * 1024;

/// The largest single read of [`IncomingResponse::read_to_end`]: keeps the zero-filled tail
/// that each read adds bounded.
const MAX_READ: usize = 1 << 20;

/// Calls `get` with a growing buffer until the value fits, and returns it as a `String`.
///
/// Starts at `first` bytes; on a too-small buffer retries with the length the host reports, or
/// twice the size when it reports none (0.10 hosts), never beyond [`MAX_HEADER_BUFFER`].
fn read_growing(
    first: usize,
    mut get: impl FnMut(&mut [u8]) -> Result<usize, HeaderError>,
) -> Result<String, Error> {
    let mut size = first.min(MAX_HEADER_BUFFER);
    loop {
        let mut buf = vec![0u8; size];
        match get(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return String::from_utf8(buf).map_err(|_| Error::Utf8Error);
            }
            Err(HeaderError::BufferTooSmall { needed }) => {
                let next = match needed {
                    Some(n) if n > MAX_HEADER_BUFFER => return Err(Error::BufferTooSmall),
                    Some(n) if n > size => n,
                    _ => size.saturating_mul(2).min(MAX_HEADER_BUFFER),
                };
                // No growth left: the buffer is already at the cap.
                if next <= size {
                    return Err(Error::BufferTooSmall);
                }
                size = next;
            }
            Err(HeaderError::Other(e)) => return Err(e),
        }
    }
}

impl IncomingResponse {
    /// Reads the rest of the body.
    ///
    /// There is no size limit beyond the host's (if it sets one): for a body of unknown size
    /// from an untrusted server, prefer [`read`](IncomingResponse::read) with a bound.
    ///
    /// # Errors
    /// The first error [`read`](IncomingResponse::read) returns; the bytes read until then
    /// are dropped.
    pub fn read_to_end(&mut self) -> Result<Vec<u8>, Error> {
        let mut body = Vec::new();
        loop {
            let start = body.len();
            let chunk = start.clamp(FIRST_READ, MAX_READ);
            body.resize(start.saturating_add(chunk), 0);
            let n = match body.get_mut(start..) {
                Some(tail) => self.read(tail)?,
                None => 0,
            };
            body.truncate(start + n);
            if n == 0 {
                return Ok(body);
            }
        }
    }

    /// The value of header `name` (case-insensitive; repeated fields joined with `", "`).
    ///
    /// # Errors
    /// [`Error::HeaderNotFound`] if there is no such field, [`Error::BufferTooSmall`] if the
    /// value is larger than [`MAX_HEADER_BUFFER`], [`Error::Utf8Error`] if it is not UTF-8.
    pub fn header_string(&self, name: &str) -> Result<String, Error> {
        read_growing(256, |buf| self.header(name, buf))
    }

    /// Every received header field as a header block (`name:value\n` per field line); split
    /// it with [`header_lines`](crate::header_lines).
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] if the block is larger than [`MAX_HEADER_BUFFER`],
    /// [`Error::Utf8Error`] if it is not UTF-8.
    pub fn headers_string(&self) -> Result<String, Error> {
        read_growing(4096, |buf| self.headers(buf))
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        reason = "a panic in a test is a failed test"
    )]

    use super::*;
    use std::vec::Vec as StdVec;

    /// A fake `header_get` serving `value`, reporting the needed length like our host
    /// (`report = true`) or not at all like a 0.10 host; records every buffer size asked for.
    fn fake(value: &[u8], report: bool) -> (StdVec<usize>, Result<String, Error>) {
        let mut sizes = StdVec::new();
        let got = read_growing(256, |buf| {
            sizes.push(buf.len());
            match buf.get_mut(..value.len()) {
                Some(dst) => {
                    dst.copy_from_slice(value);
                    Ok(value.len())
                }
                None => Err(HeaderError::BufferTooSmall {
                    needed: report.then_some(value.len()),
                }),
            }
        });
        (sizes, got)
    }

    #[test]
    fn grows_to_the_reported_length_in_one_step() {
        let value = "v".repeat(5000);
        let (sizes, got) = fake(value.as_bytes(), true);
        assert_eq!(got.unwrap(), value);
        assert_eq!(sizes, [256, 5000]);
    }

    #[test]
    fn doubles_when_the_host_reports_nothing() {
        let value = "v".repeat(1000);
        let (sizes, got) = fake(value.as_bytes(), false);
        assert_eq!(got.unwrap(), value);
        assert_eq!(sizes, [256, 512, 1024]);
    }

    #[test]
    fn stops_at_the_cap() {
        let value = std::vec![b'v'; MAX_HEADER_BUFFER + 1];
        let (sizes, got) = fake(&value, true);
        assert_eq!(got, Err(Error::BufferTooSmall));
        assert_eq!(sizes, [256]);
        let (sizes, got) = fake(&value, false);
        assert_eq!(got, Err(Error::BufferTooSmall));
        assert_eq!(sizes.last(), Some(&MAX_HEADER_BUFFER));
        assert_eq!(sizes.len(), 13); // 256 << 12 == 1 MiB
        // A value of exactly the cap still fits.
        let (_, got) = fake(&value[..MAX_HEADER_BUFFER], false);
        assert_eq!(got.map(|s| s.len()), Ok(MAX_HEADER_BUFFER));
    }

    #[test]
    fn a_lying_host_cannot_loop_forever() {
        // Reports a needed length that never fits: growth falls back to doubling, then stops.
        let mut calls = 0;
        let got = read_growing(256, |buf| {
            calls += 1;
            Err(HeaderError::BufferTooSmall {
                needed: Some(buf.len()),
            })
        });
        assert_eq!(got, Err(Error::BufferTooSmall));
        assert_eq!(calls, 13);
    }

    #[test]
    fn other_errors_and_bad_utf8_pass_through() {
        assert_eq!(
            read_growing(8, |_| Err(HeaderError::Other(Error::HeaderNotFound))),
            Err(Error::HeaderNotFound)
        );
        let (_, got) = fake(b"\xff", true);
        assert_eq!(got, Err(Error::Utf8Error));
    }
}
