//! Bounds-checked byte reader and writer with LEB128 varints.
//!
//! Every read returns `None` instead of panicking when the input is short or
//! malformed; every write returns `None` when the output buffer is full.

/// Reads fields from a received datagram.
///
/// Cloning a reader is cheap: it is a slice of the bytes not yet consumed.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    /// The bytes not yet consumed.
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader positioned at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { rest: buf }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// True when every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next byte, without consuming it.
    #[inline(always)]
    pub fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// One byte.
    #[inline(always)]
    pub fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(b)
    }

    /// `n` raw bytes.
    #[inline(always)]
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let (out, rest) = self.rest.split_at_checked(n)?;
        self.rest = rest;
        Some(out)
    }

    /// Skips `n` bytes; `None` (consuming nothing) when fewer remain.
    #[inline(always)]
    pub fn skip(&mut self, n: usize) -> Option<()> {
        self.rest = self.rest.get(n..)?;
        Some(())
    }

    /// A fixed-size array.
    #[inline(always)]
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (out, rest) = self.rest.split_first_chunk::<N>()?;
        self.rest = rest;
        Some(*out)
    }

    /// An unsigned LEB128 varint of at most 10 bytes; overlong or
    /// overflowing encodings are rejected.
    #[inline(always)]
    pub fn varint(&mut self) -> Option<u64> {
        // Fast path: values below 128 (most incarnations, generations,
        // small integer addresses) are one byte.
        match self.rest.split_first() {
            Some((&b, rest)) if b < 0x80 => {
                self.rest = rest;
                Some(u64::from(b))
            }
            _ => self.varint_multi_byte(),
        }
    }

    /// [`Reader::varint`] for encodings of two bytes or more (or none).
    #[inline(never)]
    fn varint_multi_byte(&mut self) -> Option<u64> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            if i == 9 && byte > 1 {
                return None;
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                if i > 0 && byte == 0 {
                    return None; // overlong: a trailing zero group
                }
                return Some(value);
            }
        }
        None
    }

    /// A varint that must fit in a `u32`.
    #[inline(always)]
    pub fn varint_u32(&mut self) -> Option<u32> {
        u32::try_from(self.varint()?).ok()
    }

    /// A length-prefixed byte string of at most `max` bytes.
    #[inline(always)]
    pub fn blob(&mut self, max: usize) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        if len > max {
            return None;
        }
        self.bytes(len)
    }
}

/// Writes fields into a caller-provided buffer.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// A writer that fills `buf` from its start.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.pos
    }

    /// True when nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// Bytes still free.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Undoes writes back to `len` (used to drop a partly written record).
    pub fn truncate(&mut self, len: usize) {
        self.pos = self.pos.min(len);
    }

    /// One byte.
    pub fn u8(&mut self, b: u8) -> Option<()> {
        *self.buf.get_mut(self.pos)? = b;
        self.pos += 1;
        Some(())
    }

    /// Raw bytes.
    pub fn bytes(&mut self, data: &[u8]) -> Option<()> {
        let end = self.pos.checked_add(data.len())?;
        self.buf.get_mut(self.pos..end)?.copy_from_slice(data);
        self.pos = end;
        Some(())
    }

    /// An unsigned LEB128 varint.
    pub fn varint(&mut self, mut v: u64) -> Option<()> {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                return self.u8(byte);
            }
            self.u8(byte | 0x80)?;
        }
    }

    /// A length-prefixed byte string.
    pub fn blob(&mut self, data: &[u8]) -> Option<()> {
        self.varint(data.len() as u64)?;
        self.bytes(data)
    }
}

/// Encoded size of a varint.
pub const fn varint_len(v: u64) -> usize {
    let bits = 64 - v.leading_zeros() as usize;
    if bits == 0 {
        1
    } else {
        bits.div_ceil(7)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip_and_length() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX,
        ] {
            let mut buf = [0u8; 10];
            let mut w = Writer::new(&mut buf);
            w.varint(v).unwrap();
            let n = w.len();
            assert_eq!(n, varint_len(v));
            let mut r = Reader::new(&buf[..n]);
            assert_eq!(r.varint(), Some(v));
            assert!(r.is_empty());
        }
    }

    #[test]
    fn malformed_varints_are_rejected() {
        assert_eq!(Reader::new(&[0x80]).varint(), None); // truncated
        assert_eq!(Reader::new(&[0x80, 0x00]).varint(), None); // overlong
        assert_eq!(Reader::new(&[0xff; 11]).varint(), None); // too long
        assert_eq!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x10]).varint_u32(),
            None
        );
    }

    #[test]
    fn writer_refuses_to_overflow() {
        let mut buf = [0u8; 2];
        let mut w = Writer::new(&mut buf);
        assert!(w.bytes(&[1, 2, 3]).is_none());
        assert_eq!(w.len(), 0);
        assert!(w.varint(300).is_some());
        assert!(w.u8(1).is_none());
    }

    #[test]
    fn blob_respects_limit() {
        let mut r = Reader::new(&[3, 1, 2, 3]);
        assert_eq!(r.blob(2), None);
        let mut r = Reader::new(&[3, 1, 2]);
        assert_eq!(r.blob(8), None);
    }
}
