//! The [`Decoder`]: whole raw events in, typed [`BinlogEvent`]s out.
//!
//! State: the current FORMAT_DESCRIPTION_EVENT and checksum algorithm, the
//! table maps by table id (cleared at the end of each statement, as the
//! server re-sends them for every statement), and the binlog file name
//! (updated by ROTATE events) used in error messages.
//!
//! Input: the *whole* event, `header(19) + payload [+ CRC32(4)]`, from a
//! file or from the network (`Event::data()` would already be stripped;
//! hand the raw packet minus its OK byte). The trailer is verified when the
//! algorithm is CRC32 (switch off with [`Decoder::set_verify_checksums`]).
//! Before any FDE, a trailer is recognised by its CRC (the network's first
//! fake ROTATE carries one).

use std::collections::HashMap;
use std::sync::Arc;

use thl::event::UserVar;

use super::compressed::inflate;
use super::error::{BinlogError, ErrorKind, KResult};
use super::event_types::*;
use super::events::{self, QueryEvent};
use super::fde::{event_crc, parse_fde, ChecksumAlg, FormatDescription};
use super::load_data;
use super::mariadb::{self, GtidTriple, MariaGtid};
use super::mysql_gtid::{self, MysqlGtid};
use super::payload::inflate_payload;
use super::rows::{decode_rows, parse_rows_header, rows_kind, RowsEvent, RowsHeader};
use super::table_map::{parse_table_map, PrecisionError, TableMap};
use super::xa;

/// A decoded event.
#[derive(Debug, Clone, PartialEq)]
pub enum BinlogEvent {
    FormatDescription(FormatDescription),
    /// The next events come from `file`, starting at `pos`.
    Rotate {
        file: String,
        pos: u64,
    },
    /// MariaDB GTID: start of an event group.
    MariaGtid(MariaGtid),
    /// MySQL GTID / ANONYMOUS_GTID / GTID_TAGGED: start of a transaction.
    MysqlGtid(MysqlGtid),
    /// MariaDB GTID_LIST: the binlog state at the start of the file.
    GtidList {
        gtids: Vec<GtidTriple>,
        flags: u8,
    },
    /// MySQL PREVIOUS_GTIDS as text.
    PreviousGtids(String),
    /// MariaDB BINLOG_CHECKPOINT.
    BinlogCheckpoint {
        file: String,
    },
    /// A statement (also MariaDB QUERY_COMPRESSED, inflated).
    Query(Box<QueryEvent>),
    /// Transaction commit.
    Xid(u64),
    /// The end of an XA transaction's first phase (`XA PREPARE`, or
    /// `XA COMMIT ... ONE PHASE`).
    XaPrepare(xa::XaPrepare),
    /// INTVAR (fold into the next statement with `PendingVars`).
    IntVar {
        kind: u8,
        value: u64,
    },
    /// RAND seeds (fold into the next statement).
    Rand {
        seed1: u64,
        seed2: u64,
    },
    /// USER_VAR (fold into the next statement).
    UserVar(UserVar),
    /// A block of a `LOAD DATA` file logged with its statement
    /// (BEGIN_LOAD_QUERY, APPEND_BLOCK).
    LoadBlock(load_data::LoadBlock),
    /// The `LOAD DATA` statement that reads the file (EXECUTE_LOAD_QUERY).
    ExecuteLoad(Box<load_data::ExecuteLoad>),
    /// DELETE_FILE: the file of a `LOAD DATA` that failed is dropped.
    DeleteFile {
        file_id: u32,
    },
    /// MariaDB ANNOTATE_ROWS or MySQL ROWS_QUERY: the statement behind the
    /// following rows events.
    Annotate(Vec<u8>),
    TableMap(Arc<TableMap>),
    /// One rows event (also MariaDB compressed rows, inflated).
    Rows(RowsEvent),
    /// MySQL TRANSACTION_PAYLOAD: the inner events, decoded.
    TransactionPayload {
        compression: u64,
        uncompressed_size: u64,
        events: Vec<BinlogEvent>,
    },
    /// HEARTBEAT (network only): the master is at `file`:`log_pos`.
    Heartbeat {
        file: String,
        log_pos: u32,
    },
    Stop,
    Incident {
        kind: u16,
        message: String,
    },
    /// START_ENCRYPTION (network only: the server decrypts what follows).
    StartEncryption {
        scheme: u8,
        key_version: u32,
    },
    /// Events that carry nothing to replicate (IGNORABLE, TRANSACTION_CONTEXT,
    /// VIEW_CHANGE).
    Ignored {
        event_type: u8,
    },
    /// Events this decoder recognises but cannot turn into THL (LOAD DATA
    /// family, XA_PREPARE, pre-GA rows, unknown types). An extractor must
    /// stop on them, naming the position and type.
    Unsupported {
        event_type: u8,
        reason: String,
    },
}

