//! `LOAD DATA` logged as a statement (a session with
//! `binlog_format=STATEMENT`, or MIXED where the server keeps it a
//! statement): the file travels in the binlog.
//!
//! | event | payload |
//! |---|---|
//! | BEGIN_LOAD_QUERY (17) | `u32` file id, then the file's first block |
//! | APPEND_BLOCK (9) | `u32` file id, then the next block |
//! | EXECUTE_LOAD_QUERY (18) | a QUERY event whose post-header has 13 more bytes: `u32` file id, `u32` start and `u32` end of the span of the statement that names the file (`INFILE '...'` up to `INTO`), `u8` duplicate handling (0 error, 1 ignore, 2 replace); the statement is the client's |
//! | DELETE_FILE (11) | `u32` file id: the statement failed, the file is dropped |
//!
//! [`rewrite_to_local`] makes the statement read the file from the client
//! (`LOAD DATA LOCAL INFILE`), as `mariadb-binlog` prints it and MariaDB's
//! replica runs it from its own copy; the applier sends the bytes.

use super::cursor::Cursor;
use super::error::{malformed, KResult};
use super::events::{parse_query, QueryEvent};

/// A block of a file (BEGIN_LOAD_QUERY: the first, APPEND_BLOCK: a next).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBlock {
    pub file_id: u32,
    pub first: bool,
    pub data: Vec<u8>,
}

/// EXECUTE_LOAD_QUERY: the statement, and where in it the file is named.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecuteLoad {
    pub file_id: u32,
    pub query: QueryEvent,
    /// Byte span of the statement text replaced by [`rewrite_to_local`].
    pub span: (usize, usize),
    /// 0 = error on duplicates, 1 = IGNORE, 2 = REPLACE.
    pub dup_handling: u8,
}

pub fn parse_block(p: &[u8], first: bool) -> KResult<LoadBlock> {
    let mut c = Cursor::new(p);
    let file_id = c.u32("load data file_id")?;
    Ok(LoadBlock {
        file_id,
        first,
        data: c.take_rest().to_vec(),
    })
}

pub fn parse_delete_file(p: &[u8]) -> KResult<u32> {
    Ok(Cursor::new(p).u32("delete_file file_id")?)
}

/// `post` is the event type's post-header length (26: the query's 13 and
/// these 13).
pub fn parse_execute_load(p: &[u8], post: usize, timestamp: u32) -> KResult<ExecuteLoad> {
    if post < 26 {
        return Err(malformed(format!(
            "EXECUTE_LOAD_QUERY post-header of {post} bytes (26 expected)"
        )));
    }
    let mut c = Cursor::new(p);
    c.skip(13, "execute_load_query query post-header")?;
    let file_id = c.u32("execute_load_query file_id")?;
    let start = c.u32("execute_load_query fn_pos_start")? as usize;
    let end = c.u32("execute_load_query fn_pos_end")? as usize;
    let dup_handling = c.u8("execute_load_query dup_handling")?;
    let query = parse_query(p, post, timestamp)?;
    if start > end || end > query.sql.len() || dup_handling > 2 {
        return Err(malformed(format!(
            "EXECUTE_LOAD_QUERY file name span {start}..{end} of a {}-byte statement, duplicate handling {dup_handling}",
            query.sql.len()
        )));
    }
    Ok(ExecuteLoad {
        file_id,
        query,
        span: (start, end),
        dup_handling,
    })
}

/// The name the rewritten statement reads; the applier's handler gives
/// the file's bytes whatever the name.
pub const LOCAL_FILE_NAME: &str = "tungsten-load-data";

/// The statement with its file span replaced by
/// ` LOCAL INFILE '<LOCAL_FILE_NAME>' [IGNORE|REPLACE] INTO `.
pub fn rewrite_to_local(e: &ExecuteLoad) -> Vec<u8> {
    let sql = &e.query.sql;
    let (start, end) = e.span;
    let dup = match e.dup_handling {
        1 => " IGNORE",
        2 => " REPLACE",
        _ => "",
    };
    let mut out = sql[..start].to_vec();
    out.extend_from_slice(format!(" LOCAL INFILE '{LOCAL_FILE_NAME}'{dup} INTO ").as_bytes());
    out.extend_from_slice(&sql[end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MariaDB 10.11 logs a `LOCAL` load as `LOAD DATA LOCAL INFILE 'f'
    /// IGNORE INTO TABLE ...` with the span 9..50 and duplicate handling 0.
    #[test]
    fn the_file_span_becomes_a_local_infile() {
        let sql = b"LOAD DATA LOCAL INFILE '/tmp/ld/f.txt' IGNORE INTO TABLE `t` (`a`, `b`)".to_vec();
        let mut query = parse_query(&[0; 14], 13, 0).expect("an empty query");
        query.sql = sql;
        let mut e = ExecuteLoad {
            file_id: 1,
            query,
            span: (9, 50),
            dup_handling: 0,
        };
        assert_eq!(
            String::from_utf8_lossy(&rewrite_to_local(&e)),
            "LOAD DATA LOCAL INFILE 'tungsten-load-data' INTO  TABLE `t` (`a`, `b`)"
        );
        e.dup_handling = 2;
        assert!(String::from_utf8_lossy(&rewrite_to_local(&e)).contains("'tungsten-load-data' REPLACE INTO  TABLE"));
    }

    #[test]
    fn a_span_outside_the_statement_is_malformed() {
        let mut p = vec![0u8; 13];
        p.extend_from_slice(&1u32.to_le_bytes());
        p.extend_from_slice(&9u32.to_le_bytes());
        p.extend_from_slice(&500u32.to_le_bytes());
        p.push(0);
        p.push(0); // db NUL (db_len 0)
        p.extend_from_slice(b"LOAD DATA INFILE 'x' INTO TABLE t");
        let e = parse_execute_load(&p, 26, 0).expect_err("span past the end");
        assert!(e.to_string().contains("span 9..500"), "{e}");
    }
}
