//! MariaDB-only events 160-164 (the compressed 165-171 are in `compressed`).
//!
//! | type | event             | payload layout                                                      |
//! |------|-------------------|---------------------------------------------------------------------|
//! | 160  | ANNOTATE_ROWS     | the statement text (rest)                                           |
//! | 161  | BINLOG_CHECKPOINT | name_len u32, file name                                             |
//! | 162  | GTID              | seq_no u64, domain u32, flags u8, [commit_id u64 if flags & 2], [XID if flags & (64 \| 128): format_id u32, gtrid_len u8, bqual_len u8, gtrid, bqual], ... |
//! | 163  | GTID_LIST         | count:28 flags:4 (u32), count x (domain u32, server u32, seq u64)   |
//! | 164  | START_ENCRYPTION  | scheme u8, key_version u32, nonce \[12\]                              |
//!
//! The GTID's server id is the event header's server id.

use super::cursor::Cursor;
use super::error::{malformed, KResult};
use super::xa::Xid;

/// GTID flag bits (`Gtid_log_event::FL_*`).
pub const FL_STANDALONE: u8 = 1;
pub const FL_GROUP_COMMIT_ID: u8 = 2;
pub const FL_TRANSACTIONAL: u8 = 4;
pub const FL_ALLOW_PARALLEL: u8 = 8;
pub const FL_WAITED: u8 = 16;
pub const FL_DDL: u8 = 32;
pub const FL_PREPARED_XA: u8 = 64;
pub const FL_COMPLETED_XA: u8 = 128;

/// A MariaDB GTID event: the start of an event group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MariaGtid {
    pub domain_id: u32,
    pub server_id: u32,
    pub seq_no: u64,
    pub flags: u8,
    /// Group-commit id, when `flags & FL_GROUP_COMMIT_ID`.
    pub commit_id: Option<u64>,
    /// The XA transaction this group prepares (`FL_PREPARED_XA`: the group
    /// is `XA START` implied, its changes, `XA END`, XA_PREPARE) or completes
    /// (`FL_COMPLETED_XA`: the group is one `XA COMMIT|ROLLBACK` query).
    pub xid: Option<Xid>,
}

impl MariaGtid {
    /// A standalone event group (DDL, or non-transactional) has no
    /// terminating XID/COMMIT: the group is the next statement alone.
    pub fn standalone(&self) -> bool {
        self.flags & FL_STANDALONE != 0
    }
    pub fn is_ddl(&self) -> bool {
        self.flags & FL_DDL != 0
    }
    pub fn transactional(&self) -> bool {
        self.flags & FL_TRANSACTIONAL != 0
    }
    /// The group prepares an XA transaction.
    pub fn prepares_xa(&self) -> bool {
        self.flags & FL_PREPARED_XA != 0
    }
    /// The group is the `XA COMMIT` or `XA ROLLBACK` of a prepared XA
    /// transaction: one statement, with no terminating XID.
    pub fn completes_xa(&self) -> bool {
        self.flags & FL_COMPLETED_XA != 0
    }
    /// `domain-server-seq`, MariaDB's text form.
    pub fn to_text(&self) -> String {
        format!("{}-{}-{}", self.domain_id, self.server_id, self.seq_no)
    }
}

/// One element of a GTID list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GtidTriple {
    pub domain_id: u32,
    pub server_id: u32,
    pub seq_no: u64,
}

pub fn parse_gtid(p: &[u8], server_id: u32) -> KResult<MariaGtid> {
    let mut c = Cursor::new(p);
    let seq_no = c.u64("gtid seq_no")?;
    let domain_id = c.u32("gtid domain_id")?;
    let flags = c.u8("gtid flags")?;
    let commit_id = if flags & FL_GROUP_COMMIT_ID != 0 {
        Some(c.u64("gtid commit_id")?)
    } else {
        None
    };
    let xid = if flags & (FL_PREPARED_XA | FL_COMPLETED_XA) != 0 {
        let format_id = c.u32("gtid xid format_id")?;
        let gtrid_len = usize::from(c.u8("gtid xid gtrid_length")?);
        let bqual_len = usize::from(c.u8("gtid xid bqual_length")?);
        let gtrid = c.take(gtrid_len, "gtid xid gtrid")?.to_vec();
        let bqual = c.take(bqual_len, "gtid xid bqual")?.to_vec();
        Some(Xid::new(format_id, gtrid, bqual)?)
    } else {
        None
    };
    Ok(MariaGtid {
        domain_id,
        server_id,
        seq_no,
        flags,
        commit_id,
        xid,
    })
}

pub fn parse_gtid_list(p: &[u8]) -> KResult<(Vec<GtidTriple>, u8)> {
    let mut c = Cursor::new(p);
    let raw = c.u32("gtid_list count")?;
    let count = (raw & 0x0fff_ffff) as usize;
    let flags = (raw >> 28) as u8;
    if count.saturating_mul(16) > c.remaining() {
        return Err(malformed(format!(
            "GTID list of {count} entries in {} bytes",
            c.remaining()
        )));
    }
    let mut v = Vec::with_capacity(count);
    for _ in 0..count {
        let domain_id = c.u32("gtid_list domain")?;
        let server_id = c.u32("gtid_list server")?;
        let seq_no = c.u64("gtid_list seq_no")?;
        v.push(GtidTriple {
            domain_id,
            server_id,
            seq_no,
        });
    }
    Ok((v, flags))
}

pub fn parse_checkpoint(p: &[u8]) -> KResult<String> {
    let mut c = Cursor::new(p);
    let n = c.u32("checkpoint name_len")? as usize;
    Ok(String::from_utf8_lossy(c.take(n, "checkpoint name")?).into_owned())
}

/// START_ENCRYPTION: (scheme, key_version).
pub fn parse_start_encryption(p: &[u8]) -> KResult<(u8, u32)> {
    let mut c = Cursor::new(p);
    Ok((c.u8("encryption scheme")?, c.u32("encryption key_version")?))
}
