//! The one way handlers touch guest memory: overflow-safe range checks, then slices.
//! A bad range is `memory_access_error`, never a trap and never a host panic.

use crate::error_code::ErrorCode;

fn range(mem_len: usize, ptr: u32, len: u32) -> Result<std::ops::Range<usize>, ErrorCode> {
    let start = ptr as usize;
    let end = start
        .checked_add(len as usize)
        .ok_or(ErrorCode::MemoryAccessError)?;
    if end > mem_len {
        return Err(ErrorCode::MemoryAccessError);
    }
    Ok(start..end)
}

/// A `(ptr, len)` argument: `len` bytes of guest memory starting at offset `ptr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GuestRange {
    /// Offset of the first byte.
    pub(crate) ptr: u32,
    /// Number of bytes.
    pub(crate) len: u32,
}

impl GuestRange {
    /// The range `[ptr, ptr + len)`.
    pub(crate) fn new(ptr: u32, len: u32) -> GuestRange {
        GuestRange { ptr, len }
    }

    /// Checks that the range lies inside memory, without touching it.
    pub(crate) fn check(self, mem: &[u8]) -> Result<(), ErrorCode> {
        range(mem.len(), self.ptr, self.len).map(|_| ())
    }

    /// The guest bytes.
    pub(crate) fn bytes(self, mem: &[u8]) -> Result<&[u8], ErrorCode> {
        mem.get(range(mem.len(), self.ptr, self.len)?)
            .ok_or(ErrorCode::MemoryAccessError)
    }

    /// The guest bytes, writable.
    pub(crate) fn bytes_mut(self, mem: &mut [u8]) -> Result<&mut [u8], ErrorCode> {
        let r = range(mem.len(), self.ptr, self.len)?;
        mem.get_mut(r).ok_or(ErrorCode::MemoryAccessError)
    }
}

/// Checks that an output location of `size` bytes at `ptr` lies inside memory.
pub(crate) fn check_out(mem: &[u8], ptr: u32, size: u32) -> Result<(), ErrorCode> {
    GuestRange::new(ptr, size).check(mem)
}

/// Writes a little-endian `u32` at any alignment.
pub(crate) fn write_u32(mem: &mut [u8], ptr: u32, value: u32) -> Result<(), ErrorCode> {
    GuestRange::new(ptr, 4)
        .bytes_mut(mem)?
        .copy_from_slice(&value.to_le_bytes());
    Ok(())
}

/// Writes a little-endian `u16` at any alignment.
pub(crate) fn write_u16(mem: &mut [u8], ptr: u32, value: u16) -> Result<(), ErrorCode> {
    GuestRange::new(ptr, 2)
        .bytes_mut(mem)?
        .copy_from_slice(&value.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_overflow_safe() {
        let mut mem = vec![0u8; 16];
        let bytes = |mem: &[u8], ptr, len| GuestRange::new(ptr, len).bytes(mem).map(<[u8]>::len);
        assert_eq!(bytes(&mem, 0, 16), Ok(16));
        assert_eq!(bytes(&mem, 16, 0), Ok(0));
        assert_eq!(bytes(&mem, 16, 1), Err(ErrorCode::MemoryAccessError));
        assert_eq!(bytes(&mem, u32::MAX, 2), Err(ErrorCode::MemoryAccessError));
        assert_eq!(bytes(&mem, 8, u32::MAX), Err(ErrorCode::MemoryAccessError));
        assert_eq!(
            write_u32(&mut mem, 13, 1),
            Err(ErrorCode::MemoryAccessError)
        );
        assert!(write_u32(&mut mem, 11, 0x0403_0201).is_ok());
        assert_eq!(mem.get(11..15), Some(&[1u8, 2, 3, 4][..]));
    }
}