impl BinlogEvent {
    /// A short name of the variant.
    pub fn kind_name(&self) -> &'static str {
        match self {
            BinlogEvent::FormatDescription(_) => "FormatDescription",
            BinlogEvent::Rotate { .. } => "Rotate",
            BinlogEvent::MariaGtid(_) => "MariaGtid",
            BinlogEvent::XaPrepare(_) => "XaPrepare",
            BinlogEvent::MysqlGtid(_) => "MysqlGtid",
            BinlogEvent::GtidList { .. } => "GtidList",
            BinlogEvent::PreviousGtids(_) => "PreviousGtids",
            BinlogEvent::BinlogCheckpoint { .. } => "BinlogCheckpoint",
            BinlogEvent::Query(_) => "Query",
            BinlogEvent::Xid(_) => "Xid",
            BinlogEvent::IntVar { .. } => "IntVar",
            BinlogEvent::Rand { .. } => "Rand",
            BinlogEvent::UserVar(_) => "UserVar",
            BinlogEvent::LoadBlock(_) => "LoadBlock",
            BinlogEvent::ExecuteLoad(_) => "ExecuteLoad",
            BinlogEvent::DeleteFile { .. } => "DeleteFile",
            BinlogEvent::Annotate(_) => "Annotate",
            BinlogEvent::TableMap(_) => "TableMap",
            BinlogEvent::Rows(_) => "Rows",
            BinlogEvent::TransactionPayload { .. } => "TransactionPayload",
            BinlogEvent::Heartbeat { .. } => "Heartbeat",
            BinlogEvent::Stop => "Stop",
            BinlogEvent::Incident { .. } => "Incident",
            BinlogEvent::StartEncryption { .. } => "StartEncryption",
            BinlogEvent::Ignored { .. } => "Ignored",
            BinlogEvent::Unsupported { .. } => "Unsupported",
        }
    }
}

/// Decoding state for one binlog stream.
#[derive(Debug)]
pub struct Decoder {
    file: String,
    fde: FormatDescription,
    fde_seen: bool,
    alg: Option<ChecksumAlg>,
    verify_crc: bool,
    tables: HashMap<u64, Arc<TableMap>>,
    last_header: Option<EventHeader>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new("")
    }
}

impl Decoder {
    /// A decoder for a stream that starts in binlog `file` (used in errors).
    pub fn new(file: &str) -> Self {
        Decoder {
            file: file.to_string(),
            fde: FormatDescription::default_v4(),
            fde_seen: false,
            alg: None,
            verify_crc: true,
            tables: HashMap::new(),
            last_header: None,
        }
    }

    pub fn file_name(&self) -> &str {
        &self.file
    }

    pub fn set_file_name(&mut self, file: &str) {
        if self.file != file {
            self.file = file.to_string();
        }
    }

    /// The current FDE (a default v4 one before the first).
    pub fn format_description(&self) -> &FormatDescription {
        &self.fde
    }

    /// Sets the checksum algorithm before an FDE arrives (e.g. from the
    /// negotiated `@master_binlog_checksum`). An FDE overrides it.
    pub fn set_checksum_alg(&mut self, alg: ChecksumAlg) {
        self.alg = Some(alg);
    }

    pub fn checksum_alg(&self) -> Option<ChecksumAlg> {
        self.alg
    }

    /// CRC verification of CRC32 trailers (on by default).
    pub fn set_verify_checksums(&mut self, on: bool) {
        self.verify_crc = on;
    }

    /// The header of the last event given to `decode`.
    pub fn last_header(&self) -> Option<&EventHeader> {
        self.last_header.as_ref()
    }

    /// The table map in force for `table_id`.
    pub fn table(&self, table_id: u64) -> Option<&Arc<TableMap>> {
        self.tables.get(&table_id)
    }

