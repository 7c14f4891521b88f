//! The one table a schema change alters in place, for the DDL mark's
//! before image (`statement.rs`): run twice, some such changes do not fail
//! but apply again (`ALTER TABLE t ADD INDEX (c)` without a name makes a
//! second index, `ADD FOREIGN KEY`/`ADD CHECK` without a name a second
//! constraint), so "did it take effect before the crash?" is answered by
//! the table's definition instead of by the error of a second run.
//!
//! Recognised: `ALTER [ONLINE] [IGNORE] TABLE [IF EXISTS] name`,
//! `CREATE [OR REPLACE] [UNIQUE|FULLTEXT|SPATIAL] INDEX ... ON name`,
//! `DROP INDEX ... ON name`; `name` is `t` or `db.t`, bare or back-quoted.
//! Anything else (and any executable comment, which may hide words) is
//! `None`: the caller keeps the error-based judgement.

/// A token of the statement's head.
#[derive(Debug, PartialEq, Eq)]
enum Tok {
    /// A bare word, upper-cased.
    Word(String),
    /// A back-quoted identifier, as written (case kept).
    Quoted(String),
    Dot,
    Other,
}

/// How many tokens are read at most (the table name comes early).
const MAX_TOKENS: usize = 24;

fn tokens(sql: &[u8]) -> Option<Vec<(Tok, String)>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < sql.len() && out.len() < MAX_TOKENS {
        let c = sql[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if sql[i..].starts_with(b"/*!") || sql[i..].starts_with(b"/*M!") {
            return None;
        } else if sql[i..].starts_with(b"/*") {
            i += sql[i + 2..].windows(2).position(|w| w == b"*/")? + 4;
        } else if c == b'#' || sql[i..].starts_with(b"-- ") {
            i += sql[i..].iter().position(|&b| b == b'\n').unwrap_or(sql.len() - i);
        } else if c == b'`' {
            let mut name = Vec::new();
            i += 1;
            loop {
                match sql.get(i)? {
                    b'`' if sql.get(i + 1) == Some(&b'`') => {
                        name.push(b'`');
                        i += 2;
                    }
                    b'`' => {
                        i += 1;
                        break;
                    }
                    &b => {
                        name.push(b);
                        i += 1;
                    }
                }
            }
            let name = String::from_utf8(name).ok()?;
            out.push((Tok::Quoted(name.clone()), name));
        } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 {
            let start = i;
            while i < sql.len() && (sql[i].is_ascii_alphanumeric() || matches!(sql[i], b'_' | b'$') || sql[i] >= 0x80) {
                i += 1;
            }
            let text = String::from_utf8(sql[start..i].to_vec()).ok()?;
            out.push((Tok::Word(text.to_ascii_uppercase()), text));
        } else {
            out.push((if c == b'.' { Tok::Dot } else { Tok::Other }, String::new()));
            i += 1;
        }
    }
    Some(out)
}

fn is_word(t: Option<&(Tok, String)>, w: &str) -> bool {
    matches!(t, Some((Tok::Word(x), _)) if x == w)
}

/// `name` or `db.name` from `toks[at..]`.
fn name_at(toks: &[(Tok, String)], at: usize) -> Option<(Option<String>, String)> {
    let ident = |t: Option<&(Tok, String)>| match t {
        Some((Tok::Quoted(_) | Tok::Word(_), text)) => Some(text.clone()),
        _ => None,
    };
    let first = ident(toks.get(at))?;
    if matches!(toks.get(at + 1), Some((Tok::Dot, _))) {
        return Some((Some(first), ident(toks.get(at + 2))?));
    }
    Some((None, first))
}

/// The table `sql` alters in place, as (schema if written, table).
pub fn altered_table(sql: &[u8]) -> Option<(Option<String>, String)> {
    let toks = tokens(sql)?;
    let mut at = 1;
    match toks.first() {
        Some((Tok::Word(w), _)) if w == "ALTER" => {
            for skip in ["ONLINE", "IGNORE"] {
                if is_word(toks.get(at), skip) {
                    at += 1;
                }
            }
            if !is_word(toks.get(at), "TABLE") {
                return None;
            }
            at += 1;
            if is_word(toks.get(at), "IF") && is_word(toks.get(at + 1), "EXISTS") {
                at += 2;
            }
            name_at(&toks, at)
        }
        Some((Tok::Word(w), _)) if w == "CREATE" || w == "DROP" => {
            let index = toks.iter().take(8).position(|(t, _)| *t == Tok::Word("INDEX".into()))?;
            // Only index statements: nothing but these words before INDEX.
            let allowed = ["CREATE", "DROP", "OR", "REPLACE", "UNIQUE", "FULLTEXT", "SPATIAL"];
            if !toks[..index]
                .iter()
                .all(|(t, _)| matches!(t, Tok::Word(w) if allowed.contains(&w.as_str())))
            {
                return None;
            }
            let on = toks
                .iter()
                .skip(index)
                .position(|(t, _)| *t == Tok::Word("ON".into()))?
                + index;
            name_at(&toks, on + 1)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(sql: &str) -> Option<(Option<String>, String)> {
        altered_table(sql.as_bytes())
    }

    fn name(schema: Option<&str>, table: &str) -> Option<(Option<String>, String)> {
        Some((schema.map(str::to_owned), table.to_owned()))
    }

    #[test]
    fn in_place_changes_name_their_table() {
        assert_eq!(t("ALTER TABLE t ADD INDEX (c)"), name(None, "t"));
        assert_eq!(
            t("alter online ignore table IF EXISTS `Db`.`My``T` add key (c)"),
            name(Some("Db"), "My`T")
        );
        assert_eq!(
            t("/* c */ -- x\n ALTER TABLE app.T1 ADD FOREIGN KEY (a) REFERENCES p (a)"),
            name(Some("app"), "T1")
        );
        assert_eq!(t("CREATE UNIQUE INDEX i ON s.t (c)"), name(Some("s"), "t"));
        assert_eq!(
            t("CREATE OR REPLACE INDEX IF NOT EXISTS i USING BTREE ON t (c)"),
            name(None, "t")
        );
        assert_eq!(t("DROP INDEX IF EXISTS i ON `t`"), name(None, "t"));
    }

    #[test]
    fn other_statements_and_hidden_words_are_none() {
        for sql in [
            "CREATE TABLE t (a INT)",
            "DROP TABLE t",
            "ALTER DATABASE d CHARACTER SET utf8mb4",
            "ALTER USER u IDENTIFIED BY 'x'",
            "RENAME TABLE a TO b",
            "CREATE TABLE t (a INT, INDEX i (a)) -- ON x",
            "/*!40000 ALTER TABLE t DISABLE KEYS */",
            "ALTER TABLE",
            "ALTER TABLE `unterminated",
        ] {
            assert_eq!(t(sql), None, "{sql}");
        }
    }
}
