//! `CREATE TABLE` statements that leave the engine to the session's
//! `default_storage_engine`, which the binlog does not carry: the extractor
//! reads the engine the table got from the source, and the applier creates
//! it with the same (a replica that used its own default would diverge:
//! foreign keys, transactions).
//!
//! Recognised: `CREATE [OR REPLACE] TABLE [IF NOT EXISTS] [db.]name ...`
//! (names bare or in backquotes, after leading comments) with no `ENGINE`
//! word anywhere in the statement and not `... LIKE other` (which copies the
//! other table's engine). `CREATE TEMPORARY TABLE` is left alone (a
//! temporary table is gone when the extractor could look).

use super::builder::skip_comments;

/// The `(schema, table)` a `CREATE TABLE` without an engine creates;
/// `default_db` qualifies a bare name.
pub fn table_without_engine(sql: &[u8], default_db: Option<&str>) -> Option<(String, String)> {
    let text = String::from_utf8_lossy(sql);
    let text = skip_comments(&text);
    let upper = text.to_ascii_uppercase();
    if upper
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|w| w == "ENGINE")
    {
        return None;
    }
    let mut rest = keyword(text, "CREATE")?;
    if let Some(r) = keyword(rest, "OR") {
        rest = keyword(r, "REPLACE")?;
    }
    rest = keyword(rest, "TABLE")?;
    if let Some(r) = keyword(rest, "IF") {
        rest = keyword(keyword(r, "NOT")?, "EXISTS")?;
    }
    let (first, after) = identifier(rest)?;
    let (schema, table, after) = match after.strip_prefix('.') {
        Some(r) => {
            let (second, after) = identifier(r)?;
            (first, second, after)
        }
        None => (default_db?.to_owned(), first, after),
    };
    let tail = after.trim_start().trim_start_matches('(').trim_start();
    if keyword(tail, "LIKE").is_some() {
        return None;
    }
    Some((schema, table))
}

/// `text` after the keyword `word` (case-insensitive, followed by a
/// non-identifier character).
fn keyword<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let t = text.trim_start();
    let head = t.get(..word.len())?;
    let next = t[word.len()..].chars().next();
    if head.eq_ignore_ascii_case(word) && next.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_')) {
        Some(&t[word.len()..])
    } else {
        None
    }
}

/// One identifier (backquoted, with doubled backquotes, or bare) and the
/// text after it.
fn identifier(text: &str) -> Option<(String, &str)> {
    let t = text.trim_start();
    if let Some(body) = t.strip_prefix('`') {
        let mut name = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '`' {
                if body[i + 1..].starts_with('`') {
                    name.push('`');
                    chars.next();
                } else {
                    return Some((name, &body[i + 1..]));
                }
            } else {
                name.push(c);
            }
        }
        None
    } else {
        let end = t
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(t.len());
        (end > 0).then(|| (t[..end].to_owned(), &t[end..]))
    }
}

#[cfg(test)]
mod tests {
    use super::table_without_engine as f;

    fn some(s: &str, t: &str) -> Option<(String, String)> {
        Some((s.to_owned(), t.to_owned()))
    }

    #[test]
    fn creates_without_an_engine_name_their_table() {
        assert_eq!(f(b"create table t1 (a int)", Some("test")), some("test", "t1"));
        assert_eq!(f(b"CREATE TABLE `d`.`t``x` (a int)", None), some("d", "t`x"));
        assert_eq!(
            f(b"/* c */ CREATE OR REPLACE TABLE IF NOT EXISTS d.t2(a int)", None),
            some("d", "t2")
        );
        assert_eq!(f(b"CREATE TABLE t3 SELECT 1 AS a", Some("db")), some("db", "t3"));
    }

    #[test]
    fn others_are_left_alone() {
        assert_eq!(f(b"CREATE TABLE t1 (a int) ENGINE=InnoDB", Some("test")), None);
        assert_eq!(f(b"create table t1 (a int) engine myisam", Some("test")), None);
        assert_eq!(f(b"CREATE TEMPORARY TABLE t1 (a int)", Some("test")), None);
        assert_eq!(f(b"CREATE TABLE t1 LIKE t0", Some("test")), None);
        assert_eq!(f(b"CREATE TABLE t1 (LIKE t0)", Some("test")), None);
        assert_eq!(f(b"CREATE TABLE t1 (a int)", None), None, "no database to qualify it");
        assert_eq!(f(b"CREATE INDEX i ON t1 (a)", Some("test")), None);
        assert_eq!(f(b"CREATE TABLEt1 (a int)", Some("test")), None);
    }
}
