//! Native event ids: `mysql-bin.000018:0000000000070227;140`.
//!
//! The offset is the binlog position *after* the transaction's commit event,
//! zero-padded to 16 digits as Tungsten writes it, so that restarting from it
//! resumes at the next transaction. The part after `;` is the source thread
//! id (`-1` when not applicable). Parsing accepts Tungsten's relaxed forms:
//! no `;session` suffix, and any number of offset digits.

use std::fmt;

/// A binlog position as carried in a THL event id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventId {
    /// Binlog file name, e.g. `mysql-bin.000018`.
    pub file: String,
    /// Offset after the commit event of the transaction.
    pub offset: u64,
    /// The source thread (session) id, -1 when unknown.
    pub session: i64,
}

impl EventId {
    pub fn new(file: impl Into<String>, offset: u64, session: i64) -> EventId {
        EventId {
            file: file.into(),
            offset,
            session,
        }
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
                s.trim()
                    .parse::<i64>()
                    .map_err(|_| bad("the session id after ';' is not a number"))?,
            ),
            None => (text, -1),
        };
        let (file, offset) = position.rsplit_once(':').ok_or_else(|| bad("expected file:offset"))?;
        if file.is_empty() {
            return Err(bad("the binlog file name is empty"));
        }
        let offset = offset
            .trim()
            .parse::<u64>()
            .map_err(|_| bad("the offset is not a number"))?;
        Ok(EventId {
            file: file.to_owned(),
            offset,
            session,
        })
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{:016};{}", self.file, self.offset, self.session)
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
            EventId::new("mysql-bin.000018", 70227, 140).to_string(),
            "mysql-bin.000018:0000000000070227;140"
        );
    }

    #[test]
    fn parses_all_tungsten_forms() {
        let full = EventId::parse("mysql-bin.000018:0000000000070227;140").ok();
        assert_eq!(full, Some(EventId::new("mysql-bin.000018", 70227, 140)));
        let short = EventId::parse("mysql-bin.000018:70227").ok();
        assert_eq!(short, Some(EventId::new("mysql-bin.000018", 70227, -1)));
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        for text in ["", "nocolon", ":12", "f:x", "f:12;y"] {
            assert!(EventId::parse(text).is_err(), "{text}");
        }
    }
}
