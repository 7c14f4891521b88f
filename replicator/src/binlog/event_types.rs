//! Event type codes (MySQL `Log_event_type`, MariaDB 160-171) and the
//! common 19-byte event header.
//!
//! | offset | size | field                                   |
//! |--------|------|-----------------------------------------|
//! | 0      | 4    | timestamp (seconds)                     |
//! | 4      | 1    | event type                              |
//! | 5      | 4    | server id                               |
//! | 9      | 4    | event size (header + payload + CRC)     |
//! | 13     | 4    | log_pos: position of the *next* event   |
//! | 17     | 2    | flags                                   |

pub const UNKNOWN_EVENT: u8 = 0;
pub const START_EVENT_V3: u8 = 1;
pub const QUERY_EVENT: u8 = 2;
pub const STOP_EVENT: u8 = 3;
pub const ROTATE_EVENT: u8 = 4;
pub const INTVAR_EVENT: u8 = 5;
pub const LOAD_EVENT: u8 = 6;
pub const SLAVE_EVENT: u8 = 7;
pub const CREATE_FILE_EVENT: u8 = 8;
pub const APPEND_BLOCK_EVENT: u8 = 9;
pub const EXEC_LOAD_EVENT: u8 = 10;
pub const DELETE_FILE_EVENT: u8 = 11;
pub const NEW_LOAD_EVENT: u8 = 12;
pub const RAND_EVENT: u8 = 13;
pub const USER_VAR_EVENT: u8 = 14;
pub const FORMAT_DESCRIPTION_EVENT: u8 = 15;
pub const XID_EVENT: u8 = 16;
pub const BEGIN_LOAD_QUERY_EVENT: u8 = 17;
pub const EXECUTE_LOAD_QUERY_EVENT: u8 = 18;
pub const TABLE_MAP_EVENT: u8 = 19;
pub const PRE_GA_WRITE_ROWS_EVENT: u8 = 20;
pub const PRE_GA_UPDATE_ROWS_EVENT: u8 = 21;
pub const PRE_GA_DELETE_ROWS_EVENT: u8 = 22;
pub const WRITE_ROWS_EVENT_V1: u8 = 23;
pub const UPDATE_ROWS_EVENT_V1: u8 = 24;
pub const DELETE_ROWS_EVENT_V1: u8 = 25;
pub const INCIDENT_EVENT: u8 = 26;
pub const HEARTBEAT_EVENT: u8 = 27;
pub const IGNORABLE_EVENT: u8 = 28;
pub const ROWS_QUERY_EVENT: u8 = 29;
pub const WRITE_ROWS_EVENT: u8 = 30;
pub const UPDATE_ROWS_EVENT: u8 = 31;
pub const DELETE_ROWS_EVENT: u8 = 32;
pub const GTID_EVENT: u8 = 33;
pub const ANONYMOUS_GTID_EVENT: u8 = 34;
pub const PREVIOUS_GTIDS_EVENT: u8 = 35;
pub const TRANSACTION_CONTEXT_EVENT: u8 = 36;
pub const VIEW_CHANGE_EVENT: u8 = 37;
pub const XA_PREPARE_EVENT: u8 = 38;
pub const PARTIAL_UPDATE_ROWS_EVENT: u8 = 39;
pub const TRANSACTION_PAYLOAD_EVENT: u8 = 40;
pub const HEARTBEAT_EVENT_V2: u8 = 41;
pub const GTID_TAGGED_EVENT: u8 = 42;
pub const MARIA_ANNOTATE_ROWS_EVENT: u8 = 160;
pub const MARIA_BINLOG_CHECKPOINT_EVENT: u8 = 161;
pub const MARIA_GTID_EVENT: u8 = 162;
pub const MARIA_GTID_LIST_EVENT: u8 = 163;
pub const MARIA_START_ENCRYPTION_EVENT: u8 = 164;
pub const MARIA_QUERY_COMPRESSED_EVENT: u8 = 165;
pub const MARIA_WRITE_ROWS_COMPRESSED_EVENT_V1: u8 = 166;
pub const MARIA_UPDATE_ROWS_COMPRESSED_EVENT_V1: u8 = 167;
pub const MARIA_DELETE_ROWS_COMPRESSED_EVENT_V1: u8 = 168;
pub const MARIA_WRITE_ROWS_COMPRESSED_EVENT: u8 = 169;
pub const MARIA_UPDATE_ROWS_COMPRESSED_EVENT: u8 = 170;
pub const MARIA_DELETE_ROWS_COMPRESSED_EVENT: u8 = 171;

/// Length of the v4 common header.
pub const HEADER_LEN: usize = 19;
/// Length of the CRC32 trailer.
pub const CHECKSUM_LEN: usize = 4;
/// Header flag: the file was not closed properly (set in the FDE of an
/// active binlog; cleared before computing the FDE's checksum).
pub const LOG_EVENT_BINLOG_IN_USE_F: u16 = 0x1;
/// Header flag: the event was made up by the server (fake ROTATE, ...).
pub const LOG_EVENT_ARTIFICIAL_F: u16 = 0x20;