    /// Sets the fractional precision of pre-5.6 temporal columns (TIME,
    /// DATETIME, TIMESTAMP) of the map in force for `table_id`, which the
    /// binlog does not carry (MariaDB 5.3 `TIME(n) /* mariadb-5.3 */`):
    /// `(column index, n)`. Rows events of that table decoded afterwards
    /// (until the map is replaced or cleared at the statement's end) use it.
    /// Returns the refined map; `Ok(None)` when no map is in force for
    /// `table_id`.
    pub fn refine_temporal_precision(
        &mut self,
        table_id: u64,
        precisions: &[(usize, u8)],
    ) -> Result<Option<Arc<TableMap>>, PrecisionError> {
        let Some(tm) = self.tables.get(&table_id) else {
            return Ok(None);
        };
        let refined = Arc::new(tm.with_temporal_precision(precisions)?);
        self.tables.insert(table_id, Arc::clone(&refined));
        Ok(Some(refined))
    }

    fn err(&self, pos: u64, t: Option<u8>, kind: ErrorKind) -> BinlogError {
        BinlogError::new(&self.file, pos, t, kind)
    }

    /// Decodes one whole raw event that starts at `pos` in the current file.
    pub fn decode(&mut self, raw: &[u8], pos: u64) -> Result<BinlogEvent, BinlogError> {
        self.decode_with(raw, pos, self.verify_crc, true)
    }

    /// Like `decode`, for an event whose CRC the caller already verified.
    pub(crate) fn decode_trusted(&mut self, raw: &[u8], pos: u64) -> Result<BinlogEvent, BinlogError> {
        self.decode_with(raw, pos, false, true)
    }

    fn decode_with(&mut self, raw: &[u8], pos: u64, verify: bool, framed: bool) -> Result<BinlogEvent, BinlogError> {
        let h = EventHeader::parse(raw).ok_or_else(|| {
            self.err(
                pos,
                None,
                ErrorKind::Truncated {
                    have: raw.len() as u64,
                    need: HEADER_LEN as u64,
                },
            )
        })?;
        let t = h.event_type;
        if u64::from(h.event_size) != raw.len() as u64 {
            return Err(self.err(
                pos,
                Some(t),
                ErrorKind::Malformed(format!("event_size {} but {} bytes given", h.event_size, raw.len())),
            ));
        }
        self.last_header = Some(h);
        // Work out whether a CRC trailer is present and strip it.
        let has_crc = if !framed {
            false
        } else if t == FORMAT_DESCRIPTION_EVENT {
            let fde = parse_fde(raw).map_err(|k| self.err(pos, Some(t), k))?;
            let aware = fde.checksum_aware();
            if verify && fde.alg() == ChecksumAlg::Crc32 {
                self.check_crc(raw, pos, t, true)?;
            }
            self.alg = Some(fde.alg());
            self.fde = fde;
            self.fde_seen = true;
            self.tables.clear();
            aware
        } else {
            match self.alg {
                Some(ChecksumAlg::Crc32) => {
                    if verify {
                        self.check_crc(raw, pos, t, false)?;
                    }
                    true
                }
                Some(ChecksumAlg::Off) => false,
                None => {
                    raw.len() >= HEADER_LEN + CHECKSUM_LEN && {
                        let n = raw.len() - CHECKSUM_LEN;
                        let stored = u32::from_le_bytes([raw[n], raw[n + 1], raw[n + 2], raw[n + 3]]);
                        stored == event_crc(&raw[..n], false)
                    }
                }
            }
        };
        let end = if has_crc {
            raw.len()
                .checked_sub(CHECKSUM_LEN)
                .filter(|e| *e >= HEADER_LEN)
                .ok_or_else(|| {
                    self.err(
                        pos,
                        Some(t),
                        ErrorKind::Malformed("event too short for its CRC32".into()),
                    )
                })?
        } else {
            raw.len()
        };
        let payload = &raw[HEADER_LEN..end];
        self.decode_payload(&h, payload, pos)
    }

    fn check_crc(&self, raw: &[u8], pos: u64, t: u8, is_fde: bool) -> Result<(), BinlogError> {
        if raw.len() < HEADER_LEN + CHECKSUM_LEN {
            return Err(self.err(
                pos,
                Some(t),
                ErrorKind::Malformed("event too short for its CRC32".into()),
            ));
        }
        let n = raw.len() - CHECKSUM_LEN;
        let stored = u32::from_le_bytes([raw[n], raw[n + 1], raw[n + 2], raw[n + 3]]);
        let computed = event_crc(&raw[..n], is_fde);
        if stored != computed {
            return Err(self.err(pos, Some(t), ErrorKind::Checksum { stored, computed }));
        }
        Ok(())
    }

    /// Post-header length for `t`, falling back to the v4 default.
    fn post(&self, t: u8, default: usize) -> usize {
        self.fde.post_header_len(t).map(usize::from).unwrap_or(default)
    }

