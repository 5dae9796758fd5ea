//! The one way handlers touch guest memory: overflow-safe range checks, then slices.
//! A bad range is `memory_access_error`, never a trap and never a host panic.

use crate::ErrorCode;

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

/// Checks that `len` bytes at `ptr` lie inside memory, without touching them.
pub(crate) fn check(mem: &[u8], ptr: u32, len: u32) -> Result<(), ErrorCode> {
    range(mem.len(), ptr, len).map(|_| ())
}

/// The guest bytes `[ptr, ptr + len)`.
pub(crate) fn bytes(mem: &[u8], ptr: u32, len: u32) -> Result<&[u8], ErrorCode> {
    mem.get(range(mem.len(), ptr, len)?)
        .ok_or(ErrorCode::MemoryAccessError)
}

/// The guest bytes `[ptr, ptr + len)`, writable.
pub(crate) fn bytes_mut(mem: &mut [u8], ptr: u32, len: u32) -> Result<&mut [u8], ErrorCode> {
    let r = range(mem.len(), ptr, len)?;
    mem.get_mut(r).ok_or(ErrorCode::MemoryAccessError)
}

/// A UTF-8 string argument. Bounds are checked by the caller first, so a bad range is
/// always reported as such before any encoding problem.
pub(crate) fn str(mem: &[u8], ptr: u32, len: u32) -> Result<&str, ErrorCode> {
    std::str::from_utf8(bytes(mem, ptr, len)?).map_err(|_| ErrorCode::Utf8Error)
}

/// Writes a little-endian `u32` at any alignment.
pub(crate) fn write_u32(mem: &mut [u8], ptr: u32, value: u32) -> Result<(), ErrorCode> {
    bytes_mut(mem, ptr, 4)?.copy_from_slice(&value.to_le_bytes());
    Ok(())
}

/// Writes a little-endian `u16` at any alignment.
pub(crate) fn write_u16(mem: &mut [u8], ptr: u32, value: u16) -> Result<(), ErrorCode> {
    bytes_mut(mem, ptr, 2)?.copy_from_slice(&value.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_overflow_safe() {
        let mut mem = vec![0u8; 16];
        assert!(bytes(&mem, 0, 16).is_ok());
        assert!(bytes(&mem, 16, 0).is_ok());
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
