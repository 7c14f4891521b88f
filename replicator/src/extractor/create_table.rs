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
//!
//! The extractor reads the source as it is *now*, which may be later than
//! the statement: the table may have been dropped and created again
//! (main.ctype_eucjpms: `t1 (a text)`, then `t1 (a varchar(10)) ENGINE=MEMORY`
//! in the same second; the first got MEMORY and its replay failed with
//! 1163). [`declared_columns`] reads the statement's column list (names and
//! the first word of each type); the engine is used only when the source's
//! table has exactly those columns ([`same_columns`]), else the target's
//! default applies, as on MariaDB's own replica.

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
    let rest = after_create_table(text)?;
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

/// The text after `CREATE [OR REPLACE] TABLE [IF NOT EXISTS]`.
fn after_create_table(text: &str) -> Option<&str> {
    let mut rest = keyword(text, "CREATE")?;
    if let Some(r) = keyword(rest, "OR") {
        rest = keyword(r, "REPLACE")?;
    }
    rest = keyword(rest, "TABLE")?;
    if let Some(r) = keyword(rest, "IF") {
        rest = keyword(keyword(r, "NOT")?, "EXISTS")?;
    }
    Some(rest)
}

/// Words that open a table element other than a column (when bare).
const NOT_A_COLUMN: &[&str] = &[
    "PRIMARY",
    "KEY",
    "INDEX",
    "UNIQUE",
    "CONSTRAINT",
    "FOREIGN",
    "CHECK",
    "FULLTEXT",
    "SPATIAL",
    "PERIOD",
];

/// The columns a `CREATE TABLE` declares, as `(name, type)` (both
/// lowercase; the type is the first word of its definition), in order;
/// `None` when the statement has no element list (`CREATE TABLE t SELECT
/// ...`) or it cannot be read.
pub fn declared_columns(sql: &[u8]) -> Option<Vec<(String, String)>> {
    let text = String::from_utf8_lossy(sql);
    let text = skip_comments(&text);
    let rest = after_create_table(text)?;
    let (_, mut after) = identifier(rest)?;
    if let Some(r) = after.strip_prefix('.') {
        after = identifier(r)?.1;
    }
    let body = after.trim_start().strip_prefix('(')?;
    let mut columns = Vec::new();
    for element in top_level_elements(body)? {
        let quoted = element.trim_start().starts_with('`');
        let (name, tail) = identifier(element)?;
        if !quoted && NOT_A_COLUMN.iter().any(|k| name.eq_ignore_ascii_case(k)) {
            continue;
        }
        let (ty, _) = identifier(tail)?;
        columns.push((name.to_lowercase(), ty.to_ascii_lowercase()));
    }
    Some(columns)
}

/// The comma-separated elements of a parenthesized list whose `(` was just
/// read, up to its `)`; quotes and nested parentheses are skipped over.
fn top_level_elements(body: &str) -> Option<Vec<&str>> {
    let mut elements = Vec::new();
    let (mut depth, mut start, mut quote) = (0usize, 0usize, None::<char>);
    for (i, c) in body.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') if depth == 0 => {
                elements.push(&body[start..i]);
                return Some(elements);
            }
            (None, ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                elements.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    None
}

/// `information_schema.COLUMNS.DATA_TYPE` for a type's first word (the
/// synonyms MariaDB resolves).
fn data_type(word: &str) -> &str {
    match word {
        "integer" | "int4" => "int",
        "int1" => "tinyint",
        "bool" | "boolean" => "tinyint",
        "int2" => "smallint",
        "int3" | "middleint" => "mediumint",
        "int8" | "serial" => "bigint",
        "dec" | "numeric" | "fixed" => "decimal",
        "real" | "float8" => "double",
        "float4" => "float",
        "character" | "nchar" => "char",
        "nvarchar" => "varchar",
        "json" => "longtext",
        "long" => "mediumtext",
        other => other,
    }
}

/// Whether the source's table (`(COLUMN_NAME, DATA_TYPE)` in order) has
/// exactly the declared columns.
pub fn same_columns(declared: &[(String, String)], source: &[(String, String)]) -> bool {
    declared.len() == source.len()
        && declared.iter().zip(source).all(|((name, ty), (src_name, src_type))| {
            name.eq_ignore_ascii_case(src_name) && data_type(ty).eq_ignore_ascii_case(src_type)
        })
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
    use super::{declared_columns, same_columns};

    fn cols(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    #[test]
    fn declared_columns_are_read_from_the_element_list() {
        assert_eq!(
            declared_columns(b"create table t1 (a text character set eucjpms)"),
            Some(cols(&[("a", "text")]))
        );
        assert_eq!(
            declared_columns(
                b"CREATE TABLE `d`.`t` (`id` INTEGER NOT NULL DEFAULT '1,2', `Key` DECIMAL(10,2), b INT AS (a + 1) \
                  VIRTUAL, PRIMARY KEY (id), KEY k (b), CONSTRAINT c CHECK (b > 0)) SELECT 1"
            ),
            Some(cols(&[("id", "integer"), ("key", "decimal"), ("b", "int")]))
        );
        assert_eq!(declared_columns(b"CREATE TABLE t3 SELECT 1 AS a"), None);
        assert_eq!(declared_columns(b"CREATE TABLE t4 (a int"), None);
    }

    #[test]
    fn an_engine_is_trusted_only_for_the_same_columns() {
        let declared = cols(&[("a", "text")]);
        assert!(same_columns(&declared, &cols(&[("a", "text")])));
        assert!(!same_columns(&declared, &cols(&[("a", "varchar")])));
        assert!(!same_columns(&declared, &cols(&[("a", "text"), ("b", "int")])));
        assert!(same_columns(
            &cols(&[("n", "integer"), ("j", "json"), ("f", "bool")]),
            &cols(&[("N", "int"), ("j", "longtext"), ("f", "tinyint")])
        ));
    }

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
