//! A bounds-checked little reader over a byte slice.
//!
//! Invariant: no method panics and none allocates; every read checks the
//! remaining length first and fails with [`Short`] (which the caller turns
//! into a `BinlogError` carrying file, position and event type).
//!
//! Integers are little-endian unless the method name says `be`.
//! `lenenc` is the MySQL length-encoded integer:
//!
//! | first byte | value                         |
//! |------------|-------------------------------|
//! | 0..=250    | the byte itself               |
//! | 251        | NULL (returned as an error)   |
//! | 252        | next 2 bytes                  |
//! | 253        | next 3 bytes                  |
//! | 254        | next 8 bytes                  |
//! | 255        | invalid                       |

/// The input ended before a field did (or a length-encoded integer was
/// invalid). `what` names the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Short {
    pub what: &'static str,
    pub need: usize,
    pub have: usize,
}

/// A forward-only reader over `buf`.
#[derive(Debug, Clone, Copy)]
pub struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf }
    }

    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes not read yet.
    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    /// Takes `n` bytes.
    #[inline]
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Short> {
        if n > self.buf.len() {
            return Err(Short {
                what,
                need: n,
                have: self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    #[inline]
    pub fn skip(&mut self, n: usize, what: &'static str) -> Result<(), Short> {
        self.take(n, what).map(|_| ())
    }

    /// Takes everything left.
    #[inline]
    pub fn take_rest(&mut self) -> &'a [u8] {
        let r = self.buf;
        self.buf = &[];
        r
    }

    #[inline]
    pub fn u8(&mut self, what: &'static str) -> Result<u8, Short> {
        match self.buf.split_first() {
            Some((b, tail)) => {
                self.buf = tail;
                Ok(*b)
            }
            None => Err(Short { what, need: 1, have: 0 }),
        }
    }

    #[inline]
    pub fn u16(&mut self, what: &'static str) -> Result<u16, Short> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    #[inline]
    pub fn u32(&mut self, what: &'static str) -> Result<u32, Short> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    #[inline]
    pub fn u64(&mut self, what: &'static str) -> Result<u64, Short> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// An unsigned little-endian integer of `n` (0..=8) bytes.
    #[inline]
    pub fn uint_n(&mut self, n: usize, what: &'static str) -> Result<u64, Short> {
        let b = self.take(n.min(8), what)?;
        Ok(le_uint(b))
    }

    /// An unsigned big-endian integer of `n` (0..=8) bytes.
    #[inline]
    pub fn uint_be_n(&mut self, n: usize, what: &'static str) -> Result<u64, Short> {
        let b = self.take(n.min(8), what)?;
        Ok(be_uint(b))
    }

    /// A length-encoded integer; NULL (0xFB) and 0xFF are errors.
    #[inline]
    pub fn lenenc(&mut self, what: &'static str) -> Result<u64, Short> {
        let first = self.u8(what)?;
        match first {
            0..=250 => Ok(u64::from(first)),
            252 => self.uint_n(2, what),
            253 => self.uint_n(3, what),
            254 => self.uint_n(8, what),
            _ => Err(Short {
                what,
                need: 0,
                have: self.buf.len(),
            }),
        }
    }

    /// A length-encoded length, checked against the bytes left (so a caller
    /// can never allocate or slice by an unchecked length).
    #[inline]
    pub fn lenenc_len(&mut self, what: &'static str) -> Result<usize, Short> {
        let n = self.lenenc(what)?;
        if n > self.buf.len() as u64 {
            return Err(Short {
                what,
                need: usize::try_from(n).unwrap_or(usize::MAX),
                have: self.buf.len(),
            });
        }
        Ok(n as usize)
    }

    /// Length-encoded bytes.
    #[inline]
    pub fn lenenc_bytes(&mut self, what: &'static str) -> Result<&'a [u8], Short> {
        let n = self.lenenc_len(what)?;
        self.take(n, what)
    }
}

/// Little-endian unsigned integer of up to 8 bytes.
#[inline]
pub fn le_uint(b: &[u8]) -> u64 {
    let mut v = 0u64;
    for (i, x) in b.iter().take(8).enumerate() {
        v |= u64::from(*x) << (8 * i);
    }
    v
}

/// Big-endian unsigned integer of up to 8 bytes.
#[inline]
pub fn be_uint(b: &[u8]) -> u64 {
    let mut v = 0u64;
    for x in b.iter().take(8) {
        v = (v << 8) | u64::from(*x);
    }
    v
}