/// The readable name of an event type.
pub fn event_type_name(t: u8) -> &'static str {
    match t {
        UNKNOWN_EVENT => "UNKNOWN_EVENT",
        START_EVENT_V3 => "START_EVENT_V3",
        QUERY_EVENT => "QUERY_EVENT",
        STOP_EVENT => "STOP_EVENT",
        ROTATE_EVENT => "ROTATE_EVENT",
        INTVAR_EVENT => "INTVAR_EVENT",
        LOAD_EVENT => "LOAD_EVENT",
        SLAVE_EVENT => "SLAVE_EVENT",
        CREATE_FILE_EVENT => "CREATE_FILE_EVENT",
        APPEND_BLOCK_EVENT => "APPEND_BLOCK_EVENT",
        EXEC_LOAD_EVENT => "EXEC_LOAD_EVENT",
        DELETE_FILE_EVENT => "DELETE_FILE_EVENT",
        NEW_LOAD_EVENT => "NEW_LOAD_EVENT",
        RAND_EVENT => "RAND_EVENT",
        USER_VAR_EVENT => "USER_VAR_EVENT",
        FORMAT_DESCRIPTION_EVENT => "FORMAT_DESCRIPTION_EVENT",
        XID_EVENT => "XID_EVENT",
        BEGIN_LOAD_QUERY_EVENT => "BEGIN_LOAD_QUERY_EVENT",
        EXECUTE_LOAD_QUERY_EVENT => "EXECUTE_LOAD_QUERY_EVENT",
        TABLE_MAP_EVENT => "TABLE_MAP_EVENT",
        PRE_GA_WRITE_ROWS_EVENT => "PRE_GA_WRITE_ROWS_EVENT",
        PRE_GA_UPDATE_ROWS_EVENT => "PRE_GA_UPDATE_ROWS_EVENT",
        PRE_GA_DELETE_ROWS_EVENT => "PRE_GA_DELETE_ROWS_EVENT",
        WRITE_ROWS_EVENT_V1 => "WRITE_ROWS_EVENT_V1",
        UPDATE_ROWS_EVENT_V1 => "UPDATE_ROWS_EVENT_V1",
        DELETE_ROWS_EVENT_V1 => "DELETE_ROWS_EVENT_V1",
        INCIDENT_EVENT => "INCIDENT_EVENT",
        HEARTBEAT_EVENT => "HEARTBEAT_EVENT",
        IGNORABLE_EVENT => "IGNORABLE_EVENT",
        ROWS_QUERY_EVENT => "ROWS_QUERY_EVENT",
        WRITE_ROWS_EVENT => "WRITE_ROWS_EVENT",
        UPDATE_ROWS_EVENT => "UPDATE_ROWS_EVENT",
        DELETE_ROWS_EVENT => "DELETE_ROWS_EVENT",
        GTID_EVENT => "GTID_EVENT",
        ANONYMOUS_GTID_EVENT => "ANONYMOUS_GTID_EVENT",
        PREVIOUS_GTIDS_EVENT => "PREVIOUS_GTIDS_EVENT",
        TRANSACTION_CONTEXT_EVENT => "TRANSACTION_CONTEXT_EVENT",
        VIEW_CHANGE_EVENT => "VIEW_CHANGE_EVENT",
        XA_PREPARE_EVENT => "XA_PREPARE_LOG_EVENT",
        PARTIAL_UPDATE_ROWS_EVENT => "PARTIAL_UPDATE_ROWS_EVENT",
        TRANSACTION_PAYLOAD_EVENT => "TRANSACTION_PAYLOAD_EVENT",
        HEARTBEAT_EVENT_V2 => "HEARTBEAT_EVENT_V2",
        GTID_TAGGED_EVENT => "GTID_TAGGED_LOG_EVENT",
        MARIA_ANNOTATE_ROWS_EVENT => "ANNOTATE_ROWS_EVENT",
        MARIA_BINLOG_CHECKPOINT_EVENT => "BINLOG_CHECKPOINT_EVENT",
        MARIA_GTID_EVENT => "GTID_EVENT(MariaDB)",
        MARIA_GTID_LIST_EVENT => "GTID_LIST_EVENT",
        MARIA_START_ENCRYPTION_EVENT => "START_ENCRYPTION_EVENT",
        MARIA_QUERY_COMPRESSED_EVENT => "QUERY_COMPRESSED_EVENT",
        MARIA_WRITE_ROWS_COMPRESSED_EVENT_V1 => "WRITE_ROWS_COMPRESSED_EVENT_V1",
        MARIA_UPDATE_ROWS_COMPRESSED_EVENT_V1 => "UPDATE_ROWS_COMPRESSED_EVENT_V1",
        MARIA_DELETE_ROWS_COMPRESSED_EVENT_V1 => "DELETE_ROWS_COMPRESSED_EVENT_V1",
        MARIA_WRITE_ROWS_COMPRESSED_EVENT => "WRITE_ROWS_COMPRESSED_EVENT",
        MARIA_UPDATE_ROWS_COMPRESSED_EVENT => "UPDATE_ROWS_COMPRESSED_EVENT",
        MARIA_DELETE_ROWS_COMPRESSED_EVENT => "DELETE_ROWS_COMPRESSED_EVENT",
        _ => "UNKNOWN_TYPE",
    }
}

/// The common event header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventHeader {
    pub timestamp: u32,
    pub event_type: u8,
    pub server_id: u32,
    pub event_size: u32,
    /// Position of the next event (0 in some MariaDB relay/artificial events).
    pub log_pos: u32,
    pub flags: u16,
}

impl EventHeader {
    /// Parses the first 19 bytes; `None` when fewer are given.
    pub fn parse(b: &[u8]) -> Option<EventHeader> {
        if b.len() < HEADER_LEN {
            return None;
        }
        let u32at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        Some(EventHeader {
            timestamp: u32at(0),
            event_type: b[4],
            server_id: u32at(5),
            event_size: u32at(9),
            log_pos: u32at(13),
            flags: u16::from_le_bytes([b[17], b[18]]),
        })
    }
}
