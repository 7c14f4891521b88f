//! What a replicated statement does to the transaction around it, read from
//! its first words: one classifier for the extractor (which marks the
//! transaction so that downstream appliers keep it alone) and the applier
//! (which runs it alone, under `autocommit=1`).
//!
//! A statement that *commits implicitly* (MariaDB's `CF_AUTO_COMMIT_TRANS`
//! statements, `sql_parse.cc`; MySQL's "Statements That Cause an Implicit
//! Commit") ends the target transaction it runs in: run inside an applier's
//! block, it would commit the block's earlier transactions without their
//! position, and after a crash or a retry they would apply twice. The list:
//!
//! | first words | notes |
//! |---|---|
//! | `CREATE`, `ALTER`, `DROP` (anything) | not `CREATE`/`DROP TEMPORARY` (`OR REPLACE` skipped) |
//! | `RENAME`, `TRUNCATE` | tables, users |
//! | `GRANT`, `REVOKE`, `SET PASSWORD`, `SET DEFAULT ROLE` | the privilege tables |
//! | `ANALYZE`, `OPTIMIZE`, `REPAIR`, `CHECK` (`TABLE`), `CACHE INDEX`, `LOAD INDEX`, `FLUSH`, `RESET` | table maintenance |
//! | `INSTALL`, `UNINSTALL` (`PLUGIN`/`SONAME`) | |
//! | `LOCK TABLES`, `UNLOCK TABLES`, `CHANGE MASTER`, `START`/`STOP SLAVE`/`REPLICA` | not logged by MariaDB; listed for other sources |
//!
//! Treating a statement as committing implicitly is always safe (it costs
//! a commit); missing one is not. A subset *changes the schema*
//! ([`changes_schema`]: `CREATE`/`ALTER`/`DROP`/`RENAME`/`TRUNCATE`), which
//! also invalidates cached table definitions.
//!
//! Statements that *control* a transaction are told apart by
//! [`transaction_control`], the one reading of them for the extractor (which
//! builds transactions from them), the transaction builder (XA boundaries)
//! and the applier (which owns its transactions and does not replay them):
//!
//! | statement (whole, `;` ignored) | [`TransactionControl`] |
//! |---|---|
//! | `BEGIN`, `BEGIN WORK`, `START TRANSACTION` | `Begin` |
//! | `COMMIT`, `COMMIT WORK` | `Commit` |
//! | `ROLLBACK`, `ROLLBACK WORK` | `Rollback` (not `ROLLBACK TO SAVEPOINT`) |
//! | `XA START`/`XA BEGIN` xid | `XaStart` |
//! | `XA END` xid | `XaEnd` |
//! | `XA PREPARE` xid | `XaPrepare` |
//! | `XA COMMIT`/`XA ROLLBACK` xid | `XaComplete` (a prepared transaction) |
//! | `XA COMMIT` xid `ONE PHASE` | `XaOnePhase` |
//!
//! `COMMIT AND CHAIN`, `START TRANSACTION READ ONLY` and the like are none
//! of these (a binlog does not carry them; replayed as statements).
//!
//! Words are read after comments of any length (`/* .. */`, `-- `, `#`); the
//! content of an executable comment (`/*!50100 .. */`, `/*M!100100 .. */`)
//! is statement text.

/// The first `n` words of a statement, upper-cased, after comments; a
/// punctuation character (`(`, `;`, `` ` ``, `/` ...) is a word of its own.
/// Reads only as far as the words it returns (and the comments before
/// them), whatever the statement's length.
pub fn head_words(sql: &[u8], n: usize) -> Vec<String> {
    let mut words = Vec::with_capacity(n);
    push_words(sql, n, &mut words);
    words
}

