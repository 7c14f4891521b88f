//! MySQL GTID events: GTID (33), ANONYMOUS_GTID (34), GTID_TAGGED (42,
//! decoded by mysql_common's serialization reader) and PREVIOUS_GTIDS (35).
//!
//! GTID / ANONYMOUS_GTID payload:
//!
//! | size | field                                                        |
//! |------|--------------------------------------------------------------|
//! | 1    | flags (1 = may have been committed)                          |
//! | 16   | source uuid                                                  |
//! | 8    | gno                                                          |
//! | 1    | logical timestamp typecode (2), MySQL >= 5.7.5               |
//! | 8+8  | last_committed, sequence_number                              |
//! | 7/14 | immediate (and original) commit timestamp, MySQL >= 8.0.1    |
//! | ...  | transaction length, server versions                          |

use mysql_common::binlog::events::{FormatDescriptionEvent, GtidEvent};
use mysql_common::binlog::{consts::BinlogVersion, BinlogCtx};
use mysql_common::io::ParseBuf;
use mysql_common::misc::read_varlen_uint;

use super::cursor::Cursor;
use super::error::{malformed, KResult};

/// A MySQL GTID event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlGtid {
    pub uuid: [u8; 16],
    /// The tag of a tagged GTID (`uuid:tag:gno`, MySQL >= 8.3).
    pub tag: Option<String>,
    pub gno: u64,
    /// ANONYMOUS_GTID_EVENT (gtid_mode=OFF).
    pub anonymous: bool,
    pub flags: u8,
    pub last_committed: Option<u64>,
    pub sequence_number: Option<u64>,
}

impl MysqlGtid {
    /// `uuid:gno` or `uuid:tag:gno`.
    pub fn to_text(&self) -> String {
        match &self.tag {
            Some(t) => format!("{}:{}:{}", uuid_text(&self.uuid), t, self.gno),
            None => format!("{}:{}", uuid_text(&self.uuid), self.gno),
        }
    }
}

/// 8-4-4-4-12 hex form of a UUID.
pub fn uuid_text(u: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

pub fn parse_gtid(p: &[u8], anonymous: bool) -> KResult<MysqlGtid> {
    let mut c = Cursor::new(p);
    let flags = c.u8("gtid flags")?;
    let mut uuid = [0u8; 16];
    uuid.copy_from_slice(c.take(16, "gtid uuid")?);
    let gno = c.u64("gtid gno")?;
    let (mut last_committed, mut sequence_number) = (None, None);
    if c.remaining() >= 17 && c.rest()[0] == 2 {
        c.skip(1, "gtid typecode")?;
        last_committed = Some(c.u64("gtid last_committed")?);
        sequence_number = Some(c.u64("gtid sequence_number")?);
    }
    Ok(MysqlGtid {
        uuid,
        tag: None,
        gno,
        anonymous,
        flags,
        last_committed,
        sequence_number,
    })
}

fn ctx_fde() -> FormatDescriptionEvent<'static> {
    FormatDescriptionEvent::new(BinlogVersion::Version4)
}

/// GTID_TAGGED_LOG_EVENT (42) through mysql_common.
pub fn parse_tagged_gtid(p: &[u8]) -> KResult<MysqlGtid> {
    let fde = ctx_fde();
    let ctx = BinlogCtx::new(p.len() + 19, &fde, super::event_types::GTID_TAGGED_EVENT);
    let ev: GtidEvent = ParseBuf(p)
        .parse(ctx)
        .map_err(|e| malformed(format!("tagged GTID: {e}")))?;
    Ok(MysqlGtid {
        uuid: ev.sid(),
        tag: ev.tag().map(|t| t.to_string()),
        gno: ev.gno(),
        anonymous: false,
        flags: ev.flags_raw(),
        last_committed: Some(ev.last_committed()),
        sequence_number: Some(ev.sequence_number()),
    })
}

/// PREVIOUS_GTIDS (35) as MySQL's text form `uuid[:tag]:a-b:c,...`
/// (intervals printed inclusive). Parsed here, with every count checked
/// against the bytes left (mysql_common pre-allocates by the counts).
///
/// | size | field                                                         |
/// |------|---------------------------------------------------------------|
/// | 8    | n_sids (56 bits) and format (top byte; 1 = tagged, n_sids in bits 8..56) |
/// | 16   | uuid, then (tagged) varlen tag length + tag                   |
/// | 8    | n_intervals, then n x (start u64, end u64 exclusive)          |
pub fn parse_previous_gtids(p: &[u8]) -> KResult<String> {
    let mut c = Cursor::new(p);
    let header = c.u64("previous_gtids header")?;
    let tagged = (header >> 56) != 0;
    let n_sids = if tagged {
        (header >> 8) & ((1 << 48) - 1)
    } else {
        header & ((1 << 56) - 1)
    };
    if n_sids.saturating_mul(24) > c.remaining() as u64 {
        return Err(malformed(format!(
            "PREVIOUS_GTIDS: {n_sids} sids in {} bytes",
            c.remaining()
        )));
    }
    let mut out = String::new();
    for i in 0..n_sids {
        if i > 0 {
            out.push(',');
        }
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(c.take(16, "previous_gtids uuid")?);
        out.push_str(&uuid_text(&uuid));
        if tagged {
            let mut pb = ParseBuf(c.rest());
            let n = read_varlen_uint(&mut pb).map_err(|e| malformed(format!("PREVIOUS_GTIDS tag: {e}")))?;
            let used = c.remaining() - pb.len();
            c.skip(used, "previous_gtids tag length")?;
            let n = usize::try_from(n).map_err(|_| malformed("PREVIOUS_GTIDS tag length"))?;
            let tag = c.take(n, "previous_gtids tag")?;
            if !tag.is_empty() {
                out.push(':');
                out.push_str(&String::from_utf8_lossy(tag));
            }
        }
        let n_iv = c.u64("previous_gtids n_intervals")?;
        if n_iv.saturating_mul(16) > c.remaining() as u64 {
            return Err(malformed(format!(
                "PREVIOUS_GTIDS: {n_iv} intervals in {} bytes",
                c.remaining()
            )));
        }
        for _ in 0..n_iv {
            let start = c.u64("previous_gtids start")?;
            let end = c.u64("previous_gtids end")?;
            if end == start.saturating_add(1) {
                out.push_str(&format!(":{start}"));
            } else {
                out.push_str(&format!(":{}-{}", start, end.saturating_sub(1)));
            }
        }
    }
    Ok(out)
}
