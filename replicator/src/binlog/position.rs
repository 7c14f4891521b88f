//! A place in a source's binary log: a file name and a byte offset in it.
//!
//! The one position type of the source side: the source's dump start and
//! the place a stream failed ([`crate::source`]), where the extractor is
//! ([`crate::extractor::builder::SourcePos`]), the binlog part of a THL
//! event id ([`crate::extractor::event_id::EventId`]) and what `heartbeat`
//! and `status` report all carry a `BinlogPosition`.
//!
//! Positions order by file name, then offset. Binlog file names carry a
//! zero-padded sequence number (`mysql-bin.000009` < `mysql-bin.000010`),
//! so the order of names is the order of files.

use std::fmt;

/// A binlog file and an offset in it (4 is the first event of a file).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BinlogPosition {
    /// File name, e.g. `mysql-bin.000003`.
    pub file: String,
    /// Offset in the file.
    pub pos: u64,
}

impl BinlogPosition {
    pub fn new(file: impl Into<String>, pos: u64) -> BinlogPosition {
        BinlogPosition { file: file.into(), pos }
    }
}

impl fmt::Display for BinlogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_file_then_offset_and_prints_file_colon_offset() {
        let a = BinlogPosition::new("mysql-bin.000009", 900);
        let b = BinlogPosition::new("mysql-bin.000010", 4);
        assert!(a < b);
        assert!(BinlogPosition::new("mysql-bin.000010", 5) > b);
        assert_eq!(b.to_string(), "mysql-bin.000010:4");
    }
}