fn push_words(mut rest: &[u8], n: usize, words: &mut Vec<String>) {
    while words.len() < n {
        rest = rest.trim_ascii_start();
        if let Some(after) = rest.strip_prefix(b"/*") {
            let Some(end) = find(after, b"*/") else { break };
            let (inner, tail) = (&after[..end], &after[end + 2..]);
            // An executable comment's content is statement text.
            if let Some(code) = inner.strip_prefix(b"!").or_else(|| inner.strip_prefix(b"M!")) {
                let code = code.trim_ascii_start();
                let digits = code.iter().take_while(|b| b.is_ascii_digit()).count();
                push_words(&code[digits..], n, words);
            }
            rest = tail;
        } else if rest.starts_with(b"-- ") || rest.starts_with(b"--\t") || rest.starts_with(b"#") {
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) => rest = &rest[i + 1..],
                None => break,
            }
        } else if rest.is_empty() {
            break;
        } else {
            let end = rest
                .iter()
                .position(|&b| b.is_ascii_whitespace() || matches!(b, b'(' | b';' | b'/' | b'`'))
                .unwrap_or(rest.len());
            // Punctuation: one character (a whole UTF-8 sequence) is one word.
            let len = if end == 0 {
                utf8_len(rest[0]).min(rest.len())
            } else {
                end
            };
            let word = String::from_utf8_lossy(&rest[..len]);
            words.push(word.to_ascii_uppercase());
            rest = &rest[len..];
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The length of the UTF-8 sequence that starts with `b` (1 for anything
/// that does not start one).
fn utf8_len(b: u8) -> usize {
    match b {
        0xf0..=0xf7 => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

/// The first `n` words with `OR REPLACE` after a leading `CREATE` left out
/// (`CREATE OR REPLACE DATABASE|TEMPORARY TABLE ...` classify as `CREATE ...`).
pub fn head_words_no_or_replace(sql: &[u8], n: usize) -> Vec<String> {
    let mut w = head_words(sql, n + 2);
    if w.first().map(String::as_str) == Some("CREATE")
        && w.get(1).map(String::as_str) == Some("OR")
        && w.get(2).map(String::as_str) == Some("REPLACE")
    {
        w.drain(1..3);
    }
    w.truncate(n);
    w
}

/// What a statement does to transactions (module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionControl {
    Begin,
    Commit,
    Rollback,
    XaStart,
    XaEnd,
    XaPrepare,
    /// `XA COMMIT|ROLLBACK` of a prepared transaction.
    XaComplete,
    /// `XA COMMIT xid ONE PHASE`.
    XaOnePhase,
}

/// The transaction control a statement is, if any (module doc).
pub fn transaction_control(sql: &[u8]) -> Option<TransactionControl> {
    use TransactionControl::*;
    let w = head_words(sql, 3);
    let w: Vec<&str> = w.iter().map(String::as_str).filter(|w| *w != ";").collect();
    match w.as_slice() {
        ["BEGIN"] | ["BEGIN", "WORK"] | ["START", "TRANSACTION"] => Some(Begin),
        ["COMMIT"] | ["COMMIT", "WORK"] => Some(Commit),
        ["ROLLBACK"] | ["ROLLBACK", "WORK"] => Some(Rollback),
        ["XA", "START" | "BEGIN", ..] => Some(XaStart),
        ["XA", "END", ..] => Some(XaEnd),
        ["XA", "PREPARE", ..] => Some(XaPrepare),
        ["XA", "COMMIT", ..] if ends_with_one_phase(sql) => Some(XaOnePhase),
        ["XA", "COMMIT" | "ROLLBACK", ..] => Some(XaComplete),
        _ => None,
    }
}

/// `... ONE PHASE` at the end of the statement (`;` and spaces ignored).
fn ends_with_one_phase(sql: &[u8]) -> bool {
    let text = String::from_utf8_lossy(sql);
    let mut words = text.trim_end().trim_end_matches(';').split_ascii_whitespace().rev();
    matches!((words.next(), words.next()),
        (Some(p), Some(o)) if p.eq_ignore_ascii_case("PHASE") && o.eq_ignore_ascii_case("ONE"))
}

/// `CREATE|DROP TEMPORARY ...`: a session's own table, no implicit commit.
fn is_temporary_ddl(w: &[String]) -> bool {
    matches!(w.first().map(String::as_str), Some("CREATE" | "DROP"))
        && w.get(1).map(String::as_str) == Some("TEMPORARY")
}

/// True for `CREATE`/`ALTER`/`DROP`/`RENAME`/`TRUNCATE` statements other
/// than `CREATE|DROP TEMPORARY` (module doc).
pub fn changes_schema(sql: &[u8]) -> bool {
    let w = head_words_no_or_replace(sql, 2);
    matches!(
        w.first().map(String::as_str),
        Some("CREATE" | "ALTER" | "DROP" | "RENAME" | "TRUNCATE")
    ) && !is_temporary_ddl(&w)
}

/// True for a statement that commits the transaction it runs in (module
/// doc).
pub fn commits_implicitly(sql: &[u8]) -> bool {
    if changes_schema(sql) {
        return true;
    }
    let w = head_words(sql, 2);
    let first = w.first().map(String::as_str).unwrap_or("");
    let second = w.get(1).map(String::as_str).unwrap_or("");
    match first {
        "GRANT" | "REVOKE" | "ANALYZE" | "OPTIMIZE" | "REPAIR" | "FLUSH" | "RESET" => true,
        "SET" => matches!(second, "PASSWORD" | "DEFAULT"),
        "CHECK" | "LOCK" | "UNLOCK" => matches!(second, "TABLE" | "TABLES"),
        "CACHE" | "LOAD" => second == "INDEX",
        "INSTALL" | "UNINSTALL" => matches!(second, "PLUGIN" | "SONAME"),
        "CHANGE" => second == "MASTER",
        "START" | "STOP" => matches!(second, "SLAVE" | "REPLICA" | "ALL"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_control_statements_are_told_apart() {
        use TransactionControl::*;
        for (sql, want) in [
            ("BEGIN", Some(Begin)),
            (" begin work ;", Some(Begin)),
            ("/* c */ START TRANSACTION", Some(Begin)),
            ("COMMIT", Some(Commit)),
            ("commit work", Some(Commit)),
            ("ROLLBACK", Some(Rollback)),
            ("ROLLBACK WORK;", Some(Rollback)),
            ("XA START X'7831',X'',1", Some(XaStart)),
            ("xa begin 'x'", Some(XaStart)),
            ("XA END X'7831',X'',1", Some(XaEnd)),
            ("XA PREPARE X'7831',X'',1", Some(XaPrepare)),
            ("XA COMMIT X'7831',X'',1", Some(XaComplete)),
            ("XA ROLLBACK 'x'", Some(XaComplete)),
            ("XA COMMIT 'x' ONE PHASE;", Some(XaOnePhase)),
            ("xa commit 'x' one  phase", Some(XaOnePhase)),
            ("COMMIT AND CHAIN", None),
            ("ROLLBACK TO SAVEPOINT s", None),
            ("START TRANSACTION READ ONLY", None),
            ("BEGIN NOT ATOMIC SELECT 1; END", None),
            ("INSERT INTO t VALUES (1)", None),
            ("XA RECOVER", None),
        ] {
            assert_eq!(transaction_control(sql.as_bytes()), want, "{sql}");
        }
    }

    #[test]
    fn words_after_comments_of_any_length() {
        assert_eq!(head_words(b"  alter table t add c int", 2), ["ALTER", "TABLE"]);
        assert_eq!(
            head_words(b"/*!40000 ALTER TABLE t DISABLE KEYS */", 2),
            ["ALTER", "TABLE"]
        );
        assert_eq!(head_words(b"/*M!100100 drop sequence s */", 2), ["DROP", "SEQUENCE"]);
        assert_eq!(head_words(b"/* create */ UPDATE t SET a=1", 1), ["UPDATE"]);
        assert_eq!(head_words(b"-- note\n# more\nGRANT SELECT ON *.* TO u", 1), ["GRANT"]);
        let long = format!("/* {} */ GRANT ALL ON db.* TO u", "x".repeat(10_000));
        assert_eq!(head_words(long.as_bytes(), 1), ["GRANT"]);
        assert_eq!(head_words(b"CREATE TABLE `t`(a INT)", 4), ["CREATE", "TABLE", "`", "T"]);
        assert_eq!(head_words("é(".as_bytes(), 2), ["é", "("]);
        assert!(head_words(b"/* unterminated", 1).is_empty());
        assert!(head_words(b"", 3).is_empty());
    }

    #[test]
    fn implicit_commits_follow_the_servers_list() {
        for sql in [
            "CREATE TABLE t (a INT)",
            "create or replace table t (a int)",
            "CREATE DEFINER=`root`@`localhost` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET @a=1",
            "CREATE INDEX i ON t (a)",
            "DROP TABLE t",
            "DROP USER u",
            "ALTER TABLE t ADD b INT",
            "RENAME TABLE a TO b",
            "TRUNCATE t",
            "GRANT SELECT ON db.* TO u",
            "REVOKE ALL PRIVILEGES, GRANT OPTION FROM u",
            "SET PASSWORD FOR u = PASSWORD('x')",
            "SET DEFAULT ROLE r FOR u",
            "ANALYZE TABLE t",
            "OPTIMIZE TABLE t",
            "REPAIR TABLE t",
            "FLUSH PRIVILEGES",
            "INSTALL PLUGIN example SONAME 'ha_example'",
            "UNINSTALL SONAME 'ha_example'",
            "LOCK TABLES t WRITE",
            "ALTER TABLE t2 EXCHANGE PARTITION p0 WITH TABLE t1",
            "/* a comment */ -- and another\n GRANT USAGE ON *.* TO u",
        ] {
            assert!(commits_implicitly(sql.as_bytes()), "{sql}");
        }
        for sql in [
            "CREATE TEMPORARY TABLE t (a INT)",
            "CREATE OR REPLACE TEMPORARY TABLE t (a INT)",
            "DROP TEMPORARY TABLE IF EXISTS t",
            "INSERT INTO t VALUES (1)",
            "SET @a = 1",
            "SET NAMES utf8",
            "XA COMMIT 'x'",
            "CHECKSUM TABLE t",
            "LOAD DATA INFILE 'f' INTO TABLE t",
            "/* GRANT */ UPDATE t SET a = 1",
        ] {
            assert!(!commits_implicitly(sql.as_bytes()), "{sql}");
        }
        assert!(changes_schema(b"ALTER TABLE t ADD b INT"));
        assert!(!changes_schema(b"GRANT SELECT ON db.* TO u"));
        assert!(!changes_schema(b"DROP TEMPORARY TABLE t"));
    }
}
