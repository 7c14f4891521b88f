//! Row statements of one event sent in one round trip.
//!
//! Row changes are rendered as SQL text with literals and queued; the queue
//! goes to the target as one multi-statement query at the end of the event
//! (one transaction or fragment), before any statement event, session
//! change, position update or COMMIT, and whenever it reaches the packet
//! budget. The server runs the statements in order and stops at the first
//! error; the result set of statement *i* gives its affected rows, so the
//! zero-row policy and the error's seqno, table and SQL are exactly those
//! of statement *i*.
//!
//! Literals are exact under the row session (`character_set_client=binary`,
//! `time_zone='+00:00'`, no `NO_BACKSLASH_ESCAPES`): the same values the
//! prepared-statement path binds (see `bind.rs`), rendered by
//! `mysql_common` (strings escaped, non-UTF-8 bytes as `0x..` binary
//! literals, dates and times quoted with microseconds), except floating
//! point, which is written in exponent form (`1.7976931348623157e308`,
//! `1.0000000149011612e-1` for the FLOAT 0.1) so the server reads it as the
//! same DOUBLE (a FLOAT column rounds it back to the same bits, and a FLOAT
//! compared in WHERE is compared as that DOUBLE, as the server does).

use mysql_async::Value as P;
use thl::event::RowAction;
use thl::seqno::Seqno;

/// One queued statement.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// The transaction (`None` outside one).
    pub seqno: Option<Seqno>,
    pub fragno: u16,
    pub table: String,
    pub action: RowAction,
    /// Rows the statement changes (for statistics).
    pub rows: u64,
    /// The key it matches (UPDATE, DELETE), for the zero-row policy.
    pub key: Option<String>,
    /// Where its text starts in the batch.
    pub start: usize,
}

/// The queue.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub sql: String,
    pub items: Vec<Item>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn clear(&mut self) {
        self.sql.clear();
        self.items.clear();
    }

    /// Queues `sql` (with `?` placeholders) filled with `params`.
    pub fn push(&mut self, sql: &str, params: &[P], mut item: Item) {
        if !self.sql.is_empty() {
            self.sql.push_str(";\n");
        }
        item.start = self.sql.len();
        fill_into(&mut self.sql, sql, params);
        self.items.push(item);
    }

    /// The text of statement `i` (for error messages).
    pub fn statement(&self, i: usize) -> &str {
        let start = self.items.get(i).map_or(0, |it| it.start);
        let end = self
            .items
            .get(i + 1)
            .map_or(self.sql.len(), |it| it.start.saturating_sub(2));
        self.sql.get(start..end).unwrap_or("")
    }
}

/// The SQL literal of a bound parameter.
pub(crate) fn literal(p: &P) -> String {
    match p {
        P::Float(f) => format!("{:e}", f64::from(*f)),
        P::Double(d) => format!("{d:e}"),
        other => other.as_sql(false),
    }
}

/// Appends `sql` to `out` with each `?` outside quotes and backquoted
/// identifiers replaced by the next parameter's literal.
fn fill_into(out: &mut String, sql: &str, params: &[P]) {
    let mut params = params.iter();
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match (quote, c) {
            (None, '`' | '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            (Some(q), _) if c == q => {
                quote = None;
                out.push(c);
            }
            (None, '?') => match params.next() {
                Some(p) => out.push_str(&literal(p)),
                None => out.push('?'),
            },
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> Item {
        Item {
            seqno: Some(Seqno(1)),
            fragno: 0,
            table: "t".into(),
            action: RowAction::Update,
            rows: 1,
            key: None,
            start: 0,
        }
    }

    #[test]
    fn placeholders_outside_quotes_take_literals() {
        let mut b = Batch::default();
        let sql = "UPDATE `a?b`.`t` SET `c?` = ? WHERE `id` = ? AND `f` <=> ?";
        b.push(sql, &[P::Bytes(b"it's".to_vec()), P::Int(-3), P::NULL], item());
        b.push("DELETE FROM `t` WHERE `id` = ?", &[P::UInt(u64::MAX)], item());
        assert_eq!(
            b.sql,
            "UPDATE `a?b`.`t` SET `c?` = 'it\\'s' WHERE `id` = -3 AND `f` <=> NULL;\nDELETE FROM `t` WHERE `id` = 18446744073709551615"
        );
        assert_eq!(b.statement(1), "DELETE FROM `t` WHERE `id` = 18446744073709551615");
        assert!(b.statement(0).starts_with("UPDATE") && b.statement(0).ends_with("NULL"));
    }

    #[test]
    fn literals_are_exact() {
        assert_eq!(
            literal(&P::Double(1.797_693_134_862_315_7e308)),
            "1.7976931348623157e308"
        );
        assert_eq!(literal(&P::Float(0.1)), "1.0000000149011612e-1");
        assert_eq!(literal(&P::Double(-0.0)), "-0e0");
        assert_eq!(literal(&P::Bytes(vec![0xe9, 0x00])), "0xE900");
        assert_eq!(literal(&P::Date(0, 0, 0, 0, 0, 0, 0)), "'0000-00-00'");
        assert_eq!(literal(&P::Time(true, 34, 22, 59, 59, 5)), "'-838:59:59.000005'");
    }
}
