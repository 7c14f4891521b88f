//! XA transaction ids, and the XA_PREPARE_LOG_EVENT (38).
//!
//! | size | XA_PREPARE payload                                  |
//! |------|-----------------------------------------------------|
//! | 1    | one_phase: 1 = `XA COMMIT ... ONE PHASE`, 0 = `XA PREPARE` |
//! | 4    | format_id                                            |
//! | 4    | gtrid length (at most 64)                            |
//! | 4    | bqual length (at most 64)                            |
//! | n    | gtrid, then bqual                                    |
//!
//! An [`Xid`] is written back in SQL as `mariadb-binlog` prints it:
//! `X'6162',X'',1` (gtrid, bqual, format id), exact for any bytes.

use std::fmt::Write as _;

use super::cursor::Cursor;
use super::error::{malformed, KResult};

/// Longest gtrid and bqual (`MAXGTRIDSIZE`, `MAXBQUALSIZE`).
const MAX_PART: usize = 64;

/// An XA transaction id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xid {
    pub format_id: u32,
    pub gtrid: Vec<u8>,
    pub bqual: Vec<u8>,
}

impl Xid {
    /// Checks the part lengths.
    pub fn new(format_id: u32, gtrid: Vec<u8>, bqual: Vec<u8>) -> KResult<Xid> {
        if gtrid.is_empty() || gtrid.len() > MAX_PART || bqual.len() > MAX_PART {
            return Err(malformed(format!(
                "XID of {} gtrid and {} bqual bytes (1..=64 and 0..=64)",
                gtrid.len(),
                bqual.len()
            )));
        }
        Ok(Xid {
            format_id,
            gtrid,
            bqual,
        })
    }

    /// `X'..',X'..',format_id`: the xid in XA statements.
    pub fn to_sql(&self) -> String {
        let mut s = String::with_capacity(16 + 2 * (self.gtrid.len() + self.bqual.len()));
        for part in [&self.gtrid, &self.bqual] {
            s.push_str("X'");
            for b in part.iter() {
                let _ = write!(s, "{b:02X}");
            }
            s.push_str("',");
        }
        let _ = write!(s, "{}", self.format_id);
        s
    }
}

/// A decoded XA_PREPARE_LOG_EVENT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XaPrepare {
    /// `XA COMMIT ... ONE PHASE` rather than `XA PREPARE`.
    pub one_phase: bool,
    pub xid: Xid,
}

impl XaPrepare {
    /// The statement that ends the XA transaction on a replica.
    pub fn statement(&self) -> String {
        if self.one_phase {
            format!("XA COMMIT {} ONE PHASE", self.xid.to_sql())
        } else {
            format!("XA PREPARE {}", self.xid.to_sql())
        }
    }
}

pub fn parse_xa_prepare(p: &[u8]) -> KResult<XaPrepare> {
    let mut c = Cursor::new(p);
    let one_phase = c.u8("xa_prepare one_phase")? != 0;
    let format_id = c.u32("xa_prepare format_id")?;
    let gtrid_len = c.u32("xa_prepare gtrid_length")? as usize;
    let bqual_len = c.u32("xa_prepare bqual_length")? as usize;
    if gtrid_len > MAX_PART || bqual_len > MAX_PART {
        return Err(malformed(format!(
            "XID of {gtrid_len} gtrid and {bqual_len} bqual bytes"
        )));
    }
    let gtrid = c.take(gtrid_len, "xa_prepare gtrid")?.to_vec();
    let bqual = c.take(bqual_len, "xa_prepare bqual")?.to_vec();
    Ok(XaPrepare {
        one_phase,
        xid: Xid::new(format_id, gtrid, bqual)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xa_prepare_and_its_statement() {
        let mut p = vec![0u8];
        p.extend_from_slice(&1u32.to_le_bytes());
        p.extend_from_slice(&2u32.to_le_bytes());
        p.extend_from_slice(&1u32.to_le_bytes());
        p.extend_from_slice(b"x1\x00");
        let x = parse_xa_prepare(&p).expect("parses");
        assert_eq!(x.statement(), "XA PREPARE X'7831',X'00',1");
        p[0] = 1;
        assert_eq!(
            parse_xa_prepare(&p).expect("parses").statement(),
            "XA COMMIT X'7831',X'00',1 ONE PHASE"
        );
        p[5] = 65;
        assert!(parse_xa_prepare(&p).is_err(), "a gtrid over 64 bytes is malformed");
        assert!(parse_xa_prepare(&p[..8]).is_err(), "truncated");
    }
}