    fn decode_payload(&mut self, h: &EventHeader, p: &[u8], pos: u64) -> Result<BinlogEvent, BinlogError> {
        let t = h.event_type;
        let wrap = |s: &Self, k: ErrorKind| s.err(pos, Some(t), k);
        let r: KResult<BinlogEvent> = match t {
            FORMAT_DESCRIPTION_EVENT => Ok(BinlogEvent::FormatDescription(self.fde.clone())),
            ROTATE_EVENT => {
                events::parse_rotate(p, self.post(t, 8)).map(|(file, pos)| BinlogEvent::Rotate { file, pos })
            }
            QUERY_EVENT => events::parse_query(p, self.post(t, 13), h.timestamp).map(|q| self.query(q)),
            MARIA_QUERY_COMPRESSED_EVENT => self.compressed_query(p, h),
            XID_EVENT => events::parse_xid(p).map(BinlogEvent::Xid),
            INTVAR_EVENT => events::parse_intvar(p).map(|(kind, value)| BinlogEvent::IntVar { kind, value }),
            RAND_EVENT => events::parse_rand(p).map(|(seed1, seed2)| BinlogEvent::Rand { seed1, seed2 }),
            USER_VAR_EVENT => events::parse_user_var(p).map(BinlogEvent::UserVar),
            STOP_EVENT => Ok(BinlogEvent::Stop),
            INCIDENT_EVENT => events::parse_incident(p).map(|(kind, message)| BinlogEvent::Incident { kind, message }),
            HEARTBEAT_EVENT => Ok(BinlogEvent::Heartbeat {
                file: String::from_utf8_lossy(p).into_owned(),
                log_pos: h.log_pos,
            }),
            HEARTBEAT_EVENT_V2 => Ok(BinlogEvent::Heartbeat {
                file: self.file.clone(),
                log_pos: h.log_pos,
            }),
            ROWS_QUERY_EVENT => events::parse_rows_query(p).map(BinlogEvent::Annotate),
            MARIA_ANNOTATE_ROWS_EVENT => Ok(BinlogEvent::Annotate(p.to_vec())),
            MARIA_BINLOG_CHECKPOINT_EVENT => {
                mariadb::parse_checkpoint(p).map(|file| BinlogEvent::BinlogCheckpoint { file })
            }
            MARIA_GTID_EVENT => mariadb::parse_gtid(p, h.server_id).map(BinlogEvent::MariaGtid),
            MARIA_GTID_LIST_EVENT => {
                mariadb::parse_gtid_list(p).map(|(gtids, flags)| BinlogEvent::GtidList { gtids, flags })
            }
            MARIA_START_ENCRYPTION_EVENT => mariadb::parse_start_encryption(p)
                .map(|(scheme, key_version)| BinlogEvent::StartEncryption { scheme, key_version }),
            GTID_EVENT => mysql_gtid::parse_gtid(p, false).map(BinlogEvent::MysqlGtid),
            ANONYMOUS_GTID_EVENT => mysql_gtid::parse_gtid(p, true).map(BinlogEvent::MysqlGtid),
            GTID_TAGGED_EVENT => mysql_gtid::parse_tagged_gtid(p).map(BinlogEvent::MysqlGtid),
            PREVIOUS_GTIDS_EVENT => mysql_gtid::parse_previous_gtids(p).map(BinlogEvent::PreviousGtids),
            TABLE_MAP_EVENT => {
                return match parse_table_map(p, self.post(t, 8)) {
                    Ok(tm) => {
                        let tm = Arc::new(tm);
                        self.tables.insert(tm.table_id, Arc::clone(&tm));
                        Ok(BinlogEvent::TableMap(tm))
                    }
                    Err(k) => Err(wrap(self, k)),
                }
            }
            TRANSACTION_PAYLOAD_EVENT => return self.transaction_payload(p, pos, t),
            IGNORABLE_EVENT | TRANSACTION_CONTEXT_EVENT | VIEW_CHANGE_EVENT => {
                Ok(BinlogEvent::Ignored { event_type: t })
            }
            _ if rows_kind(t).is_some() => return self.rows(p, pos, t),
            BEGIN_LOAD_QUERY_EVENT => load_data::parse_block(p, true).map(BinlogEvent::LoadBlock),
            APPEND_BLOCK_EVENT => load_data::parse_block(p, false).map(BinlogEvent::LoadBlock),
            DELETE_FILE_EVENT => load_data::parse_delete_file(p).map(|file_id| BinlogEvent::DeleteFile { file_id }),
            EXECUTE_LOAD_QUERY_EVENT => load_data::parse_execute_load(p, self.post(t, 26), h.timestamp).map(|mut e| {
                if self.fde.is_mariadb() {
                    e.query.status.read_mariadb_options();
                }
                BinlogEvent::ExecuteLoad(Box::new(e))
            }),
            LOAD_EVENT | CREATE_FILE_EVENT | EXEC_LOAD_EVENT | NEW_LOAD_EVENT => Ok(BinlogEvent::Unsupported {
                event_type: t,
                reason: "LOAD DATA events of MySQL 4.x/5.0 servers (before BEGIN_LOAD_QUERY) are not supported".into(),
            }),
            XA_PREPARE_EVENT => xa::parse_xa_prepare(p).map(BinlogEvent::XaPrepare),
            PRE_GA_WRITE_ROWS_EVENT | PRE_GA_UPDATE_ROWS_EVENT | PRE_GA_DELETE_ROWS_EVENT => {
                Ok(BinlogEvent::Unsupported {
                    event_type: t,
                    reason: "pre-GA (5.1 beta) rows event format".into(),
                })
            }
            START_EVENT_V3 | SLAVE_EVENT | UNKNOWN_EVENT => Ok(BinlogEvent::Unsupported {
                event_type: t,
                reason: "obsolete event type".into(),
            }),
            _ => Ok(BinlogEvent::Unsupported {
                event_type: t,
                reason: format!("unknown event type {t}"),
            }),
        };
        r.map_err(|k| wrap(self, k))
    }

