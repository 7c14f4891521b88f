//! Native event ids: `mysql-bin.000018:0000000000070227;140`.
//!
//! The offset is the binlog position *after* the transaction's commit event,
//! zero-padded to 16 digits as Tungsten writes it, so that restarting from it
//! resumes at the next transaction. The part after `;` is the source thread
//! id (`-1` when not applicable). Parsing accepts Tungsten's relaxed forms:
//! no `;session` suffix, and any number of offset digits.

use std::fmt;

use crate::binlog::BinlogPosition;

/// A binlog position as carried in a THL event id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventId {
    /// The binlog file and the offset after the commit event of the
    /// transaction.
    pub at: BinlogPosition,
    /// The source thread (session) id; written `-1` when unknown.
    pub session: Option<u32>,
}

impl EventId {
    pub fn new(at: BinlogPosition, session: Option<u32>) -> EventId {
        EventId { at, session }
    }

    /// Parses `file:offset[;session]`.
    pub fn parse(text: &str) -> Result<EventId, BadEventId> {
        let bad = |why: &'static str| BadEventId {
            text: text.to_owned(),
            why,
        };
        let (position, session) = match text.split_once(';') {
            Some((p, s)) => (
                p,
                parse_session(s.trim()).ok_or_else(|| bad("the session id after ';' is not -1 or a thread id"))?,
            ),
            None => (text, None),
        };
        let (file, offset) = position.rsplit_once(':').ok_or_else(|| bad("expected file:offset"))?;
        if file.is_empty() {
            return Err(bad("the binlog file name is empty"));
        }
        let offset = offset
            .trim()
            .parse::<u64>()
            .map_err(|_| bad("the offset is not a number"))?;
        Ok(EventId::new(BinlogPosition::new(file, offset), session))
    }
}

/// `-1` (no session) or a thread id.
fn parse_session(text: &str) -> Option<Option<u32>> {
    match text {
        "-1" => Some(None),
        id => id.parse::<u32>().ok().map(Some),
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{:016};", self.at.file, self.at.pos)?;
        match self.session {
            Some(id) => write!(f, "{id}"),
            None => f.write_str("-1"),
        }
    }
}

/// An event id that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event id {text:?}: {why} (expected e.g. mysql-bin.000018:0000000000070227;140)")]
pub struct BadEventId {
    pub text: String,
    pub why: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_sixteen_digits() {
        assert_eq!(
            EventId::new(BinlogPosition::new("mysql-bin.000018", 70227), Some(140)).to_string(),
            "mysql-bin.000018:0000000000070227;140"
        );
    }

    #[test]
    fn parses_all_tungsten_forms() {
        let full = EventId::parse("mysql-bin.000018:0000000000070227;140").ok();
        assert_eq!(
            full,
            Some(EventId::new(BinlogPosition::new("mysql-bin.000018", 70227), Some(140)))
        );
        let short = EventId::parse("mysql-bin.000018:70227").ok();
        assert_eq!(
            short,
            Some(EventId::new(BinlogPosition::new("mysql-bin.000018", 70227), None))
        );
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        for text in ["", "nocolon", ":12", "f:x", "f:12;y", "f:12;-2"] {
            assert!(EventId::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn an_unknown_session_is_written_and_read_as_minus_one() {
        let id = EventId::new(BinlogPosition::new("mysql-bin.000001", 4), None);
        assert_eq!(id.to_string(), "mysql-bin.000001:0000000000000004;-1");
        assert_eq!(EventId::parse(&id.to_string()).ok(), Some(id));
    }
}