    fn compressed_query(&self, p: &[u8], h: &EventHeader) -> KResult<BinlogEvent> {
        // Same layout as QUERY with the statement text compressed; parse the
        // uncompressed parts, then inflate the text.
        let mut q = events::parse_query(p, self.post(QUERY_EVENT, 13), h.timestamp)?;
        q.sql = inflate(&q.sql)?;
        Ok(self.query(q))
    }

    /// A parsed query event, with the session options of the source's
    /// flavour.
    fn query(&self, mut q: events::QueryEvent) -> BinlogEvent {
        if self.fde.is_mariadb() {
            q.status.read_mariadb_options();
        }
        BinlogEvent::Query(Box::new(q))
    }

    fn rows(&mut self, p: &[u8], pos: u64, t: u8) -> Result<BinlogEvent, BinlogError> {
        let post = self.post(t, if matches!(t, 30..=32 | 39 | 169..=171) { 10 } else { 8 });
        let h = parse_rows_header(p, post, t).map_err(|k| self.err(pos, Some(t), k))?;
        let tm = match self.tables.get(&h.table_id) {
            Some(tm) => Arc::clone(tm),
            None => return Err(self.err(pos, Some(t), ErrorKind::UnknownTable(h.table_id))),
        };
        let res = if (MARIA_WRITE_ROWS_COMPRESSED_EVENT_V1..=MARIA_DELETE_ROWS_COMPRESSED_EVENT).contains(&t) {
            inflate(h.rows).and_then(|rows| {
                let h2 = RowsHeader {
                    rows: &rows,
                    ..h.clone()
                };
                decode_rows(&h2, &tm, t)
            })
        } else {
            decode_rows(&h, &tm, t)
        };
        let ev = res.map_err(|k| self.err(pos, Some(t), k).with_table(tm.qualified_name()))?;
        if ev.stmt_end() {
            self.tables.clear();
        }
        Ok(BinlogEvent::Rows(ev))
    }

    fn transaction_payload(&mut self, p: &[u8], pos: u64, t: u8) -> Result<BinlogEvent, BinlogError> {
        let pl = inflate_payload(p).map_err(|k| self.err(pos, Some(t), k))?;
        let outer = self.last_header;
        let mut events = Vec::new();
        let mut off = 0usize;
        let data = &pl.data;
        while off < data.len() {
            let h = EventHeader::parse(&data[off..]).ok_or_else(|| {
                self.err(
                    pos,
                    Some(t),
                    ErrorKind::Malformed(format!("inner event header cut at offset {off}")),
                )
            })?;
            let size = h.event_size as usize;
            if size < HEADER_LEN || off + size > data.len() {
                return Err(self.err(
                    pos,
                    Some(t),
                    ErrorKind::Malformed(format!(
                        "inner event of {size} bytes at offset {off} overruns the payload"
                    )),
                ));
            }
            let ev = self.decode_with(&data[off..off + size], pos, false, false)?;
            events.push(ev);
            off += size;
        }
        self.last_header = outer;
        Ok(BinlogEvent::TransactionPayload {
            compression: pl.compression,
            uncompressed_size: pl.uncompressed_size,
            events,
        })
    }
}
